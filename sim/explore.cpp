#include "explore.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

namespace utcp::sim {
namespace {

using ExpStack = State<std::uint64_t>;
constexpr std::size_t client = 0, server = 1;
constexpr std::size_t max_index = 8;  // positions in a channel a reordering may reach

std::string_view side_name(std::size_t side) { return side == client ? "client" : "server"; }

// The bytes side `side` sends: a pattern that differs by direction and offset, so a byte
// delivered twice, in the wrong place or from the wrong direction shows.
char pattern(std::size_t side, std::uint64_t offset) {
  return static_cast<char>((offset * 31 + side * 101 + 7) & 0xff);
}

// ---- the world: both stacks, both applications, both directions of the network ----

struct App {
  std::optional<Flow> flow;
  std::uint32_t sent = 0;      // bytes send() took
  std::uint32_t received = 0;  // bytes read, checked against the pattern
  std::uint16_t states_seen = 0;
  bool established = false, eof = false, closed = false, aborted = false, gone = false, reset = false;
};

struct Packet {
  Output out;
  Instant sent{};
};

struct World {
  World(ExpStack c, ExpStack s) : stack{std::move(c), std::move(s)} {}
  std::array<ExpStack, 2> stack;
  std::array<App, 2> app;
  std::array<std::vector<Packet>, 2> chan;  // 0: client -> server, 1: server -> client
  Instant now{};
  std::uint32_t losses = 0, dups = 0, reorders = 0, timers = 0;
  std::array<std::uint32_t, 2> timers_of{};  // firings per stack
};

std::uint16_t bit(TcpState s) { return static_cast<std::uint16_t>(1u << static_cast<unsigned>(s)); }
template <class... S>
std::uint16_t bits(S... s) {
  return static_cast<std::uint16_t>((bit(s) | ...));
}

// The states RFC 9293 (§3.3.2, Figure 5) lets each side pass through for the workload.
std::uint16_t allowed_states(ExploreScenario sc, std::size_t side) {
  using enum TcpState;
  const std::uint16_t open = side == client ? bits(syn_sent, established) : bits(syn_received, established);
  switch (sc) {
    case ExploreScenario::handshake:
    case ExploreScenario::transfer:
    case ExploreScenario::abort:
      return open;
    case ExploreScenario::close:
      // The client closes first (active close), the server once it has read the end of stream:
      // its FIN acknowledges the client's, so the client never sees CLOSING.
      return side == client ? static_cast<std::uint16_t>(open | bits(fin_wait_1, fin_wait_2, time_wait))
                            : static_cast<std::uint16_t>(open | bits(close_wait, last_ack));
    case ExploreScenario::simultaneous_close:
      return static_cast<std::uint16_t>(open | bits(fin_wait_1, fin_wait_2, closing, time_wait, close_wait, last_ack));
  }
  return 0;
}

class Runner {
 public:
  explicit Runner(const ExploreSpec& spec) : spec_(spec) {
    const std::uint32_t mss = 536;
    for (std::size_t side : {client, server}) {
      const std::uint32_t bytes = side == client ? spec.client_bytes : spec.server_bytes;
      // A timeout resends at most the segments of one flight: the data, the SYN and the FIN.
      per_timeout_[side] = (bytes + mss - 1) / mss + 2;
    }
  }

  World initial(std::vector<TraceEntry>* trace) const {
    const auto notify = [] { return std::uint64_t{0}; };
    World w(empty<std::uint64_t>(notify, "client", spec_.client_config),
            start_listen(empty<std::uint64_t>(notify, "server", spec_.server_config), explore_port));
    auto c = connect(std::move(w.stack[client]), w.now, explore_client_ip, explore_server_ip, explore_port,
                     std::uint16_t{40000});
    // A fresh stack always connects; anything else is a bug of the explorer's setup.
    if (!c) return w;
    w.stack[client] = std::move(c->state);
    w.app[client].flow = c->flow;
    if (trace) trace->push_back({TraceEntry::Kind::call, w.now, client, std::nullopt, "connect"});
    emit(w, client, {c->syn}, trace);
    return w;
  }

