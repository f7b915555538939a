// Sender rules that only show over time or from outside the connection:
// - restart after idle (RFC 5681 §4.1): a sender that has sent nothing for longer than the RTO
//   starts again from at most the initial window;
// - path MTU (RFC 1191, RFC 8201, RFC 5927 §4.1): the core's path_mtu call lowers SMSS only
//   for an error quoting data in flight, never below the IPv4 / IPv6 minimum MTUs, and resends
//   what was in flight at the new size;
// - retransmissions counted by cause (timeout or fast retransmit).
#include <gtest/gtest.h>

#include "harness.hpp"

namespace utcp::test {
namespace {

constexpr std::uint32_t S = 1460;  // SMSS, both sides offer 1460

std::vector<Segment> take_all(Harness& h) {
  std::vector<Segment> segs;
  while (h.queued() > 0) segs.push_back(h.take()->out.segment);
  return segs;
}

// Sends `segments` full segments, acknowledging each one separately as it leaves, so slow
// start grows cwnd by one SMSS per ACK; returns with everything acknowledged (flight 0).
void send_and_ack_each(Harness& h, std::uint32_t segments) {
  ASSERT_TRUE(h.send(std::string(segments * S, 'i')));
  std::uint32_t acked = 0;
  while (acked < segments) {
    auto segs = take_all(h);
    ASSERT_FALSE(segs.empty()) << "the sender stalled after " << acked << " segments";
    for (const Segment& sg : segs) {
      const std::uint32_t end = h.rel_local(sg.seq) + static_cast<std::uint32_t>(sg.payload.size());
      h.peer_sends(ack(1, end, 65535), h.now() + 1ms);
      ++acked;
    }
  }
  take_all(h);
  ASSERT_EQ(h.conn().snd_una, h.conn().snd_max);
}

// Grows cwnd to 20 segments by acknowledging the 10 segments of the initial window one by one.
void grown_window(Harness& h) {
  h.to_established({Mss{1460}, WindowScale{7}});
  send_and_ack_each(h, 10);
  ASSERT_EQ(h.conn().cwnd, 20 * S);
}

// RFC 5681 §4.1: idle for longer than the RTO, so cwnd restarts from the initial window
// (RW = min(IW, cwnd)); only 10 of the 40 queued segments leave at once.
TEST(RestartAfterIdle, LongIdleRestartsFromTheInitialWindow) {
  Harness h;
  grown_window(h);
  h.advance(5s);  // well beyond the RTO (about 200 ms after the 1 ms samples)
  ASSERT_TRUE(h.send(std::string(40 * S, 'j')));
  EXPECT_EQ(take_all(h).size(), 10u);
  EXPECT_EQ(h.conn().cwnd, 10 * S);
}

// Idle for less than the RTO: the window is kept, all 20 segments it allows leave at once.
TEST(RestartAfterIdle, ShortIdleKeepsTheWindow) {
  Harness h;
  grown_window(h);
  h.advance(50ms);
  ASSERT_TRUE(h.send(std::string(40 * S, 'j')));
  EXPECT_EQ(take_all(h).size(), 20u);
  EXPECT_EQ(h.conn().cwnd, 20 * S);
}

// The restart window is min(IW, cwnd): a cwnd below the initial window (after an RTO) is not
// raised by idling.
TEST(RestartAfterIdle, NeverRaisesASmallerWindow) {
  Harness h;
  h.to_established({Mss{1460}, WindowScale{7}});
  ASSERT_TRUE(h.send(std::string(4 * S, 'k')));
  ASSERT_EQ(take_all(h).size(), 4u);
  auto d = next_deadline(h.s);
  ASSERT_TRUE(d);
  h.advance_to(*d);  // RTO: cwnd = 1 SMSS
  ASSERT_EQ(h.conn().cwnd, S);
  take_all(h);
  h.peer_sends(ack(1, 1 + 4 * S, 65535), h.now() + 1ms);  // everything acknowledged
  take_all(h);
  const std::uint32_t cwnd = h.conn().cwnd;
  ASSERT_LT(cwnd, 10 * S);
  h.advance(10s);
  ASSERT_TRUE(h.send(std::string(40 * S, 'l')));
  EXPECT_EQ(h.conn().cwnd, cwnd);
  EXPECT_EQ(take_all(h).size(), cwnd / S);
}

// Retransmissions by cause: after a timeout the sender goes back to SND.UNA; the ACK of the
// first retransmission resets the backoff, and the rest of the go-back still counts as
// timeout-driven, never as fast retransmits (no duplicate ACKs were ever seen).
TEST(RetransmitStats, GoBackAfterTimeoutCountsAsTimeout) {
  Harness h;
  h.to_established({Mss{1460}, WindowScale{7}});
  ASSERT_TRUE(h.send(std::string(10 * S, 'r')));
  ASSERT_EQ(take_all(h).size(), 10u);
  auto d = next_deadline(h.s);
  ASSERT_TRUE(d);
  h.advance_to(*d);  // RTO: everything is lost, one segment resent
  // The peer lost all ten originals: it acknowledges each retransmission as it arrives.
  std::uint64_t resent = 0;
  for (int round = 0; round < 20 && h.conn().snd_una != h.local_seq(1 + 10 * S); ++round) {
    auto segs = take_all(h);
    ASSERT_FALSE(segs.empty()) << "stalled in round " << round;
    for (const Segment& sg : segs) {
      const std::uint32_t end = h.rel_local(sg.seq) + static_cast<std::uint32_t>(sg.payload.size());
      h.peer_sends(ack(1, end, 65535), h.now() + 1ms);
      ++resent;
    }
  }
  EXPECT_EQ(resent, 10u);
  EXPECT_EQ(stats(h.s).retransmits_fast, 0u);
  EXPECT_EQ(stats(h.s).retransmits_rto, resent);
}

struct PathMtu : ::testing::Test {
  Harness h;
  std::vector<Segment> first;

