#include "gso.hpp"

#include <algorithm>
#include <array>
#include <cstring>

#include "ip_packet.hpp"
#include "utcp/checksum.hpp"
#include "utcp/detail/byte_order.hpp"

namespace utcp::host {

namespace {

// RFC 9293 §3.1: the header's fixed part and the offsets of the fields a split rewrites.
constexpr std::size_t tcp_min_header = 20;       // data offset 5
constexpr std::size_t tcp_checksum_offset = 16;  // recomputed per segment
constexpr std::size_t tcp_flags_offset = 13;     // CWR .. FIN
constexpr std::uint8_t tcp_fin = 0x01;           // on the last segment only
constexpr std::uint8_t tcp_psh = 0x08;           // on the last segment only
constexpr std::uint8_t tcp_cwr = 0x80;           // on the first segment only (RFC 3168 §6.1.2)

// The virtio-net header is little-endian (virtio 1.x).
std::uint16_t load16le(std::span<const std::byte> b, std::size_t at) {
  return static_cast<std::uint16_t>(std::to_integer<unsigned>(b[at]) |
                                    (std::to_integer<unsigned>(b[at + 1]) << 8));
}
void store16le(std::span<std::byte> b, std::size_t at, std::uint16_t v) {
  b[at] = static_cast<std::byte>(v & 0xff);
  b[at + 1] = static_cast<std::byte>(v >> 8);
}

// Whether `next` continues the run that `prev` ends, with `first` the run's first segment.
bool continues(const Output& first, const Output& prev, const Output& next) {
  const Segment& f = first.segment;
  const Segment& p = prev.segment;
  const Segment& s = next.segment;
  return next.src == first.src && next.dst == first.dst && s.src_port == f.src_port &&
         s.dst_port == f.dst_port && s.flag != Segment::Flag::syn && s.flag != Segment::Flag::rst &&
         !s.payload.empty() && s.payload.size() <= f.payload.size() && p.payload.size() == f.payload.size() &&
         s.seq == p.seq + static_cast<std::uint32_t>(p.payload.size()) && s.ack == f.ack &&
         s.window == f.window && s.options == f.options;
}

// A super-packet's last touches, once its first segment's header is at `tcp` (`ip_len` bytes
// into the packet, `tcp_len` bytes of TCP header and payload) and the vnet header's room at
// `out`'s start: the header takes the last segment's PSH and FIN; its checksum field holds
// the pseudo-header's sum, not complemented (CHECKSUM_PARTIAL: whoever cuts the packet adds
// the bytes from csum_start on and adjusts the length per segment); the vnet header says so,
// with the first segment's size as every segment's.
void finish_super(std::span<std::byte> out, std::span<std::byte> tcp, const Output& first, const Output& last,
                  std::size_t ip_len, std::size_t tcp_len) {
  auto flags = std::to_integer<std::uint8_t>(tcp[tcp_flags_offset]);
  flags = static_cast<std::uint8_t>(flags & ~(tcp_psh | tcp_fin));
  if (last.segment.push) flags |= tcp_psh;
  if (last.segment.flag == Segment::Flag::fin) flags |= tcp_fin;
  tcp[tcp_flags_offset] = static_cast<std::byte>(flags);
  detail::store_be16(tcp, tcp_checksum_offset,
                     pseudo_header_sum(first.src, first.dst, static_cast<std::uint32_t>(tcp_len)));
  VnetHeader h;
  h.flags = VnetHeader::needs_csum;
  h.gso_type = first.src.is_v4() ? VnetHeader::gso_tcpv4 : VnetHeader::gso_tcpv6;
  h.hdr_len =
      static_cast<std::uint16_t>(ip_len + first.segment.encoded_size() - first.segment.payload.size());
  h.gso_size = static_cast<std::uint16_t>(first.segment.payload.size());
  h.csum_start = static_cast<std::uint16_t>(ip_len);
  h.csum_offset = tcp_checksum_offset;
  h.write(out);
}

}  // namespace

VnetHeader VnetHeader::read(std::span<const std::byte> b) {
  VnetHeader h;
  h.flags = std::to_integer<std::uint8_t>(b[0]);
  h.gso_type = std::to_integer<std::uint8_t>(b[1]);
  h.hdr_len = load16le(b, 2);
  h.gso_size = load16le(b, 4);
  h.csum_start = load16le(b, 6);
  h.csum_offset = load16le(b, 8);
  return h;
}

void VnetHeader::write(std::span<std::byte> out) const {
  out[0] = static_cast<std::byte>(flags);
  out[1] = static_cast<std::byte>(gso_type);
  store16le(out, 2, hdr_len);
  store16le(out, 4, gso_size);
  store16le(out, 6, csum_start);
  store16le(out, 8, csum_offset);
}

std::string_view to_string(VnetError e) {
  switch (e) {
    case VnetError::too_short:
      return "too_short";
    case VnetError::bad_gso:
      return "bad_gso";
    case VnetError::bad_packet:
      return "bad_packet";
    case VnetError::bad_csum_offsets:
      return "bad_csum_offsets";
    case VnetError::count_:
      break;
  }
  return "unknown";
}

// ---- the coalescer ----

std::size_t coalescible(std::span<const Output> outs, std::size_t max_packet) {
  if (outs.empty()) return 0;
  const Output& first = outs[0];
  const Segment& f = first.segment;
  // The first segment opens a run only when it is a plain data segment (PSH or FIN on it
  // would have to be its last) with an ACK, as every segment of an established flow has.
  if (f.payload.empty() || f.flag != Segment::Flag::none || f.push || !f.ack ||
      first.src.is_v4() != first.dst.is_v4() || !framable(first))
    return 1;
  const std::size_t ip_header = ip_header_size(first);
  // IPv4: the total length counts the IP header; IPv6: the payload length does not.
  const std::size_t limit = first.src.is_v4() ? max_packet : max_packet + ip_header;
  std::size_t size = framed_size(first);
  std::size_t n = 1;
  while (n < outs.size()) {
    const Output& next = outs[n];
    if (!continues(first, outs[n - 1], next) || size + next.segment.payload.size() > limit) break;
    size += next.segment.payload.size();
    ++n;
    if (next.segment.push || next.segment.flag == Segment::Flag::fin) break;
  }
  return n;
}

std::size_t super_framed_size(std::span<const Output> outs) {
  if (outs.empty()) return 0;
  std::size_t n = VnetHeader::size + framed_size(outs[0]);
  for (std::size_t i = 1; i < outs.size(); ++i) n += outs[i].segment.payload.size();
  return n;
}

std::size_t frame_super_into(std::span<std::byte> out, std::span<const Output> outs) {
  if (outs.empty() || out.size() < super_framed_size(outs)) return 0;
  std::span<std::byte> packet = out.subspan(VnetHeader::size);
  const std::size_t first_len = frame_into(packet, outs[0]);
  if (first_len == 0) return 0;
  if (outs.size() == 1) {
    VnetHeader{}.write(out);
    return VnetHeader::size + first_len;
  }
  const Output& first = outs[0];
  const Output& last = outs.back();
  std::size_t at = first_len;
  for (std::size_t i = 1; i < outs.size(); ++i) at += outs[i].segment.payload.copy_to(packet.subspan(at));
  const bool v4 = first.src.is_v4();
  const std::size_t ip_len = ip_header_size(first);
  const std::size_t tcp_len = at - ip_len;
  if (v4) {
    detail::store_be16(packet, 2, static_cast<std::uint16_t>(at));
    detail::store_be16(packet, 10, 0);
    detail::store_be16(packet, 10, internet_checksum(packet.first(ip_len)));
  } else {
    detail::store_be16(packet, 4, static_cast<std::uint16_t>(tcp_len));
  }
  finish_super(out, packet.subspan(ip_len), first, last, ip_len, tcp_len);
  return VnetHeader::size + at;
}

std::size_t frame_super_headers_into(std::span<std::byte> out, std::span<const Output> outs) {
  if (outs.size() < 2) return 0;
  const Output& first = outs[0];
  const Output& last = outs.back();
  const std::size_t ip_len = ip_header_size(first);
  const std::size_t tcp_header = first.segment.encoded_size() - first.segment.payload.size();
  const std::size_t headers = VnetHeader::size + ip_len + tcp_header;
  if (out.size() < headers) return 0;
  std::size_t tcp_len = tcp_header;
  for (const Output& o : outs) tcp_len += o.segment.payload.size();
  std::span<std::byte> packet = out.subspan(VnetHeader::size);
  if (ip_header_into(packet, first.src, first.dst, tcp_len) != ip_len) return 0;
  // The first segment's header, then as frame_super_into finishes it.
  std::span<std::byte> tcp = packet.subspan(ip_len);
  first.segment.encode_header_into(tcp);
  finish_super(out, tcp, first, last, ip_len, tcp_len);
  return headers;
}

// ---- the splitter ----

std::expected<std::span<const std::byte>, VnetError> Splitter::whole(std::span<const std::byte> packet,
                                                                     const VnetHeader& h) {
  if ((h.flags & VnetHeader::needs_csum) == 0) return packet;
  // Complete the checksum: the field holds a partial sum (the pseudo-header's); the sum of
  // everything from csum_start on, complemented, goes into it.
  const std::size_t start = h.csum_start, field = start + h.csum_offset;
  if (start > packet.size() || field + 2 > packet.size() || (h.csum_offset & 1) != 0)
    return std::unexpected(VnetError::bad_csum_offsets);
  buf_.assign(packet.begin(), packet.end());
  std::span<std::byte> p(buf_);
  detail::store_be16(p, field, static_cast<std::uint16_t>(~ones_sum(p.subspan(start))));
  return std::span<const std::byte>(p);
}

std::expected<std::span<const std::byte>, VnetError> Splitter::prepare(std::span<const std::byte> frame) {
  plan_ = Plan{};
  if (frame.size() < VnetHeader::size) return std::unexpected(VnetError::too_short);
  const VnetHeader h = VnetHeader::read(frame);
  const std::span<const std::byte> packet = frame.subspan(VnetHeader::size);
  const std::uint8_t gso = h.gso_type & static_cast<std::uint8_t>(~VnetHeader::gso_ecn);

  if (gso == VnetHeader::gso_none) return whole(packet, h);
  if (gso != VnetHeader::gso_tcpv4 && gso != VnetHeader::gso_tcpv6)
    return std::unexpected(VnetError::bad_gso);
  if (packet.empty()) return std::unexpected(VnetError::too_short);
  const unsigned version = std::to_integer<unsigned>(packet[0]) >> 4;
  const bool v4 = version == 4;
  if ((v4 && gso != VnetHeader::gso_tcpv4) || (!v4 && (version != 6 || gso != VnetHeader::gso_tcpv6)))
    return std::unexpected(VnetError::bad_gso);
  std::size_t ip_len = 0, total = 0;
  if (v4) {
    if (packet.size() < ipv4_min_header) return std::unexpected(VnetError::too_short);
    ip_len = std::size_t{std::to_integer<unsigned>(packet[0]) & 0xfu} * 4;
    total = detail::load_be16(packet, 2);
    if (ip_len < ipv4_min_header || total < ip_len || total > packet.size() ||
        std::to_integer<unsigned>(packet[9]) != ip_proto_tcp)
      return std::unexpected(VnetError::bad_packet);
  } else {
    // GSO over IPv6 extension headers is not something Linux hands to a TUN device for TCP
    // it forwards or sends; a packet with one is refused rather than cut wrong.
    if (packet.size() < ipv6_header) return std::unexpected(VnetError::too_short);
    ip_len = ipv6_header;
    total = ipv6_header + detail::load_be16(packet, 4);
    if (total > packet.size() || std::to_integer<unsigned>(packet[6]) != ip_proto_tcp)
      return std::unexpected(VnetError::bad_packet);
  }
  if (total < ip_len + tcp_min_header) return std::unexpected(VnetError::bad_packet);
  const std::size_t tcp_len = std::size_t{std::to_integer<unsigned>(packet[ip_len + 12]) >> 4} * 4;
  if (tcp_len < tcp_min_header || ip_len + tcp_len > total) return std::unexpected(VnetError::bad_packet);
  const std::size_t payload = total - ip_len - tcp_len;
  if (h.gso_size == 0) return std::unexpected(VnetError::bad_gso);
  // Not really GSO (Linux treats it so too): one packet, completed like any other.
  if (payload <= h.gso_size) return whole(packet.first(total), h);
  plan_.v4 = v4;
  plan_.ip_len = ip_len;
  plan_.tcp_len = tcp_len;
  plan_.payload = payload;
  plan_.gso_size = h.gso_size;
  plan_.src = ip_addr_at(packet, v4 ? 12 : 8, v4);
  plan_.dst = ip_addr_at(packet, v4 ? 16 : 24, v4);
  plan_.count = (payload + h.gso_size - 1) / h.gso_size;
  buf_.resize(ip_len + tcp_len + h.gso_size);
  return std::span<const std::byte>();
}

std::span<const std::byte> Splitter::segment(std::span<const std::byte> frame, std::size_t i,
                                             SegmentChecksums checksums) {
  const std::span<const std::byte> packet = frame.subspan(VnetHeader::size);
  const Plan& p = plan_;
  const std::size_t headers = p.ip_len + p.tcp_len;
  const std::size_t off = i * p.gso_size;
  const std::size_t len = std::min(p.gso_size, p.payload - off);
  const bool last = i + 1 == p.count;
  std::span<std::byte> out(buf_.data(), headers + len);
  std::memcpy(out.data(), packet.data(), headers);
  std::memcpy(out.data() + headers, packet.data() + headers + off, len);
  if (p.v4) {
    detail::store_be16(out, 2, static_cast<std::uint16_t>(headers + len));
    detail::store_be16(out, 4, static_cast<std::uint16_t>(detail::load_be16(packet, 4) + i));
    detail::store_be16(out, 10, 0);
    detail::store_be16(out, 10, internet_checksum(out.first(p.ip_len)));
  } else {
    detail::store_be16(out, 4, static_cast<std::uint16_t>(p.tcp_len + len));
  }
  std::span<std::byte> tcp = out.subspan(p.ip_len);
  detail::store_be32(tcp, 4, detail::load_be32(packet, p.ip_len + 4) + static_cast<std::uint32_t>(off));
  auto flags = std::to_integer<std::uint8_t>(tcp[tcp_flags_offset]);
  if (!last) flags = static_cast<std::uint8_t>(flags & ~(tcp_psh | tcp_fin));
  if (i != 0) flags = static_cast<std::uint8_t>(flags & ~tcp_cwr);
  tcp[tcp_flags_offset] = static_cast<std::byte>(flags);
  if (checksums == SegmentChecksums::fill) {
    detail::store_be16(tcp, tcp_checksum_offset, 0);
    detail::store_be16(tcp, tcp_checksum_offset, tcp_checksum(p.src, p.dst, tcp));
  }
  return out;
}

}  // namespace utcp::host