  // The choices enabled in `w`, in a fixed order.
  std::vector<Choice> choices(const World& w) const {
    std::vector<Choice> out;
    const ExploreBounds& b = spec_.bounds;
    for (std::uint8_t ch = 0; ch < 2; ++ch) {
      const auto& q = w.chan[ch];
      if (q.empty()) continue;
      out.push_back({Choice::Kind::deliver, ch, 0});
      if (w.losses < b.max_loss) out.push_back({Choice::Kind::drop, ch, 0});
      if (w.dups < b.max_dup) out.push_back({Choice::Kind::duplicate, ch, 0});
      if (w.reorders < b.max_reorder)
        for (std::size_t i = 1; i < q.size() && i < max_index; ++i)
          out.push_back({Choice::Kind::deliver, ch, static_cast<std::uint8_t>(i)});
    }
    if (w.timers < b.max_timers)
      for (std::uint8_t side = 0; side < 2; ++side)
        if (timer_enabled(w, side)) out.push_back({Choice::Kind::timer, side, 0});
    return out;
  }

  // What a well-behaved network does next: deliver the heads in order, fire a timer only when
  // nothing is in flight; nothing when neither is possible.
  std::optional<Choice> well_behaved_choice(const World& w) const {
    if (!w.chan[0].empty()) return Choice{Choice::Kind::deliver, 0, 0};
    if (!w.chan[1].empty()) return Choice{Choice::Kind::deliver, 1, 0};
    if (timer_enabled(w, client)) return Choice{Choice::Kind::timer, 0, 0};
    if (timer_enabled(w, server)) return Choice{Choice::Kind::timer, 1, 0};
    return std::nullopt;
  }

  // A stack's timer may fire when its deadline is the earliest of both (time only moves on)
  // and no segment in flight would be older than the network's max_delay by then.
  bool timer_enabled(const World& w, std::size_t side) const {
    const auto mine = next_deadline(w.stack[side]);
    if (!mine) return false;
    const auto other = next_deadline(w.stack[1 - side]);
    if (other && *other < *mine) return false;
    for (const auto& q : w.chan)
      for (const Packet& p : q)
        if (*mine > p.sent + spec_.bounds.max_delay) return false;
    return true;
  }

  // Applies `c` (enabled in `w`); the first property it breaks, as "<property>: <message>".
  std::optional<std::string> apply(World& w, const Choice& c, std::vector<TraceEntry>* trace) const {
    switch (c.kind) {
      case Choice::Kind::drop: {
        auto& q = w.chan[c.target];
        if (trace) trace->push_back({TraceEntry::Kind::drop, w.now, c.target, q.front().out, {}});
        q.erase(q.begin());
        ++w.losses;
        return std::nullopt;
      }
      case Choice::Kind::deliver:
      case Choice::Kind::duplicate: {
        auto& q = w.chan[c.target];
        const Output o = q[c.index].out;
        if (c.kind == Choice::Kind::duplicate)
          ++w.dups;  // the copy stays at the head
        else
          q.erase(q.begin() + c.index);
        if (c.index > 0) ++w.reorders;
        const std::size_t to = 1 - c.target;
        if (trace) trace->push_back({TraceEntry::Kind::deliver, w.now, static_cast<std::uint8_t>(to), o, {}});
        const std::vector<std::byte> bytes = o.segment.encode(o.src, o.dst);
        auto r = handle_buf(std::move(w.stack[to]), w.now, o.src, o.dst, bytes);
        w.stack[to] = std::move(r.state);
        emit(w, to, r.out, trace);
        if (r.event)
          if (auto f = on_event(w, to, *r.event, trace)) return f;
        return settle(w, to, trace);
      }
      case Choice::Kind::timer: {
        const std::size_t side = c.target;
        const auto at = next_deadline(w.stack[side]);
        if (at && *at > w.now) w.now = *at;
        ++w.timers;
        ++w.timers_of[side];
        if (trace) trace->push_back({TraceEntry::Kind::timer, w.now, static_cast<std::uint8_t>(side), {}, {}});
        auto r = timer(std::move(w.stack[side]), w.now);
        w.stack[side] = std::move(r.state);
        emit(w, side, r.out, trace);
        for (const auto& d : r.drops) {
          if (d.error == TimerError::timer_2msl) continue;
          std::ostringstream os;
          os << "event: " << side_name(side) << ": connection ended by the timer: " << to_string(d.error);
          return os.str();
        }
        return settle(w, side, trace);
      }
    }
    return std::nullopt;
  }

