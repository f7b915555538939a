// Segment::decode: RFC 9293 §3.1 header, checked field by field.
//
// Order of the checks, each failure its own DecodeError:
//   1. the addresses are of one family (the pseudo-header needs it);
//   2. structure: at least 20 bytes, data offset 5..15, the header within the buffer, then
//      each option's length byte present, at least 2 and within the header;
//   3. flags: SYN with FIN or RST;
//   4. the checksum over pseudo-header, header and payload.
// So a segment cut short inside its header fails on structure, and one cut inside its
// payload fails on the checksum. Nothing is written to the input and nothing is read past it.
#include "wire/segment_decode.hpp"

#include <cstring>

#include "utcp/checksum.hpp"
#include "utcp/detail/byte_order.hpp"
#include "utcp/segment.hpp"
#include "wire/options.hpp"

namespace utcp {
namespace {

constexpr std::size_t kFixedHeader = 20;

// Byte 13 of the header (RFC 9293 §3.1; CWR, ECE and URG are not used here and ignored).
constexpr unsigned kFin = 0x01, kSyn = 0x02, kRst = 0x04, kPsh = 0x08, kAck = 0x10;

// Decodes into `s` (default-constructed); on failure `s` holds whatever was read so far.
DecodeError decode_segment(const IpAddr& src, const IpAddr& dst, std::span<const std::byte> tcp_bytes,
                           bool view, Segment& s, ChecksumCheck check = ChecksumCheck::verify);

Result<std::pair<Segment, Flow>> decoded(const IpAddr& src, const IpAddr& dst,
                                         std::span<const std::byte> tcp_bytes, bool view) {
  Segment s;
  if (const DecodeError e = decode_segment(src, dst, tcp_bytes, view, s); e != DecodeError::none)
    return std::unexpected(Error::from(e));
  const Flow flow(Endpoint{dst, s.dst_port}, Endpoint{src, s.src_port});
  return std::pair<Segment, Flow>{std::move(s), flow};
}

}  // namespace

Result<std::pair<Segment, Flow>> Segment::decode(const IpAddr& src, const IpAddr& dst,
                                                 std::span<const std::byte> tcp_bytes) {
  return decoded(src, dst, tcp_bytes, false);
}

Result<std::pair<Segment, Flow>> Segment::decode_view(const IpAddr& src, const IpAddr& dst,
                                                      std::span<const std::byte> tcp_bytes) {
  return decoded(src, dst, tcp_bytes, true);
}

namespace wire {
DecodeError decode_view_into(const IpAddr& src, const IpAddr& dst, std::span<const std::byte> tcp_bytes,
                             Segment& out, ChecksumCheck check) {
  return decode_segment(src, dst, tcp_bytes, true, out, check);
}
}  // namespace wire

namespace {

DecodeError decode_segment(const IpAddr& src, const IpAddr& dst, std::span<const std::byte> tcp_bytes,
                           bool view, Segment& s, ChecksumCheck check) {
  using Flag = Segment::Flag;
  auto fail = [](DecodeError e) { return e; };
  if (src.is_v4() != dst.is_v4()) return fail(DecodeError::address_family_mismatch);

  const std::size_t n = tcp_bytes.size();
  const std::byte* b = tcp_bytes.data();
  if (n < kFixedHeader) return fail(DecodeError::truncated_header);
  const std::size_t header = 4 * (std::to_integer<std::size_t>(b[12]) >> 4);
  if (header < kFixedHeader) return fail(DecodeError::bad_data_offset);
  if (header > n) return fail(DecodeError::data_offset_past_end);

  if (const DecodeError e = header == kFixedHeader ? DecodeError::none
                            : wire::parse_options(tcp_bytes.subspan(kFixedHeader, header - kFixedHeader), s.options);
      e != DecodeError::none) {
    return fail(e);
  }

  const unsigned flags = std::to_integer<unsigned>(b[13]);
  if ((flags & kSyn) && (flags & (kFin | kRst))) {
    return fail((flags & kFin) ? DecodeError::syn_and_fin : DecodeError::syn_and_rst);
  }

  // RFC 9293 §3.1: a segment with a wrong checksum is dropped; unless the layer below verified it.
  if (check == ChecksumCheck::verify && tcp_checksum(src, dst, tcp_bytes) != 0)
    return fail(DecodeError::bad_checksum);

  s.src_port = detail::load_be16(b);
  s.dst_port = detail::load_be16(b + 2);
  s.seq = Seq(detail::load_be32(b + 4));
  if (flags & kAck) s.ack = Seq(detail::load_be32(b + 8));
  // FIN with RST is taken as RST: the connection is being reset either way.
  // By the low three bits (FIN 1, SYN 2, RST 4), a table: RST, then SYN, then FIN.
  static constexpr Flag kFlagOf[8] = {Flag::none, Flag::fin, Flag::syn, Flag::syn,
                                      Flag::rst,  Flag::rst, Flag::rst, Flag::rst};
  static_assert(kFin == 1 && kSyn == 2 && kRst == 4);
  s.flag = kFlagOf[flags & 7u];
  s.push = (flags & kPsh) != 0;
  s.window = detail::load_be16(b + 14);
  s.payload = view ? Payload::view(tcp_bytes.subspan(header)) : Payload(tcp_bytes.subspan(header));
  return DecodeError::none;
}

}  // namespace

}  // namespace utcp
