// BBR (issue 17) in the simulator: one flow over a 10 Mbit/s bottleneck with 10 ms each way
// (RTT 20 ms, BDP 25 kB = 17 packets) and a drop-tail queue of 1 BDP or 10 BDP, uniform
// random loss both ways, SACK and timestamps on both sides: BBR keeps its delivery rate
// within 20 % of the bottleneck at 3 % loss, and the queue short; two BBR flows share the
// bottleneck within 25 % of each other. Goodput and queue occupancy are in virtual time (the
// figures depend on the code alone); scripts/sim_bbr.sh prints the whole grid, with CUBIC
// beside it (docs/SIMULATION.md).
#include <gtest/gtest.h>

#include <chrono>

#include "sim_scenario.hpp"

namespace utcp::sim::test {
namespace {

using namespace std::chrono_literals;

constexpr double kBottleneck = 10e6;  // bit/s
constexpr std::size_t kBdpPackets = 17;

Config bbr_config() {
  Config c;
  c.congestion_control = CongestionControl::bbr;
  c.sack = true;
  c.timestamps = true;
  c.send_buffer = 1 << 20;
  c.recv_buffer = 1 << 20;
  return c;
}

LinkConfig bottleneck(std::size_t queue, double loss) {
  LinkConfig l;
  l.delay = 10ms;
  l.rate_bps = static_cast<std::uint64_t>(kBottleneck);
  l.queue_limit = queue;
  l.impair.loss = loss;
  return l;
}

TransferReport run_one(std::size_t queue, double loss, std::uint64_t seed) {
  TransferSpec spec;
  spec.seed = seed;
  spec.client_bytes = 8 << 20;
  set_both(spec, bbr_config());
  set_both(spec, bottleneck(queue, loss));
  return run_transfer(spec);
}

// draft-ietf-ccwg-bbr-03: random loss below BBRLossThresh's reach is not congestion. At 0-3 %
// loss the goodput (8 MiB, Startup included) stays at or above 80 % of the bottleneck, at 5 %
// above 75 %, and the queue's mean occupancy below half a BDP, with the 1-BDP queue and the
// 10-BDP one alike (CUBIC on the same paths: 4.2-4.4 Mbit/s at 3 %, and a mean queue of 137
// packets at 0 % with 10 BDP).
TEST(SimBbr, RandomLossKeepsTheRateNearTheBottleneckAndTheQueueShort) {
  for (const std::size_t queue : {kBdpPackets, 10 * kBdpPackets}) {
    for (const double loss : {0.0, 0.01, 0.02, 0.03, 0.05}) {
      const TransferReport r = run_one(queue, loss, 1);
      ASSERT_TRUE(r.ok()) << *r.failure;
      const double bps = r.goodput_bps() * 8;
      const double floor = loss <= 0.03 ? 0.8 : 0.75;
      EXPECT_GE(bps, floor * kBottleneck) << "queue " << queue << ", loss " << loss;
      EXPECT_LT(r.forward_mean_queue, kBdpPackets / 2.0) << "queue " << queue << ", loss " << loss;
    }
  }
}

// The figure on more seeds: 3 % random loss, 1-BDP queue, within 20 % of the
// bottleneck.
TEST(SimBbr, ThreePercentLossWithinTwentyPercentOfTheBottleneckOnSeveralSeeds) {
  for (std::uint64_t seed = 2; seed <= 4; ++seed) {
    const TransferReport r = run_one(kBdpPackets, 0.03, seed);
    ASSERT_TRUE(r.ok()) << *r.failure;
    EXPECT_GE(r.goodput_bps() * 8, 0.8 * kBottleneck) << "seed " << seed;
  }
}

// Two BBR flows started together over the same bottleneck: while both run (from 2 s on to the
// first one's last byte), the smaller share is at least 75 % of the larger, without loss and
// at 3 % random loss, with either queue; every byte of both arrives intact.
TEST(SimBbr, TwoFlowsShareTheBottleneckWithinTwentyFivePercent) {
  for (const std::size_t queue : {kBdpPackets, 10 * kBdpPackets}) {
    for (const double loss : {0.0, 0.03}) {
      SharedSpec spec;
      spec.seed = 1;
      spec.client_config = bbr_config();
      spec.server_config = bbr_config();
      spec.forward = bottleneck(queue, loss);
      spec.backward = bottleneck(queue, loss);
      spec.flows = {SharedFlow{CongestionControl::bbr, 8 << 20, {}}, SharedFlow{CongestionControl::bbr, 8 << 20, {}}};
      const SharedReport r = run_shared(spec);
      ASSERT_TRUE(r.ok()) << *r.failure;
      ASSERT_EQ(r.window_bps.size(), 2u);
      EXPECT_GE(r.share_ratio(), 0.75) << "queue " << queue << ", loss " << loss << ": " << r.window_bps[0] * 8
                                       << " vs " << r.window_bps[1] * 8 << " bit/s";
      // Together they use the link.
      EXPECT_GE((r.window_bps[0] + r.window_bps[1]) * 8, 0.8 * kBottleneck) << "queue " << queue << ", loss " << loss;
    }
  }
}

// BBR's undo of a spurious recovery (RFC 3708 / RFC 3522 proof, Bbr::on_spurious_recovery,
// docs/deviations.md "Spurious recovery undo") restores the rate end to end: 100 Mbit/s, 25 ms
// each way (BDP 312 kB), 4 MiB buffers, no loss, 5 % of the packets each way held back 10 ms.
// Before RACK has seen reordering each reordering is a spurious recovery episode, and its
// "losses" can lower what the undo resets (bw_lo and inflight_lo where a queue stands, which
// would stay until the next ProbeBW_REFILL, seconds on this path; Startup's full-bandwidth
// count). With the undo the 16 MiB arrive at 76.5-76.9 Mbit/s (seeds 1-3); with
// Congestion::undo doing nothing for BBR at 57.1-61.5 (this test fails then).
TEST(SimBbr, UndoingSpuriousRecoveriesKeepsTheRateUnderReordering) {
  for (std::uint64_t seed = 1; seed <= 2; ++seed) {
    TransferSpec spec;
    spec.seed = seed;
    spec.client_bytes = 16 << 20;
    Config c = bbr_config();
    c.send_buffer = 4 << 20;
    c.recv_buffer = 4 << 20;
    set_both(spec, c);
    LinkConfig l;
    l.delay = 25ms;
    l.rate_bps = 100'000'000;
    l.queue_limit = 2000;
    l.impair.reorder = 0.05;
    l.impair.reorder_delay = 10ms;
    set_both(spec, l);
    const TransferReport r = run_transfer(spec);
    ASSERT_TRUE(r.ok()) << "seed " << seed << ": " << *r.failure;
    EXPECT_GT(r.client_stats.recoveries_undone, 0u) << "seed " << seed;
    EXPECT_EQ(r.client_stats.retransmits_rto, 0u) << "seed " << seed;
    EXPECT_GE(r.goodput_bps() * 8, 70e6) << "seed " << seed;
  }
}

// The scenario itself: flows of different sizes and starts each get their bytes intact, and a
// flow alone on the link in the window has it all.
TEST(SimShared, FlowsOfDifferentStartsArriveIntactAndAreMeasuredWhileAllRun) {
  SharedSpec spec;
  spec.seed = 3;
  Config c;
  c.sack = true;
  spec.client_config = c;
  spec.server_config = c;
  spec.forward = bottleneck(10 * kBdpPackets, 0.01);
  spec.backward = bottleneck(10 * kBdpPackets, 0.01);
  spec.warmup = 1s;
  spec.flows = {SharedFlow{CongestionControl::cubic, 4 << 20, {}},
                SharedFlow{CongestionControl::bbr, 2 << 20, 1s}};
  const SharedReport r = run_shared(spec);
  ASSERT_TRUE(r.ok()) << *r.failure;
  EXPECT_GE(r.window_begin, 2s);
  EXPECT_LT(r.window_begin, 2s + 10ms);
  EXPECT_GT(r.window_end, r.window_begin);
  ASSERT_EQ(r.transfer_bps.size(), 2u);
  EXPECT_GT(r.window_bps[0], 0);
  EXPECT_GT(r.window_bps[1], 0);
  EXPECT_LE((r.window_bps[0] + r.window_bps[1]) * 8, kBottleneck * 1.001);
}

}  // namespace
}  // namespace utcp::sim::test
