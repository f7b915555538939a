#include "sim_scenario.hpp"

#include <algorithm>
#include <chrono>
#include <memory>
#include <cstdio>
#include <numeric>
#include <sstream>

namespace utcp::sim {
namespace {

std::uint64_t decode_errors(const Stats& s) {
  return std::accumulate(s.decode_errors.begin(), s.decode_errors.end(), std::uint64_t{0});
}

// The checks that need the finished run; the first that fails.
std::optional<std::string> final_checks(const Network& net, const BulkEndpoint& client,
                                        const BulkEndpoint& server, NodeId c, NodeId s, Network::End end) {
  std::ostringstream os;
  if (net.failure()) return *net.failure();
  if (end != Network::End::quiescent) {
    os << "run did not settle: " << to_string(end)
       << " at t=" << std::chrono::duration<double>(net.elapsed()).count() << "s, " << net.in_flight()
       << " datagrams in flight";
    return os.str();
  }
  for (const BulkEndpoint* e : {&client, &server}) {
    const char* who = e == &client ? "client" : "server";
    if (!e->flow()) {
      os << who << ": never connected";
      return os.str();
    }
    if (!e->done()) {
      os << who << ": unfinished: sent " << e->sent() << ", received " << e->received()
         << (e->eof() ? ", eof" : ", no eof") << (e->closed() ? ", closed" : ", not closed");
      if (const auto ci = info(net.stack(e->node()), *e->flow())) os << ", state " << ci->state;
      return os.str();
    }
  }
  for (const NodeId n : {c, s}) {
    if (const std::size_t k = num_connections(net.stack(n)); k != 0) {
      os << net.name(n) << ": " << k << " connection(s) left at the end";
      return os.str();
    }
    if (const auto d = next_deadline(net.stack(n))) {
      os << net.name(n) << ": a timer is still armed at the end";
      return os.str();
    }
    const std::uint64_t bad = decode_errors(stats(net.stack(n)));
    if (bad != net.corrupted_arrivals(n)) {
      os << net.name(n) << ": " << net.corrupted_arrivals(n) << " corrupted datagrams arrived but " << bad
         << " were refused by decode";
      return os.str();
    }
  }
  for (const auto& [from, to] : {std::pair{c, s}, std::pair{s, c}}) {
    if (const Link* l = net.link(from, to); l && l->stats().mtu_drops != 0) {
      os << net.name(from) << ": " << l->stats().mtu_drops << " datagram(s) larger than the MTU "
         << l->config().mtu;
      return os.str();
    }
  }
  return std::nullopt;
}

// The client and the server node of a run, each stack seeded from the run's seed, joined by the
// spec's two links (TransferSpec and SharedSpec name them alike).
template <class Spec>
std::pair<NodeId, NodeId> add_client_server(Network& net, const Spec& spec, const IpAddr& client_ip,
                                            const IpAddr& server_ip) {
  Config cc = spec.client_config, sc = spec.server_config;
  cc.rng_seed = mix(spec.seed, 0xc11e47);
  sc.rng_seed = mix(spec.seed, 0x5e7e7);
  const NodeId c = net.add_node("client", {client_ip}, cc);
  const NodeId s = net.add_node("server", {server_ip}, sc);
  net.add_link(c, s, spec.forward);
  net.add_link(s, c, spec.backward);
  return {c, s};
}

}  // namespace

std::string_view to_string(Network::End end) {
  switch (end) {
    case Network::End::quiescent:
      return "quiescent";
    case Network::End::stopped:
      return "stopped";
    case Network::End::time_limit:
      return "time limit";
    case Network::End::step_limit:
      return "step limit";
    case Network::End::failed:
      return "failed";
  }
  return "?";
}

void set_both(TransferSpec& spec, const Config& config) {
  spec.client_config = config;
  spec.server_config = config;
}
void set_both(TransferSpec& spec, const LinkConfig& link) {
  spec.forward = link;
  spec.backward = link;
}

std::optional<ConnInfo> TransferView::info(NodeId node) const {
  const BulkEndpoint& app = node == client ? client_app : server_app;
  if (!app.flow()) return std::nullopt;
  return utcp::info(net.stack(node), *app.flow());
}

double TransferReport::goodput_bps() const {
  const double secs = std::chrono::duration<double>(transfer_time).count();
  if (secs <= 0) return 0;
  return static_cast<double>(client_received + server_received) / secs;
}

TransferReport run_transfer(const TransferSpec& spec) {
  const auto wall_start = std::chrono::steady_clock::now();
  Network net(
      Network::Options{.seed = spec.seed, .start = Instant{}, .check_invariants = spec.check_invariants});
  const IpAddr client_ip = spec.ipv6 ? *IpAddr::parse("fd00::1") : IpAddr::v4(10, 0, 0, 1);
  const IpAddr server_ip = spec.ipv6 ? *IpAddr::parse("fd00::2") : IpAddr::v4(10, 0, 0, 2);
  const auto [c, s] = add_client_server(net, spec, client_ip, server_ip);

  const std::uint64_t c2s = mix(spec.seed, 1), s2c = mix(spec.seed, 2);
  BulkEndpoint client(c, "client", c2s, spec.client_bytes, s2c, spec.server_bytes);
  BulkEndpoint server(s, "server", s2c, spec.server_bytes, c2s, spec.client_bytes);
  client.set_read_interval(spec.client_read_interval);
  server.set_read_interval(spec.server_read_interval);
  auto endpoint = [&](NodeId n) -> BulkEndpoint& { return n == c ? client : server; };

  net.on_event = [&](NodeId n, const Event<Notify>& ev) {
    BulkEndpoint& e = endpoint(n);
    if (const auto* est = std::get_if<Established<Notify>>(&ev)) {
      if (n == s) {
        if (server.flow()) return net.fail("server: a second connection was accepted");
        server.attach(est->flow);
      }
    } else if (const auto* drop = std::get_if<Drop<Notify>>(&ev)) {
      // A connection that is gone: expected once this side has closed and read everything
      // (LAST-ACK reaching CLOSED), a failure before.
      if (e.done()) return;
      std::ostringstream os;
      os << net.name(n) << ": connection " << drop->flow << " dropped before the application was done ("
         << stats(net.stack(n)).resets_received << " resets received)";
      return net.fail(os.str());
    }
    e.pump(net);
  };
  net.on_timer_drop = [&](NodeId n, const TimerDrop<Notify>& drop) {
    if (drop.error == TimerError::timer_2msl) return;
    std::ostringstream os;
    os << net.name(n) << ": connection " << drop.flow << " ended by the timer: " << to_string(drop.error);
    net.fail(os.str());
  };
  net.trace = spec.trace;
  if (spec.prepare) spec.prepare(net);

  net.listen(s, spec.port);
  if (auto flow = net.connect(c, client_ip, server_ip, spec.port)) {
    client.attach(*flow);
  } else {
    net.fail("connect: " + flow.error().message);
  }
  TransferReport r;
  const TransferView view{net, c, s, client, server};
  bool queues_taken = false;
  const auto after_step = [&] {
    if (!queues_taken && client.done_reading() && server.done_reading()) {
      // The step that read the last byte: the queues' means over the transfer.
      queues_taken = true;
      if (const Link* l = net.link(c, s)) r.forward_mean_queue = l->mean_queue(net.now());
      if (const Link* l = net.link(s, c)) r.backward_mean_queue = l->mean_queue(net.now());
    }
    // The control blocks after every step, so that the report has their last values.
    if (const auto ci = view.info(c)) {
      r.client_cwnd = ci->cwnd;
      r.client_ssthresh = ci->ssthresh;
    }
    if (const auto ci = view.info(s)) {
      r.server_cwnd = ci->cwnd;
      r.server_ssthresh = ci->ssthresh;
    }
    if (spec.observe) spec.observe(view);
    return false;
  };
  const Network::End end = net.run(net.now() + spec.time_limit, spec.step_limit, after_step);

  r.failure = final_checks(net, client, server, c, s, end);
  r.end = end;
  r.client_received = client.received();
  r.server_received = server.received();
  Instant last = Instant{};
  for (const auto& t : {client.last_byte_at(), server.last_byte_at()})
    if (t && *t > last) last = *t;
  r.transfer_time = last - Instant{};
  r.end_time = net.elapsed();
  r.client_stats = stats(net.stack(c));
  r.server_stats = stats(net.stack(s));
  if (const Link* l = net.link(c, s)) r.forward = l->stats();
  if (const Link* l = net.link(s, c)) r.backward = l->stats();
  r.network = net.stats();
  r.trace_hash = net.trace_hash();
  r.wall_time = std::chrono::steady_clock::now() - wall_start;
  return r;
}

std::string format_bytes(std::uint64_t bytes) {
  char buf[32];
  if (bytes >= (1u << 20) && bytes % (1u << 20) == 0)
    std::snprintf(buf, sizeof buf, "%llu MiB", static_cast<unsigned long long>(bytes >> 20));
  else if (bytes >= 1024 && bytes % 1024 == 0)
    std::snprintf(buf, sizeof buf, "%llu KiB", static_cast<unsigned long long>(bytes >> 10));
  else
    std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(bytes));
  return buf;
}

