// IpAddr text forms (RFC 4291 §2.2 in, RFC 5952 out), endpoints and flows.
#include "utcp/ip.hpp"

#include <cstring>
#include <sstream>

namespace utcp {
namespace {

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// A dotted quad: four decimal numbers 0..255, no leading zeros, nothing else.
std::optional<std::array<std::uint8_t, 4>> parse_v4(std::string_view s) {
  std::array<std::uint8_t, 4> out{};
  std::size_t i = 0;
  for (std::size_t part = 0; part < 4; ++part) {
    if (part > 0) {
      if (i >= s.size() || s[i] != '.') return std::nullopt;
      ++i;
    }
    const std::size_t start = i;
    unsigned v = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9' && i - start < 3) {
      v = v * 10 + static_cast<unsigned>(s[i] - '0');
      ++i;
    }
    const std::size_t digits = i - start;
    if (digits == 0 || v > 255 || (digits > 1 && s[start] == '0')) return std::nullopt;
    out[part] = static_cast<std::uint8_t>(v);
  }
  if (i != s.size()) return std::nullopt;
  return out;
}

// Colon-separated 16-bit groups, the last of which may be a dotted quad (worth two groups)
// when `allow_v4_tail`. Appends to `groups`; fails on an empty group or more than `max`.
bool parse_groups(std::string_view s, bool allow_v4_tail, std::size_t max, std::uint16_t* groups,
                  std::size_t& n) {
  if (s.empty()) return true;
  std::size_t i = 0;
  while (true) {
    const std::size_t colon = s.find(':', i);
    const std::string_view g =
        s.substr(i, colon == std::string_view::npos ? std::string_view::npos : colon - i);
    if (colon == std::string_view::npos && allow_v4_tail && g.find('.') != std::string_view::npos) {
      const auto quad = parse_v4(g);
      if (!quad || n + 2 > max) return false;
      groups[n++] = static_cast<std::uint16_t>(((*quad)[0] << 8) | (*quad)[1]);
      groups[n++] = static_cast<std::uint16_t>(((*quad)[2] << 8) | (*quad)[3]);
      return true;
    }
    if (g.empty() || g.size() > 4 || n >= max) return false;
    unsigned v = 0;
    for (char c : g) {
      const int d = hex_digit(c);
      if (d < 0) return false;
      v = v * 16 + static_cast<unsigned>(d);
    }
    groups[n++] = static_cast<std::uint16_t>(v);
    if (colon == std::string_view::npos) return true;
    i = colon + 1;
  }
}

std::optional<std::array<std::uint8_t, 16>> parse_v6(std::string_view s) {
  std::uint16_t head[8], tail[8];
  std::size_t nh = 0, nt = 0;
  const std::size_t gap = s.find("::");
  if (gap == std::string_view::npos) {
    if (!parse_groups(s, true, 8, head, nh) || nh != 8) return std::nullopt;
  } else {
    const std::string_view before = s.substr(0, gap), after = s.substr(gap + 2);
    if (after.find("::") != std::string_view::npos) return std::nullopt;
    // "::" stands for at least one zero group.
    if (!parse_groups(before, false, 7, head, nh) || !parse_groups(after, true, 7 - nh, tail, nt)) {
      return std::nullopt;
    }
  }
  std::array<std::uint16_t, 8> words{};
  for (std::size_t k = 0; k < nh; ++k) words[k] = head[k];
  for (std::size_t k = 0; k < nt; ++k) words[8 - nt + k] = tail[k];
  std::array<std::uint8_t, 16> out{};
  for (std::size_t k = 0; k < 8; ++k) {
    out[2 * k] = static_cast<std::uint8_t>(words[k] >> 8);
    out[2 * k + 1] = static_cast<std::uint8_t>(words[k] & 0xff);
  }
  return out;
}

void append_hex(std::string& out, unsigned v) {
  static constexpr char kDigits[] = "0123456789abcdef";
  bool started = false;
  for (int shift = 12; shift >= 0; shift -= 4) {
    const unsigned d = (v >> shift) & 0xf;
    if (d != 0 || started || shift == 0) {
      out += kDigits[d];
      started = true;
    }
  }
}

void append_quad(std::string& out, const std::uint8_t* b) {
  for (int k = 0; k < 4; ++k) {
    if (k) out += '.';
    out += std::to_string(b[k]);
  }
}

std::uint64_t mix(std::uint64_t x) {
  // The splitmix64 finaliser.
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  x ^= x >> 31;
  return x;
}

}  // namespace

