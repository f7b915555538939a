#include "pcap.hpp"

#include <pcap/pcap.h>

#include <utility>

#include "ip_packet.hpp"

namespace utcp::io {
namespace {

IoError pcap_failure(const std::string& what, const std::string& detail) {
  return IoError{0, what + ": " + detail};
}

}  // namespace

IoResult<PcapWriter> PcapWriter::open(const std::string& path) {
  ::pcap* handle = pcap_open_dead_with_tstamp_precision(DLT_RAW, 65535, PCAP_TSTAMP_PRECISION_MICRO);
  if (!handle) return std::unexpected(pcap_failure("pcap " + path, "pcap_open_dead failed"));
  ::pcap_dumper* dumper = pcap_dump_open(handle, path.c_str());
  if (!dumper) {
    IoError e = pcap_failure("cannot write capture " + path, pcap_geterr(handle));
    pcap_close(handle);
    return std::unexpected(std::move(e));
  }
  return PcapWriter(path, handle, dumper);
}

PcapWriter::PcapWriter(PcapWriter&& other) noexcept
    : path_(std::move(other.path_)),
      handle_(std::exchange(other.handle_, nullptr)),
      dumper_(std::exchange(other.dumper_, nullptr)),
      records_(other.records_) {}

PcapWriter& PcapWriter::operator=(PcapWriter&& other) noexcept {
  if (this != &other) {
    release();
    path_ = std::move(other.path_);
    handle_ = std::exchange(other.handle_, nullptr);
    dumper_ = std::exchange(other.dumper_, nullptr);
    records_ = other.records_;
  }
  return *this;
}

PcapWriter::~PcapWriter() {
  release();
}

void PcapWriter::release() {
  if (dumper_) pcap_dump_close(dumper_);
  if (handle_) pcap_close(handle_);
  dumper_ = nullptr;
  handle_ = nullptr;
}

IoResult<void> PcapWriter::write(Duration at, std::span<const std::byte> datagram) {
  if (!dumper_) return std::unexpected(pcap_failure("capture " + path_, "already closed"));
  if (at < Duration::zero())
    return std::unexpected(pcap_failure("capture " + path_, "timestamp before the epoch"));
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(at).count();
  // The file keeps seconds in 32 bits, which libpcap reads as signed: refuse what it cannot
  // give back (2038 and later) rather than wrap it.
  if (us / 1'000'000 > 0x7fffffffLL)
    return std::unexpected(pcap_failure("capture " + path_, "timestamp beyond the pcap format's range (2^31 s)"));
  pcap_pkthdr header{};
  header.ts.tv_sec = static_cast<time_t>(us / 1'000'000);
  header.ts.tv_usec = static_cast<suseconds_t>(us % 1'000'000);
  header.len = static_cast<bpf_u_int32>(datagram.size());
  header.caplen = static_cast<bpf_u_int32>(datagram.size() < 65535 ? datagram.size() : 65535);
  pcap_dump(reinterpret_cast<u_char*>(dumper_), &header, reinterpret_cast<const u_char*>(datagram.data()));
  ++records_;
  return {};
}

IoResult<void> PcapWriter::write(Duration at, const Output& o) {
  const std::vector<std::byte> datagram = host::frame(o);
  if (datagram.empty()) return std::unexpected(pcap_failure("capture " + path_, "segment cannot be framed"));
  return write(at, datagram);
}

IoResult<void> PcapWriter::close() {
  if (!dumper_) return std::unexpected(pcap_failure("capture " + path_, "already closed"));
  const bool flushed = pcap_dump_flush(dumper_) == 0;
  release();
  if (!flushed) return std::unexpected(pcap_failure("capture " + path_, "flush failed"));
  return {};
}

IoResult<PcapReader> PcapReader::open(const std::string& path) {
  char err[PCAP_ERRBUF_SIZE] = {};
  ::pcap* handle = pcap_open_offline_with_tstamp_precision(path.c_str(), PCAP_TSTAMP_PRECISION_NANO, err);
  if (!handle) return std::unexpected(pcap_failure("cannot read capture " + path, err));
  return PcapReader(handle);
}

PcapReader::PcapReader(PcapReader&& other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}

PcapReader& PcapReader::operator=(PcapReader&& other) noexcept {
  if (this != &other) {
    if (handle_) pcap_close(handle_);
    handle_ = std::exchange(other.handle_, nullptr);
  }
  return *this;
}

PcapReader::~PcapReader() {
  if (handle_) pcap_close(handle_);
}

int PcapReader::datalink() const {
  return handle_ ? pcap_datalink(handle_) : -1;
}

bool PcapReader::raw_ip() const {
  const int d = datalink();
  return d == DLT_RAW || d == pcap_linktype_raw;  // DLT_RAW is 12 or 14 depending on the platform
}

IoResult<std::optional<PcapRecord>> PcapReader::next() {
  if (!handle_) return std::unexpected(pcap_failure("capture", "reader moved from"));
  pcap_pkthdr* header = nullptr;
  const u_char* data = nullptr;
  const int rc = pcap_next_ex(handle_, &header, &data);
  if (rc == PCAP_ERROR_BREAK) return std::optional<PcapRecord>{};
  if (rc != 1) return std::unexpected(pcap_failure("reading capture", pcap_geterr(handle_)));
  PcapRecord r;
  // Opened with nanosecond precision: libpcap scales microsecond files for us.
  r.at = std::chrono::seconds(header->ts.tv_sec) + std::chrono::nanoseconds(header->ts.tv_usec);
  r.original_length = header->len;
  const auto* bytes = reinterpret_cast<const std::byte*>(data);
  r.data.assign(bytes, bytes + header->caplen);
  return std::optional<PcapRecord>(std::move(r));
}

IoResult<std::vector<PcapRecord>> read_pcap(const std::string& path) {
  auto reader = PcapReader::open(path);
  if (!reader) return std::unexpected(reader.error());
  std::vector<PcapRecord> records;
  for (;;) {
    auto r = reader->next();
    if (!r) return std::unexpected(r.error());
    if (!*r) return records;
    records.push_back(std::move(**r));
  }
}

}  // namespace utcp::io
