// A discrete-event network of utcp stacks in virtual time.
//
// Nodes are core State values; directed Links join them. The only events are datagram
// arrivals (kept in a queue ordered by time, then by the order they were scheduled) and each
// stack's next_deadline (asked afresh after every step, so a timer is never rounded to a
// tick). At equal times, due timers run before arrivals, in node order. Everything random
// comes from Rngs derived from the network's seed, so one seed gives one run, bit for bit;
// trace_hash() digests every datagram, timer call and event to prove it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sim_link.hpp"
#include "sim_rng.hpp"
#include "utcp/state.hpp"

namespace utcp::sim {

// The notification type of simulated stacks: a number, unique per node and connection.
// Applications in the simulator react to events by polling the flow, so the value only
// needs to be deterministic.
using Notify = std::uint64_t;
using Stack = State<Notify>;
using NodeId = std::size_t;

struct NetworkStats {
  std::uint64_t transmitted = 0;  // datagrams the stacks emitted
  std::uint64_t arrivals = 0;     // datagrams handed to handle_buf
  std::uint64_t corrupted_arrivals = 0;
  std::uint64_t no_route = 0;
  std::uint64_t filtered =
      0;  // dropped by Network::drop_if  // no node owns the destination, or no link leads there
  std::uint64_t timer_calls = 0;
  std::uint64_t events = 0;
  std::uint64_t steps = 0;
};

// What became of a datagram a stack emitted: why it never arrived (empty when it did), and
// what the link did to the copies that did.
struct Fate {
  std::string_view
      dropped;  // "lost", "lost in a burst", "queue full", "over the MTU", "filtered", "no route"
  bool duplicated = false, reordered = false, corrupted = false;
};
std::ostream& operator<<(std::ostream&, const Fate&);  // " [lost]", " [duplicated] [reordered]" ...

class Network {
 public:
  struct Options {
    std::uint64_t seed = 1;
    Instant start{};
    // After every step, the stacks touched pass check_invariants() and their flows' queues
    // stay within their buffers (see check_bounds); the first violation stops the run.
    bool check_invariants = true;
  };
  explicit Network(Options options);
  Network() : Network(Options{}) {}

  // A stack owning `addrs` (IPv4 and/or IPv6); its id is the order of creation.
  NodeId add_node(std::string name, std::vector<IpAddr> addrs, Config config = {});
  // One direction; a second call for the same pair replaces it.
  void add_link(NodeId from, NodeId to, const LinkConfig& config);
  void add_duplex(NodeId a, NodeId b, const LinkConfig& ab, const LinkConfig& ba) {
    add_link(a, b, ab);
    add_link(b, a, ba);
  }

  // ---- observers ----
  Instant now() const { return now_; }
  Duration elapsed() const { return now_ - start_; }
  std::size_t node_count() const { return nodes_.size(); }
  const Stack& stack(NodeId n) const { return nodes_.at(n).state; }
  const std::string& name(NodeId n) const { return nodes_.at(n).name; }
  const Config& node_config(NodeId n) const { return nodes_.at(n).config; }
  const Link* link(NodeId from, NodeId to) const;
  const NetworkStats& stats() const { return stats_; }
  std::uint64_t corrupted_arrivals(NodeId n) const { return nodes_.at(n).corrupted_arrivals; }
  std::size_t in_flight() const { return arrivals_.size(); }
  std::size_t callbacks_pending() const { return callbacks_.size(); }
  std::uint64_t trace_hash() const { return hash_; }
  // The first broken invariant or bound, with the node, time and flow; empty while all is well.
  const std::optional<std::string>& failure() const { return failure_; }
  // Records a failure found by an application (the first one is kept).
  void fail(std::string why);

  // ---- hooks, called after the core call that caused them has returned ----
  std::function<void(NodeId, const Event<Notify>&)> on_event;
  std::function<void(NodeId, const TimerDrop<Notify>&)> on_timer_drop;
  // Deliberate drops for targeted tests: a datagram for which this returns true never
  // reaches its link (counted in NetworkStats::filtered).
  std::function<bool(NodeId from, const Output&)> drop_if;
  // A tcpdump-like log of every datagram, its fate on the link, timer calls and events.
  std::ostream* trace = nullptr;
  // Every datagram a stack emits, before the link sees it (a capture at the sender).
  std::function<void(Instant, NodeId, const Output&, std::span<const std::byte> tcp)> on_transmit;
  // The same datagram once its link has decided its fate (a capture that marks the drops).
  std::function<void(Instant, NodeId from, const Output&, std::span<const std::byte> tcp, const Fate&)>
      on_offer;
  // Every datagram as it reaches a stack (a capture at the receiver: duplicated, reordered,
  // corrupted as the link made it), just before handle_buf.
  std::function<void(Instant, NodeId to, const IpAddr& src, const IpAddr& dst, std::span<const std::byte> tcp,
                     bool corrupted)>
      on_arrival;

