// Congestion: the recovery every algorithm shares (three duplicate ACKs, NewReno's inflation,
// partial and full acknowledgments), each algorithm's reduction behind it, RFC 7661's
// cwnd-limited test over rounds, and switching algorithms on a live flow.
#include <gtest/gtest.h>

#include "core/congestion.hpp"

namespace utcp::detail {
namespace {

constexpr std::uint32_t S = 1000;
const Seq iss{1000};

struct Sender {
  Congestion cc;
  Seq una = iss + 1, nxt = iss + 1;
  Instant now{};

  explicit Sender(CongestionControl k, std::uint32_t iw = 10 * S) : cc(k) { cc.init(iw, iss); }
  std::uint32_t flight() const { return nxt - una; }
  void send(std::uint32_t n) { nxt = nxt + n; }
  Congestion::Action ack(std::uint32_t n) {
    AckEvent e;
    e.now = now;
    e.flight = flight();
    una = una + n;
    e.ack = una;
    e.snd_nxt = nxt;
    e.acked = n;
    e.smss = S;
    return cc.on_new_ack(e);
  }
  Congestion::Action dup() { return cc.on_dup_ack(now, una, flight(), S, nxt, false); }
  // Send a full window, then have it all acknowledged one segment at a time.
  void full_round() {
    send(cc.cwnd());
    while (una < nxt) ack(S);
  }
};

TEST(CoreCongestion, NewRenoFastRecoveryAsRfc6582) {
  Sender s(CongestionControl::newreno);
  s.send(10 * S);
  EXPECT_EQ(s.dup(), Congestion::Action::none);
  EXPECT_EQ(s.cc.limited_transmit_allowance(S), S);
  EXPECT_EQ(s.dup(), Congestion::Action::none);
  EXPECT_EQ(s.dup(), Congestion::Action::retransmit_first);
  EXPECT_TRUE(s.cc.in_recovery());
  EXPECT_EQ(s.cc.ssthresh(), 5 * S);   // FlightSize / 2
  EXPECT_EQ(s.cc.cwnd(), 8 * S);       // ssthresh + 3 SMSS
  s.dup();
  EXPECT_EQ(s.cc.cwnd(), 9 * S);       // inflation
  EXPECT_EQ(s.ack(2 * S), Congestion::Action::retransmit_first);  // partial
  EXPECT_EQ(s.cc.cwnd(), 8 * S);       // 9 - 2 + 1
  EXPECT_EQ(s.ack(8 * S), Congestion::Action::none);  // full: recover reached
  EXPECT_FALSE(s.cc.in_recovery());
  EXPECT_EQ(s.cc.cwnd(), 2 * S);  // min(ssthresh, max(FlightSize, SMSS) + SMSS), nothing in flight
}

// RFC 6582 §3.2 step 2: "covers more than recover", recover being the highest sequence
// number sent (SND.MAX - 1), is the full acknowledgment of step 3. The ACK that ends one
// episode may therefore start the next: here the segment just after the recovery point is
// lost too, and its three duplicate ACKs (all at the old recovery point) retransmit it at
// once, where the off-by-one test (SEG.ACK > SND.MAX) left it to the retransmission timer.
TEST(CoreCongestion, EpisodeMayStartAtTheLastRecoveryPoint) {
  Sender s(CongestionControl::newreno);
  s.send(10 * S);
  s.dup();
  s.dup();
  ASSERT_EQ(s.dup(), Congestion::Action::retransmit_first);
  s.send(4 * S);  // sent during the episode, beyond its recovery point (10 S)
  EXPECT_EQ(s.ack(10 * S), Congestion::Action::none);  // full: the episode ends
  ASSERT_FALSE(s.cc.in_recovery());
  s.dup();
  s.dup();
  EXPECT_EQ(s.dup(), Congestion::Action::retransmit_first) << "the segment at the old recovery point is lost";
  EXPECT_TRUE(s.cc.in_recovery());
}

// RFC 6582 §4: after a timeout, duplicate ACKs below the data sent before it start no episode.
TEST(CoreCongestion, NoEpisodeFromDuplicatesBelowTheTimeoutsRecoveryPoint) {
  Sender s(CongestionControl::newreno);
  s.send(10 * S);
  s.cc.on_rto(s.now, s.flight(), S, s.nxt);
  s.ack(2 * S);
  s.dup();
  s.dup();
  EXPECT_EQ(s.dup(), Congestion::Action::none);
  EXPECT_FALSE(s.cc.in_recovery());
  s.ack(8 * S);  // the go-back reached SND.MAX of the timeout
  s.send(5 * S);
  s.dup();
  s.dup();
  EXPECT_EQ(s.dup(), Congestion::Action::retransmit_first);
}

// RFC 6582's recover starts at the ISS and moves only at a loss or a timeout. Compared in
// serial-number arithmetic (RFC 1982) it would fall half the sequence space behind after
// 2^31 bytes without a loss, and then "SEG.ACK covers more than recover" would be false
// for the next 2^31 bytes: the first loss of a long clean transfer would wait for the
// retransmission timer. Each new ACK outside recovery that is past it carries it along.
TEST(CoreCongestion, FastRetransmitAfterTwoGibibytesWithoutLoss) {
  for (const auto k : {CongestionControl::newreno, CongestionControl::cubic, CongestionControl::bbr}) {
    Sender s(k);
    constexpr std::uint32_t chunk = 1u << 20;
    for (std::uint64_t sent = 0; sent < (3ull << 30); sent += chunk) {  // 3 GiB, no loss
      s.send(chunk);
      s.ack(chunk);
    }
    s.send(10 * S);
    s.dup();
    s.dup();
    EXPECT_EQ(s.dup(), Congestion::Action::retransmit_first) << to_string(k);
    EXPECT_TRUE(s.cc.in_recovery()) << to_string(k);
    // The RFC 6675 entry (SACK) takes the same test.
    Sender t(k);
    for (std::uint64_t sent = 0; sent < (3ull << 30); sent += chunk) {
      t.send(chunk);
      t.ack(chunk);
    }
    t.send(10 * S);
    EXPECT_TRUE(t.cc.enter_recovery(t.now, t.una, t.flight(), t.flight(), S, t.nxt)) << to_string(k);
  }
}

TEST(CoreCongestion, CubicReducesByBetaOnFastRetransmit) {
  Sender s(CongestionControl::cubic);
  s.send(10 * S);
  s.dup();
  s.dup();
  EXPECT_EQ(s.dup(), Congestion::Action::retransmit_first);
  EXPECT_EQ(s.cc.ssthresh(), 7 * S);  // RFC 9438 §4.6
  EXPECT_EQ(s.cc.cwnd(), 10 * S);     // ssthresh + 3 SMSS during recovery
  s.send(2 * S);
  s.ack(12 * S);
  EXPECT_FALSE(s.cc.in_recovery());
  EXPECT_EQ(s.cc.cwnd(), 2 * S);  // RFC 6582 §3.2 step 3 with nothing in flight
}

TEST(CoreCongestion, WindowGrowsOnlyWhenTheFlightFillsHalfOfIt) {
  // RFC 7661: an application sending 3 segments per round never grows a 10-segment window.
  for (auto k : {CongestionControl::newreno, CongestionControl::cubic}) {
    Sender s(k);
    for (int r = 0; r < 20; ++r) {
      s.send(3 * S);
      s.ack(3 * S);
    }
    EXPECT_EQ(s.cc.cwnd(), 10 * S) << to_string(k);
    // Five segments (half the window) in flight: slow start resumes.
    s.send(5 * S);
    for (int i = 0; i < 5; ++i) s.ack(S);
    EXPECT_GT(s.cc.cwnd(), 10 * S) << to_string(k);
  }
}

TEST(CoreCongestion, ReceiveWindowLimitedSenderDoesNotInflateCwnd) {
  // The sender keeps 20 segments in flight (the peer's window) whatever cwnd says: cwnd stops
  // at twice that, not at 1 GB (issue 13).
  Sender s(CongestionControl::newreno);
  for (int r = 0; r < 200; ++r) {
    const std::uint32_t w = std::min(s.cc.cwnd(), 20 * S);
    s.send(w);
    while (s.una < s.nxt) s.ack(S);
  }
  EXPECT_LE(s.cc.cwnd(), 41 * S);
  EXPECT_GE(s.cc.cwnd(), 40 * S);
}

TEST(CoreCongestion, SlowStartDoublesPerRound) {
  Sender s(CongestionControl::newreno);
  s.full_round();
  EXPECT_EQ(s.cc.cwnd(), 20 * S);
  s.full_round();
  EXPECT_EQ(s.cc.cwnd(), 40 * S);
}

TEST(CoreCongestion, SelectKeepsTheWindow) {
  Sender s(CongestionControl::cubic);
  s.full_round();
  s.send(10 * S);
  for (int i = 0; i < 3; ++i) s.dup();
  s.ack(10 * S);
  const std::uint32_t w = s.cc.cwnd(), th = s.cc.ssthresh();
  s.cc.select(CongestionControl::newreno);
  EXPECT_EQ(s.cc.kind(), CongestionControl::newreno);
  EXPECT_EQ(s.cc.cwnd(), w);
  EXPECT_EQ(s.cc.ssthresh(), th);
  Congestion fresh(CongestionControl::newreno);
  EXPECT_EQ(fresh.kind(), CongestionControl::newreno);
  fresh.select(CongestionControl::cubic);
  EXPECT_EQ(fresh.cwnd(), 0u);
  EXPECT_EQ(fresh.ssthresh(), 0x7fff'ffffu);
}

// RFC 4015 §3 for BBR (Congestion::undo): not the copy of the model from before the episode
// but the model's own undo (Bbr::on_spurious_recovery): the window saved when recovery began
// comes back, here after it fell since the episode ended.
TEST(CoreCongestion, UndoOfABbrEpisodeRestoresItsSavedWindow) {
  Sender s(CongestionControl::bbr);
  s.send(10 * S);
  const std::uint32_t before = s.cc.cwnd();
  const Congestion::Algorithm prior = s.cc.algorithm();
  s.dup();
  s.dup();
  s.dup();
  ASSERT_TRUE(s.cc.in_recovery());
  s.ack(10 * S);  // the recovery point: the episode ends
  ASSERT_FALSE(s.cc.in_recovery());
  s.cc.bbr()->cwnd = 2 * S;
  s.cc.undo(prior);
  EXPECT_EQ(s.cc.cwnd(), before);
}

TEST(CoreCongestion, Names) {
  EXPECT_EQ(to_string(CongestionControl::newreno), "reno");
  EXPECT_EQ(to_string(CongestionControl::cubic), "cubic");
  EXPECT_EQ(congestion_control_from("reno"), CongestionControl::newreno);
  EXPECT_EQ(congestion_control_from("newreno"), CongestionControl::newreno);
  EXPECT_EQ(congestion_control_from("cubic"), CongestionControl::cubic);
  EXPECT_EQ(congestion_control_from("vegas"), std::nullopt);
}

TEST(CoreCongestion, PacingRateIsTwiceTheWindowPerRttInSlowStart) {
  const auto ms10 = std::chrono::milliseconds(10);
  Cubic c;
  c.cwnd = 10 * S;
  c.ssthresh = 100 * S;
  EXPECT_EQ(c.pacing_rate(ms10), 2'000'000u);  // 10 kB per 10 ms, times 2
  c.cwnd = 50 * S;                              // no longer below ssthresh / 2
  EXPECT_EQ(c.pacing_rate(ms10), 6'000'000u);   // times 1.2
  NewReno r;
  r.cwnd = 10 * S;
  EXPECT_EQ(r.pacing_rate(ms10), 2'000'000u);
  EXPECT_EQ(r.pacing_rate(Duration{}), 0u);
}

}  // namespace
}  // namespace utcp::detail
