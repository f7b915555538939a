// RACK-TLP (RFC 8985) as functions: RACK's update from delivered segments, reordering
// detection, the reordering window and its DSACK-driven growth, time-based loss marking,
// marking on RTO, the probe timeout and the probe's ACK. Numbers worked out by hand.
#include <gtest/gtest.h>

#include <chrono>
#include <vector>

#include "core/rack.hpp"

namespace utcp::detail {
namespace {

using namespace std::chrono_literals;
constexpr std::uint32_t S = 1000;
const Seq kBase{100000};
const Instant t0{std::chrono::seconds(50)};

Seq at(std::uint32_t i) {
  return kBase + i * S;
}
std::uint32_t no_ts(Instant) {
  return 0;
}

// n segments sent 1 ms apart from t0.
Scoreboard sent(std::uint32_t n) {
  Scoreboard b;
  for (std::uint32_t i = 0; i < n; ++i) b.sent_new(at(i), at(i + 1), t0 + i * 1ms);
  return b;
}

// Delivers [at(l), at(r)) by SACK at `now`, feeding RACK.
void sack(Rack& r, ReoWnd& w, Scoreboard& b, std::uint32_t l, std::uint32_t rr, Instant now,
          std::optional<Duration> min_rtt = 10ms) {
  b.sacked(at(l), at(rr),
           [&](const SentSegment& s) { r.on_delivered(w, s, now, std::nullopt, no_ts, min_rtt); });
}

Rack fresh() {
  Rack r;
  r.fack = kBase;
  return r;
}

TEST(CoreRack, DeliveryRecordsTheMostRecentlySentSegmentAndItsRtt) {
  Scoreboard b = sent(10);
  Rack r = fresh();
  ReoWnd w;
  sack(r, w, b, 5, 7, t0 + 30ms);
  EXPECT_TRUE(r.valid);
  EXPECT_EQ(r.xmit_ts, t0 + 6ms);
  EXPECT_EQ(r.end_seq, at(7));
  EXPECT_EQ(r.rtt, 24ms);  // 30 - 6
  EXPECT_EQ(r.fack, at(7));
  EXPECT_FALSE(w.reordering_seen);
  // An earlier-sent segment delivered later changes neither RACK.xmit_ts nor RACK.rtt.
  sack(r, w, b, 2, 3, t0 + 31ms);
  EXPECT_EQ(r.xmit_ts, t0 + 6ms);
  EXPECT_EQ(r.rtt, 24ms);
}

TEST(CoreRack, ReorderingIsSeenWhenAnOriginalArrivesBelowFack) {
  Scoreboard b = sent(10);
  Rack r = fresh();
  ReoWnd w;
  sack(r, w, b, 5, 6, t0 + 30ms);
  sack(r, w, b, 3, 4, t0 + 31ms);  // never retransmitted, below RACK.fack
  EXPECT_TRUE(w.reordering_seen);
}

TEST(CoreRack, RetransmittedSegmentBelowFackIsNoReordering) {
  Scoreboard b = sent(10);
  Rack r = fresh();
  ReoWnd w;
  sack(r, w, b, 5, 6, t0 + 30ms);
  b.mark_lost(3);
  b.resent(at(3), at(4), t0 + 32ms);
  sack(r, w, b, 3, 4, t0 + 45ms);
  EXPECT_FALSE(w.reordering_seen);
  EXPECT_EQ(r.xmit_ts, t0 + 32ms) << "the retransmission was sent last";
  EXPECT_EQ(r.rtt, 13ms);
}

TEST(CoreRack, AmbiguousRetransmissionIsIgnored) {
  Scoreboard b = sent(4);
  ReoWnd w;
  // By timestamps: the echo predates the retransmission, so the ACK is for the original.
  {
    Scoreboard c = b;
    Rack r = fresh();
    c.resent(at(0), at(1), t0 + 40ms);
    auto ts_of = [](Instant t) { return static_cast<std::uint32_t>((t - t0) / 1ms) + 1000; };
    c.sacked(at(0), at(1),
             [&](const SentSegment& s) { r.on_delivered(w, s, t0 + 45ms, 1000u, ts_of, 10ms); });
    EXPECT_FALSE(r.valid);
  }
  // By RTT: shorter than the minimum RTT.
  {
    Scoreboard c = b;
    Rack r = fresh();
    c.resent(at(0), at(1), t0 + 40ms);
    sack(r, w, c, 0, 1, t0 + 42ms, 10ms);
    EXPECT_FALSE(r.valid);
    sack(r, w, c, 1, 2, t0 + 43ms, 10ms);  // not retransmitted: taken
    EXPECT_TRUE(r.valid);
    EXPECT_EQ(r.rtt, 42ms);
  }
}

TEST(CoreRack, ReoWndIsZeroInRecoveryUntilReorderingIsSeen) {
  ReoWnd w;
  EXPECT_EQ(Rack::reo_wnd(w, false, false, 40ms, 50ms), 10ms);  // min_RTT / 4
  EXPECT_EQ(Rack::reo_wnd(w, true, false, 40ms, 50ms), 0ms);
  EXPECT_EQ(Rack::reo_wnd(w, false, true, 40ms, 50ms), 0ms);
  w.reordering_seen = true;
  EXPECT_EQ(Rack::reo_wnd(w, true, true, 40ms, 50ms), 10ms);
  w.mult = 3;
  EXPECT_EQ(Rack::reo_wnd(w, true, true, 40ms, 50ms), 30ms);
  w.mult = 10;
  EXPECT_EQ(Rack::reo_wnd(w, true, true, 40ms, 50ms), 50ms) << "capped at SRTT";
  EXPECT_EQ(Rack::reo_wnd(w, false, false, std::nullopt, 50ms), 0ms) << "no RTT yet";
}

TEST(CoreRack, DsackGrowsTheWindowOncePerRoundAndItDecaysAfterSixteenRecoveries) {
  Rack r = fresh();
  ReoWnd w;
  r.on_ack_end(w, true, at(0), at(10));
  EXPECT_EQ(w.mult, 2);
  EXPECT_EQ(w.persist, 16);
  r.on_ack_end(w, true, at(5), at(12));
  EXPECT_EQ(w.mult, 2) << "same round (SND.UNA below dsack_round)";
  r.on_ack_end(w, false, at(10), at(14));  // the round ends
  r.on_ack_end(w, true, at(11), at(20));
  EXPECT_EQ(w.mult, 3);
  for (int i = 0; i < 15; ++i) Rack::on_recovery_exit(w);
  EXPECT_EQ(w.mult, 3);
  Rack::on_recovery_exit(w);
  EXPECT_EQ(w.mult, 1);
}

TEST(CoreRack, DetectLossMarksSegmentsSentLongEnoughBeforeTheDelivered) {
  Scoreboard b = sent(10);
  Rack r = fresh();
  ReoWnd w;
  // Segment 6 (sent at +6 ms) is SACKed at +30 ms: RACK.rtt = 24 ms.
  sack(r, w, b, 6, 7, t0 + 30ms);
  // With reo_wnd 0: segment i is lost when i ms + 24 ms <= now (now = +30): i <= 6.
  auto timeout = r.detect_loss(b, t0 + 30ms, 0ms);
  for (std::uint32_t i = 0; i < 6; ++i) EXPECT_TRUE(b[i].is(SentSegment::lost)) << i;
  for (std::uint32_t i = 7; i < 10; ++i) EXPECT_FALSE(b[i].is(SentSegment::lost)) << i;
  EXPECT_FALSE(timeout.has_value());
  EXPECT_EQ(b.lost_bytes(), 6 * S);
}

TEST(CoreRack, NothingToCheckUntilAnEntrySentBeforeTheDeliveredOne) {
  Scoreboard b = sent(10);
  Rack r = fresh();
  ReoWnd w;
  EXPECT_TRUE(r.nothing_to_check(b));  // nothing delivered yet
  // The front entry delivered (an in-order ACK's case): nothing was sent before it.
  sack(r, w, b, 0, 1, t0 + 30ms);
  EXPECT_TRUE(r.nothing_to_check(b));
  EXPECT_FALSE(r.detect_loss(b, t0 + 60ms, 0ms).has_value());
  EXPECT_EQ(b.lost_bytes(), 0u);
  // Segment 6 delivered: the front (segment 0, sent before it) is a candidate.
  sack(r, w, b, 6, 7, t0 + 31ms);
  EXPECT_FALSE(r.nothing_to_check(b));
}

TEST(CoreRack, DetectLossWaitsOutTheReorderingWindowAndReportsWhen) {
  Scoreboard b = sent(10);
  Rack r = fresh();
  ReoWnd w;
  sack(r, w, b, 6, 7, t0 + 30ms);
  // reo_wnd 3 ms: segment i lost when i + 24 + 3 <= 30: i <= 3; segments 4, 5 wait
  // 1 and 2 ms more; the timer goes for the later one (max).
  auto timeout = r.detect_loss(b, t0 + 30ms, 3ms);
  EXPECT_EQ(b.lost_bytes(), 4 * S);
  ASSERT_TRUE(timeout.has_value());
  EXPECT_EQ(*timeout, 2ms);
  timeout = r.detect_loss(b, t0 + 32ms, 3ms);
  EXPECT_EQ(b.lost_bytes(), 6 * S);
  EXPECT_FALSE(timeout.has_value());
}

TEST(CoreRack, LostRetransmissionIsDetectedAgain) {
  Scoreboard b = sent(4);
  Rack r = fresh();
  ReoWnd w;
  sack(r, w, b, 1, 2, t0 + 20ms);
  r.detect_loss(b, t0 + 20ms, 0ms);
  ASSERT_TRUE(b[0].is(SentSegment::lost));
  b.resent(at(0), at(1), t0 + 21ms);
  // Segment 3, sent after the retransmission? No: sent at +3 ms. The retransmission of 0 is
  // later than RACK's segment, so it is not judged until something sent after it arrives.
  EXPECT_FALSE(r.detect_loss(b, t0 + 60ms, 0ms).has_value());
  EXPECT_FALSE(b[0].is(SentSegment::lost));
  // New data sent at +22 ms and SACKed at +40 ms: the retransmission (+21 ms) is older by more
  // than the window, so it is lost again.
  b.sent_new(at(4), at(5), t0 + 22ms);
  sack(r, w, b, 4, 5, t0 + 40ms);
  r.detect_loss(b, t0 + 40ms, 0ms);
  EXPECT_TRUE(b[0].is(SentSegment::lost));
}

// RACK_sent_after by the order of transmission: four segments and a retransmission all
// stamped t0 (a caller's clock read once for a batch). The retransmission of 0 went out after
// the originals of 1-3, so their SACKs do not make it lost again; new data sent after it does.
TEST(CoreRack, SameTimeStampsAreOrderedByTransmission) {
  Scoreboard b;
  for (std::uint32_t i = 0; i < 4; ++i) b.sent_new(at(i), at(i + 1), t0);
  Rack r = fresh();
  ReoWnd w;
  sack(r, w, b, 1, 2, t0, 0ms);
  r.detect_loss(b, t0, 0ms);
  ASSERT_TRUE(b[0].is(SentSegment::lost));
  b.resent(at(0), at(1), t0);
  EXPECT_GT(b[0].order, b[3].order);
  sack(r, w, b, 2, 4, t0, 0ms);
  EXPECT_EQ(r.end_seq, at(4));
  r.detect_loss(b, t0, 0ms);
  EXPECT_FALSE(b[0].is(SentSegment::lost)) << "1-3 were sent before the retransmission";
  b.sent_new(at(4), at(5), t0);
  sack(r, w, b, 4, 5, t0, 0ms);
  r.detect_loss(b, t0, 0ms);
  EXPECT_TRUE(b[0].is(SentSegment::lost)) << "4 was sent after it and is delivered";
}

TEST(CoreRack, MarkLossesOnRtoTakesTheFirstAndTheExpired) {
  Scoreboard b = sent(10);
  Rack r = fresh();
  ReoWnd w;
  sack(r, w, b, 8, 9, t0 + 30ms);  // RACK.rtt = 22 ms
  // now = +26 ms, reo 0: i + 22 <= 26: i <= 4 (and segment 0 in any case).
  r.mark_losses_on_rto(b, t0 + 26ms, 0ms, 100ms);
  for (std::uint32_t i = 0; i <= 4; ++i) EXPECT_TRUE(b[i].is(SentSegment::lost)) << i;
  for (std::uint32_t i = 5; i < 10; ++i) EXPECT_FALSE(b[i].is(SentSegment::lost)) << i;
  // Without a delivery the fallback RTT decides: with 100 ms nothing but the first.
  Scoreboard c = sent(10);
  fresh().mark_losses_on_rto(c, t0 + 26ms, 0ms, 100ms);
  EXPECT_EQ(c.lost_bytes(), S);
}

// RFC 8985 §7.2, with Linux's 2 ms added for several segments (deviations.md).
TEST(CoreTlp, ProbeTimeoutIsTwoRoundTripsPlusTheDelayedAckForOneSegment) {
  EXPECT_EQ(Tlp::pto(20ms, 5, 1s), 42ms);  // + kTlpMinTimeout (Linux TCP_TIMEOUT_MIN)
  EXPECT_EQ(Tlp::pto(20us, 5, 1s), 2040us) << "at least 2 ms on a path of microseconds";
  EXPECT_EQ(Tlp::pto(20ms, 1, 1s), 240ms);
  EXPECT_EQ(Tlp::pto(std::nullopt, 5, 3s), 1s);
  EXPECT_EQ(Tlp::pto(20ms, 5, 25ms), 25ms) << "never after the RTO";
}

TEST(CoreTlp, ProbeOfNewDataEndsTheEpisodeWhenAcknowledged) {
  Tlp t;
  t.sent_probe(at(10), false);
  EXPECT_FALSE(t.on_ack(at(9), false, false));
  EXPECT_TRUE(t.end_seq.has_value());
  EXPECT_FALSE(t.on_ack(at(10), false, false));
  EXPECT_FALSE(t.end_seq.has_value());
}

TEST(CoreTlp, RetransmittedProbeThatRepairedALossAsksForACwndReduction) {
  Tlp t;
  t.sent_probe(at(10), true);
  EXPECT_TRUE(t.on_ack(at(11), false, false));
  EXPECT_FALSE(t.end_seq.has_value());
}

TEST(CoreTlp, RetransmittedProbeWithDsackOrPureDupAckWasNotNeeded) {
  Tlp a;
  a.sent_probe(at(10), true);
  EXPECT_FALSE(a.on_ack(at(10), true, true));
  EXPECT_FALSE(a.end_seq.has_value());
  Tlp b;
  b.sent_probe(at(10), true);
  EXPECT_FALSE(b.on_ack(at(10), false, false)) << "the ACK that moved SND.UNA to the probe's end";
  EXPECT_TRUE(b.end_seq.has_value());
  EXPECT_FALSE(b.on_ack(at(10), false, true));
  EXPECT_FALSE(b.end_seq.has_value());
}

}  // namespace
}  // namespace utcp::detail