  // ---- user calls on a node's stack; their segments go onto the wire at now() ----
  void listen(NodeId n, std::uint16_t port, const FlowOptions& options = {});
  Result<Flow> connect(NodeId n, const IpAddr& src, const IpAddr& dst, std::uint16_t dst_port,
                       std::optional<std::uint16_t> src_port = {}, const FlowOptions& options = {});
  Result<std::size_t> send(NodeId n, const Flow& flow, std::string_view data);
  // Everything queued; an empty vector when nothing is; Error eof at the end of the stream.
  Result<std::vector<std::string>> recv(NodeId n, const Flow& flow);
  Result<void> shutdown(NodeId n, const Flow& flow, Direction direction);
  Result<void> close(NodeId n, const Flow& flow);
  Result<void> abort(NodeId n, const Flow& flow);

  // ---- application timers ----
  // Runs `fn` at `when` (or now(), if earlier). At one instant, due stack timers run first,
  // then these in the order they were scheduled, then arrivals.
  void at(Instant when, std::function<void()> fn);

  // ---- running ----
  // The time of the next event, if any.
  std::optional<Instant> next_event() const;
  // Runs the next event (all timers due at its time, or one arrival). False when there is
  // none, or after a failure.
  bool step();
  enum class End { quiescent, stopped, time_limit, step_limit, failed };
  // Steps until nothing is left to do, `stop` says so (checked after each step), virtual
  // time would pass `limit`, or `max_steps` have run.
  End run(Instant limit, std::uint64_t max_steps = ~std::uint64_t{0}, const std::function<bool()>& stop = {});

 private:
  struct Node {
    std::string name;
    std::vector<IpAddr> addrs;
    Config config;
    Stack state;
    std::uint64_t corrupted_arrivals = 0;
  };
  struct Arrival {
    Instant at;
    std::uint64_t order;  // ties broken by scheduling order
    NodeId to;
    IpAddr src, dst;
    std::vector<std::byte> tcp;
    bool corrupted;
  };
  struct Later {
    bool operator()(const Arrival& a, const Arrival& b) const {
      return a.at != b.at ? a.at > b.at : a.order > b.order;
    }
  };

  std::optional<NodeId> owner(const IpAddr& addr) const;
  void transmit(NodeId from, std::vector<Output>&& out);
  void after_call(NodeId n, std::string_view what);
  void check(NodeId n, std::string_view what);
  void deliver(Arrival&& a);
  void run_timers(Instant at);
  void log_prefix(NodeId n);
  void hash_word(std::uint64_t w);
  void hash_bytes(std::span<const std::byte> b);
  void hash_event(NodeId n, const Event<Notify>& e);

  Options options_;
  Instant start_, now_;
  Rng rng_;
  std::vector<Node> nodes_;
  std::map<std::pair<NodeId, NodeId>, Link> links_;
  struct Callback {
    Instant at;
    std::uint64_t order;
    std::function<void()> fn;
  };
  struct CallbackLater {
    bool operator()(const Callback& a, const Callback& b) const {
      return a.at != b.at ? a.at > b.at : a.order > b.order;
    }
  };
  std::vector<Callback> callbacks_;  // a heap: the earliest at the front
  std::vector<Arrival> arrivals_;    // a heap ordered by Later: the earliest at the front
  std::uint64_t order_ = 0;
  NetworkStats stats_;
  std::uint64_t hash_ = 0xcbf29ce484222325ull;
  std::optional<std::string> failure_;
};

// The queue bounds a flow must keep (send queue within its send buffer, received and
// out-of-order bytes within its receive buffer); a description of the first one broken.
std::optional<std::string> check_bounds(const ConnInfo& info, std::uint32_t send_buffer,
                                        std::uint32_t recv_buffer);

}  // namespace utcp::sim
