// pcapng capture files (draft-ietf-opsawg-pcapng), written by utcp itself: libpcap reads
// pcapng but cannot write it, and pcapng is what carries a comment on a packet (why the
// simulated link dropped it) and the direction it went. Every interface is Raw IP
// (LINKTYPE_RAW: each packet an IPv4 or IPv6 datagram) with nanosecond timestamps. Files are
// in the writer's byte order (the Section Header's magic says which); Wireshark, tshark,
// tcpdump and libpcap (PcapReader) read them.
//
// Write errors are never dropped: the first failure (a full disk, a file that refuses
// writes) is returned by that write and by every later call, close() included.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "error.hpp"
#include "utcp/segment.hpp"
#include "utcp/time.hpp"

namespace utcp::io {

// epb_flags bits 0-1.
enum class PacketDirection : std::uint8_t { unknown = 0, inbound = 1, outbound = 2 };

class PcapngWriter {
 public:
  // Creates (or truncates) `path` and writes the Section Header, naming `application`.
  static IoResult<PcapngWriter> open(const std::string& path, std::string_view application);
  PcapngWriter(PcapngWriter&& other) noexcept;
  PcapngWriter& operator=(PcapngWriter&& other) noexcept;
  PcapngWriter(const PcapngWriter&) = delete;
  PcapngWriter& operator=(const PcapngWriter&) = delete;
  ~PcapngWriter();

  // A Raw IP interface (if_name, if_description); its id for write(), from 0 in order.
  IoResult<std::uint32_t> add_interface(std::string_view name, std::string_view description = {});
  // One Enhanced Packet Block: an IP datagram (cut to 65,535 bytes), stamped `at` after the
  // epoch (not before it), with a direction and an optional comment.
  IoResult<void> write(std::uint32_t interface, Duration at, std::span<const std::byte> datagram,
                       PacketDirection direction = PacketDirection::unknown, std::string_view comment = {});
  // A core Output framed with its IPv4 or IPv6 header (host::frame).
  IoResult<void> write(std::uint32_t interface, Duration at, const Output& o,
                       PacketDirection direction = PacketDirection::unknown, std::string_view comment = {});
  // Writes what is buffered and closes the file; the first error of the file's life, if any.
  IoResult<void> close();

  std::uint64_t records() const { return records_; }
  const std::string& path() const { return path_; }

 private:
  PcapngWriter(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  IoResult<void> flush();
  IoResult<void> failed() const { return std::unexpected(*error_); }
  void block(std::uint32_t type, std::span<const std::byte> body);

  std::string path_;
  int fd_ = -1;
  std::vector<std::byte> buffer_;
  std::uint32_t interfaces_ = 0;
  std::uint64_t records_ = 0;
  std::optional<IoError> error_;
};

// What read_pcapng gives back: the interfaces and packets of the first section.
struct PcapngInterface {
  std::uint16_t linktype = 0;
  std::string name, description;
};
struct PcapngPacket {
  std::uint32_t interface = 0;
  Duration at{};
  std::uint32_t original_length = 0;
  std::vector<std::byte> data;
  PacketDirection direction = PacketDirection::unknown;
  std::string comment;  // the opt_comment options, joined by "; "
};
struct PcapngFile {
  std::string application;
  std::vector<PcapngInterface> interfaces;
  std::vector<PcapngPacket> packets;
};
// Reads a little-endian pcapng file (what PcapngWriter writes on this machine); other block
// types are skipped; an error names the first malformed block.
IoResult<PcapngFile> read_pcapng(const std::string& path);

}  // namespace utcp::io
