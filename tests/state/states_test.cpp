// The life of a connection, state by state (RFC 9293 §3.3.2, in the order of its diagram),
// in the manner of smoltcp's socket tests: each banner names a state and the tests below it
// start there (or reach it as their first step). Segment x state rules are in matrix_test.cpp
// and input_rules_test.cpp; timers, windows, congestion and options have files of their own,
// most of them in ESTABLISHED. README.md lists, for each state, every file that tests it.
#include <gtest/gtest.h>

#include "harness.hpp"

namespace utcp::test {
namespace {

// ============================================================================================
// CLOSED
// No connection: a segment for a port nobody listens on (§3.10.7.1).
// ============================================================================================

// A SYN to a port nobody listens on: <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>.
TEST(HandshakeRefused, SynToClosedPort) {
  Harness h;
  h.peer_sends(syn(0));
  h.expect({.flag = Flag::rst, .seq = 0, .ack = 1, .window = std::nullopt, .check_options = false});
  EXPECT_EQ(num_connections(h.s), 0u);
  EXPECT_EQ(stats(h.s).drop(DropReason::no_connection), 1u);
}

TEST(HandshakeRefused, SynToClosedPortIpv6) {
  Harness h(HarnessOptions{.ipv6 = true});
  Tcp s = syn(0);
  s.payload = "abc";
  h.peer_sends(s);
  h.expect({.flag = Flag::rst, .seq = 0, .ack = 4, .window = std::nullopt, .check_options = false});
}

// ============================================================================================
// LISTEN
// The passive open (§3.10.7.2): what the SYN-ACK offers, what the peer's SYN options
// decide for the connection (MSS, window scale), data on a SYN, closing the port.
// ============================================================================================

// RFC 9293 §3.7.1 / RFC 6691: the MSS offered is the MTU less the fixed IP and TCP headers:
// 1500 - 20 - 20 = 1460 for IPv4.
TEST(HandshakeMss, OfferedOnSynAckIpv4) {
  Harness h;
  h.listen();
  h.peer_sends(syn(0, {Mss{1000}}));
  h.expect({.flag = Flag::syn, .seq = 0, .ack = 1, .options = {Mss{1460}}});
}

// 1500 - 40 (IPv6 header) - 20 = 1440.
TEST(HandshakeMss, OfferedOnSynAckIpv6) {
  Harness h(HarnessOptions{.ipv6 = true});
  h.listen();
  h.peer_sends(syn(0, {Mss{1000}}));
  h.expect({.flag = Flag::syn, .seq = 0, .ack = 1, .options = {Mss{1440}}});
}

// A smaller MTU lowers the offer: 1280 - 40 = 1240.
TEST(HandshakeMss, OfferFollowsMtu) {
  Config c;
  c.mtu = 1280;
  Harness h(c);
  h.listen();
  h.peer_sends(syn(0));
  h.expect({.flag = Flag::syn, .seq = 0, .ack = 1, .options = {Mss{1240}}});
}

// RFC 9293 §3.7.1 (and RFC 6691): without the option the peer's MSS is 536 for IPv4 (576 -
// 40) and 1220 for IPv6 (1280 - 60); segments are no larger.
TEST(HandshakeMss, DefaultPeerMssIpv4Is536) {
  Harness h;
  h.to_established();
  EXPECT_EQ(h.conn().mss, 536u);
  ASSERT_TRUE(h.send(std::string(1000, 'x')));
  auto first = h.take();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->out.segment.payload.size(), 536u);
}

TEST(HandshakeMss, DefaultPeerMssIpv6Is1220) {
  Harness h(HarnessOptions{.ipv6 = true});
  h.to_established();
  EXPECT_EQ(h.conn().mss, 1220u);
  ASSERT_TRUE(h.send(std::string(2000, 'x')));
  auto first = h.take();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->out.segment.payload.size(), 1220u);
}

// The effective MSS is min(peer's MSS, ours).
TEST(HandshakeMss, PeerMssHonoured) {
  Harness h;
  h.to_established({Mss{1000}});
  EXPECT_EQ(h.conn().mss, 1000u);
  ASSERT_TRUE(h.send(std::string(2500, 'x')));
  h.expect({.seq = 1, .ack = 1, .window = std::nullopt, .payload = std::string(1000, 'x')});
  h.expect({.seq = 1001, .ack = 1, .window = std::nullopt, .payload = std::string(1000, 'x')});
  h.expect_nothing();  // Nagle holds the 500-byte tail while data is unacknowledged
  h.peer_sends(ack(1, 2001, kPeerWindow), h.now() + 10ms);
  h.expect({.seq = 2001, .ack = 1, .push = true, .window = std::nullopt, .payload = std::string(500, 'x')});
}

