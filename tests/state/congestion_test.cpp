// Congestion control, with the numbers worked out from the RFCs: initial window (RFC 6928),
// slow start with appropriate byte counting (RFC 5681 §3.1, RFC 3465), congestion
// avoidance, fast retransmit / fast recovery (RFC 5681 §3.2) with NewReno's partial and
// full ACKs (RFC 6582 §3.2), limited transmit (RFC 3042), and the response to an RTO
// (RFC 5681 §3.1 eq. 4, µTCP fault 6).
//
// Every test: SMSS = 1460 (both sides offer 1460), the peer's window is large (65535 << 7),
// so only cwnd limits the sender. The algorithm is NewReno (Config::congestion_control);
// CUBIC's own numbers are in cubic_test.cpp.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "harness.hpp"

namespace utcp::test {
namespace {

constexpr std::uint32_t S = 1460;  // SMSS

Config reno() {
  Config c;
  c.congestion_control = CongestionControl::newreno;
  return c;
}

// Sequence number (relative) of the first byte of segment i (1-based) of a bulk send.
constexpr std::uint32_t seg_seq(std::uint32_t i) {
  return 1 + (i - 1) * S;
}

void bulk_established(Harness& h, std::size_t bytes) {
  h.to_established({Mss{1460}, WindowScale{7}});
  ASSERT_EQ(h.conn().mss, S);
  ASSERT_TRUE(h.send(std::string(bytes, 'b')));
}

// The data segments emitted so far, taken from the queue.
std::vector<Segment> take_all(Harness& h) {
  std::vector<Segment> segs;
  while (h.queued() > 0) segs.push_back(h.take()->out.segment);
  return segs;
}

// The peer acknowledges up to `rel` (relative to our ISN), 1 ms later.
void peer_acks(Harness& h, std::uint32_t rel) {
  h.peer_sends(ack(1, rel, 65535), h.now() + 1ms);
}

// RFC 6928: IW = min(10 * SMSS, max(2 * SMSS, 14600)) = 14600 bytes = 10 segments, sent
// back to back; then the sender waits for an ACK.
TEST(Congestion, InitialWindowTenSegments) {
  Harness h(reno());
  bulk_established(h, 40 * S);
  EXPECT_EQ(h.conn().cwnd, 10 * S);
  auto segs = take_all(h);
  ASSERT_EQ(segs.size(), 10u);
  for (std::uint32_t i = 0; i < 10; ++i) {
    EXPECT_EQ(segs[i].seq, h.local_seq(seg_seq(i + 1)));
    EXPECT_EQ(segs[i].payload.size(), S);
  }
  h.expect_nothing(h.now() + 150ms);
}

TEST(Congestion, InitialWindowFromConfig) {
  Config c;
  c.initial_window_segments = 4;
  Harness h(c);
  bulk_established(h, 40 * S);
  EXPECT_EQ(h.conn().cwnd, 4 * S);
  EXPECT_EQ(take_all(h).size(), 4u);
}

// RFC 3465 with L = 2 * SMSS: in slow start each ACK grows cwnd by min(bytes acked, L).
TEST(Congestion, SlowStartByteCounting) {
  Harness h(reno());
  bulk_established(h, 60 * S);
  ASSERT_EQ(take_all(h).size(), 10u);
  EXPECT_GT(h.conn().ssthresh, 1'000'000u) << "initial ssthresh is arbitrarily high";

  // ACK of 1 segment: cwnd = 14600 + min(1460, 2920) = 16060. Outstanding 9 * 1460 = 13140,
  // so (16060 - 13140) / 1460 = 2 new segments.
  peer_acks(h, seg_seq(2));
  EXPECT_EQ(h.conn().cwnd, 16060u);
  auto segs = take_all(h);
  ASSERT_EQ(segs.size(), 2u);
  EXPECT_EQ(segs[0].seq, h.local_seq(seg_seq(11)));

  // ACK of 2 more segments (2920 bytes): cwnd = 16060 + min(2920, 2920) = 18980.
  peer_acks(h, seg_seq(4));
  EXPECT_EQ(h.conn().cwnd, 18980u);
  // Outstanding 12 - 3 = 9 segments = 13140 -> 18980 - 13140 = 5840 -> 4 new segments.
  EXPECT_EQ(take_all(h).size(), 4u);

  // ACK of 3 more segments (4380 bytes): byte counting caps at L = 2920 -> 21900.
  peer_acks(h, seg_seq(7));
  EXPECT_EQ(h.conn().cwnd, 21900u);
}

// RFC 5681 §3.1: above ssthresh, about one SMSS per round trip. From an RTO (ssthresh =
// 7300, cwnd = 1460) the sender slow-starts to 7300, then acks worth 4 windows must grow
// cwnd by roughly 3-4 SMSS (eq. 3 or byte counting), far from slow start's doubling.
TEST(Congestion, CongestionAvoidanceAboutOneSmssPerWindow) {
  Harness h(reno());
  bulk_established(h, 200 * S);
  ASSERT_EQ(take_all(h).size(), 10u);
  auto d = next_deadline(h.s);
  ASSERT_TRUE(d);
  h.advance_to(*d);  // RTO: everything is lost
  ASSERT_EQ(h.conn().ssthresh, 7300u);
  ASSERT_EQ(h.conn().cwnd, S);

  std::uint64_t acked_in_ca = 0;
  std::uint32_t cwnd_at_ca = 0;
  for (int round = 0; round < 200 && (cwnd_at_ca == 0 || acked_in_ca < 4ull * cwnd_at_ca); ++round) {
    auto segs = take_all(h);
    ASSERT_FALSE(segs.empty()) << "the sender stalled in round " << round;
    for (const Segment& sg : segs) {
      const ConnInfo before = h.conn();
      const std::uint32_t end = h.rel_local(sg.seq) + static_cast<std::uint32_t>(sg.payload.size());
      if (h.local_seq(end) <= before.snd_una) continue;  // a retransmission already covered
      peer_acks(h, end);
      const ConnInfo after = h.conn();
      const std::uint32_t newly = after.snd_una - before.snd_una;
      if (before.cwnd < before.ssthresh) {
        // slow start after an RTO: L = 1 SMSS (RFC 3465 §2.3) or 2 SMSS; one segment acked
        EXPECT_EQ(after.cwnd, std::min(before.cwnd + newly, before.cwnd + 2 * S)) << "slow start";
      } else {
        if (cwnd_at_ca == 0) cwnd_at_ca = before.cwnd;
        acked_in_ca += newly;
      }
    }
  }
  ASSERT_GE(cwnd_at_ca, 7300u);
  const std::uint32_t growth = h.conn().cwnd - cwnd_at_ca;
  EXPECT_GE(growth, 2 * S) << "cwnd " << cwnd_at_ca << " -> " << h.conn().cwnd;
  EXPECT_LE(growth, 5 * S) << "cwnd " << cwnd_at_ca << " -> " << h.conn().cwnd;
}

// Segment 1 of the initial window is lost; segments 2.. arrive and each draws a duplicate
// ACK (ack 1).
struct Recovery {
  Harness h{reno()};
  std::uint32_t recover = 0;  // SND.NXT when fast retransmit started (relative)

