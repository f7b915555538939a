// The explorer (sim/explore.hpp): the scenarios explore to their bounds without a violation on
// today's core, the bounds and reductions count as they should, and a replay reaches the same
// end as the search.
#include <gtest/gtest.h>

#include <unistd.h>

#include <sstream>
#include <string>

#include "explore.hpp"
#include "pcap.hpp"

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

// Data both ways: the client closes before the server's bytes arrive and still reads them
// (its close is a shutdown of the write side until it has read the end of stream).
TEST(Explore, CloseWithDataBothWaysCompletes) {
  for (auto sc : {ExploreScenario::close, ExploreScenario::simultaneous_close}) {
    ExploreSpec spec = small(sc, 1, 0, 0, 30);
    spec.bounds.max_timers = 3;
    spec.client_bytes = 100;
    spec.server_bytes = 50;
    const ExploreReport r = explore(spec);
    EXPECT_FALSE(r.violation) << to_string(sc) << ": " << describe(r);
    EXPECT_GT(r.distinct, 100u);
  }
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
ExploreSpec partial_ack_spec() {
  ExploreSpec spec = small(ExploreScenario::transfer, 1, 0, 0, 30);
  Config cfg;
  cfg.mtu = 576;        // MSS 536: 600 bytes are two segments
  cfg.nodelay = true;   // both in flight at once
  spec.client_config = spec.server_config = cfg;
  spec.client_bytes = 600;
  return spec;
}

ExploreSpec fin_spec() {
  ExploreSpec spec = small(ExploreScenario::close, 0, 0, 1, 20);
  spec.bounds.max_timers = 2;
  spec.client_bytes = 100;
  return spec;
}

TEST(Explore, FindsTheTimerNotRestartedAfterAPartialAck) {
  ExploreSpec spec = partial_ack_spec();
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
  ExploreSpec spec = fin_spec();
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

// The violation reported is a shortest one: a plain tree search (no visited set, no sleep
// sets, no liveness runs: every path, each choice its own) finds none one choice shorter than
// the whole sequence (the search's choices and the well-behaved run's), and one of its length.
TEST(Explore, ThePlantedBugsViolationsAreShortest) {
  for (int which = 0; which < 2; ++which) {
    ExploreSpec spec = which == 0 ? partial_ack_spec() : fin_spec();
    if (which == 0)
      spec.client_config.test_faults.partial_ack_stops_rto = true;
    else
      spec.server_config.test_faults.accept_fin_out_of_order = true;
    const ExploreReport r = explore(spec);
    ASSERT_TRUE(r.violation);
    const std::size_t n = r.violation->choices.size();
    ASSERT_GT(n, 1u);
    ExploreSpec tree = spec;
    tree.merge_states = false;
    tree.partial_order = false;
    tree.check_liveness = false;
    tree.shorten = false;
    tree.bounds.depth = static_cast<std::uint32_t>(n - 1);
    const ExploreReport shorter = explore(tree);
    EXPECT_FALSE(shorter.violation) << "a violation in " << n - 1 << " choices: " << describe(shorter);
    tree.bounds.depth = static_cast<std::uint32_t>(n);
    EXPECT_TRUE(explore(tree).violation) << "none in " << n << " choices";
  }
}

// Reproducers (make_repro): the script is from the faulty side, plants its fault, ends at the
// line where the faulty stack departs from a correct one (what it expects there is checked
// here as text; tests/sim/explore_repro_test.sh runs the scripts), and the segments are the
// run's, which a pcap holds.
std::size_t sends(const ExploreSpec& spec, const std::vector<Choice>& choices) {
  std::size_t n = 0;
  for (const TraceEntry& e : replay(spec, choices).trace) n += e.kind == TraceEntry::Kind::send;
  return n;
}

std::string line_at(const std::string& text, int n) {
  std::istringstream in(text);
  std::string line;
  for (int i = 0; i < n; ++i)
    if (!std::getline(in, line)) return {};
  return line;
}

TEST(Explore, ReproOfThePartialAckExpectsTheRetransmission) {
  ExploreSpec spec = partial_ack_spec();
  spec.client_config.test_faults.partial_ack_stops_rto = true;
  const ExploreReport r = explore(spec);
  ASSERT_TRUE(r.violation);
  const ExploreRepro rep = make_repro(spec, r.violation->choices);
  EXPECT_EQ(rep.side, 0);  // the client has the fault
  EXPECT_TRUE(rep.diverges) << rep.note << "\n" << rep.script;
  EXPECT_NE(rep.script.find("\n--test_fault=partial_ack_stops_rto\n"), std::string::npos) << rep.script;
  EXPECT_NE(rep.script.find("\n--mtu=576\n"), std::string::npos) << rep.script;
  EXPECT_NE(rep.script.find("TCP_NODELAY"), std::string::npos) << rep.script;
  // The last line: an outbound segment (the retransmission) at the RTO (200 ms after the
  // partial ACK at 0: RTT samples are 0 here, so the RTO is its minimum).
  const std::string last = line_at(rep.script, rep.failing_line);
  EXPECT_EQ(last.rfind("0.200000 > ", 0), 0u) << last << "\n" << rep.script;
  EXPECT_EQ(rep.segments.size(), sends(spec, r.violation->choices));
}

TEST(Explore, ReproOfTheOutOfOrderFinExpectsTheAckOfTheGap) {
  ExploreSpec spec = fin_spec();
  spec.server_config.test_faults.accept_fin_out_of_order = true;
  const ExploreReport r = explore(spec);
  ASSERT_TRUE(r.violation);
  const ExploreRepro rep = make_repro(spec, r.violation->choices);
  EXPECT_EQ(rep.side, 1);
  ASSERT_TRUE(rep.diverges) << rep.note << "\n" << rep.script;
  EXPECT_NE(rep.script.find("\n--test_fault=accept_fin_out_of_order\n"), std::string::npos) << rep.script;
  // The FIN went in before the failing line; the line is the server's ACK, which still names
  // the first byte of the missing data (RCV.NXT did not move past the gap).
  const std::string last = line_at(rep.script, rep.failing_line);
  EXPECT_NE(last.find(" > . 1:1(0) ack "), std::string::npos) << last << "\n" << rep.script;
  EXPECT_NE(line_at(rep.script, rep.failing_line - 1).find(" < F"), std::string::npos) << rep.script;
  EXPECT_EQ(rep.segments.size(), sends(spec, r.violation->choices));
}

TEST(Explore, ReproOfTheCorrectSideRecordsTheRun) {
  // The side without the fault, chosen by hand: the script is the run as that stack made it.
  ExploreSpec spec = fin_spec();
  spec.server_config.test_faults.accept_fin_out_of_order = true;
  const ExploreReport r = explore(spec);
  ASSERT_TRUE(r.violation);
  const ExploreRepro rep = make_repro(spec, r.violation->choices, 0);
  EXPECT_EQ(rep.side, 0);
  EXPECT_FALSE(rep.diverges);
  EXPECT_EQ(rep.script.find("--test_fault"), std::string::npos);
  EXPECT_NE(rep.script.find("connect(3, ..., ...)"), std::string::npos);
  EXPECT_NE(rep.script.find("// the explored run's violation: data: server"), std::string::npos) << rep.script;
}

TEST(Explore, ReproSegmentsMakeAReadablePcap) {
  ExploreSpec spec = partial_ack_spec();
  spec.client_config.test_faults.partial_ack_stops_rto = true;
  const ExploreReport r = explore(spec);
  ASSERT_TRUE(r.violation);
  const ExploreRepro rep = make_repro(spec, r.violation->choices);
  const std::string path = ::testing::TempDir() + "explore_repro_" + std::to_string(::getpid()) + ".pcap";
  {
    auto w = io::PcapWriter::open(path);
    ASSERT_TRUE(w) << w.error().message;
    for (const auto& s : rep.segments) ASSERT_TRUE(w->write(s.at - Instant{}, s.out));
    ASSERT_TRUE(w->close());
  }
  auto rd = io::PcapReader::open(path);
  ASSERT_TRUE(rd) << rd.error().message;
  std::size_t n = 0;
  for (;;) {
    auto rec = rd->next();
    ASSERT_TRUE(rec);
    if (!*rec) break;
    ASSERT_LT(n, rep.segments.size());
    const Output& o = rep.segments[n].out;
    // An IPv4 header (20 bytes, no options), then the segment as encoded.
    const std::vector<std::byte> tcp = o.segment.encode(o.src, o.dst);
    ASSERT_EQ((*rec)->data.size(), 20 + tcp.size());
    EXPECT_TRUE(std::equal(tcp.begin(), tcp.end(), (*rec)->data.begin() + 20)) << "record " << n;
    ++n;
  }
  EXPECT_EQ(n, rep.segments.size());
  std::remove(path.c_str());
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