// A peer announcing MSS 0 (or 1) must not make the sender emit empty segments or loop: the
// effective MSS is clamped to something positive and the data still goes out.
TEST(HandshakeMss, TinyPeerMssStillSendsData) {
  for (std::uint16_t m : {std::uint16_t{0}, std::uint16_t{1}}) {
    SCOPED_TRACE(m);
    Harness h;
    h.to_established({Mss{m}});
    EXPECT_GT(h.conn().mss, 0u);
    FlowOptions nd;
    nd.nodelay = true;
    auto so = set_options(std::move(h.s), h.flow, nd);
    ASSERT_TRUE(so);
    h.s = std::move(*so);
    ASSERT_TRUE(h.send(std::string(300, 'm')));
    std::uint32_t got = 0;
    for (int round = 0; round < 400 && got < 300; ++round) {
      if (h.queued() == 0) break;
      while (h.queued() > 0) {
        const Segment seg = h.take()->out.segment;
        ASSERT_GT(seg.payload.size(), 0u) << h.describe_out(seg);
        got = std::max(got, h.rel_local(seg.seq) + static_cast<std::uint32_t>(seg.payload.size()) - 1);
      }
      h.peer_sends(ack(1, got + 1, kPeerWindow), h.now() + 1ms);
    }
    EXPECT_EQ(got, 300u);
  }
}

TEST(HandshakeMss, LargePeerMssClampedToOurs) {
  Harness h;
  h.to_established({Mss{9000}});
  EXPECT_EQ(h.conn().mss, 1460u);
}

// RFC 7323 §2.2: scaling is in effect only when both SYNs carry the option; the SYN-ACK
// carries it only when the SYN did.
TEST(HandshakeWindowScale, NegotiatedWhenPeerOffers) {
  Harness h;
  h.listen();
  h.peer_sends(syn(0, {Mss{1460}, WindowScale{7}}));
  h.expect({.flag = Flag::syn, .seq = 0, .ack = 1, .window = 65535, .options = {Mss{1460}, WindowScale{3}}});
  h.peer_sends(ack(1, 1, 1000), h.now() + 10ms);
  const ConnInfo ci = h.conn();
  EXPECT_EQ(ci.state, TcpState::established);
  EXPECT_EQ(ci.snd_wscale, 7);
  EXPECT_EQ(ci.rcv_wscale, 3);
  EXPECT_EQ(ci.snd_wnd, 1000u << 7) << "the peer's window field is scaled by its shift";
}

TEST(HandshakeWindowScale, NotUsedWhenPeerDoesNotOffer) {
  Harness h;
  h.listen();
  h.peer_sends(syn(0, {Mss{1460}}));
  h.expect({.flag = Flag::syn, .seq = 0, .ack = 1, .window = 65535, .options = {Mss{1460}}});
  h.peer_sends(ack(1, 1, 1000), h.now() + 10ms);
  const ConnInfo ci = h.conn();
  EXPECT_EQ(ci.snd_wscale, 0);
  EXPECT_EQ(ci.rcv_wscale, 0);
  EXPECT_EQ(ci.snd_wnd, 1000u);
}

// The shift is the smallest that fits the receive buffer in 16 bits: 1 MiB >> 4 = 65536
// does not fit, 1 MiB >> 5 = 32768 does.
TEST(HandshakeWindowScale, ShiftChosenFromReceiveBuffer) {
  Harness h;
  FlowOptions o;
  o.recv_buffer = 1024 * 1024;
  h.listen(o);
  h.peer_sends(syn(0, {Mss{1460}, WindowScale{0}}));
  h.expect({.flag = Flag::syn, .seq = 0, .ack = 1, .window = 65535, .options = {Mss{1460}, WindowScale{5}}});
}

// RFC 7323 §2.3: the shift is at most 14; a larger offer is used as 14.
TEST(HandshakeWindowScale, PeerShiftAbove14IsClamped) {
  Harness h;
  h.to_established({Mss{1460}, WindowScale{20}});
  EXPECT_EQ(h.conn().snd_wscale, 14);
}

