// What the ACK processing and the timers tell a congestion control algorithm
// (src/core/congestion.hpp describes the interface).
#pragma once

#include <cstdint>
#include <optional>

#include "utcp/seq.hpp"
#include "utcp/time.hpp"

namespace utcp::detail {

// A cumulative ACK of new data.
struct AckEvent {
  Instant now{};
  Seq ack;                       // SEG.ACK
  Seq snd_nxt;                   // the next sequence number to send: where this round ends
  std::uint32_t acked = 0;       // bytes newly acknowledged
  std::uint32_t flight = 0;      // bytes in flight before this ACK
  std::uint32_t smss = 536;
  std::optional<Duration> rtt;   // the RTT sample this ACK gave, if any
  std::optional<Duration> srtt;  // the smoothed RTT after it
  bool paced = false;            // the flow paces its sends
  bool sack = false;             // the connection negotiated SACK (RFC 6675 recovery)
  // Bytes still in the network after this ACK by the SACK scoreboard (RFC 6675 pipe), when
  // there is one; else flight - acked is.
  std::optional<std::uint32_t> pipe;
  // Filled by Congestion, not the caller:
  bool round_start = false;   // the first ACK past the end of the previous round
  bool cwnd_limited = true;   // RFC 7661: the flight of the last round reached half of cwnd
};

// A congestion event: loss detected, recovery ended, or a retransmission timeout.
struct LossEvent {
  Instant now{};
  std::uint32_t flight = 0;  // bytes in flight (before the loss for on_congestion and on_rto)
  std::uint32_t smss = 536;
};

// The pacing rate of a window-based algorithm as Linux sets it: cwnd per smoothed RTT,
// times 2 in slow start (cwnd below half of ssthresh) and 1.2 after, so that pacing never
// holds back what the window allows (tcp_update_pacing_rate).
inline std::uint64_t paced_rate(std::uint32_t cwnd, std::uint32_t ssthresh, Duration srtt) {
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(srtt).count();
  if (ns <= 0) return 0;
  const std::uint64_t percent = cwnd < ssthresh / 2 ? 200 : 120;
  return std::uint64_t{cwnd} * percent * 10'000'000u / static_cast<std::uint64_t>(ns);
}

}  // namespace utcp::detail
