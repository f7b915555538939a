// End to end, one process, one thread: two utcp stacks joined in memory (sim/two_stacks.hpp, through
// pair.hpp), every segment encoded and checksummed by Segment::encode_into and decoded and verified by
// handle_buf. Prints a table and, for scripts, one "RESULT name value" line per figure.
//
//   bench_e2e [--only user|sink|shared|bulk|flows|connect|connect_sink|memory] [--bytes N] [--flows N]
//             [--connects N] [--idle N] [--idle-data N] [--tcp-options on]
//
// --tcp-options on: both stacks offer timestamps and SACK (RFC 7323, RFC 2018), as the host
// layer does; every segment then carries the timestamp option (off: Config{}, bare segments).
// Every mode takes it, connect and memory included.
//
// user     the user's pattern through the public API, glibc's malloc as it comes: each round
//          send() offers the next 1 MiB (the stack takes what its buffer has room for), every
//          segment in flight is delivered, recv() takes everything queued (whatever arrived)
//          and every byte is checked, the answers are delivered; N bytes (default 1 GiB)
// sink     the same with the allocation-free variants (handle_buf, send, recv and timer
//          appending to vectors the caller reuses): what the stacks allocate themselves
// shared   sink, with send(const Payload&) over the caller's stream (a Payload sharing its
//          bytes, built once): the send queue holds the caller's bytes, no copy on send
// bulk     N bytes (default 1 GiB) over one flow, MSS 1460, every byte checked at the receiver
// flows    the same total spread over --flows flows (default 1000), all active at once
// connect  --connects (default 200,000) handshakes and closes, distinct 4-tuples, virtual
//          time advancing 1 ms per pair so TIME-WAIT ends and is reaped by timer, through the
//          calls that return their vectors (connect, close, handle_buf, timer)
// connect_sink  the same through their sink variants (one output vector the harness reuses)
// memory   --idle (default 1,000,000) idle established connections: resident memory growth
//          (/proc/self/statm) per connection per stack. --idle-data N (at most 64K): each
//          connection first moves N bytes each way (a request and its answer, read and checked),
//          then virtual time passes every timer: connections idle after use (idle_after_data_*)
#include <malloc.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "byte_stream.hpp"
#include "counting_new.hpp"
#include "pair.hpp"

namespace utcp::bench {
namespace {

double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}
double wall_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
std::uint64_t resident_bytes() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (!f) die("no /proc/self/statm");
  unsigned long size = 0, resident = 0;
  if (std::fscanf(f, "%lu %lu", &size, &resident) != 2) die("bad statm");
  std::fclose(f);
  return static_cast<std::uint64_t>(resident) * static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));
}

void result(const char* name, double value, const char* unit, const char* what) {
  std::printf("%-34s %14.3f %-10s %s\n", name, value, unit, what);
  std::printf("RESULT %s %.6g\n", name, value);
  std::fflush(stdout);
}

// The byte stream: a pseudo-random pattern of odd length, repeated; flow i starts at a shifted
// offset. Stored twice so any chunk up to kStreamPeriod bytes is one contiguous view.
const std::string& pattern() {
  static const std::string s = make_byte_stream();
  return s;
}
std::string_view stream_at(std::size_t flow, std::uint64_t offset, std::size_t n) {
  return std::string_view(pattern()).substr((flow * 7919 + offset) % kStreamPeriod, n);
}

// The bytes of one piece recv returned (the receive queue's own block), against the stream.
bool matches(const Payload& piece, std::string_view want) {
  bool ok = true;
  std::size_t at = 0;
  piece.for_each_slice([&](std::span<const std::byte> s) {
    ok = ok && std::memcmp(s.data(), want.data() + at, s.size()) == 0;
    at += s.size();
  });
  return ok;
}

Config g_config;  // both stacks' (--tcp-options)

struct BulkFigures {
  double wall = 0, cpu = 0;
  std::uint64_t bytes = 0, data_segments = 0, allocs = 0;
};

