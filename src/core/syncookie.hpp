// SYN cookies (RFC 4987 §3.6): when a listening port's backlog is full, the SYN-ACK carries
// everything the handshake needs, and no state is kept until the final ACK returns it.
//
// Without timestamps (the peer offered none) the ISN is the cookie: bits 31..3 are the top 29
// bits of a keyed hash, bits 2..0 an index into kCookieMss. The hash is SipHash-2-4 (keyed by
// cookie_key(Config::isn_secret), not the ISN key itself) of the 4-tuple, the peer's ISN, a
// time counter (64 s steps) and the MSS index; a cookie validates under the current counter or
// the one before it, so it lives between 64 and 128 s. Such a connection runs without window
// scaling and without SACK (nothing could remember the peer's offer).
//
// With timestamps (as Linux does) the peer's options ride in the low 8 bits of the SYN-ACK's
// TSval, which the final ACK echoes in its TSecr: bits 3..0 the peer's window shift (15: none
// offered), bit 4 SACK-permitted, bits 7..5 the MSS index. The ISN is then a full 32-bit hash
// of the same inputs with those 8 bits (and a format byte), so a forged TSecr fails it too.
// The TSval is the connection's clock with its low 8 bits replaced, one step of 256 back when
// that would be ahead of the clock, so the connection's later TSvals never go backwards.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>

#include "utcp/ip.hpp"
#include "utcp/seq.hpp"
#include "utcp/time.hpp"

namespace utcp::detail {

// MSS values a cookie can carry; the SYN's MSS is rounded down to the largest entry at or
// below it (64 is the floor the stack clamps any peer MSS to). 536 and 1220 are the IPv4 and
// IPv6 defaults (RFC 9293 §3.7.1), 1440 and 1460 Ethernet, 1400 and 1452 tunnels and PPPoE,
// 8960 a 9000-byte jumbo frame.
inline constexpr std::array<std::uint16_t, 8> kCookieMss = {64, 536, 1220, 1400, 1440, 1452, 1460, 8960};
inline constexpr Duration kCookiePeriod = std::chrono::seconds(64);

// Index of the largest kCookieMss entry <= peer_mss (0 when peer_mss is below all of them).
std::uint8_t cookie_mss_index(std::uint16_t peer_mss);

// The SipHash key for cookies, derived from the ISN secret (a PRF of it, so the two keys are
// unrelated to an observer).
std::array<std::uint8_t, 16> cookie_key(const std::array<std::uint8_t, 16>& isn_secret);

// The ISN of a cookie SYN-ACK answering a SYN with sequence number `peer_isn` and MSS
// `peer_mss` on `flow` (as the listener sees it: local = us) at time `now`.
Seq make_cookie(const std::array<std::uint8_t, 16>& key, const Flow& flow, Seq peer_isn,
                std::uint16_t peer_mss, Instant now);

// When `cookie` (the final ACK's ACK - 1) is one this stack issued on `flow` for `peer_isn`
// (the ACK's SEQ - 1) within the current or previous counter: the MSS it carries.
std::optional<std::uint16_t> check_cookie(const std::array<std::uint8_t, 16>& key, const Flow& flow,
                                          Seq peer_isn, Seq cookie, Instant now);

// What the peer's SYN offered, as far as a timestamp cookie keeps it.
struct CookieOptions {
  std::uint16_t mss = 536;             // an entry of kCookieMss (rounded down)
  std::optional<std::uint8_t> wscale;  // the peer's shift (<= 14), when it offered scaling
  bool sack_permitted = false;
  friend bool operator==(const CookieOptions&, const CookieOptions&) = default;
};
struct TsCookie {
  Seq isn;              // the SYN-ACK's sequence number
  std::uint32_t tsval;  // the SYN-ACK's TSval
};
// The cookie SYN-ACK for a SYN that offered timestamps: `peer` as the SYN offered it (MSS
// rounded down, shift clamped to 14), `clock` the TSval the connection would send now.
TsCookie make_ts_cookie(const std::array<std::uint8_t, 16>& key, const Flow& flow, Seq peer_isn,
                        const CookieOptions& peer, std::uint32_t clock, Instant now);
// The final ACK returned `cookie` (its ACK - 1) and echoed `tsecr`: the options, when valid.
std::optional<CookieOptions> check_ts_cookie(const std::array<std::uint8_t, 16>& key, const Flow& flow,
                                             Seq peer_isn, Seq cookie, std::uint32_t tsecr, Instant now);

}  // namespace utcp::detail
