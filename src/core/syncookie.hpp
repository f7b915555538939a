// SYN cookies (RFC 4987 §3.6): when a listening port's backlog is full, the SYN-ACK's ISN
// carries everything the handshake needs, and no state is kept until the final ACK returns
// it. No timestamps are used, so the peer's window scale cannot be remembered: a cookie
// connection runs without window scaling (RFC 7323), shift 0 both ways.
//
// Cookie layout (32 bits): bits 31..3 are the top 29 bits of a keyed hash, bits 2..0 an index
// into kCookieMss. The hash is SipHash-2-4 (keyed by cookie_key(Config::isn_secret), not the
// ISN key itself) of the 4-tuple, the peer's ISN, a time counter (64 s steps) and the MSS
// index; a cookie validates under the current counter or the one before it, so it lives
// between 64 and 128 s.
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

}  // namespace utcp::detail