std::string goodput_table(const TableSpec& spec) {
  std::ostringstream os;
  char cell[64];
  os << "goodput in Mbit/s of virtual time: " << format_bytes(spec.bytes)
     << " one way; 10 Mbit/s, 20 ms one-way delay, 64-packet queue, MSS 1460, loss both ways; seed "
     << spec.seed;
  if (spec.sack || spec.timestamps || spec.cc)
    os << "; " << (spec.cc ? to_string(*spec.cc) : "cubic") << (spec.sack ? ", SACK" : "")
       << (spec.timestamps ? ", timestamps" : "");
  os << "\n";
  std::snprintf(cell, sizeof cell, "%-8s", "loss");
  os << cell;
  for (const std::uint32_t b : spec.buffers) {
    std::snprintf(cell, sizeof cell, " %10s", format_bytes(b).c_str());
    os << cell;
  }
  os << "\n";
  for (const double loss : spec.loss_percent) {
    char label[16];
    std::snprintf(label, sizeof label, "%g%%", loss);
    std::snprintf(cell, sizeof cell, "%-8s", label);
    os << cell;
    for (const std::uint32_t b : spec.buffers) {
      TransferSpec t;
      t.seed = spec.seed;
      t.client_bytes = spec.bytes;
      t.server_bytes = 0;
      Config cfg;
      cfg.send_buffer = b;
      cfg.recv_buffer = b;
      cfg.sack = spec.sack;
      cfg.timestamps = spec.timestamps;
      if (spec.cc) cfg.congestion_control = *spec.cc;
      set_both(t, cfg);
      LinkConfig link;
      link.delay = std::chrono::milliseconds(20);
      link.rate_bps = 10'000'000;
      link.queue_limit = 64;
      link.impair.loss = loss / 100.0;
      set_both(t, link);
      const TransferReport r = run_transfer(t);
      if (r.ok())
        std::snprintf(cell, sizeof cell, " %10.3f", r.goodput_bps() * 8 / 1e6);
      else
        std::snprintf(cell, sizeof cell, " %10s", "FAIL");
      os << cell;
    }
    os << "\n";
  }
  return os.str();
}