// Moves `per_flow` bytes over each of `n` flows from a to b and checks every byte.
BulkFigures bulk(std::size_t n, std::uint64_t per_flow) {
  constexpr std::size_t kChunk = 64 * 1024;
  Pair p(g_config, g_config);
  std::vector<Flow> fa(n), fb(n);
  for (std::size_t i = 0; i < n; ++i) {
    fa[i] = p.open(i);
    fb[i] = server_flow(i);
  }
  const auto index = [](const Flow& f, bool at_b) -> std::size_t {
    return static_cast<std::size_t>((at_b ? f.remote() : f.local()).port - client_port(0));
  };
  std::vector<std::uint64_t> sent(n, 0), got(n, 0);
  std::vector<char> writable(n, 1), readable(n, 0);
  std::vector<std::size_t> to_read;
  std::uint64_t total_got = 0;
  const std::uint64_t total = per_flow * n;
  (void)pattern();  // built before the clock starts
  const std::uint64_t segs0 = p.data_segments, allocs0 = allocations();
  const double w0 = wall_seconds(), c0 = cpu_seconds();
  while (total_got < total) {
    bool progress = false;
    for (std::size_t i = 0; i < n; ++i) {
      if (!writable[i] || sent[i] == per_flow) continue;
      const std::size_t len = static_cast<std::size_t>(std::min<std::uint64_t>(kChunk, per_flow - sent[i]));
      auto r = send(std::move(p.a.s), p.now, fa[i], stream_at(i, sent[i], len));
      if (!r) die("send: " + r.error().message);
      sent[i] += r->enqueued;
      if (r->enqueued < len) writable[i] = 0;
      progress |= r->enqueued > 0;
      p.a.s = std::move(r->state);
      p.queue(r->out, true);
    }
    progress |= p.deliver(true, [&](const Event<Notify>& e) {
      if (const auto* s = std::get_if<Signal<Notify>>(&e)) {
        const std::size_t i = index(s->flow, true);
        if (!readable[i]) to_read.push_back(i);
        readable[i] = 1;
      }
    }) > 0;
    for (std::size_t i : to_read) {
      readable[i] = 0;
      auto r = recv(std::move(p.b.s), p.now, fb[i]);
      if (!r) die("recv: " + r.error().message);
      for (const Payload& piece : r->data) {
        if (got[i] + piece.size() > per_flow || !matches(piece, stream_at(i, got[i], piece.size())))
          die("received bytes differ from those sent");
        got[i] += piece.size();
        total_got += piece.size();
      }
      p.b.s = std::move(r->state);
      p.queue(r->out, false);
    }
    to_read.clear();
    progress |= p.deliver(false, [&](const Event<Notify>& e) {
      if (const auto* s = std::get_if<Signal<Notify>>(&e)) writable[index(s->flow, false)] = 1;
    }) > 0;
    if (!progress && p.to_a.empty() && p.to_b.empty()) {
      // Nothing moves: let virtual time reach the next timer (a delayed ACK, say).
      const auto d = p.next_event();
      if (!d) die("transfer stalled with no timer pending");
      p.now = std::max(p.now, *d);
      p.run_timers();
      std::fill(writable.begin(), writable.end(), 1);
    }
    p.now += std::chrono::microseconds(10);
  }
  BulkFigures f;
  f.cpu = cpu_seconds() - c0;
  f.wall = wall_seconds() - w0;
  f.bytes = total_got;
  f.data_segments = p.data_segments - segs0;
  f.allocs = allocations() - allocs0;
  for (std::size_t i = 0; i < n; ++i)
    if (got[i] != per_flow) die("a flow did not receive all its bytes");
  return f;
}