  // The workload is complete: what each scenario asks for, with nothing left in flight.
  bool complete(const World& w) const {
    if (!w.chan[0].empty() || !w.chan[1].empty()) return false;
    const App& c = w.app[client];
    const App& s = w.app[server];
    const auto conn = [&](std::size_t side) { return info(w.stack[side], *w.app[side].flow); };
    const auto data_done = [&](std::size_t side) {
      const App& a = w.app[side];
      const std::uint32_t want = side == client ? spec_.server_bytes : spec_.client_bytes;
      return a.received == want;
    };
    if (!c.flow) return false;
    if (!s.flow && spec_.scenario != ExploreScenario::abort) return false;
    switch (spec_.scenario) {
      case ExploreScenario::handshake:
      case ExploreScenario::transfer: {
        for (std::size_t side : {client, server}) {
          const auto ci = conn(side);
          if (!ci || ci->state != TcpState::established || ci->send_queued != 0 || !data_done(side)) return false;
        }
        return true;
      }
      case ExploreScenario::close:
      case ExploreScenario::simultaneous_close:
        for (std::size_t side : {client, server})
          if (!w.app[side].gone || num_connections(w.stack[side]) != 0 || next_deadline(w.stack[side]) ||
              !data_done(side) || !w.app[side].eof)
            return false;
        return true;
      case ExploreScenario::abort: {
        if (!c.gone || num_connections(w.stack[client]) != 0) return false;
        // A reset that reaches the server in SYN-RECEIVED ends the connection before the
        // server's application ever had it (RFC 9293 §3.10.7.4): nothing to read then.
        if (!s.flow) return num_connections(w.stack[server]) == 0;
        if (!data_done(server)) return false;
        if (s.gone) return num_connections(w.stack[server]) == 0;
        // The reset was lost: the server keeps a half-open connection (RFC 9293 §3.5.2), which
        // is allowed as long as it has nothing left to send and no timer to find out with.
        const auto ci = conn(server);
        return ci && ci->state == TcpState::established && ci->send_queued == 0 && !next_deadline(w.stack[server]);
      }
    }
    return false;
  }

  // The final states RFC 9293 allows for the workload, checked once it is complete.
  std::optional<std::string> final_check(const World& w) const {
    using enum TcpState;
    const auto passed = [&](std::size_t side, TcpState s) { return (w.app[side].states_seen & bit(s)) != 0; };
    switch (spec_.scenario) {
      case ExploreScenario::close:
        if (!passed(client, time_wait)) return "state: the active closer (client) ended without TIME-WAIT";
        if (!passed(server, last_ack)) return "state: the passive closer (server) ended without LAST-ACK";
        return std::nullopt;
      case ExploreScenario::simultaneous_close:
        if (!passed(client, time_wait) && !passed(server, time_wait))
          return "state: a simultaneous close ended with neither side in TIME-WAIT";
        return std::nullopt;
      default:
        return std::nullopt;
    }
  }

  const ExploreSpec& spec() const { return spec_; }

 private:
  void emit(World& w, std::size_t side, const std::vector<Output>& out, std::vector<TraceEntry>* trace) const {
    for (const Output& o : out) {
      if (trace) trace->push_back({TraceEntry::Kind::send, w.now, static_cast<std::uint8_t>(side), o, {}});
      w.chan[side].push_back({o, w.now});
    }
  }

  std::optional<std::string> on_event(World& w, std::size_t side, const Event<std::uint64_t>& ev,
                                      std::vector<TraceEntry>* trace) const {
    App& a = w.app[side];
    if (const auto* est = std::get_if<Established<std::uint64_t>>(&ev)) {
      if (side == server) {
        if (a.flow && *a.flow != est->flow) return "event: server: a second connection was accepted";
        a.flow = est->flow;
        if (trace) trace->push_back({TraceEntry::Kind::call, w.now, server, std::nullopt, "accept"});
      }
    } else if (const auto* drop = std::get_if<Drop<std::uint64_t>>(&ev)) {
      a.gone = true;
      // Gone is expected once this side has closed and read everything (LAST-ACK reaching
      // CLOSED), and for the server of the abort scenario (the client's reset).
      const bool expected = (a.closed && a.eof) || (spec_.scenario == ExploreScenario::abort && side == server);
      if (expected) {
        a.reset = spec_.scenario == ExploreScenario::abort;
        return std::nullopt;
      }
      std::ostringstream os;
      os << "event: " << side_name(side) << ": connection " << drop->flow << " dropped before the application was done";
      return os.str();
    }
    return std::nullopt;
  }

  // After a step of `side`: its application runs, then the checks.
  std::optional<std::string> settle(World& w, std::size_t side, std::vector<TraceEntry>* trace) const {
    if (auto f = pump(w, side, trace)) return f;
    return check(w, side);
  }

