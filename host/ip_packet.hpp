// IPv4 (RFC 791) and IPv6 (RFC 8200) framing for the host layer: parse an incoming
// datagram into a view of its TCP (or ICMP) payload, and frame a core Output into an
// IP packet. The core never sees IP headers; this is where they live.
#pragma once

#include <cstddef>
#include <cstdint>
#include <expected>
#include <ostream>
#include <span>
#include <string_view>
#include <vector>

#include "utcp/ip.hpp"
#include "utcp/segment.hpp"

namespace utcp::host {

// IP protocol numbers the host layer handles.
inline constexpr std::uint8_t ip_proto_icmp = 1;
inline constexpr std::uint8_t ip_proto_tcp = 6;
inline constexpr std::uint8_t ip_proto_icmpv6 = 58;
// Fixed header sizes: IPv4 without options (RFC 791 §3.1), IPv6 (RFC 8200 §3).
inline constexpr std::size_t ipv4_min_header = 20;
inline constexpr std::size_t ipv6_header = 40;

// Why an incoming datagram was refused. One reason per check. The first group is what
// parse_ip finds; the rest are counted by the host when it routes a parsed packet.
enum class IpError : std::uint8_t {
  too_short,             // shorter than the fixed header (20 bytes IPv4, 40 IPv6), or empty
  bad_version,           // version nibble neither 4 nor 6
  bad_header_length,     // IPv4 IHL below 5, or the header runs past the buffer
  bad_total_length,      // IPv4 total length below the header or beyond the buffer;
                         // IPv6 payload length beyond the buffer
  bad_header_checksum,   // IPv4 header checksum wrong
  fragment,              // IPv4 MF or fragment offset set; IPv6 fragment header
  bad_extension_header,  // IPv6 extension header cut short
  not_tcp,               // a protocol the host does not handle (not TCP, not ICMP for PMTUD)
  // Host-level reasons (never returned by parse_ip).
  wrong_destination,  // not addressed to this host (or the other address family)
  bad_source,         // source is unspecified, multicast or broadcast
  bad_icmp,           // ICMP message too short or with a wrong checksum
  count_
};
std::string_view to_string(IpError);
std::ostream& operator<<(std::ostream&, IpError);

// A parsed datagram: views into the caller's buffer (valid as long as it is).
struct IpPacket {
  IpAddr src, dst;
  std::uint8_t protocol = 0;  // the upper-layer protocol after any IPv6 extension headers
  std::span<const std::byte> payload;
};

// Validates version, header length, total length, IPv4 header checksum and fragmentation;
// skips IPv4 options and the IPv6 hop-by-hop, routing and destination-options headers.
// Accepts TCP, ICMP (IPv4) and ICMPv6 (IPv6); anything else is not_tcp. Never reads past
// `datagram`, never writes to it. Bytes after the IP total length (link padding) are ignored.
std::expected<IpPacket, IpError> parse_ip(std::span<const std::byte> datagram);

// The IPv4 (4 bytes) or IPv6 (16 bytes) address at b[at]; the caller has checked the length.
IpAddr ip_addr_at(std::span<const std::byte> b, std::size_t at, bool v4);

// The size of the IP header frame_into writes for `o`: 20 (IPv4) or 40 (IPv6).
std::size_t ip_header_size(const Output& o);

// The IP header frame_into writes, for `tcp_len` bytes of TCP behind it (a TSO super-segment's
// whole length); its size (ip_header_size), or 0 when `out` is too small, the families differ
// or the packet would exceed the IP length field.
std::size_t ip_header_into(std::span<std::byte> out, const IpAddr& src, const IpAddr& dst,
                           std::size_t tcp_len);

// The IP header (TTL / hop limit 64, DF on IPv4, no options) followed by the encoded
// segment. Returns the bytes written, or 0 when `out` is too small, the addresses are of
// different families, or the packet would exceed the IP length field.
std::size_t frame_into(std::span<std::byte> out, const Output& o);
// The bytes frame_into writes for `o`, and whether it can (one address family, a length the
// IP header can state).
std::size_t framed_size(const Output& o);
bool framable(const Output& o);
std::vector<std::byte> frame(const Output& o);
// The same header around TCP bytes encoded already (a capture of what a link delivered,
// corrupted or not); empty when the families differ or the packet would be too long.
std::vector<std::byte> frame_tcp(const IpAddr& src, const IpAddr& dst, std::span<const std::byte> tcp);

}  // namespace utcp::host
