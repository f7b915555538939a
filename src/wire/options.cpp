// TCP options: parsing, layout and printing.
//
// Layout: options go out in the order given. Before each one, NOPs are inserted so that its
// multi-byte fields sit at their natural alignment (the 32-bit timestamp and SACK fields on a
// 4-byte boundary, the MSS on a 2-byte one), as Linux lays out NOP,NOP,TS; the end is padded
// with NOPs to a multiple of 4. When that would not fit in the 40 bytes a header has, the
// options are packed instead, so any list that fits packed still encodes. NOP and EOL never
// appear in a TcpOption list: decoding skips them, so decode(encode(s)) == s.
#include "wire/options.hpp"

#include <ostream>

#include "utcp/detail/byte_order.hpp"

namespace utcp::wire {
namespace {

std::byte* put8(std::byte* p, unsigned v) {
  *p = static_cast<std::byte>(v & 0xff);
  return p + 1;
}

// Where an option's fields want to start, as (offset of the first field after kind and
// length, its alignment); alignment 1 means none.
std::size_t field_alignment(const TcpOption& o) {
  struct V {
    std::size_t operator()(const Mss&) const { return 2; }
    std::size_t operator()(const WindowScale&) const { return 1; }
    std::size_t operator()(const SackPermitted&) const { return 1; }
    std::size_t operator()(const Sack&) const { return 4; }
    std::size_t operator()(const Timestamps&) const { return 4; }
    std::size_t operator()(const UnknownOption&) const { return 1; }
  };
  return std::visit(V{}, o);
}

// NOPs needed before an option starting at `at` so its fields (at + 2) are aligned.
std::size_t nops_before(const TcpOption& o, std::size_t at) {
  const std::size_t a = field_alignment(o);
  return (a - (at + 2) % a) % a;
}

std::size_t round4(std::size_t n) {
  return (n + 3) & ~std::size_t{3};
}

std::size_t aligned_size(const TcpOptions& options) {
  std::size_t at = 0;
  for (const auto& o : options) at += nops_before(o, at) + encoded_size(o);
  return round4(at);
}

std::size_t packed_size(const TcpOptions& options) {
  std::size_t at = 0;
  for (const auto& o : options) at += encoded_size(o);
  return round4(at);
}

std::byte* write_one(const TcpOption& opt, std::byte* p) {
  struct V {
    std::byte* p;
    std::byte* operator()(const Mss& o) const {
      return detail::store_be16(detail::store_be16(p, (kMss << 8) | 4), o.value);
    }
    std::byte* operator()(const WindowScale& o) const {
      return put8(detail::store_be16(p, (kWindowScale << 8) | 3), o.shift);
    }
    std::byte* operator()(const SackPermitted&) const {
      return detail::store_be16(p, (kSackPermitted << 8) | 2);
    }
    std::byte* operator()(const Sack& o) const {
      std::byte* q = put8(put8(p, kSack), static_cast<unsigned>(2 + 8 * o.blocks.size()));
      for (const auto& [l, r] : o.blocks) q = detail::store_be32(detail::store_be32(q, l.value()), r.value());
      return q;
    }
    std::byte* operator()(const Timestamps& o) const {
      return detail::store_be32(detail::store_be32(detail::store_be16(p, (kTimestamps << 8) | 10), o.value),
                                o.echo);
    }
    std::byte* operator()(const UnknownOption& o) const {
      std::byte* q = put8(put8(p, o.kind), static_cast<unsigned>(2 + o.data.size()));
      for (std::byte b : o.data) *q++ = b;
      return q;
    }
  };
  return std::visit(V{p}, opt);
}

// Nearly every segment of a connection with timestamps carries them alone: NOP, NOP, TSopt,
// the bytes the layout above gives them (RFC 7323 Appendix A's). The paths below write,
// size and read that case without walking the general layout.
bool only_timestamps(const TcpOptions& options) {
  return options.size() == 1 && std::holds_alternative<Timestamps>(options[0]);
}
constexpr std::size_t kTimestampsOnly = 12;

}  // namespace

namespace {

// How many options the area holds (up to the first malformed one): parse_options reserves
// them at once when its inline room is full, so a SYN's MSS, window scale, SACK-permitted
// and timestamps cost one allocation, not one per doubling.
std::size_t count_options(const std::byte* b, std::size_t end) {
  std::size_t n = 0, i = 0;
  while (i < end) {
    const auto kind = std::to_integer<std::uint8_t>(b[i]);
    if (kind == kEol) break;
    if (kind == kNop) {
      ++i;
      continue;
    }
    if (i + 1 >= end) break;
    const std::size_t len = std::to_integer<std::size_t>(b[i + 1]);
    if (len < 2 || len > end - i) break;
    ++n;
    i += len;
  }
  return n;
}

}  // namespace

DecodeError parse_options(std::span<const std::byte> area, TcpOptions& out) {
  const std::byte* b = area.data();
  const std::size_t end = area.size();
  if (end == kTimestampsOnly && b[0] == std::byte{kNop} && b[1] == std::byte{kNop} &&
      b[2] == std::byte{kTimestamps} && b[3] == std::byte{10}) {
    out.emplace_back(Timestamps{detail::load_be32(b + 4), detail::load_be32(b + 8)});
    return DecodeError::none;
  }
  std::size_t i = 0;
  while (i < end) {
    const auto kind = std::to_integer<std::uint8_t>(b[i]);
    if (kind == kEol) break;  // the rest of the header is padding
    if (kind == kNop) {
      ++i;
      continue;
    }
    if (i + 1 >= end) return DecodeError::option_length_missing;
    const std::size_t len = std::to_integer<std::size_t>(b[i + 1]);
    if (len < 2) return DecodeError::option_length_short;
    if (len > end - i) return DecodeError::option_past_header;
    const std::byte* f = b + i + 2;  // the option's fields
    // Counted only when the inline room is full (a SYN's MSS and window scale fit it): the
    // rest at once, so a SYN of four options allocates once.
    if (out.size() == out.capacity()) out.reserve(out.size() + count_options(b + i, end - i));
    if (kind == kMss && len == 4) {
      out.emplace_back(Mss{detail::load_be16(f)});
    } else if (kind == kWindowScale && len == 3) {
      out.emplace_back(WindowScale{std::to_integer<std::uint8_t>(f[0])});
    } else if (kind == kSackPermitted && len == 2) {
      out.emplace_back(SackPermitted{});
    } else if (kind == kSack && len >= 10 && len <= 34 && (len - 2) % 8 == 0) {
      Sack s;
      s.blocks.reserve((len - 2) / 8);
      for (std::size_t k = 0; k + 2 < len; k += 8)
        s.blocks.emplace_back(Seq(detail::load_be32(f + k)), Seq(detail::load_be32(f + k + 4)));
      out.emplace_back(std::move(s));
    } else if (kind == kTimestamps && len == 10) {
      out.emplace_back(Timestamps{detail::load_be32(f), detail::load_be32(f + 4)});
    } else {
      // Unknown kind, or a known one with the wrong length: kept, and ignored above.
      out.emplace_back(UnknownOption{kind, std::vector<std::byte>(f, f + (len - 2))});
    }
    i += len;
  }
  return DecodeError::none;
}

OptionsLayout options_layout(const TcpOptions& options) {
  if (options.empty()) return {0, true};
  if (only_timestamps(options)) return {kTimestampsOnly, true};
  const std::size_t aligned = aligned_size(options);
  if (aligned <= kMaxOptionBytes) return {aligned, true};
  return {packed_size(options), false};
}

void write_options(const TcpOptions& options, std::byte* out, bool aligned) {
  if (options.empty()) return;
  if (only_timestamps(options)) {
    const auto& ts = std::get<Timestamps>(options[0]);
    std::byte* p = detail::store_be32(out, (kNop << 24) | (kNop << 16) | (kTimestamps << 8) | 10);
    detail::store_be32(detail::store_be32(p, ts.value), ts.echo);
    return;
  }
  std::byte* p = out;
  for (const auto& o : options) {
    if (aligned) {
      for (std::size_t n = nops_before(o, static_cast<std::size_t>(p - out)); n > 0; --n)
        *p++ = std::byte{kNop};
    }
    p = write_one(o, p);
  }
  while ((p - out) % 4 != 0) *p++ = std::byte{kNop};
}

}  // namespace utcp::wire

