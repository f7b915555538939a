// SACK loss recovery (issue 16) in the simulator: seeded random transfers with SACK and
// timestamps on both sides arrive intact (run_transfer checks every byte, the clean close and
// the scoreboard's invariants after every step), and reordering alone causes no spurious
// retransmissions once RACK's reordering window has adapted (RFC 8985 §6.2 step 4, DSACK).
#include <gtest/gtest.h>

#include <chrono>

#include "property_util.hpp"

namespace utcp::sim::test {
namespace {

using namespace std::chrono_literals;

void with_sack(TransferSpec& spec) {
  for (Config* c : {&spec.client_config, &spec.server_config}) {
    c->sack = true;
    c->timestamps = true;
  }
}

// RFC 2018, RFC 6675, RFC 8985, RFC 6937: whatever the path (loss, bursts, duplication,
// reordering, corruption, from random_spec), the delivery is intact.
TEST(SimSack, RandomLossyTransfersWithSackDeliverIntact) {
  const std::uint64_t seeds = env_number("UTCP_SIM_SEEDS").value_or(40);
  for (std::uint64_t seed = 1; seed <= seeds; ++seed) {
    TransferSpec spec = random_spec(1000 + seed, 1 << 20);
    with_sack(spec);
    const TransferReport r = run_transfer(spec);
    ASSERT_TRUE(r.ok()) << "seed " << 1000 + seed << ": " << *r.failure << "\n" << describe(spec);
  }
}

// Uniform loss with SACK: every hole is repaired without a timeout on most runs, and the data
// arrives intact.
TEST(SimSack, ThreePercentLossIsRepairedBySackRecovery) {
  TransferSpec spec;
  spec.seed = 7;
  spec.client_bytes = 2 << 20;
  Config cfg;
  set_both(spec, cfg);
  with_sack(spec);
  LinkConfig link;
  link.delay = 20ms;
  link.rate_bps = 10'000'000;
  link.queue_limit = 64;
  link.impair.loss = 0.03;
  set_both(spec, link);
  const TransferReport r = run_transfer(spec);
  ASSERT_TRUE(r.ok()) << *r.failure;
  EXPECT_GT(r.client_stats.retransmits_fast, 0u);
  EXPECT_LT(r.client_stats.retransmits_rto, r.client_stats.retransmits_fast / 4 + 1)
      << "timeouts should be rare with SACK, RACK and TLP";
}

// RFC 8985 §6.2: 1 % of the data segments arrive 5 ms late (a quarter of the path's 20 ms
// one-way delay), nothing is lost. The first reorderings may cost spurious retransmissions;
// once DSACKs have grown the reordering window, there are none: the second half of a long
// transfer sees no more retransmissions than a handful.
TEST(SimSack, ReorderingWithoutLossCausesNoSpuriousRetransmissionsOnceAdapted) {
  const auto run = [](std::uint64_t bytes) {
    TransferSpec spec;
    spec.seed = 11;
    spec.client_bytes = bytes;
    Config cfg;
    set_both(spec, cfg);
    with_sack(spec);
    LinkConfig link;
    link.delay = 20ms;
    link.rate_bps = 10'000'000;
    link.queue_limit = 1000;
    set_both(spec, link);
    spec.forward.impair.reorder = 0.01;
    spec.forward.impair.reorder_delay = 5ms;
    const TransferReport r = run_transfer(spec);
    EXPECT_TRUE(r.ok()) << *r.failure;
    EXPECT_EQ(r.client_stats.retransmits_rto, 0u);
    return r.client_stats.retransmits_fast;
  };
  const std::uint64_t first = run(4 << 20);
  const std::uint64_t both = run(8 << 20);
  EXPECT_LE(both - first, 2u) << "retransmissions in the first 4 MiB " << first << ", in all 8 MiB " << both;
}

}  // namespace
}  // namespace utcp::sim::test
