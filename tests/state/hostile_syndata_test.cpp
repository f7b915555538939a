// Hostile peers: a SYN carrying more text than the window the stack then advertises. Found
// by fuzz/stateful (fuzz/regressions/stateful/syn_text_beyond_advertised_window).
#include <gtest/gtest.h>

#include <string>

#include "harness.hpp"

namespace utcp::test {
namespace {

// Was an engine bug (RCV.NXT passed the advertised right edge when the held SYN text was
// delivered); fixed in 04573c4.
TEST(HostileSynData, SynTextLargerThanTheWindowKeepsTheInvariants) {
  Config cfg;
  cfg.recv_buffer = 8192;
  Harness h(cfg);
  h.listen();
  const std::string text(4700, 't');
  Tcp s = syn(0);
  s.window = 27143;
  s.payload = text;
  h.peer_sends(s);
  auto sa = h.take();
  ASSERT_TRUE(sa.has_value());
  ASSERT_EQ(sa->out.segment.flag, Flag::syn);
  h.peer_sends(ack(1, 1, 0));
  EXPECT_EQ(h.state(), TcpState::established);
  const std::string got = h.read_all();
  EXPECT_LE(got.size(), text.size());
  EXPECT_EQ(got, text.substr(0, got.size()));
}

}  // namespace
}  // namespace utcp::test
