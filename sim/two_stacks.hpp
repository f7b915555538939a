// Two stacks in one thread joined by an in-memory wire, in virtual time: the simulator's
// smallest network, without links, rates or queues (sim_network.hpp has those). Every segment
// goes through Segment::encode_into and handle_buf, checksum computed and verified, as on a
// real link. One harness for the engine's own tests (tests/state/engine_*), the differential
// fuzzer (fuzz/differential.cpp) and the benchmarks (bench/bench_state, bench/bench_e2e).
//
// Two ways to drive it:
// - as a pump (the benchmarks): queue() what a call emitted, deliver() everything queued for
//   one side at once, settle() until nothing is in flight; time moves only when the caller
//   moves `now`. Packets have fixed storage and the queues keep theirs, so the pump itself
//   allocates nothing per segment.
// - in time (tests, fuzzer): each packet arrives `latency` after it was sent, unless `loss`
//   (seeded) drops it or `fate` decides otherwise; step() lets the application at each end
//   act (app()), advances to the next arrival or deadline, delivers what is due and runs the
//   timers due. The applications send `to_send`, read into `received`, shut the write side
//   after the last byte and close after the end of stream.
//
// Side a is 10.0.0.1 (and any 10.x.y.z address for numbered flows), b is 10.0.0.2.
#pragma once

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "sim_rng.hpp"
#include "utcp/utcp.hpp"

namespace utcp::sim {

// n deterministic bytes (xorshift32 from `seed`), so both ends can check content without
// storing it twice.
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

inline const IpAddr kAddrA = IpAddr::v4(10, 0, 0, 1);
inline const IpAddr kAddrB = IpAddr::v4(10, 0, 0, 2);
inline constexpr std::uint16_t kPortB = 80;  // where b listens for numbered flows and connect()

// Numbered flows from a to b:80, for many connections at once: distinct (address, port)
// pairs for 2^32 flows.
inline IpAddr client_ip(std::uint64_t i) {
  const std::uint64_t host = i / 50000;
  return IpAddr::v4(10, static_cast<std::uint8_t>(1 + (host >> 16) % 200),
                    static_cast<std::uint8_t>(host >> 8), static_cast<std::uint8_t>(host));
}
inline std::uint16_t client_port(std::uint64_t i) {
  return static_cast<std::uint16_t>(10000 + i % 50000);
}
inline Flow client_flow(std::uint64_t i) {
  return Flow({client_ip(i), client_port(i)}, {kAddrB, kPortB});
}
inline Flow server_flow(std::uint64_t i) {
  return Flow({kAddrB, kPortB}, {client_ip(i), client_port(i)});
}

[[noreturn]] inline void die(std::string_view why) {
  std::fprintf(stderr, "two_stacks: %.*s\n", static_cast<int>(why.size()), why.data());
  std::abort();
}

class TwoStacks {
 public:
  using Notify = int;

  // One encoded segment on the wire. Fixed storage so a queue reuses its memory.
  struct Packet {
    Packet() {}  // user-provided: emplace_back() then leaves the 2 KiB buffer unwritten
    Instant at{};
    IpAddr src, dst;
    std::uint32_t len = 0;
    std::uint32_t payload = 0;
    std::array<std::byte, 2048> bytes;
    std::span<const std::byte> view() const { return {bytes.data(), len}; }
    std::span<std::byte> data() { return {bytes.data(), len}; }
  };

  // What becomes of a packet put on the wire (fate): dropped, or delivered at `at` (default:
  // now + latency) and, when `again` is set, a second time then.
  struct Fate {
    bool drop = false;
    std::optional<Instant> at, again;
  };

  // One end: its stack and the application on it.
  struct Side {
    Side(State<Notify> st, IpAddr addr) : s(std::move(st)), ip(addr) {}
    State<Notify> s;
    IpAddr ip;
    std::optional<Flow> flow;  // the application's connection (set by connect or Established)
    std::string to_send;
    std::size_t sent = 0;
    std::size_t chunk = 64 * 1024;  // the most one send() offers
    std::string received;
    bool eof = false, write_shut = false, closed = false;
    bool close_when_done = true;        // shutdown(write) after the last byte
    bool close_at_eof = true;           // with close_when_done: close() once the peer's FIN is read
    bool dropped = false;               // the stack dropped `flow` (a Drop event or a timer)
    std::vector<Event<Notify>> events;  // recorded by the timed delivery (step), not by deliver()
    std::vector<TimerDrop<Notify>> drops;
  };

  explicit TwoStacks(Config ca = {}, Config cb = {})
      : a(empty<Notify>([n = 0]() mutable { return n++; }, "a", ca), kAddrA),
        b(empty<Notify>([n = 1000]() mutable { return n++; }, "b", cb), kAddrB) {}

