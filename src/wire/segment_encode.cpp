// Segment::encode and encode_into (RFC 9293 §3.1), and the printers.
#include <cstring>
#include <ostream>

#include "utcp/checksum.hpp"
#include "utcp/detail/byte_order.hpp"
#include "utcp/segment.hpp"
#include "wire/options.hpp"

namespace utcp {
namespace {

constexpr std::size_t kFixedHeader = 20;
constexpr unsigned kFin = 0x01, kSyn = 0x02, kRst = 0x04, kPsh = 0x08, kAck = 0x10;

unsigned flag_bits(const Segment& s) {
  unsigned f = 0;
  switch (s.flag) {
    case Segment::Flag::none:
      break;
    case Segment::Flag::syn:
      f |= kSyn;
      break;
    case Segment::Flag::fin:
      f |= kFin;
      break;
    case Segment::Flag::rst:
      f |= kRst;
      break;
  }
  if (s.push) f |= kPsh;
  if (s.ack) f |= kAck;
  return f;
}

}  // namespace

std::size_t Segment::options_size() const {
  return wire::options_layout_size(options);
}

namespace {

// The options laid out once, for the data offset and the writing; most segments carry none.
wire::OptionsLayout layout_of(const Segment& s) {
  return s.options.empty() ? wire::OptionsLayout{} : wire::options_layout(s.options);
}

// The header with the options as `layout` places them, the checksum field zero. Inlined:
// encode_into is on every data segment's path (docs/PERFORMANCE.md, instructions per segment).
[[gnu::always_inline]] inline void write_header(std::byte* p, const Segment& s,
                                                const wire::OptionsLayout& layout) {
  detail::store_be16(p, s.src_port);
  detail::store_be16(p + 2, s.dst_port);
  detail::store_be32(p + 4, s.seq.value());
  detail::store_be32(p + 8, s.ack ? s.ack->value() : 0);
  p[12] = static_cast<std::byte>(((kFixedHeader + layout.size) / 4) << 4);  // reserved bits zero
  p[13] = static_cast<std::byte>(flag_bits(s));
  detail::store_be16(p + 14, s.window);
  detail::store_be16(p + 16, 0);  // checksum
  detail::store_be16(p + 18, 0);  // urgent pointer
  if (layout.size != 0) wire::write_options(s.options, p + kFixedHeader, layout.aligned);
}

}  // namespace

std::size_t Segment::encode_header_into(std::span<std::byte> out) const {
  const wire::OptionsLayout layout = layout_of(*this);
  if (out.size() < kFixedHeader + layout.size) return 0;
  write_header(out.data(), *this, layout);
  return kFixedHeader + layout.size;
}

std::size_t Segment::encode_into(std::span<std::byte> out, const IpAddr& src, const IpAddr& dst) const {
  const wire::OptionsLayout layout = layout_of(*this);
  const std::size_t opts = layout.size;
  const std::size_t total = kFixedHeader + opts + payload.size();
  if (out.size() < total) return 0;
  std::byte* p = out.data();
  write_header(p, *this, layout);
  std::byte* d = p + kFixedHeader + opts;
  payload.for_each_slice([&d](std::span<const std::byte> slice) {
    std::memcpy(d, slice.data(), slice.size());
    d += slice.size();
  });
  detail::store_be16(p + 16, tcp_checksum(src, dst, out.first(total)));
  return total;
}

std::vector<std::byte> Segment::encode(const IpAddr& src, const IpAddr& dst) const {
  std::vector<std::byte> out(encoded_size());
  encode_into(out, src, dst);
  return out;
}

std::string_view to_string(Segment::Flag f) {
  switch (f) {
    case Segment::Flag::none:
      return "none";
    case Segment::Flag::syn:
      return "syn";
    case Segment::Flag::fin:
      return "fin";
    case Segment::Flag::rst:
      return "rst";
  }
  return "?";
}

// packetdrill's form: flags (S F R P, then . for ACK), seq:end(len) over the payload, ack,
// window, options. The options are the Segment's own, without the NOP padding of the wire.
std::ostream& operator<<(std::ostream& os, const Segment& s) {
  char flags[4];  // a fixed array, not a std::string: GCC 12 at -O3 warns falsely on the latter
  std::size_t n = 0;
  switch (s.flag) {
    case Segment::Flag::none:
      break;
    case Segment::Flag::syn:
      flags[n++] = 'S';
      break;
    case Segment::Flag::fin:
      flags[n++] = 'F';
      break;
    case Segment::Flag::rst:
      flags[n++] = 'R';
      break;
  }
  if (s.push) flags[n++] = 'P';
  if (s.ack) flags[n++] = '.';
  if (n == 0) flags[n++] = '-';
  os.write(flags, static_cast<std::streamsize>(n));
  const auto len = static_cast<std::uint32_t>(s.payload.size());
  os << ' ' << s.seq << ':' << (s.seq + len) << '(' << len << ')';
  if (s.ack) os << " ack " << *s.ack;
  os << " win " << s.window;
  if (!s.options.empty()) {
    os << " <";
    for (std::size_t i = 0; i < s.options.size(); ++i) os << (i ? "," : "") << s.options[i];
    os << '>';
  }
  return os;
}

std::ostream& operator<<(std::ostream& os, const Output& o) {
  return os << Endpoint{o.src, o.segment.src_port} << " > " << Endpoint{o.dst, o.segment.dst_port} << ": "
            << o.segment;
}

}  // namespace utcp
