// Timers: retransmission (RFC 6298, RFC 9293 §3.8.1), the seed's four TimerErrors,
// zero-window probing (§3.8.6.1), delayed ACKs (§3.8.6.3, RFC 5681 §4.2), Nagle (§3.7.4),
// keepalive (§3.8.4), TIME-WAIT (§3.6.1), and next_deadline's contract (DESIGN.md).
#include <gtest/gtest.h>

#include "harness.hpp"

namespace utcp::test {
namespace {

TcpOptions mss1460() {
  return {Mss{1460}};
}

// Established with one RTT sample of 10 ms taken on data: RTO = max(rto_min 200 ms,
// SRTT + 4 * RTTVAR = 10 + 4 * 5 = 30 ms) = 200 ms (RFC 6298 §2.2, §2.4 with Linux's floor).
void established_with_rtt(Harness& h) {
  h.to_established(mss1460());
  ASSERT_TRUE(h.send("ping"));
  h.expect({.seq = 1, .ack = 1, .push = true, .payload = "ping"});
  h.peer_sends(ack(1, 5, kPeerWindow), h.now() + 10ms);
  h.expect_nothing();
}

// ---------------------------------------------------------------- RTO

// RFC 6298 §2.1: the initial RTO is 1 s (µTCP fault 7 used 3 s); §5.5: it doubles.
TEST(Rto, SynRetransmittedAfterOneSecondThenBackoff) {
  Harness h;
  h.to_syn_sent();
  const Instant t = h.t0();
  const Tcp s = {.flag = Flag::syn, .seq = 0, .ack = std::nullopt, .window = 65535, .check_options = false};
  h.expect_at(s, t + 1s);
  h.expect_at(s, t + 3s);
  h.expect_at(s, t + 7s);
  h.expect_at(s, t + 15s);
  EXPECT_EQ(stats(h.s).retransmits_rto, 4u);
}

TEST(Rto, SynAckRetransmittedAfterOneSecond) {
  Harness h;
  h.to_syn_received();
  const Tcp sa = {.flag = Flag::syn, .seq = 0, .ack = 1, .window = 65535, .check_options = false};
  h.expect_at(sa, h.t0() + 1s);
  h.expect_at(sa, h.t0() + 3s);
}

TEST(Rto, AfterRttSampleIsFloor) {
  Harness h;
  established_with_rtt(h);
  const ConnInfo ci = h.conn();
  EXPECT_EQ(ci.srtt, 10ms);
  EXPECT_EQ(ci.rto, 200ms);
}

// RFC 6298 §5.5: back off by doubling on each expiry; §2.5: capped at 60 s.
// 200 ms, 400, 800, 1.6 s, 3.2, 6.4, 12.8, 25.6, 51.2, then 60 s.
TEST(Rto, ExponentialBackoffCappedAt60s) {
  Harness h;
  established_with_rtt(h);
  ASSERT_TRUE(h.send("lost"));
  h.expect({.seq = 5, .ack = 1, .push = true, .payload = "lost"});
  const Tcp again = {.seq = 5, .ack = 1, .push = true, .payload = "lost"};
  Instant t = h.now();
  Duration rto = 200ms;
  for (int i = 0; i < 12; ++i) {
    t += rto;
    h.expect_at(again, t);
    rto = std::min<Duration>(rto * 2, 60s);
  }
  EXPECT_EQ(h.conn().rto, 60s);
  EXPECT_EQ(stats(h.s).retransmits_rto, 12u);
}

// RFC 6298 §2.2-2.3 arithmetic. The SYN is retransmitted once (so Karn leaves no sample
// from the handshake); then the first sample R = 10 ms: SRTT = 10, RTTVAR = 5 (RTO 200 ms,
// the floor); the second R' = 190 ms (before the 200 ms timer): RTTVAR = 3/4 * 5 + 1/4 *
// |10 - 190| = 3.75 + 45 = 48.75 ms, SRTT = 7/8 * 10 + 1/8 * 190 = 8.75 + 23.75 = 32.5 ms,
// RTO = SRTT + 4 * RTTVAR = 32.5 + 195 = 227.5 ms.
TEST(Rto, Rfc6298Estimator) {
  Harness h;
  h.to_syn_sent();
  h.advance_to(h.t0() + 1s);
  h.clear_outputs();  // the retransmitted SYN
  Tcp sa = syn(0, mss1460());
  sa.ack = 1;
  h.peer_sends(sa, h.now() + 10ms);
  h.expect(ack(1, 1));
  ASSERT_TRUE(h.send("a"));
  h.clear_outputs();
  h.peer_sends(ack(1, 2, kPeerWindow), h.now() + 10ms);
  EXPECT_EQ(h.conn().srtt, 10ms);
  EXPECT_EQ(h.conn().rttvar, 5ms);
  EXPECT_EQ(h.conn().rto, 200ms) << "10 + 4 * 5 = 30 ms, below the 200 ms floor";
  ASSERT_TRUE(h.send("b"));
  h.clear_outputs();
  h.peer_sends(ack(1, 3, kPeerWindow), h.now() + 190ms);
  EXPECT_EQ(h.conn().rttvar, 48750us);
  EXPECT_EQ(h.conn().srtt, 32500us);
  EXPECT_EQ(h.conn().rto, 227500us);
  // and the retransmission timer uses it
  ASSERT_TRUE(h.send("c"));
  h.expect({.seq = 3, .ack = 1, .push = true, .payload = "c"});
  h.expect_at({.seq = 3, .ack = 1, .push = true, .payload = "c"}, h.now() + 227500us);
}

// RFC 6298 §5.7 for the passive side: a retransmitted SYN-ACK leaves RTO = 3 s.
TEST(Rto, ThreeSecondsAfterRetransmittedSynAck) {
  Harness h;
  h.to_syn_received();
  h.advance_to(h.t0() + 1s);
  h.clear_outputs();
  h.peer_sends(ack(1, 1, kPeerWindow), h.now() + 10ms);
  EXPECT_EQ(h.state(), TcpState::established);
  EXPECT_EQ(h.conn().rto, 3s);
}

// A passive open whose SYN-ACK is never answered ends after max_retransmits with an RST
// <SEQ=SND.NXT>; the listener stays.
TEST(TimerErrors, SynReceivedGivesUp) {
  Config c;
  c.max_retransmits = 2;
  Harness h(c);
  h.to_syn_received();
  const Tcp sa = {.flag = Flag::syn, .seq = 0, .ack = 1, .window = 65535, .check_options = false};
  h.expect_at(sa, h.t0() + 1s);
  h.expect_at(sa, h.t0() + 3s);
  h.advance_to(h.t0() + 7s);
  h.expect_rst(1);
  EXPECT_TRUE(h.gone());
  EXPECT_TRUE(listening(h.s, kLocalPort));
  h.expect_nothing(h.now() + 10min);
}

// The FIN is retransmitted like data (RFC 9293 §3.10.4: it occupies sequence space).
TEST(Rto, FinRetransmitted) {
  Harness h;
  established_with_rtt(h);
  ASSERT_TRUE(h.close());
  h.expect(fin(5, 1));
  h.expect_at(fin(5, 1), h.now() + 200ms);
  h.expect_at(fin(5, 1), h.now() + 400ms);
}

// RFC 6298 §3 (Karn): no RTT sample from an acknowledgment of a retransmitted segment.
TEST(Rto, KarnNoSampleFromRetransmission) {
  Harness h;
  established_with_rtt(h);
  ASSERT_EQ(h.conn().srtt, 10ms);
  ASSERT_TRUE(h.send("late"));
  h.expect({.seq = 5, .ack = 1, .push = true, .payload = "late"});
  const Instant sent = h.now();
  h.expect_at({.seq = 5, .ack = 1, .push = true, .payload = "late"}, sent + 200ms);
  h.peer_sends(ack(1, 9, kPeerWindow), sent + 250ms);  // original or retransmission? ambiguous
  EXPECT_EQ(h.conn().srtt, 10ms) << "an ambiguous ACK gave an RTT sample";
}

// RFC 6298 §5.7: when a SYN was retransmitted, the RTO is 3 s once data transfer begins
// (and Karn leaves no sample from the SYN-ACK).
TEST(Rto, ThreeSecondsAfterRetransmittedSyn) {
  Harness h;
  h.to_syn_sent();
  h.expect_at({.flag = Flag::syn, .seq = 0, .ack = std::nullopt, .window = 65535, .check_options = false},
              h.t0() + 1s);
  Tcp sa = syn(0, mss1460());
  sa.ack = 1;
  h.peer_sends(sa, h.now() + 100ms);
  h.expect(ack(1, 1));
  EXPECT_EQ(h.state(), TcpState::established);
  EXPECT_EQ(h.conn().rto, 3s);
  ASSERT_TRUE(h.send("data"));
  h.expect({.seq = 1, .ack = 1, .push = true, .payload = "data"});
  h.expect_at({.seq = 1, .ack = 1, .push = true, .payload = "data"}, h.now() + 3s);
}

// ---------------------------------------------------------------- the TimerErrors

// retransmission_exceeded after Config::max_retransmits (15) retransmissions; the
// connection ends with an RST <SEQ=SND.NXT> (DESIGN.md).
TEST(TimerErrors, RetransmissionExceededSendsRst) {
  Harness h;
  established_with_rtt(h);
  ASSERT_TRUE(h.send("void"));
  h.expect({.seq = 5, .ack = 1, .push = true, .payload = "void"});
  const Tcp again = {.seq = 5, .ack = 1, .push = true, .payload = "void"};
  Instant t = h.now();
  Duration rto = 200ms;
  for (std::uint32_t i = 0; i < h.cfg.max_retransmits; ++i) {
    t += rto;
    h.expect_at(again, t);
    rto = std::min<Duration>(rto * 2, 60s);
  }
  EXPECT_TRUE(h.drops.empty());
  EXPECT_EQ(h.state(), TcpState::established);
  // The next expiry gives up.
  t += rto;
  h.advance_to(t);
  h.expect_rst(9);
  EXPECT_TRUE(h.gone());
  ASSERT_EQ(h.drops.size(), 1u);
  EXPECT_EQ(h.drops[0].flow, h.flow);
  EXPECT_EQ(h.drops[0].error, TimerError::retransmission_exceeded);
  // The flow's two notifies, as make_notify created them (0 and 1: the first flow).
  EXPECT_NE(h.drops[0].rcv_notify, h.drops[0].snd_notify);
  EXPECT_LE(h.drops[0].rcv_notify + h.drops[0].snd_notify, 1);
  h.expect_nothing(t + 10min);
}

// A smaller max_retransmits; from SYN-SENT no RST is sent.
TEST(TimerErrors, RetransmissionExceededFromSynSentNoRst) {
  Config c;
  c.max_retransmits = 3;
  Harness h(c);
  h.to_syn_sent();
  const Tcp s = {.flag = Flag::syn, .seq = 0, .ack = std::nullopt, .window = 65535, .check_options = false};
  h.expect_at(s, h.t0() + 1s);
  h.expect_at(s, h.t0() + 3s);
  h.expect_at(s, h.t0() + 7s);
  h.expect_nothing(h.t0() + 15s - 1ns);
  EXPECT_TRUE(h.drops.empty());
  h.expect_nothing(h.t0() + 15s);  // gives up, silently
  EXPECT_TRUE(h.gone());
  ASSERT_EQ(h.drops.size(), 1u);
  EXPECT_EQ(h.drops[0].error, TimerError::retransmission_exceeded);
}

// timer_connection_established: an active open not done within 180 s. SYNs at 1, 3, 7, 15,
// 31, 63, 123 s (doubling, capped at 60 s: next would be 183 s) - the 180 s timer comes first.
TEST(TimerErrors, ConnectionEstablishedAt180s) {
  Harness h;
  h.to_syn_sent();
  const Tcp s = {.flag = Flag::syn, .seq = 0, .ack = std::nullopt, .window = 65535, .check_options = false};
  for (auto at : {1s, 3s, 7s, 15s, 31s, 63s, 123s}) h.expect_at(s, h.t0() + at);
  h.expect_nothing(h.t0() + 180s - 1ns);
  EXPECT_EQ(h.state(), TcpState::syn_sent);
  h.expect_nothing(h.t0() + 180s);  // no RST from SYN-SENT
  EXPECT_TRUE(h.gone());
  ASSERT_EQ(h.drops.size(), 1u);
  EXPECT_EQ(h.drops[0].flow, h.flow);
  EXPECT_EQ(h.drops[0].error, TimerError::timer_connection_established);
  EXPECT_EQ(h.drops[0].rcv_notify, *h.connect_notify);
}

// timer_fin_wait_2: 60 s in FIN-WAIT-2 after close().
TEST(TimerErrors, FinWait2After60s) {
  Harness h;
  h.to_fin_wait_2(/*by_close=*/true);
  const Instant entered = h.now();
  h.expect_nothing(entered + 60s - 20ms);
  EXPECT_EQ(h.state(), TcpState::fin_wait_2);
  h.advance_to(entered + 60s);
  h.clear_outputs();  // whether it says goodbye with an RST is not specified
  EXPECT_TRUE(h.gone());
  ASSERT_EQ(h.drops.size(), 1u);
  EXPECT_EQ(h.drops[0].flow, h.flow);
  EXPECT_EQ(h.drops[0].error, TimerError::timer_fin_wait_2);
}

// FIN-WAIT-2 (after close) -> TIME-WAIT: the FIN-WAIT-2 timer does not survive; the
// connection ends exactly 2 MSL after the peer's FIN, with timer_2msl.
TEST(TimerErrors, FinWait2TimerReplacedByTimeWait) {
  Harness h;
  h.to_fin_wait_2(/*by_close=*/true);
  h.peer_sends(fin(1, 2, kPeerWindow), h.now() + 30s);
  h.expect(ack(2, 2));
  const Instant tw = h.now();
  h.expect_nothing(tw + 60s - 1ns);  // (the harness also fails on a deadline that does nothing)
  EXPECT_EQ(h.state(), TcpState::time_wait);
  h.advance_to(tw + 60s);
  EXPECT_TRUE(h.gone());
  ASSERT_EQ(h.drops.size(), 1u);
  EXPECT_EQ(h.drops[0].error, TimerError::timer_2msl);
}

// timer_2msl: TIME-WAIT lasts 2 * MSL = 60 s by default.
TEST(TimerErrors, TimeWaitLasts2Msl) {
  Harness h;
  h.to_time_wait();
  const Instant entered = h.now();
  h.expect_nothing(entered + 60s - 1ns);
  EXPECT_EQ(h.state(), TcpState::time_wait);
  h.expect_nothing(entered + 60s);
  EXPECT_TRUE(h.gone());
  ASSERT_EQ(h.drops.size(), 1u);
  EXPECT_EQ(h.drops[0].error, TimerError::timer_2msl);
}

TEST(TimerErrors, TimeWaitFollowsConfiguredMsl) {
  Config c;
  c.msl = 1s;
  Harness h(c);
  h.to_time_wait();
  const Instant entered = h.now();
  h.expect_nothing(entered + 2s - 1ns);
  EXPECT_EQ(h.state(), TcpState::time_wait);
  h.advance_to(entered + 2s);
  EXPECT_TRUE(h.gone());
}

// §3.10.7.4 eighth step: a retransmitted FIN in TIME-WAIT is acknowledged and restarts the
// 2 MSL timeout.
TEST(TimerErrors, RetransmittedFinRestartsTimeWait) {
  Harness h;
  h.to_time_wait();
  const Instant entered = h.now();
  h.peer_sends(fin(1, 2, kPeerWindow), entered + 30s);  // the FIN again: SEG.SEQ = RCV.NXT - 1
  h.expect(ack(2, 2));
  h.expect_nothing(entered + 90s - 1ns);
  EXPECT_EQ(h.state(), TcpState::time_wait);
  h.advance_to(entered + 90s);
  EXPECT_TRUE(h.gone());
  ASSERT_EQ(h.drops.size(), 1u);
  EXPECT_EQ(h.drops[0].error, TimerError::timer_2msl);
}

// µTCP fault 1: an idle passive connection has no timer left: nothing happens for hours.
TEST(TimerErrors, IdlePassiveConnectionHasNoTimer) {
  Harness h;
  h.to_established();
  EXPECT_FALSE(next_deadline(h.s).has_value());
  h.expect_nothing(h.now() + 3h);
  EXPECT_EQ(h.state(), TcpState::established);
}

// ---------------------------------------------------------------- zero-window probing

// §3.8.6.1 (µTCP fault 3): probing goes on as long as the peer answers, the interval
// backing off to at most 60 s. One hour of virtual time.
TEST(ZeroWindow, ProbesForAnHourWhilePeerAnswers) {
  Harness h;
  established_with_rtt(h);
  h.peer_sends(ack(1, 5, 0), h.now() + 1ms);  // the window closes
  ASSERT_TRUE(h.send("blocked"));
  const Instant start = h.now();
  Instant last = start;
  Duration longest{};
  int probes = 0;
  while (h.now() < start + 1h) {
    auto d = next_deadline(h.s);
    ASSERT_TRUE(d.has_value()) << "no timer while data waits on a zero window";
    h.advance_to(*d);
    if (h.queued() == 0) continue;
    auto e = h.take();
    ASSERT_TRUE(e);
    const Segment& p = e->out.segment;
    // A probe: one byte of new data, or a segment at SND.UNA - 1.
    EXPECT_TRUE(p.payload.size() <= 1) << h.describe_out(p);
    EXPECT_EQ(h.queued(), 0u);
    longest = std::max<Duration>(longest, e->at - last);
    last = e->at;
    ++probes;
    // The peer answers, window still zero, nothing new acknowledged.
    h.peer_sends(ack(1, 5, 0), h.now() + 10ms);
    h.expect_nothing();
  }
  EXPECT_EQ(h.state(), TcpState::established);
  EXPECT_LE(longest, 60s + 10ms);
  EXPECT_GE(probes, 55) << "an hour at no more than 60 s apart";
  EXPECT_LE(last, h.now()) << "still probing at the end";
  EXPECT_GE(last + 61s, h.now());
  EXPECT_EQ(stats(h.s).zero_window_probes, static_cast<std::uint64_t>(probes));
  // The window opens: the data goes.
  h.peer_sends(ack(1, 5, kPeerWindow), h.now() + 10ms);
  auto e = h.take();
  ASSERT_TRUE(e);
  // From SND.UNA, or after a one-byte probe that counts as sent.
  EXPECT_TRUE(e->out.segment.seq == h.local_seq(5) || e->out.segment.seq == h.local_seq(6))
      << h.describe_out(e->out.segment);
  EXPECT_GE(e->out.segment.payload.size(), 6u);
  h.clear_outputs();
  ASSERT_TRUE(h.info());
}

// Without answers the probes are retransmissions like any other and the connection ends
// (after max_retransmits, with retransmission_exceeded) - within two hours at most.
TEST(ZeroWindow, UnansweredProbesEndConnection) {
  Harness h;
  established_with_rtt(h);
  h.peer_sends(ack(1, 5, 0), h.now() + 1ms);
  ASSERT_TRUE(h.send("blocked"));
  h.advance(2h);
  h.clear_outputs();
  EXPECT_TRUE(h.gone());
  ASSERT_EQ(h.drops.size(), 1u);
  EXPECT_EQ(h.drops[0].error, TimerError::retransmission_exceeded);
}

// ---------------------------------------------------------------- delayed ACK

// RFC 9293 §3.8.6.3 / RFC 5681 §4.2: one small segment is acknowledged after the delayed-ACK
// time, 40 ms by default.
TEST(DelayedAck, SingleSegmentAckedAfter40ms) {
  Harness h;
  h.to_established(mss1460());
  h.peer_sends(data(1, 1, "hi"), h.now() + 10ms);
  h.expect_at(ack(1, 3), h.now() + 40ms);
}

TEST(DelayedAck, ConfiguredDelay) {
  Config c;
  c.delayed_ack = 100ms;
  Harness h(c);
  h.to_established(mss1460());
  h.peer_sends(data(1, 1, "hi"), h.now() + 10ms);
  h.expect_at(ack(1, 3), h.now() + 100ms);
}

// At least every second full-sized segment is acknowledged at once.
TEST(DelayedAck, EverySecondFullSegmentAckedAtOnce) {
  Harness h;
  h.to_established(mss1460());
  const std::string full(1460, 'f');
  h.peer_sends(data(1, 1, full, false), h.now() + 10ms);
  h.expect_nothing();
  h.peer_sends(data(1461, 1, full, false), h.now() + 1ms);
  h.expect(ack(1, 2921));
  h.peer_sends(data(2921, 1, full, false), h.now() + 1ms);
  h.expect_nothing();
  h.peer_sends(data(4381, 1, full, false), h.now() + 1ms);
  h.expect(ack(1, 5841));
}

// Out-of-order data is acknowledged at once (a duplicate ACK), and so is the segment that
// fills the hole.
TEST(DelayedAck, OutOfOrderAckedAtOnce) {
  Harness h;
  h.to_established(mss1460());
  h.peer_sends(data(11, 1, "later"), h.now() + 10ms);
  h.expect(ack(1, 1));
  h.peer_sends(data(1, 1, kTen), h.now() + 1ms);
  h.expect(ack(1, 16));
  EXPECT_EQ(h.read_all(), kTen + "later");
}

TEST(DelayedAck, FinAckedAtOnce) {
  Harness h;
  h.to_established(mss1460());
  Tcp f = data(1, 1, "bye");
  f.flag = Flag::fin;
  h.peer_sends(f, h.now() + 10ms);
  h.expect(ack(1, 5));
}

// A delayed ACK rides on data sent before it is due, and is then not sent alone.
TEST(DelayedAck, PiggybackedOnData) {
  Harness h;
  h.to_established(mss1460());
  h.peer_sends(data(1, 1, "q"), h.now() + 10ms);
  h.advance(10ms);
  ASSERT_TRUE(h.send("answer"));
  h.expect({.seq = 1, .ack = 2, .push = true, .payload = "answer"});
  h.expect_nothing(h.now() + 100ms);
}

// ---------------------------------------------------------------- Nagle

// RFC 9293 §3.7.4 (RFC 896): a small segment waits while data is unacknowledged.
TEST(Nagle, SmallSegmentHeldWhileUnacked) {
  Harness h;
  h.to_established(mss1460());
  ASSERT_TRUE(h.send("a"));
  h.expect({.seq = 1, .ack = 1, .push = true, .payload = "a"});
  ASSERT_TRUE(h.send("b"));
  h.expect_nothing(h.now() + 100ms);
  h.peer_sends(ack(1, 2, kPeerWindow), h.now() + 1ms);
  h.expect({.seq = 2, .ack = 1, .push = true, .payload = "b"});
}

TEST(Nagle, FullSegmentNotHeld) {
  Harness h;
  h.to_established(mss1460());
  ASSERT_TRUE(h.send("a"));
  h.expect({.seq = 1, .ack = 1, .push = true, .payload = "a"});
  ASSERT_TRUE(h.send(std::string(1460, 'x')));
  h.expect({.seq = 2, .ack = 1, .push = true, .payload = std::string(1460, 'x')});
}

TEST(Nagle, NodelaySendsAtOnce) {
  Harness h;
  FlowOptions o;
  o.nodelay = true;
  h.to_established(mss1460(), o);
  EXPECT_TRUE(h.conn().nodelay);
  ASSERT_TRUE(h.send("a"));
  h.expect({.seq = 1, .ack = 1, .push = true, .payload = "a"});
  ASSERT_TRUE(h.send("b"));
  h.expect({.seq = 2, .ack = 1, .push = true, .payload = "b"});
}

TEST(Nagle, NodelayBySetOptions) {
  Harness h;
  h.to_established(mss1460());
  FlowOptions o;
  o.nodelay = true;
  auto r = set_options(std::move(h.s), h.flow, o);
  ASSERT_TRUE(r);
  h.s = std::move(*r);
  ASSERT_TRUE(h.send("a"));
  h.expect({.seq = 1, .ack = 1, .push = true, .payload = "a"});
  ASSERT_TRUE(h.send("b"));
  h.expect({.seq = 2, .ack = 1, .push = true, .payload = "b"});
}

// ---------------------------------------------------------------- keepalive

TEST(Keepalive, OffByDefault) {
  Harness h;
  h.to_established(mss1460());
  EXPECT_FALSE(h.conn().keepalive);
  h.expect_nothing(h.now() + 5h);
  EXPECT_EQ(h.state(), TcpState::established);
}

// §3.8.4: after 2 h idle, a probe <SEQ=SND.NXT-1><ACK=RCV.NXT> (with zero or one byte);
// every 75 s; after 9 unanswered probes the connection is dropped.
TEST(Keepalive, ProbesAndDropsAfterCount) {
  Harness h;
  FlowOptions o;
  o.keepalive = true;
  h.to_established(mss1460(), o);
  EXPECT_TRUE(h.conn().keepalive);
  const Instant idle_from = h.now();
  h.expect_nothing(idle_from + 2h - 1ms);
  for (int i = 0; i < 9; ++i) {
    const Instant at = idle_from + 2h + i * 75s;
    h.advance_to(at);
    auto e = h.take();
    ASSERT_TRUE(e) << "probe " << i;
    EXPECT_EQ(e->at, at);
    const Segment& p = e->out.segment;
    EXPECT_EQ(p.flag, Flag::none);
    EXPECT_EQ(p.seq, h.local_seq(0)) << h.describe_out(p);
    EXPECT_EQ(p.ack, std::optional<Seq>(h.peer_seq(1)));
    EXPECT_LE(p.payload.size(), 1u);
    EXPECT_EQ(h.state(), TcpState::established);
  }
  EXPECT_EQ(stats(h.s).keepalive_probes, 9u);
  h.advance_to(idle_from + 2h + 9 * 75s);
  h.clear_outputs();  // an RST or not
  EXPECT_TRUE(h.gone());
  ASSERT_EQ(h.drops.size(), 1u);
  EXPECT_EQ(h.drops[0].flow, h.flow);
}

TEST(Keepalive, AnsweredProbeKeepsConnection) {
  Harness h;
  FlowOptions o;
  o.keepalive = true;
  h.to_established(mss1460(), o);
  const Instant idle_from = h.now();
  h.advance_to(idle_from + 2h);
  auto e = h.take();
  ASSERT_TRUE(e);
  h.peer_sends(ack(1, 1, kPeerWindow), h.now() + 10ms);
  // Idle again from the answer: the next probe 2 h later.
  h.expect_nothing(idle_from + 4h);
  h.advance_to(idle_from + 4h + 10ms);
  EXPECT_EQ(h.queued(), 1u);
  h.clear_outputs();
  EXPECT_EQ(h.state(), TcpState::established);
}

// DESIGN.md: next_deadline is exact. Once a probe is answered, the next deadline is the
// idle time after the answer, not the probe interval after the probe.
TEST(Keepalive, AnswerRearmsIdleTimerExactly) {
  Harness h;
  FlowOptions o;
  o.keepalive = true;
  h.to_established(mss1460(), o);
  h.advance_to(h.now() + 2h);
  ASSERT_EQ(h.queued(), 1u);
  h.clear_outputs();
  h.peer_sends(ack(1, 1, kPeerWindow), h.now() + 10ms);
  auto d = next_deadline(h.s);
  ASSERT_TRUE(d);
  EXPECT_EQ(*d - h.now(), Duration(2h))
      << "next deadline in " << std::chrono::duration<double>(*d - h.now()).count() << " s";
}

TEST(Keepalive, ConfiguredTimes) {
  Harness h;
  FlowOptions o;
  o.keepalive = true;
  o.keepalive_idle = 10s;
  o.keepalive_interval = 1s;
  o.keepalive_count = 2;
  h.to_established(mss1460(), o);
  const Instant idle_from = h.now();
  h.expect_nothing(idle_from + 10s - 1ms);
  h.advance_to(idle_from + 10s);
  EXPECT_EQ(h.queued(), 1u);
  h.advance_to(idle_from + 11s);
  EXPECT_EQ(h.queued(), 2u);
  h.clear_outputs();
  h.advance_to(idle_from + 12s);
  h.clear_outputs();
  EXPECT_TRUE(h.gone());
}

// ---------------------------------------------------------------- next_deadline

// DESIGN.md: next_deadline is exact (timer at it has work to do: here, it emits or drops)
// and afterwards empty or later (the harness checks the latter on every timer call).
void step_deadline(Harness& h, Loc loc = Loc::current()) {
  auto d = next_deadline(h.s);
  if (!d) {
    ADD_FAILURE_AT(loc.file_name(), loc.line()) << "no deadline";
    return;
  }
  EXPECT_GE(*d, h.now());
  // Just before it, nothing.
  if (*d > h.now()) {
    const std::size_t before = h.queued() + h.drops.size();
    auto r = timer(h.s, *d - 1ns);
    if (!r.out.empty() || !r.drops.empty())
      ADD_FAILURE_AT(loc.file_name(), loc.line()) << "timer did something before next_deadline";
    EXPECT_EQ(h.queued() + h.drops.size(), before);
  }
  const std::size_t before = h.queued() + h.drops.size();
  h.advance_to(*d, loc);
  if (h.queued() + h.drops.size() == before)
    ADD_FAILURE_AT(loc.file_name(), loc.line()) << "timer at next_deadline did nothing visible";
}

TEST(NextDeadline, ExactThroughALifetime) {
  Harness h;
  h.to_syn_sent();
  step_deadline(h);  // SYN retransmission
  h.expect({.flag = Flag::syn, .seq = 0, .ack = std::nullopt, .window = 65535, .check_options = false});
  Tcp sa = syn(0, mss1460());
  sa.ack = 1;
  h.peer_sends(sa, h.now() + 10ms);
  h.expect(ack(1, 1));
  EXPECT_FALSE(next_deadline(h.s).has_value()) << "idle ESTABLISHED needs no timer";

  h.peer_sends(data(1, 1, "x"), h.now() + 10ms);
  step_deadline(h);  // delayed ACK
  h.expect(ack(1, 2));
  EXPECT_FALSE(next_deadline(h.s).has_value());

  ASSERT_TRUE(h.send("y"));
  h.expect({.seq = 1, .ack = 2, .push = true, .payload = "y"});
  step_deadline(h);  // retransmission
  h.expect({.seq = 1, .ack = 2, .push = true, .payload = "y"});
  h.peer_sends(ack(2, 2, kPeerWindow), h.now() + 10ms);
  EXPECT_FALSE(next_deadline(h.s).has_value()) << "everything acknowledged";

  EXPECT_EQ(h.read_all(), "x");  // else close() resets
  ASSERT_TRUE(h.close());
  h.expect(fin(2, 2));
  step_deadline(h);  // FIN retransmission
  h.expect(fin(2, 2));
  h.peer_sends(ack(2, 3, kPeerWindow), h.now() + 10ms);
  EXPECT_EQ(h.state(), TcpState::fin_wait_2);
  step_deadline(h);  // FIN-WAIT-2 timeout
  EXPECT_TRUE(h.gone());
  EXPECT_FALSE(next_deadline(h.s).has_value());
}

// timer may be called at any instant: late calls run everything due at once.
TEST(NextDeadline, LateTimerCallRunsEverythingDue) {
  Harness h;
  h.to_syn_sent();
  auto r = timer(h.s, h.t0() + 4s);  // SYN retransmissions were due at 1 s and 3 s
  EXPECT_GE(r.out.size(), 1u);
  auto d = next_deadline(r.state);
  ASSERT_TRUE(d.has_value());
  EXPECT_GT(*d, h.t0() + 4s);
  EXPECT_FALSE(check_invariants(r.state).has_value());
}

// Every flow's deadline is reflected in the stack's: the minimum over flows.
TEST(NextDeadline, IsMinimumOverFlows) {
  Harness h;
  h.to_syn_sent();
  auto c2 = utcp::connect(h.s, h.now() + 300ms, h.local_ip, h.remote_ip, 443, std::uint16_t{81});
  ASSERT_TRUE(c2);
  auto d = next_deadline(c2->state);
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(*d, h.t0() + 1s);
  EXPECT_EQ(num_connections(c2->state), 2u);
  auto i2 = info(c2->state, c2->flow);
  ASSERT_TRUE(i2);
  ASSERT_TRUE(i2->deadline);
  EXPECT_EQ(*i2->deadline, h.t0() + 1300ms);
}

}  // namespace
}  // namespace utcp::test
