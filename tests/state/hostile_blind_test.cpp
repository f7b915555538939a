// Hostile peers, part 1: blind in-window attacks (RFC 5961) on an ESTABLISHED connection.
// An off-path attacker guesses sequence numbers: RSTs, SYNs and data with guessed numbers
// must neither kill nor corrupt the connection, and the challenge ACKs they provoke stay
// within Config's per-flow and per-stack rate limits.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "harness.hpp"

namespace utcp::test {
namespace {

// xorshift64: a seeded generator, so every run sends the same "guesses".
struct Rng {
  std::uint64_t x;
  std::uint64_t next() {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
  }
  std::uint32_t u32() { return static_cast<std::uint32_t>(next() >> 16); }
};

// Data flows both ways, intact, after whatever came before.
void expect_data_flows(Harness& h) {
  const std::uint32_t rcv = h.rcv_nxt(), snd = h.snd_nxt();
  h.clear_outputs();
  h.peer_sends(data(rcv, snd, kTen));
  EXPECT_EQ(h.read_all(), kTen);
  h.clear_outputs();
  ASSERT_TRUE(h.send("reply").has_value());
  h.advance(200ms);
  bool seen = false;
  for (const auto& e : h.outputs())
    if (e.out.segment.payload.to_string() == "reply" && h.rel_local(e.out.segment.seq) == snd) seen = true;
  EXPECT_TRUE(seen) << "the stack did not send its data at SND.NXT";
  EXPECT_EQ(h.state(), TcpState::established);
}

TEST(HostileBlind, GuessedRstSynAndDataNeitherKillNorCorrupt) {
  Harness h;
  h.to_established();
  const ConnInfo before = h.conn();
  Rng rng{0x5961};
  int rsts = 0, syns = 0, datas = 0;
  for (int i = 0; i < 6000; ++i) {
    const std::uint32_t seq = rng.u32(), ackno = rng.u32();
    // An exact guess of RCV.NXT (RST), or of both an in-window sequence number and an
    // acceptable ACK (data), is what RFC 5961 leaves to chance (~2^-32): not a blind attack.
    const std::uint32_t rel_seq = seq - h.peer_isn.value();
    const bool seq_in_window = rel_seq - h.rcv_nxt() < 65536u;
    const std::uint32_t rel_ack = ackno - h.local_isn.value();
    const bool ack_ok = rel_ack - (h.snd_una() - 70000u) <= 70000u;
    switch (i % 3) {
      case 0:
        if (rel_seq == h.rcv_nxt()) continue;
        h.peer_sends(rst(rel_seq));
        ++rsts;
        break;
      case 1:
        h.peer_sends(syn(rel_seq));
        ++syns;
        break;
      default:
        if (seq_in_window && ack_ok) continue;
        h.peer_sends(data(rel_seq, rel_ack, "EVIL!"));
        ++datas;
        break;
    }
    h.advance(1ms);
    ASSERT_EQ(h.state(), TcpState::established) << "after injection " << i;
    if (h.queued() > 1000) h.clear_outputs();
  }
  EXPECT_GT(rsts + syns + datas, 5900);
  const ConnInfo after = h.conn();
  EXPECT_EQ(after.rcv_nxt, before.rcv_nxt);
  EXPECT_EQ(after.snd_una, before.snd_una);
  EXPECT_EQ(after.snd_nxt, before.snd_nxt);
  EXPECT_EQ(after.recv_queued, 0u) << "injected data was accepted";
  EXPECT_TRUE(h.drops.empty());
  h.expect_no_event();
  expect_data_flows(h);
}

// Count the challenge ACKs (pure ACKs from the stack) in a window of virtual time while an
// attacker sends `per_second` in-window RSTs (or SYNs) per second.
TEST(HostileBlind, ChallengeAcksPerFlowStayWithinTheRateLimit) {
  Config cfg;
  cfg.challenge_acks_per_second_per_flow = 10;
  Harness h(cfg);
  h.to_established();
  h.clear_outputs();
  const Stats s0 = stats(h.s);
  constexpr int kSeconds = 5, kPerSecond = 500;
  int sent = 0;
  for (int sec = 0; sec < kSeconds; ++sec) {
    for (int k = 0; k < kPerSecond; ++k) {
      // In window but not RCV.NXT: RFC 5961 §3.2 challenge; a SYN: §4.2 challenge.
      if (k % 2 == 0)
        h.peer_sends(rst(h.rcv_nxt() + 1 + static_cast<std::uint32_t>(k)));
      else
        h.peer_sends(syn(h.rcv_nxt() + static_cast<std::uint32_t>(k)));
      ++sent;
      h.advance(std::chrono::microseconds(1'000'000 / kPerSecond));
    }
  }
  ASSERT_EQ(h.state(), TcpState::established);
  const Stats s1 = stats(h.s);
  const std::uint64_t acks = s1.challenge_acks - s0.challenge_acks;
  const std::uint64_t held = s1.challenge_acks_suppressed - s0.challenge_acks_suppressed;
  EXPECT_EQ(acks + held, static_cast<std::uint64_t>(sent))
      << "every challenge is sent or counted as held back";
  // A window that starts anywhere may straddle two of the limiter's seconds.
  EXPECT_LE(acks, std::uint64_t{cfg.challenge_acks_per_second_per_flow} * (kSeconds + 1));
  EXPECT_GE(acks, std::uint64_t{cfg.challenge_acks_per_second_per_flow} * (kSeconds - 1))
      << "challenges stopped";
  std::size_t pure_acks = 0;
  for (const auto& e : h.outputs())
    if (e.out.segment.flag == Flag::none && e.out.segment.payload.size() == 0) ++pure_acks;
  EXPECT_EQ(pure_acks, acks) << "what went out matches Stats::challenge_acks";
  EXPECT_EQ(s1.drop(DropReason::rst_challenged) - s0.drop(DropReason::rst_challenged),
            static_cast<std::uint64_t>(sent / 2));
  EXPECT_EQ(s1.drop(DropReason::syn_challenged) - s0.drop(DropReason::syn_challenged),
            static_cast<std::uint64_t>(sent / 2));
  expect_data_flows(h);
}

// The per-stack limit: many flows under attack at once share one budget.
TEST(HostileBlind, ChallengeAcksPerStackStayWithinTheRateLimit) {
  Config cfg;
  cfg.challenge_acks_per_second_per_flow = 10;
  cfg.challenge_acks_per_second = 25;
  const IpAddr us = IpAddr::v4(10, 0, 0, 2), peer = IpAddr::v4(10, 0, 0, 1);
  int n = 0;
  State<int> s = start_listen(empty<int>([&n] { return n++; }, "blind", cfg), 80);
  Instant now = Instant{} + std::chrono::hours(1);
  struct Conn {
    std::uint16_t port;
    Seq rcv_nxt;
  };
  std::vector<Conn> conns;
  for (std::uint16_t port = 40000; port < 40008; ++port) {
    Segment sy;
    sy.src_port = port;
    sy.dst_port = 80;
    sy.seq = Seq(1000);
    sy.flag = Flag::syn;
    sy.window = 65535;
    auto r = handle_buf(std::move(s), now, peer, us, sy.encode(peer, us));
    s = std::move(r.state);
    ASSERT_EQ(r.out.size(), 1u);
    Segment a;
    a.src_port = port;
    a.dst_port = 80;
    a.seq = Seq(1001);
    a.ack = r.out[0].segment.seq + 1;
    a.window = 65535;
    r = handle_buf(std::move(s), now, peer, us, a.encode(peer, us));
    s = std::move(r.state);
    conns.push_back({port, Seq(1001)});
  }
  ASSERT_EQ(num_connections(s), conns.size());
  const Stats s0 = stats(s);
  constexpr int kSeconds = 4;
  std::uint64_t out_acks = 0;
  for (int ms = 0; ms < kSeconds * 1000; ++ms) {
    for (const auto& c : conns) {
      Segment r;
      r.src_port = c.port;
      r.dst_port = 80;
      r.seq = c.rcv_nxt + 100;
      r.flag = Flag::rst;
      auto res = handle_buf(std::move(s), now, peer, us, r.encode(peer, us));
      s = std::move(res.state);
      out_acks += res.out.size();
    }
    now += 1ms;
    auto t = timer(std::move(s), now);
    s = std::move(t.state);
  }
  ASSERT_EQ(num_connections(s), conns.size()) << "in-window RSTs killed a connection";
  EXPECT_EQ(check_invariants(s), std::nullopt);
  const Stats s1 = stats(s);
  EXPECT_EQ(s1.challenge_acks - s0.challenge_acks, out_acks);
  EXPECT_LE(out_acks, std::uint64_t{cfg.challenge_acks_per_second} * (kSeconds + 1));
  EXPECT_EQ(
      s1.challenge_acks - s0.challenge_acks + s1.challenge_acks_suppressed - s0.challenge_acks_suppressed,
      std::uint64_t{kSeconds} * 1000 * conns.size());
}

}  // namespace
}  // namespace utcp::test
