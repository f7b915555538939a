// Reproducers (sim/explore_repro.cpp) against the script runner: a script written from a run
// of correct stacks passes in `utcp script`, for every scenario and both points of view, with
// a loss, a duplicate or a late segment on the way. That is the writer's model of the host
// (its two copies of the stack take the inputs as the runner's host does) checked against the
// host itself; the planted bugs' scripts (failing with the fault, passing without) are checked
// in explore_test.cpp and explore_repro_test.sh.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "executor.hpp"
#include "explore.hpp"
#include "parser.hpp"

namespace utcp::sim {
namespace {

using K = Choice::Kind;

ExploreSpec spec_for(ExploreScenario sc) {
  ExploreSpec spec;
  spec.scenario = sc;
  spec.bounds.max_loss = 1;
  spec.bounds.max_dup = 1;
  spec.bounds.max_reorder = 1;
  switch (sc) {
    case ExploreScenario::transfer: {
      Config cfg;
      cfg.mtu = 576;  // two segments, both in flight
      cfg.nodelay = true;
      spec.client_config = spec.server_config = cfg;
      spec.client_bytes = 600;
      break;
    }
    case ExploreScenario::close:
    case ExploreScenario::simultaneous_close:
      spec.client_bytes = 100;
      spec.server_bytes = 50;
      break;
    case ExploreScenario::abort:
      spec.client_bytes = 100;
      break;
    case ExploreScenario::handshake:
      break;
  }
  return spec;
}

// The starts of the runs: none, the SYN lost or delivered twice, the SYN-ACK lost, the
// handshake's ACK lost.
const std::vector<std::vector<Choice>> prefixes = {
    {},
    {{K::drop, 0, 0}},
    {{K::duplicate, 0, 0}},
    {{K::deliver, 0, 0}, {K::drop, 1, 0}},
    {{K::deliver, 0, 0}, {K::deliver, 1, 0}, {K::drop, 0, 0}},
};

TEST(ExploreRepro, ScriptsOfCorrectRunsPass) {
  for (auto sc : {ExploreScenario::handshake, ExploreScenario::transfer, ExploreScenario::close,
                  ExploreScenario::simultaneous_close, ExploreScenario::abort}) {
    const ExploreSpec spec = spec_for(sc);
    for (std::size_t p = 0; p < prefixes.size(); ++p) {
      const std::vector<Choice> run = well_behaved_run(spec, prefixes[p]);
      ASSERT_GE(run.size(), prefixes[p].size());
      const ExploreReplay r = replay(spec, run);
      ASSERT_FALSE(r.failure) << to_string(sc) << ", start " << p << ": " << *r.failure << "\n"
                              << format_trace(r.trace);
      for (std::uint8_t side : {0, 1}) {
        const ExploreRepro rep = make_repro(spec, run, side);
        SCOPED_TRACE(std::string(to_string(sc)) + ", start " + std::to_string(p) + ", " +
                     (side == 0 ? "client" : "server") + ":\n" + rep.script);
        EXPECT_FALSE(rep.diverges);
        const auto script = script::parse(rep.script, "repro.pkt");
        ASSERT_TRUE(script) << script.error();
        const script::Outcome o = script::run_script(*script);
        EXPECT_TRUE(o.passed) << "line " << o.line << ": " << o.reason;
      }
    }
  }
}

// The same with RFC 7323 timestamps and RFC 2018 SACK negotiated (the header's
// --tcp_timestamps=1 --tcp_sack=1): the runner numbers the stack's TSvals from the first one a
// `>` line names, as the writer writes them.
TEST(ExploreRepro, ScriptsWithTimestampsAndSackPass) {
  for (auto sc : {ExploreScenario::transfer, ExploreScenario::close}) {
    ExploreSpec spec = spec_for(sc);
    for (Config* c : {&spec.client_config, &spec.server_config}) c->timestamps = c->sack = true;
    for (std::size_t p = 0; p < prefixes.size(); ++p) {
      const std::vector<Choice> run = well_behaved_run(spec, prefixes[p]);
      ASSERT_FALSE(replay(spec, run).failure);
      for (std::uint8_t side : {0, 1}) {
        const ExploreRepro rep = make_repro(spec, run, side);
        SCOPED_TRACE(std::string(to_string(sc)) + ", start " + std::to_string(p) + ", " +
                     (side == 0 ? "client" : "server") + ":\n" + rep.script);
        ASSERT_NE(rep.script.find("\n--tcp_timestamps=1\n--tcp_sack=1\n"), std::string::npos);
        ASSERT_NE(rep.script.find("TS val "), std::string::npos);
        const auto script = script::parse(rep.script, "repro.pkt");
        ASSERT_TRUE(script) << script.error();
        const script::Outcome o = script::run_script(*script);
        EXPECT_TRUE(o.passed) << "line " << o.line << ": " << o.reason;
      }
    }
  }
}

}  // namespace
}  // namespace utcp::sim