  // The application of `side`: deterministic, as eager as the workload allows.
  std::optional<std::string> pump(World& w, std::size_t side, std::vector<TraceEntry>* trace) const {
    App& a = w.app[side];
    if (!a.flow || a.gone || a.aborted) return std::nullopt;
    auto ci = info(w.stack[side], *a.flow);
    if (!ci) {
      a.gone = true;
      return std::nullopt;
    }
    a.states_seen |= bit(ci->state);
    if (ci->state >= TcpState::established) a.established = true;
    if (!a.established) return std::nullopt;
    const auto call = [&](std::string what) {
      if (trace) trace->push_back({TraceEntry::Kind::call, w.now, static_cast<std::uint8_t>(side), {}, std::move(what)});
    };
    const std::uint32_t total = side == client ? spec_.client_bytes : spec_.server_bytes;
    if (a.sent < total && !a.closed) {
      std::string chunk;
      for (std::uint32_t i = a.sent; i < total; ++i) chunk.push_back(pattern(side, i));
      auto r = send(std::move(w.stack[side]), w.now, *a.flow, std::string_view(chunk));
      if (!r) return "event: " + std::string(side_name(side)) + ": send: " + r.error().message;
      w.stack[side] = std::move(r->state);
      a.sent += static_cast<std::uint32_t>(r->enqueued);
      call("send " + std::to_string(r->enqueued));
      emit(w, side, r->out, trace);
    }
    // Read until nothing is left: the end of stream may be right behind the data.
    for (bool more = true; more && !a.eof;) {
      more = false;
      auto r = recv(std::move(w.stack[side]), w.now, *a.flow);
      if (!r) {
        if (r.error().kind != Error::Kind::eof)
          return "event: " + std::string(side_name(side)) + ": recv: " + r.error().message;
        a.eof = true;
        call("read eof");
        const std::uint32_t want = side == client ? spec_.server_bytes : spec_.client_bytes;
        if (a.received < want) {
          std::ostringstream os;
          os << "data: " << side_name(side) << ": end of stream after " << a.received << " of " << want << " bytes";
          return os.str();
        }
      } else {
        w.stack[side] = std::move(r->state);
        std::size_t n = 0;
        for (const Payload& p : r->data) {
          for (std::size_t i = 0; i < p.size(); ++i, ++a.received)
            if (static_cast<char>(p.at(i)) != pattern(1 - side, a.received)) {
              std::ostringstream os;
              os << "data: " << side_name(side) << ": byte " << a.received << " read out of order or corrupted";
              return os.str();
            }
          n += p.size();
        }
        const std::uint32_t want = side == client ? spec_.server_bytes : spec_.client_bytes;
        if (a.received > want) {
          std::ostringstream os;
          os << "data: " << side_name(side) << ": read " << a.received << " bytes, the peer sent " << want;
          return os.str();
        }
        if (n) call("read " + std::to_string(n));
        emit(w, side, r->out, trace);
        more = n > 0;
      }
    }
    // Close or abort when the workload says so.
    bool close_now = false, abort_now = false;
    switch (spec_.scenario) {
      case ExploreScenario::close:
        close_now = side == client ? a.sent == total : a.sent == total && a.eof;
        break;
      case ExploreScenario::simultaneous_close:
        close_now = a.sent == total;
        break;
      case ExploreScenario::abort:
        // Once its bytes are acknowledged, so the server reads them before the reset.
        if (side == client && a.sent == total) {
          const auto now_ci = info(w.stack[side], *a.flow);
          abort_now = now_ci && now_ci->send_queued == 0;
        }
        break;
      default:
        break;
    }
    if (close_now && !a.closed) {
      // RFC 9293 §3.10.4 CLOSE: no more to send, but the user may go on receiving; utcp's
      // close() is close(2) (reading is over), its shutdown(write) is the RFC's CLOSE. An
      // application that still has the peer's end of stream to read shuts down its side.
      auto r = a.eof ? close(std::move(w.stack[side]), w.now, *a.flow)
                     : shutdown(std::move(w.stack[side]), w.now, *a.flow, Direction::write);
      if (!r) return "event: " + std::string(side_name(side)) + ": close: " + r.error().message;
      w.stack[side] = std::move(r->state);
      a.closed = true;
      call(a.eof ? "close" : "shutdown");
      emit(w, side, r->out, trace);
    }
    if (abort_now) {
      auto r = utcp::abort(std::move(w.stack[side]), w.now, *a.flow);
      if (!r) return "event: " + std::string(side_name(side)) + ": abort: " + r.error().message;
      w.stack[side] = std::move(r->state);
      a.aborted = a.gone = true;
      call("abort");
      emit(w, side, r->out, trace);
    }
    if (const auto now_ci = info(w.stack[side], *a.flow)) a.states_seen |= bit(now_ci->state);
    return std::nullopt;
  }

