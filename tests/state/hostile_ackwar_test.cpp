// Hostile (or merely unlucky) network: an ACK war. After retransmission timeouts on both
// sides, each side's SND.NXT is below what the other has received. A pure ACK that carries
// SEQ = SND.NXT is then below the receiver's RCV.NXT, not acceptable (RFC 9293 §3.10.7.4),
// and answered with an ACK whose ACK field is never looked at: two stacks that both behave
// so ACK each other forever. The stack must end it: by taking the ACK, by sending its ACKs
// at SND.MAX (as BSD does), or by rate-limiting its answers to unacceptable segments (as
// Linux's tcp_invalid_ratelimit does). Found by fuzz/differential
// (fuzz/regressions/differential/ack_war_after_rto_both_ways).
#include <gtest/gtest.h>

#include <string>

#include "harness.hpp"

namespace utcp::test {
namespace {

// Was an engine bug (pure ACKs carried SEQ = SND.NXT); fixed in d04441b (SEQ = SND.MAX).
TEST(HostileAckWar, AckWarAfterTimeoutsOnBothSidesEnds) {
  Harness h;
  h.to_established();
  // The peer's data arrives; the stack's ACKs of it are lost.
  h.peer_sends(data(1, 1, std::string(500, 'p')));
  h.peer_sends(data(501, 1, std::string(500, 'q')));
  ASSERT_EQ(h.rcv_nxt(), 1001u);
  // The stack sends; all of it arrives, but the peer's ACKs are lost; its timer fires.
  ASSERT_TRUE(h.send(std::string(3 * h.conn().mss, 's')).has_value());
  h.advance(1ms);
  const std::uint32_t sent = h.rel_local(h.conn().snd_max);
  h.advance(h.conn().rto + 1ms);
  ASSERT_LT(h.snd_nxt(), sent) << "the retransmission timeout rewound SND.NXT";
  h.clear_outputs();
  // The peer's timer fired too: its SND.NXT is back at 501, below the stack's RCV.NXT. It
  // ACKs all the stack sent, and, like the stack, answers every unacceptable ACK with one.
  int answers = 0;
  for (int i = 0; i < 1000; ++i) {
    h.peer_sends(ack(501, sent));
    if (h.snd_una() == sent) break;  // the stack took the ACK: no war
    bool war = false;
    while (h.queued() > 0) {
      const auto e = h.take();  // keep the taken output alive (the segment is a reference)
      const Segment& s = e->out.segment;
      // Below the peer's RCV.NXT (= sent): the peer will answer it.
      if (s.payload.size() == 0 && h.rel_local(s.seq) < sent) war = true;
    }
    if (!war) break;
    ++answers;
    h.advance(1ms);
  }
  EXPECT_LT(answers, 50) << "the stack kept answering with ACKs the peer cannot accept";
}

}  // namespace
}  // namespace utcp::test