// Config{} configures neither SACK nor timestamps (the host layer turns both on): the peer's
// offers are not echoed, and later segments carry no options.
TEST(HandshakeOptions, SackPermittedAndTimestampsIgnored) {
  Harness h;
  h.listen();
  h.peer_sends(syn(0, {Mss{1460}, SackPermitted{}, Timestamps{12345, 0}}));
  h.expect({.flag = Flag::syn, .seq = 0, .ack = 1, .options = {Mss{1460}}});
  h.peer_sends({.seq = 1, .ack = 1, .window = kPeerWindow, .options = {Timestamps{12346, 1}}},
               h.now() + 10ms);
  EXPECT_EQ(h.state(), TcpState::established);
  ASSERT_TRUE(h.send("abc"));
  h.expect({.seq = 1, .ack = 1, .push = true, .options = {}, .payload = "abc"});
}

TEST(HandshakeOptions, UnknownOptionOnSynIgnored) {
  Harness h;
  h.listen();
  h.peer_sends(syn(0, {Mss{1460}, UnknownOption{.kind = 99, .data = {std::byte{1}, std::byte{2}}}}));
  h.expect({.flag = Flag::syn, .seq = 0, .ack = 1, .options = {Mss{1460}}});
}

// §3.10.7.2: data on a SYN is queued and processed once the connection is ESTABLISHED;
// the SYN-ACK acknowledges only the SYN.
TEST(HandshakeData, DataOnSynHeldUntilEstablished) {
  Harness h;
  h.listen();
  Tcp s = syn(0);
  s.payload = "hello";
  h.peer_sends(s);
  h.expect({.flag = Flag::syn, .seq = 0, .ack = 1, .check_options = false});
  EXPECT_EQ(h.conn().recv_queued, 0u) << "nothing readable before ESTABLISHED";
  // The peer's bytes 1..5 are unacknowledged; its ACK is at its SND.NXT = 6.
  h.peer_sends(ack(6, 1, kPeerWindow), h.now() + 10ms);
  EXPECT_TRUE(h.take_event<Established<int>>());
  EXPECT_EQ(h.read_all(), "hello");
  h.advance(100ms);
  h.expect({.seq = 1, .ack = 6});
}

// After stop_listen the port is closed again.
TEST(HandshakeRefused, StopListen) {
  Harness h;
  h.listen();
  EXPECT_TRUE(listening(h.s, kLocalPort));
  h.s = stop_listen(std::move(h.s), kLocalPort);
  EXPECT_FALSE(listening(h.s, kLocalPort));
  h.peer_sends(syn(0));
  h.expect({.flag = Flag::rst, .seq = 0, .ack = 1, .window = std::nullopt, .check_options = false});
}

// ============================================================================================
// SYN-SENT
// The active open (§3.10.7.3): the SYN's ISN and options, the SYN-ACK, a simultaneous open,
// a refused connection.
// ============================================================================================

// RFC 6528 §3: ISN = M + F(localip, localport, remoteip, remoteport, secretkey), M a 4 µs
// timer: the same 4-tuple one second later gets an ISN 1 s / 4 µs = 250000 higher.
TEST(Isn, Rfc6528ClockComponent) {
  Harness h;
  h.connect();
  const Seq first = h.take()->out.segment.seq;
  ASSERT_TRUE(h.abort());
  h.clear_outputs();
  h.advance(1s);
  h.connect();
  const Seq second = h.take()->out.segment.seq;
  EXPECT_EQ(second - first, 250000u);
}

// Different 4-tuples get unrelated ISNs (the hash), not a shared counter.
TEST(Isn, DependsOnFourTuple) {
  Harness h;
  auto a = connect(h.s, h.now(), h.local_ip, h.remote_ip, 80, std::uint16_t{1000});
  auto b = connect(h.s, h.now(), h.local_ip, h.remote_ip, 80, std::uint16_t{1001});
  ASSERT_TRUE(a && b);
  const std::uint32_t d = b->syn.segment.seq - a->syn.segment.seq;
  EXPECT_GT(std::min(d, 0u - d), 1000u) << "ISNs of neighbouring ports should look unrelated";
}

// The active open offers the MSS and window scaling: 256 KiB needs shift 3 to fit in 16 bits
// (262144 >> 2 = 65536 > 65535, 262144 >> 3 = 32768). A SYN's window is never scaled
// (RFC 7323 §2.2): min(256 KiB, 65535).
TEST(HandshakeMss, ActiveOpenOffersMssAndWindowScale) {
  Harness h;
  h.connect();
  h.expect({.flag = Flag::syn,
            .seq = 0,
            .ack = std::nullopt,
            .window = 65535,
            .options = {Mss{1460}, WindowScale{3}}});
}

