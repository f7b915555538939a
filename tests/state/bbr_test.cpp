// BBR (draft-ietf-ccwg-bbr-03) through the engine, and pacing: the state machine moving
// Startup -> Drain -> ProbeBW on the ACKs of a modelled bottleneck, the choice of BBR per
// stack, per flow and on a live flow, and the pacing deadline (Timer::pacing, seen through
// ConnInfo::deadline) that releases what is not yet due.
#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "harness.hpp"

namespace utcp::test {
namespace {

constexpr std::uint32_t S = 1460;

Config bbr() {
  Config c;
  c.congestion_control = CongestionControl::bbr;
  c.send_buffer = 8 << 20;
  return c;
}

// A bottleneck the test plays: `per_segment` to serialize one full segment, `one_way` delay
// each way, FIFO, no loss. The peer ACKs every segment when it arrives.
struct Path {
  explicit Path(Harness& harness) : h(harness) {}
  Harness& h;
  Duration per_segment = 1ms;  // 1.46 MB/s
  Duration one_way = 5ms;
  Instant link_free{};
  std::multimap<Instant, std::uint32_t> acks;  // arrival at the stack -> relative ACK
  std::vector<std::string> states;             // the BBR states seen, in order, no repeats

  // The stack's data segments, queued on the link.
  void carry() {
    while (h.queued() > 0) {
      const Emitted e = *h.take();
      const Segment& s = e.out.segment;
      if (s.payload.empty()) continue;
      const Duration ser = per_segment * static_cast<std::int64_t>(s.payload.size()) / S;
      link_free = std::max(link_free, e.at + one_way) + ser;
      acks.emplace(link_free + one_way, (s.seq + static_cast<std::uint32_t>(s.payload.size())) - h.local_seq(0));
    }
  }
  void note_state() {
    const std::string st(h.conn().cc_state);
    if (states.empty() || states.back() != st) states.push_back(st);
  }
  // Runs the transfer until `until`: timers (pacing) and ACKs in time order.
  void run(Instant until) {
    note_state();
    for (;;) {
      carry();
      const auto deadline = h.conn().deadline;
      const Instant next_ack = acks.empty() ? Instant::max() : acks.begin()->first;
      if (deadline && *deadline < next_ack && *deadline < until) {
        h.advance_to(*deadline);
        continue;
      }
      if (acks.empty() || next_ack >= until) break;
      const std::uint32_t rel = acks.begin()->second;
      acks.erase(acks.begin());
      h.peer_sends(ack(1, rel, 65535), next_ack);
      note_state();
    }
  }
};

TEST(Bbr, ChosenPerStackPerFlowAndOnALiveFlow) {
  Harness a(bbr());
  a.to_established({Mss{1460}});
  EXPECT_EQ(a.conn().congestion_control, CongestionControl::bbr);
  EXPECT_EQ(a.conn().cc_state, "Startup");
  EXPECT_GT(a.conn().pacing_rate, 0u) << "BBR paces always";

  Harness b;
  FlowOptions o;
  o.congestion_control = CongestionControl::bbr;
  b.to_established({Mss{1460}}, o);
  EXPECT_EQ(b.conn().congestion_control, CongestionControl::bbr);
  EXPECT_EQ(b.conn().cc_state, "Startup");

  Harness c;
  c.to_established({Mss{1460}});
  EXPECT_EQ(c.conn().cc_state, "");
  EXPECT_EQ(c.conn().pacing_rate, 0u) << "CUBIC without FlowOptions::pacing does not pace";
  auto r = set_options(std::move(c.s), c.flow, o);
  ASSERT_TRUE(r);
  c.s = std::move(*r);
  EXPECT_EQ(c.conn().congestion_control, CongestionControl::bbr);
  EXPECT_EQ(c.conn().cwnd, 10 * S) << "the window carries over";
  ASSERT_TRUE(c.send(std::string(20 * S, 'x')));
  EXPECT_EQ(c.conn().cc_state, "Startup");
  EXPECT_GT(c.conn().pacing_rate, 0u) << "paced from its first send on";
}

TEST(Bbr, NamedAsLinuxNamesIt) {
  EXPECT_EQ(to_string(CongestionControl::bbr), "bbr");
  EXPECT_EQ(congestion_control_from("bbr"), CongestionControl::bbr);
}

// Startup doubles the delivery rate each round until it stops growing (three rounds), Drain
// empties the queue Startup built, then ProbeBW cycles; the model's bandwidth is the
// bottleneck's (1460 B per ms).
TEST(Bbr, StartupDrainProbeBwOnTheAcksOfABottleneck) {
  Harness h(bbr());
  h.to_established({Mss{1460}, WindowScale{7}});
  ASSERT_TRUE(h.send(std::string(4 << 20, 'b')));
  Path p(h);
  p.run(h.now() + 2s);
  ASSERT_GE(p.states.size(), 3u);
  EXPECT_EQ(p.states[0], "Startup");
  EXPECT_EQ(p.states[1], "Drain");
  EXPECT_EQ(p.states[2].substr(0, 7), "ProbeBW");
  for (std::size_t i = 3; i < p.states.size(); ++i) EXPECT_EQ(p.states[i].substr(0, 7), "ProbeBW") << i;
  const double bw = static_cast<double>(h.conn().bottleneck_bw);
  EXPECT_NEAR(bw, 1.46e6, 0.1 * 1.46e6);
  EXPECT_GT(h.conn().delivery_rate, 0u);
}

// Pacing: the first send quantum goes at once, the rest one segment per SMSS / rate, each
// released by the pacing deadline the flow reports.
void expect_paced(Harness& h) {
  const std::uint64_t rate = h.conn().pacing_rate;
  ASSERT_GT(rate, 0u);
  const Instant start = h.now();
  std::size_t burst = 0;
  while (h.queued() > 0) {
    EXPECT_EQ(h.take()->at, start);
    ++burst;
  }
  EXPECT_GE(burst, 1u);
  EXPECT_LE(burst, 1 + std::max<std::uint64_t>(rate / 1000, 2 * S) / S) << "at most a send quantum at once";
  ASSERT_TRUE(h.conn().deadline.has_value());
  const auto gap = std::chrono::nanoseconds(S * 1'000'000'000ull / rate);
  EXPECT_GT(*h.conn().deadline, start);
  EXPECT_LE(*h.conn().deadline, start + gap);
  // Each deadline releases one segment, a gap after the one before.
  Instant last{};
  for (int i = 0; i < 4; ++i) {
    const Instant d = *h.conn().deadline;
    h.advance_to(d);
    ASSERT_EQ(h.queued(), 1u) << i;
    const Emitted e = *h.take();
    EXPECT_EQ(e.at, d);
    EXPECT_EQ(e.out.segment.payload.size(), S);
    if (i > 0) {
      EXPECT_NEAR(static_cast<double>((d - last).count()), static_cast<double>(gap.count()), 2.0);
    }
    last = d;
  }
}

TEST(Pacing, BbrSpacesItsInitialWindow) {
  Harness h(bbr());
  h.to_established({Mss{1460}, WindowScale{7}});
  // BBRInitPacingRate: 2.77 x 10 segments per 10 ms handshake RTT.
  EXPECT_NEAR(static_cast<double>(h.conn().pacing_rate), 2.77 * 14600 / 0.010, 1.0);
  ASSERT_TRUE(h.send(std::string(20 * S, 'p')));
  expect_paced(h);
}

// A paced flow's burst (here the initial window, which the pacer lets go at once at a 100 us
// handshake RTT's rate: 2.77 x 14600 B / 100 us, a 64 KiB quantum) is reserved in the output
// vector at once, as an unpaced flight is: 10 outputs in a vector of 10, not grown 1, 2, 4, 8,
// 16 (five allocations, each moving the outputs built so far; output.cpp's make_room).
TEST(Pacing, BbrBurstIsReservedOnce) {
  Harness h(bbr());
  h.to_syn_received({Mss{1460}, WindowScale{7}});
  h.peer_sends(ack(1, 1, kPeerWindow), h.now() + 100us);
  ASSERT_TRUE(h.take_event<Established<int>>());
  EXPECT_NEAR(static_cast<double>(h.conn().pacing_rate), 2.77 * 14600 / 100e-6, 2.0);
  std::vector<Output> out;  // empty: the call reserves what it sends
  auto sent = send(std::move(h.s), h.now(), h.flow, std::string_view(std::string(20 * S, 'p')), out);
  ASSERT_TRUE(sent);
  h.s = std::move(sent->state);
  EXPECT_EQ(out.size(), 10u) << "the initial window at once: the pacer's catch-up is 69 segments";
  EXPECT_EQ(out.capacity(), out.size());
}

TEST(Pacing, CubicPacesWhenTheFlowAsksForIt) {
  Harness h;
  FlowOptions o;
  o.pacing = true;
  h.to_established({Mss{1460}, WindowScale{7}}, o);
  // Linux's rate: cwnd / SRTT x 2 in slow start.
  EXPECT_EQ(h.conn().pacing_rate, 2u * 14600 * 100);
  ASSERT_TRUE(h.send(std::string(20 * S, 'p')));
  expect_paced(h);
}

TEST(Pacing, OffSendsTheWindowAtOnce) {
  Harness h;
  h.to_established({Mss{1460}, WindowScale{7}});
  ASSERT_TRUE(h.send(std::string(20 * S, 'p')));
  EXPECT_EQ(h.queued(), 10u);
  EXPECT_NE(h.conn().deadline, std::optional<Instant>(h.now() + std::chrono::nanoseconds(1)));
}


// ---- BBR with SACK loss recovery ----

Config bbr_sack() {
  Config c = bbr();
  c.sack = true;
  return c;
}

// A bottleneck as Path (1 ms per full segment, `one_way` each way, FIFO) that drops the data
// segments `drop` picks and a receiver that ACKs every arrival with its cumulative ACK and up
// to three SACK blocks (the one holding the arrival first, RFC 2018 §4). It records the
// bytes in the network (sent, not dropped, not yet arrived) whenever the stack has just sent,
// against the window the stack reports then.
struct LossyPath {
  explicit LossyPath(Harness& harness) : h(harness) {}
  Harness& h;
  Duration per_segment = 1ms;
  Duration one_way = 5ms;
  // (relative sequence number, retransmission?) -> dropped on the link.
  std::function<bool(std::uint32_t, bool)> drop = [](std::uint32_t, bool) { return false; };
  Instant link_free{};
  std::uint32_t highest = 1;                                 // relative SND.MAX seen
  std::multimap<Instant, std::pair<std::uint32_t, std::uint32_t>> arrivals;  // [begin, end)
  std::multimap<Instant, Tcp> acks;
  std::map<std::uint32_t, std::uint32_t> held;  // receiver: out-of-order [begin, end)
  std::uint32_t cum = 1;
  std::uint64_t in_network = 0, worst_excess = 0;  // bytes beyond cwnd + 1 SMSS, at worst
  // On each ACK that SACKed data without moving SND.UNA: what ConnInfo::delivered grew by.
  std::vector<std::uint64_t> delivered_while_stuck;
  std::vector<std::uint64_t> rates_while_stuck;  // ConnInfo::delivery_rate after it
  std::uint32_t dropped = 0;

  void carry() {
    bool sent = false;
    while (h.queued() > 0) {
      const Emitted e = *h.take();
      const Segment& s = e.out.segment;
      if (s.payload.empty()) continue;
      const std::uint32_t b = h.rel_local(s.seq), len = static_cast<std::uint32_t>(s.payload.size());
      const bool rtx = b < highest;
      highest = std::max(highest, b + len);
      sent = true;
      if (drop(b, rtx)) {
        ++dropped;
        continue;
      }
      const Duration ser = per_segment * static_cast<std::int64_t>(len) / S;
      link_free = std::max(link_free, e.at + one_way) + ser;
      arrivals.emplace(link_free, std::pair{b, b + len});
      in_network += len;
    }
    if (sent) {
      const std::uint64_t bound = std::uint64_t{h.conn().cwnd} + S;
      if (in_network > bound) worst_excess = std::max(worst_excess, in_network - bound);
    }
  }
  void arrive(Instant at, std::uint32_t b, std::uint32_t e) {
    in_network -= e - b;
    std::uint32_t latest_b = b, latest_e = e;
    if (b <= cum) {
      cum = std::max(cum, e);
    } else {
      held[b] = std::max(held[b], e);
    }
    // Merge what is held; move the cumulative point over what joins it.
    for (auto it = held.begin(); it != held.end();) {
      if (it->first <= cum) {
        cum = std::max(cum, it->second);
        it = held.erase(it);
        continue;
      }
      auto next = std::next(it);
      if (next != held.end() && next->first <= it->second) {
        it->second = std::max(it->second, next->second);
        held.erase(next);
        continue;
      }
      if (it->first <= latest_b && latest_b < it->second) latest_b = it->first, latest_e = it->second;
      ++it;
    }
    Tcp a = ack(1, cum, 65535);
    if (!held.empty()) {
      Sack sack;
      if (latest_b > cum) sack.blocks.emplace_back(h.local_seq(latest_b), h.local_seq(latest_e));
      for (auto it = held.rbegin(); it != held.rend() && sack.blocks.size() < 3; ++it)
        if (it->first != latest_b) sack.blocks.emplace_back(h.local_seq(it->first), h.local_seq(it->second));
      a.options = {sack};
    }
    acks.emplace(at + one_way, a);
  }
  void run(Instant until) {
    for (;;) {
      carry();
      const auto deadline = h.conn().deadline;
      const Instant next_arrival = arrivals.empty() ? Instant::max() : arrivals.begin()->first;
      const Instant next_ack = acks.empty() ? Instant::max() : acks.begin()->first;
      const Instant next = std::min({deadline.value_or(Instant::max()), next_arrival, next_ack});
      if (next >= until || next == Instant::max()) break;
      if (next_arrival == next) {
        const auto [b, e] = arrivals.begin()->second;
        arrivals.erase(arrivals.begin());
        arrive(next, b, e);
      } else if (next_ack == next) {
        const Tcp a = acks.begin()->second;
        acks.erase(acks.begin());
        const std::uint32_t una = h.snd_una();
        const std::uint64_t delivered = h.conn().delivered;
        h.peer_sends(a, next);
        if (h.snd_una() == una && !a.options.empty()) {
          delivered_while_stuck.push_back(h.conn().delivered - delivered);
          rates_while_stuck.push_back(h.conn().delivery_rate);
        }
      } else {
        h.advance_to(next);
      }
    }
  }
};

// draft-ietf-ccwg-bbr-03 "Modulating cwnd in loss recovery": BBR sets its window on every
// ACK in recovery too, and what is in the network stays within it. One segment in 50 is
// lost: during each SACK recovery the stack sends only into the room cwnd leaves over the
// pipe (RFC 6675), not what PRR would allow with the ssthresh BBR has not got (that let the
// pipe grow by a segment per ACK, to 150-230 KB over a 25 KB path in the simulator).
TEST(BbrSack, RecoverySendsWithinBbrsWindow) {
  Harness h(bbr_sack());
  h.to_established({Mss{1460}, WindowScale{7}, SackPermitted{}});
  ASSERT_TRUE(h.send(std::string(600 * S, 'r')));
  LossyPath p(h);
  p.drop = [](std::uint32_t b, bool rtx) { return !rtx && ((b - 1) / S) % 50 == 7; };
  p.run(h.now() + 5s);
  EXPECT_EQ(h.snd_una(), 1 + 600 * S) << "everything delivered";
  EXPECT_GE(p.dropped, 10u);
  EXPECT_GT(stats(h.s).retransmits_fast, 0u);
  EXPECT_EQ(stats(h.s).retransmits_rto, 0u);
  EXPECT_EQ(p.worst_excess, 0u) << "bytes in the network beyond BBR's cwnd + 1 SMSS";
  h.check();
}

// Delivery rate estimation ("Upon receiving an ACK": C.delivered counts SACKed data): while a
// hole holds SND.UNA, the ACKs that SACK the data behind it give rate samples near the
// bottleneck's 1460 B/ms; after the recovery the bandwidth estimate is the bottleneck's.
TEST(BbrSack, SackedDataIsDeliveredWhenSacked) {
  Harness h(bbr_sack());
  h.to_established({Mss{1460}, WindowScale{7}, SackPermitted{}});
  ASSERT_TRUE(h.send(std::string(600 * S, 'd')));
  LossyPath p(h);
  // One loss, late enough for the model to know the path.
  p.drop = [](std::uint32_t b, bool rtx) { return !rtx && b == 1 + 300 * S; };
  p.run(h.now() + 5s);
  ASSERT_EQ(h.snd_una(), 1 + 600 * S);
  ASSERT_GE(p.delivered_while_stuck.size(), 5u);
  for (std::uint64_t d : p.delivered_while_stuck) EXPECT_EQ(d, S) << "each SACKed segment delivered when SACKed";
  // The samples follow the sending rate (ProbeBW paces at 0.9-1.25 x the estimate).
  for (std::uint64_t r : p.rates_while_stuck) EXPECT_NEAR(static_cast<double>(r), 1.46e6, 0.25 * 1.46e6);
  EXPECT_NEAR(static_cast<double>(h.conn().bottleneck_bw), 1.46e6, 0.1 * 1.46e6);
}

// The first segment sent after a recovery episode began is lost too: once the episode ends,
// SND.UNA stops at the old RecoveryPoint. The next episode starts there (RFC 6675 §5.1) on
// RACK's mark, and the segment is repaired without a timeout, with BBR's pacing (RACK's
// reordering timer sends what it finds at once).
TEST(BbrSack, LossAtTheRecoveryPointIsRepairedWithoutTimeout) {
  Harness h(bbr_sack());
  h.to_established({Mss{1460}, WindowScale{7}, SackPermitted{}});
  ASSERT_TRUE(h.send(std::string(400 * S, 'p')));
  LossyPath p(h);
  bool first_rtx_seen = false, second_dropped = false;
  std::uint32_t high_at_rtx = 0, second = 0;
  p.drop = [&](std::uint32_t b, bool rtx) {
    if (!rtx && b == 1 + 100 * S) return true;  // the first loss
    if (rtx && !first_rtx_seen) {
      first_rtx_seen = true;
      high_at_rtx = p.highest;  // SND.MAX when the episode began: its recovery point
      return false;
    }
    if (first_rtx_seen && !second_dropped && !rtx && b == high_at_rtx) {
      second_dropped = true;
      second = b;
      return true;
    }
    return false;
  };
  p.run(h.now() + 5s);
  ASSERT_TRUE(second_dropped);
  EXPECT_GT(second, 1 + 100 * S);
  EXPECT_EQ(h.snd_una(), 1 + 400 * S);
  EXPECT_EQ(stats(h.s).retransmits_rto, 0u);
  EXPECT_EQ(stats(h.s).rto_events, 0u);
  EXPECT_EQ(stats(h.s).retransmits_fast, 2u);
}

}  // namespace
}  // namespace utcp::test