  void SetUp() override {
    h.to_established({Mss{1460}, WindowScale{7}});
    ASSERT_TRUE(h.send(std::string(20 * S, 'p')));
    first = take_all(h);
    ASSERT_EQ(first.size(), 10u);
  }
  // The ICMP error quoting relative sequence `rel`; returns the segments sent in response.
  std::vector<Segment> icmp(std::uint32_t mtu, std::uint32_t rel) {
    auto r = path_mtu(std::move(h.s), h.now(), h.flow, mtu, h.local_seq(rel));
    EXPECT_TRUE(r.has_value());
    if (!r) return {};
    h.s = std::move(r->state);
    std::vector<Segment> segs;
    for (Output& o : r->out) segs.push_back(std::move(o.segment));
    h.check();
    return segs;
  }
};

// RFC 1191 / RFC 5927 §4.1: an error quoting an unacknowledged sequence number lowers SMSS to
// MTU - 40 and what was in flight is resent in segments of the new size from SND.UNA.
TEST_F(PathMtu, QuotedInFlightLowersTheMssAndResends) {
  auto segs = icmp(1280, 1 + 3 * S);
  EXPECT_EQ(h.conn().mss, 1240u);
  ASSERT_FALSE(segs.empty());
  EXPECT_EQ(segs[0].seq, h.local_seq(1));
  for (const Segment& sg : segs) EXPECT_LE(sg.payload.size(), 1240u);
  EXPECT_EQ(segs[0].payload.size(), 1240u);
}

// RFC 5927 §4.1: a quoted sequence outside SND.UNA..SND.MAX is not believed.
TEST_F(PathMtu, QuotedOutsideTheFlightIsIgnored) {
  EXPECT_TRUE(icmp(1280, 1 + 10 * S).empty());  // SND.MAX itself: never sent
  EXPECT_TRUE(icmp(1280, 0).empty());           // the SYN, acknowledged long ago
  EXPECT_EQ(h.conn().mss, S);
}

// Never below the IPv4 minimum of 576 (MSS 536), whatever the error says (RFC 1191 §3).
TEST_F(PathMtu, NeverBelowTheIpv4Minimum) {
  icmp(68, 1);
  EXPECT_EQ(h.conn().mss, 536u);
}

// An error announcing a larger MTU than the current one does not raise SMSS (RFC 1191 §6.3).
TEST_F(PathMtu, LargerMtuIsIgnored) {
  EXPECT_TRUE(icmp(9000, 1).empty());
  EXPECT_EQ(h.conn().mss, S);
}

// IPv6: MSS = MTU - 60, never below 1280 - 60 = 1220 (RFC 8201 §4).
TEST(PathMtuV6, NeverBelowTheIpv6Minimum) {
  Harness h(HarnessOptions{.ipv6 = true});
  h.to_established({Mss{1440}, WindowScale{7}});
  ASSERT_EQ(h.conn().mss, 1440u);
  ASSERT_TRUE(h.send(std::string(4 * 1440, 'v')));
  take_all(h);
  auto r = path_mtu(std::move(h.s), h.now(), h.flow, 1000, h.local_seq(1));
  ASSERT_TRUE(r);
  h.s = std::move(r->state);
  EXPECT_EQ(h.conn().mss, 1220u);
}

}  // namespace
}  // namespace utcp::test