  void start(std::size_t bytes = 40 * S) {
    bulk_established(h, bytes);
    ASSERT_EQ(take_all(h).size(), 10u);
  }
  void dupack() { h.peer_sends(ack(1, 1, 65535), h.now() + 1ms); }
};

// RFC 3042: each of the first two duplicate ACKs sends one new segment, cwnd unchanged.
TEST(Congestion, LimitedTransmitOnFirstTwoDupacks) {
  Recovery r;
  r.start();
  r.dupack();
  EXPECT_EQ(r.h.conn().cwnd, 10 * S);
  auto s1 = take_all(r.h);
  ASSERT_EQ(s1.size(), 1u);
  EXPECT_EQ(s1[0].seq, r.h.local_seq(seg_seq(11)));
  r.dupack();
  auto s2 = take_all(r.h);
  ASSERT_EQ(s2.size(), 1u);
  EXPECT_EQ(s2[0].seq, r.h.local_seq(seg_seq(12)));
  EXPECT_EQ(r.h.conn().cwnd, 10 * S);
  EXPECT_EQ(stats(r.h.s).dup_acks, 2u);
}

// RFC 5681 §3.2: on the third duplicate ACK retransmit the first unacknowledged segment,
// ssthresh = max(FlightSize / 2, 2 * SMSS) = 14600 / 2 = 7300; cwnd = ssthresh + 3 * SMSS =
// 7300 + 4380 = 11680. Each further duplicate ACK inflates cwnd by SMSS. Exactly the
// initial window is queued, so limited transmit has nothing to send.
TEST(Congestion, FastRetransmitOnThirdDupack) {
  Recovery r;
  r.start(10 * S);
  r.dupack();
  r.dupack();
  r.h.expect_nothing();
  r.dupack();
  auto segs = take_all(r.h);
  ASSERT_EQ(segs.size(), 1u);
  EXPECT_EQ(segs[0].seq, r.h.local_seq(1)) << "retransmits the first unacknowledged segment";
  EXPECT_EQ(segs[0].payload.size(), S);
  EXPECT_EQ(r.h.conn().ssthresh, 7300u);
  EXPECT_EQ(r.h.conn().cwnd, 11680u);
  EXPECT_EQ(stats(r.h.s).retransmits_fast, 1u);
  const std::uint32_t cwnd3 = r.h.conn().cwnd;
  for (std::uint32_t k = 1; k <= 6; ++k) {
    r.dupack();
    EXPECT_EQ(r.h.conn().cwnd, cwnd3 + k * S) << "inflation after dupack " << 3 + k;
  }
  r.h.expect_nothing();  // no more data to send
}

// RFC 5681 §3.2 step 2: "When [RFC3042] is in use, additional data sent in limited transmit
// MUST NOT be included in this calculation": after two limited-transmit segments FlightSize
// is still the 10 segments of the initial window: ssthresh = 7300, cwnd = 11680; with 12
// segments outstanding (17520 > 11680) nothing new is sent; the 5th further dupack brings
// cwnd to 11680 + 5 * 1460 = 18980 >= 17520 + 1460: new data again.
TEST(Congestion, FastRetransmitAfterLimitedTransmit) {
  Recovery r;
  r.start();
  r.dupack();
  r.dupack();
  EXPECT_EQ(take_all(r.h).size(), 2u);  // the two limited-transmit segments
  r.dupack();
  auto segs = take_all(r.h);
  ASSERT_GE(segs.size(), 1u);
  EXPECT_EQ(segs[0].seq, r.h.local_seq(1));
  EXPECT_EQ(segs.size(), 1u) << "outstanding 17520 > cwnd 11680: nothing new";
  EXPECT_EQ(r.h.conn().ssthresh, 7300u);
  EXPECT_EQ(r.h.conn().cwnd, 11680u);
  for (int k = 1; k <= 5; ++k) r.dupack();
  auto more = take_all(r.h);
  EXPECT_GE(more.size(), 1u);
  for (const Segment& sg : more) EXPECT_GE(r.h.rel_local(sg.seq), seg_seq(13));
}

// RFC 6582 §3.2: a partial ACK (below `recover`) retransmits the next unacknowledged
// segment and deflates cwnd by the amount newly acknowledged, adding back SMSS; the full
// ACK ends recovery with cwnd = min(ssthresh, max(FlightSize, SMSS) + SMSS) or ssthresh.
TEST(Congestion, NewRenoPartialThenFullAck) {
  Recovery r;
  r.start();
  // Segments 1 and 5 are lost. Dupacks for 2, 3, 4 -> fast retransmit of 1.
  r.dupack();
  r.dupack();
  r.dupack();
  take_all(r.h);
  const std::uint32_t recover = r.h.snd_nxt() - 1;  // highest sequence number sent: 12 * 1460
  EXPECT_EQ(recover, 12 * S);
  // Dupacks for 6..12 (7 of them).
  for (int k = 0; k < 7; ++k) r.dupack();
  take_all(r.h);
  // The retransmitted segment 1 arrives: the peer has 1..4, acks seg 5's start.
  const ConnInfo before = r.h.conn();
  peer_acks(r.h, seg_seq(5));
  auto segs = take_all(r.h);
  ASSERT_GE(segs.size(), 1u);
  EXPECT_EQ(segs[0].seq, r.h.local_seq(seg_seq(5))) << "partial ACK: retransmit the next hole";
  // Deflate: cwnd - 4 * 1460 newly acked + 1460.
  EXPECT_EQ(r.h.conn().cwnd, before.cwnd - 4 * S + S);
  EXPECT_EQ(r.h.conn().ssthresh, before.ssthresh) << "unchanged by a partial ACK";
  // Segment 5 arrives: the peer now has everything sent; full ACK. FlightSize when it
  // arrives is 0: cwnd = min(ssthresh, max(0, 1460) + 1460) = 2920, or ssthresh.
  const std::uint32_t ssthresh = r.h.conn().ssthresh;
  peer_acks(r.h, r.h.snd_nxt());
  const ConnInfo after = r.h.conn();
  EXPECT_EQ(after.ssthresh, ssthresh);
  EXPECT_TRUE(after.cwnd == ssthresh || after.cwnd == std::min<std::uint32_t>(ssthresh, 2 * S))
      << "cwnd " << after.cwnd;
  // Back in congestion avoidance: the next ACKs grow cwnd slowly.
}

// A full ACK straight away (only segment 1 was lost).
// (Only IW queued: FlightSize 14600, ssthresh 7300.) The full ACK acknowledges everything:
// FlightSize 0 -> cwnd = min(7300, 0 + 1460 + 1460) = 2920, or ssthresh = 7300.
TEST(Congestion, FullAckEndsRecovery) {
  Recovery r;
  r.start(10 * S);
  for (int k = 0; k < 3; ++k) r.dupack();
  take_all(r.h);
  peer_acks(r.h, r.h.snd_nxt());
  const ConnInfo after = r.h.conn();
  EXPECT_EQ(after.ssthresh, 7300u);
  EXPECT_TRUE(after.cwnd == 7300u || after.cwnd == 2920u) << "cwnd " << after.cwnd;
  EXPECT_EQ(after.snd_una, after.snd_nxt);
}

// RFC 5681 §3.1 eq. 4 on an RTO: ssthresh = max(FlightSize / 2, 2 * SMSS) = 14600 / 2 = 7300,
// cwnd = LW = 1 SMSS; and the next ACK does not undo it (µTCP fault 6 restored ssthresh
// unconditionally): slow start from 1460 -> 2920, ssthresh stays 7300.
TEST(Congestion, RtoCollapsesWindowNoUndo) {
  Harness h(reno());
  bulk_established(h, 40 * S);
  ASSERT_EQ(take_all(h).size(), 10u);
  auto d = next_deadline(h.s);
  ASSERT_TRUE(d);
  h.advance_to(*d);
  auto segs = take_all(h);
  ASSERT_EQ(segs.size(), 1u) << "one segment: cwnd is 1 SMSS";
  EXPECT_EQ(segs[0].seq, h.local_seq(1));
  EXPECT_EQ(h.conn().ssthresh, 7300u);
  EXPECT_EQ(h.conn().cwnd, S);
  EXPECT_EQ(stats(h.s).rto_events, 1u);
  peer_acks(h, seg_seq(2));
  EXPECT_EQ(h.conn().ssthresh, 7300u) << "no undo";
  EXPECT_EQ(h.conn().cwnd, 2 * S);
  EXPECT_EQ(take_all(h).size(), 2u);
}

// ssthresh never goes below 2 * SMSS: a flight of one segment lost to an RTO.
TEST(Congestion, RtoSsthreshFloorTwoSmss) {
  Harness h(reno());
  bulk_established(h, S);
  ASSERT_EQ(take_all(h).size(), 1u);
  auto d = next_deadline(h.s);
  ASSERT_TRUE(d);
  h.advance_to(*d);
  take_all(h);
  EXPECT_EQ(h.conn().ssthresh, 2 * S) << "max(1460 / 2, 2920)";
  EXPECT_EQ(h.conn().cwnd, S);
}

// RFC 5681 §3.1: when the segment lost to a timeout was already retransmitted by the
// timer, ssthresh is held constant (7300), not recomputed from the shrunken flight.
TEST(Congestion, SecondRtoKeepsFloor) {
  Harness h(reno());
  bulk_established(h, 40 * S);
  take_all(h);
  for (int i = 0; i < 2; ++i) {
    auto d = next_deadline(h.s);
    ASSERT_TRUE(d);
    h.advance_to(*d);
    take_all(h);
  }
  EXPECT_EQ(h.conn().ssthresh, 7300u);
  EXPECT_EQ(h.conn().cwnd, S);
  EXPECT_EQ(stats(h.s).rto_events, 2u);
}

// End to end against a peer that loses the first transmission of every 9th segment sent
// (except near the end) and
// acknowledges every segment at once (cumulatively): the stream arrives intact, recovered
// by fast retransmit (never an RTO: three duplicate ACKs always follow a single loss),
// with ssthresh never below 2 * SMSS.
TEST(Congestion, LossyTransferRecoversByFastRetransmit) {
  Harness h(reno());
  const std::size_t total = 300 * S;
  bulk_established(h, 0);
  std::string sent_text(total, '\0');
  for (std::size_t i = 0; i < total; ++i) sent_text[i] = static_cast<char>('a' + (i * 7 + i / 1460) % 26);
  std::size_t queued = 0;
  std::string received;
  std::uint32_t rcv_nxt = 1;
  std::map<std::uint32_t, std::string> ooo;
  std::set<std::uint32_t> lost_once;
  int segments = 0;
  for (int step = 0; step < 20000 && received.size() < total; ++step) {
    if (queued < total) {
      auto r = h.send(std::string_view(sent_text).substr(queued));
      ASSERT_TRUE(r);
      queued += r->enqueued;
    }
    if (h.queued() == 0) {
      auto d = next_deadline(h.s);
      ASSERT_TRUE(d) << "stalled at " << received.size();
      h.advance_to(*d);
      continue;
    }
    const Segment seg = h.take()->out.segment;
    if (seg.payload.empty()) continue;
    const std::uint32_t seq = h.rel_local(seg.seq);
    // (no losses in the last 20 segments: a tail loss has no duplicate ACKs behind it)
    if (++segments % 9 == 0 && !lost_once.contains(seq) && seq < total - 20 * S) {
      lost_once.insert(seq);
      continue;
    }
    if (seq <= rcv_nxt) {
      const std::string p = seg.payload.to_string();
      if (seq + p.size() > rcv_nxt) received += p.substr(rcv_nxt - seq);
      rcv_nxt = std::max<std::uint32_t>(rcv_nxt, seq + static_cast<std::uint32_t>(p.size()));
      for (auto it = ooo.begin(); it != ooo.end() && it->first <= rcv_nxt; it = ooo.erase(it))
        if (it->first + it->second.size() > rcv_nxt) {
          received += it->second.substr(rcv_nxt - it->first);
          rcv_nxt = it->first + static_cast<std::uint32_t>(it->second.size());
        }
    } else {
      ooo[seq] = seg.payload.to_string();
    }
    h.peer_sends(ack(1, rcv_nxt, 65535), h.now() + 1ms);
    EXPECT_GE(h.conn().ssthresh, 2 * S);
  }
  EXPECT_EQ(received.size(), total);
  EXPECT_TRUE(received == sent_text) << "the stream arrived corrupted";
  EXPECT_GE(stats(h.s).retransmits_fast, 1u);
  EXPECT_EQ(stats(h.s).rto_events, 0u);
}

}  // namespace
}  // namespace utcp::test
