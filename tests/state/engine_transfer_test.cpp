// Bulk transfers between two stacks through the in-memory link: byte-identical delivery
// both ways, with and without loss, and everything closed after TIME-WAIT.
#include <cstdlib>

#include "harness.hpp"

namespace utcp::test {
namespace {

void transfer(std::size_t bytes, double loss, std::uint64_t seed, Duration limit) {
  Net net;
  net.loss = loss;
  net.rng = sim::Rng(seed);
  net.a.to_send = pattern(bytes, 1);
  net.b.to_send = pattern(bytes, 2);
  net.connect();
  ASSERT_TRUE(net.run_until([&] { return net.a.eof && net.b.eof; }, limit))
      << "a got " << net.a.received.size() << " b got " << net.b.received.size() << " at "
      << std::chrono::duration<double>(net.now - t0()).count() << " s";
  EXPECT_TRUE(net.a.received == net.b.to_send) << "a's data differs";
  EXPECT_TRUE(net.b.received == net.a.to_send) << "b's data differs";
  EXPECT_EQ(check_invariants(net.a.s), std::nullopt);
  EXPECT_EQ(check_invariants(net.b.s), std::nullopt);
  ASSERT_TRUE(net.run_until([&] { return num_connections(net.a.s) + num_connections(net.b.s) == 0; }, 600s))
      << "a " << num_connections(net.a.s) << " b " << num_connections(net.b.s);
  EXPECT_EQ(next_deadline(net.a.s), std::nullopt);
  EXPECT_EQ(next_deadline(net.b.s), std::nullopt);
  EXPECT_TRUE(net.a.drops.empty() || net.a.drops.back().error == TimerError::timer_2msl);
  EXPECT_TRUE(net.b.drops.empty() || net.b.drops.back().error == TimerError::timer_2msl);
  if (loss > 0) {
    EXPECT_GT(stats(net.a.s).retransmits_fast + stats(net.a.s).retransmits_rto, 0u);
  }
}

TEST(EngineTransfer, OneMiBEachWayNoLoss) {
  transfer(1 << 20, 0, 1, 60s);
}

TEST(EngineTransfer, SixteenMiBEachWayTwoPercentLoss) {
  transfer(16 << 20, 0.02, 7, 3600s);
}

TEST(EngineTransfer, SoakHundredMiBEachWayTwoPercentLoss) {
  if (!std::getenv("UTCP_SOAK")) GTEST_SKIP() << "set UTCP_SOAK=1";
  transfer(100 << 20, 0.02, 11, 36000s);
}

}  // namespace
}  // namespace utcp::test
