// CUBIC (RFC 9438 §4).
#include "core/cubic.hpp"

#include <algorithm>
#include <cmath>

namespace utcp::detail {

namespace {
double seconds(Duration d) {
  return std::chrono::duration<double>(d).count();
}
}  // namespace

double Cubic::w_cubic(double t, std::uint32_t smss) const {
  // §4.2 Figure 1: W_cubic(t) = C * (t - K)^3 + W_max, in segments.
  const double d = t - k;
  return (c * d * d * d) * smss + w_max;
}

void Cubic::start_epoch(const AckEvent& e) {
  // §4.2: the beginning of a congestion avoidance stage.
  in_epoch = true;
  epoch_start = e.now;
  cwnd_epoch = cwnd;
  w_est = cwnd;  // §4.3: W_est = cwnd_epoch
  growth = 0;
  if (after_rto || w_max <= cwnd_epoch) {
    // §4.8: the first stage after a timeout starts at the window it has (K = 0, W_max =
    // cwnd_epoch). The same when the window already exceeds W_max (slow start after a
    // timeout, HyStart++ leaving slow start without a loss): there is no plateau to approach.
    w_max = cwnd_epoch;
    k = 0;
    after_rto = false;
    return;
  }
  // §4.2 Figure 2: K = cubic_root((W_max - cwnd_epoch) / C), in segments.
  k = std::cbrt(static_cast<double>(w_max - cwnd_epoch) / e.smss / c);
}

void Cubic::on_ack(const AckEvent& e) {
  if (!e.cwnd_limited) return;  // RFC 7661 (RFC 9438 §4.6 needs it when ssthresh uses cwnd)
  if (cwnd < ssthresh) {
    const HyStart::Step s = hystart.on_ack(e, e.paced);
    cwnd += s.increase;
    if (s.enter_avoidance) ssthresh = cwnd;  // RFC 9406 §4.2: CSS done
    return;
  }
  if (!in_epoch) start_epoch(e);
  const double smss = e.smss;
  const double t = seconds(e.now - epoch_start);
  const double rtt = seconds(e.srtt.value_or(Duration{}));
  // §4.3 Reno-friendly estimate: W_est += alpha * segments_acked / cwnd (segments), alpha
  // becoming 1 once W_est has passed the window before the last reduction.
  const double a = w_est >= cwnd_prior ? 1.0 : alpha;
  w_est += a * smss * e.acked / cwnd;
  double exact = cwnd + growth;
  if (w_cubic(t, e.smss) < w_est) {
    // §4.3: the Reno-friendly region, cwnd = W_est.
    exact = std::max(exact, w_est);
  } else {
    // §4.4-4.5: concave and convex regions. target = W_cubic(t + RTT), within
    // [cwnd, 1.5 * cwnd]; cwnd grows by (target - cwnd) / cwnd per segment acknowledged.
    const double target = std::clamp(w_cubic(t + rtt, e.smss), exact, 1.5 * exact);
    exact += (target - exact) * e.acked / exact;
  }
  exact = std::min(exact, double(0x7fff'ffff));
  cwnd = static_cast<std::uint32_t>(exact);
  growth = exact - cwnd;
}

void Cubic::reduce(const LossEvent& e) {
  // §4.7 fast convergence: a flow that lost before reaching its previous W_max releases
  // bandwidth to newer flows.
  if (cwnd < w_max)
    w_max = static_cast<std::uint32_t>(cwnd * (1 + beta) / 2);
  else
    w_max = cwnd;
  cwnd_prior = cwnd;
  // §4.6: ssthresh = flight_size * beta_cubic, at least 2 segments.
  ssthresh = std::max(static_cast<std::uint32_t>(e.flight * beta), 2 * e.smss);
  in_epoch = false;
  growth = 0;
  hystart.stop();
}

void Cubic::on_congestion(const LossEvent& e) {
  reduce(e);
  cwnd = ssthresh;  // §4.6: window reduction
}

void Cubic::on_recovery_exit(const LossEvent& e) {
  // RFC 6582 §3.2 step 3 (full acknowledgment): deflate to ssthresh, or to what is in flight
  // plus one segment when less is.
  cwnd = std::min(ssthresh, std::max(e.flight, e.smss) + e.smss);
}

void Cubic::on_rto(const LossEvent& e) {
  // §4.8: ssthresh as for a congestion event, cwnd the loss window as Reno (RFC 5681 §3.1).
  reduce(e);
  cwnd = e.smss;
  after_rto = true;
}

void Cubic::on_idle_restart(std::uint32_t iw, Instant) {
  // RFC 5681 §4.1; the cubic function starts again from the restarted window.
  if (cwnd > iw) cwnd = iw;
  in_epoch = false;
}

}  // namespace utcp::detail
