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
  Duration srtt, rttvar;
  if (!has_sample_) {
    // §2.2: SRTT <- R, RTTVAR <- R/2.
    srtt = r;
    rttvar = r / 2;
    store48_nonnegative(kMinRtt, r);
    has_sample_ = true;
  } else {
    // §2.3, in this order (RTTVAR uses the SRTT before its update):
    // RTTVAR <- (1 - beta) * RTTVAR + beta * |SRTT - R'|, SRTT <- (1 - alpha) * SRTT + alpha * R',
    // with alpha = 1/(8 E) and beta = 1/(4 E) (RFC 7323 Appendix G; E = 1 is RFC 6298's).
    const std::int64_t e = std::max<std::uint32_t>(expected_samples, 1);
    srtt = load_srtt();
    const Duration err = srtt > r ? srtt - r : r - srtt;
    rttvar = (load48<kRttvar>() * (4 * e - 1) + err) / (4 * e);
    srtt = (srtt * (8 * e - 1) + r) / (8 * e);
    if (r < load48<kMinRtt>()) store48_nonnegative(kMinRtt, r);
  }
  store_srtt(srtt);
  store48_nonnegative(kRttvar, rttvar);  // r >= 0: RTTVAR >= 0
  // §2.2/§2.3: RTO <- SRTT + max(G, K * RTTVAR), which rto() computes; §5.7: a new sample
  // ends the backoff.
  backoffs_ = 0;
}

void RttEstimator::backoff() {
  // §5.5. Counting past the cap is harmless: rto() saturates at max.
  if (backoffs_ < 64) ++backoffs_;
}

Duration RttEstimator::rto(Duration min, Duration max) const {
  max = std::max(min, max);
  // §2.2/§2.3's SRTT + max(G, K * RTTVAR) (as stored: SRTT saturating at 2^47 - 1 ns, RTTVAR at
  // 2^48 - 1 ns).
  // Before a sample RTTVAR is 0 and the SRTT bytes hold the base RTO less G: the same sum.
  const Duration base = load_srtt() + std::max(kGranularity, kK * load48<kRttvar>());
  Duration d = std::clamp(base, min, max);
  for (unsigned i = 0; i < backoffs_ && d < max; ++i) d = std::min(d * 2, max);
  return d;
}

void RttEstimator::reset_to(Duration d) {
  if (!has_sample_) store_srtt(d - kGranularity);  // rto() adds max(G, K * 0)
  backoffs_ = 0;
}

}  // namespace utcp::detail
