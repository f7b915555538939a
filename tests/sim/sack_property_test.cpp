// SACK loss recovery (issue 16) in the simulator: seeded random transfers with SACK and
// timestamps on both sides arrive intact (run_transfer checks every byte, the clean close and
// the scoreboard's invariants after every step), and reordering alone causes no spurious
// retransmissions once RACK's reordering window has adapted (RFC 8985 §6.2 step 4, DSACK).
#include <gtest/gtest.h>

#include <chrono>
#include <optional>

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

// RFC 8985 §6.2, RFC 3708, RFC 3522: 1 % of the data segments arrive 5 ms late (a quarter of
// the path's 20 ms one-way delay; nothing is lost), for several seeds. Before any reordering
// was seen RACK declares a loss once DupThresh segments are SACKed above a hole, so the first
// reordering costs a spurious retransmission (and a recovery episode). Its DSACK, or the
// timestamp the ACK ending the episode echoes, proves the episode spurious: it is undone
// (`Stats::recoveries_undone`) and RACK counts reordering as seen, its window grown by the
// DSACK. From the moment both happened on, not one segment is sent twice, while the link
// still reorders, and the data arrives intact.
TEST(SimSack, ReorderingWithoutLossCausesNoSpuriousRetransmissionsOnceAdapted) {
  const std::uint64_t seeds = env_number("UTCP_SIM_SEEDS").value_or(8);
  for (std::uint64_t seed = 11; seed < 11 + seeds; ++seed) {
    TransferSpec spec;
    spec.seed = seed;
    spec.client_bytes = 4 << 20;
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
    // The client's counters and the forward link's reorderings when RACK had adapted.
    std::optional<Stats> adapted;
    std::uint64_t reordered_then = 0;
    spec.observe = [&](const TransferView& v) {
      if (adapted) return;
      const Stats& s = stats(v.net.stack(v.client));
      if (s.recoveries_undone > 0 && s.dsacks_received > 0) {
        adapted = s;
        reordered_then = v.net.link(v.client, v.server)->stats().reordered;
      }
    };
    const TransferReport r = run_transfer(spec);
    ASSERT_TRUE(r.ok()) << "seed " << seed << ": " << *r.failure;
    ASSERT_TRUE(adapted) << "seed " << seed << ": no episode undone, no DSACK";
    const Stats& s = r.client_stats;
    EXPECT_GE(r.forward.reordered - reordered_then, 10u) << "seed " << seed << ": too few reorderings after adaptation";
    EXPECT_EQ(s.retransmits_fast - adapted->retransmits_fast, 0u)
        << "seed " << seed << ": spurious retransmissions after adaptation (" << adapted->retransmits_fast
        << " before it)";
    EXPECT_EQ(s.retransmits_rto, 0u) << "seed " << seed;
    EXPECT_EQ(s.tail_loss_probes - adapted->tail_loss_probes, 0u) << "seed " << seed;
    EXPECT_LE(adapted->retransmits_fast, 3u) << "seed " << seed << ": slow to adapt";
  }
}

}  // namespace
}  // namespace utcp::sim::test
