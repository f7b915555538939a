// Transfers under one impairment at a time, and determinism: one seed, one run, bit for bit.
#include <gtest/gtest.h>

#include <chrono>
#include <limits>
#include <optional>

#include "sim.hpp"

namespace utcp::sim {
namespace {

using std::chrono::milliseconds;

TransferSpec base(std::uint64_t bytes_each_way) {
  TransferSpec spec;
  spec.client_bytes = bytes_each_way;
  spec.server_bytes = bytes_each_way;
  LinkConfig link;
  link.delay = milliseconds(5);
  link.rate_bps = 50'000'000;
  link.queue_limit = 100;
  link.mtu = 1500;
  set_both(spec, link);
  return spec;
}

void expect_ok(const TransferReport& r, std::uint64_t c2s, std::uint64_t s2c) {
  ASSERT_TRUE(r.ok()) << *r.failure;
  EXPECT_EQ(r.server_received, c2s);
  EXPECT_EQ(r.client_received, s2c);
  EXPECT_EQ(r.end, Network::End::quiescent);
}

TEST(SimTransfer, CleanPathBothWays) {
  const auto r = run_transfer(base(300'000));
  expect_ok(r, 300'000, 300'000);
  EXPECT_EQ(r.client_stats.retransmits_rto + r.server_stats.retransmits_rto, 0u);
  EXPECT_EQ(r.forward.lost + r.forward.queue_drops, 0u);
}

TEST(SimTransfer, QueueMeanOccupancyIsReported) {
  // A one-way transfer: the data direction's queue fills (Reno's window outgrows the 5 ms
  // path's BDP of about 21 segments), within the 100-datagram limit; ACKs queue far less.
  TransferSpec spec = base(0);
  spec.client_bytes = 2'000'000;
  const auto r = run_transfer(spec);
  expect_ok(r, 2'000'000, 0);
  EXPECT_GT(r.forward_mean_queue, 1.0);
  EXPECT_LE(r.forward_mean_queue, static_cast<double>(r.forward.max_queue));
  EXPECT_LE(r.forward.max_queue, 100u);
  EXPECT_LT(r.backward_mean_queue, r.forward_mean_queue);
}

TEST(SimTransfer, NothingEitherWay) {
  expect_ok(run_transfer(base(0)), 0, 0);
}

TEST(SimTransfer, OneByte) {
  expect_ok(run_transfer(base(1)), 1, 1);
}

TEST(SimTransfer, UniformLoss) {
  auto spec = base(200'000);
  spec.forward.impair.loss = spec.backward.impair.loss = 0.05;
  const auto r = run_transfer(spec);
  expect_ok(r, 200'000, 200'000);
  EXPECT_GT(r.forward.lost + r.backward.lost, 0u);
  EXPECT_GT(r.client_stats.retransmits_rto + r.client_stats.retransmits_fast +
                r.server_stats.retransmits_rto + r.server_stats.retransmits_fast,
            0u);
}

TEST(SimTransfer, BurstLoss) {
  auto spec = base(200'000);
  spec.forward.impair.burst = spec.backward.impair.burst = GilbertElliott{0.02, 0.5, 1.0, 0.0};
  const auto r = run_transfer(spec);
  expect_ok(r, 200'000, 200'000);
  EXPECT_GT(r.forward.burst_lost, 0u);
}

TEST(SimTransfer, Duplication) {
  auto spec = base(200'000);
  spec.forward.impair.duplicate = spec.backward.impair.duplicate = 0.2;
  const auto r = run_transfer(spec);
  expect_ok(r, 200'000, 200'000);
  EXPECT_GT(r.forward.duplicated, 0u);
}

TEST(SimTransfer, Reordering) {
  auto spec = base(200'000);
  spec.forward.impair.reorder = spec.backward.impair.reorder = 0.2;
  spec.forward.impair.reorder_delay = spec.backward.impair.reorder_delay = milliseconds(3);
  const auto r = run_transfer(spec);
  expect_ok(r, 200'000, 200'000);
  EXPECT_GT(r.forward.reordered, 0u);
}

TEST(SimTransfer, CorruptionIsCaughtByTheChecksum) {
  auto spec = base(200'000);
  spec.forward.impair.corrupt = spec.backward.impair.corrupt = 0.1;
  const auto r = run_transfer(spec);
  // run_transfer also checks that every corrupted arrival was a decode drop.
  expect_ok(r, 200'000, 200'000);
  EXPECT_GT(r.forward.corrupted, 0u);
  EXPECT_GT(r.server_stats.decode_error(DecodeError::bad_checksum), 0u);
  EXPECT_EQ(r.server_stats.drop(DropReason::decode) + r.client_stats.drop(DropReason::decode),
            r.network.corrupted_arrivals);
}

TEST(SimTransfer, IPv6JumboFrames) {
  auto spec = base(500'000);
  spec.ipv6 = true;
  Config c;
  c.mtu = 9000;
  set_both(spec, c);
  spec.forward.mtu = spec.backward.mtu = 9000;
  expect_ok(run_transfer(spec), 500'000, 500'000);
}

TEST(SimTransfer, SmallBuffersNoWindowScaling) {
  auto spec = base(100'000);
  Config c;
  c.send_buffer = c.recv_buffer = 4096;
  c.window_scaling = false;
  c.mtu = 576;
  set_both(spec, c);
  spec.forward.mtu = spec.backward.mtu = 576;
  expect_ok(run_transfer(spec), 100'000, 100'000);
}

TEST(SimTransfer, SlowReaderClosesTheWindowAndProbesReopenIt) {
  auto spec = base(0);
  spec.client_bytes = 100'000;
  Config c;
  c.send_buffer = c.recv_buffer = 8192;
  set_both(spec, c);
  spec.server_read_interval = milliseconds(700);  // far longer than an RTO
  const auto r = run_transfer(spec);
  expect_ok(r, 100'000, 0);
  EXPECT_GT(r.client_stats.zero_window_probes, 0u);
  EXPECT_GT(r.transfer_time, std::chrono::seconds(8)) << "100 kB at 8 KiB per 0.7 s";
}

TransferSpec everything(std::uint64_t seed) {
  auto spec = base(150'000);
  spec.seed = seed;
  for (LinkConfig* l : {&spec.forward, &spec.backward}) {
    l->impair.loss = 0.03;
    l->impair.burst = GilbertElliott{0.01, 0.6, 1.0, 0.0};
    l->impair.duplicate = 0.03;
    l->impair.reorder = 0.05;
    l->impair.corrupt = 0.03;
  }
  return spec;
}

TEST(SimTransfer, FinalCwndAndSsthreshAreTheConnectionsLastValues) {
  // The report's cwnd and ssthresh are the control block's at the end of the run, not what the
  // application saw when it last touched the socket: after fast retransmits ssthresh has left
  // its initial "infinity", and it equals the last value an observer of every step saw. (The
  // buffers take all the data at once, so the application never looks again before the end.)
  auto spec = base(0);
  spec.client_bytes = 2'000'000;
  Config cfg;
  cfg.send_buffer = cfg.recv_buffer = 4 << 20;
  set_both(spec, cfg);
  spec.forward.impair.loss = 0.02;
  std::optional<ConnInfo> last;
  spec.observe = [&](const TransferView& v) {
    if (auto ci = v.info(v.client)) last = ci;
  };
  const auto r = run_transfer(spec);
  expect_ok(r, 2'000'000, 0);
  ASSERT_GT(r.client_stats.retransmits_fast, 0u);
  ASSERT_TRUE(last);
  EXPECT_LT(r.client_ssthresh, std::numeric_limits<std::int32_t>::max());
  EXPECT_EQ(r.client_ssthresh, last->ssthresh);
  EXPECT_EQ(r.client_cwnd, last->cwnd);
}

TEST(SimDeterminism, SameSeedSameRunBitForBit) {
  const auto a = run_transfer(everything(77));
  const auto b = run_transfer(everything(77));
  ASSERT_TRUE(a.ok()) << *a.failure;
  EXPECT_EQ(a.trace_hash, b.trace_hash);
  EXPECT_EQ(a.end_time, b.end_time);
  EXPECT_EQ(a.transfer_time, b.transfer_time);
  EXPECT_EQ(a.forward, b.forward);
  EXPECT_EQ(a.backward, b.backward);
  EXPECT_EQ(a.client_stats.segments_out, b.client_stats.segments_out);
  EXPECT_EQ(a.server_stats.segments_out, b.server_stats.segments_out);
  EXPECT_EQ(a.network.steps, b.network.steps);
}

TEST(SimDeterminism, AnotherSeedAnotherRun) {
  const auto a = run_transfer(everything(77));
  const auto b = run_transfer(everything(78));
  EXPECT_NE(a.trace_hash, b.trace_hash);
}

TEST(SimNetwork, TimersRunAtTheirDeadlinesNotOnATick) {
  // A lone SYN to nowhere: the client retransmits on its own deadlines, doubling each time.
  Network net;
  const NodeId c = net.add_node("client", {IpAddr::v4(10, 0, 0, 1)});
  std::vector<Instant> sends;
  net.on_transmit = [&](Instant at, NodeId, const Output&, std::span<const std::byte>) {
    sends.push_back(at);
  };
  ASSERT_TRUE(net.connect(c, IpAddr::v4(10, 0, 0, 1), IpAddr::v4(10, 0, 0, 9), 80));
  net.run(Instant{} + std::chrono::seconds(10));
  ASSERT_GE(sends.size(), 3u);
  EXPECT_EQ(sends[0], Instant{});
  const auto first = sends[1] - sends[0], second = sends[2] - sends[1];
  EXPECT_EQ(second, 2 * first) << "RFC 6298 §5.5 back-off";
  EXPECT_EQ(net.stats().no_route, sends.size());
}

}  // namespace
}  // namespace utcp::sim
