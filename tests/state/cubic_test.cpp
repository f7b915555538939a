// CUBIC (RFC 9438), the default algorithm, through the engine: its reduction on a fast
// retransmit and on a timeout, and the choice of algorithm per stack (Config), per flow
// (FlowOptions at open) and on a live flow (set_options, as TCP_CONGESTION).
#include <gtest/gtest.h>

#include "harness.hpp"

namespace utcp::test {
namespace {

constexpr std::uint32_t S = 1460;

void bulk_established(Harness& h, std::size_t bytes, FlowOptions o = {}) {
  h.to_established({Mss{1460}, WindowScale{7}}, o);
  ASSERT_TRUE(h.send(std::string(bytes, 'c')));
  while (h.queued() > 0) h.take();
}

void dupack(Harness& h) {
  h.peer_sends(ack(1, 1, 65535), h.now() + 1ms);
}

TEST(Cubic, IsTheDefault) {
  Harness h;
  h.to_established({Mss{1460}});
  EXPECT_EQ(h.conn().congestion_control, CongestionControl::cubic);
  EXPECT_EQ(Config{}.congestion_control, CongestionControl::cubic);
}

// RFC 9438 §4.6: ssthresh = FlightSize * 0.7 = 14600 * 0.7 = 10220; recovery as RFC 6582
// with cwnd = ssthresh + 3 * SMSS = 14600.
TEST(Cubic, FastRetransmitReducesToSevenTenths) {
  Harness h;
  bulk_established(h, 10 * S);
  for (int i = 0; i < 3; ++i) dupack(h);
  auto seg = h.take();
  ASSERT_TRUE(seg);
  EXPECT_EQ(seg->out.segment.seq, h.local_seq(1));
  EXPECT_EQ(h.conn().ssthresh, 10220u);
  EXPECT_EQ(h.conn().cwnd, 10220u + 3 * S);
  // The full acknowledgment ends recovery: cwnd = min(ssthresh, FlightSize + SMSS).
  h.peer_sends(ack(1, 1 + 10 * S, 65535), h.now() + 1ms);
  EXPECT_EQ(h.conn().cwnd, 2 * S);
  EXPECT_EQ(h.conn().ssthresh, 10220u);
}

// RFC 9438 §4.8: after a timeout cwnd is one segment and ssthresh FlightSize * 0.7.
TEST(Cubic, TimeoutLeavesOneSegment) {
  Harness h;
  bulk_established(h, 10 * S);
  h.advance(1s);  // no RTT sample yet: the initial RTO is 1 s
  EXPECT_EQ(h.conn().cwnd, S);
  EXPECT_EQ(h.conn().ssthresh, 10220u);
}

TEST(Cubic, RenoChosenPerStack) {
  Config c;
  c.congestion_control = CongestionControl::newreno;
  Harness h(c);
  bulk_established(h, 10 * S);
  EXPECT_EQ(h.conn().congestion_control, CongestionControl::newreno);
  for (int i = 0; i < 3; ++i) dupack(h);
  EXPECT_EQ(h.conn().ssthresh, 7300u);  // RFC 5681: FlightSize / 2
}

TEST(Cubic, RenoChosenPerFlow) {
  Harness h;
  FlowOptions o;
  o.congestion_control = CongestionControl::newreno;
  bulk_established(h, 10 * S, o);
  EXPECT_EQ(h.conn().congestion_control, CongestionControl::newreno);
  for (int i = 0; i < 3; ++i) dupack(h);
  EXPECT_EQ(h.conn().ssthresh, 7300u);
}

TEST(Cubic, ChangedOnALiveFlowKeepsTheWindow) {
  Harness h;
  bulk_established(h, 10 * S);
  FlowOptions o;
  o.congestion_control = CongestionControl::newreno;
  auto r = set_options(std::move(h.s), h.flow, o);
  ASSERT_TRUE(r);
  h.s = std::move(*r);
  EXPECT_EQ(h.conn().congestion_control, CongestionControl::newreno);
  EXPECT_EQ(h.conn().cwnd, 10 * S);
  for (int i = 0; i < 3; ++i) dupack(h);
  EXPECT_EQ(h.conn().ssthresh, 7300u);
}

}  // namespace
}  // namespace utcp::test
