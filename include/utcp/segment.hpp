// A TCP segment as seen on the wire, its options, and its codec (RFC 9293 §3.1).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <ostream>
#include <span>
#include <utility>
#include <variant>
#include <vector>

#include "utcp/error.hpp"
#include "utcp/inline_vector.hpp"
#include "utcp/ip.hpp"
#include "utcp/payload.hpp"
#include "utcp/seq.hpp"

namespace utcp {

// The options: each a regular value type.
struct Mss {
  std::uint16_t value = 0;
  friend bool operator==(const Mss&, const Mss&) = default;
};
struct WindowScale {
  std::uint8_t shift = 0;
  friend bool operator==(const WindowScale&, const WindowScale&) = default;
};
struct SackPermitted {
  friend bool operator==(const SackPermitted&, const SackPermitted&) = default;
};
struct Sack {
  InlineVector<std::pair<Seq, Seq>, 4> blocks;  // 1 to 4 (left, right) edges
  friend bool operator==(const Sack&, const Sack&) = default;
};
struct Timestamps {
  std::uint32_t value = 0, echo = 0;
  friend bool operator==(const Timestamps&, const Timestamps&) = default;
};
// Any other kind, and a known kind whose length is wrong for it (kept, then ignored).
struct UnknownOption {
  std::uint8_t kind = 0;
  std::vector<std::byte> data;  // the bytes after kind and length
  friend bool operator==(const UnknownOption&, const UnknownOption&) = default;
};
using TcpOption = std::variant<Mss, WindowScale, SackPermitted, Sack, Timestamps, UnknownOption>;
// A segment's options: two inline (the timestamps and SACK blocks of a data segment or an
// ACK), so the per-segment path allocates nothing for them; a SYN's four spill to the heap.
using TcpOptions = InlineVector<TcpOption, 2>;

std::ostream& operator<<(std::ostream&, const TcpOption&);  // "mss 1460", "wscale 7", ...
// Bytes the option takes on the wire (kind, length and data; no padding).
std::size_t encoded_size(const TcpOption&);

// Whether handle_buf verifies a segment's checksum (the default) or takes the word of the layer
// below that it was verified already: the host does so for what a TUN device with offloads
// marks DATA_VALID or NEEDS_CSUM (docs/HOST.md, docs/deviations.md). Nothing else is skipped.
enum class ChecksumCheck : std::uint8_t { verify, trusted };

struct Segment {
  enum class Flag : std::uint8_t { none, syn, fin, rst };  // at most one of SYN/FIN/RST

  std::uint16_t src_port = 0, dst_port = 0;
  Seq seq;
  std::optional<Seq> ack;  // present iff the ACK bit is set
  Flag flag = Flag::none;
  bool push = false;
  std::uint16_t window = 0;  // the raw 16-bit field
  TcpOptions options;
  Payload payload;

  // Validates every field a peer controls and the checksum (with the IPv4 or IPv6
  // pseudo-header); never writes to `tcp_bytes` and never reads past it. The Flow is the
  // one the receiver sees: local = dst. Checks in this order, each failure its own
  // DecodeError: address families, then structure (length, data offset, each option's
  // length), then flags, then the checksum; so a segment cut inside its header fails on
  // structure and one cut inside its payload on the checksum.
  static Result<std::pair<Segment, Flow>> decode(const IpAddr& src, const IpAddr& dst,
                                                 std::span<const std::byte> tcp_bytes);
  // As decode, but the payload is a view of `tcp_bytes` (Payload::view), not a copy: valid only
  // while they live. handle_buf decodes so and copies the payload once, into the receive queue.
  static Result<std::pair<Segment, Flow>> decode_view(const IpAddr& src, const IpAddr& dst,
                                                      std::span<const std::byte> tcp_bytes);

  // Header with options padded by NOPs to a multiple of 4, the urgent pointer and reserved
  // bits zero, the checksum filled in. Precondition: valid().
  std::vector<std::byte> encode(const IpAddr& src, const IpAddr& dst) const;
  // As encode, into `out`; returns the bytes written, or 0 when `out` is too small.
  std::size_t encode_into(std::span<std::byte> out, const IpAddr& src, const IpAddr& dst) const;
  // The header alone, as encode_into writes it but with the checksum field zero (the payload
  // goes elsewhere: a host that hands the payload to the kernel from where it lies, and lets
  // the kernel complete the checksum). Returns 20 + options_size(), or 0 when `out` is too small.
  std::size_t encode_header_into(std::span<std::byte> out) const;

  // Sequence space the segment occupies: payload, plus one for SYN and one for FIN.
  std::uint32_t length() const {
    return static_cast<std::uint32_t>(payload.size()) + (flag == Flag::syn || flag == Flag::fin ? 1u : 0u);
  }
  // Options padded to a multiple of 4 bytes.
  std::size_t options_size() const;
  // Header plus payload bytes.
  std::size_t encoded_size() const { return 20 + options_size() + payload.size(); }
  // The options fit in the 40 bytes a header has room for.
  bool valid() const { return options_size() <= 40; }

  friend bool operator==(const Segment&, const Segment&) = default;
};
std::string_view to_string(Segment::Flag);
// tcpdump-like: "S 1000:1000(0) win 65535 <mss 1460>", "P. 1:11(10) ack 1 win 512".
std::ostream& operator<<(std::ostream&, const Segment&);

// The seed's output triple: what to send, from where, to where.
struct Output {
  IpAddr src, dst;
  Segment segment;
  friend bool operator==(const Output&, const Output&) = default;
};
std::ostream& operator<<(std::ostream&, const Output&);

}  // namespace utcp
