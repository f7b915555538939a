// BBR (draft-ietf-ccwg-bbr-03) through the engine, and pacing: the state machine moving
// Startup -> Drain -> ProbeBW on the ACKs of a modelled bottleneck, the choice of BBR per
// stack, per flow and on a live flow, and the pacing deadline (Timer::pacing, seen through
// ConnInfo::deadline) that releases what is not yet due.
#include <gtest/gtest.h>

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

}  // namespace
}  // namespace utcp::test
