// The retransmission timer's estimator, RFC 6298.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

#include "utcp/time.hpp"

namespace utcp::detail {

struct RttEstimator {
  // RFC 6298 §2.1: RTO 1 s before any sample. The bounds are not kept here but passed to
  // rto() (the stack's Config holds them, not every connection).
  explicit RttEstimator(Duration initial = std::chrono::seconds(1)) : base_(initial) {}

  // §2.2 (first sample) and §2.3 (later ones), alpha 1/8, beta 1/4, K = 4, clock granularity
  // G = 1 ms. A new sample ends any backoff (§5.7 note: the backed-off RTO is kept until then).
  // RFC 7323 Appendix G: with a sample on every ACK rather than one per round trip, alpha and
  // beta are divided by the samples expected per round trip, `expected_samples` =
  // ceil(FlightSize / (2 * SMSS)), so the estimate moves as fast as with one sample per RTT.
  void sample(Duration r, std::uint32_t expected_samples = 1);
  // §5.5: double the RTO on each expiry (rto() caps it at max).
  void backoff();
  // The current RTO: the base value doubled once per backoff, clamped to [min, max] (max is
  // raised to min when below it). §2.4: at least 1 s is RECOMMENDED but many stacks use
  // 200 ms; §2.5: a maximum of at least 60 s.
  Duration rto(Duration min = std::chrono::milliseconds(200), Duration max = std::chrono::seconds(60)) const;
  // Sets the base RTO, e.g. §5.7: back to 3 s when the SYN was retransmitted and no sample
  // was taken yet. Clears the backoff.
  void reset_to(Duration d);

  std::optional<Duration> srtt() const { return has_sample_ ? std::optional<Duration>(srtt_) : std::nullopt; }
  // The smallest sample so far (RACK.min_RTT, RFC 8985 §5.3: over the connection's lifetime).
  std::optional<Duration> min_rtt() const {
    return has_sample_ ? std::optional<Duration>(min_rtt_) : std::nullopt;
  }
  // A sample that only feeds the minimum (RACK's from SACKed segments).
  void sample_min(Duration r) {
    if (has_sample_ && r >= Duration::zero() && r < min_rtt_) min_rtt_ = r;
  }
  Duration rttvar() const { return rttvar_; }
  unsigned backoffs() const { return backoffs_; }

  friend bool operator==(const RttEstimator&, const RttEstimator&) = default;

 private:
  Duration srtt_{0}, rttvar_{0}, min_rtt_{0};
  Duration base_;  // the RTO before backoff
  std::uint8_t backoffs_ = 0;  // at most 64
  bool has_sample_ = false;
};

}  // namespace utcp::detail
