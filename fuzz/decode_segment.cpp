// libFuzzer target for Segment::decode. The first input byte picks the address family
// (bit 0: IPv6) and whether to repair the checksum first (bit 1), so the fuzzer reaches the
// option and flag checks instead of stopping at the checksum; the rest is the TCP segment.
// Wherever decode succeeds, encode then decode again must give the same segment.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "utcp/checksum.hpp"
#include "utcp/segment.hpp"

namespace {

const utcp::IpAddr kSrc4 = utcp::IpAddr::v4(10, 0, 0, 1);
const utcp::IpAddr kDst4 = utcp::IpAddr::v4(10, 0, 0, 2);
const utcp::IpAddr kSrc6 = utcp::IpAddr::v6({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1});
const utcp::IpAddr kDst6 = utcp::IpAddr::v6({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2});

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const bool v6 = data[0] & 1, repair = data[0] & 2;
  const utcp::IpAddr& src = v6 ? kSrc6 : kSrc4;
  const utcp::IpAddr& dst = v6 ? kDst6 : kDst4;

  // An exact-size heap copy, so the sanitizer sees any read past the end.
  const std::size_t n = size - 1;
  auto buf = std::make_unique<std::byte[]>(n ? n : 1);
  if (n) std::memcpy(buf.get(), data + 1, n);
  std::span<std::byte> tcp(buf.get(), n);
  if (repair && n >= 18) {
    tcp[16] = tcp[17] = std::byte{0};
    const std::uint16_t sum = utcp::tcp_checksum(src, dst, tcp);
    tcp[16] = static_cast<std::byte>(sum >> 8);
    tcp[17] = static_cast<std::byte>(sum & 0xff);
  }
  auto before = std::make_unique<std::byte[]>(n ? n : 1);
  if (n) std::memcpy(before.get(), tcp.data(), n);

  auto r = utcp::Segment::decode(src, dst, std::span<const std::byte>(tcp));
  check(n == 0 || std::memcmp(before.get(), tcp.data(), n) == 0);  // the input is never written
  if (!r) {
    check(r.error().decode != utcp::DecodeError::none);
    return 0;
  }
  const utcp::Segment& seg = r->first;
  check(seg.valid());
  const std::vector<std::byte> again = seg.encode(src, dst);
  check(again.size() == seg.encoded_size());
  check(utcp::tcp_checksum(src, dst, again) == 0);
  auto r2 = utcp::Segment::decode(src, dst, again);
  check(r2.has_value());
  check(r2->first == seg);
  check(r2->second == r->second);
  return 0;
}