// The user's pattern (see the top of this file): no events consulted, one send and one recv
// per round, 1 MiB offered each time.
BulkFigures user_bulk(std::uint64_t total, bool sink, bool shared = false) {
  constexpr std::size_t kOffer = 1u << 20;
  Pair p(g_config, g_config);
  p.sink = sink;
  // The whole stream as one Payload that shares the caller's bytes (they outlive the run).
  const Payload stream(std::shared_ptr<const void>(&pattern(), [](const void*) {}),
                       std::as_bytes(std::span(pattern().data(), pattern().size())));
  std::vector<Payload> pieces;  // the sink run's reused recv vector
  const Flow fa = p.open(0), fb = server_flow(0);
  std::uint64_t sent = 0, got = 0;
  (void)pattern();
  const std::uint64_t segs0 = p.data_segments, allocs0 = allocations();
  const double w0 = wall_seconds(), c0 = cpu_seconds();
  while (got < total) {
    bool progress = false;
    if (sent < total) {
      const std::size_t len = static_cast<std::size_t>(std::min<std::uint64_t>(kOffer, total - sent));
      std::size_t enqueued = 0;
      if (shared) {
        const std::string_view at = stream_at(0, sent, len);
        const auto off = static_cast<std::size_t>(at.data() - pattern().data());
        auto r = send(std::move(p.a.s), p.now, fa, stream.sub(off, at.size()), p.out);
        if (!r) die("send: " + r.error().message);
        enqueued = r->enqueued;
        p.a.s = std::move(r->state);
        p.queue(p.out, true);
        p.out.clear();
      } else if (sink) {
        auto r = send(std::move(p.a.s), p.now, fa, stream_at(0, sent, len), p.out);
        if (!r) die("send: " + r.error().message);
        enqueued = r->enqueued;
        p.a.s = std::move(r->state);
        p.queue(p.out, true);
        p.out.clear();
      } else {
        auto r = send(std::move(p.a.s), p.now, fa, stream_at(0, sent, len));
        if (!r) die("send: " + r.error().message);
        enqueued = r->enqueued;
        p.a.s = std::move(r->state);
        p.queue(r->out, true);
      }
      sent += enqueued;
      progress |= enqueued > 0;
    }
    progress |= p.deliver(true) > 0;
    const auto check = [&](const auto& data) {
      for (const auto& piece : data) {
        if (got + piece.size() > total || !matches(piece, stream_at(0, got, piece.size())))
          die("received bytes differ from those sent");
        got += piece.size();
        progress = true;
      }
    };
    if (sink) {
      auto r = recv(std::move(p.b.s), p.now, fb, pieces, p.out);
      if (!r) die("recv: " + r.error().message);
      p.b.s = std::move(r->state);
      check(pieces);
      pieces.clear();  // the reader is done with them: the blocks go back
      p.queue(p.out, false);
      p.out.clear();
    } else {
      auto r = recv(std::move(p.b.s), p.now, fb);
      if (!r) die("recv: " + r.error().message);
      check(r->data);
      p.b.s = std::move(r->state);
      p.queue(r->out, false);
    }
    progress |= p.deliver(false) > 0;
    if (!progress && p.to_a.empty() && p.to_b.empty()) {
      const auto d = p.next_event();
      if (!d) die("transfer stalled with no timer pending");
      p.now = std::max(p.now, *d);
      p.run_timers();
    }
    p.now += std::chrono::microseconds(10);
  }
  BulkFigures f;
  f.cpu = cpu_seconds() - c0;
  f.wall = wall_seconds() - w0;
  f.bytes = got;
  f.data_segments = p.data_segments - segs0;
  f.allocs = allocations() - allocs0;
  return f;
}

void report_figures(const std::string& key, const BulkFigures& f) {
  const double bits = static_cast<double>(f.bytes) * 8;
  std::string name = key + "_gbps_cpu";
  result(name.c_str(), bits / f.cpu / 1e9, "Gbit/s", "payload over process CPU time");
  name = key + "_gbps_wall";
  result(name.c_str(), bits / f.wall / 1e9, "Gbit/s", "payload over wall time (machine shared)");
  name = key + "_bytes";
  result(name.c_str(), static_cast<double>(f.bytes), "B", "payload moved and checked");
  name = key + "_data_segments";
  result(name.c_str(), static_cast<double>(f.data_segments), "", "segments with payload sent");
  name = key + "_ns_per_segment_cpu";
  result(name.c_str(), f.cpu * 1e9 / static_cast<double>(f.data_segments), "ns",
         "CPU per data segment, both stacks, ACKs included");
  name = key + "_allocs_per_segment";
  result(name.c_str(), static_cast<double>(f.allocs) / static_cast<double>(f.data_segments), "",
         "operator new calls per data segment (stacks and harness)");
}

