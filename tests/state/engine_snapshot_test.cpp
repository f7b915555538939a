// Value semantics: a State is a snapshot. Calls on a const& leave it as it was; both the old
// and the new state go on independently; a failing call on an rvalue leaves it usable.
#include "harness.hpp"

namespace utcp::test {
namespace {

struct Established2 {
  Net net;
  Established2() {
    net.a.close_when_done = false;
    net.b.close_when_done = false;
    net.connect();
    net.run_until([&] { return net.a.flow && net.b.flow; }, 5s);
  }
};

TEST(EngineSnapshot, OldStateUnchangedAfterNewOneMovesOn) {
  Established2 f;
  ASSERT_TRUE(f.net.a.flow);
  const Flow flow = *f.net.a.flow;
  const State<int> old = f.net.a.s;
  const auto before = info(old, flow);
  const Stats stats_before = stats(old);
  auto sent = send(old, f.net.now, flow, "hello");
  ASSERT_TRUE(sent);
  EXPECT_EQ(sent->out.size(), 1u);
  EXPECT_EQ(info(sent->state, flow)->send_queued, 5u);
  // The old state did not move.
  EXPECT_EQ(info(old, flow)->send_queued, 0u);
  EXPECT_EQ(info(old, flow)->snd_nxt, before->snd_nxt);
  EXPECT_EQ(stats(old).segments_out, stats_before.segments_out);
  // Both go on independently: the old one sends something else.
  auto other = send(old, f.net.now, flow, "world!");
  ASSERT_TRUE(other);
  EXPECT_EQ(info(other->state, flow)->send_queued, 6u);
  EXPECT_EQ(info(sent->state, flow)->send_queued, 5u);
  EXPECT_EQ(sent->out[0].segment.payload.to_string(), "hello");
  EXPECT_EQ(other->out[0].segment.payload.to_string(), "world!");
  EXPECT_EQ(sent->out[0].segment.seq, other->out[0].segment.seq);
}

TEST(EngineSnapshot, BothBranchesDeliverIndependently) {
  Established2 f;
  const Flow aflow = *f.net.a.flow, bflow = *f.net.b.flow;
  auto sent = send(f.net.a.s, f.net.now, aflow, "branch");
  ASSERT_TRUE(sent);
  const auto wire = sent->out[0].segment.encode(sent->out[0].src, sent->out[0].dst);
  const State<int> b0 = f.net.b.s;
  auto b1 = handle_buf(b0, f.net.now, f.net.a.ip, f.net.b.ip, wire);
  auto b2 = handle_buf(b0, f.net.now, f.net.a.ip, f.net.b.ip, wire);
  auto r1 = recv(b1.state, f.net.now, bflow);
  auto r2 = recv(b2.state, f.net.now, bflow);
  ASSERT_TRUE(r1 && r2);
  ASSERT_EQ(r1->data.size(), 1u);
  ASSERT_EQ(r2->data.size(), 1u);
  EXPECT_EQ(r1->data[0].to_string(), "branch");
  EXPECT_EQ(r2->data[0].to_string(), "branch");
  auto r0 = recv(b0, f.net.now, bflow);
  ASSERT_TRUE(r0);
  EXPECT_TRUE(r0->data.empty()) << "the original never saw the segment";
}

TEST(EngineSnapshot, RvalueUntouchedOnError) {
  Established2 f;
  const Flow flow = *f.net.a.flow;
  State<int> s = std::move(f.net.a.s);
  const Flow unknown(Endpoint{f.net.a.ip, 1}, Endpoint{f.net.b.ip, 2});
  auto r = send(std::move(s), f.net.now, unknown, "x");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, Error::Kind::not_found);
  // s was not consumed: still the same connection.
  ASSERT_EQ(num_connections(s), 1u);
  EXPECT_EQ(info(s, flow)->state, TcpState::established);
  auto c = close(std::move(s), f.net.now, unknown);
  ASSERT_FALSE(c);
  EXPECT_EQ(num_connections(s), 1u);
  auto rc = recv(std::move(s), f.net.now, unknown);
  ASSERT_FALSE(rc);
  auto sh = shutdown(std::move(s), f.net.now, flow, Direction::write);
  ASSERT_TRUE(sh);
  s = std::move(sh->state);
  auto again = send(std::move(s), f.net.now, flow, "after shutdown");
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().kind, Error::Kind::msg);
  EXPECT_EQ(again.error().call, CallError::write_shut);
  EXPECT_NE(again.error().message.find("shut down for writing"), std::string::npos);
  EXPECT_EQ(info(s, flow)->state, TcpState::fin_wait_1);
  auto dup = connect(std::move(s), f.net.now, flow.local().ip, flow.remote().ip, flow.remote().port,
                     flow.local().port);
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().call, CallError::address_in_use);
  EXPECT_NE(dup.error().message.find("already in use"), std::string::npos);
  auto port0 = connect(std::move(s), f.net.now, flow.local().ip, flow.remote().ip, 0);
  ASSERT_FALSE(port0);
  EXPECT_EQ(port0.error().call, CallError::port_zero);
  auto v6 = connect(std::move(s), f.net.now, flow.local().ip, IpAddr::v6({}), 80);
  ASSERT_FALSE(v6);
  EXPECT_EQ(v6.error().call, CallError::address_family);
  auto closed = close(std::move(s), f.net.now, flow);
  ASSERT_TRUE(closed);
  s = std::move(closed->state);
  auto twice = close(std::move(s), f.net.now, flow);
  ASSERT_FALSE(twice);
  EXPECT_EQ(twice.error().call, CallError::already_closed);
  EXPECT_EQ(num_connections(s), 1u);
  EXPECT_EQ(check_invariants(s), std::nullopt);
}

TEST(EngineSnapshot, CopyIsCheapAndShared) {
  Established2 f;
  const State<int> a = f.net.a.s;
  State<int> copy = a;
  EXPECT_EQ(flows(copy), flows(a));
  EXPECT_EQ(next_deadline(copy), next_deadline(a));
}

}  // namespace
}  // namespace utcp::test