double SharedReport::share_ratio() const {
  if (window_bps.empty()) return 0;
  const auto [lo, hi] = std::minmax_element(window_bps.begin(), window_bps.end());
  return *hi > 0 ? *lo / *hi : 0;
}

SharedReport run_shared(const SharedSpec& spec) {
  Network net(
      Network::Options{.seed = spec.seed, .start = Instant{}, .check_invariants = spec.check_invariants});
  const IpAddr client_ip = IpAddr::v4(10, 0, 0, 1), server_ip = IpAddr::v4(10, 0, 0, 2);
  const auto [c, s] = add_client_server(net, spec, client_ip, server_ip);
  constexpr std::uint16_t port = 5001, first_src_port = 40000;

  const std::size_t n = spec.flows.size();
  std::vector<std::unique_ptr<BulkEndpoint>> senders, receivers;
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint64_t stream = mix(spec.seed, 100 + i);
    const std::string name = "flow " + std::to_string(i + 1);
    senders.push_back(std::make_unique<BulkEndpoint>(c, name + " client", stream, spec.flows[i].bytes, 0, 0));
    receivers.push_back(std::make_unique<BulkEndpoint>(s, name + " server", 0, 0, stream, spec.flows[i].bytes));
  }
  net.on_event = [&](NodeId node, const Event<Notify>& ev) {
    if (const auto* est = std::get_if<Established<Notify>>(&ev); est && node == s) {
      const std::size_t i = est->flow.remote().port - first_src_port;
      if (i >= n || receivers[i]->flow()) return net.fail("server: an unexpected connection was accepted");
      receivers[i]->attach(est->flow);
    } else if (const auto* drop = std::get_if<Drop<Notify>>(&ev)) {
      auto& side = node == c ? senders : receivers;
      for (auto& e : side)
        if (e->flow() && *e->flow() == drop->flow && !e->done())
          return net.fail(net.name(node) + ": a connection dropped before the application was done");
    }
    for (auto& e : node == c ? senders : receivers) e->pump(net);
  };
  net.on_timer_drop = [&](NodeId node, const TimerDrop<Notify>& drop) {
    if (drop.error != TimerError::timer_2msl) net.fail(net.name(node) + ": a connection ended by its timer");
  };
  net.listen(s, port);
  Instant last_start{}, first_start = Instant::max();
  for (std::size_t i = 0; i < n; ++i) {
    const Instant at = Instant{} + spec.flows[i].start;
    last_start = std::max(last_start, at);
    first_start = std::min(first_start, at);
    net.at(at, [&, i] {
      FlowOptions o;
      o.congestion_control = spec.flows[i].cc;
      auto flow = net.connect(c, client_ip, server_ip, port, static_cast<std::uint16_t>(first_src_port + i), o);
      if (!flow) return net.fail("connect: " + flow.error().message);
      senders[i]->attach(*flow);
      senders[i]->pump(net);
    });
  }

  SharedReport r;
  const Instant window_begin = last_start + spec.warmup;
  std::vector<std::uint64_t> at_begin(n, 0), at_end(n, 0);
  bool begun = false, ended = false;
  double area_begin = 0, area_end = 0;
  const auto queue_area = [&] {
    const Link* l = net.link(c, s);
    return l ? l->mean_queue(net.now()) * std::chrono::duration<double>(net.now() - first_start).count() : 0.0;
  };
  const auto after_step = [&] {
    if (!begun && net.now() >= window_begin) {
      begun = true;
      r.window_begin = net.now() - Instant{};
      area_begin = queue_area();
      for (std::size_t i = 0; i < n; ++i) at_begin[i] = receivers[i]->received();
    }
    if (begun && !ended) {
      for (std::size_t i = 0; i < n; ++i) {
        if (!receivers[i]->done_reading()) continue;
        ended = true;
        r.window_end = net.now() - Instant{};
        area_end = queue_area();
        for (std::size_t k = 0; k < n; ++k) at_end[k] = receivers[k]->received();
        break;
      }
    }
    return false;
  };
  const Network::End end = net.run(net.now() + spec.time_limit, spec.step_limit, after_step);

  std::ostringstream os;
  if (net.failure()) {
    r.failure = *net.failure();
  } else if (end != Network::End::quiescent) {
    os << "run did not settle: " << to_string(end);
    r.failure = os.str();
  } else if (!ended) {
    r.failure = "no flow finished after the shared window began (warmup too long?)";
  } else {
    for (std::size_t i = 0; i < n && !r.failure; ++i) {
      if (!senders[i]->done() || !receivers[i]->done()) {
        os << "flow " << i + 1 << ": unfinished: received " << receivers[i]->received() << " of "
           << spec.flows[i].bytes;
        r.failure = os.str();
      }
    }
    if (!r.failure && (num_connections(net.stack(c)) != 0 || num_connections(net.stack(s)) != 0))
      r.failure = "connections left at the end";
  }
  const double window = std::chrono::duration<double>(r.window_end - r.window_begin).count();
  for (std::size_t i = 0; i < n; ++i) {
    r.window_bps.push_back(window > 0 ? static_cast<double>(at_end[i] - at_begin[i]) / window : 0);
    const auto last = receivers[i]->last_byte_at();
    const double secs = last ? std::chrono::duration<double>(*last - (Instant{} + spec.flows[i].start)).count() : 0;
    r.transfer_bps.push_back(secs > 0 ? static_cast<double>(receivers[i]->received()) / secs : 0);
  }
  if (window > 0) r.forward_mean_queue = (area_end - area_begin) / window;
  if (const Link* l = net.link(c, s)) r.forward = l->stats();
  if (const Link* l = net.link(s, c)) r.backward = l->stats();
  r.client_stats = stats(net.stack(c));
  return r;
}

}  // namespace utcp::sim