  std::optional<std::string> check(const World& w, std::size_t side) const {
    const ExpStack& s = w.stack[side];
    if (auto bad = check_invariants(s)) return "invariant: " + std::string(side_name(side)) + ": " + *bad;
    const App& a = w.app[side];
    const std::uint16_t stray = static_cast<std::uint16_t>(a.states_seen & ~allowed_states(spec_.scenario, side));
    if (stray) {
      for (unsigned i = 0; i < static_cast<unsigned>(TcpState::count_); ++i)
        if (stray & (1u << i)) {
          std::ostringstream os;
          os << "state: " << side_name(side) << " reached " << static_cast<TcpState>(i) << ", which the "
             << to_string(spec_.scenario) << " workload never allows";
          return os.str();
        }
    }
    const Stats& st = stats(s);
    const std::uint64_t resent = st.retransmits_rto + st.retransmits_fast;
    const std::uint64_t allowed =
        std::uint64_t{w.timers_of[side]} * per_timeout_[side] + w.losses + w.dups + w.reorders;
    if (resent > allowed) {
      std::ostringstream os;
      os << "retransmissions: " << side_name(side) << " resent " << resent << " segments after " << w.timers_of[side]
         << " timer firings and " << (w.losses + w.dups + w.reorders) << " network faults (at most " << allowed << ")";
      return os.str();
    }
    return std::nullopt;
  }

  const ExploreSpec& spec_;
  std::array<std::uint32_t, 2> per_timeout_{};
};

// ---- fingerprints ----

struct Hasher {
  std::uint64_t h = 0xcbf29ce484222325ull;
  void add(std::uint64_t v) {
    h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    h *= 0x100000001b3ull;
  }
  void add_bytes(std::span<const std::byte> b) {
    for (std::byte x : b) {
      h ^= static_cast<std::uint8_t>(x);
      h *= 0x100000001b3ull;
    }
    add(b.size());
  }
};

std::uint64_t ticks(Instant t) { return static_cast<std::uint64_t>(t.time_since_epoch().count()); }
std::uint64_t ticks(Duration d) { return static_cast<std::uint64_t>(d.count()); }

// Both stacks as the API shows them (every flow's ConnInfo, the deadlines, the listener),
// both applications and the segments in flight. Budgets used and depth are not part of it:
// the visited set compares them separately.
std::uint64_t fingerprint(const World& w) {
  Hasher h;
  h.add(ticks(w.now));
  for (std::size_t side : {client, server}) {
    const ExpStack& s = w.stack[side];
    h.add(num_connections(s));
    h.add(listening(s, explore_port));
    const auto d = next_deadline(s);
    h.add(d ? ticks(*d) : ~0ull);
    auto fs = flows(s);
    std::sort(fs.begin(), fs.end());
    for (const Flow& f : fs) {
      h.add(f.hash());
      const auto ci = info(s, f);
      if (!ci) continue;
      for (std::uint64_t v : std::initializer_list<std::uint64_t>{
               std::uint64_t(ci->state), std::uint64_t(ci->iss.value()), std::uint64_t(ci->irs.value()),
            std::uint64_t(ci->snd_una.value()), std::uint64_t(ci->snd_nxt.value()), std::uint64_t(ci->snd_max.value()),
            std::uint64_t(ci->snd_wnd), std::uint64_t(ci->rcv_nxt.value()), std::uint64_t(ci->rcv_wnd),
            std::uint64_t(ci->snd_wscale), std::uint64_t(ci->rcv_wscale), std::uint64_t(ci->mss),
            std::uint64_t(ci->cwnd), std::uint64_t(ci->ssthresh), ticks(ci->srtt), ticks(ci->rttvar), ticks(ci->rto),
            std::uint64_t(ci->retransmits), std::uint64_t(ci->send_queued), std::uint64_t(ci->send_space),
            std::uint64_t(ci->recv_queued), std::uint64_t(ci->ooo_bytes), std::uint64_t(ci->ooo_ranges),
            std::uint64_t(ci->fin_received), std::uint64_t(ci->read_shut), std::uint64_t(ci->write_shut),
            ci->deadline ? ticks(*ci->deadline) : ~std::uint64_t{0}})
        h.add(v);
    }
    const App& a = w.app[side];
    h.add(a.flow ? a.flow->hash() : 0);
    h.add(a.sent);
    h.add(a.received);
    h.add(a.states_seen);
    h.add(std::uint64_t(a.established) | std::uint64_t(a.eof) << 1 | std::uint64_t(a.closed) << 2 |
          std::uint64_t(a.aborted) << 3 | std::uint64_t(a.gone) << 4 | std::uint64_t(a.reset) << 5);
  }
  for (const auto& q : w.chan) {
    h.add(q.size());
    for (const Packet& p : q) {
      h.add(ticks(p.sent));
      h.add_bytes(p.out.segment.encode(p.out.src, p.out.dst));
    }
  }
  return h.h;
}

// ---- partial-order reduction: sleep sets over choices named relative to the state ----

std::uint64_t label(const Choice& c) {
  if (c.kind == Choice::Kind::timer) return 0;  // never asleep: a timer moves time, dependent on everything
  const unsigned k = static_cast<unsigned>(c.kind);  // deliver 0, drop 1, duplicate 2
  return 1ull << ((k * 2 + c.target) * max_index + c.index);
}
bool free_choice(const Choice& c) { return c.kind == Choice::Kind::deliver && c.index == 0; }
// Steps on different channels touch different stacks, pop different queues and append only at
// the tails, so they commute; one of them must cost no budget, or taking one could disable the other.
bool independent(const Choice& a, const Choice& b) {
  return a.kind != Choice::Kind::timer && b.kind != Choice::Kind::timer && a.target != b.target &&
         (free_choice(a) || free_choice(b));
}

struct Visit {
  std::uint32_t losses, dups, reorders, timers, depth;
  std::uint64_t sleep;
  // This earlier visit explored everything the current one would.
  bool covers(const Visit& v) const {
    return losses <= v.losses && dups <= v.dups && reorders <= v.reorders && timers <= v.timers &&
           depth <= v.depth && (sleep & ~v.sleep) == 0;
  }
};

class Search {
 public:
  // `limit`: a violation is recorded only when its whole choice sequence (the search's and a
  // well-behaved run's) is at most this long; a longer one found by a liveness run is passed
  // over and the search goes on (looking for a shorter one).
  Search(const ExploreSpec& spec, std::uint32_t depth, std::size_t limit, ExploreReport& report)
      : runner_(spec),
        spec_(spec),
        depth_(depth),
        limit_(limit),
        report_(report),
        start_(std::chrono::steady_clock::now()) {}