TEST(HandshakeMss, ActiveOpenIpv6Offers1440) {
  Harness h(HarnessOptions{.ipv6 = true});
  h.connect();
  h.expect({.flag = Flag::syn,
            .seq = 0,
            .ack = std::nullopt,
            .window = 65535,
            .options = {Mss{1440}, WindowScale{3}}});
}

TEST(HandshakeMss, ActiveOpenHonoursPeerMss) {
  Harness h;
  h.to_established_active({Mss{1200}});
  EXPECT_EQ(h.conn().mss, 1200u);
}

TEST(HandshakeWindowScale, ActiveOpenWithoutPeerOptionTurnsScalingOff) {
  Harness h;
  h.to_established_active({Mss{1460}});
  EXPECT_EQ(h.conn().snd_wscale, 0);
  EXPECT_EQ(h.conn().rcv_wscale, 0);
  // Unscaled: the window field is min(free space, 65535).
  ASSERT_TRUE(h.send("x"));
  h.expect({.seq = 1, .ack = 1, .push = true, .window = 65535, .payload = "x"});
}

TEST(HandshakeWindowScale, ActiveOpenWithPeerOption) {
  Harness h;
  h.to_established_active({Mss{1460}, WindowScale{2}});
  EXPECT_EQ(h.conn().snd_wscale, 2);
  EXPECT_EQ(h.conn().rcv_wscale, 3);
  // Scaled: 262144 free >> 3 = 32768.
  ASSERT_TRUE(h.send("x"));
  h.expect({.seq = 1, .ack = 1, .push = true, .window = 32768, .payload = "x"});
}

TEST(HandshakeWindowScale, NotOfferedWhenDisabled) {
  Config c;
  c.window_scaling = false;
  Harness h(c);
  h.connect();
  h.expect({.flag = Flag::syn, .seq = 0, .ack = std::nullopt, .window = 65535, .options = {Mss{1460}}});
}

// §3.10.7.3: a SYN-ACK with data: ESTABLISHED and the data acknowledged at once.
TEST(HandshakeData, DataOnSynAckAccepted) {
  Harness h;
  h.to_syn_sent();
  Tcp sa = syn(0, {Mss{1460}});
  sa.ack = 1;
  sa.payload = "greeting";
  h.peer_sends(sa, h.now() + 10ms);
  h.expect(ack(1, 9));
  auto ev = h.take_event<Established<int>>();
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->notify, h.connect_notify);
  EXPECT_EQ(h.read_all(), "greeting");
}

// RFC 9293 §3.5 Figure 7 (µTCP fault 5): both sides send SYN; each answers SYN-ACK; the
// SYN-ACK's SYN is old (SEG.SEQ = IRS) and trimmed, its ACK completes the handshake.
TEST(HandshakeSimultaneous, SimultaneousOpen) {
  Harness h;
  h.to_syn_sent();
  h.peer_sends(syn(0, {Mss{1460}}), h.now() + 5ms);
  EXPECT_EQ(h.state(), TcpState::syn_received);
  // <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>; no window scale: the peer's SYN had none.
  h.expect({.flag = Flag::syn, .seq = 0, .ack = 1, .window = 65535, .options = {Mss{1460}}});
  Tcp sa = syn(0, {Mss{1460}});
  sa.ack = 1;
  h.peer_sends(sa, h.now() + 5ms);
  EXPECT_EQ(h.state(), TcpState::established);
  auto ev = h.take_event<Established<int>>();
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->notify, h.connect_notify) << "still an active open";
  // An ACK for the duplicate SYN may or may not be sent; nothing else.
  if (h.queued() > 0) h.expect(ack(1, 1));
  h.expect_nothing(h.now() + 2s);
  ASSERT_TRUE(h.send("x"));
  h.expect({.seq = 1, .ack = 1, .push = true, .payload = "x"});
}

// Simultaneous open where the peer completes with a plain ACK.
TEST(HandshakeSimultaneous, SimultaneousOpenPlainAck) {
  Harness h;
  h.to_syn_sent();
  h.peer_sends(syn(0, {Mss{1460}}), h.now() + 5ms);
  h.expect({.flag = Flag::syn, .seq = 0, .ack = 1, .window = 65535, .options = {Mss{1460}}});
  h.peer_sends(ack(1, 1, kPeerWindow), h.now() + 5ms);
  EXPECT_EQ(h.state(), TcpState::established);
  auto ev = h.take_event<Established<int>>();
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->notify, h.connect_notify);
  h.expect_nothing(h.now() + 10s);
  EXPECT_EQ(h.state(), TcpState::established) << "no SYN-ACK retransmission timer left (µTCP fault 1)";
}

