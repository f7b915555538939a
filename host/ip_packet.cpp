#include "ip_packet.hpp"

#include <algorithm>
#include <array>

#include "utcp/checksum.hpp"
#include "utcp/detail/byte_order.hpp"

namespace utcp::host {

namespace {

constexpr std::uint8_t default_ttl = 64;

// IPv6 extension headers we skip (RFC 8200 §4.1) and the fragment header.
constexpr std::uint8_t ext_hop_by_hop = 0;
constexpr std::uint8_t ext_routing = 43;
constexpr std::uint8_t ext_fragment = 44;
constexpr std::uint8_t ext_dest_options = 60;

std::uint8_t load8(std::span<const std::byte> b, std::size_t at) {
  return std::to_integer<std::uint8_t>(b[at]);
}
void store_addr(std::span<std::byte> b, std::size_t at, const IpAddr& ip) {
  for (std::size_t i = 0; i < ip.size(); ++i) b[at + i] = static_cast<std::byte>(ip.data()[i]);
}

// RFC 791 §3.1.
std::expected<IpPacket, IpError> parse_v4(std::span<const std::byte> d) {
  if (d.size() < ipv4_min_header) return std::unexpected(IpError::too_short);
  const std::size_t header_len = std::size_t{load8(d, 0) & 0x0fu} * 4;
  if (header_len < ipv4_min_header || header_len > d.size())
    return std::unexpected(IpError::bad_header_length);
  const std::size_t total = detail::load_be16(d, 2);
  if (total < header_len || total > d.size()) return std::unexpected(IpError::bad_total_length);
  if (internet_checksum(d.first(header_len)) != 0) return std::unexpected(IpError::bad_header_checksum);
  const std::uint16_t flags_offset = detail::load_be16(d, 6);
  const bool more_fragments = (flags_offset & 0x2000) != 0;
  const std::uint16_t offset = flags_offset & 0x1fff;
  if (more_fragments || offset != 0) return std::unexpected(IpError::fragment);
  const std::uint8_t protocol = load8(d, 9);
  if (protocol != ip_proto_tcp && protocol != ip_proto_icmp) return std::unexpected(IpError::not_tcp);
  return IpPacket{ip_addr_at(d, 12, true), ip_addr_at(d, 16, true), protocol,
                  d.subspan(header_len, total - header_len)};
}

// RFC 8200 §3 and §4.
std::expected<IpPacket, IpError> parse_v6(std::span<const std::byte> d) {
  if (d.size() < ipv6_header) return std::unexpected(IpError::too_short);
  const std::size_t payload_len = detail::load_be16(d, 4);
  if (ipv6_header + payload_len > d.size()) return std::unexpected(IpError::bad_total_length);
  std::span<const std::byte> rest = d.subspan(ipv6_header, payload_len);
  std::uint8_t next = load8(d, 6);
  while (next == ext_hop_by_hop || next == ext_routing || next == ext_dest_options) {
    if (rest.size() < 8) return std::unexpected(IpError::bad_extension_header);
    const std::size_t ext_len = (std::size_t{load8(rest, 1)} + 1) * 8;
    if (ext_len > rest.size()) return std::unexpected(IpError::bad_extension_header);
    next = load8(rest, 0);
    rest = rest.subspan(ext_len);
  }
  if (next == ext_fragment) return std::unexpected(IpError::fragment);
  if (next != ip_proto_tcp && next != ip_proto_icmpv6) return std::unexpected(IpError::not_tcp);
  return IpPacket{ip_addr_at(d, 8, false), ip_addr_at(d, 24, false), next, rest};
}

}  // namespace

IpAddr ip_addr_at(std::span<const std::byte> b, std::size_t at, bool v4) {
  std::array<std::uint8_t, 16> a{};
  const std::size_t n = v4 ? 4 : 16;
  for (std::size_t i = 0; i < n; ++i) a[i] = load8(b, at + i);
  return v4 ? IpAddr::v4(a[0], a[1], a[2], a[3]) : IpAddr::v6(a);
}

std::string_view to_string(IpError e) {
  switch (e) {
    case IpError::too_short:
      return "too_short";
    case IpError::bad_version:
      return "bad_version";
    case IpError::bad_header_length:
      return "bad_header_length";
    case IpError::bad_total_length:
      return "bad_total_length";
    case IpError::bad_header_checksum:
      return "bad_header_checksum";
    case IpError::fragment:
      return "fragment";
    case IpError::bad_extension_header:
      return "bad_extension_header";
    case IpError::not_tcp:
      return "not_tcp";
    case IpError::wrong_destination:
      return "wrong_destination";
    case IpError::bad_source:
      return "bad_source";
    case IpError::bad_icmp:
      return "bad_icmp";
    case IpError::count_:
      break;
  }
  return "unknown";
}

std::ostream& operator<<(std::ostream& os, IpError e) {
  return os << to_string(e);
}

std::expected<IpPacket, IpError> parse_ip(std::span<const std::byte> datagram) {
  if (datagram.empty()) return std::unexpected(IpError::too_short);
  switch (load8(datagram, 0) >> 4) {
    case 4:
      return parse_v4(datagram);
    case 6:
      return parse_v6(datagram);
    default:
      return std::unexpected(IpError::bad_version);
  }
}

std::size_t ip_header_size(const Output& o) {
  return o.src.is_v4() ? ipv4_min_header : ipv6_header;
}

namespace {

// The IP header of frame_into and frame_tcp for `tcp_len` bytes of TCP; false when the
// families differ or the packet would exceed the IP length field.
bool write_ip_header(std::span<std::byte> h, const IpAddr& src, const IpAddr& dst, std::size_t tcp_len) {
  if (src.is_v4() != dst.is_v4()) return false;
  if (src.is_v4()) {
    if (h.size() + tcp_len > 0xffff) return false;
    h[0] = std::byte{0x45};
    h[1] = std::byte{0};
    detail::store_be16(h, 2, static_cast<std::uint16_t>(h.size() + tcp_len));
    detail::store_be16(h, 4, 0);       // identification: unused with DF (RFC 6864 §4.1)
    detail::store_be16(h, 6, 0x4000);  // DF, offset 0
    h[8] = std::byte{default_ttl};
    h[9] = std::byte{ip_proto_tcp};
    detail::store_be16(h, 10, 0);
    store_addr(h, 12, src);
    store_addr(h, 16, dst);
    detail::store_be16(h, 10, internet_checksum(h));
  } else {
    if (tcp_len > 0xffff) return false;
    h[0] = std::byte{0x60};
    h[1] = h[2] = h[3] = std::byte{0};  // traffic class, flow label
    detail::store_be16(h, 4, static_cast<std::uint16_t>(tcp_len));
    h[6] = std::byte{ip_proto_tcp};
    h[7] = std::byte{default_ttl};
    store_addr(h, 8, src);
    store_addr(h, 24, dst);
  }
  return true;
}

}  // namespace

std::size_t ip_header_into(std::span<std::byte> out, const IpAddr& src, const IpAddr& dst,
                           std::size_t tcp_len) {
  const std::size_t header = src.is_v4() ? ipv4_min_header : ipv6_header;
  if (out.size() < header || !write_ip_header(out.first(header), src, dst, tcp_len)) return 0;
  return header;
}

std::size_t frame_into(std::span<std::byte> out, const Output& o) {
  const std::size_t header = ip_header_size(o);
  const std::size_t tcp_len = o.segment.encoded_size();
  if (out.size() < header + tcp_len) return 0;
  if (!write_ip_header(out.first(header), o.src, o.dst, tcp_len)) return 0;
  const std::size_t written = o.segment.encode_into(out.subspan(header), o.src, o.dst);
  if (written == 0) return 0;
  return header + written;
}

std::size_t framed_size(const Output& o) {
  return ip_header_size(o) + o.segment.encoded_size();
}

bool framable(const Output& o) {
  if (o.src.is_v4() != o.dst.is_v4() || !o.segment.valid()) return false;
  return o.src.is_v4() ? framed_size(o) <= 0xffff : o.segment.encoded_size() <= 0xffff;
}

std::vector<std::byte> frame_tcp(const IpAddr& src, const IpAddr& dst, std::span<const std::byte> tcp) {
  std::vector<std::byte> buf((src.is_v4() ? 20 : 40) + tcp.size());
  if (!write_ip_header(std::span(buf).first(buf.size() - tcp.size()), src, dst, tcp.size())) return {};
  std::copy(tcp.begin(), tcp.end(), buf.end() - static_cast<std::ptrdiff_t>(tcp.size()));
  return buf;
}

std::vector<std::byte> frame(const Output& o) {
  std::vector<std::byte> buf(ip_header_size(o) + o.segment.encoded_size());
  const std::size_t n = frame_into(buf, o);
  buf.resize(n);
  return buf;
}

}  // namespace utcp::host