  // Depth first from the initial state; stops at the first violation.
  void run() {
    World w = runner_.initial(nullptr);
    if (auto f = visit(w, 0, 0)) return;
  }

 private:
  using Found = std::optional<bool>;

  // Returns a value once a violation was recorded (the search unwinds).
  Found visit(const World& w, std::uint32_t depth, std::uint64_t sleep) {
    if (spec_.max_states && report_.explored >= spec_.max_states) {
      report_.stopped = true;
      return false;
    }
    std::uint64_t key = 0;
    if (spec_.merge_states || spec_.check_liveness) key = fingerprint(w);
    if (spec_.merge_states) {
      const Visit me{w.losses, w.dups, w.reorders, w.timers, depth, sleep};
      auto& seen = visited_[key];
      for (const Visit& v : seen)
        if (v.covers(me)) {
          ++report_.revisits;
          return std::nullopt;
        }
      std::erase_if(seen, [&](const Visit& v) { return me.covers(v); });
      seen.push_back(me);
      report_.distinct = visited_.size();
    } else {
      ++report_.distinct;
    }
    report_.max_depth = std::max(report_.max_depth, depth);
    if (runner_.complete(w)) {
      if (auto f = runner_.final_check(w)) return fail(*f, path_.size());
    } else if (spec_.check_liveness && !live_.contains(key) && !too_long_.contains(key)) {
      if (auto f = liveness(w)) return f;
    }
    if (depth >= depth_) {
      ++report_.depth_cut;
      return std::nullopt;
    }
    const std::vector<Choice> cs = runner_.choices(w);
    frontier_ += cs.size();
    std::uint64_t done = 0;  // labels of the choices explored here so far
    std::vector<Choice> explored_here;
    Found result;
    for (std::size_t i = 0; i < cs.size(); ++i) {
      const Choice& c = cs[i];
      --frontier_;
      if (spec_.partial_order && (label(c) & sleep)) {
        ++report_.sleep_pruned;
        continue;
      }
      std::uint64_t child_sleep = 0;
      if (spec_.partial_order) {
        for (unsigned b = 0; b < 64; ++b) {
          const std::uint64_t l = 1ull << b;
          if (!((sleep | done) & l)) continue;
          const Choice other = unlabel(b);
          if (independent(c, other)) child_sleep |= l;
        }
      }
      World next = w;
      path_.push_back(c);
      ++report_.explored;
      tick();
      if (auto f = runner_.apply(next, c, nullptr)) {
        result = fail(*f, path_.size());
      } else {
        result = visit(next, depth + 1, child_sleep);
      }
      path_.pop_back();
      if (result) {
        frontier_ -= cs.size() - i - 1;
        return result;
      }
      done |= label(c);
    }
    return std::nullopt;
  }