// §3.10.7.3: an acceptable RST in SYN-SENT: "connection reset"; the flow is gone and the
// waiters are woken.
TEST(HandshakeRefused, RstAckInSynSentDrops) {
  Harness h;
  h.to_syn_sent();
  h.peer_sends(rst(0, 1), h.now() + 10ms);
  EXPECT_TRUE(h.gone());
  auto ev = h.take_event<Drop<int>>();
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->flow, h.flow);
  h.expect_nothing(h.now() + 10s);
}

// ============================================================================================
// SYN-RECEIVED
// The handshake's last step: the final ACK (with data, with a FIN), a duplicate SYN, an RST.
// ============================================================================================

// µTCP fault 2: data on the handshake's final ACK must be accepted and acknowledged.
TEST(HandshakeData, DataOnFinalAckAccepted) {
  Harness h;
  h.to_syn_received();
  h.peer_sends(data(1, 1, "abc"), h.now() + 10ms);
  EXPECT_TRUE(h.take_event<Established<int>>());
  EXPECT_EQ(h.state(), TcpState::established);
  // Acknowledged within the delayed-ACK time (40 ms).
  h.expect_at(ack(1, 4), h.now() + 40ms);
  EXPECT_EQ(h.read_all(), "abc");
}

TEST(HandshakeData, DataAndFinOnFinalAckAccepted) {
  Harness h;
  h.to_syn_received();
  Tcp s = data(1, 1, "abc");
  s.flag = Flag::fin;
  h.peer_sends(s, h.now() + 10ms);
  EXPECT_TRUE(h.take_event<Established<int>>());
  EXPECT_EQ(h.state(), TcpState::close_wait);
  h.expect(ack(1, 5));  // FIN: acknowledged at once (data 3 + FIN 1)
  EXPECT_EQ(h.read_all(), "abc");
  auto r = h.recv();
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().kind, Error::Kind::eof);
}

// The peer's SYN again (our SYN-ACK was lost): SEG.SEQ = IRS lies below RCV.NXT. RFC 9293
// answers an unacceptable segment with <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>; retransmitting
// the SYN-ACK (what most stacks do) serves the peer better. Either; the flow stays.
TEST(SynReceived, DuplicateSynAnswered) {
  Harness h;
  h.to_syn_received();
  h.peer_sends(syn(0), h.now() + 500ms);
  auto e = h.take();
  ASSERT_TRUE(e);
  const Segment& g = e->out.segment;
  EXPECT_EQ(g.ack, std::optional<Seq>(h.peer_seq(1))) << h.describe_out(g);
  EXPECT_TRUE((g.flag == Flag::syn && g.seq == h.local_seq(0)) ||
              (g.flag == Flag::none && g.seq == h.local_seq(1)))
      << h.describe_out(g);
  EXPECT_EQ(h.state(), TcpState::syn_received);
  h.peer_sends(ack(1, 1, kPeerWindow), h.now() + 10ms);
  EXPECT_EQ(h.state(), TcpState::established);
}

// An RST at RCV.NXT returns a passive SYN-RECEIVED to LISTEN: the listener takes new SYNs.
TEST(SynReceived, RstReturnsToListen) {
  Harness h;
  h.to_syn_received();
  h.peer_sends(rst(1), h.now() + 10ms);
  EXPECT_TRUE(h.gone());
  EXPECT_TRUE(listening(h.s, kLocalPort));
  h.expect_nothing(h.now() + 5s);
  h.peer_sends(syn(0), h.now() + 1ms);
  auto e = h.take();
  ASSERT_TRUE(e);
  EXPECT_EQ(e->out.segment.flag, Flag::syn);
  EXPECT_EQ(h.state(), TcpState::syn_received);
}

// ============================================================================================
// ESTABLISHED
// Ending the connection from ESTABLISHED: shutdown (§3.6.1 half-close), close() with
// data queued or unread (RFC 1122 4.2.2.13). Data transfer has its own files (window,
// congestion, timers, sack, ...).
// ============================================================================================

