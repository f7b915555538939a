// The core's data structures: PersistentMap at 1, 1k and 1M flows (update, find,
// min_deadline, copy, copy-on-write update, update_due with nothing due), ByteQueue and
// Reassembly on their per-segment paths. Counters: allocations per operation (this program
// counts every operator new) and the map's node bytes per entry.
#include <benchmark/benchmark.h>
#include <malloc.h>

#include <atomic>
#include <cstdlib>
#include <map>
#include <new>
#include <string>
#include <vector>

#include "core/byte_queue.hpp"
#include "core/persistent_map.hpp"
#include "core/reassembly.hpp"
#include "counting_new.hpp"
#include "utcp/detail/rng.hpp"
#include "utcp/ip.hpp"

namespace utcp::detail {
namespace {

// A value about the size of the timer part of a control block.
struct Conn {
  std::uint64_t counters[6] = {};
  std::optional<Instant> deadline;
};
struct ConnDeadline {
  std::optional<Instant> operator()(const Conn& c) const { return c.deadline; }
};
using FlowMap = PersistentMap<Flow, Conn, ConnDeadline>;

Flow flow_of(std::uint64_t i) {
  const auto b = [&](int shift) { return static_cast<std::uint8_t>(i >> shift); };
  return Flow({IpAddr::v4(10, 0, 0, 1), 80},
              {IpAddr::v4(10, b(24), b(16), b(8)), static_cast<std::uint16_t>(i)});
}

struct Fixture {
  FlowMap map;
  std::vector<Flow> keys;
  double heap_bytes_per_entry = 0;  // as malloc sees it: nodes plus allocator overhead
};

// Built once per size and shared by the benchmarks (1M entries take a while).
Fixture& fixture(std::size_t n) {
  static std::map<std::size_t, Fixture> cache;
  auto it = cache.find(n);
  if (it != cache.end()) return it->second;
  Fixture& f = cache[n];
  Rng rng(n);
  f.keys.reserve(n);
  for (std::size_t i = 0; i < n; ++i) f.keys.push_back(flow_of(i * 7919 + 1));
  const std::size_t heap0 = mallinfo2().uordblks;
  for (std::size_t i = 0; i < n; ++i) {
    Conn c;
    // Idle connections: most have a far keepalive-like deadline, some none.
    if (i % 4 != 0)
      c.deadline = Instant(std::chrono::seconds(3600) + std::chrono::microseconds(rng.uniform(1u << 30)));
    f.map.insert(f.keys[i], c);
  }
  f.heap_bytes_per_entry = static_cast<double>(mallinfo2().uordblks - heap0) / static_cast<double>(n);
  return f;
}

void report(benchmark::State& state, std::uint64_t allocs0, const Fixture& f) {
  const FlowMap& m = f.map;
  state.counters["allocs/op"] =
      benchmark::Counter(static_cast<double>(bench::allocations() - allocs0), benchmark::Counter::kAvgIterations);
  state.counters["node_bytes/entry"] = static_cast<double>(m.memory_usage()) / static_cast<double>(m.size());
  state.counters["heap_bytes/entry"] = f.heap_bytes_per_entry;
  state.counters["key+value"] = static_cast<double>(sizeof(Flow) + sizeof(Conn));
}

void BM_MapUpdate(benchmark::State& state) {
  Fixture& f = fixture(static_cast<std::size_t>(state.range(0)));
  Rng rng(1);
  std::int64_t t = 0;
  const std::uint64_t a0 = bench::allocations();
  for (auto _ : state) {
    const Flow& k = f.keys[rng.uniform(static_cast<std::uint32_t>(f.keys.size()))];
    // The per-segment pattern: touch counters and move the deadline.
    f.map.update(k, [&](Conn& c) {
      ++c.counters[0];
      c.deadline = Instant(std::chrono::seconds(3600) + std::chrono::nanoseconds(++t));
    });
  }
  report(state, a0, f);
}

void BM_MapFind(benchmark::State& state) {
  Fixture& f = fixture(static_cast<std::size_t>(state.range(0)));
  Rng rng(2);
  for (auto _ : state) {
    benchmark::DoNotOptimize(f.map.find(f.keys[rng.uniform(static_cast<std::uint32_t>(f.keys.size()))]));
  }
}

void BM_MapMinDeadline(benchmark::State& state) {
  Fixture& f = fixture(static_cast<std::size_t>(state.range(0)));
  for (auto _ : state) benchmark::DoNotOptimize(f.map.min_deadline());
}

void BM_MapUpdateDueNothingDue(benchmark::State& state) {
  Fixture& f = fixture(static_cast<std::size_t>(state.range(0)));
  const Instant now(std::chrono::seconds(1));
  for (auto _ : state) {
    f.map.update_due(now, [](const Flow&, Conn&) { return true; });
  }
}

void BM_MapCopy(benchmark::State& state) {
  Fixture& f = fixture(static_cast<std::size_t>(state.range(0)));
  for (auto _ : state) {
    FlowMap copy = f.map;
    benchmark::DoNotOptimize(copy);
  }
}

// A snapshot is alive while one flow is updated: the path (and the value) is copied.
void BM_MapUpdateWhileShared(benchmark::State& state) {
  Fixture& f = fixture(static_cast<std::size_t>(state.range(0)));
  Rng rng(3);
  const std::uint64_t a0 = bench::allocations();
  for (auto _ : state) {
    FlowMap snapshot = f.map;
    f.map.update(f.keys[rng.uniform(static_cast<std::uint32_t>(f.keys.size()))],
                 [](Conn& c) { ++c.counters[1]; });
  }
  report(state, a0, f);
}

#define SIZES Arg(1)->Arg(1000)->Arg(1'000'000)
BENCHMARK(BM_MapUpdate)->SIZES;
BENCHMARK(BM_MapFind)->SIZES;
BENCHMARK(BM_MapMinDeadline)->SIZES;
BENCHMARK(BM_MapUpdateDueNothingDue)->SIZES;
BENCHMARK(BM_MapCopy)->SIZES;
BENCHMARK(BM_MapUpdateWhileShared)->SIZES;

// The sender's steady state: append an MSS, slice it for a segment, drop it when acknowledged.
void BM_ByteQueueAppendSliceDrop(benchmark::State& state) {
  ByteQueue q;
  const std::string seg(1460, 'x');
  const auto bytes = std::as_bytes(std::span(seg.data(), seg.size()));
  q.append(bytes);
  const std::uint64_t a0 = bench::allocations();
  for (auto _ : state) {
    q.append(bytes);
    benchmark::DoNotOptimize(q.slice(1460, 1460));
    q.drop_front(1460);
  }
  state.counters["allocs/op"] =
      benchmark::Counter(static_cast<double>(bench::allocations() - a0), benchmark::Counter::kAvgIterations);
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * 1460);
}
BENCHMARK(BM_ByteQueueAppendSliceDrop);

// The receiver's in-order path: insert at rcv_off, take into the receive queue.
void BM_ReassemblyInOrder(benchmark::State& state) {
  Reassembly r;
  ByteQueue q;
  const Payload seg(std::string(1460, 'y'));
  std::uint64_t rcv = 0;
  for (auto _ : state) {
    r.insert(rcv, 65'535, rcv, seg, false, 64);
    rcv += r.take(rcv, q).bytes;
    if (q.size() > 60'000) q.clear();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * 1460);
}
BENCHMARK(BM_ReassemblyInOrder);

}  // namespace
}  // namespace utcp::detail

BENCHMARK_MAIN();
