// SYN cookies (RFC 4987 §3.6), built on SipHash-2-4.
#include "core/syncookie.hpp"

#include <algorithm>
#include <cstddef>
#include <span>
#include <string_view>

#include "core/siphash.hpp"

namespace utcp::detail {

namespace {

constexpr std::uint32_t kIndexBits = 3;
constexpr std::uint32_t kIndexMask = (1u << kIndexBits) - 1;
static_assert(kCookieMss.size() == std::size_t{1} << kIndexBits);

std::uint32_t counter(Instant now) {
  // Truncated to 32 bits: the counter only needs to tell the current step from the last.
  return static_cast<std::uint32_t>(now.time_since_epoch() / kCookiePeriod);
}

// Marks the timestamp format's hash input (the ISN-only format has no such byte).
constexpr std::byte kTsFormat{0x54};
constexpr std::uint8_t kNoWscale = 15;

// SipHash-2-4 over: family, local address and port, remote address and port (addresses as 16
// raw bytes, ports big-endian), the peer's ISN, the counter and the MSS index or option bits
// (little-endian), and for the timestamp format a format byte; its low 32 bits. On the stack:
// nothing is allocated.
std::uint32_t keyed_cookie_hash(const std::array<std::uint8_t, 16>& key, const Flow& flow, Seq peer_isn,
                                std::uint32_t count, std::uint8_t index, bool ts_format) {
  std::array<std::byte, 1 + 2 * (16 + 2) + 4 + 4 + 1 + 1> buf{};
  std::size_t n = 0;
  buf[n++] = std::byte{flow.local().ip.is_v6() ? std::uint8_t{6} : std::uint8_t{4}};
  for (const Endpoint* e : {&flow.local(), &flow.remote()}) {
    for (std::uint8_t b : e->ip.raw()) buf[n++] = std::byte{b};
    buf[n++] = std::byte(e->port >> 8);
    buf[n++] = std::byte(e->port & 0xff);
  }
  for (std::uint32_t v : {peer_isn.value(), count}) {
    for (int i = 0; i < 4; ++i) buf[n++] = std::byte((v >> (8 * i)) & 0xff);
  }
  buf[n++] = std::byte{index};
  if (ts_format) buf[n++] = kTsFormat;
  return static_cast<std::uint32_t>(siphash24(key, std::span(buf.data(), n)));
}

// The ISN format's top 29 bits.
std::uint32_t cookie_hash(const std::array<std::uint8_t, 16>& key, const Flow& flow, Seq peer_isn,
                          std::uint32_t count, std::uint8_t index) {
  return keyed_cookie_hash(key, flow, peer_isn, count, index, false) & ~kIndexMask;
}

std::uint8_t option_bits(const CookieOptions& o) {
  const std::uint8_t ws = o.wscale ? std::min<std::uint8_t>(*o.wscale, 14) : kNoWscale;
  return static_cast<std::uint8_t>(ws | (o.sack_permitted ? 0x10 : 0) | (cookie_mss_index(o.mss) << 5));
}

CookieOptions from_bits(std::uint8_t bits) {
  CookieOptions o;
  o.mss = kCookieMss[bits >> 5];
  if ((bits & 0x0f) != kNoWscale) o.wscale = static_cast<std::uint8_t>(bits & 0x0f);
  o.sack_permitted = (bits & 0x10) != 0;
  return o;
}

}  // namespace

std::uint8_t cookie_mss_index(std::uint16_t peer_mss) {
  std::uint8_t i = kCookieMss.size() - 1;
  while (i > 0 && kCookieMss[i] > peer_mss) --i;
  return i;
}

std::array<std::uint8_t, 16> cookie_key(const std::array<std::uint8_t, 16>& isn_secret) {
  // Two PRF outputs of the ISN secret under distinct labels make the 128-bit cookie key.
  std::array<std::byte, 16> label{};
  constexpr std::string_view text = "utcp SYN cookie";
  for (std::size_t i = 0; i < text.size(); ++i) label[i] = static_cast<std::byte>(text[i]);
  std::array<std::uint8_t, 16> key{};
  for (std::uint8_t half = 0; half < 2; ++half) {
    label[15] = std::byte{half};
    const std::uint64_t h = siphash24(isn_secret, label);
    for (int i = 0; i < 8; ++i) key[half * 8 + i] = static_cast<std::uint8_t>(h >> (8 * i));
  }
  return key;
}

Seq make_cookie(const std::array<std::uint8_t, 16>& key, const Flow& flow, Seq peer_isn,
                std::uint16_t peer_mss, Instant now) {
  const std::uint8_t index = cookie_mss_index(peer_mss);
  return Seq(cookie_hash(key, flow, peer_isn, counter(now), index) | index);
}

std::optional<std::uint16_t> check_cookie(const std::array<std::uint8_t, 16>& key, const Flow& flow,
                                          Seq peer_isn, Seq cookie, Instant now) {
  const auto index = static_cast<std::uint8_t>(cookie.value() & kIndexMask);
  const std::uint32_t hash = cookie.value() & ~kIndexMask;
  const std::uint32_t now_count = counter(now);
  // The current step and the one before it (a cookie sent just before a step boundary).
  for (std::uint32_t count : {now_count, now_count - 1}) {
    if (cookie_hash(key, flow, peer_isn, count, index) == hash) return kCookieMss[index];
  }
  return std::nullopt;
}

TsCookie make_ts_cookie(const std::array<std::uint8_t, 16>& key, const Flow& flow, Seq peer_isn,
                        const CookieOptions& peer, std::uint32_t clock, Instant now) {
  const std::uint8_t bits = option_bits(peer);
  std::uint32_t ts = (clock & ~0xffu) | bits;
  if (static_cast<std::int32_t>(ts - clock) > 0) ts -= 0x100;  // never ahead of the clock
  return {Seq(keyed_cookie_hash(key, flow, peer_isn, counter(now), bits, true)), ts};
}

std::optional<CookieOptions> check_ts_cookie(const std::array<std::uint8_t, 16>& key, const Flow& flow,
                                             Seq peer_isn, Seq cookie, std::uint32_t tsecr, Instant now) {
  const auto bits = static_cast<std::uint8_t>(tsecr & 0xff);
  const std::uint32_t now_count = counter(now);
  for (std::uint32_t count : {now_count, now_count - 1}) {
    if (keyed_cookie_hash(key, flow, peer_isn, count, bits, true) == cookie.value()) return from_bits(bits);
  }
  return std::nullopt;
}

}  // namespace utcp::detail
