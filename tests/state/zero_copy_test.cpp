// The zero-copy calls (issue 15): recv hands out the receive queue's own blocks, send of a
// Payload queues the caller's bytes without copying them, the sink variants append to the
// caller's vectors, and the bounded recv_into / peek take from the front.
#include <gtest/gtest.h>

#include <memory>

#include "harness.hpp"

namespace utcp::test {
namespace {

std::span<const std::byte> bytes_of(const std::string& s) {
  return std::as_bytes(std::span(s.data(), s.size()));
}

std::string joined(const std::vector<Payload>& v) {
  std::string all;
  for (const Payload& p : v) p.append_to(all);
  return all;
}

// Where the first byte of each output's payload lies.
const std::byte* first_byte(const Payload& p) {
  const std::byte* at = nullptr;
  p.for_each_slice([&](std::span<const std::byte> s) {
    if (!at) at = s.data();
  });
  return at;
}

TEST(ZeroCopy, RecvReturnsTheQueuesBlocksOwnedAndIndependentOfTheWire) {
  Harness h;
  h.to_established({Mss{1460}});
  h.peer_sends(data(1, 1, "first "), h.now() + 10ms);
  h.peer_sends(data(7, 1, "second"), h.now() + 1ms);
  auto r = h.recv();
  ASSERT_TRUE(r);
  EXPECT_EQ(joined(r->data), "first second");
  for (const Payload& p : r->data) EXPECT_TRUE(p.is_owned());  // never a view of the wire
  EXPECT_EQ(h.conn().recv_queued, 0u);
  // The payloads stay valid and unchanged while the connection goes on.
  h.peer_sends(data(13, 1, "third"), h.now() + 1ms);
  EXPECT_EQ(joined(r->data), "first second");
  EXPECT_EQ(h.read_all(), "third");
}

TEST(ZeroCopy, SendOfAPayloadQueuesTheCallersBytes) {
  Harness h;
  h.to_established({Mss{1460}});
  auto text = std::make_shared<const std::string>(std::string(3000, 'z'));
  std::weak_ptr<const std::string> watch = text;
  const Payload p(text, bytes_of(*text));
  auto r = send(std::move(h.s), h.now(), h.flow, p);
  ASSERT_TRUE(r);
  h.s = std::move(r->state);
  EXPECT_EQ(r->enqueued, 3000u);
  ASSERT_EQ(r->out.size(), 2u);  // 1460 + 1460; Nagle holds the last 80 until an ACK
  EXPECT_EQ(first_byte(r->out[0].segment.payload), bytes_of(*text).data());  // not a copy
  EXPECT_EQ(first_byte(r->out[1].segment.payload), bytes_of(*text).data() + 1460);
  text.reset();
  r->out.clear();
  EXPECT_FALSE(watch.expired());  // the send queue holds the caller's string until ACKed
  h.peer_sends(ack(1, 2921), h.now() + 1ms);
  EXPECT_EQ(h.conn().send_queued, 80u);
  auto last = h.take();
  ASSERT_TRUE(last);
  EXPECT_EQ(first_byte(last->out.segment.payload), bytes_of(*watch.lock()).data() + 2920);
}

TEST(ZeroCopy, SendOfAPayloadTakesOnlyTheRoomThereIs) {
  Harness h;
  FlowOptions small;
  small.send_buffer = 1000;
  h.to_established({Mss{1460}}, small);
  auto r = send(std::move(h.s), h.now(), h.flow, Payload(std::string(5000, 'q')));
  ASSERT_TRUE(r);
  h.s = std::move(r->state);
  EXPECT_EQ(r->enqueued, 1000u);
  EXPECT_EQ(h.conn().send_queued, 1000u);
}

TEST(ZeroCopy, SinkVariantsAppendToTheCallersVectors) {
  Harness h;
  h.to_established({Mss{1460}});
  std::vector<Output> out;
  out.reserve(16);
  const auto* storage = out.data();
  auto sent = send(std::move(h.s), h.now(), h.flow, std::string_view("abc"), out);
  ASSERT_TRUE(sent);
  h.s = std::move(sent->state);
  EXPECT_EQ(sent->enqueued, 3u);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].segment.payload.to_string(), "abc");
  EXPECT_EQ(out.data(), storage);  // appended in place
  // handle_buf: the peer's data and its ACK of ours.
  const std::string wire = "xyz";
  Segment in;
  in.src_port = h.flow.remote().port;
  in.dst_port = h.flow.local().port;
  in.seq = h.conn().rcv_nxt;
  in.ack = h.conn().snd_nxt;
  in.window = 1000;
  in.push = true;
  in.payload = Payload(wire);
  const auto bytes = in.encode(h.flow.remote().ip, h.flow.local().ip);
  auto got = handle_buf(std::move(h.s), h.now(), h.flow.remote().ip, h.flow.local().ip, bytes, out);
  h.s = std::move(got.state);
  EXPECT_TRUE(got.event.has_value());
  std::vector<Payload> data;
  auto rd = recv(std::move(h.s), h.now(), h.flow, data, out);
  ASSERT_TRUE(rd);
  h.s = std::move(rd->state);
  EXPECT_EQ(rd->bytes, 3u);
  EXPECT_EQ(joined(data), "xyz");
  auto t = timer(std::move(h.s), h.now() + 1s, out);  // the delayed ACK, if one is owed
  h.s = std::move(t.state);
  EXPECT_TRUE(t.drops.empty());
  EXPECT_EQ(out[0].segment.payload.to_string(), "abc");  // earlier outputs stay
}

TEST(ZeroCopy, RecvIntoTakesAtMostTheBufferAndPeekTakesNothing) {
  Harness h;
  h.to_established({Mss{1460}});
  h.peer_sends(data(1, 1, "0123456789"), h.now() + 10ms);
  std::array<std::byte, 4> buf{};
  auto n = peek(h.s, h.flow, buf);
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 4u);
  EXPECT_EQ(h.conn().recv_queued, 10u);
  std::vector<Output> out;
  auto r = recv_into(std::move(h.s), h.now(), h.flow, buf, out);
  ASSERT_TRUE(r);
  h.s = std::move(r->state);
  EXPECT_EQ(r->bytes, 4u);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(buf.data()), 4), "0123");
  EXPECT_EQ(h.conn().recv_queued, 6u);
  EXPECT_EQ(h.read_all(), "456789");
  // Nothing queued: 0 bytes, success; after the FIN: eof, for peek too.
  r = recv_into(std::move(h.s), h.now(), h.flow, buf, out);
  ASSERT_TRUE(r);
  h.s = std::move(r->state);
  EXPECT_EQ(r->bytes, 0u);
  Tcp fin = ack(11, 1);
  fin.flag = Flag::fin;
  h.peer_sends(fin, h.now() + 1ms);
  EXPECT_EQ(peek(h.s, h.flow, buf).error().kind, Error::Kind::eof);
  EXPECT_EQ(recv_into(h.s, h.now(), h.flow, buf, out).error().kind, Error::Kind::eof);
  EXPECT_EQ(peek(h.s, Flow{}, buf).error().kind, Error::Kind::not_found);
}

}  // namespace
}  // namespace utcp::test