// §3.6.1: shutdown(write) sends FIN, the read side stays open.
TEST(HalfClose, ShutdownWriteKeepsReading) {
  Harness h;
  h.to_fin_wait_2();
  EXPECT_TRUE(h.conn().write_shut);
  h.peer_sends(data(1, 2, "still here"), h.now() + 10ms);
  EXPECT_EQ(h.read_all(), "still here");
  h.expect_by(ack(2, 11), h.now() + 40ms);  // at once or delayed
  h.peer_sends(fin(11, 2, kPeerWindow), h.now() + 10ms);
  h.expect(ack(2, 12));
  EXPECT_EQ(h.state(), TcpState::time_wait);
  auto r = h.recv();
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().kind, Error::Kind::eof);
}

TEST(HalfClose, SendAfterShutdownWriteFails) {
  Harness h;
  h.to_fin_wait_1();
  auto r = h.send("late");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().kind, Error::Kind::msg);
  h.expect_nothing();
}

// Queued data goes out before the FIN.
TEST(HalfClose, ShutdownWriteAfterDataFinFollowsData) {
  Harness h;
  h.to_established();
  ASSERT_TRUE(h.send("abc"));
  h.expect({.seq = 1, .ack = 1, .push = true, .payload = "abc"});
  ASSERT_TRUE(h.shutdown(Direction::write));
  h.expect(fin(4, 1));
  EXPECT_EQ(h.state(), TcpState::fin_wait_1);
}

// shutdown(read) sends nothing and leaves the write side usable.
TEST(HalfClose, ShutdownReadSendsNothing) {
  Harness h;
  h.to_established();
  ASSERT_TRUE(h.shutdown(Direction::read));
  h.expect_nothing();
  EXPECT_EQ(h.state(), TcpState::established);
  EXPECT_TRUE(h.conn().read_shut);
  EXPECT_FALSE(h.conn().write_shut);
  ASSERT_TRUE(h.send("out"));
  h.expect({.seq = 1, .ack = 1, .push = true, .payload = "out"});
}

TEST(HalfClose, ShutdownReadWriteSendsFin) {
  Harness h;
  h.to_established();
  ASSERT_TRUE(h.shutdown(Direction::read_write));
  h.expect(fin(1, 1));
  EXPECT_EQ(h.state(), TcpState::fin_wait_1);
  EXPECT_TRUE(h.conn().read_shut);
  EXPECT_TRUE(h.conn().write_shut);
}

// Data and FIN queued behind a closed window leave together when it opens.
TEST(HalfClose, FinRidesOnQueuedData) {
  Harness h;
  h.to_established({Mss{1460}});
  h.peer_sends(ack(1, 1, 0), h.now() + 10ms);
  ASSERT_TRUE(h.send("abc"));
  ASSERT_TRUE(h.close());
  h.expect_nothing();
  h.peer_sends(ack(1, 1, kPeerWindow), h.now() + 10ms);
  h.expect({.flag = Flag::fin, .seq = 1, .ack = 1, .push = true, .payload = "abc"});
  EXPECT_EQ(h.state(), TcpState::fin_wait_1);
  h.peer_sends(ack(1, 5, kPeerWindow), h.now() + 10ms);
  EXPECT_EQ(h.state(), TcpState::fin_wait_2);
}

// ... and closing with unread data pending resets too, instead of a FIN.
TEST(HalfClose, CloseWithUnreadDataSendsRst) {
  Harness h;
  h.to_established();
  h.peer_sends(data(1, 1, "unread"), h.now() + 10ms);
  h.advance(100ms);
  h.expect(ack(1, 7));
  ASSERT_TRUE(h.close());
  auto e = h.take();
  ASSERT_TRUE(e);
  EXPECT_EQ(e->out.segment.flag, Flag::rst) << h.describe_out(e->out.segment);
  EXPECT_EQ(e->out.segment.seq, h.local_seq(1));
  EXPECT_TRUE(h.gone());
}

// ============================================================================================
// FIN-WAIT-1
// Our FIN sent, not yet acknowledged: the active close (§3.6).
// ============================================================================================

// The ordinary active close: FIN-WAIT-1 -> FIN-WAIT-2 -> TIME-WAIT.
TEST(HandshakeClose, ActiveClose) {
  Harness h;
  h.to_established();
  ASSERT_TRUE(h.close());
  h.expect(fin(1, 1));
  EXPECT_EQ(h.state(), TcpState::fin_wait_1);
  h.peer_sends(ack(1, 2, kPeerWindow), h.now() + 10ms);
  EXPECT_EQ(h.state(), TcpState::fin_wait_2);
  h.peer_sends(fin(1, 2, kPeerWindow), h.now() + 10ms);
  h.expect(ack(2, 2));
  EXPECT_EQ(h.state(), TcpState::time_wait);
  EXPECT_EQ(num_connections(h.s), 1u) << "TIME-WAIT counts";
}

