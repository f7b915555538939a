// CUBIC (RFC 9438 §4): the reduction on a congestion event (beta_cubic, W_max, fast
// convergence), K, the concave and convex regions of W_cubic, the Reno-friendly region and
// its alpha, the timeout response, and RFC 7661's rule that a window not used does not grow.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "core/cubic.hpp"

namespace utcp::detail {
namespace {

using std::chrono::milliseconds;
constexpr std::uint32_t S = 1000;

struct Flow {
  Cubic cc;
  Instant now{};
  Duration rtt = milliseconds(100);

  // In congestion avoidance at `w` segments.
  explicit Flow(std::uint32_t w) {
    cc.init(w * S);
    cc.ssthresh = w * S;
    cc.hystart.stop();
  }
  // One round trip: a window's worth of one-segment ACKs, then the clock moves on by the RTT.
  void round(bool cwnd_limited = true) {
    const std::uint32_t acks = cc.cwnd / S;
    for (std::uint32_t i = 0; i < acks; ++i) {
      AckEvent e;
      e.now = now;
      e.acked = S;
      e.smss = S;
      e.srtt = rtt;
      e.cwnd_limited = cwnd_limited;
      cc.on_ack(e);
    }
    now += rtt;
  }
  void loss() { cc.on_congestion(LossEvent{now, cc.cwnd, S}); }
  double segments() const { return static_cast<double>(cc.cwnd) / S; }
};

TEST(CoreCubic, CongestionEventMultipliesByBetaAndRemembersWmax) {
  Flow f(100);
  f.loss();
  EXPECT_EQ(f.cc.w_max, 100 * S);
  EXPECT_EQ(f.cc.cwnd_prior, 100 * S);
  EXPECT_EQ(f.cc.ssthresh, 70 * S);  // §4.6: flight_size * 0.7
  EXPECT_EQ(f.cc.cwnd, 70 * S);
}

TEST(CoreCubic, SsthreshIsAtLeastTwoSegments) {
  Flow f(2);
  f.cc.on_congestion(LossEvent{f.now, 2 * S, S});
  EXPECT_EQ(f.cc.ssthresh, 2 * S);
}

TEST(CoreCubic, KIsTheTimeToReachWmaxAgain) {
  Flow f(100);
  f.loss();
  f.round();
  // §4.2 Figure 2: K = cbrt((W_max - cwnd_epoch) / C) = cbrt(30 / 0.4).
  EXPECT_NEAR(f.cc.k, std::cbrt(75.0), 1e-9);
  EXPECT_EQ(f.cc.cwnd_epoch, 70 * S);
}

TEST(CoreCubic, FastConvergenceLowersWmaxWhenLossComesBeforeIt) {
  Flow f(100);
  f.loss();
  f.cc.cwnd = 80 * S;  // lost again at 80 segments, short of W_max = 100
  f.loss();
  EXPECT_EQ(f.cc.w_max, 68 * S);  // §4.7: 80 * (1 + 0.7) / 2
  EXPECT_EQ(f.cc.ssthresh, 56 * S);
}

TEST(CoreCubic, ConcaveUpToWmaxThenConvex) {
  Flow f(100);
  f.rtt = milliseconds(200);
  f.loss();
  // RTT 200 ms: W_cubic is above the Reno estimate all along, so cwnd follows W_cubic(t+RTT)
  // one round behind.
  std::vector<double> w;  // cwnd at the end of each round
  const int rounds = 40;  // 8 s, K = 4.22 s
  for (int i = 0; i < rounds; ++i) {
    f.round();
    w.push_back(f.segments());
  }
  const double k = std::cbrt(75.0);
  for (int i = 2; i < rounds; ++i) {  // the first rounds lag most, the curve being steepest
    const double t = 0.2 * (i + 1);  // the end of round i, from the epoch
    // Within two segments of the cubic function (it is sampled per ACK, one round late).
    EXPECT_NEAR(w[i], f.cc.w_cubic(t, S) / S, 2.5) << "round " << i;
  }
  // Concave: growth per round shrinks approaching K; convex: it increases after.
  const int at_k = static_cast<int>(k / 0.2);
  EXPECT_GT(w[5] - w[4], w[at_k - 5] - w[at_k - 6]);
  EXPECT_LT(w[at_k - 1], 100.0);
  EXPECT_LT(w[at_k + 5] - w[at_k + 4], w[rounds - 1] - w[rounds - 2]);
  EXPECT_GT(w[rounds - 1], 100.0 + 0.4 * std::pow(7.0 - k, 3) - 1);
}

TEST(CoreCubic, RenoFriendlyRegionOnShortRoundTrips) {
  Flow f(100);
  f.rtt = milliseconds(1);
  f.loss();
  // RTT 1 ms: W_cubic barely moves in a second while Reno would add a segment a round.
  // §4.3: alpha = 3 (1 - 0.7) / (1 + 0.7) = 0.529 per round until W_est reaches
  // cwnd_prior (100), 1 after.
  double before = f.segments();
  for (int i = 0; i < 10; ++i) f.round();
  EXPECT_NEAR(f.segments() - before, 10 * Cubic::alpha, 1.0);
  while (f.cc.w_est < f.cc.cwnd_prior) f.round();
  before = f.segments();
  for (int i = 0; i < 20; ++i) f.round();
  EXPECT_NEAR(f.segments() - before, 20.0, 1.5);
  const double t = std::chrono::duration<double>(f.now - f.cc.epoch_start).count();
  EXPECT_GT(f.segments(), f.cc.w_cubic(t, S) / S);  // above the cubic curve
}

TEST(CoreCubic, TimeoutLeavesOneSegmentAndRestartsWithoutPlateau) {
  Flow f(100);
  f.cc.on_rto(LossEvent{f.now, 100 * S, S});
  EXPECT_EQ(f.cc.cwnd, S);
  EXPECT_EQ(f.cc.ssthresh, 70 * S);
  // Slow start (HyStart++ is over) back to ssthresh, then §4.8: K = 0, W_max = cwnd_epoch.
  while (f.cc.cwnd < f.cc.ssthresh) f.round();
  f.round();
  EXPECT_EQ(f.cc.k, 0);
  EXPECT_EQ(f.cc.w_max, f.cc.cwnd_epoch);
  EXPECT_GE(f.cc.cwnd_epoch, 70 * S);
}

TEST(CoreCubic, NoGrowthWhenNotCwndLimited) {
  Flow f(100);
  f.loss();
  const std::uint32_t w = f.cc.cwnd;
  for (int i = 0; i < 50; ++i) f.round(false);
  EXPECT_EQ(f.cc.cwnd, w);
  Cubic ss;
  ss.init(10 * S);
  AckEvent e;
  e.acked = S;
  e.smss = S;
  e.cwnd_limited = false;
  ss.on_ack(e);
  EXPECT_EQ(ss.cwnd, 10 * S);
}

TEST(CoreCubic, HyStartEndsSlowStartIntoAvoidanceWithoutLoss) {
  Cubic cc;
  cc.init(10 * S);
  // Round 1 at 100 ms, round 2 at 120 ms (CSS), five CSS rounds: then ssthresh = cwnd.
  Instant now{};
  for (int round = 0; round < 8 && cc.cwnd < cc.ssthresh; ++round) {
    for (int i = 0; i < 8; ++i) {
      AckEvent e;
      e.now = now;
      e.acked = S;
      e.smss = S;
      e.round_start = i == 0;
      e.rtt = milliseconds(round == 0 ? 100 : 120);
      e.srtt = e.rtt;
      cc.on_ack(e);
    }
    now += milliseconds(120);
  }
  EXPECT_EQ(cc.hystart.phase, HyStart::Phase::off);
  // 10 + 8 (round 1) + 8 (round 2, CSS entered at its last ACK) + 4 x 2 (CSS rounds 1-4);
  // the rest of the sixth round's ACKs are congestion avoidance's, a fraction of a segment.
  EXPECT_EQ(cc.ssthresh, 34 * S);
  EXPECT_GE(cc.cwnd, 34 * S);
  EXPECT_LT(cc.cwnd, 35 * S);
}

}  // namespace
}  // namespace utcp::detail
