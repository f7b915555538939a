// Property tests: for many seeds, a random transfer over a random, impaired path must deliver
// every byte exactly once and in order, close both sides cleanly, leave no connection and no
// timer behind, keep every queue within its buffer and check_invariants() clean after every
// step (run_transfer checks all of it).
//
//   UTCP_SIM_SEED=S      run seed S alone (SimProperty.OneSeed), with its description
//   UTCP_SIM_TRACE=1     with UTCP_SIM_SEED: print every segment, timer and event
//   UTCP_SIM_SEEDS=N     seeds per chunk (default 30; 10 chunks)
//   UTCP_SOAK=1          many more seeds and up to 8 MiB each way (`make soak`)
#include <gtest/gtest.h>

#include <chrono>
#include <iostream>
#include <sstream>
#include <vector>

#include "property_util.hpp"

namespace utcp::sim::test {
namespace {

constexpr int kChunks = 10;

std::uint64_t seeds_per_chunk() {
  if (const auto n = env_number("UTCP_SIM_SEEDS")) return *n;
  return soak() ? 1000 : 30;
}
std::uint64_t max_bytes() {
  return soak() ? (8u << 20) : (1u << 20);
}

// Runs one seed; the failure text with the line that reproduces it, or empty.
std::optional<std::string> run_seed(std::uint64_t seed, bool verbose) {
  TransferSpec spec = random_spec(seed, max_bytes());
  if (verbose && env_number("UTCP_SIM_TRACE").value_or(0) != 0) spec.trace = &std::cout;
  if (verbose) std::cout << describe(spec);
  const TransferReport r = run_transfer(spec);
  if (verbose) {
    std::cout << "  transfer " << std::chrono::duration<double>(r.transfer_time).count() << "s, end "
              << std::chrono::duration<double>(r.end_time).count() << "s virtual; segments "
              << r.client_stats.segments_out << "+" << r.server_stats.segments_out << ", retransmits rto "
              << r.client_stats.retransmits_rto + r.server_stats.retransmits_rto << " fast "
              << r.client_stats.retransmits_fast + r.server_stats.retransmits_fast << "; links: " << r.forward
              << " / " << r.backward << "\n";
  }
  if (r.ok()) return std::nullopt;
  std::ostringstream os;
  os << "seed " << seed << " failed: " << *r.failure << "\n"
     << describe(spec) << "reproduce: UTCP_SIM_SEED=" << seed << (soak() ? " UTCP_SOAK=1 " : " ")
     << self_path() << " --gtest_filter=SimProperty.OneSeed";
  return os.str();
}

class SimProperty : public ::testing::TestWithParam<int> {};

TEST_P(SimProperty, RandomTransfersDeliverEveryByteOnceAndCloseCleanly) {
  if (env_number("UTCP_SIM_SEED")) GTEST_SKIP() << "UTCP_SIM_SEED is set: SimProperty.OneSeed runs it";
  const std::uint64_t n = seeds_per_chunk();
  std::vector<std::uint64_t> failed;
  for (std::uint64_t i = 0; i < n; ++i) {
    const std::uint64_t seed = static_cast<std::uint64_t>(GetParam()) * n + i + 1;
    if (auto failure = run_seed(seed, false)) {
      // The first few in full; the rest by seed only.
      if (failed.size() < 3) ADD_FAILURE() << *failure;
      failed.push_back(seed);
    }
  }
  if (!failed.empty()) {
    std::ostringstream os;
    for (const auto s : failed) os << " " << s;
    ADD_FAILURE() << failed.size() << " of " << n << " seeds failed:" << os.str();
  }
}

INSTANTIATE_TEST_SUITE_P(Chunk, SimProperty, ::testing::Range(0, kChunks));

TEST(SimProperty, OneSeed) {
  const auto seed = env_number("UTCP_SIM_SEED");
  if (!seed) GTEST_SKIP() << "set UTCP_SIM_SEED to run one seed";
  if (auto failure = run_seed(*seed, true)) FAIL() << *failure;
}

}  // namespace
}  // namespace utcp::sim::test