// ============================================================================================
// FIN-WAIT-2
// Our FIN acknowledged, the peer's not yet come: a half-closed reader is not timed out,
// data after close() is answered with RST.
// ============================================================================================

// The FIN-WAIT-2 timeout is for connections nobody reads any more (after close()); a
// half-closed connection whose application still reads - a client that sent its request
// and shutdown(write), waiting for a slow answer - is not cut off after 60 s.
TEST(HalfClose, HalfClosedFinWait2NotTimedOut) {
  Harness h;
  h.to_fin_wait_2();
  h.expect_nothing(h.now() + 10min);
  EXPECT_EQ(h.state(), TcpState::fin_wait_2);
  EXPECT_TRUE(h.drops.empty());
  h.peer_sends(data(1, 2, "late answer"), h.now() + 1ms);
  EXPECT_EQ(h.read_all(), "late answer");
}

// RFC 9293 §3.6.1 (SHLD-2, RFC 1122 4.2.2.13): after CLOSE, new data from the peer is
// answered with RST, <SEQ=SND.NXT>, to show it was lost.
TEST(HalfClose, DataAfterCloseAnsweredWithRst) {
  Harness h;
  h.to_fin_wait_2(/*by_close=*/true);
  h.peer_sends(data(1, 2, "lost"), h.now() + 10ms);
  auto e = h.take();
  ASSERT_TRUE(e);
  EXPECT_EQ(e->out.segment.flag, Flag::rst) << h.describe_out(e->out.segment);
  EXPECT_EQ(e->out.segment.seq, h.local_seq(2)) << "<SEQ=SND.NXT>";
  EXPECT_TRUE(h.gone());
  EXPECT_EQ(stats(h.s).drop(DropReason::after_shutdown), 1u);
}

// ============================================================================================
// CLOSE-WAIT
// The peer's FIN received: the passive close through LAST-ACK.
// ============================================================================================

// The passive close: CLOSE-WAIT -> LAST-ACK -> CLOSED when our FIN is acknowledged.
TEST(HandshakeClose, PassiveClose) {
  Harness h;
  h.to_close_wait();
  ASSERT_TRUE(h.close());
  h.expect(fin(1, 2));
  EXPECT_EQ(h.state(), TcpState::last_ack);
  h.expect_no_event();
  h.peer_sends(ack(2, 2, kPeerWindow), h.now() + 10ms);
  EXPECT_TRUE(h.gone());
  h.expect_nothing(h.now() + 5s);
  EXPECT_EQ(num_connections(h.s), 0u);
}

// ============================================================================================
// CLOSING
// Both FINs crossed (§3.6 Figure 13).
// ============================================================================================

// §3.6 Figure 13: both FINs cross: FIN-WAIT-1 -> CLOSING -> TIME-WAIT -> CLOSED (2 MSL).
TEST(HandshakeSimultaneous, SimultaneousClose) {
  Harness h;
  h.to_established();
  ASSERT_TRUE(h.close());
  h.expect(fin(1, 1));
  h.peer_sends(fin(1, 1, kPeerWindow), h.now() + 5ms);
  h.expect(ack(2, 2));
  EXPECT_EQ(h.state(), TcpState::closing);
  h.peer_sends(ack(2, 2, kPeerWindow), h.now() + 5ms);
  EXPECT_EQ(h.state(), TcpState::time_wait);
  const Instant tw = h.now();
  h.expect_nothing(tw + 60s - 1ms);
  EXPECT_EQ(h.state(), TcpState::time_wait);
  h.advance_to(tw + 60s);
  EXPECT_TRUE(h.gone());
  ASSERT_EQ(h.drops.size(), 1u);
  EXPECT_EQ(h.drops[0].flow, h.flow);
  EXPECT_EQ(h.drops[0].error, TimerError::timer_2msl);
  EXPECT_EQ(num_connections(h.s), 0u);
}

// ============================================================================================
// LAST-ACK
// Our FIN after the peer's: HandshakeClose.PassiveClose (CLOSE-WAIT above) ends here;
// the segment x state rows are in matrix_test.cpp.
// ============================================================================================

// ============================================================================================
// TIME-WAIT
// Both FINs done, 2 MSL to wait: a new SYN (RFC 6191), an RST (RFC 1337).
// ============================================================================================

