// The explorer (sim/explore.hpp): the scenarios explore to their bounds without a violation on
// today's core, the bounds and reductions count as they should, and a replay reaches the same
// end as the search.
#include <gtest/gtest.h>

#include "explore.hpp"

namespace utcp::sim {
namespace {

ExploreSpec small(ExploreScenario sc, std::uint32_t loss, std::uint32_t dup, std::uint32_t reorder,
                  std::uint32_t depth) {
  ExploreSpec spec;
  spec.scenario = sc;
  spec.bounds.max_loss = loss;
  spec.bounds.max_dup = dup;
  spec.bounds.max_reorder = reorder;
  spec.bounds.depth = depth;
  return spec;
}

std::string describe(const ExploreReport& r) {
  if (!r.violation) return "no violation";
  std::string s = r.violation->property + ": " + r.violation->message + " after";
  for (const Choice& c : r.violation->choices) s += " [" + to_string(c) + "]";
  return s;
}

TEST(Explore, ScenarioNamesRoundTrip) {
  for (auto sc : {ExploreScenario::handshake, ExploreScenario::transfer, ExploreScenario::close,
                  ExploreScenario::simultaneous_close, ExploreScenario::abort})
    EXPECT_EQ(parse_explore_scenario(to_string(sc)), sc);
  EXPECT_FALSE(parse_explore_scenario("handshakes"));
}

TEST(Explore, HandshakeWithoutFaultsIsOnePath) {
  // SYN, SYN-ACK, ACK delivered in order, and the server's window update (its SYN-ACK could
  // offer only 65535 unscaled): nothing else is enabled without faults or timers.
  ExploreSpec spec = small(ExploreScenario::handshake, 0, 0, 0, 60);
  spec.bounds.max_timers = 0;
  const ExploreReport r = explore(spec);
  ASSERT_FALSE(r.violation) << describe(r);
  EXPECT_EQ(r.explored, 4u);
  EXPECT_EQ(r.distinct, 5u);
  EXPECT_EQ(r.max_depth, 4u);
}

TEST(Explore, HandshakeWithLossesCompletes) {
  const ExploreReport r = explore(small(ExploreScenario::handshake, 2, 1, 1, 60));
  ASSERT_FALSE(r.violation) << describe(r);
  EXPECT_FALSE(r.stopped);
  EXPECT_GT(r.distinct, 50u);
  EXPECT_GT(r.revisits, 0u);  // the visited set merged some paths
}

TEST(Explore, OneSegmentTransferCompletes) {
  ExploreSpec spec = small(ExploreScenario::transfer, 1, 1, 1, 40);
  spec.client_bytes = 100;
  const ExploreReport r = explore(spec);
  ASSERT_FALSE(r.violation) << describe(r);
  EXPECT_GT(r.distinct, 50u);
}

TEST(Explore, CloseCompletes) {
  ExploreSpec spec = small(ExploreScenario::close, 1, 1, 0, 30);
  spec.bounds.max_timers = 4;
  const ExploreReport r = explore(spec);
  ASSERT_FALSE(r.violation) << describe(r);
}

TEST(Explore, SimultaneousCloseCompletes) {
  ExploreSpec spec = small(ExploreScenario::simultaneous_close, 1, 0, 1, 30);
  spec.bounds.max_timers = 4;
  const ExploreReport r = explore(spec);
  ASSERT_FALSE(r.violation) << describe(r);
}

TEST(Explore, AbortCompletes) {
  ExploreSpec spec = small(ExploreScenario::abort, 1, 1, 0, 40);
  spec.client_bytes = 10;
  const ExploreReport r = explore(spec);
  ASSERT_FALSE(r.violation) << describe(r);
}

TEST(Explore, AbortBeforeTheServerKnowsCompletes) {
  // The handshake's last ACK lost, the client's reset reaches the server in SYN-RECEIVED: the
  // connection ends before the server's application ever had it, which RFC 9293 allows.
  const std::vector<Choice> path{{Choice::Kind::deliver, 0, 0}, {Choice::Kind::deliver, 1, 0},
                                 {Choice::Kind::drop, 0, 0}, {Choice::Kind::deliver, 0, 0}};
  const ExploreSpec spec = small(ExploreScenario::abort, 1, 0, 0, 20);
  const ExploreReplay r = replay(spec, path);
  EXPECT_TRUE(r.applied_all);
  EXPECT_FALSE(r.failure) << *r.failure;
  const ExploreReport all = explore(spec);
  ASSERT_FALSE(all.violation) << describe(all);
}

TEST(Explore, ReductionsKeepTheVerdictAndCutTheWork) {
  ExploreSpec full = small(ExploreScenario::handshake, 1, 1, 0, 10);
  full.bounds.max_timers = 2;
  full.merge_states = false;
  full.partial_order = false;
  ExploreSpec reduced = full;
  reduced.merge_states = true;
  reduced.partial_order = true;
  const ExploreReport a = explore(full), b = explore(reduced);
  ASSERT_FALSE(a.violation) << describe(a);
  ASSERT_FALSE(b.violation) << describe(b);
  EXPECT_LT(b.explored, a.explored);
  EXPECT_GT(b.sleep_pruned + b.revisits, 0u);
}

TEST(Explore, LivenessCatchesAWorkloadThatCannotComplete) {
  // The server refuses every connection (max_connections 0): the handshake cannot complete,
  // which the search reports, and the replay of its choices reaches the same end.
  ExploreSpec spec = small(ExploreScenario::handshake, 0, 0, 0, 10);
  spec.server_config.max_connections = 0;  // the server refuses every connection
  const ExploreReport r = explore(spec);
  ASSERT_TRUE(r.violation);
  const ExploreReplay again = replay(spec, r.violation->choices);
  EXPECT_TRUE(again.failure || !again.applied_all) << describe(r);
}

TEST(Explore, ReplayFollowsTheChoices) {
  ExploreSpec spec = small(ExploreScenario::handshake, 1, 0, 0, 20);
  const std::vector<Choice> path{{Choice::Kind::drop, 0, 0}, {Choice::Kind::timer, 0, 0},
                                 {Choice::Kind::deliver, 0, 0}, {Choice::Kind::deliver, 1, 0},
                                 {Choice::Kind::deliver, 0, 0}, {Choice::Kind::deliver, 1, 0}};
  const ExploreReplay r = replay(spec, path);
  EXPECT_TRUE(r.applied_all);
  EXPECT_FALSE(r.failure) << *r.failure;
  std::size_t sent = 0, timers = 0;
  for (const TraceEntry& e : r.trace) {
    sent += e.kind == TraceEntry::Kind::send;
    timers += e.kind == TraceEntry::Kind::timer;
  }
  EXPECT_EQ(sent, 5u);  // SYN, its retransmission, SYN-ACK, ACK, window update
  EXPECT_EQ(timers, 1u);
  EXPECT_EQ(r.trace.back().kind, TraceEntry::Kind::deliver);
}

// The planted bugs (Config::TestFaults): the explorer finds each, and the replay of its choices
// reaches the same violation.
TEST(Explore, FindsTheTimerNotRestartedAfterAPartialAck) {
  ExploreSpec spec = small(ExploreScenario::transfer, 1, 0, 0, 30);
  Config cfg;
  cfg.mtu = 576;        // MSS 536: 600 bytes are two segments
  cfg.nodelay = true;   // both in flight at once
  spec.client_config = spec.server_config = cfg;
  spec.client_bytes = 600;
  EXPECT_FALSE(explore(spec).violation);  // the correct stack recovers from any one loss
  spec.client_config.test_faults.partial_ack_stops_rto = true;
  const ExploreReport r = explore(spec);
  ASSERT_TRUE(r.violation);
  // The core's own invariant sees it first: data in flight without a retransmission timer.
  EXPECT_EQ(r.violation->property, "invariant") << describe(r);
  const ExploreReplay again = replay(spec, r.violation->choices);
  ASSERT_TRUE(again.failure);
  EXPECT_EQ(*again.failure, r.violation->property + ": " + r.violation->message);
}

TEST(Explore, FindsAFinAcceptedOutOfOrder) {
  ExploreSpec spec = small(ExploreScenario::close, 0, 0, 1, 20);
  spec.bounds.max_timers = 2;
  spec.client_bytes = 100;
  EXPECT_FALSE(explore(spec).violation);
  spec.server_config.test_faults.accept_fin_out_of_order = true;
  const ExploreReport r = explore(spec);
  ASSERT_TRUE(r.violation);
  const ExploreReplay again = replay(spec, r.violation->choices);
  ASSERT_TRUE(again.failure) << describe(r);
  EXPECT_EQ(*again.failure, r.violation->property + ": " + r.violation->message);
  // The shortest: the SYN, SYN-ACK, ACK and the FIN delivered past the data.
  EXPECT_LE(r.violation->choices.size(), 5u) << describe(r);
}

TEST(Explore, MaxStatesStops) {
  ExploreSpec spec = small(ExploreScenario::handshake, 2, 1, 1, 60);
  spec.max_states = 10;
  const ExploreReport r = explore(spec);
  EXPECT_TRUE(r.stopped);
  EXPECT_LE(r.explored, 11u);
}

}  // namespace
}  // namespace utcp::sim
