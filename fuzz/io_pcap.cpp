// libFuzzer target for io/pcap: captures are files users hand to tools and tests, and the
// writer records every packet a TUN session sees. The input's first byte picks the mode:
//   0  the rest is a capture file: PcapReader (libpcap underneath) reads it to the end or to
//      its first error, without crashing, and read_pcap gives the same records;
//   1  the rest is a list of records (a timestamp in µs and a datagram of up to 70,000 bytes):
//      PcapWriter writes them and read_pcap must give back each one: the same timestamp (µs),
//      the datagram cut to the 65,535-byte snap length, its original length; a timestamp the
//      format cannot give back (2^31 s and beyond: 32-bit seconds that libpcap reads as
//      signed) must be refused by write, not wrapped.
// Files go to one scratch path per process under TMPDIR (or /tmp).
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "fuzz/fuzz_util.hpp"
#include "io/pcap.hpp"

namespace {

using utcp::fuzz::check;

const std::string& scratch() {
  static const std::string path = [] {
    const char* dir = std::getenv("TMPDIR");
    return std::string(dir && *dir ? dir : "/tmp") + "/utcp-fuzz-io_pcap-" + std::to_string(getpid()) + ".pcap";
  }();
  return path;
}

struct Cleanup {
  ~Cleanup() { std::remove(scratch().c_str()); }
} cleanup;

void read_file(const std::uint8_t* data, std::size_t size) {
  FILE* f = std::fopen(scratch().c_str(), "wb");
  check(f != nullptr);
  if (size > 0) check(std::fwrite(data, 1, size, f) == size);
  std::fclose(f);
  auto reader = utcp::io::PcapReader::open(scratch());
  if (!reader) return;
  (void)reader->datalink();
  (void)reader->raw_ip();
  std::vector<utcp::io::PcapRecord> seen;
  bool failed = false;
  for (int i = 0; i < 10000; ++i) {
    auto r = reader->next();
    if (!r) {
      failed = true;
      break;
    }
    if (!*r) break;
    seen.push_back(std::move(**r));
  }
  auto all = utcp::io::read_pcap(scratch());
  check(all.has_value() != failed || seen.size() == 10000);
  if (all && seen.size() < 10000) {
    check(all->size() == seen.size());
    for (std::size_t i = 0; i < seen.size(); ++i) {
      check((*all)[i].at == seen[i].at && (*all)[i].data == seen[i].data &&
            (*all)[i].original_length == seen[i].original_length);
    }
  }
}

void round_trip(utcp::fuzz::Reader& in) {
  struct Rec {
    std::int64_t us;
    std::vector<std::byte> data;
  };
  std::vector<Rec> written;
  {
    auto w = utcp::io::PcapWriter::open(scratch());
    check(w.has_value());
    while (!in.empty() && written.size() < 64) {
      const std::uint8_t shape = in.u8();
      std::int64_t us = 0;
      switch (shape & 3) {
        case 0:
          us = in.u16();
          break;
        case 1:
          us = static_cast<std::int64_t>(in.u32()) * 1000;
          break;
        case 2:  // around the format's end: 2^31 s
          us = (std::int64_t{1} << 31) * 1'000'000 - 2'000'000 + static_cast<std::int64_t>(in.u32() % 4'000'000);
          break;
        default:  // anything a Duration (ns in 64 bits) holds
          us = static_cast<std::int64_t>(((std::uint64_t{in.u32()} << 24) | in.u16()) %
                                         static_cast<std::uint64_t>(INT64_MAX / 1000));
      }
      std::size_t n = in.u16();
      if (shape & 4) n += 65535 - 256 + in.u8();  // near and beyond the snap length
      std::vector<std::byte> d(n);
      const auto src = in.bytes(n);
      for (std::size_t i = 0; i < src.size(); ++i) d[i] = static_cast<std::byte>(src[i]);
      const auto at = std::chrono::microseconds(us);
      auto r = w->write(at, d);
      if (us >= (std::int64_t{1} << 31) * 1'000'000) {
        check(!r.has_value());  // refused rather than wrapped
        continue;
      }
      check(r.has_value());
      written.push_back({us, std::move(d)});
    }
    check(w->records() == written.size());
    check(w->close().has_value());
  }
  auto got = utcp::io::read_pcap(scratch());
  check(got.has_value());
  check(got->size() == written.size());
  for (std::size_t i = 0; i < written.size(); ++i) {
    const auto& g = (*got)[i];
    const auto& e = written[i];
    check(std::chrono::duration_cast<std::chrono::microseconds>(g.at).count() == e.us);
    check(g.original_length == e.data.size());
    const std::size_t cap = e.data.size() < 65535 ? e.data.size() : 65535;
    check(g.data.size() == cap);
    check(std::equal(g.data.begin(), g.data.end(), e.data.begin()));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t mode = data[0] & 1;
  if (mode == 0) {
    read_file(data + 1, size - 1);
  } else {
    utcp::fuzz::Reader r(data + 1, size - 1);
    round_trip(r);
  }
  return 0;
}
