// Header prediction (Config::header_prediction, src/input/synchronized.cpp) gives the results
// of the general rules: seeded random transfers (random_spec: both directions, loss, bursts,
// duplication, reordering, corruption, slow readers; bare, and with SACK and timestamps) run
// once with it and once without, and every datagram, timer call and event (the network's
// trace hash) and every counter but segments_predicted must be the same.
#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>

#include "property_util.hpp"

namespace utcp::sim::test {
namespace {

TransferReport run_with(TransferSpec spec, bool prediction) {
  spec.client_config.header_prediction = prediction;
  spec.server_config.header_prediction = prediction;
  return run_transfer(spec);
}

std::string counters(Stats s) {
  s.segments_predicted = 0;
  std::ostringstream os;
  os << s;
  return os.str();
}

// Both directions long enough that both ends stay ESTABLISHED for a while (each end shuts its
// write side after its last byte, and prediction is for ESTABLISHED only).
void both_ways(TransferSpec& spec) {
  spec.client_bytes = std::max<std::uint64_t>(spec.client_bytes, 64 << 10);
  spec.server_bytes = std::max<std::uint64_t>(spec.server_bytes, 64 << 10);
  spec.step_limit += 100 * (128 << 10) / 536;
}

void compare(const TransferSpec& spec, std::uint64_t& predicted, std::uint64_t& runs_ok) {
  const TransferReport on = run_with(spec, true);
  const TransferReport off = run_with(spec, false);
  // The same outcome; a path lossy enough may end a connection either way (its timeouts).
  EXPECT_EQ(on.failure, off.failure) << describe(spec);
  if (on.ok()) ++runs_ok;
  EXPECT_EQ(off.client_stats.segments_predicted + off.server_stats.segments_predicted, 0u);
  EXPECT_EQ(on.trace_hash, off.trace_hash) << describe(spec);
  EXPECT_EQ(counters(on.client_stats), counters(off.client_stats)) << describe(spec);
  EXPECT_EQ(counters(on.server_stats), counters(off.server_stats)) << describe(spec);
  EXPECT_EQ(on.end_time, off.end_time);
  predicted += on.client_stats.segments_predicted + on.server_stats.segments_predicted;
}

// 30 random transfers in both directions from seeds base + 1.., bare or with SACK and
// timestamps on both ends, each compared with and without the fast path.
void random_transfers(std::uint64_t base, bool sack_and_timestamps) {
  const std::uint64_t seeds = env_number("UTCP_SIM_SEEDS").value_or(soak() ? 200 : 30);
  std::uint64_t predicted = 0, received = 0, runs_ok = 0;
  for (std::uint64_t seed = 1; seed <= seeds; ++seed) {
    TransferSpec spec = random_spec(base + seed, 256 << 10);
    both_ways(spec);
    for (Config* c : {&spec.client_config, &spec.server_config}) {
      c->sack = c->sack || sack_and_timestamps;
      c->timestamps = c->timestamps || sack_and_timestamps;
    }
    compare(spec, predicted, runs_ok);
    received += spec.client_bytes + spec.server_bytes;
    if (::testing::Test::HasFatalFailure()) return;
  }
  // The fast path was taken: at least one segment in 20 of the largest size (9000 B).
  EXPECT_GT(predicted, received / 9000 / 20);
  EXPECT_GT(runs_ok, seeds / 2);
}

TEST(HeaderPrediction, RandomTransfersGiveTheSameTraceWithAndWithout) { random_transfers(7000, false); }

TEST(HeaderPrediction, RandomTransfersWithSackAndTimestampsGiveTheSameTrace) { random_transfers(8000, true); }

// As random_spec draws them (a direction may carry nothing or a few bytes, so one end shuts its
// write side early and the other runs in CLOSE-WAIT or FIN-WAIT-2): the output shortcut for
// an empty send queue meets FINs to send, half-closed ends and idle ones.
TEST(HeaderPrediction, RandomHalfClosedTransfersGiveTheSameTrace) {
  const std::uint64_t seeds = env_number("UTCP_SIM_SEEDS").value_or(soak() ? 200 : 40);
  std::uint64_t predicted = 0, runs_ok = 0;
  for (std::uint64_t seed = 1; seed <= seeds; ++seed) {
    TransferSpec spec = random_spec(9000 + seed, 256 << 10);
    if (seed % 2 == 0) {
      for (Config* c : {&spec.client_config, &spec.server_config}) {
        c->sack = true;
        c->timestamps = true;
      }
    }
    compare(spec, predicted, runs_ok);
    if (HasFatalFailure()) return;
  }
  EXPECT_GT(runs_ok, seeds / 2);
}

}  // namespace
}  // namespace utcp::sim::test