void report_bulk(const char* key, std::size_t n, std::uint64_t bytes) {
  report_figures(key, bulk(n, bytes / n));
}

// key "connect_close": the calls that return their vectors (connect, close, handle_buf, timer);
// "connect_close_sink": their sink variants, appending to one vector the harness reuses.
void report_connect(const std::string& key, std::uint64_t count, bool sink) {
  Pair p(g_config, g_config);
  p.sink = sink;
  const std::uint64_t allocs0 = allocations();
  const double w0 = wall_seconds(), c0 = cpu_seconds();
  for (std::uint64_t i = 0; i < count; ++i) {
    p.connect_close(i);
    p.now += std::chrono::milliseconds(1);
    p.run_timers();
  }
  const double cpu = cpu_seconds() - c0, wall = wall_seconds() - w0;
  const auto name = [&](const char* what) { return (key + what); };
  result(name("_per_s_cpu").c_str(), static_cast<double>(count) / cpu, "1/s",
         sink ? "the same with the sink variants" : "handshake + close pairs per CPU second (both stacks)");
  result(name("_per_s_wall").c_str(), static_cast<double>(count) / wall, "1/s", "the same over wall time");
  result(name("_allocs").c_str(), static_cast<double>(allocations() - allocs0) / static_cast<double>(count), "",
         "operator new calls per pair");
  result(name("_left").c_str(), static_cast<double>(num_connections(p.a.s) + num_connections(p.b.s)), "",
         "flows still in the tables (TIME-WAIT)");
}

// Moves `bytes` each way over flow i (a request from a, the answer from b, each read and
// checked by the other side), as a connection does before it goes idle.
void exchange(Pair& p, std::uint64_t i, std::size_t bytes) {
  const Flow fa = client_flow(i), fb = server_flow(i);
  for (const bool from_a : {true, false}) {
    St& src = from_a ? p.a.s : p.b.s;
    St& dst = from_a ? p.b.s : p.a.s;
    const std::string_view want = stream_at(i, from_a ? 0 : bytes, bytes);
    auto s = send(std::move(src), p.now, from_a ? fa : fb, want);
    if (!s || s->enqueued != bytes) die("send before idle: short or failed");
    src = std::move(s->state);
    p.queue(s->out, from_a);
    std::size_t got = 0;
    while (got < bytes) {
      p.settle();
      auto r = recv(std::move(dst), p.now, from_a ? fb : fa);
      if (!r) die("recv before idle: " + r.error().message);
      for (const Payload& piece : r->data) {
        if (got + piece.size() > bytes || !matches(piece, want.substr(got, piece.size())))
          die("received bytes differ from those sent");
        got += piece.size();
      }
      dst = std::move(r->state);
      p.queue(r->out, !from_a);
      if (got < bytes && p.to_a.empty() && p.to_b.empty()) {
        // Nothing in flight: the rest waits for a timer (a delayed ACK).
        const auto d = p.next_event();
        if (!d) die("exchange stalled with no timer pending");
        p.now = std::max(p.now, *d);
        p.run_timers();
      }
    }
    p.settle();
  }
  // Every timer of this flow fires before the next flow opens, as on a server whose
  // connections go idle one after another (not all at the end, which would leave the heap
  // fragmented by a million timer states freed at once).
  p.now += std::chrono::milliseconds(500);
  p.run_timers();
  p.settle();
}

