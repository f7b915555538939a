// What the runner reads from an emitted TCP header beyond utcp::Segment: every flag bit
// (URG, ECE and CWR included) and the option list as laid out on the wire, NOP and EOL
// included, because an outbound line's options are compared exactly.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "ast.hpp"

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

}  // namespace utcp::script
