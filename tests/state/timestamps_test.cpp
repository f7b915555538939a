// RFC 7323 timestamps in the core: RTTM where Karn's algorithm has nothing to time. The
// option's negotiation, echo and PAWS are the scripts' (tests/scripts/ts_*.pkt), beside PAWS's
// duplicate-ACK exemption below.
#include "harness.hpp"

namespace utcp::test {
namespace {

Config with_timestamps() {
  Config c;
  c.timestamps = true;
  return c;
}

std::uint32_t tsval_of(const Segment& s) {
  for (const auto& o : s.options)
    if (const auto* ts = std::get_if<Timestamps>(&o)) return ts->value;
  ADD_FAILURE() << "no timestamps option";
  return 0;
}

// The handshake's ACK (10 ms after the SYN-ACK) gives the first sample: SRTT 10 ms.
void establish(Harness& h) {
  h.to_established({Mss{1460}, Timestamps{100, 0}});
  ASSERT_EQ(h.info()->srtt, 10ms);
}

// RFC 7323 §4.1: the ACK of a retransmission echoes the retransmission's TSval, so it is a
// sample (RFC 6298 §3's Karn rule would take none): SRTT = 7/8 * 10 + 1/8 * 50 = 15 ms.
TEST(Timestamps, RetransmissionIsTimedByTheEchoOfItsTsval) {
  Harness h(with_timestamps());
  establish(h);
  ASSERT_TRUE(h.send("abc"));
  auto first = h.take();
  ASSERT_TRUE(first);
  h.advance(200ms);  // RFC 6298 §2.4: the 200 ms minimum RTO
  auto again = h.take();
  ASSERT_TRUE(again);
  ASSERT_EQ(again->out.segment.seq, first->out.segment.seq);
  const std::uint32_t echo = tsval_of(again->out.segment);
  EXPECT_EQ(echo - tsval_of(first->out.segment), 200u) << "TSval counts milliseconds of the caller's clock";
  h.peer_sends({.seq = 1, .ack = 4, .window = kPeerWindow, .options = {Timestamps{200, echo}}},
               h.now() + 50ms);
  EXPECT_EQ(h.info()->srtt, 15ms);
}

// Without the option (the same exchange, timestamps off) Karn's rule leaves SRTT alone.
TEST(Timestamps, WithoutThemARetransmissionGivesNoSample) {
  Harness h;
  h.to_established({Mss{1460}});
  ASSERT_EQ(h.info()->srtt, 10ms);
  ASSERT_TRUE(h.send("abc"));
  ASSERT_TRUE(h.take());
  h.advance(200ms);
  ASSERT_TRUE(h.take());
  h.peer_sends({.seq = 1, .ack = 4, .window = kPeerWindow}, h.now() + 50ms);
  EXPECT_EQ(h.info()->srtt, 10ms);
}

// An echo of a TSval never sent (from the future) is no sample.
TEST(Timestamps, EchoFromTheFutureIsIgnored) {
  Harness h(with_timestamps());
  establish(h);
  ASSERT_TRUE(h.send("abc"));
  ASSERT_TRUE(h.take());
  h.advance(200ms);
  auto again = h.take();
  ASSERT_TRUE(again);
  const std::uint32_t future = tsval_of(again->out.segment) + 100000;
  h.peer_sends({.seq = 1, .ack = 4, .window = kPeerWindow, .options = {Timestamps{200, future}}},
               h.now() + 50ms);
  EXPECT_EQ(h.info()->srtt, 10ms);
}

// RFC 7323 §5.3 R1 and the duplicate ACK a later segment overtook (deviations.md): a pure
// duplicate ACK older than TS.Recent by at most an RTO (200 ms here, RFC 6298's floor, read
// as 200 of the peer's ticks) counts as a duplicate ACK and draws no reply; one tick older,
// another window, or text, and PAWS drops it with an ACK as before.
TEST(Timestamps, AnOvertakenDuplicateAckWithinAnRtoPassesPaws) {
  Harness h(with_timestamps());
  establish(h);
  ASSERT_EQ(h.info()->rto, 200ms);
  ASSERT_TRUE(h.send(std::string(3000, 'x')));
  while (h.queued() > 0) h.take();
  const auto dup = [&](std::uint32_t tsval, std::uint16_t window = kPeerWindow) {
    h.peer_sends({.seq = 1, .ack = 1, .window = window, .options = {Timestamps{tsval, 100}}}, h.now() + 1ms);
  };
  dup(500);  // TS.Recent 500 (the segment covers Last.ACK.sent)
  dup(300);  // 200 older: passes
  EXPECT_EQ(stats(h.s).paws_disordered_acks, 1u);
  EXPECT_EQ(stats(h.s).dup_acks, 2u);
  EXPECT_EQ(stats(h.s).drop(DropReason::paws), 0u);
  EXPECT_EQ(h.queued(), 0u) << "a duplicate ACK is not answered";
  dup(299);  // 201 older: dropped, answered
  EXPECT_EQ(stats(h.s).drop(DropReason::paws), 1u);
  EXPECT_EQ(h.queued(), 1u);
  dup(499, kPeerWindow - 1);  // a window update is not a duplicate ACK
  EXPECT_EQ(stats(h.s).drop(DropReason::paws), 2u);
  h.peer_sends({.seq = 1, .ack = 1, .window = kPeerWindow, .options = {Timestamps{499, 100}}, .payload = "y"},
               h.now() + 1ms);
  EXPECT_EQ(stats(h.s).drop(DropReason::paws), 3u);
  EXPECT_EQ(stats(h.s).paws_disordered_acks, 1u);
  EXPECT_EQ(stats(h.s).dup_acks, 2u);
}

}  // namespace
}  // namespace utcp::test
