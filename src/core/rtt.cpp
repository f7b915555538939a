// RFC 6298, "Computing TCP's Retransmission Timer".
#include "core/rtt.hpp"

#include <algorithm>

namespace utcp::detail {

namespace {
constexpr Duration kGranularity = std::chrono::milliseconds(1);  // G, §2
constexpr int kK = 4;                                            // K, §2
}  // namespace

RttEstimator::RttEstimator(Duration initial, Duration min, Duration max)
    : min_(min), max_(std::max(min, max)), base_(initial) {}

void RttEstimator::sample(Duration r) {
  if (r < Duration::zero()) r = Duration::zero();
  if (!has_sample_) {
    // §2.2: SRTT <- R, RTTVAR <- R/2.
    srtt_ = r;
    rttvar_ = r / 2;
    has_sample_ = true;
  } else {
    // §2.3, in this order (RTTVAR uses the SRTT before its update):
    // RTTVAR <- (1 - beta) * RTTVAR + beta * |SRTT - R'|, SRTT <- (1 - alpha) * SRTT + alpha * R'.
    const Duration err = srtt_ > r ? srtt_ - r : r - srtt_;
    rttvar_ = (3 * rttvar_ + err) / 4;
    srtt_ = (7 * srtt_ + r) / 8;
  }
  // §2.2/§2.3: RTO <- SRTT + max(G, K * RTTVAR); §5.7: a new sample ends the backoff.
  base_ = srtt_ + std::max(kGranularity, kK * rttvar_);
  backoffs_ = 0;
}

void RttEstimator::backoff() {
  // §5.5. Counting past the cap is harmless: rto() saturates at max.
  if (backoffs_ < 64) ++backoffs_;
}

Duration RttEstimator::rto() const {
  Duration d = std::clamp(base_, min_, max_);
  for (unsigned i = 0; i < backoffs_ && d < max_; ++i) d = std::min(d * 2, max_);
  return d;
}

void RttEstimator::reset_to(Duration d) {
  base_ = d;
  backoffs_ = 0;
}

}  // namespace utcp::detail
