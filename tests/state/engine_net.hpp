// Two stacks in one process joined by an in-memory link with virtual time, for the engine's
// own tests: handshake, transfer, close, optional seeded loss. Every segment goes through
// Segment::encode and handle_buf (checksums and all), as on a real link.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "utcp/utcp.hpp"

namespace utcp::engine_test {

using namespace std::chrono_literals;

inline Instant t0() {
  return Instant{} + std::chrono::hours(1);
}

// A deterministic pattern so both ends can check content without storing it twice.
inline std::string pattern(std::size_t n, std::uint32_t seed) {
  std::string s(n, '\0');
  std::uint32_t x = seed * 2654435761u + 1;
  for (auto& c : s) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    c = static_cast<char>(x);
  }
  return s;
}

struct Peer {
  Peer(State<int> st, IpAddr addr) : s(std::move(st)), ip(addr) {}
  State<int> s;
  IpAddr ip;
  std::optional<Flow> flow;
  std::string to_send;
  std::size_t sent = 0;
  std::string received;
  bool eof = false;
  bool write_shut = false;
  bool closed = false;
  bool close_when_done = true;
  std::vector<Event<int>> events;
  std::vector<TimerDrop<int>> drops;
};

class Net {
 public:
  Net(Config ca = {}, Config cb = {})
      : a(empty<int>([n = 0]() mutable { return n++; }, "a", ca), IpAddr::v4(10, 0, 0, 1)),
        b(empty<int>([n = 1000]() mutable { return n++; }, "b", cb), IpAddr::v4(10, 0, 0, 2)) {}

  Peer a, b;
  Instant now = t0();
  Duration latency = 1ms;
  double loss = 0;  // probability a packet is lost
  std::uint64_t rng = 0x9e3779b97f4a7c15ull;
  std::uint64_t delivered = 0, lost = 0;
  std::uint64_t data_segments = 0;

  struct Packet {
    Instant at;
    bool to_b;
    IpAddr src, dst;
    std::vector<std::byte> bytes;
  };
  std::deque<Packet> wire;

  bool coin() {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return static_cast<double>(rng >> 11) / 9007199254740992.0 < loss;
  }

  void put(bool from_a, std::vector<Output>&& outs) {
    for (auto& o : outs) {
      if (!o.segment.payload.empty()) ++data_segments;
      if (loss > 0 && coin()) {
        ++lost;
        continue;
      }
      wire.push_back(Packet{now + latency, from_a, o.src, o.dst, o.segment.encode(o.src, o.dst)});
    }
  }

  // b listens on `port`, a connects.
  void connect(std::uint16_t port = 80) {
    b.s = start_listen(std::move(b.s), port);
    auto r = utcp::connect(std::move(a.s), now, a.ip, b.ip, port);
    ASSERT_TRUE(r.has_value());
    a.s = std::move(r->state);
    a.flow = r->flow;
    put(true, {r->syn});
  }

  void deliver(Packet& p) {
    Peer& to = p.to_b ? b : a;
    auto r = handle_buf(std::move(to.s), now, p.src, p.dst, p.bytes);
    to.s = std::move(r.state);
    ++delivered;
    if (r.event) {
      if (auto* e = std::get_if<Established<int>>(&*r.event); e && !to.flow) to.flow = e->flow;
      to.events.push_back(*r.event);
    }
    put(!p.to_b, std::move(r.out));
  }

  void app(Peer& p, bool from_a) {
    if (!p.flow) return;
    auto i = info(p.s, *p.flow);
    if (!i) return;
    if (i->state == TcpState::syn_sent || i->state == TcpState::syn_received) return;
    if (!p.eof) {
      auto r = recv(std::move(p.s), now, *p.flow);
      if (r) {
        p.s = std::move(r->state);
        for (auto& d : r->data) d.append_to(p.received);
        put(from_a, std::move(r->out));
      } else if (r.error().kind == Error::Kind::eof) {
        p.eof = true;
      }
    }
    while (p.sent < p.to_send.size() && !p.closed) {
      auto r = send(std::move(p.s), now, *p.flow, std::string_view(p.to_send).substr(p.sent, 64 * 1024));
      if (!r) break;
      p.s = std::move(r->state);
      put(from_a, std::move(r->out));
      if (r->enqueued == 0) break;
      p.sent += r->enqueued;
    }
    if (p.close_when_done && !p.write_shut && p.sent == p.to_send.size()) {
      auto r = shutdown(std::move(p.s), now, *p.flow, Direction::write);
      if (r) {
        p.s = std::move(r->state);
        put(from_a, std::move(r->out));
      }
      p.write_shut = true;
    }
    if (p.close_when_done && !p.closed && p.write_shut && p.eof) {
      auto r = close(std::move(p.s), now, *p.flow);
      if (r) {
        p.s = std::move(r->state);
        put(from_a, std::move(r->out));
      }
      p.closed = true;
    }
  }

  std::optional<Instant> next_event() const {
    std::optional<Instant> t;
    auto take = [&](std::optional<Instant> x) {
      if (x && (!t || *x < *t)) t = x;
    };
    if (!wire.empty()) take(wire.front().at);
    take(next_deadline(a.s));
    take(next_deadline(b.s));
    return t;
  }

  void run_timers(Peer& p, bool from_a) {
    auto d = next_deadline(p.s);
    if (!d || *d > now) return;
    auto r = timer(std::move(p.s), now);
    p.s = std::move(r.state);
    for (auto& x : r.drops) p.drops.push_back(x);
    put(from_a, std::move(r.out));
  }

  // One step: deliver what is due, run timers due, let the applications act. False when
  // nothing is left to happen.
  bool step() {
    app(a, true);
    app(b, false);
    auto t = next_event();
    if (!t) return false;
    if (*t > now) now = *t;
    while (!wire.empty() && wire.front().at <= now) {
      Packet p = std::move(wire.front());
      wire.pop_front();
      deliver(p);
    }
    run_timers(a, true);
    run_timers(b, false);
    return true;
  }

  // Runs until nothing is left or `until` is reached.
  void run(Instant until, std::size_t max_steps = 50'000'000) {
    for (std::size_t i = 0; i < max_steps && now <= until; ++i)
      if (!step()) break;
  }

  void run_for(Duration d) { run(now + d); }

  // Runs while `cond` is false.
  template <class F>
  bool run_until(F&& cond, Duration limit = 600s) {
    const Instant end = now + limit;
    while (!cond()) {
      if (now > end || !step()) return cond();
    }
    return true;
  }
};

}  // namespace utcp::engine_test
