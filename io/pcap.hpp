// Classic pcap capture files through libpcap: a writer (LINKTYPE_RAW: each record is an IPv4
// or IPv6 datagram, what Wireshark and tcpdump read as "Raw IP") and a reader of any capture
// libpcap opens. Timestamps are Durations from the capture's epoch, so a simulator can
// write virtual time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "error.hpp"
#include "utcp/segment.hpp"
#include "utcp/time.hpp"

struct pcap;
struct pcap_dumper;

namespace utcp::io {

inline constexpr int pcap_linktype_raw = 101;  // LINKTYPE_RAW (libpcap's DLT_RAW maps to it)

class PcapWriter {
 public:
  // Creates (or truncates) `path`; snap length 65535, microsecond timestamps.
  static IoResult<PcapWriter> open(const std::string& path);
  PcapWriter(PcapWriter&& other) noexcept;
  PcapWriter& operator=(PcapWriter&& other) noexcept;
  PcapWriter(const PcapWriter&) = delete;
  PcapWriter& operator=(const PcapWriter&) = delete;
  ~PcapWriter();

  // One record: an IP datagram (header included), stamped `at` after the epoch; an error for a
  // time before the epoch or 2^31 s after it (the file's seconds are 32 bits, read as signed).
  IoResult<void> write(Duration at, std::span<const std::byte> datagram);
  // A core Output, framed with an IPv4 or IPv6 header (host::frame).
  IoResult<void> write(Duration at, const Output& o);
  // Flushes and closes the file; later writes fail. The destructor does the same, silently.
  IoResult<void> close();

  std::uint64_t records() const { return records_; }
  const std::string& path() const { return path_; }

 private:
  PcapWriter(std::string path, ::pcap* handle, ::pcap_dumper* dumper)
      : path_(std::move(path)), handle_(handle), dumper_(dumper) {}
  void release();

  std::string path_;
  ::pcap* handle_ = nullptr;
  ::pcap_dumper* dumper_ = nullptr;
  std::uint64_t records_ = 0;
};

struct PcapRecord {
  Duration at{};                      // after the epoch, at the capture's resolution
  std::uint32_t original_length = 0;  // on the wire; data may be shorter (snap length)
  std::vector<std::byte> data;
};

class PcapReader {
 public:
  static IoResult<PcapReader> open(const std::string& path);
  PcapReader(PcapReader&& other) noexcept;
  PcapReader& operator=(PcapReader&& other) noexcept;
  PcapReader(const PcapReader&) = delete;
  PcapReader& operator=(const PcapReader&) = delete;
  ~PcapReader();

  // The next record; empty at the end of the file; an error for a damaged file.
  IoResult<std::optional<PcapRecord>> next();
  // The file's link type as libpcap reports it (a DLT_* value: DLT_RAW for raw IP).
  int datalink() const;
  // Records are raw IPv4/IPv6 datagrams (LINKTYPE_RAW in the file).
  bool raw_ip() const;

 private:
  explicit PcapReader(::pcap* handle) : handle_(handle) {}
  ::pcap* handle_ = nullptr;
};

// Every record of a capture, for tests and small tools.
IoResult<std::vector<PcapRecord>> read_pcap(const std::string& path);

}  // namespace utcp::io
