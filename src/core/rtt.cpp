// RFC 6298, "Computing TCP's Retransmission Timer".
#include "core/rtt.hpp"

#include <algorithm>

namespace utcp::detail {

namespace {
constexpr Duration kGranularity = std::chrono::milliseconds(1);  // G, §2
constexpr int kK = 4;                                            // K, §2
}  // namespace

void RttEstimator::sample(Duration r, std::uint32_t expected_samples) {
  if (r < Duration::zero()) r = Duration::zero();
  if (!has_sample_) {
    // §2.2: SRTT <- R, RTTVAR <- R/2.
    srtt_ = r;
    rttvar_ = r / 2;
    min_rtt_ = r;
    has_sample_ = true;
  } else {
    // §2.3, in this order (RTTVAR uses the SRTT before its update):
    // RTTVAR <- (1 - beta) * RTTVAR + beta * |SRTT - R'|, SRTT <- (1 - alpha) * SRTT + alpha * R',
    // with alpha = 1/(8 E) and beta = 1/(4 E) (RFC 7323 Appendix G; E = 1 is RFC 6298's).
    const std::int64_t e = std::max<std::uint32_t>(expected_samples, 1);
    const Duration err = srtt_ > r ? srtt_ - r : r - srtt_;
    rttvar_ = (rttvar_ * (4 * e - 1) + err) / (4 * e);
    srtt_ = (srtt_ * (8 * e - 1) + r) / (8 * e);
    min_rtt_ = std::min(min_rtt_, r);
  }
  // §2.2/§2.3: RTO <- SRTT + max(G, K * RTTVAR); §5.7: a new sample ends the backoff.
  base_ = srtt_ + std::max(kGranularity, kK * rttvar_);
  backoffs_ = 0;
}

void RttEstimator::backoff() {
  // §5.5. Counting past the cap is harmless: rto() saturates at max.
  if (backoffs_ < 64) ++backoffs_;
}

Duration RttEstimator::rto(Duration min, Duration max) const {
  max = std::max(min, max);
  Duration d = std::clamp(base_, min, max);
  for (unsigned i = 0; i < backoffs_ && d < max; ++i) d = std::min(d * 2, max);
  return d;
}

void RttEstimator::reset_to(Duration d) {
  base_ = d;
  backoffs_ = 0;
}

}  // namespace utcp::detail
