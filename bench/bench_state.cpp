// The State API on its hot paths: handle_buf on an ESTABLISHED flow (an in-order 1460-byte
// data segment; a pure ACK of new data), timer with nothing due and next_deadline at 1, 1k and
// 1M idle established flows, copying a State (and copying then updating one flow), and a
// whole connect + close. Flows are set up by real handshakes between two stacks
// (sim/two_stacks.hpp, through pair.hpp). Counter allocs: operator new calls per iteration (this program
// counts them).
#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdlib>
#include <map>
#include <memory>
#include <new>

#include "counting_new.hpp"
#include "pair.hpp"

namespace utcp::bench {
namespace {

// Allocations inside the timed region: the total minus those made while paused.
class AllocCounter {
 public:
  AllocCounter() : start_(allocations()) {}
  void pause() { paused_at_ = allocations(); }
  void resume() { excluded_ += allocations() - paused_at_; }
  void report(benchmark::State& st) const {
    st.counters["allocs"] = benchmark::Counter(static_cast<double>(allocations() - start_ - excluded_),
                                               benchmark::Counter::kAvgIterations);
  }

 private:
  std::uint64_t start_, paused_at_ = 0, excluded_ = 0;
};

void drain(St& s, Instant now, const Flow& f) {
  auto r = recv(std::move(s), now, f);
  if (!r) die("recv: " + r.error().message);
  s = std::move(r->state);
}

// ---- handle_buf: an in-order 1460-byte data segment at the receiver ----

// Feeds in-order 1460-byte segments of client flow `i` (opened here) to p.b.
void data_segments(benchmark::State& state, Pair& p, std::uint64_t i) {
  constexpr std::size_t kBatch = 128;  // 187 KB: inside the 256 KiB receive window
  const Flow fa = p.open(i), fb = server_flow(i);
  const auto ci = info(p.a.s, fa);
  if (!ci) die("no flow");
  Segment seg;
  seg.src_port = fa.local().port;
  seg.dst_port = fa.remote().port;
  seg.seq = ci->snd_nxt;
  seg.ack = ci->rcv_nxt;
  seg.push = true;
  seg.window = static_cast<std::uint16_t>(std::min<std::uint32_t>(ci->rcv_wnd >> ci->rcv_wscale, 65535));
  seg.payload = Payload(std::string_view(sim::pattern(1460, 1)));
  std::vector<Packet> batch(kBatch);
  auto refill = [&] {
    for (Packet& pk : batch) {
      pk.src = fa.local().ip;
      pk.dst = fa.remote().ip;
      pk.len = static_cast<std::uint32_t>(seg.encode_into(pk.bytes, pk.src, pk.dst));
      seg.seq = seg.seq + 1460;
    }
  };
  refill();
  const std::uint64_t bytes0 = stats(p.b.s).bytes_in;
  std::size_t k = 0;
  AllocCounter ac;
  for (auto _ : state) {
    if (k == kBatch) {
      state.PauseTiming();
      ac.pause();
      drain(p.b.s, p.now, fb);
      refill();
      k = 0;
      ac.resume();
      state.ResumeTiming();
    }
    auto r = handle_buf(std::move(p.b.s), p.now, batch[k].src, batch[k].dst, batch[k].view());
    p.b.s = std::move(r.state);
    benchmark::DoNotOptimize(r.out.size());
    ++k;
  }
  ac.report(state);
  if (stats(p.b.s).bytes_in - bytes0 != 1460 * static_cast<std::uint64_t>(state.iterations()))
    die("data not accepted in order");
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * 1460);
}

void BM_HandleBufData1460(benchmark::State& state) {
  Pair p;
  data_segments(state, p, 0);
}
BENCHMARK(BM_HandleBufData1460);

// ---- handle_buf: a flood of tiny out-of-order segments (issue 8, docs/SECURITY.md) ----

// 100,000 one-byte segments at random offsets behind a hole at RCV.NXT, fed in a loop: each
// lands in (or is refused by) the reassembly queue, whose ranges are capped by
// Config::max_ooo_ranges. The time per segment must not grow with the flood; the memory bound
// is asserted in HostileFlood.TinyOutOfOrderSegmentsKeepMemoryBounded.
void BM_HandleBufTinyOutOfOrder(benchmark::State& state) {
  constexpr std::size_t kFlood = 100'000;
  Pair p;
  const Flow fa = p.open(0);
  const auto ci = info(p.a.s, fa);
  if (!ci) die("no flow");
  const auto cb = info(p.b.s, server_flow(0));
  if (!cb) die("no server flow");
  Segment seg;
  seg.src_port = fa.local().port;
  seg.dst_port = fa.remote().port;
  seg.ack = ci->rcv_nxt;
  seg.window = static_cast<std::uint16_t>(std::min<std::uint32_t>(ci->rcv_wnd >> ci->rcv_wscale, 65535));
  seg.payload = Payload(std::string_view("x"));
  std::vector<Packet> flood(kFlood);
  std::uint64_t x = 0x0dd;
  for (Packet& pk : flood) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    seg.seq = ci->snd_nxt + 1 + static_cast<std::uint32_t>(x % (cb->rcv_wnd - 2));
    pk.src = fa.local().ip;
    pk.dst = fa.remote().ip;
    pk.len = static_cast<std::uint32_t>(seg.encode_into(pk.bytes, pk.src, pk.dst));
  }
  std::size_t k = 0;
  AllocCounter ac;
  for (auto _ : state) {
    auto r = handle_buf(std::move(p.b.s), p.now, flood[k].src, flood[k].dst, flood[k].view());
    p.b.s = std::move(r.state);
    benchmark::DoNotOptimize(r.out.size());
    if (++k == kFlood) k = 0;
  }
  ac.report(state);
  const auto after = info(p.b.s, server_flow(0));
  if (!after || after->rcv_nxt != cb->rcv_nxt) die("the hole at RCV.NXT was filled");
  state.counters["ooo_ranges"] = static_cast<double>(after->ooo_ranges);
  state.counters["ooo_bytes"] = static_cast<double>(after->ooo_bytes);
}
BENCHMARK(BM_HandleBufTinyOutOfOrder);

