// Two utcp stacks in one thread joined by an in-memory wire, for the benchmarks: every
// segment goes through Segment::encode_into and handle_buf (checksum computed and verified),
// time is virtual. Client "a" is 10.0.0.1 (and any 10.x.y.z address for many flows), server
// "b" is 10.0.0.2 listening on port 80.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "utcp/utcp.hpp"

namespace utcp::bench {

using Notify = int;
using St = State<Notify>;

inline const IpAddr kServerIp = IpAddr::v4(10, 0, 0, 2);
inline constexpr std::uint16_t kServerPort = 80;

[[noreturn]] inline void die(std::string_view why) {
  std::fprintf(stderr, "bench: %.*s\n", static_cast<int>(why.size()), why.data());
  std::abort();
}

// One encoded segment on the wire. Fixed storage so a queue reuses its memory.
struct Packet {
  Packet() {}  // user-provided: emplace_back() then leaves the 2 KiB buffer unwritten
  IpAddr src, dst;
  std::uint32_t len = 0;
  std::uint32_t payload = 0;
  std::array<std::byte, 2048> bytes;
  std::span<const std::byte> view() const { return {bytes.data(), len}; }
};

// The client address of flow number i: distinct (address, port) pairs for 2^32 flows.
inline IpAddr client_ip(std::uint64_t i) {
  const std::uint64_t host = i / 50000;
  return IpAddr::v4(10, static_cast<std::uint8_t>(1 + (host >> 16) % 200),
                    static_cast<std::uint8_t>(host >> 8), static_cast<std::uint8_t>(host));
}
inline std::uint16_t client_port(std::uint64_t i) {
  return static_cast<std::uint16_t>(10000 + i % 50000);
}
inline Flow client_flow(std::uint64_t i) {
  return Flow({client_ip(i), client_port(i)}, {kServerIp, kServerPort});
}
inline Flow server_flow(std::uint64_t i) {
  return Flow({kServerIp, kServerPort}, {client_ip(i), client_port(i)});
}

class Pair {
 public:
  explicit Pair(Config ca = {}, Config cb = {})
      : a(empty<Notify>([] { return 0; }, "a", ca)),
        b(start_listen(empty<Notify>([] { return 0; }, "b", cb), kServerPort)) {}

  St a, b;
  Instant now = Instant{} + std::chrono::hours(1);
  // Deliver with the sink variants of handle_buf and timer (outputs into one reused vector)
  // instead of the calls that return a vector each.
  bool sink = false;
  std::vector<Output> out;          // the reused output vector of the sink variants
  std::vector<Packet> to_a, to_b;   // in flight
  std::uint64_t data_segments = 0;  // segments with payload put on the wire

  // Queues every output of one side for the other.
  void queue(std::vector<Output>& out, bool for_b) {
    auto& q = for_b ? to_b : to_a;
    for (const Output& o : out) {
      Packet& p = q.emplace_back();
      p.src = o.src;
      p.dst = o.dst;
      p.len = static_cast<std::uint32_t>(o.segment.encode_into(p.bytes, o.src, o.dst));
      if (p.len == 0) die("segment larger than a packet buffer");
      p.payload = static_cast<std::uint32_t>(o.segment.payload.size());
      if (p.payload) ++data_segments;
    }
  }

  // Delivers what is in flight to `b` (or `a`); answers go back into the other queue. Calls
  // on_event(flow, event) for each event. Returns the number of packets delivered.
  template <class F>
  std::size_t deliver(bool for_b, F&& on_event) {
    auto& q = for_b ? to_b : to_a;
    scratch_.swap(q);
    q.clear();
    St& s = for_b ? b : a;
    for (const Packet& p : scratch_) {
      if (sink) {
        auto r = handle_buf(std::move(s), now, p.src, p.dst, p.view(), out);
        s = std::move(r.state);
        if (r.event) on_event(*r.event);
        queue(out, !for_b);
        out.clear();
        continue;
      }
      auto r = handle_buf(std::move(s), now, p.src, p.dst, p.view());
      s = std::move(r.state);
      if (r.event) on_event(*r.event);
      queue(r.out, !for_b);
    }
    const std::size_t n = scratch_.size();
    scratch_.clear();
    return n;
  }
  std::size_t deliver(bool for_b) {
    return deliver(for_b, [](const Event<Notify>&) {});
  }
  // Delivers in both directions until nothing is in flight.
  void settle() {
    while (!to_a.empty() || !to_b.empty()) {
      deliver(true);
      deliver(false);
    }
  }

  // Runs both timers at `now`, queueing what they send.
  void run_timers() {
    for (bool side_b : {false, true}) {
      St& s = side_b ? b : a;
      auto r = timer(std::move(s), now);
      s = std::move(r.state);
      queue(r.out, !side_b);
    }
  }
  // The earlier of the two stacks' deadlines.
  std::optional<Instant> next() const {
    auto da = next_deadline(a), db = next_deadline(b);
    if (!da) return db;
    if (!db) return da;
    return std::min(*da, *db);
  }

  // Opens flow number i with a real three-way handshake (SYN, SYN-ACK, ACK) and returns the
  // client's view of it.
  Flow open(std::uint64_t i, const FlowOptions& opts = {}) {
    auto c = connect(std::move(a), now, client_ip(i), kServerIp, kServerPort, client_port(i), opts);
    if (!c) die("connect: " + c.error().message);
    a = std::move(c->state);
    std::vector<Output> syn{std::move(c->syn)};
    queue(syn, true);
    settle();
    return c->flow;
  }

  // Takes the state of a successful call and queues its outputs; dies on an error.
  template <class R>
  void apply(R&& r, bool side_b, std::string_view what) {
    if (!r) die(std::string(what) + ": " + r.error().message);
    (side_b ? b : a) = std::move(r->state);
    queue(r->out, !side_b);
  }

  // One whole connection lifetime: handshake, active close by the client, passive close by
  // the server. The client's end stays in TIME-WAIT until a timer run 2 MSL later.
  void connect_close(std::uint64_t i) {
    const Flow fa = open(i);
    apply(close(std::move(a), now, fa), false, "close a");
    settle();
    apply(close(std::move(b), now, server_flow(i)), true, "close b");
    settle();
  }

 private:
  std::vector<Packet> scratch_;
};

}  // namespace utcp::bench
