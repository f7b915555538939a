// HyStart++ (RFC 9406 §4.2).
#include "core/hystart.hpp"

#include <algorithm>

namespace utcp::detail {

HyStart::Step HyStart::on_ack(const AckEvent& e, bool paced) {
  // RFC 9406 §4.2: cwnd grows by min(N, L*SMSS) per ACK, N the bytes acknowledged.
  const std::uint32_t grow = paced ? e.acked : std::min(e.acked, l_unpaced * e.smss);
  Step s;
  if (phase == Phase::off) {
    s.increase = grow;
    return s;
  }
  if (e.round_start) {
    // At the start of each round: lastRoundMinRTT = currentRoundMinRTT, and a new round.
    last_round_min = current_round_min;
    current_round_min = Duration::max();
    samples = 0;
    if (phase == Phase::css && ++rounds_in_css >= css_rounds) {
      // CSS_ROUNDS rounds of CSS without the RTT falling back: congestion avoidance.
      phase = Phase::off;
      s.enter_avoidance = true;
      s.increase = 0;
      return s;
    }
  }
  if (e.rtt) {
    current_round_min = std::min(current_round_min, *e.rtt);
    if (samples < n_rtt_sample) ++samples;
  }
  const bool enough = samples >= n_rtt_sample && current_round_min != Duration::max();
  if (phase == Phase::slow_start) {
    s.increase = grow;
    if (enough && last_round_min != Duration::max()) {
      // RttThresh = max(MIN_RTT_THRESH, min(lastRoundMinRTT / MIN_RTT_DIVISOR, MAX_RTT_THRESH)).
      const Duration thresh =
          std::max(min_rtt_thresh, std::min(last_round_min / min_rtt_divisor, max_rtt_thresh));
      if (current_round_min >= last_round_min + thresh) {
        css_baseline = current_round_min;
        phase = Phase::css;
        rounds_in_css = 0;
      }
    }
    return s;
  }
  // Conservative Slow Start: a quarter of slow start's growth.
  s.increase = grow / css_growth_divisor;
  if (enough && current_round_min < css_baseline) {
    // The RTT came back down: the increase was spurious, resume slow start.
    css_baseline = Duration::max();
    phase = Phase::slow_start;
  }
  return s;
}

}  // namespace utcp::detail