  Side a, b;
  Instant now = Instant{} + std::chrono::hours(1);
  Duration latency{};  // how long a packet takes in time mode
  double loss = 0;     // the probability a packet is lost, drawn from `rng`
  Rng rng{1};
  // When set, decides each packet's fate from the output and its encoding (which it may alter).
  std::function<Fate(const Output&, Packet&)> fate;
  // Deliver with the sink variants of handle_buf and timer (outputs into one reused vector)
  // instead of the calls that return a vector each.
  bool sink = false;
  std::vector<Output> out;  // the reused output vector of the sink variants
  // The sink variants' reused vectors of events (when the event callback takes a Notice) and of
  // the connections timer ended.
  std::vector<Notice<Notify>> notices;
  std::vector<TimerDrop<Notify>> timer_drops;
  // In flight, each in order of arrival time. In time mode a prefix may already be delivered:
  // read them through next_event(), or after settle()/deliver(), which drop it.
  std::vector<Packet> to_a, to_b;
  std::uint64_t data_segments = 0;  // segments with payload emitted
  std::uint64_t delivered = 0, lost = 0;

  // ---- the wire ----

  // Puts every output of one side on the wire to the other.
  void queue(const std::vector<Output>& outs, bool to_b_side) {
    for (const Output& o : outs) queue(o, to_b_side);
  }
  void queue(const Output& o, bool to_b_side) {
    auto& q = to_b_side ? to_b : to_a;
    const Instant at = now + latency;
    if (!o.segment.payload.empty()) ++data_segments;
    if (loss <= 0 && !fate && (q.empty() || q.back().at <= at))
      encode(q.emplace_back(), o, at);  // in place: the pump's case, no copy
    else
      queue_impaired(q, o, at);
  }

  // Delivers everything queued for b (or a), whatever its time; answers go into the other
  // queue. Calls on_event(event) for each event. Returns the number of packets delivered.
  template <class F>
  std::size_t deliver(bool for_b, F&& on_event) {
    auto& q = for_b ? to_b : to_a;
    drop_delivered(for_b);
    scratch_.swap(q);
    q.clear();
    for (const Packet& p : scratch_) handle(for_b, p, on_event);
    const std::size_t n = scratch_.size();
    scratch_.clear();
    return n;
  }
  std::size_t deliver(bool for_b) {
    return deliver(for_b, [](const auto&) {});  // with `sink`: handle_buf's Notice variant
  }
  // Delivers in both directions until nothing is in flight.
  void settle() {
    while (!to_a.empty() || !to_b.empty()) {
      deliver(true);
      deliver(false);
    }
  }

  // ---- timers ----

  // Runs both stacks' timers at `now`, due or not, queueing what they send (through `out`
  // with the sink variant).
  void run_timers() {
    for (Side* sd : {&a, &b}) {
      if (sink) {
        sd->s = timer(std::move(sd->s), now, out, timer_drops);
        queue(out, sd == &a);
        out.clear();
        timer_drops.clear();
        continue;
      }
      auto r = timer(std::move(sd->s), now);
      sd->s = std::move(r.state);
      queue(r.out, sd == &a);
    }
  }
  // Runs one side's timers if one is due, recording what it drops.
  void run_timers(Side& sd) {
    const auto d = next_deadline(sd.s);
    if (!d || *d > now) return;
    auto r = timer(std::move(sd.s), now);
    sd.s = std::move(r.state);
    for (auto& x : r.drops) {
      if (sd.flow && x.flow == *sd.flow) sd.dropped = true;
      sd.drops.push_back(x);
    }
    queue(r.out, &sd == &a);
  }
  // The earliest of the next arrival and the two stacks' deadlines.
  std::optional<Instant> next_event() const {
    std::optional<Instant> t;
    auto take = [&](std::optional<Instant> x) {
      if (x && (!t || *x < *t)) t = x;
    };
    if (head_[0] < to_a.size()) take(to_a[head_[0]].at);
    if (head_[1] < to_b.size()) take(to_b[head_[1]].at);
    take(next_deadline(a.s));
    take(next_deadline(b.s));
    return t;
  }

  // ---- opening and closing (the pump) ----

