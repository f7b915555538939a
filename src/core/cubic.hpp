// CUBIC (RFC 9438): after a congestion event the window follows a cubic function of the
// time since it, concave up to the window where the loss happened (W_max) and convex beyond
// it, never slower than Reno would be (the Reno-friendly region). Slow start is HyStart++.
#pragma once

#include <cstdint>

#include "core/congestion_events.hpp"
#include "core/hystart.hpp"

namespace utcp::detail {

struct Cubic {
  // RFC 9438 §5: C = 0.4 (segments per second cubed), beta_cubic = 0.7.
  static constexpr double c = 0.4;
  static constexpr double beta = 0.7;
  // §4.3: the additive increase that makes CUBIC as aggressive as Reno on average.
  static constexpr double alpha = 3 * (1 - beta) / (1 + beta);

  std::uint32_t cwnd = 0;
  std::uint32_t ssthresh = 0x7fff'ffff;  // RFC 5681 §3.1: arbitrarily high
  std::uint32_t w_max = 0;               // §4.6: the window before the last reduction, bytes
  std::uint32_t cwnd_prior = 0;          // §4.6: cwnd when the last congestion event happened
  std::uint32_t cwnd_epoch = 0;          // §4.2: cwnd when this avoidance stage began
  bool in_epoch = false;                 // an avoidance stage has begun (t_epoch is set)
  bool after_rto = false;                // §4.8: the next stage starts with K = 0
  Instant epoch_start{};                 // §4.2 t_epoch
  double k = 0;                          // §4.2 K, seconds
  double w_est = 0;                      // §4.3 W_est, bytes
  double growth = 0;                     // bytes of growth earned but not yet whole
  HyStart hystart;

  void init(std::uint32_t iw) { cwnd = iw; }
  void on_ack(const AckEvent& e);
  void on_congestion(const LossEvent& e);
  void on_recovery_exit(const LossEvent& e);
  void on_rto(const LossEvent& e);
  void on_idle_restart(std::uint32_t iw, Instant now);
  std::uint64_t pacing_rate(Duration srtt) const { return paced_rate(cwnd, ssthresh, srtt); }

  // §4.2 W_cubic(t) in bytes, t in seconds since the epoch.
  double w_cubic(double t, std::uint32_t smss) const;

 private:
  void start_epoch(const AckEvent& e);
  void reduce(const LossEvent& e);
};

}  // namespace utcp::detail
