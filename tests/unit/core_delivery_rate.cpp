// Delivery rate estimation (draft-ietf-ccwg-bbr-03, "Delivery Rate Estimation") on hand-built
// send and ACK sequences, with the stamps kept in the scoreboard as the sender keeps them.
// Every expected figure is worked out by hand in the comment above it.
#include <gtest/gtest.h>

#include <chrono>

#include "core/delivery_rate.hpp"
#include "core/scoreboard.hpp"

namespace utcp::detail {
namespace {

using namespace std::chrono_literals;
constexpr std::uint32_t S = 1000;
const Seq kBase{7000};
const Instant t0{std::chrono::seconds(20)};

Seq at(std::uint32_t i) {
  return kBase + i * S;
}

// A sender: the scoreboard holds each segment's stamp; ACKs feed DeliveryRate.
struct Sender {
  DeliveryRate dr;
  Scoreboard board;
  std::uint32_t next = 0;  // index of the next new segment

  void send(Instant now) {
    const RateStamp p = dr.on_send(now, board.bytes(), S);
    board.sent_new(at(next), at(next + 1), now, p);
    ++next;
  }
  void resend(std::uint32_t i, Instant now) {
    const RateStamp p = dr.on_send(now, board.bytes(), S);
    board.resent(at(i), at(i + 1), now, p);
  }
  // A cumulative ACK up to segment `upto` (exclusive) at `now`; returns the sample.
  RateSample ack(std::uint32_t upto, Instant now, std::optional<Duration> min_rtt = std::nullopt) {
    RateSample rs;
    board.acked(at(upto), [&](const SentSegment& s) {
      dr.delivered(rs, s.rate, s.end, s.size(), s.sent, s.is(SentSegment::retransmitted), now);
    });
    dr.generate(rs, min_rtt);
    return rs;
  }
  RateSample sack(std::uint32_t l, std::uint32_t r, Instant now) {
    RateSample rs;
    board.sacked(at(l), at(r), [&](const SentSegment& s) {
      dr.delivered(rs, s.rate, s.end, s.size(), s.sent, s.is(SentSegment::retransmitted), now);
    });
    dr.generate(rs, std::nullopt);
    return rs;
  }
};

TEST(CoreDeliveryRate, FirstSendFromAnEmptyPipeStartsTheInterval) {
  Sender s;
  s.send(t0);
  const SentSegment& e = s.board.front();
  EXPECT_EQ(e.rate.delivered, 0u);
  EXPECT_EQ(e.rate.delivered_time, t0);
  EXPECT_EQ(e.rate.first_send_time, t0);
  EXPECT_EQ(e.rate.tx_in_flight, S);
  EXPECT_FALSE(e.rate.is_app_limited);
  s.send(t0 + 1ms);
  EXPECT_EQ(s.board.back().rate.tx_in_flight, 2 * S);
  EXPECT_EQ(s.board.back().rate.first_send_time, t0);  // not empty: the interval goes on
}

TEST(CoreDeliveryRate, SteadyPipeMeasuresTheBottleneckRate) {
  // One segment per millisecond, each ACKed 50 ms after its transmission: a path delivering
  // 1000 bytes per ms = 1,000,000 B/s. Events at the same instant: the ACK first.
  Sender s;
  RateSample last;
  for (int ms = 0; ms <= 200; ++ms) {
    const Instant now = t0 + ms * 1ms;
    if (ms >= 50) last = s.ack(static_cast<std::uint32_t>(ms - 49), now, 50ms);
    s.send(now);
  }
  // The ACK at 200 ms delivers the segment sent at 150 ms, which was stamped with
  // C.delivered = 101 segments (ACKs at 50..150), C.delivered_time = 150 ms and
  // C.first_send_time = 100 ms (the send time of the segment delivered at 150 ms). Now
  // C.delivered = 151 segments: 50,000 bytes over max(150-100, 200-150) = 50 ms.
  ASSERT_TRUE(last.valid);
  EXPECT_EQ(last.delivered, 50u * S);
  EXPECT_EQ(last.send_elapsed, 50ms);
  EXPECT_EQ(last.ack_elapsed, 50ms);
  EXPECT_EQ(last.interval, 50ms);
  EXPECT_EQ(last.delivery_rate, 1'000'000u);
  EXPECT_EQ(last.rtt, 50ms);
  EXPECT_EQ(last.newly_acked, S);
  EXPECT_EQ(s.dr.last_rate(), 1'000'000u);
  EXPECT_EQ(s.dr.total_delivered(), 151u * S);
}

TEST(CoreDeliveryRate, AckIntervalBoundsACompressedAckTrain) {
  // Ten segments from an empty pipe, 1 ms apart, all ACKed by one stretch ACK at 60 ms: the
  // newest (sent at 9 ms, stamped with delivered_time = first_send_time = 0) gives
  // send_elapsed 9 ms, ack_elapsed 60 ms: 10,000 bytes over 60 ms = 166,666 B/s.
  Sender s;
  for (int i = 0; i < 10; ++i) s.send(t0 + i * 1ms);
  const RateSample rs = s.ack(10, t0 + 60ms);
  ASSERT_TRUE(rs.valid);
  EXPECT_EQ(rs.send_elapsed, 9ms);
  EXPECT_EQ(rs.ack_elapsed, 60ms);
  EXPECT_EQ(rs.delivered, 10u * S);
  EXPECT_EQ(rs.delivery_rate, 166'666u);
  EXPECT_EQ(rs.newly_acked, 10u * S);
  EXPECT_EQ(rs.rtt, 51ms);  // of the newest
}

TEST(CoreDeliveryRate, SendIntervalBoundsABurstOfAcks) {
  // A at 0, B at 5 ms; A ACKed at 10 ms (C.first_send_time = 0, C.delivered_time = 10 ms);
  // C sent at 40 ms, stamped delivered 1000, delivered_time 10 ms, first_send_time 0. B and C
  // ACKed at 45 ms: send_elapsed 40 ms > ack_elapsed 35 ms; 2,000 bytes / 40 ms = 50,000 B/s.
  Sender s;
  s.send(t0);
  s.send(t0 + 5ms);
  s.ack(1, t0 + 10ms);
  s.send(t0 + 40ms);
  const RateSample rs = s.ack(3, t0 + 45ms);
  ASSERT_TRUE(rs.valid);
  EXPECT_EQ(rs.send_elapsed, 40ms);
  EXPECT_EQ(rs.ack_elapsed, 35ms);
  EXPECT_EQ(rs.interval, 40ms);
  EXPECT_EQ(rs.delivered, 2u * S);
  EXPECT_EQ(rs.prior_delivered, S);
  EXPECT_EQ(rs.delivery_rate, 50'000u);
}

TEST(CoreDeliveryRate, IntervalBelowMinRttGivesNoSample) {
  // The ACK at 10 ms for a segment sent at 0 from an empty pipe: a 10 ms interval, below a
  // 20 ms minimum RTT: not a full round of delivery.
  Sender s;
  s.send(t0);
  RateSample rs = s.ack(1, t0 + 10ms, 20ms);
  EXPECT_TRUE(rs.has_data);
  EXPECT_FALSE(rs.valid);
  EXPECT_EQ(rs.delivery_rate, 0u);
  EXPECT_EQ(rs.newly_acked, S);  // delivered all the same
  EXPECT_EQ(s.dr.total_delivered(), S);
  // With no minimum yet, the same interval is a sample.
  Sender u;
  u.send(t0);
  rs = u.ack(1, t0 + 10ms);
  EXPECT_TRUE(rs.valid);
  EXPECT_EQ(rs.delivery_rate, 100'000u);
}

TEST(CoreDeliveryRate, AnAckDeliveringNothingGivesNoSample) {
  Sender s;
  s.send(t0);
  const RateSample rs = s.ack(0, t0 + 30ms);  // a duplicate ACK
  EXPECT_FALSE(rs.has_data);
  EXPECT_FALSE(rs.valid);
  EXPECT_EQ(s.dr.total_delivered(), 0u);
}

TEST(CoreDeliveryRate, AppLimitedBubbleMarksSamplesUntilItIsDelivered) {
  // Two segments and nothing more to send with cwnd 10 segments: the bubble ends at
  // C.delivered + inflight = 2000. Segments sent inside it are stamped app-limited; once
  // C.delivered passes 2000 the connection is no longer app-limited.
  Sender s;
  s.send(t0);
  s.send(t0 + 1ms);
  s.dr.check_app_limited(true, s.board.bytes(), 10 * S, false);
  EXPECT_TRUE(s.dr.app_limited());
  s.send(t0 + 2ms);  // data arrived late from the application: still in the bubble
  EXPECT_TRUE(s.board.back().rate.is_app_limited);
  RateSample rs = s.ack(2, t0 + 40ms);
  EXPECT_FALSE(rs.is_app_limited);  // the newest delivered (sent at 1 ms) predates the bubble
  EXPECT_TRUE(s.dr.app_limited());  // delivered 2000, not yet past it
  rs = s.ack(3, t0 + 42ms);
  EXPECT_TRUE(rs.is_app_limited);
  EXPECT_FALSE(s.dr.app_limited());  // delivered 3000 > 2000
  s.send(t0 + 43ms);
  EXPECT_FALSE(s.board.back().rate.is_app_limited);
}

TEST(CoreDeliveryRate, NoAppLimitWhileDataWaitsOrLossAwaitsRepairOrWindowIsFull) {
  DeliveryRate dr;
  dr.check_app_limited(false, 0, 10 * S, false);
  EXPECT_FALSE(dr.app_limited());
  dr.check_app_limited(true, 10 * S, 10 * S, false);
  EXPECT_FALSE(dr.app_limited());
  dr.check_app_limited(true, 0, 10 * S, true);
  EXPECT_FALSE(dr.app_limited());
  dr.check_app_limited(true, 0, 10 * S, false);
  EXPECT_TRUE(dr.app_limited());  // C.delivered + inflight = 0: marked as 1
}

TEST(CoreDeliveryRate, SackedSegmentsAreDeliveredOnceAndTheNewestDefinesTheSample) {
  // Four segments 1 ms apart; segments 2-3 SACKed at 30 ms, then the cumulative ACK of all
  // four at 31 ms delivers only 0-1 again (the scoreboard reports each segment once).
  Sender s;
  for (int i = 0; i < 4; ++i) s.send(t0 + i * 1ms);
  RateSample rs = s.sack(2, 4, t0 + 30ms);
  ASSERT_TRUE(rs.valid);
  EXPECT_EQ(rs.end_seq, at(4));
  EXPECT_EQ(rs.send_time, t0 + 3ms);
  EXPECT_EQ(rs.newly_acked, 2 * S);
  EXPECT_EQ(rs.rtt, 27ms);
  rs = s.ack(4, t0 + 31ms);
  EXPECT_EQ(rs.newly_acked, 2 * S);
  EXPECT_EQ(rs.send_time, t0 + 1ms);
  EXPECT_EQ(rs.end_seq, at(2));
  EXPECT_EQ(s.dr.total_delivered(), 4u * S);
  // Segment 1 was stamped delivered 0, delivered_time 0; now C.delivered = 4000 over
  // max(1 - 0, 31 - 0) ms.
  EXPECT_EQ(rs.delivered, 4u * S);
  EXPECT_EQ(rs.delivery_rate, 4'000'000u / 31u);
}

TEST(CoreDeliveryRate, SameSendTimeTheHigherSegmentIsNewer) {
  Sender s;
  s.send(t0);
  s.send(t0);
  const RateSample rs = s.ack(2, t0 + 10ms);
  EXPECT_EQ(rs.end_seq, at(2));
  EXPECT_EQ(rs.tx_in_flight, 2 * S);
}

TEST(CoreDeliveryRate, RetransmissionGivesNoRttAndCountsLoss) {
  // Segment 0 lost (deemed so at 30 ms), resent at 30 ms after segment 1 was SACKed; its ACK
  // at 60 ms: the newest delivered is the retransmission (sent last), whose RTT is ambiguous.
  // Its stamp was taken after the loss, so the sample's loss count is 0; segment 1's (taken
  // before) would have been 1000.
  Sender s;
  s.send(t0);
  s.send(t0 + 1ms);
  RateSample rs = s.sack(1, 2, t0 + 29ms);
  EXPECT_EQ(rs.rtt, 28ms);
  RateSample loss;
  s.dr.lost(loss, S);
  EXPECT_EQ(loss.newly_lost, S);
  EXPECT_EQ(s.dr.total_lost(), S);
  s.resend(0, t0 + 30ms);
  EXPECT_EQ(s.board.front().rate.lost, S);
  EXPECT_EQ(s.board.front().rate.delivered, S);
  rs = s.ack(2, t0 + 60ms);
  EXPECT_EQ(rs.send_time, t0 + 30ms);
  EXPECT_FALSE(rs.rtt.has_value());
  EXPECT_EQ(rs.lost, 0u);
  EXPECT_EQ(rs.delivered, S);    // 2000 now, 1000 when the retransmission left
  EXPECT_EQ(rs.interval, 31ms);  // max(30 - 1, 60 - 29)
}

TEST(CoreDeliveryRate, LossBetweenSendAndAckIsReported) {
  Sender s;
  s.send(t0);
  s.send(t0 + 1ms);
  s.send(t0 + 2ms);
  RateSample rs;
  s.dr.lost(rs, S);  // segment 0, say, deemed lost
  rs = s.sack(2, 3, t0 + 40ms);
  EXPECT_EQ(rs.lost, S);  // C.lost 1000 now, 0 when segment 2 left
  EXPECT_EQ(rs.tx_in_flight, 3 * S);
}

TEST(CoreDeliveryRate, IdleRestartDoesNotCountTheIdleTime) {
  // A transfer, then an idle second, then a new segment from an empty pipe: its sample
  // covers only its own round trip (10 ms), not the idle time.
  Sender s;
  s.send(t0);
  s.ack(1, t0 + 10ms);
  s.send(t0 + 1s);
  EXPECT_EQ(s.board.back().rate.delivered_time, t0 + 1s);
  EXPECT_EQ(s.board.back().rate.first_send_time, t0 + 1s);
  const RateSample rs = s.ack(2, t0 + 1s + 10ms);
  EXPECT_EQ(rs.interval, 10ms);
  EXPECT_EQ(rs.delivery_rate, 100'000u);
}

}  // namespace
}  // namespace utcp::detail