  // Opens numbered flow i from a to b:80 (b must listen: listen_b()) with a real three-way
  // handshake and returns a's view of it.
  Flow open(std::uint64_t i, const FlowOptions& opts = {}) {
    Flow flow;
    if (sink) {
      auto c = utcp::connect(std::move(a.s), now, client_ip(i), kAddrB, kPortB, client_port(i), opts, out);
      if (!c) die("connect: " + c.error().message);
      a.s = std::move(c->state);
      flow = c->flow;
      queue(out, true);
      out.clear();
    } else {
      auto c = utcp::connect(std::move(a.s), now, client_ip(i), kAddrB, kPortB, client_port(i), opts);
      if (!c) die("connect: " + c.error().message);
      a.s = std::move(c->state);
      flow = c->flow;
      queue(c->syn, true);
    }
    settle();
    return flow;
  }
  void listen_b(std::uint16_t port = kPortB) { b.s = start_listen(std::move(b.s), port); }

  // Takes the state of a successful call and queues its outputs; dies on an error.
  template <class R>
  void apply(R&& r, bool side_b, std::string_view what) {
    if (!r) die(std::string(what) + ": " + r.error().message);
    (side_b ? b : a).s = std::move(r->state);
    queue(r->out, !side_b);
  }

  // One whole connection lifetime: handshake, active close by a, passive close by b. a's end
  // stays in TIME-WAIT until a timer run 2 MSL later.
  // With `sink`, through the sink variants of connect and close.
  void connect_close(std::uint64_t i) {
    const Flow fa = open(i);
    close_side(false, fa);
    settle();
    close_side(true, server_flow(i));
    settle();
  }
  void close_side(bool side_b, const Flow& f) {
    Side& sd = side_b ? b : a;
    if (!sink) return apply(close(std::move(sd.s), now, f), side_b, "close");
    auto r = close(std::move(sd.s), now, f, out);
    if (!r) die("close: " + r.error().message);
    sd.s = std::move(*r);
    queue(out, !side_b);
    out.clear();
  }

  // ---- in time, with the applications ----

  // b listens on `port`, a connects to it (a's flow is the application's).
  void connect(std::uint16_t port = kPortB) {
    listen_b(port);
    auto r = utcp::connect(std::move(a.s), now, a.ip, b.ip, port);
    if (!r) die("connect: " + r.error().message);
    a.s = std::move(r->state);
    a.flow = r->flow;
    queue(r->syn, true);
  }

  // The application at one end, once its connection is synchronized: reads what arrived,
  // offers what is left to send, then shuts and closes as told. Returns the first call that
  // failed unexpectedly (recv at the end of stream is expected), for callers that check.
  std::optional<Error> app(Side& p) {
    if (!p.flow) return std::nullopt;
    const auto i = info(p.s, *p.flow);
    if (!i || i->state == TcpState::syn_sent || i->state == TcpState::syn_received) return std::nullopt;
    const bool to_b_side = &p == &a;
    std::optional<Error> failed;
    auto note = [&](const Error& e) {
      if (!failed) failed = e;
    };
    if (!p.eof) {
      auto r = recv(std::move(p.s), now, *p.flow);
      if (r) {
        p.s = std::move(r->state);
        for (auto& d : r->data) d.append_to(p.received);
        queue(r->out, to_b_side);
      } else if (r.error().kind == Error::Kind::eof) {
        p.eof = true;
      } else {
        note(r.error());
      }
    }
    while (p.sent < p.to_send.size() && !p.closed) {
      auto r = send(std::move(p.s), now, *p.flow, std::string_view(p.to_send).substr(p.sent, p.chunk));
      if (!r) {
        note(r.error());
        break;
      }
      p.s = std::move(r->state);
      queue(r->out, to_b_side);
      if (r->enqueued == 0) break;
      p.sent += r->enqueued;
    }
    auto take = [&](Result<Step<Notify>>&& r) {
      if (!r) return note(r.error());
      p.s = std::move(r->state);
      queue(r->out, to_b_side);
    };
    if (p.close_when_done && !p.write_shut && p.sent == p.to_send.size()) {
      take(shutdown(std::move(p.s), now, *p.flow, Direction::write));
      p.write_shut = true;
    }
    if (p.close_when_done && p.close_at_eof && !p.closed && p.write_shut && p.eof) {
      take(close(std::move(p.s), now, *p.flow));
      p.closed = true;
    }
    return failed;
  }

  // Moves the clock to `t` (never back), delivers every packet due by then in both directions,
  // recording events, and runs the timers due.
  void advance_to(Instant t) {
    if (t > now) now = t;
    deliver_due(true);
    deliver_due(false);
    run_timers(a);
    run_timers(b);
  }

  // One step: the applications act, then the clock moves to the next arrival or deadline.
  // False when nothing is left to happen.
  bool step() {
    app(a);
    app(b);
    const auto t = next_event();
    if (!t) return false;
    advance_to(*t);
    return true;
  }