// ---- handle_buf: a pure ACK of new data at the sender ----

void BM_HandleBufPureAck(benchmark::State& state) {
  constexpr std::size_t kSegments = 64;
  Pair p;
  const Flow fa = p.open(0), fb = server_flow(0);
  const std::string data = sim::pattern(kSegments * 1460, 1);
  // Warm up: open the congestion window so the batches below leave in one go.
  for (int round = 0; round < 64; ++round) {
    p.apply(send(std::move(p.a.s), p.now, fa, data), false, "send");
    p.settle();
    drain(p.b.s, p.now, fb);
    p.deliver(false);
  }
  std::vector<Packet> acks;
  std::uint64_t acked_bytes = 0, sent_in_timing = 0;
  auto refill = [&] {
    acks.clear();
    p.apply(send(std::move(p.a.s), p.now, fa, data), false, "send");
    p.deliver(true);  // data to b; b's ACKs are now queued for a
    auto r = recv(std::move(p.b.s), p.now, fb);
    if (!r) die("recv");
    p.b.s = std::move(r->state);
    p.queue(r->out, false);  // the window update
    acks.swap(p.to_a);
  };
  refill();
  std::size_t i = 0;
  AllocCounter ac;
  for (auto _ : state) {
    if (i == acks.size()) {
      state.PauseTiming();
      ac.pause();
      refill();
      i = 0;
      ac.resume();
      state.ResumeTiming();
    }
    const auto una = info(p.a.s, fa)->snd_una;
    auto r = handle_buf(std::move(p.a.s), p.now, acks[i].src, acks[i].dst, acks[i].view());
    p.a.s = std::move(r.state);
    sent_in_timing += r.out.size();
    acked_bytes += static_cast<std::uint32_t>(info(p.a.s, fa)->snd_una - una);
    ++i;
  }
  ac.report(state);
  const double n = static_cast<double>(state.iterations());
  state.counters["acked_B"] = static_cast<double>(acked_bytes) / n;
  state.counters["segs_out"] = static_cast<double>(sent_in_timing) / n;
}
BENCHMARK(BM_HandleBufPureAck);