namespace utcp {

std::size_t encoded_size(const TcpOption& opt) {
  struct V {
    std::size_t operator()(const Mss&) const { return 4; }
    std::size_t operator()(const WindowScale&) const { return 3; }
    std::size_t operator()(const SackPermitted&) const { return 2; }
    std::size_t operator()(const Sack& o) const { return 2 + 8 * o.blocks.size(); }
    std::size_t operator()(const Timestamps&) const { return 10; }
    std::size_t operator()(const UnknownOption& o) const { return 2 + o.data.size(); }
  };
  return std::visit(V{}, opt);
}

// packetdrill's spelling: "mss 1460", "wscale 7", "sackOK", "sack 1:2 3:4", "TS val 1 ecr 2".
std::ostream& operator<<(std::ostream& os, const TcpOption& opt) {
  struct V {
    std::ostream& os;
    void operator()(const Mss& o) const { os << "mss " << o.value; }
    void operator()(const WindowScale& o) const { os << "wscale " << unsigned{o.shift}; }
    void operator()(const SackPermitted&) const { os << "sackOK"; }
    void operator()(const Sack& o) const {
      os << "sack";
      for (const auto& [l, r] : o.blocks) os << ' ' << l << ':' << r;
    }
    void operator()(const Timestamps& o) const { os << "TS val " << o.value << " ecr " << o.echo; }
    void operator()(const UnknownOption& o) const {
      static constexpr char kDigits[] = "0123456789abcdef";
      os << "opt " << unsigned{o.kind} << " len " << 2 + o.data.size();
      if (!o.data.empty()) os << ' ';
      for (std::byte b : o.data)
        os << kDigits[std::to_integer<unsigned>(b) >> 4] << kDigits[std::to_integer<unsigned>(b) & 0xf];
    }
  };
  std::visit(V{os}, opt);
  return os;
}

}  // namespace utcp
