// The engine end to end: two stacks, handshake, transfer, close.
#include "harness.hpp"

namespace utcp::test {
namespace {

TEST(EngineBasic, HandshakeTransferClose) {
  Net net;
  net.a.to_send = pattern(100'000, 1);
  net.b.to_send = pattern(50'000, 2);
  net.connect();
  ASSERT_TRUE(net.run_until([&] { return net.a.flow && net.b.flow; }, 5s));
  ASSERT_TRUE(net.run_until([&] { return net.a.eof && net.b.eof; }, 60s));
  EXPECT_EQ(net.a.received, net.b.to_send);
  EXPECT_EQ(net.b.received, net.a.to_send);
  EXPECT_EQ(check_invariants(net.a.s), std::nullopt);
  EXPECT_EQ(check_invariants(net.b.s), std::nullopt);
  const bool gone =
      net.run_until([&] { return num_connections(net.a.s) + num_connections(net.b.s) == 0; }, 300s);
  if (!gone) {
    for (auto* p : {&net.a, &net.b})
      for (auto& f : flows(p->s)) {
        auto i = info(p->s, f);
        ADD_FAILURE() << f << " " << i->state << " una " << i->snd_una << " nxt " << i->snd_nxt << " max "
                      << i->snd_max << " queued " << i->send_queued << " wnd " << i->snd_wnd;
      }
  }
  EXPECT_EQ(next_deadline(net.a.s), std::nullopt);
  EXPECT_EQ(next_deadline(net.b.s), std::nullopt);
}

}  // namespace
}  // namespace utcp::test