// ---- N idle established flows ----

Config keepalive_config() {
  Config c;
  c.keepalive = true;  // every idle flow then has a deadline (2 h away)
  return c;
}
Pair& idle(std::size_t n) {
  static std::map<std::size_t, std::unique_ptr<Pair>> cache;
  auto& slot = cache[n];  // every size stays: each family runs 1, 1k, 1M in turn
  if (!slot) {
    slot = std::make_unique<Pair>(keepalive_config(), keepalive_config());
    for (std::size_t i = 0; i < n; ++i) slot->open(i);
    if (num_connections(slot->a.s) != n) die("flows missing");
  }
  return *slot;
}

void BM_TimerNothingDue(benchmark::State& state) {
  Pair& p = idle(static_cast<std::size_t>(state.range(0)));
  AllocCounter ac;
  for (auto _ : state) {
    auto r = timer(std::move(p.a.s), p.now);
    p.a.s = std::move(r.state);
    benchmark::DoNotOptimize(r.out.size());
  }
  ac.report(state);
}
BENCHMARK(BM_TimerNothingDue)->Arg(1)->Arg(1000)->Arg(1000000);

void BM_NextDeadline(benchmark::State& state) {
  Pair& p = idle(static_cast<std::size_t>(state.range(0)));
  if (!next_deadline(p.a.s)) die("no deadline");
  AllocCounter ac;
  for (auto _ : state) {
    auto d = next_deadline(p.a.s);
    benchmark::DoNotOptimize(d);
  }
  ac.report(state);
}
BENCHMARK(BM_NextDeadline)->Arg(1)->Arg(1000)->Arg(1000000);

void BM_CopyState(benchmark::State& state) {
  Pair& p = idle(static_cast<std::size_t>(state.range(0)));
  AllocCounter ac;
  for (auto _ : state) {
    St copy = p.a.s;
    benchmark::DoNotOptimize(copy);
  }
  ac.report(state);
}
BENCHMARK(BM_CopyState)->Arg(1)->Arg(1000)->Arg(1000000);

// A snapshot that then diverges: the first update of the copy pays the copy-on-write.
void BM_CopyStateThenUpdateOneFlow(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  Pair& p = idle(n);
  FlowOptions o;
  o.nodelay = true;
  std::uint64_t i = 0;
  AllocCounter ac;
  for (auto _ : state) {
    St copy = p.a.s;
    auto r = set_options(std::move(copy), client_flow(i++ % n), o);
    benchmark::DoNotOptimize(r);
  }
  ac.report(state);
}
BENCHMARK(BM_CopyStateThenUpdateOneFlow)->Arg(1)->Arg(1000)->Arg(1000000);

// The same data path on one more flow while the table holds N idle ones: the table's cost.
void BM_HandleBufData1460AmongIdle(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  static std::map<std::size_t, std::uint64_t> runs;  // Google Benchmark calls this more than once
  data_segments(state, idle(n), n + runs[n]++);
}
BENCHMARK(BM_HandleBufData1460AmongIdle)->Arg(1000)->Arg(1000000);

// ---- connect + close ----

void BM_ConnectClose(benchmark::State& state) {
  Pair p;
  std::uint64_t i = 0;
  AllocCounter ac;
  for (auto _ : state) {
    p.connect_close(i++);
    p.now += std::chrono::milliseconds(1);  // TIME-WAIT (60 s) ends 60,000 pairs later
    p.run_timers();
  }
  ac.report(state);
  state.counters["flows_left"] = static_cast<double>(num_connections(p.a.s) + num_connections(p.b.s));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ConnectClose);

}  // namespace
}  // namespace utcp::bench

BENCHMARK_MAIN();
