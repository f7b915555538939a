// HyStart++ (RFC 9406): slow start that leaves early when the round trip time starts to grow
// (a queue is building), for a few rounds of Conservative Slow Start before congestion
// avoidance, and goes back to slow start when that increase was a false alarm.
#pragma once

#include <cstdint>

#include "core/congestion_events.hpp"

namespace utcp::detail {

struct HyStart {
  // RFC 9406 §4.3 constants.
  static constexpr Duration min_rtt_thresh = std::chrono::milliseconds(4);
  static constexpr Duration max_rtt_thresh = std::chrono::milliseconds(16);
  static constexpr int min_rtt_divisor = 8;
  static constexpr std::uint32_t n_rtt_sample = 8;
  static constexpr std::uint32_t css_growth_divisor = 4;
  static constexpr std::uint32_t css_rounds = 5;
  static constexpr std::uint32_t l_unpaced = 8;  // segments per ACK; unlimited when paced

  enum class Phase : std::uint8_t { slow_start, css, off };

  Phase phase = Phase::slow_start;
  std::uint8_t rounds_in_css = 0;
  std::uint8_t samples = 0;  // RTT samples this round, counted up to n_rtt_sample
  Duration last_round_min = Duration::max();
  Duration current_round_min = Duration::max();
  Duration css_baseline = Duration::max();

  struct Step {
    std::uint32_t increase = 0;  // bytes to add to cwnd
    bool enter_avoidance = false;  // CSS is over: ssthresh = cwnd
  };
  // One ACK in slow start (cwnd < ssthresh). Off, it is plain slow start.
  Step on_ack(const AckEvent& e, bool paced);
  // A loss or a timeout ends HyStart++ for the connection (RFC 9406 §4.2, §4.3: only the
  // initial slow start uses it).
  void stop() { phase = Phase::off; }
};

}  // namespace utcp::detail