// RFC 6191 §2 (no timestamps): a SYN with SEG.SEQ > RCV.NXT reopens the connection.
TEST(TimeWaitReuse, SynAboveRcvNxtStartsNewIncarnation) {
  Harness h;
  h.to_time_wait();
  const std::uint32_t r = h.rcv_nxt();
  EXPECT_EQ(r, 2u);
  h.peer_sends(syn(r + 100000, {Mss{1460}}), h.now() + 1s);
  auto e = h.take();
  ASSERT_TRUE(e);
  const Segment& sa = e->out.segment;
  EXPECT_EQ(sa.flag, Flag::syn) << h.describe_out(sa);
  EXPECT_EQ(sa.ack, std::optional<Seq>(h.peer_seq(r + 100001))) << h.describe_out(sa);
  EXPECT_EQ(h.state(), TcpState::syn_received);
  // Completes as a new connection.
  h.peer_isn = h.peer_seq(r + 100000);
  h.local_isn = sa.seq;
  h.peer_sends(ack(1, 1, kPeerWindow), h.now() + 10ms);
  auto ev = h.take_event<Established<int>>();
  ASSERT_TRUE(ev);
  EXPECT_FALSE(ev->notify.has_value());
  EXPECT_EQ(h.state(), TcpState::established);
  EXPECT_EQ(h.conn().rcv_nxt, h.peer_seq(1));
}

// An old SYN (SEG.SEQ below RCV.NXT) does not reopen it.
TEST(TimeWaitReuse, OldSynDoesNotReopen) {
  Harness h;
  h.to_time_wait();
  h.peer_sends(syn(0), h.now() + 1s);
  EXPECT_EQ(h.state(), TcpState::time_wait);
  // RFC 9293 step 1 / RFC 5961 §4 answer with an ACK, RFC 6191 drops it: both accepted.
  if (h.queued() > 0) h.expect(ack(2, 2));
  h.expect_nothing();
}

// An RST in TIME-WAIT (RFC 9293 §3.10.7.4 second check; RFC 1337 §3 F1). Found in the interop
// tests under duplication and reordering: after both FINs, an old duplicate from Linux reached
// utcp in TIME-WAIT, utcp's ACK of it reached Linux after its socket was gone, and Linux's RST
// (at RCV.NXT) removed the connection before `utcp connect` had read the last data and the end
// of stream: the tool reported "connection reset by peer" for a transfer that had completed.

// shutdown(write) -> FIN-WAIT-2; the peer's last text and FIN -> TIME-WAIT, nothing read yet.
void to_time_wait_with_unread_text(Harness& h) {
  h.to_fin_wait_2(/*by_close=*/false);
  h.peer_sends(data(1, 2, "tail"), h.now() + 1ms);
  h.peer_sends(fin(5, 2, kPeerWindow), h.now() + 1ms);
  while (h.queued() > 0) h.take();  // the ACK(s): of the text (maybe delayed) and of the FIN
  ASSERT_EQ(h.state(), TcpState::time_wait);
  h.events.clear();
}

TEST(TimeWaitRst, IgnoredWhileTheUserMayStillRead) {
  Harness h;
  to_time_wait_with_unread_text(h);
  // The peer's RST exactly at RCV.NXT (after its FIN): RFC 1337 F1, ignored.
  h.peer_sends(rst(6), h.now() + 2ms);
  h.expect_nothing();
  h.expect_no_event();
  EXPECT_EQ(h.state(), TcpState::time_wait);
  EXPECT_EQ(stats(h.s).resets_received, 0u);
  // The text and the end of stream are still there to read.
  EXPECT_EQ(h.read_all(), "tail");
  auto r = h.recv();
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().kind, Error::Kind::eof);
  // And TIME-WAIT still ends after 2 MSL.
  h.advance(60s);
  EXPECT_TRUE(h.gone());
}

TEST(TimeWaitRst, AfterCloseItStillEndsTheConnection) {
  Harness h;
  h.to_fin_wait_2(/*by_close=*/true);
  h.peer_sends(fin(1, 2, kPeerWindow), h.now() + 1ms);
  h.expect(ack(2, 2));
  ASSERT_EQ(h.state(), TcpState::time_wait);
  h.events.clear();
  h.peer_sends(rst(2), h.now() + 2ms);  // RFC 9293 §3.10.7.4: CLOSED, TCB deleted
  h.expect_nothing();
  EXPECT_TRUE(h.gone());
  EXPECT_EQ(stats(h.s).resets_received, 1u);
}

}  // namespace
}  // namespace utcp::test
