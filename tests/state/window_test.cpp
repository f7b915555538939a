// Flow control: the send-window update rule (RFC 9293 §3.10.7.4 fifth step), silly window
// syndrome avoidance on both sides (§3.8.6.2.1, §3.8.6.2.2), window scaling arithmetic
// (RFC 7323 §2.3), window updates after reads (§3.8.6.2.2, RFC 1122 4.2.3.3), and PSH
// (§3.9.1.2).
#include <gtest/gtest.h>

#include "harness.hpp"

namespace utcp::test {
namespace {

// ---------------------------------------------------------------- SND.WL1 / SND.WL2

// §3.10.7.4: the window is taken from a segment only when SND.WL1 < SEG.SEQ, or SND.WL1 =
// SEG.SEQ and SND.WL2 =< SEG.ACK: an older segment does not overwrite a newer window. The
// peer sends A (seq 1, window 2000) then B (seq 4, window 3000); B overtakes A.
TEST(SendWindow, ReorderedOlderSegmentDoesNotUpdateWindow) {
  Harness h;
  h.to_established({Mss{1460}});
  h.peer_sends(data(4, 1, "def", true, 3000), h.now() + 10ms);  // out of order, acceptable
  h.expect(ack(1, 1));
  EXPECT_EQ(h.conn().snd_wnd, 3000u) << "SND.WL1 0 < SEG.SEQ 4";
  h.peer_sends(data(1, 1, "abc", true, 2000), h.now() + 1ms);
  EXPECT_EQ(h.conn().snd_wnd, 3000u) << "SEG.SEQ 1 < SND.WL1 4: the older window is ignored";
  EXPECT_EQ(h.read_all(), "abcdef");
}

TEST(SendWindow, SameSeqNewerAckUpdates) {
  Harness h;
  h.to_established({Mss{1460}});
  ASSERT_TRUE(h.send(std::string(100, 'x')));
  h.take();
  h.peer_sends(ack(1, 51, 1000), h.now() + 10ms);
  EXPECT_EQ(h.conn().snd_wnd, 1000u);
  h.peer_sends(ack(1, 101, 1500), h.now() + 1ms);
  EXPECT_EQ(h.conn().snd_wnd, 1500u) << "SND.WL1 = SEG.SEQ and SND.WL2 51 =< SEG.ACK 101";
  // A reordered older ACK (SEG.ACK 51 < SND.UNA 101): no update.
  h.peer_sends(ack(1, 51, 5000), h.now() + 1ms);
  EXPECT_EQ(h.conn().snd_wnd, 1500u);
}

// A pure window update (same SEG.SEQ and SEG.ACK) opens the window.
TEST(SendWindow, PureWindowUpdateOpens) {
  Harness h;
  h.to_established({Mss{1460}});
  h.peer_sends(ack(1, 1, 0), h.now() + 10ms);
  EXPECT_EQ(h.conn().snd_wnd, 0u);
  ASSERT_TRUE(h.send("waiting"));
  h.expect_nothing();
  h.peer_sends(ack(1, 1, 4000), h.now() + 10ms);
  h.expect({.seq = 1, .ack = 1, .push = true, .payload = "waiting"});
}

// The sender never sends beyond the offered window.
TEST(SendWindow, SenderRespectsWindow) {
  Harness h;
  h.to_established({Mss{1460}});
  h.peer_sends(ack(1, 1, 3000), h.now() + 10ms);
  ASSERT_TRUE(h.send(std::string(10000, 'w')));
  std::uint32_t sent = 0;
  while (h.queued() > 0) sent += static_cast<std::uint32_t>(h.take()->out.segment.payload.size());
  // Two full segments; the 80 bytes that would fill the window are a small segment held by
  // Nagle while data is outstanding.
  EXPECT_EQ(sent, 2920u);
  h.peer_sends(ack(1, 2921, 3000), h.now() + 10ms);
  sent = 0;
  while (h.queued() > 0) sent += static_cast<std::uint32_t>(h.take()->out.segment.payload.size());
  EXPECT_EQ(sent, 2920u) << "the window is 3000 from the new SND.UNA";
}

// ---------------------------------------------------------------- sender SWS

// §3.8.6.2.1: with a usable window smaller than both SMSS and half the largest window the
// peer has offered, and more data queued than fits, the sender waits.
TEST(SenderSws, SmallUsableWindowWaits) {
  Harness h;
  h.to_established({Mss{1460}});  // the peer offered 65535
  h.peer_sends(ack(1, 1, 100), h.now() + 10ms);
  ASSERT_TRUE(h.send(std::string(1000, 's')));
  h.expect_nothing(h.now() + 150ms);
  h.peer_sends(ack(1, 1, 4000), h.now() + 1ms);
  h.expect({.seq = 1, .ack = 1, .push = true, .payload = std::string(1000, 's')});
}

// ... but when everything queued fits, it goes (nothing is outstanding, so Nagle allows it).
TEST(SenderSws, AllQueuedDataFitsGoesAtOnce) {
  Harness h;
  h.to_established({Mss{1460}});
  h.peer_sends(ack(1, 1, 100), h.now() + 10ms);
  ASSERT_TRUE(h.send(std::string(50, 's')));
  h.expect({.seq = 1, .ack = 1, .push = true, .payload = std::string(50, 's')});
}

// ---------------------------------------------------------------- receiver side

FlowOptions small_buffer() {
  FlowOptions o;
  o.recv_buffer = 4096;
  return o;
}

// A closed window reopened by a read is announced at once (else both sides wait for a
// probe).
TEST(ReceiveWindow, ReadReopeningClosedWindowSendsUpdate) {
  Harness h;
  h.to_established({Mss{1460}}, small_buffer());
  EXPECT_EQ(h.conn().rcv_wnd, 4096u);
  h.peer_sends(data(1, 1, std::string(1460, 'a'), false), h.now() + 10ms);
  h.peer_sends(data(1461, 1, std::string(1460, 'b'), false), h.now() + 1ms);
  h.expect(ack(1, 2921, 4096 - 2920));  // every second full segment
  h.peer_sends(data(2921, 1, std::string(1176, 'c')), h.now() + 1ms);
  h.advance(100ms);
  h.expect(ack(1, 4097, 0));  // the window is full
  EXPECT_EQ(h.conn().rcv_wnd, 0u);
  EXPECT_EQ(h.read_all().size(), 4096u);
  h.expect(ack(1, 4097, 4096));
}

// A read that opens the window by at least min(RCV.BUFF / 2, MSS) is announced promptly:
// the peer, whose usable window (1096) is below both its MSS and half the largest window
// it was offered (sender SWS avoidance, §3.8.6.2.1), would otherwise hold its data.
TEST(ReceiveWindow, ReadOpeningSignificantlySendsUpdate) {
  Harness h;
  h.to_established({Mss{1460}}, small_buffer());
  h.peer_sends(data(1, 1, std::string(1460, 'a'), false), h.now() + 10ms);
  h.peer_sends(data(1461, 1, std::string(1540, 'b'), false), h.now() + 1ms);
  h.expect_by(ack(1, 3001, 1096), h.now() + 40ms);
  EXPECT_EQ(h.read_all().size(), 3000u);
  h.expect_by(ack(1, 3001, 4096), h.now() + 200ms);
}

// §3.8.6.2.2: the right window edge is not moved for an increase smaller than
// min(RCV.BUFF / 2, MSS) = min(2048, 1460): a 100-byte read sends no window update.
TEST(ReceiveWindow, NoUpdateForSmallIncrease) {
  Harness h;
  h.to_established({Mss{1460}}, small_buffer());
  h.peer_sends(data(1, 1, std::string(100, 'a')), h.now() + 10ms);
  h.expect_at(ack(1, 101, 3996), h.now() + 40ms);
  EXPECT_EQ(h.read_all().size(), 100u);
  h.expect_nothing(h.now() + 1s);
}

// RFC 7323 §2.3: with scaling the window field is the free space shifted right:
// (262144 - 1000) >> 3 = 32643.
TEST(ReceiveWindow, ScaledAdvertisement) {
  Harness h;
  h.to_established({Mss{1460}, WindowScale{0}});
  ASSERT_EQ(h.conn().rcv_wscale, 3);
  h.peer_sends(data(1, 1, std::string(1000, 'z')), h.now() + 10ms);
  h.expect_at(ack(1, 1001, (262144 - 1000) >> 3), h.now() + 40ms);
  EXPECT_EQ(h.conn().rcv_wnd, ((262144u - 1000u) >> 3) << 3);
}

// With a shift the free space is not always a multiple of 2^shift: (262144 - 1001) / 8 =
// 32642.875. Rounding down would move the right edge (RCV.NXT + window) left by 7 bytes,
// which §3.8.6.2.2 / RFC 7323 §2.4 tell the receiver not to do; rounding up overstates
// the space by less than 2^shift. Either way the right edge never moves left while
// unread data arrives, and the advertisement never falls below the free space rounded
// down (no shrinking beyond rounding).
TEST(ReceiveWindow, ScaledRightEdgeNeverShrinks) {
  Harness h;
  h.to_established({Mss{1460}, WindowScale{0}});
  // From the handshake: the SYN-ACK's window is never scaled (RFC 7323 §2.2), 65535.
  std::uint64_t edge = 1 + 65535;
  std::uint32_t seq = 1;
  for (std::uint32_t len : {1001u, 333u, 1460u, 7u, 1460u, 1u}) {
    h.peer_sends(data(seq, 1, std::string(len, 'z')), h.now() + 1ms);
    seq += len;
    h.advance(50ms);
    auto e = h.take();
    ASSERT_TRUE(e);
    const Segment& a = e->out.segment;
    ASSERT_EQ(a.ack, std::optional<Seq>(h.peer_seq(seq)));
    const std::uint64_t win = std::uint64_t{a.window} << 3;
    const std::uint64_t free = 262144 - (seq - 1);
    EXPECT_GE(seq + win, edge) << "right edge moved left after " << seq - 1 << " bytes";
    EXPECT_GE(win + 8, free) << "window " << win << ", free " << free;
    edge = seq + win;
    h.clear_outputs();
  }
}

// A peer that always fills exactly what is advertised (1460-byte segments, 1460 % 8 = 4)
// until the window closes: everything inside an advertised window is taken, the window
// does close, and the queue stays within the buffer plus the rounding slack.
TEST(ReceiveWindow, FillingAdvertisedWindowUntilClosed) {
  Harness h;
  h.to_established({Mss{1460}, WindowScale{0}});
  std::uint32_t seq = 1;
  std::uint64_t window = 262144;
  int rounds = 0;
  while (window > 0 && rounds++ < 400) {
    const std::uint32_t len = static_cast<std::uint32_t>(std::min<std::uint64_t>(window, 1460));
    h.peer_sends(data(seq, 1, std::string(len, 'f'), false), h.now() + 1ms);
    seq += len;
    h.advance(50ms);
    ASSERT_GE(h.queued(), 1u) << "no ACK after " << seq - 1 << " bytes";
    Segment last;
    while (h.queued() > 0) last = h.take()->out.segment;
    ASSERT_EQ(last.ack, std::optional<Seq>(h.peer_seq(seq))) << "data inside the advertised window dropped";
    window = std::uint64_t{last.window} << 3;
  }
  EXPECT_EQ(window, 0u) << "the window never closed";
  EXPECT_GE(h.conn().recv_queued, 262144u - 8);
  EXPECT_LE(h.conn().recv_queued, 262144u + 1460);
}

// The peer's window field is scaled by its shift: raw 3 << 7 = 384 bytes.
TEST(ReceiveWindow, PeerWindowScaled) {
  Harness h;
  h.to_established({Mss{1460}, WindowScale{7}});
  h.peer_sends(ack(1, 1, 3), h.now() + 10ms);
  EXPECT_EQ(h.conn().snd_wnd, 384u);
}

// The receive window shrinks as data arrives unread and data beyond it is not accepted.
TEST(ReceiveWindow, DataBeyondWindowNotAccepted) {
  Harness h;
  h.to_established({Mss{1460}}, small_buffer());
  h.peer_sends(data(1, 1, std::string(1460, 'a'), false), h.now() + 10ms);
  h.peer_sends(data(1461, 1, std::string(1460, 'b'), false), h.now() + 1ms);
  h.expect(ack(1, 2921, 1176));
  // 1460 bytes where 1176 fit: only the first 1176 are taken.
  h.peer_sends(data(2921, 1, std::string(1460, 'c'), false), h.now() + 1ms);
  h.advance(100ms);
  h.expect(ack(1, 4097, 0));
  EXPECT_EQ(h.read_all().size(), 4096u);
}

// Fill the 4096-byte receive window: RCV.NXT 4097, RCV.WND 0.
void fill_window(Harness& h) {
  h.to_established({Mss{1460}}, small_buffer());
  h.peer_sends(data(1, 1, std::string(1460, 'a'), false), h.now() + 10ms);
  h.peer_sends(data(1461, 1, std::string(1460, 'b'), false), h.now() + 1ms);
  h.expect(ack(1, 2921, 1176));
  h.peer_sends(data(2921, 1, std::string(1176, 'c')), h.now() + 1ms);
  h.advance(100ms);
  h.expect(ack(1, 4097, 0));
}

// §3.10.7.4 first step: with RCV.WND = 0 no data is acceptable, and "an acknowledgment
// should be sent in reply" - which is what answers the peer's zero-window probe (§3.8.6.1).
// (Was an engine bug: such a probe was dropped silently; fixed in 5a69dcc.)
TEST(ReceiveWindow, ZeroWindowProbeAnswered) {
  Harness h;
  fill_window(h);
  h.peer_sends(data(4097, 1, "!"), h.now() + 10ms);
  h.expect(ack(1, 4097, 0));
  EXPECT_EQ(h.conn().recv_queued, 4096u);
  EXPECT_EQ(stats(h.s).drop(DropReason::not_acceptable), 1u);
}

// "... but special allowance should be made to accept valid ACKs": a zero-length ACK at
// RCV.NXT acknowledging our data is processed while our window is closed.
TEST(ReceiveWindow, ZeroWindowStillTakesAcks) {
  Harness h;
  fill_window(h);
  FlowOptions nd;
  nd.nodelay = true;
  auto so = set_options(std::move(h.s), h.flow, nd);
  ASSERT_TRUE(so);
  h.s = std::move(*so);
  ASSERT_TRUE(h.send("out"));
  h.expect({.seq = 1, .ack = 4097, .push = true, .window = 0, .payload = "out"});
  h.peer_sends(ack(4097, 4, kPeerWindow), h.now() + 10ms);
  EXPECT_EQ(h.snd_una(), 4u);
  h.expect_nothing(h.now() + 5s);
}

// ---------------------------------------------------------------- PSH

// §3.9.1.2: PSH is set on the segment that carries the last byte of a send().
TEST(Push, OnLastSegmentOfSend) {
  Harness h;
  FlowOptions o;
  o.nodelay = true;  // so the short tail goes at once
  h.to_established({Mss{1460}}, o);
  ASSERT_TRUE(h.send(std::string(3000, 'p')));
  h.expect({.seq = 1, .ack = 1, .push = false, .payload = std::string(1460, 'p')});
  h.expect({.seq = 1461, .ack = 1, .push = false, .payload = std::string(1460, 'p')});
  h.expect({.seq = 2921, .ack = 1, .push = true, .payload = std::string(80, 'p')});
}

}  // namespace
}  // namespace utcp::test