// `data` 0: connections that only shook hands. Otherwise each moves `data` bytes each way
// first, and its timers fire (exchange): an idle connection after use.
void report_memory(std::uint64_t count, std::uint64_t data) {
  if (data > 64 * 1024) die("--idle-data: at most 64K (one send each way)");
  (void)pattern();  // built before the baseline
  malloc_trim(0);
  const std::uint64_t rss0 = resident_bytes();
  const std::size_t heap0 = mallinfo2().uordblks;
  Pair p(g_config, g_config);
  const double c0 = cpu_seconds();
  for (std::uint64_t i = 0; i < count; ++i) {
    p.open(i);
    if (data > 0) exchange(p, i, static_cast<std::size_t>(data));
  }
  const double cpu = cpu_seconds() - c0;
  if (num_connections(p.a.s) != count || num_connections(p.b.s) != count) die("connections missing");
  if (next_deadline(p.a.s) || next_deadline(p.b.s)) die("a timer is still armed: not idle");
  const std::uint64_t rss1 = resident_bytes();
  const std::size_t heap1 = mallinfo2().uordblks;
  const double per = static_cast<double>(count) * 2;
  const std::string key = data > 0 ? "idle_after_data" : "idle";
  std::string name = key + "_rss_per_conn_per_stack";
  result(name.c_str(), static_cast<double>(rss1 - rss0) / per, "B", "resident growth / connections / 2 stacks");
  name = key + "_heap_per_conn_per_stack";
  result(name.c_str(), static_cast<double>(heap1 - heap0) / per, "B",
         "malloc'd bytes in use (mallinfo2) / connections / 2 stacks");
  name = key + "_open_per_s_cpu";
  result(name.c_str(), static_cast<double>(count) / cpu, "1/s",
         data > 0 ? "handshakes and exchanges per CPU second while filling" : "handshakes per CPU second while filling");
}

std::uint64_t parse_size(const char* s) {
  char* end = nullptr;
  std::uint64_t v = std::strtoull(s, &end, 10);
  if (*end == 'K') v <<= 10;
  if (*end == 'M') v <<= 20;
  if (*end == 'G') v <<= 30;
  return v;
}

}  // namespace
}  // namespace utcp::bench

int main(int argc, char** argv) {
  using namespace utcp::bench;
  std::string only;
  std::uint64_t bytes = 1ull << 30, flows = 1000, connects = 200000, idle = 1000000, idle_data = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string_view k = argv[i];
    if (k == "--only")
      only = argv[i + 1];
    else if (k == "--bytes")
      bytes = parse_size(argv[i + 1]);
    else if (k == "--flows")
      flows = parse_size(argv[i + 1]);
    else if (k == "--connects")
      connects = parse_size(argv[i + 1]);
    else if (k == "--idle")
      idle = parse_size(argv[i + 1]);
    else if (k == "--idle-data")
      idle_data = parse_size(argv[i + 1]);
    else if (k == "--tcp-options")
      g_config.timestamps = g_config.sack = std::string_view(argv[i + 1]) == "on";
    else
      die("usage: bench_e2e [--only user|sink|shared|bulk|flows|connect|connect_sink|memory] [--bytes N] [--flows N] [--connects "
          "N] "
          "[--idle N] [--idle-data N] [--tcp-options on]");
  }
  if (flows == 0 || flows > 50000) die("--flows: 1 to 50000");
  const auto want = [&](std::string_view w) { return only.empty() || only == w; };
  // The user's pattern first, on glibc's malloc as a fresh process has it (its mmap and trim
  // thresholds adapt to what was freed before); then memory, while the heap is still small.
  if (want("user")) report_figures("user_bulk", user_bulk(bytes, false));
  if (want("sink")) report_figures("user_sink", user_bulk(bytes, true));
  if (want("shared")) report_figures("user_shared", user_bulk(bytes, true, true));
  if (want("memory")) report_memory(idle, idle_data);
  if (want("bulk")) report_bulk("bulk_1flow", 1, bytes);
  if (want("flows")) report_bulk("bulk_flows", static_cast<std::size_t>(flows), bytes);
  if (want("connect")) report_connect("connect_close", connects, false);
  if (want("connect_sink")) report_connect("connect_close_sink", connects, true);
  return 0;
}
