// HyStart++ (RFC 9406 §4.2): rounds of eight RTT samples, the exit to Conservative Slow Start
// when the round's minimum RTT rises by RttThresh, CSS's quarter growth, its end after
// CSS_ROUNDS rounds, and the return to slow start when the RTT falls back.
#include <gtest/gtest.h>

#include "core/hystart.hpp"

namespace utcp::detail {
namespace {

using std::chrono::milliseconds;
using std::chrono::microseconds;
constexpr std::uint32_t S = 1000;

struct Rounds {
  HyStart h;
  std::uint32_t grown = 0;
  bool avoidance = false;

  // One round of `acks` ACKs of one segment, each with an RTT sample `rtt` (the first ACK
  // starts the round).
  void round(Duration rtt, int acks = 8, bool samples = true) {
    for (int i = 0; i < acks; ++i) {
      AckEvent e;
      e.acked = S;
      e.smss = S;
      e.round_start = i == 0;
      if (samples) e.rtt = rtt;
      const HyStart::Step s = h.on_ack(e, false);
      grown += s.increase;
      avoidance = avoidance || s.enter_avoidance;
    }
  }
};

TEST(CoreHyStart, SlowStartGrowsByWhatIsAcked) {
  Rounds r;
  r.round(milliseconds(100));
  r.round(milliseconds(100));
  EXPECT_EQ(r.grown, 16 * S);
  EXPECT_EQ(r.h.phase, HyStart::Phase::slow_start);
}

TEST(CoreHyStart, GrowthPerAckIsCappedAtEightSegmentsUnpacedOnly) {
  HyStart h;
  AckEvent e;
  e.acked = 20 * S;
  e.smss = S;
  EXPECT_EQ(h.on_ack(e, false).increase, 8 * S);  // L = 8 without pacing
  EXPECT_EQ(h.on_ack(e, true).increase, 20 * S);  // L = infinity when paced
}

TEST(CoreHyStart, RttRiseBelowThresholdStaysInSlowStart) {
  // lastRoundMinRTT 100 ms: RttThresh = max(4, min(100 / 8, 16)) = 12.5 ms.
  Rounds r;
  r.round(milliseconds(100));
  r.round(microseconds(112'400));
  EXPECT_EQ(r.h.phase, HyStart::Phase::slow_start);
}

TEST(CoreHyStart, RttRiseOfThresholdEntersConservativeSlowStart) {
  Rounds r;
  r.round(milliseconds(100));
  r.round(microseconds(112'500));
  EXPECT_EQ(r.h.phase, HyStart::Phase::css);
  EXPECT_EQ(r.h.css_baseline, microseconds(112'500));
}

TEST(CoreHyStart, ThresholdIsAtLeastFourMilliseconds) {
  // lastRoundMinRTT 8 ms: 8 / 8 = 1 ms, raised to MIN_RTT_THRESH = 4 ms.
  Rounds r;
  r.round(milliseconds(8));
  r.round(microseconds(11'900));
  EXPECT_EQ(r.h.phase, HyStart::Phase::slow_start);
  r.round(milliseconds(12));  // last round's minimum is now 11.9 ms: 12 < 11.9 + 4
  EXPECT_EQ(r.h.phase, HyStart::Phase::slow_start);
  r.round(milliseconds(16));  // 16 >= 12 + 4
  EXPECT_EQ(r.h.phase, HyStart::Phase::css);
}

TEST(CoreHyStart, ThresholdIsAtMostSixteenMilliseconds) {
  // lastRoundMinRTT 400 ms: 400 / 8 = 50 ms, capped at MAX_RTT_THRESH = 16 ms.
  Rounds r;
  r.round(milliseconds(400));
  r.round(milliseconds(416));
  EXPECT_EQ(r.h.phase, HyStart::Phase::css);
}

TEST(CoreHyStart, FewerThanEightSamplesDecideNothing) {
  Rounds r;
  r.round(milliseconds(100));
  r.round(milliseconds(200), 7);
  EXPECT_EQ(r.h.phase, HyStart::Phase::slow_start);
  r.round(milliseconds(200), 12, false);  // ACKs without samples count for nothing
  EXPECT_EQ(r.h.phase, HyStart::Phase::slow_start);
}

TEST(CoreHyStart, ConservativeSlowStartGrowsByAQuarterThenEndsAfterFiveRounds) {
  Rounds r;
  r.round(milliseconds(100));
  r.round(milliseconds(120));  // enters CSS at its eighth sample
  ASSERT_EQ(r.h.phase, HyStart::Phase::css);
  const std::uint32_t before = r.grown;
  r.round(milliseconds(120));  // CSS round 1
  EXPECT_EQ(r.grown - before, 8 * S / 4);
  for (int i = 0; i < 3; ++i) r.round(milliseconds(120));  // rounds 2-4
  EXPECT_FALSE(r.avoidance);
  EXPECT_EQ(r.h.phase, HyStart::Phase::css);
  r.round(milliseconds(120));  // the start of the fifth round ends CSS
  EXPECT_TRUE(r.avoidance);
  EXPECT_EQ(r.h.phase, HyStart::Phase::off);
}

TEST(CoreHyStart, RttFallingBelowBaselineResumesSlowStart) {
  Rounds r;
  r.round(milliseconds(100));
  r.round(milliseconds(120));
  ASSERT_EQ(r.h.phase, HyStart::Phase::css);
  r.round(milliseconds(119));
  EXPECT_EQ(r.h.phase, HyStart::Phase::slow_start);
  EXPECT_EQ(r.h.css_baseline, Duration::max());
  const std::uint32_t before = r.grown;
  r.round(milliseconds(119));
  EXPECT_EQ(r.grown - before, 8 * S);  // full slow-start growth again
}

TEST(CoreHyStart, StoppedIsPlainSlowStart) {
  Rounds r;
  r.h.stop();
  r.round(milliseconds(100));
  r.round(milliseconds(300));
  EXPECT_EQ(r.h.phase, HyStart::Phase::off);
  EXPECT_EQ(r.grown, 16 * S);
  EXPECT_FALSE(r.avoidance);
}

}  // namespace
}  // namespace utcp::detail
