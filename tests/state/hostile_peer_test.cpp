// Hostile peers, part 3: a peer that misbehaves on a connection it really has. It never opens
// its zero window, acknowledges data never sent, offers absurd window scales and MSS values,
// sends every malformed shape of header and option, and shrinks its window. The stack must
// stay up, count what it drops and never send what it must not.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "harness.hpp"
#include "utcp/checksum.hpp"

namespace utcp::test {
namespace {

// Acknowledges everything the stack has sent until it is all acknowledged (or `rounds` pass).
void ack_everything(Harness& h, std::uint16_t window = kPeerWindow, int rounds = 100000) {
  for (int i = 0; i < rounds && h.conn().snd_una != h.conn().snd_max; ++i) {
    h.peer_sends(ack(h.rcv_nxt(), h.rel_local(h.conn().snd_max), window));
    h.advance(1ms);
  }
}

TEST(HostilePeer, ZeroWindowThatNeverOpensKeepsTheConnectionProbing) {
  Harness h;
  h.to_established();
  h.peer_sends(ack(1, 1, 0));
  ASSERT_EQ(h.conn().snd_wnd, 0u);
  const std::string msg(1000, 'z');
  ASSERT_EQ(h.send(msg)->enqueued, msg.size());
  h.clear_outputs();
  const Stats s0 = stats(h.s);
  std::vector<Instant> probes;
  const Instant end = h.now() + 30min;
  while (h.now() < end) {
    const auto d = next_deadline(h.s);
    ASSERT_TRUE(d.has_value()) << "no timer armed: probing stopped";
    h.advance_to(std::max(*d, h.now()));
    while (h.queued() > 0) {
      const Emitted e = *h.take();
      if (e.out.segment.payload.size() > 0) probes.push_back(e.at);
      // The peer answers every probe: still no room.
      h.peer_sends(ack(h.rcv_nxt(), h.snd_una(), 0));
    }
    ASSERT_EQ(h.state(), TcpState::established);
    ASSERT_LE(h.conn().send_queued, std::size_t{h.cfg.send_buffer});
  }
  EXPECT_TRUE(h.drops.empty());
  EXPECT_EQ(h.snd_una(), 1u);
  ASSERT_GE(probes.size(), 20u);
  for (std::size_t i = probes.size() - 10; i < probes.size(); ++i)
    EXPECT_LE(probes[i] - probes[i - 1], h.cfg.zero_window_probe_max + 1s) << "probe interval beyond the cap";
  EXPECT_GT(stats(h.s).zero_window_probes, s0.zero_window_probes);
  EXPECT_EQ(h.conn().send_queued, msg.size());
  // The window opens at last: the data goes through.
  h.peer_sends(ack(h.rcv_nxt(), h.snd_una(), kPeerWindow));
  h.advance(1s);
  ack_everything(h);
  EXPECT_EQ(h.snd_una(), 1u + msg.size());
}

TEST(HostilePeer, AckOfDataNeverSentIsDroppedWithAnAck) {
  Harness h;
  h.to_established();
  h.clear_outputs();
  const Stats s0 = stats(h.s);
  h.peer_sends(data(1, 1 + 100000, "bogus"));
  EXPECT_EQ(h.conn().recv_queued, 0u) << "the segment's data was accepted";
  EXPECT_EQ(h.rcv_nxt(), 1u);
  EXPECT_EQ(h.snd_una(), 1u);
  EXPECT_EQ(stats(h.s).drop(DropReason::bad_ack), s0.drop(DropReason::bad_ack) + 1);
  h.expect(ack(1, 1));
  EXPECT_EQ(h.state(), TcpState::established);
  h.peer_sends(data(1, 1, kTen));
  EXPECT_EQ(h.read_all(), kTen);
}

TEST(HostilePeer, WindowScaleAbove14IsTreatedAs14) {
  for (std::uint8_t shift : {15, 16, 200, 255}) {
    SCOPED_TRACE(static_cast<int>(shift));
    Harness h;
    h.to_established({WindowScale{shift}});
    EXPECT_EQ(h.conn().snd_wscale, 14) << "RFC 7323 §2.3";
    h.peer_sends(ack(1, 1, 65535));
    EXPECT_EQ(h.conn().snd_wnd, 65535u << 14);
    ASSERT_TRUE(h.send(std::string(5000, 'w')).has_value());
    h.advance(1s);
    ack_everything(h, 65535);
    EXPECT_EQ(h.snd_una(), 5001u);
  }
}

// The stack's data segments fit our MTU whatever MSS the peer claims, and are never empty.
void mss_case(std::uint16_t peer_mss) {
  SCOPED_TRACE(peer_mss);
  Harness h;  // MTU 1500
  h.to_established({Mss{peer_mss}});
  const ConnInfo c = h.conn();
  EXPECT_GT(c.mss, 0u);
  EXPECT_LE(c.mss, 1460u);
  const std::string msg(20000, 'm');
  ASSERT_EQ(h.send(msg)->enqueued, msg.size());
  std::string carried;
  for (int round = 0; round < 100000 && h.snd_una() != 1 + msg.size(); ++round) {
    h.advance(1ms);
    while (h.queued() > 0) {
      const auto e = h.take();  // keep the taken output alive (the segment is a reference)
      const Segment& s = e->out.segment;
      EXPECT_LE(s.encoded_size() + 20, 1500u) << "a segment beyond the MTU";
      if (s.payload.size() > 0 && h.rel_local(s.seq) == 1 + carried.size()) carried += s.payload.to_string();
    }
    h.peer_sends(ack(1, h.rel_local(h.conn().snd_max)));
  }
  EXPECT_EQ(carried, msg);
}

TEST(HostilePeer, MssZeroIsClamped) {
  mss_case(0);
}
TEST(HostilePeer, MssOneIsClamped) {
  mss_case(1);
}
TEST(HostilePeer, Mss65535IsClampedToOurMtu) {
  mss_case(65535);
}

// A segment for the established flow with 4 option bytes, to break in each way.
std::vector<std::byte> base_bytes(const Harness& h) {
  Segment s = h.to_segment(data(1, 1, "abcd"));
  s.options = {UnknownOption{99, {std::byte{0}, std::byte{0}}}};  // 4 option bytes
  return s.encode(h.remote_ip, h.local_ip);
}
void fix_checksum(const Harness& h, std::vector<std::byte>& b) {
  if (b.size() < 18) return;
  b[16] = b[17] = std::byte{0};
  const std::uint16_t sum = tcp_checksum(h.remote_ip, h.local_ip, b);
  b[16] = static_cast<std::byte>(sum >> 8);
  b[17] = static_cast<std::byte>(sum & 0xff);
}

TEST(HostilePeer, EveryMalformedShapeIsDroppedAndCounted) {
  struct Shape {
    const char* name;
    DecodeError want;
    void (*mangle)(std::vector<std::byte>&);
  };
  const std::vector<Shape> shapes = {
      {"19 bytes", DecodeError::truncated_header, [](auto& b) { b.resize(19); }},
      {"empty", DecodeError::truncated_header, [](auto& b) { b.clear(); }},
      {"data offset 4", DecodeError::bad_data_offset, [](auto& b) { b[12] = std::byte{0x40}; }},
      {"data offset 0", DecodeError::bad_data_offset, [](auto& b) { b[12] = std::byte{0x00}; }},
      {"data offset 15", DecodeError::data_offset_past_end, [](auto& b) { b[12] = std::byte{0xf0}; }},
      {"kind without length", DecodeError::option_length_missing,
       [](auto& b) { b[20] = b[21] = b[22] = std::byte{1}, b[23] = std::byte{2}; }},
      {"length 0", DecodeError::option_length_short,
       [](auto& b) { b[20] = std::byte{2}, b[21] = std::byte{0}; }},
      {"length 1", DecodeError::option_length_short,
       [](auto& b) { b[20] = std::byte{8}, b[21] = std::byte{1}; }},
      {"past the header", DecodeError::option_past_header,
       [](auto& b) { b[20] = std::byte{2}, b[21] = std::byte{8}; }},
      {"SACK past the header", DecodeError::option_past_header,
       [](auto& b) { b[20] = std::byte{5}, b[21] = std::byte{10}; }},
      {"SYN+FIN", DecodeError::syn_and_fin, [](auto& b) { b[13] |= std::byte{0x03}; }},
      {"SYN+RST", DecodeError::syn_and_rst, [](auto& b) { b[13] |= std::byte{0x06}; }},
  };
  Harness h;
  h.to_established();
  h.clear_outputs();
  const ConnInfo before = h.conn();
  for (const auto& shape : shapes) {
    SCOPED_TRACE(shape.name);
    std::vector<std::byte> b = base_bytes(h);
    shape.mangle(b);
    fix_checksum(h, b);
    const Stats s0 = stats(h.s);
    auto r = handle_buf(std::move(h.s), h.now(), h.remote_ip, h.local_ip, b);
    h.s = std::move(r.state);
    EXPECT_TRUE(r.out.empty());
    EXPECT_FALSE(r.event.has_value());
    EXPECT_EQ(stats(h.s).decode_error(shape.want), s0.decode_error(shape.want) + 1);
    EXPECT_EQ(stats(h.s).drop(DropReason::decode), s0.drop(DropReason::decode) + 1);
    h.check();
  }
  {
    SCOPED_TRACE("bad checksum");
    std::vector<std::byte> b = base_bytes(h);
    b[17] ^= std::byte{1};
    const Stats s0 = stats(h.s);
    auto r = handle_buf(std::move(h.s), h.now(), h.remote_ip, h.local_ip, b);
    h.s = std::move(r.state);
    EXPECT_TRUE(r.out.empty());
    EXPECT_EQ(stats(h.s).decode_error(DecodeError::bad_checksum),
              s0.decode_error(DecodeError::bad_checksum) + 1);
  }
  {
    SCOPED_TRACE("IPv6 source, IPv4 destination");
    const std::vector<std::byte> b = base_bytes(h);
    const Stats s0 = stats(h.s);
    auto r = handle_buf(std::move(h.s), h.now(), *IpAddr::parse("2001:db8::1"), h.local_ip, b);
    h.s = std::move(r.state);
    EXPECT_TRUE(r.out.empty());
    EXPECT_EQ(stats(h.s).decode_error(DecodeError::address_family_mismatch),
              s0.decode_error(DecodeError::address_family_mismatch) + 1);
  }
  const ConnInfo after = h.conn();
  EXPECT_EQ(after.rcv_nxt, before.rcv_nxt);
  EXPECT_EQ(after.recv_queued, 0u);
  // The unbroken segment still goes in.
  std::vector<std::byte> good = base_bytes(h);
  auto r = handle_buf(std::move(h.s), h.now(), h.remote_ip, h.local_ip, good);
  h.s = std::move(r.state);
  EXPECT_EQ(h.read_all(), "abcd");
}

TEST(HostilePeer, ShrunkWindowIsNotOverrun) {
  Harness h;
  h.to_established();
  ASSERT_TRUE(h.send(std::string(30000, 's')).has_value());
  h.advance(1ms);
  const Seq max_at_shrink = h.conn().snd_max;
  ASSERT_GT(h.rel_local(max_at_shrink), 1461u);
  h.clear_outputs();
  // The peer takes one segment and moves its right edge left: 1461 + 1000 < SND.MAX.
  h.peer_sends(ack(1, 1461, 1000));
  h.advance(5s);  // retransmission timeouts included
  for (const auto& e : h.outputs()) {
    const Segment& s = e.out.segment;
    EXPECT_LE(h.rel_local(s.seq + s.length()), h.rel_local(max_at_shrink))
        << "new data sent beyond the shrunk window: " << h.describe_out(s);
  }
  EXPECT_EQ(h.state(), TcpState::established);
  // The window opens again: everything arrives.
  h.clear_outputs();
  ack_everything(h);
  EXPECT_EQ(h.snd_una(), 30001u);
}

}  // namespace
}  // namespace utcp::test
