// The Internet checksum (RFC 1071) and the TCP pseudo-headers (RFC 9293 §3.1, RFC 8200 §8.1).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "utcp/ip.hpp"

namespace utcp {

// One's-complement sum of `bytes` as big-endian 16-bit words, folded to 16 bits, added to
// `initial` (a partial sum from an earlier call). Not complemented. An odd trailing byte is
// padded with zero, so only the last call of a chain may have odd length.
std::uint16_t ones_sum(std::span<const std::byte> bytes, std::uint32_t initial = 0);

// The partial sum of the TCP pseudo-header for a segment of `tcp_length` bytes.
std::uint16_t pseudo_header_sum(const IpAddr& src, const IpAddr& dst, std::uint32_t tcp_length);

// The value for the checksum field of `tcp_bytes` (whose checksum field must be zero), or,
// over a segment that carries its checksum, 0 when that checksum is right.
std::uint16_t tcp_checksum(const IpAddr& src, const IpAddr& dst, std::span<const std::byte> tcp_bytes);

// The IPv4 header checksum value (RFC 791), or 0 over a header that carries a right one.
std::uint16_t internet_checksum(std::span<const std::byte> bytes);

}  // namespace utcp
