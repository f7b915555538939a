// TCP headers as the runner sees them, beyond utcp::Segment. Read: every flag bit (URG, ECE
// and CWR included) and the option list as laid out on the wire, NOP and EOL included,
// because an outbound line's options are compared exactly. Written: an inbound line's
// segment exactly as the script says (any flags, the ack field even without ACK, options in
// the order written), as packetdrill sends it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "ast.hpp"
#include "utcp/ip.hpp"

namespace utcp::script {

// TCP header flag bits (RFC 9293 §3.1, RFC 3168 §6.1).
inline constexpr std::uint8_t kFin = 0x01, kSyn = 0x02, kRst = 0x04, kPsh = 0x08, kAck = 0x10, kUrg = 0x20,
                              kEce = 0x40, kCwr = 0x80;

struct TcpView {
  std::uint8_t flags = 0;
  std::uint32_t ack_field = 0;  // the raw acknowledgment field, ACK bit or not
  std::vector<Option> options;  // sack blocks with absolute sequence numbers
};

// Bounds-checked: nullopt when the header is cut short or an option runs past it.
std::optional<TcpView> view_tcp(std::span<const std::byte> tcp);

// The flag bits a script packet asks for.
std::uint8_t flag_bits(const Packet&);

// An inbound segment's header fields, in wire terms (sequence numbers already mapped).
struct TcpHeader {
  std::uint16_t src_port = 0, dst_port = 0;
  std::uint32_t seq = 0, ack_field = 0;
  std::uint8_t flags = 0;
  std::uint16_t window = 0;
  std::vector<Option> options;  // in whole 32-bit words, at most 40 bytes (the parser checks)
};
// Header, options and `payload` zero bytes, with the checksum for src -> dst.
std::vector<std::byte> build_tcp(const TcpHeader&, std::uint32_t payload, const IpAddr& src,
                                 const IpAddr& dst);

}  // namespace utcp::script