  static Choice unlabel(unsigned b) {
    const unsigned idx = b % max_index, rest = b / max_index;
    return Choice{static_cast<Choice::Kind>(rest / 2), static_cast<std::uint8_t>(rest % 2),
                  static_cast<std::uint8_t>(idx)};
  }

  // From `w`, a well-behaved network (no loss, no duplication, in order; timers fire when
  // nothing is in flight) must complete the workload within spec.liveness_steps choices.
  Found liveness(const World& start) {
    ++report_.liveness_runs;
    World w = start;
    std::vector<Choice> extra;
    std::vector<std::uint64_t> keys;
    for (std::uint32_t step = 0;; ++step) {
      const std::uint64_t key = fingerprint(w);
      if (step == 0) liveness_key_ = key;
      if (live_.contains(key) || runner_.complete(w)) {
        if (runner_.complete(w))
          if (auto f = runner_.final_check(w)) return fail_live(*f, extra);
        live_.insert(keys.begin(), keys.end());
        live_.insert(key);
        return std::nullopt;
      }
      keys.push_back(key);
      if (step >= spec_.liveness_steps) {
        std::ostringstream os;
        os << "liveness: the workload did not complete within " << spec_.liveness_steps
           << " steps of a well-behaved network";
        return fail_live(os.str(), extra);
      }
      const auto next = runner_.well_behaved_choice(w);
      if (!next) return fail_live("liveness: deadlock: nothing in flight, no timer armed, workload incomplete", extra);
      const Choice c = *next;
      extra.push_back(c);
      ++report_.liveness_steps;
      if (auto f = runner_.apply(w, c, nullptr)) return fail_live(*f, extra);
    }
  }

  Found fail_live(const std::string& what, const std::vector<Choice>& extra) {
    const std::size_t prefix = path_.size();
    if (prefix + extra.size() > limit_) {
      too_long_.insert(liveness_key_);
      return std::nullopt;
    }
    path_.insert(path_.end(), extra.begin(), extra.end());
    Found r = fail(what, prefix);
    path_.resize(prefix);
    return r;
  }

  Found fail(const std::string& what, std::size_t prefix) {
    ExploreViolation v;
    const auto colon = what.find(": ");
    v.property = what.substr(0, colon);
    v.message = colon == std::string::npos ? what : what.substr(colon + 2);
    v.choices = path_;
    v.explored_prefix = prefix;
    report_.violation = std::move(v);
    return true;
  }

  void tick() {
    if (!spec_.progress || report_.explored % spec_.progress_every != 0) return;
    ExploreProgress p;
    p.explored = report_.explored;
    p.distinct = report_.distinct;
    p.frontier = frontier_;
    p.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    spec_.progress(p);
  }