std::optional<IpAddr> IpAddr::parse(std::string_view text) {
  if (text.find(':') == std::string_view::npos) {
    if (auto q = parse_v4(text)) return IpAddr::v4(*q);
    return std::nullopt;
  }
  if (auto b = parse_v6(text)) return IpAddr::v6(*b);
  return std::nullopt;
}

std::string IpAddr::to_string() const {
  std::string out;
  if (!v6_) {
    append_quad(out, bytes_.data());
    return out;
  }
  std::array<unsigned, 8> w{};
  for (std::size_t k = 0; k < 8; ++k) w[k] = (unsigned{bytes_[2 * k]} << 8) | bytes_[2 * k + 1];
  // RFC 5952 §5: an IPv4-mapped address keeps its dotted quad.
  if (w[0] == 0 && w[1] == 0 && w[2] == 0 && w[3] == 0 && w[4] == 0 && w[5] == 0xffff) {
    out = "::ffff:";
    append_quad(out, bytes_.data() + 12);
    return out;
  }
  // RFC 5952 §4.2: compress the longest run of two or more zero groups, the first on a tie.
  std::size_t best = 8, best_len = 1;
  for (std::size_t k = 0; k < 8;) {
    if (w[k] != 0) {
      ++k;
      continue;
    }
    std::size_t e = k;
    while (e < 8 && w[e] == 0) ++e;
    if (e - k > best_len) {
      best = k;
      best_len = e - k;
    }
    k = e;
  }
  for (std::size_t k = 0; k < 8; ++k) {
    if (k == best) {
      out += "::";
      k += best_len - 1;
      continue;
    }
    if (k > 0 && k != best + best_len) out += ':';
    append_hex(out, w[k]);
  }
  return out;
}

std::size_t IpAddr::hash() const noexcept {
  std::uint64_t lo, hi;
  std::memcpy(&lo, bytes_.data(), 8);
  std::memcpy(&hi, bytes_.data() + 8, 8);
  return static_cast<std::size_t>(mix(mix(lo ^ (v6_ ? 0x6a09e667f3bcc908ull : 0)) ^ hi));
}

std::ostream& operator<<(std::ostream& os, const Endpoint& e) {
  if (e.ip.is_v6()) return os << '[' << e.ip << "]:" << e.port;
  return os << e.ip << ':' << e.port;
}

std::ostream& operator<<(std::ostream& os, const Flow& f) {
  return os << f.local() << " -> " << f.remote();
}

std::string to_string(const Flow& f) {
  std::ostringstream os;
  os << f;
  return os.str();
}

std::size_t Flow::hash() const noexcept {
  // Every segment hashes its flow (the connection table is keyed by it), so one pass over the
  // 4-tuple: the two addresses' first 8 bytes side by side in one word (an IPv4 address is
  // all of its 4), mixed, then the ports, mixed; the upper halves of IPv6 addresses add a
  // round each.
  const auto word = [](const IpAddr& ip, std::size_t at) {
    std::uint64_t w;
    std::memcpy(&w, ip.raw().data() + at, 8);
    return w;
  };
  const std::uint64_t ports = (std::uint64_t{local_.port} << 16) | remote_.port;
  const std::uint64_t r0 = word(remote_.ip, 0);
  std::uint64_t x = mix(word(local_.ip, 0) ^ ((r0 << 32) | (r0 >> 32)) ^ (local_.ip.is_v6() ? 0x6a09e667f3bcc908ull : 0));
  if (local_.ip.is_v6() || remote_.ip.is_v6()) x = mix(mix(x ^ word(local_.ip, 8)) ^ word(remote_.ip, 8));
  return static_cast<std::size_t>(mix(x + ports));
}

}  // namespace utcp