  // Runs until nothing is left or `until` is reached.
  void run(Instant until, std::size_t max_steps = 50'000'000) {
    for (std::size_t i = 0; i < max_steps && now <= until; ++i)
      if (!step()) break;
  }
  void run_for(Duration d) { run(now + d); }

  // Runs while `cond` is false, at most `limit` of virtual time; returns cond().
  template <class F>
  bool run_until(F&& cond, Duration limit = std::chrono::seconds(600)) {
    const Instant end = now + limit;
    while (!cond()) {
      if (now > end || !step()) return cond();
    }
    return true;
  }

 private:
  void encode(Packet& p, const Output& o, Instant at) {
    p.at = at;
    p.src = o.src;
    p.dst = o.dst;
    p.len = static_cast<std::uint32_t>(o.segment.encode_into(p.bytes, o.src, o.dst));
    if (p.len == 0) die("segment larger than a packet buffer");
    p.payload = static_cast<std::uint32_t>(o.segment.payload.size());
  }

  // A packet that may be lost, given a fate, or arrive before one already queued.
  [[gnu::noinline]] void queue_impaired(std::vector<Packet>& q, const Output& o, Instant at) {
    if (loss > 0 && rng.chance(loss)) {
      ++lost;
      return;
    }
    Packet p;
    encode(p, o, at);
    if (fate) {
      const Fate f = fate(o, p);
      if (f.drop) {
        ++lost;
        return;
      }
      if (f.again) {
        Packet copy = p;
        copy.at = *f.again;
        insert(q, std::move(copy));
      }
      if (f.at) p.at = *f.at;
    }
    insert(q, std::move(p));
  }

  // Into q after every packet due no later (so equal times keep their order).
  void insert(std::vector<Packet>& q, Packet&& p) {
    const auto from = q.begin() + static_cast<std::ptrdiff_t>(head_[&q == &to_b]);
    const auto pos =
        std::upper_bound(from, q.end(), p.at, [](Instant t, const Packet& x) { return t < x.at; });
    q.insert(pos, std::move(p));
  }

  // Forgets the packets the timed delivery has already handed over (head_ marks them).
  void drop_delivered(bool for_b) {
    auto& q = for_b ? to_b : to_a;
    std::size_t& head = head_[for_b];
    if (head == 0) return;
    q.erase(q.begin(), q.begin() + static_cast<std::ptrdiff_t>(head));
    head = 0;
  }

  // One packet into the stack of b (or a); its answers onto the wire to the other.
  template <class F>
  void handle(bool for_b, const Packet& p, F& on_event) {
    State<Notify>& s = for_b ? b.s : a.s;
    if constexpr (std::is_invocable_v<F&, const Notice<Notify>&>) {
      if (sink) {  // events as Notices into a reused vector: nothing allocated for them
        s = handle_buf(std::move(s), now, p.src, p.dst, p.view(), out, notices);
        for (const auto& n : notices) on_event(n);
        notices.clear();
        queue(out, !for_b);
        out.clear();
        return;
      }
    }
    if (sink) {
      auto r = handle_buf(std::move(s), now, p.src, p.dst, p.view(), out);
      s = std::move(r.state);
      if (r.event) on_event(*r.event);
      queue(out, !for_b);
      out.clear();
      return;
    }
    auto r = handle_buf(std::move(s), now, p.src, p.dst, p.view());
    s = std::move(r.state);
    if (r.event) on_event(*r.event);
    queue(r.out, !for_b);
  }

  // Delivers the packets for b (or a) due by now, in order, recording events on that side.
  // The queue is walked from head_ rather than erased from the front each time: its answers
  // go to the other queue, so it does not change meanwhile.
  void deliver_due(bool for_b) {
    auto& q = for_b ? to_b : to_a;
    Side& to = for_b ? b : a;
    std::size_t& head = head_[for_b];
    auto record = [&](const Event<Notify>& ev) {
      if (const auto* e = std::get_if<Established<Notify>>(&ev); e && !to.flow) to.flow = e->flow;
      if (const auto* d = std::get_if<Drop<Notify>>(&ev); d && to.flow && d->flow == *to.flow)
        to.dropped = true;
      to.events.push_back(ev);
    };
    for (; head < q.size() && q[head].at <= now; ++head) {
      ++delivered;
      handle(for_b, q[head], record);
    }
    if (head == q.size()) {
      q.clear();
      head = 0;
    } else if (head > 64 && 2 * head > q.size()) {
      drop_delivered(for_b);
    }
  }

  std::vector<Packet> scratch_;
  std::size_t head_[2] = {0, 0};  // to_a, to_b: the first packet not yet delivered in time mode
};

}  // namespace utcp::sim
