// RttEstimator: RFC 6298 with numbers worked out by hand.
#include <gtest/gtest.h>

#include "core/rtt.hpp"

namespace utcp::detail {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(CoreRtt, BeforeAnySampleTheRtoIsOneSecond) {
  RttEstimator e;  // §2.1
  EXPECT_EQ(e.rto(), seconds(1));
  EXPECT_EQ(e.srtt(), std::nullopt);
  EXPECT_EQ(e.rttvar(), Duration(0));
  EXPECT_EQ(e.backoffs(), 0u);
}

TEST(CoreRtt, FirstAndLaterSamples) {
  RttEstimator e;
  // §2.2: SRTT = 100, RTTVAR = 50, RTO = 100 + max(G, 4 * 50) = 300 ms.
  e.sample(milliseconds(100));
  EXPECT_EQ(e.srtt(), milliseconds(100));
  EXPECT_EQ(e.rttvar(), milliseconds(50));
  EXPECT_EQ(e.rto(), milliseconds(300));
  // §2.3 with R' = 200: RTTVAR = 3/4 * 50 + 1/4 * |100 - 200| = 62.5,
  // SRTT = 7/8 * 100 + 1/8 * 200 = 112.5, RTO = 112.5 + 4 * 62.5 = 362.5 ms.
  e.sample(milliseconds(200));
  EXPECT_EQ(e.rttvar(), microseconds(62'500));
  EXPECT_EQ(e.srtt(), microseconds(112'500));
  EXPECT_EQ(e.rto(), microseconds(362'500));
  // R' = 100: RTTVAR = 3/4 * 62.5 + 1/4 * 12.5 = 50, SRTT = 7/8 * 112.5 + 1/8 * 100 = 110.9375,
  // RTO = 110.9375 + 200 = 310.9375 ms.
  e.sample(milliseconds(100));
  EXPECT_EQ(e.rttvar(), milliseconds(50));
  EXPECT_EQ(e.srtt(), microseconds(110'937) + Duration(500));
  EXPECT_EQ(e.rto(), microseconds(310'937) + Duration(500));
}

TEST(CoreRtt, ClockGranularityBoundsTheVarianceTerm) {
  RttEstimator e;  // rto() with no minimum below, to see G
  for (int i = 0; i < 20; ++i) e.sample(milliseconds(10));
  // SRTT stays 10 ms; RTTVAR decays to 5 ms * (3/4)^19 < 0.25 ms, so max(G, 4 * RTTVAR) = G.
  EXPECT_EQ(e.srtt(), milliseconds(10));
  EXPECT_LT(e.rttvar(), microseconds(250));
  EXPECT_EQ(e.rto(Duration(0), seconds(60)), milliseconds(11));
}

TEST(CoreRtt, RtoIsClampedToMinAndMax) {
  RttEstimator e;             // min 200 ms (§2.4 allows below 1 s), max 60 s (§2.5)
  e.sample(milliseconds(1));  // 1 + max(1, 2) = 3 ms -> 200 ms
  EXPECT_EQ(e.rto(), milliseconds(200));
  RttEstimator f;
  f.sample(seconds(100));  // 100 + 200 s -> 60 s
  EXPECT_EQ(f.rto(), seconds(60));
}

TEST(CoreRtt, BackoffDoublesUpToTheMaximumAndASampleEndsIt) {
  RttEstimator e;
  e.backoff();  // §5.5
  EXPECT_EQ(e.rto(), seconds(2));
  e.backoff();
  EXPECT_EQ(e.rto(), seconds(4));
  for (int i = 0; i < 4; ++i) e.backoff();  // 64 s -> capped
  EXPECT_EQ(e.rto(), seconds(60));
  EXPECT_EQ(e.backoffs(), 6u);
  for (int i = 0; i < 100; ++i) e.backoff();
  EXPECT_EQ(e.rto(), seconds(60));
  e.sample(milliseconds(100));
  EXPECT_EQ(e.backoffs(), 0u);
  EXPECT_EQ(e.rto(), milliseconds(300));
}

TEST(CoreRtt, ResetToThreeSecondsAfterARetransmittedSyn) {
  RttEstimator e;
  e.backoff();
  e.reset_to(seconds(3));  // §5.7
  EXPECT_EQ(e.rto(), seconds(3));
  EXPECT_EQ(e.backoffs(), 0u);
  EXPECT_EQ(e.srtt(), std::nullopt);
  e.backoff();
  EXPECT_EQ(e.rto(), seconds(6));
}

TEST(CoreRtt, NegativeSampleCountsAsZero) {
  RttEstimator e;
  e.sample(milliseconds(-5));
  EXPECT_EQ(e.srtt(), Duration(0));
  EXPECT_EQ(e.rto(), milliseconds(200));
}

// RFC 7323 Appendix G: with E samples expected per round trip, alpha = 1/(8E), beta = 1/(4E).
TEST(CoreRtt, PerAckSamplesAreWeightedByTheExpectedSamplesPerRtt) {
  RttEstimator e;
  e.sample(milliseconds(100));  // SRTT 100, RTTVAR 50
  e.sample(milliseconds(180), 4);
  // RTTVAR = 50 * 15/16 + 80/16 = 51.875; SRTT = 100 * 31/32 + 180/32 = 102.5.
  EXPECT_EQ(e.rttvar(), microseconds(51875));
  EXPECT_EQ(e.srtt(), microseconds(102500));
  // Four samples with E = 4 move SRTT about as far as one with E = 1 (12.5 % of the error).
  RttEstimator a, b;
  a.sample(milliseconds(100));
  b.sample(milliseconds(100));
  a.sample(milliseconds(200));
  for (int i = 0; i < 4; ++i) b.sample(milliseconds(200), 4);
  using Ms = std::chrono::duration<double, std::milli>;
  EXPECT_NEAR(Ms(*a.srtt()).count(), Ms(*b.srtt()).count(), 1.0);
}

TEST(CoreRtt, MinimumOverTheLifetime) {
  RttEstimator e;
  EXPECT_EQ(e.min_rtt(), std::nullopt);
  e.sample_min(milliseconds(5));
  EXPECT_EQ(e.min_rtt(), std::nullopt) << "no estimate yet";
  e.sample(milliseconds(40));
  e.sample(milliseconds(30));
  e.sample(milliseconds(50));
  EXPECT_EQ(e.min_rtt(), milliseconds(30));
  e.sample_min(milliseconds(25));
  EXPECT_EQ(e.min_rtt(), milliseconds(25));
  // SRTT: (40 * 7 + 30) / 8 = 38.75, (38.75 * 7 + 50) / 8 = 40.15625 ms.
  EXPECT_EQ(*e.srtt(), Duration(40'156'250)) << "sample_min leaves SRTT alone";
}

// The estimator keeps RTTVAR and the minimum in 48 bits of nanoseconds (issue 15's Tcb size):
// exact to the nanosecond up to about 78 hours, and a larger value is kept as that maximum,
// never wrapped to a small one. SRTT (the base RTO less G before a sample) in 48 signed bits:
// exact from -2^47 to 2^47 - 1 ns (about 39 hours either way), saturating beyond.
TEST(CoreRtt, ValuesAreExactToTheNanosecondAndSaturateAt48Bits) {
  RttEstimator e;
  e.sample(Duration(123'456'789'012));  // 123 s and some nanoseconds
  EXPECT_EQ(e.srtt(), Duration(123'456'789'012));
  EXPECT_EQ(e.min_rtt(), Duration(123'456'789'012));
  EXPECT_EQ(e.rttvar(), Duration(61'728'394'506));
  EXPECT_EQ(e.rto(milliseconds(200), std::chrono::hours(1)), Duration(123'456'789'012 + 4 * 61'728'394'506));
  const Duration top((std::int64_t{1} << 48) - 1);
  const Duration top_signed((std::int64_t{1} << 47) - 1);  // SRTT's range, about 39 h
  RttEstimator f;
  f.sample(std::chrono::hours(100));  // beyond both ranges
  EXPECT_EQ(f.srtt(), top_signed) << "saturated, not wrapped";
  EXPECT_EQ(f.min_rtt(), top);
  EXPECT_EQ(f.rttvar(), std::chrono::hours(50)) << "within the range";
  f.sample(top_signed);
  EXPECT_EQ(f.rttvar(), std::chrono::minutes(37 * 60 + 30)) << "3/4 of 50 h, 0 difference";
  EXPECT_EQ(f.srtt(), top_signed);
  f.sample(milliseconds(10));
  EXPECT_EQ(f.min_rtt(), milliseconds(10));
  RttEstimator g;
  g.sample(std::chrono::hours(1000));
  EXPECT_EQ(g.rttvar(), top) << "500 h saturated, not wrapped";
  // The base RTO is computed from the stored SRTT and RTTVAR (not kept): top_signed + 4 x top,
  // within a max of 10,000 h.
  EXPECT_EQ(g.rto(Duration(0), std::chrono::hours(10'000)), top_signed + 4 * top);
  // Before a sample the base is stored (reset_to); a negative one is clamped by rto().
  RttEstimator h;
  h.reset_to(Duration(-5));
  EXPECT_EQ(h.rto(Duration(0), std::chrono::hours(1)), Duration(0)) << "a negative base is clamped by rto()";
  h.reset_to(std::chrono::microseconds(500));
  EXPECT_EQ(h.rto(Duration(0), std::chrono::hours(1)), std::chrono::microseconds(500))
      << "a base below G: SRTT's bytes hold it less G, negative, to the nanosecond";
  h.reset_to(std::chrono::seconds(3));
  EXPECT_EQ(h.rto(Duration(0), std::chrono::hours(1)), std::chrono::seconds(3));
  // After a sample reset_to only ends the backoff.
  h.sample(milliseconds(100));
  h.backoff();
  EXPECT_EQ(h.rto(Duration(0), std::chrono::hours(1)), milliseconds(600));
  h.reset_to(std::chrono::seconds(3));
  EXPECT_EQ(h.rto(Duration(0), std::chrono::hours(1)), milliseconds(300));
}

}  // namespace
}  // namespace utcp::detail
