// An RST in TIME-WAIT (RFC 9293 §3.10.7.4 second check; RFC 1337 §3 F1). Found in the interop
// tests under duplication and reordering: after both FINs, an old duplicate from Linux reached
// utcp in TIME-WAIT, utcp's ACK of it reached Linux after its socket was gone, and Linux's RST
// (at RCV.NXT) removed the connection before `utcp connect` had read the last data and the end
// of stream: the tool reported "connection reset by peer" for a transfer that had completed.

#include <gtest/gtest.h>

#include "harness.hpp"

namespace utcp::test {
namespace {

using namespace std::chrono_literals;

// shutdown(write) -> FIN-WAIT-2; the peer's last text and FIN -> TIME-WAIT, nothing read yet.
void to_time_wait_with_unread_text(Harness& h) {
  h.to_fin_wait_2(/*by_close=*/false);
  h.peer_sends(data(1, 2, "tail"), h.now() + 1ms);
  h.peer_sends(fin(5, 2, kPeerWindow), h.now() + 1ms);
  while (h.queued() > 0) h.take();  // the ACK(s): of the text (maybe delayed) and of the FIN
  ASSERT_EQ(h.state(), TcpState::time_wait);
  h.events.clear();
}

TEST(TimeWaitRst, IgnoredWhileTheUserMayStillRead) {
  Harness h;
  to_time_wait_with_unread_text(h);
  // The peer's RST exactly at RCV.NXT (after its FIN): RFC 1337 F1, ignored.
  h.peer_sends(rst(6), h.now() + 2ms);
  h.expect_nothing();
  h.expect_no_event();
  EXPECT_EQ(h.state(), TcpState::time_wait);
  EXPECT_EQ(stats(h.s).resets_received, 0u);
  // The text and the end of stream are still there to read.
  EXPECT_EQ(h.read_all(), "tail");
  auto r = h.recv();
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().kind, Error::Kind::eof);
  // And TIME-WAIT still ends after 2 MSL.
  h.advance(60s);
  EXPECT_TRUE(h.gone());
}

TEST(TimeWaitRst, AfterCloseItStillEndsTheConnection) {
  Harness h;
  h.to_fin_wait_2(/*by_close=*/true);
  h.peer_sends(fin(1, 2, kPeerWindow), h.now() + 1ms);
  h.expect(ack(2, 2));
  ASSERT_EQ(h.state(), TcpState::time_wait);
  h.events.clear();
  h.peer_sends(rst(2), h.now() + 2ms);  // RFC 9293 §3.10.7.4: CLOSED, TCB deleted
  h.expect_nothing();
  EXPECT_TRUE(h.gone());
  EXPECT_EQ(stats(h.s).resets_received, 1u);
}

}  // namespace
}  // namespace utcp::test
