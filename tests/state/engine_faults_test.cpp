// Regression tests for the faults of µTCP that DESIGN.md lists: utcp must have none of them.
#include <cstring>

#include "core/siphash.hpp"
#include "harness.hpp"

namespace utcp::test {
namespace {

const IpAddr kClient = IpAddr::v4(10, 0, 0, 1);
const IpAddr kServer = IpAddr::v4(10, 0, 0, 2);

Segment make(std::uint32_t seq, std::optional<std::uint32_t> ack, Segment::Flag flag = Segment::Flag::none,
             std::string_view data = {}) {
  Segment s;
  s.src_port = 40000;
  s.dst_port = 80;
  s.seq = Seq(seq);
  if (ack) s.ack = Seq(*ack);
  s.flag = flag;
  s.window = 65535;
  if (!data.empty()) s.payload = Payload(data);
  if (flag == Segment::Flag::syn) s.options = {Mss{1460}};
  return s;
}

// Feeds a hand-made client segment to a server state.
HandleResult<int> feed(State<int>&& s, Instant now, const Segment& seg) {
  const auto bytes = seg.encode(kClient, kServer);
  return handle_buf(std::move(s), now, kClient, kServer, bytes);
}

State<int> server() {
  return start_listen(empty<int>([n = 0]() mutable { return n++; }, "server"), 80);
}

// Fault 1: the SYN-ACK retransmission timer must not survive the passive open.
TEST(EngineFaults, Fault1SynAckTimerStopsOnceEstablished) {
  Instant now = t0();
  auto r = feed(server(), now, make(1000, std::nullopt, Segment::Flag::syn));
  ASSERT_EQ(r.out.size(), 1u);
  const Seq iss = r.out[0].segment.seq;
  r = feed(std::move(r.state), now + 1ms, make(1001, iss.value() + 1));
  ASSERT_TRUE(r.event && std::holds_alternative<Established<int>>(*r.event));
  State<int> s = std::move(r.state);
  EXPECT_EQ(next_deadline(s), std::nullopt) << "an idle ESTABLISHED connection has no timer";
  auto t = timer(std::move(s), now + std::chrono::minutes(15));
  EXPECT_TRUE(t.out.empty());
  EXPECT_TRUE(t.drops.empty());
  ASSERT_EQ(num_connections(t.state), 1u);
  EXPECT_EQ(info(t.state, flows(t.state)[0])->state, TcpState::established);
}

// Fault 2: data (and a FIN) on the handshake's final ACK is accepted and acknowledged.
TEST(EngineFaults, Fault2DataOnFinalAckAcceptedAndAcknowledged) {
  Instant now = t0();
  auto r = feed(server(), now, make(1000, std::nullopt, Segment::Flag::syn));
  const Seq iss = r.out[0].segment.seq;
  Segment last = make(1001, iss.value() + 1, Segment::Flag::fin, "abc");
  r = feed(std::move(r.state), now + 1ms, last);
  ASSERT_TRUE(r.event && std::holds_alternative<Established<int>>(*r.event));
  const Flow flow = std::get<Established<int>>(*r.event).flow;
  // The FIN is acknowledged at once, covering the text.
  ASSERT_EQ(r.out.size(), 1u);
  EXPECT_EQ(r.out[0].segment.ack, Seq(1001 + 3 + 1));
  auto got = recv(std::move(r.state), now + 2ms, flow);
  ASSERT_TRUE(got);
  ASSERT_EQ(got->data.size(), 1u);
  EXPECT_EQ(got->data[0].to_string(), "abc");
  EXPECT_EQ(info(got->state, flow)->state, TcpState::close_wait);
  auto eof = recv(got->state, now + 3ms, flow);
  ASSERT_FALSE(eof);
  EXPECT_EQ(eof.error().kind, Error::Kind::eof);
}

// Fault 3: zero-window probing goes on, backed off, for as long as the peer answers.
TEST(EngineFaults, Fault3ZeroWindowProbingNeverGivesUpWhileAnswered) {
  Config small;
  small.recv_buffer = 8 * 1024;
  Net net({}, small);
  net.a.to_send = pattern(64 * 1024, 3);
  net.a.close_when_done = false;
  net.b.close_when_done = false;
  net.connect();
  ASSERT_TRUE(net.run_until([&] { return net.a.flow && net.b.flow; }, 5s));
  // b does not read: its window closes; a probes for two hours.
  const Flow bflow = *net.b.flow;
  net.b.flow.reset();  // the application on b stops reading
  net.run_for(std::chrono::hours(2));
  const auto ai = info(net.a.s, *net.a.flow);
  ASSERT_TRUE(ai.has_value()) << "the connection must still be there";
  EXPECT_EQ(ai->state, TcpState::established);
  EXPECT_EQ(ai->snd_wnd, 0u);
  EXPECT_GT(stats(net.a.s).zero_window_probes, 12u);
  EXPECT_TRUE(net.a.drops.empty());
  // The probe interval is capped by Config::zero_window_probe_max (60 s): ~120 probes in 2 h.
  EXPECT_GT(stats(net.a.s).zero_window_probes, 100u);
  // b reads again: the transfer completes.
  net.b.flow = bflow;
  ASSERT_TRUE(net.run_until([&] { return net.b.received.size() == net.a.to_send.size(); }, 300s));
  EXPECT_TRUE(net.b.received == net.a.to_send);
}

// Fault 4: handle_buf never writes into the caller's buffer (checksum verification included).
TEST(EngineFaults, Fault4InputBufferNeverWritten) {
  Instant now = t0();
  auto bytes = make(1000, std::nullopt, Segment::Flag::syn, "payload").encode(kClient, kServer);
  const auto copy = bytes;
  State<int> s = server();
  auto r = handle_buf(s, now, kClient, kServer, bytes);
  EXPECT_EQ(bytes, copy);
  bytes[17] ^= std::byte{0x55};  // break the checksum
  const auto broken = bytes;
  r = handle_buf(s, now, kClient, kServer, bytes);
  EXPECT_EQ(bytes, broken);
  EXPECT_EQ(stats(r.state).decode_error(DecodeError::bad_checksum), 1u);
  EXPECT_TRUE(r.out.empty());
}

// ChecksumCheck::trusted skips the checksum and nothing else: the segment whose checksum a
// lower layer verified is answered, and one that is malformed otherwise is still dropped.
TEST(EngineFaults, TrustedChecksumSkipsOnlyTheChecksum) {
  Instant now = t0();
  auto bytes = make(1000, std::nullopt, Segment::Flag::syn).encode(kClient, kServer);
  bytes[17] ^= std::byte{0x55};  // break the checksum
  State<int> s = server();
  auto r = handle_buf(State<int>(s), now, kClient, kServer, bytes, ChecksumCheck::trusted);
  EXPECT_EQ(stats(r.state).decode_error(DecodeError::bad_checksum), 0u);
  ASSERT_EQ(r.out.size(), 1u);
  EXPECT_EQ(r.out[0].segment.flag, Segment::Flag::syn);  // the SYN-ACK
  r = handle_buf(State<int>(s), now, kClient, kServer, bytes, ChecksumCheck::verify);
  EXPECT_EQ(stats(r.state).decode_error(DecodeError::bad_checksum), 1u);
  EXPECT_TRUE(r.out.empty());
  bytes[12] = std::byte{0x30};  // data offset 3 words
  r = handle_buf(State<int>(s), now, kClient, kServer, bytes, ChecksumCheck::trusted);
  EXPECT_EQ(stats(r.state).decode_error(DecodeError::bad_data_offset), 1u);
  EXPECT_TRUE(r.out.empty());
}

// Fault 5: simultaneous open establishes both ends.
TEST(EngineFaults, Fault5SimultaneousOpen) {
  Net net;
  auto ra = utcp::connect(std::move(net.a.s), net.now, net.a.ip, net.b.ip, 5001, 5000);
  ASSERT_TRUE(ra);
  net.a.s = std::move(ra->state);
  net.a.flow = ra->flow;
  auto rb = utcp::connect(std::move(net.b.s), net.now, net.b.ip, net.a.ip, 5000, 5001);
  ASSERT_TRUE(rb);
  net.b.s = std::move(rb->state);
  net.b.flow = rb->flow;
  net.queue({ra->syn}, true);
  net.queue({rb->syn}, false);  // the SYNs cross
  net.a.to_send = pattern(100'000, 1);
  net.b.to_send = pattern(100'000, 2);
  ASSERT_TRUE(net.run_until([&] { return net.a.eof && net.b.eof; }, 60s));
  EXPECT_TRUE(net.a.received == net.b.to_send);
  EXPECT_TRUE(net.b.received == net.a.to_send);
  auto established = [](const Peer& p) {
    for (const auto& e : p.events)
      if (auto* est = std::get_if<Established<int>>(&e)) return est->notify.has_value();
    return false;
  };
  EXPECT_TRUE(established(net.a)) << "an active open reports its notify";
  EXPECT_TRUE(established(net.b));
  EXPECT_EQ(stats(net.a.s).resets_sent + stats(net.b.s).resets_sent, 0u);
}

// Fault 6: on RTO ssthresh = max(FlightSize/2, 2*SMSS) and cwnd = 1 SMSS; the next ACK does
// not undo it.
TEST(EngineFaults, Fault6NoBadRetransmitUndo) {
  Net net;
  net.a.close_when_done = false;
  net.b.close_when_done = false;
  net.connect();
  ASSERT_TRUE(net.run_until([&] { return net.a.flow && net.b.flow; }, 5s));
  net.run_for(10ms);
  net.loss = 1.0;  // the whole initial window is lost
  auto sent = send(std::move(net.a.s), net.now, *net.a.flow, pattern(10 * 1460, 4));
  ASSERT_TRUE(sent);
  net.a.s = std::move(sent->state);
  net.queue(sent->out, true);
  auto before = info(net.a.s, *net.a.flow);
  EXPECT_EQ(before->cwnd, 10u * 1460);
  // The RTO fires (1 s before any sample... here the handshake gave a sample: 200 ms min).
  const Instant due = *next_deadline(net.a.s);
  net.now = due;
  net.loss = 0;
  net.run_timers(net.a);
  auto after = info(net.a.s, *net.a.flow);
  EXPECT_EQ(after->ssthresh, 10220u) << "FlightSize * 0.7 (CUBIC, RFC 9438 §4.8)";
  EXPECT_EQ(after->cwnd, 1460u);
  EXPECT_EQ(stats(net.a.s).retransmits_rto, 1u);
  // The retransmission is acknowledged: slow start from 1 SMSS, ssthresh kept.
  net.run_for(3ms);
  auto later = info(net.a.s, *net.a.flow);
  EXPECT_EQ(later->ssthresh, 10220u);
  EXPECT_LT(later->cwnd, 10u * 1460) << "no undo to the window before the timeout";
}

// Fault 7: ISNs follow RFC 6528 and the initial RTO is RFC 6298's 1 s.
TEST(EngineFaults, Fault7Rfc6528IsnAndOneSecondInitialRto) {
  Config cfg;
  auto s = empty<int>([] { return 0; }, "c", cfg);
  const Instant now = t0();
  auto r = utcp::connect(std::move(s), now, kClient, kServer, 80, 40000);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->syn.segment.seq, detail::initial_sequence_number(cfg.isn_secret, r->flow, now));
  EXPECT_EQ(next_deadline(r->state), now + std::chrono::seconds(1));
  auto t = timer(std::move(r->state), now + std::chrono::seconds(1));
  ASSERT_EQ(t.out.size(), 1u);
  EXPECT_EQ(t.out[0].segment.flag, Segment::Flag::syn);
  EXPECT_EQ(next_deadline(t.state), now + std::chrono::seconds(3)) << "backed off to 2 s";
}

// Fault 8: the send buffer is not µTCP's 33.6 KB: a 100 ms RTT path carries much more than
// 33.6 KB per round trip once the window has opened.
TEST(EngineFaults, Fault8SendBufferBeyond33KB) {
  Net net;
  net.latency = 50ms;
  net.a.to_send = pattern(8 << 20, 5);
  net.connect();
  ASSERT_TRUE(net.run_until([&] { return net.a.flow && net.b.flow; }, 5s));
  const Instant start = net.now;
  ASSERT_TRUE(net.run_until([&] { return net.b.received.size() == net.a.to_send.size(); }, 600s));
  const double rtts = std::chrono::duration<double>(net.now - start).count() / 0.1;
  EXPECT_GT(static_cast<double>(net.a.to_send.size()) / rtts, 100'000.0) << "bytes per round trip";
  EXPECT_GE(config(net.a.s).send_buffer, 256u * 1024);
}

// Fault 9: timer never walks idle connections; next_deadline is exact.
TEST(EngineFaults, Fault9TimerDoesNotWalkIdleFlows) {
  auto s = start_listen(empty<int>([n = 0]() mutable { return n++; }, "many"), 80);
  Instant now = t0();
  for (std::uint32_t i = 0; i < 5000; ++i) {
    Segment syn = make(1000, std::nullopt, Segment::Flag::syn);
    syn.src_port = static_cast<std::uint16_t>(10000 + i);
    auto r = feed(std::move(s), now, syn);
    const Seq iss = r.out[0].segment.seq;
    Segment ack = make(1001, iss.value() + 1);
    ack.src_port = syn.src_port;
    r = feed(std::move(r.state), now, ack);
    s = std::move(r.state);
  }
  ASSERT_EQ(num_connections(s), 5000u);
  EXPECT_EQ(next_deadline(s), std::nullopt);
  const auto wall0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 100'000; ++i) {
    auto t = timer(std::move(s), now + std::chrono::milliseconds(i));
    s = std::move(t.state);
  }
  const auto wall = std::chrono::steady_clock::now() - wall0;
  EXPECT_LT(wall, std::chrono::seconds(2)) << "100,000 timer calls over 5,000 idle flows";
}

}  // namespace
}  // namespace utcp::test
