// Hostile (or careless) applications: every user call on a flow the stack does not have,
// or no longer has, and calls in the wrong order, return an Error and leave the state as
// it was; never undefined behaviour.
#include <gtest/gtest.h>

#include <string>

#include "harness.hpp"

namespace utcp::test {
namespace {

// Every call on `f` fails, and the (rvalue) state stays usable and unchanged in size.
void expect_every_call_fails(Harness& h, const Flow& f) {
  const std::size_t n = num_connections(h.s);
  const Instant t = h.now();
  EXPECT_EQ(send(std::move(h.s), t, f, "x").error().kind, Error::Kind::not_found);
  EXPECT_EQ(recv(std::move(h.s), t, f).error().kind, Error::Kind::not_found);
  EXPECT_EQ(close(std::move(h.s), t, f).error().kind, Error::Kind::not_found);
  for (Direction d : {Direction::read, Direction::write, Direction::read_write})
    EXPECT_EQ(shutdown(std::move(h.s), t, f, d).error().kind, Error::Kind::not_found);
  EXPECT_EQ(abort(std::move(h.s), t, f).error().kind, Error::Kind::not_found);
  EXPECT_EQ(force_enqueue(std::move(h.s), t, f, "x").error().kind, Error::Kind::not_found);
  FlowOptions opts;
  opts.nodelay = true;
  EXPECT_EQ(set_options(std::move(h.s), f, opts).error().kind, Error::Kind::not_found);
  EXPECT_EQ(path_mtu(std::move(h.s), t, f, 1280, Seq(1)).error().kind, Error::Kind::not_found);
  EXPECT_FALSE(info(h.s, f).has_value());
  EXPECT_EQ(num_connections(h.s), n);
  h.check();
}

TEST(HostileApi, CallsOnAnUnknownFlowFail) {
  Harness h;
  h.to_established();
  expect_every_call_fails(h, Flow({h.local_ip, kLocalPort}, {h.remote_ip, 1}));
  expect_every_call_fails(h, Flow());
  expect_every_call_fails(h, Flow({h.remote_ip, kRemotePort}, {h.local_ip, kLocalPort}));  // reversed
  // The real flow is unharmed.
  h.peer_sends(data(1, 1, kTen));
  EXPECT_EQ(h.read_all(), kTen);
}

TEST(HostileApi, CallsOnAnEmptyStackFail) {
  Harness h;
  expect_every_call_fails(h, Flow({h.local_ip, kLocalPort}, {h.remote_ip, kRemotePort}));
}

TEST(HostileApi, CallsAfterAbortFail) {
  Harness h;
  h.to_established();
  ASSERT_TRUE(h.abort().has_value());
  EXPECT_TRUE(h.gone());
  expect_every_call_fails(h, h.flow);
  EXPECT_FALSE(h.abort().has_value()) << "double abort";
}

TEST(HostileApi, DoubleCloseAndSendAfterCloseFail) {
  Harness h;
  h.to_established();
  ASSERT_TRUE(h.close().has_value());
  const ConnInfo c = h.conn();
  EXPECT_FALSE(h.close().has_value()) << "double close";
  EXPECT_FALSE(h.send("late").has_value()) << "send after close";
  (void)h.shutdown(Direction::write);  // may succeed as a no-op, but sends no second FIN
  EXPECT_EQ(h.conn().snd_max, c.snd_max) << "the failed calls sent something";
  EXPECT_EQ(h.state(), TcpState::fin_wait_1);
}

TEST(HostileApi, CallsAfterTheConnectionTimedOutFail) {
  Harness h;
  h.to_established();
  ASSERT_TRUE(h.send("never acked").has_value());
  h.advance(std::chrono::hours(2));  // retransmission_exceeded
  ASSERT_TRUE(h.gone());
  expect_every_call_fails(h, h.flow);
}

TEST(HostileApi, CallsAfterResetFail) {
  Harness h;
  h.to_established();
  h.peer_sends(rst(1));
  ASSERT_TRUE(h.gone());
  expect_every_call_fails(h, h.flow);
}

}  // namespace
}  // namespace utcp::test
