#include "sim_network.hpp"

#include <algorithm>
#include <cstdio>
#include <memory>
#include <sstream>
#include <type_traits>
#include <utility>

namespace utcp::sim {
namespace {

std::size_t ip_header_size(const IpAddr& a) {
  return a.is_v4() ? 20 : 40;
}

std::string describe(Instant start, Instant now) {
  std::ostringstream os;
  os << "t=" << std::chrono::duration_cast<std::chrono::microseconds>(now - start).count() << "us";
  return os.str();
}

}  // namespace

std::optional<std::string> check_bounds(const ConnInfo& info, std::uint32_t send_buffer,
                                        std::uint32_t recv_buffer) {
  std::ostringstream os;
  if (info.send_queued > send_buffer) {
    os << "send queue " << info.send_queued << " > send buffer " << send_buffer;
    return os.str();
  }
  if (info.recv_queued + info.ooo_bytes > recv_buffer) {
    os << "received " << info.recv_queued << " + out of order " << info.ooo_bytes << " > receive buffer "
       << recv_buffer;
    return os.str();
  }
  return std::nullopt;
}

std::ostream& operator<<(std::ostream& os, const Fate& f) {
  // The trace's words, as they always were: [lost] for either kind of loss.
  if (f.dropped == "lost" || f.dropped == "lost in a burst") os << " [lost]";
  if (f.dropped == "queue full") os << " [queue drop]";
  if (f.dropped == "over the MTU") os << " [over MTU]";
  if (f.dropped == "filtered" || f.dropped == "no route") os << " [" << f.dropped << "]";
  if (f.duplicated) os << " [duplicated]";
  if (f.reordered) os << " [reordered]";
  if (f.corrupted) os << " [corrupted]";
  return os;
}

Network::Network(Options options)
    : options_(options), start_(options.start), now_(options.start), rng_(options.seed) {}

NodeId Network::add_node(std::string name, std::vector<IpAddr> addrs, Config config) {
  const NodeId id = nodes_.size();
  // Notifies are (node, counter): unique and deterministic.
  auto counter = std::make_shared<Notify>(static_cast<Notify>(id) << 40);
  Stack state = empty<Notify>([counter] { return (*counter)++; }, name, config);
  nodes_.push_back(Node{std::move(name), std::move(addrs), config, std::move(state), 0});
  return id;
}

void Network::add_link(NodeId from, NodeId to, const LinkConfig& config) {
  // Each link draws from its own stream, fixed by the seed and the pair, so links do not
  // perturb each other's randomness.
  const std::uint64_t seed = mix(mix(options_.seed, from + 1), to + 0x1000);
  links_.insert_or_assign({from, to}, Link(config, seed));
}

const Link* Network::link(NodeId from, NodeId to) const {
  const auto it = links_.find({from, to});
  return it == links_.end() ? nullptr : &it->second;
}

void Network::fail(std::string why) {
  if (!failure_) failure_ = describe(start_, now_) + " " + std::move(why);
}

std::optional<NodeId> Network::owner(const IpAddr& addr) const {
  for (NodeId n = 0; n < nodes_.size(); ++n)
    for (const auto& a : nodes_[n].addrs)
      if (a == addr) return n;
  return std::nullopt;
}

void Network::log_prefix(NodeId n) {
  char t[32];
  std::snprintf(t, sizeof t, "%12.6f ", std::chrono::duration<double>(now_ - start_).count());
  *trace << t << nodes_[n].name << " ";
}

void Network::hash_word(std::uint64_t w) {
  for (int i = 0; i < 8; ++i) {
    hash_ ^= (w >> (8 * i)) & 0xff;
    hash_ *= 0x100000001b3ull;
  }
}

void Network::hash_bytes(std::span<const std::byte> b) {
  hash_word(b.size());
  for (const std::byte x : b) {
    hash_ ^= static_cast<std::uint8_t>(x);
    hash_ *= 0x100000001b3ull;
  }
}

void Network::hash_event(NodeId n, const Event<Notify>& e) {
  hash_word(0xe7e7);
  hash_word(n);
  hash_word(e.index());
  std::visit(
      [&](const auto& ev) {
        const Flow& f = ev.flow;
        hash_word(f.hash());
        using T = std::decay_t<decltype(ev)>;
        if constexpr (std::is_same_v<T, Signal<Notify>> || std::is_same_v<T, Drop<Notify>>) {
          for (const Notify x : ev.notifies) hash_word(x);
        }
      },
      e);
}

void Network::check(NodeId n, std::string_view what) {
  if (!options_.check_invariants || failure_) return;
  const Node& node = nodes_[n];
  if (auto broken = check_invariants(node.state)) {
    fail(node.name + " after " + std::string(what) + ": invariant: " + *broken);
    return;
  }
  for (const Flow& f : flows(node.state)) {
    const auto ci = info(node.state, f);
    if (!ci) continue;
    if (auto broken = check_bounds(*ci, node.config.send_buffer, node.config.recv_buffer)) {
      std::ostringstream os;
      os << node.name << " after " << what << ": " << f << ": " << *broken;
      fail(os.str());
      return;
    }
  }
}

void Network::transmit(NodeId from, std::vector<Output>&& out) {
  for (Output& o : out) {
    ++stats_.transmitted;
    std::vector<std::byte> tcp = o.segment.encode(o.src, o.dst);
    hash_word(0x7a7a);
    hash_word(static_cast<std::uint64_t>((now_ - start_).count()));
    hash_word(from);
    hash_bytes(tcp);
    if (on_transmit) on_transmit(now_, from, o, tcp);
    const auto report = [&](const Fate& fate) {
      if (trace) {
        log_prefix(from);
        *trace << "> " << o << fate << "\n";
      }
      if (on_offer) on_offer(now_, from, o, tcp, fate);
    };
    if (drop_if && drop_if(from, o)) {
      ++stats_.filtered;
      report(Fate{.dropped = "filtered"});
      continue;
    }
    const auto to = owner(o.dst);
    const auto it = to ? links_.find({from, *to}) : links_.end();
    if (it == links_.end()) {
      ++stats_.no_route;
      report(Fate{.dropped = "no route"});
      continue;
    }
    const LinkStats before = it->second.stats();
    const auto copies = it->second.offer(now_, ip_header_size(o.dst) + tcp.size(), tcp.size());
    const LinkStats& after = it->second.stats();
    Fate fate;
    if (after.lost != before.lost) fate.dropped = "lost";
    if (after.burst_lost != before.burst_lost) fate.dropped = "lost in a burst";
    if (after.queue_drops != before.queue_drops) fate.dropped = "queue full";
    if (after.mtu_drops != before.mtu_drops) fate.dropped = "over the MTU";
    fate.duplicated = after.duplicated != before.duplicated;
    fate.reordered = after.reordered != before.reordered;
    fate.corrupted = after.corrupted != before.corrupted;
    report(fate);
    for (std::size_t i = 0; i < copies.size(); ++i) {
      const Delivery& d = copies[i];
      Arrival a{d.at, order_++, *to, o.src, o.dst, {}, d.flip_bit.has_value()};
      a.tcp = i + 1 == copies.size() ? std::move(tcp) : tcp;
      if (d.flip_bit) a.tcp[*d.flip_bit / 8] ^= std::byte{static_cast<std::uint8_t>(1u << (*d.flip_bit % 8))};
      arrivals_.push_back(std::move(a));
      std::push_heap(arrivals_.begin(), arrivals_.end(), Later{});
    }
  }
}

void Network::after_call(NodeId n, std::string_view what) {
  if (trace) {
    log_prefix(n);
    *trace << "called " << what << "\n";
  }
  check(n, what);
}

void Network::listen(NodeId n, std::uint16_t port, const FlowOptions& options) {
  Node& node = nodes_.at(n);
  node.state = start_listen(std::move(node.state), port, options);
  after_call(n, "listen");
}

Result<Flow> Network::connect(NodeId n, const IpAddr& src, const IpAddr& dst, std::uint16_t dst_port,
                              std::optional<std::uint16_t> src_port, const FlowOptions& options) {
  Node& node = nodes_.at(n);
  auto r = utcp::connect(std::move(node.state), now_, src, dst, dst_port, src_port, options);
  if (!r) return std::unexpected(r.error());
  node.state = std::move(r->state);
  std::vector<Output> out;
  out.push_back(std::move(r->syn));
  transmit(n, std::move(out));
  after_call(n, "connect");
  return r->flow;
}

Result<std::size_t> Network::send(NodeId n, const Flow& flow, std::string_view data) {
  Node& node = nodes_.at(n);
  auto r = utcp::send(std::move(node.state), now_, flow, data);
  if (!r) return std::unexpected(r.error());
  node.state = std::move(r->state);
  transmit(n, std::move(r->out));
  after_call(n, "send");
  return r->enqueued;
}

Result<std::vector<std::string>> Network::recv(NodeId n, const Flow& flow) {
  Node& node = nodes_.at(n);
  auto r = utcp::recv(std::move(node.state), now_, flow);
  if (!r) return std::unexpected(r.error());
  node.state = std::move(r->state);
  transmit(n, std::move(r->out));
  after_call(n, "recv");
  std::vector<std::string> data;
  data.reserve(r->data.size());
  for (const Payload& p : r->data) data.push_back(p.to_string());
  return data;
}

Result<void> Network::shutdown(NodeId n, const Flow& flow, Direction direction) {
  Node& node = nodes_.at(n);
  auto r = utcp::shutdown(std::move(node.state), now_, flow, direction);
  if (!r) return std::unexpected(r.error());
  node.state = std::move(r->state);
  transmit(n, std::move(r->out));
  after_call(n, "shutdown");
  return {};
}

Result<void> Network::close(NodeId n, const Flow& flow) {
  Node& node = nodes_.at(n);
  auto r = utcp::close(std::move(node.state), now_, flow);
  if (!r) return std::unexpected(r.error());
  node.state = std::move(r->state);
  transmit(n, std::move(r->out));
  after_call(n, "close");
  return {};
}

Result<void> Network::abort(NodeId n, const Flow& flow) {
  Node& node = nodes_.at(n);
  auto r = utcp::abort(std::move(node.state), now_, flow);
  if (!r) return std::unexpected(r.error());
  node.state = std::move(r->state);
  transmit(n, std::move(r->out));
  after_call(n, "abort");
  return {};
}

void Network::at(Instant when, std::function<void()> fn) {
  callbacks_.push_back(Callback{std::max(when, now_), order_++, std::move(fn)});
  std::push_heap(callbacks_.begin(), callbacks_.end(), CallbackLater{});
}

std::optional<Instant> Network::next_event() const {
  std::optional<Instant> t;
  if (!arrivals_.empty()) t = arrivals_.front().at;
  if (!callbacks_.empty() && (!t || callbacks_.front().at < *t)) t = callbacks_.front().at;
  for (const Node& node : nodes_)
    if (const auto d = next_deadline(node.state); d && (!t || *d < *t)) t = *d;
  return t;
}

void Network::run_timers(Instant at) {
  for (NodeId n = 0; n < nodes_.size(); ++n) {
    Node& node = nodes_[n];
    const auto d = next_deadline(node.state);
    if (!d || *d > at) continue;
    ++stats_.timer_calls;
    hash_word(0x7171);
    hash_word(n);
    if (trace) {
      log_prefix(n);
      *trace << "timer\n";
    }
    auto r = timer(std::move(node.state), at);
    node.state = std::move(r.state);
    if (const auto after = next_deadline(node.state); after && *after <= at)
      fail(node.name + ": next_deadline not after the timer call that ran it");
    transmit(n, std::move(r.out));
    check(n, "timer");
    for (const auto& drop : r.drops) {
      hash_word(0xd7d7);
      hash_word(drop.flow.hash());
      hash_word(static_cast<std::uint64_t>(drop.error));
      if (trace) {
        log_prefix(n);
        *trace << "timer drop " << drop.flow << ": " << to_string(drop.error) << "\n";
      }
      if (on_timer_drop) on_timer_drop(n, drop);
    }
  }
}

void Network::deliver(Arrival&& a) {
  Node& node = nodes_[a.to];
  ++stats_.arrivals;
  if (a.corrupted) {
    ++stats_.corrupted_arrivals;
    ++node.corrupted_arrivals;
  }
  hash_word(0xa7a7);
  hash_word(a.to);
  hash_bytes(a.tcp);
  if (on_arrival) on_arrival(now_, a.to, a.src, a.dst, a.tcp, a.corrupted);
  if (trace) {
    log_prefix(a.to);
    if (auto seg = Segment::decode(a.src, a.dst, a.tcp))
      *trace << "< " << seg->first << "\n";
    else
      *trace << "< " << a.tcp.size() << " bytes refused: " << seg.error() << "\n";
  }
  auto r = handle_buf(std::move(node.state), now_, a.src, a.dst, a.tcp);
  node.state = std::move(r.state);
  transmit(a.to, std::move(r.out));
  check(a.to, "handle_buf");
  if (r.event) {
    ++stats_.events;
    hash_event(a.to, *r.event);
    if (trace) {
      log_prefix(a.to);
      static constexpr const char* kNames[] = {"established", "drop", "signal"};
      std::visit(
          [&](const auto& ev) { *trace << "event " << kNames[r.event->index()] << " " << ev.flow << "\n"; },
          *r.event);
    }
    if (on_event) on_event(a.to, *r.event);
  }
}

bool Network::step() {
  if (failure_) return false;
  const auto t = next_event();
  if (!t) return false;
  ++stats_.steps;
  now_ = *t;
  bool timers_due = false;
  for (const Node& node : nodes_)
    if (const auto d = next_deadline(node.state); d && *d <= now_) timers_due = true;
  if (timers_due) {
    run_timers(now_);
  } else if (!callbacks_.empty() && callbacks_.front().at <= now_) {
    std::pop_heap(callbacks_.begin(), callbacks_.end(), CallbackLater{});
    Callback c = std::move(callbacks_.back());
    callbacks_.pop_back();
    hash_word(0xcbcb);
    hash_word(c.order);
    c.fn();
  } else {
    std::pop_heap(arrivals_.begin(), arrivals_.end(), Later{});
    Arrival a = std::move(arrivals_.back());
    arrivals_.pop_back();
    deliver(std::move(a));
  }
  return !failure_;
}

Network::End Network::run(Instant limit, std::uint64_t max_steps, const std::function<bool()>& stop) {
  for (std::uint64_t i = 0;; ++i) {
    if (failure_) return End::failed;
    if (stop && stop()) return End::stopped;
    const auto t = next_event();
    if (!t) return End::quiescent;
    if (*t > limit) return End::time_limit;
    if (i >= max_steps) return End::step_limit;
    step();
  }
}

}  // namespace utcp::sim
