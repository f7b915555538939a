// Stats::rules: every segment that decodes is counted under the one input rule that decided
// it (docs/rules.md), so a test can say "this segment was handled by rule X".

#include <gtest/gtest.h>

#include "harness.hpp"

namespace utcp::test {
namespace {

constexpr std::size_t kRules = static_cast<std::size_t>(InputRule::count_);

// The peer sends `seg`; exactly `rule` counts it (and `also`, when given: a SYN that ends
// TIME-WAIT is counted again by the listener).
void expect_rule(Harness& h, const Tcp& seg, InputRule rule, std::optional<InputRule> also = std::nullopt,
                 Loc loc = Loc::current()) {
  const Stats before = stats(h.s);
  h.peer_sends(seg, loc);
  const Stats after = stats(h.s);
  for (std::size_t i = 0; i < kRules; ++i) {
    const auto r = static_cast<InputRule>(i);
    const std::uint64_t want = (r == rule ? 1 : 0) + (also && r == *also ? 1 : 0);
    EXPECT_EQ(after.rules[i] - before.rules[i], want)
        << "rule " << to_string(r) << "\n  at " << loc.file_name() << ":" << loc.line();
  }
}

TEST(InputRules, Closed) {
  Harness h;
  expect_rule(h, syn(0), InputRule::closed);
  EXPECT_EQ(stats(h.s).drop(DropReason::no_connection), 1u);
}

TEST(InputRules, Listen) {
  Harness h;
  h.to_listen();
  expect_rule(h, rst(0), InputRule::listen_rst);
  expect_rule(h, ack(0, 1), InputRule::listen_ack);
  expect_rule(h, Tcp{.seq = 0, .ack = std::nullopt, .window = kPeerWindow}, InputRule::listen_other);
  EXPECT_EQ(stats(h.s).drop(DropReason::listen_bad_segment), 3u);
  expect_rule(h, syn(0), InputRule::listen_syn);
  EXPECT_EQ(h.state(), TcpState::syn_received);
}

TEST(InputRules, ListenRefusesASynBeyondTheBacklog) {
  Config cfg;
  cfg.listen_backlog = 0;
  cfg.syn_cookies = false;
  Harness h(cfg);
  h.to_listen();
  expect_rule(h, syn(0), InputRule::listen_syn_refused);
  EXPECT_EQ(stats(h.s).drop(DropReason::backlog_full), 1u);
  EXPECT_TRUE(h.gone());
}

TEST(InputRules, SynSent) {
  {
    Harness h;
    h.to_syn_sent();
    expect_rule(h, ack(0, 7), InputRule::syn_sent_bad_ack);  // beyond SND.MAX: RST
    expect_rule(h, rst(0), InputRule::syn_sent_rst);         // no ACK: ignored
    expect_rule(h, ack(0, 1), InputRule::syn_sent_no_syn);
    EXPECT_EQ(h.state(), TcpState::syn_sent);
    expect_rule(h, Tcp{.flag = Flag::syn, .seq = 0, .ack = 1, .window = kPeerWindow},
                InputRule::syn_sent_syn_ack);
    EXPECT_EQ(h.state(), TcpState::established);
  }
  {
    Harness h;
    h.to_syn_sent();
    expect_rule(h, rst(0, 1), InputRule::syn_sent_rst);  // refused
    EXPECT_TRUE(h.gone());
  }
  {
    Harness h;
    h.to_syn_sent();
    expect_rule(h, syn(0), InputRule::syn_sent_syn);  // simultaneous open
    EXPECT_EQ(h.state(), TcpState::syn_received);
  }
}

TEST(InputRules, SynReceived) {
  Harness h;
  h.to_syn_received();
  expect_rule(h, syn(0), InputRule::syn_received_syn);  // our SYN-ACK was lost
  expect_rule(h, ack(1, 7), InputRule::syn_received_bad_ack);
  expect_rule(h, syn(5), InputRule::syn_received_passive_syn);  // back to LISTEN
  EXPECT_TRUE(h.gone());
}

TEST(InputRules, Established) {
  Harness h;
  h.to_established();
  expect_rule(h, data(1, 1, "x"), InputRule::accepted);
  expect_rule(h, Tcp{.seq = 2, .ack = std::nullopt, .window = kPeerWindow}, InputRule::no_ack);
  expect_rule(h, ack(2, 1000), InputRule::ack_unacceptable);
  expect_rule(h, data(1'000'000, 1, "x"), InputRule::unacceptable);
  expect_rule(h, rst(1'000'000), InputRule::unacceptable_rst);
  expect_rule(h, syn(50), InputRule::syn_challenged);
  expect_rule(h, rst(50), InputRule::rst_challenged);
  expect_rule(h, rst(2), InputRule::rst);
  EXPECT_TRUE(h.gone());
  const Stats s = stats(h.s);
  EXPECT_EQ(s.drop(DropReason::no_ack), 1u);
  EXPECT_EQ(s.drop(DropReason::bad_ack), 1u);
  EXPECT_EQ(s.drop(DropReason::not_acceptable), 1u);
  EXPECT_EQ(s.drop(DropReason::rst_out_of_window), 1u);
  EXPECT_EQ(s.drop(DropReason::syn_challenged), 1u);
  EXPECT_EQ(s.drop(DropReason::rst_challenged), 1u);
  EXPECT_EQ(s.connections_dropped, 1u);
}

TEST(InputRules, TextAfterCloseIsReset) {
  Harness h;
  h.to_fin_wait_1(/*by_close=*/true);
  expect_rule(h, data(1, 1, "x"), InputRule::text_after_close);
  EXPECT_TRUE(h.gone());
  EXPECT_EQ(stats(h.s).drop(DropReason::after_shutdown), 1u);
}

TEST(InputRules, AckOfOurFin) {
  {
    Harness h;
    h.to_closing();
    expect_rule(h, ack(2, 2), InputRule::closing_fin_acked);
    EXPECT_EQ(h.state(), TcpState::time_wait);
  }
  {
    Harness h;
    h.to_last_ack();
    expect_rule(h, ack(2, 2), InputRule::last_ack_fin_acked);
    EXPECT_TRUE(h.gone());
    EXPECT_EQ(stats(h.s).connections_dropped, 0u);
  }
}

TEST(InputRules, TimeWait) {
  {
    Harness h;
    h.to_time_wait();  // shutdown(write): the user may still read
    expect_rule(h, rst(2), InputRule::rst_ignored);
    EXPECT_EQ(h.state(), TcpState::time_wait);
  }
  {
    Harness h;
    h.to_time_wait();
    expect_rule(h, syn(5000), InputRule::time_wait_reopen, InputRule::listen_syn);
    EXPECT_EQ(h.state(), TcpState::syn_received);
  }
}

// Over a whole connection, each decoded segment is counted once.
TEST(InputRules, EverySegmentIsCountedOnce) {
  Harness h;
  h.to_established();
  h.peer_sends(data(1, 1, kTen));
  h.peer_sends(fin(11, 1, kPeerWindow));
  EXPECT_EQ(h.read_all(), kTen);
  EXPECT_TRUE(h.close().has_value());
  h.peer_sends(ack(12, 2, kPeerWindow), h.now() + 10ms);
  EXPECT_TRUE(h.gone());
  const Stats s = stats(h.s);
  std::uint64_t counted = 0;
  for (const auto n : s.rules) counted += n;
  EXPECT_EQ(counted, s.segments_in);
  EXPECT_EQ(s.rule(InputRule::last_ack_fin_acked), 1u);
}

}  // namespace
}  // namespace utcp::test