  Runner runner_;
  const ExploreSpec& spec_;
  std::uint32_t depth_;
  std::size_t limit_;
  ExploreReport& report_;
  std::chrono::steady_clock::time_point start_;
  std::unordered_map<std::uint64_t, std::vector<Visit>> visited_;
  std::unordered_set<std::uint64_t> live_;  // fingerprints from which a well-behaved run completes
  // Fingerprints whose well-behaved run fails, but in more choices than limit_ allows.
  std::unordered_set<std::uint64_t> too_long_;
  std::uint64_t liveness_key_ = 0;  // the state the current liveness run started from
  std::vector<Choice> path_;
  std::uint64_t frontier_ = 0;
};

ExploreReport search(const ExploreSpec& spec, std::uint32_t depth, std::size_t limit) {
  ExploreReport r;
  const auto t0 = std::chrono::steady_clock::now();
  Search(spec, depth, limit, r).run();
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

}  // namespace

std::string_view to_string(ExploreScenario s) {
  switch (s) {
    case ExploreScenario::handshake:
      return "handshake";
    case ExploreScenario::transfer:
      return "transfer";
    case ExploreScenario::close:
      return "close";
    case ExploreScenario::simultaneous_close:
      return "simultaneous-close";
    case ExploreScenario::abort:
      return "abort";
  }
  return "?";
}

std::optional<ExploreScenario> parse_explore_scenario(std::string_view s) {
  for (auto sc : {ExploreScenario::handshake, ExploreScenario::transfer, ExploreScenario::close,
                  ExploreScenario::simultaneous_close, ExploreScenario::abort})
    if (to_string(sc) == s) return sc;
  return std::nullopt;
}

std::string to_string(const Choice& c) {
  const char* dir = c.target == 0 ? "c>s" : "s>c";
  switch (c.kind) {
    case Choice::Kind::deliver:
      return c.index ? "deliver " + std::string(dir) + " #" + std::to_string(c.index) : "deliver " + std::string(dir);
    case Choice::Kind::drop:
      return "drop " + std::string(dir);
    case Choice::Kind::duplicate:
      return "duplicate " + std::string(dir);
    case Choice::Kind::timer:
      return "timer " + std::string(side_name(c.target));
  }
  return "?";
}

ExploreReport explore(const ExploreSpec& spec) {
  ExploreReport first = search(spec, spec.bounds.depth, SIZE_MAX);
  if (!first.violation || !spec.shorten) return first;
  // Shorter searches until none fails: the violation with the fewest choices, the search's and
  // the well-behaved run's together (a liveness run may reach a safety violation in more
  // choices than some path of the search does).
  ExploreReport best = first;
  double seconds = first.seconds;
  std::uint64_t explored = first.explored;
  for (std::size_t n = first.violation->choices.size(); n > 1;) {
    const auto depth = static_cast<std::uint32_t>(std::min<std::size_t>(spec.bounds.depth, n - 1));
    ExploreReport r = search(spec, depth, n - 1);
    seconds += r.seconds;
    explored += r.explored;
    if (!r.violation) break;
    n = r.violation->choices.size();
    best.violation = r.violation;
  }
  best.seconds = seconds;
  best.explored = explored;
  return best;
}

std::string format_trace(std::span<const TraceEntry> trace) {
  std::ostringstream os;
  for (const TraceEntry& e : trace) {
    char at[32];
    std::snprintf(at, sizeof at, "%8.3fs ", std::chrono::duration<double>(e.at - Instant{}).count());
    os << at << side_name(e.side) << ' ';
    switch (e.kind) {
      case TraceEntry::Kind::send:
        os << "sends " << e.segment->segment;
        break;
      case TraceEntry::Kind::deliver:
        os << "receives " << e.segment->segment;
        break;
      case TraceEntry::Kind::drop:
        os << "'s segment is lost: " << e.segment->segment;
        break;
      case TraceEntry::Kind::timer:
        os << "timer fires";
        break;
      case TraceEntry::Kind::call:
        os << e.call << "()";
        break;
    }
    os << '\n';
  }
  return os.str();
}

ExploreReplay replay(const ExploreSpec& spec, std::span<const Choice> choices) {
  ExploreReplay out;
  Runner runner(spec);
  World w = runner.initial(&out.trace);
  for (const Choice& c : choices) {
    const auto enabled = runner.choices(w);
    // The liveness run's choices are taken beyond the bounds (timers): accept those too.
    const bool ok = std::find(enabled.begin(), enabled.end(), c) != enabled.end() ||
                    (c.kind == Choice::Kind::timer && runner.timer_enabled(w, c.target)) ||
                    (c.kind == Choice::Kind::deliver && c.index < w.chan[c.target].size());
    if (!ok) return out;
    if (auto f = runner.apply(w, c, &out.trace)) {
      out.failure = *f;
      out.applied_all = &c == &choices.back();
      return out;
    }
  }
  out.applied_all = true;
  if (runner.complete(w)) {
    if (auto f = runner.final_check(w)) out.failure = *f;
  } else if (w.chan[0].empty() && w.chan[1].empty() && !runner.timer_enabled(w, client) &&
             !runner.timer_enabled(w, server)) {
    out.failure = "liveness: deadlock: nothing in flight, no timer armed, workload incomplete";
  }
  return out;
}

std::vector<Choice> well_behaved_run(const ExploreSpec& spec, std::span<const Choice> prefix) {
  Runner runner(spec);
  World w = runner.initial(nullptr);
  std::vector<Choice> out;
  for (const Choice& c : prefix) {
    const auto enabled = runner.choices(w);
    if (std::find(enabled.begin(), enabled.end(), c) == enabled.end()) return out;
    out.push_back(c);
    if (runner.apply(w, c, nullptr)) return out;
  }
  for (std::uint32_t step = 0; step < spec.liveness_steps && !runner.complete(w); ++step) {
    const auto c = runner.well_behaved_choice(w);
    if (!c) break;
    out.push_back(*c);
    if (runner.apply(w, *c, nullptr)) break;
  }
  return out;
}

}  // namespace utcp::sim
