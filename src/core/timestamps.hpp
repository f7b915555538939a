// TCP timestamps (RFC 7323 §3-5): the TSval clock, its per-connection offset, PAWS and RTT
// measurement from echoed values.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>

#include "utcp/ip.hpp"
#include "utcp/time.hpp"

namespace utcp::detail {

// RFC 7323 §5.4: a tick between 1 ms and 1 s; 1 ms, as Linux.
inline constexpr Duration kTsTick = std::chrono::milliseconds(1);
// RFC 7323 §5.5: TS.Recent is invalid after 24 days idle (the clock may have wrapped by half).
inline constexpr Duration kPawsIdle = std::chrono::hours(24 * 24);

// The raw timestamp clock: ticks of the caller's time, modulo 2^32. Never sent as is.
inline std::uint32_t ts_ticks(Instant now) {
  return static_cast<std::uint32_t>(static_cast<std::uint64_t>(now.time_since_epoch() / kTsTick));
}

// RFC 7323 §5.4 and §7.1: each connection's clock starts at a secret, per-4-tuple offset (a
// keyed hash under the ISN secret, as RFC 9293 §3.4.1 / RFC 6528 derive ISNs), so the
// host's uptime is not on the wire and one connection's values tell nothing about another's.
// The same 4-tuple gets the same offset: a new incarnation's TSvals still increase (RFC 6191).
std::uint32_t ts_offset(const std::array<std::uint8_t, 16>& isn_secret, const Flow& flow);

// The TSval a connection with `offset` sends at `now`.
inline std::uint32_t tsval(Instant now, std::uint32_t offset) {
  return ts_ticks(now) + offset;
}

// Serial comparison of 32-bit timestamps (RFC 7323 §5.2, the same as sequence numbers).
inline bool ts_before(std::uint32_t a, std::uint32_t b) {
  return static_cast<std::int32_t>(a - b) < 0;
}

// RFC 7323 §4.1 (RTTM): the round trip an echoed TSecr measures, when plausible: the echo is
// one of ours (not in the future) and less than 2^31 ticks old.
std::optional<Duration> ts_rtt(Instant now, std::uint32_t offset, std::uint32_t tsecr);

}  // namespace utcp::detail
