// Proportional Rate Reduction (RFC 6937 §3), the send quantities worked out by hand: half a
// segment per segment delivered while pipe > ssthresh (ssthresh = RecoverFS / 2), and the
// Slow Start Reduction Bound below it.
#include <gtest/gtest.h>

#include "core/prr.hpp"

namespace utcp::detail {
namespace {

constexpr std::uint32_t S = 1000;

TEST(CorePrr, ProportionalPartSendsOneSegmentPerTwoDelivered) {
  Prr p;
  p.start(20 * S);  // RecoverFS 20 segments, ssthresh 10
  // First ACK: CEIL(1000 * 10000 / 20000) - 0 = 500, raised to one segment for the fast
  // retransmit.
  EXPECT_EQ(p.on_ack(S, 18 * S, 10 * S, S), S);
  p.sent(S);
  EXPECT_EQ(p.on_ack(S, 17 * S, 10 * S, S), 0u);     // CEIL(2000 * 1/2) - 1000
  EXPECT_EQ(p.on_ack(S, 17 * S, 10 * S, S), S / 2);  // CEIL(3000 / 2) - 1000: not a segment yet
  EXPECT_EQ(p.on_ack(S, 16 * S, 10 * S, S), S);      // CEIL(4000 / 2) - 1000
  p.sent(S);
  EXPECT_EQ(p.delivered, 4 * S);
  EXPECT_EQ(p.out, 2 * S);
}

TEST(CorePrr, ProportionalPartRoundsUp) {
  Prr p;
  p.start(3 * S);
  // ssthresh 2000 of RecoverFS 3000: CEIL(1 * 2000 / 3000) = 1 byte per byte... after 1000
  // delivered: CEIL(666.67) = 667.
  p.sent(S);                                    // the fast retransmit already went (prr_out 1000)
  EXPECT_EQ(p.on_ack(S, 2500, 2000, S), 0u);    // 667 - 1000 < 0
  EXPECT_EQ(p.on_ack(S, 2500, 2000, S), 334u);  // CEIL(2000 * 2000 / 3000) = 1334 - 1000
}

TEST(CorePrr, SlowStartReductionBoundBelowSsthresh) {
  Prr p;
  p.start(20 * S);
  p.sent(S);
  // pipe 5 segments <= ssthresh 10: limit = MAX(prr_delivered - prr_out, DeliveredData) + MSS
  // = MAX(3000 - 1000, 3000) + 1000 = 4000; sndcnt = MIN(10000 - 5000, 4000) = 4000.
  EXPECT_EQ(p.on_ack(3 * S, 5 * S, 10 * S, S), 4 * S);
  p.sent(4 * S);
  // delivered 4000, out 5000: MAX(-1000, 1000) + 1000 = 2000; MIN(10000 - 9000, 2000) = 1000.
  EXPECT_EQ(p.on_ack(S, 9 * S, 10 * S, S), S);
  // At ssthresh nothing more than what was delivered (+1 MSS) and never past ssthresh.
  EXPECT_EQ(p.on_ack(S, 10 * S, 10 * S, S), 0u);
}

TEST(CorePrr, NothingDeliveredAllowsNothing) {
  Prr p;
  p.start(10 * S);
  p.sent(S);
  EXPECT_EQ(p.on_ack(0, 9 * S, 5 * S, S), 0u);
}

}  // namespace
}  // namespace utcp::detail
