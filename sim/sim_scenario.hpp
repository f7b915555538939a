// Ready-made simulations: a bulk transfer between two stacks over a pair of links (what the
// property tests, `utcp sim` and the benchmarks run), and the goodput table.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "sim_bulk.hpp"
#include "sim_network.hpp"

namespace utcp::sim {

struct TransferSpec {
  std::uint64_t seed = 1;                // the links' impairments and the data's content
  std::uint64_t client_bytes = 1 << 20;  // client -> server
  std::uint64_t server_bytes = 0;        // server -> client
  bool ipv6 = false;
  Config client_config, server_config;  // MTU, buffers, window scaling, Nagle ...
  LinkConfig forward, backward;         // client -> server, server -> client
  // Slow readers: read only this often instead of on every wake-up (0: at once).
  Duration client_read_interval{0}, server_read_interval{0};
  std::uint16_t port = 80;
  Duration time_limit = std::chrono::hours(4);  // virtual
  std::uint64_t step_limit = 100'000'000;
  bool check_invariants = true;
  std::ostream* trace = nullptr;  // Network::trace
  // Called once the network is built, before anything runs (e.g. to attach a capture).
  std::function<void(Network&)> prepare;
  // Called after every step of the run (a timer, an application callback or one arrival), for
  // progress reports and time series; it must not change the network.
  std::function<void(const struct TransferView&)> observe;
};

// What TransferSpec::observe sees: the network and both applications, mid-run.
struct TransferView {
  const Network& net;
  NodeId client, server;
  const BulkEndpoint& client_app;
  const BulkEndpoint& server_app;
  // The connection's control block on `node`'s side, while the core has it.
  std::optional<ConnInfo> info(NodeId node) const;
};

// The settings of both directions at once, for symmetric setups.
void set_both(TransferSpec& spec, const Config& config);
void set_both(TransferSpec& spec, const LinkConfig& link);

struct TransferReport {
  // Empty when every byte arrived once and in order, both sides closed cleanly, no connection
  // or timer was left behind, and no invariant or bound broke on the way.
  std::optional<std::string> failure;
  bool ok() const { return !failure; }

  std::uint64_t client_received = 0, server_received = 0;
  Duration transfer_time{};  // connect to the last byte read, by either side (virtual)
  Duration end_time{};       // connect to the last event, TIME-WAIT included (virtual)
  Duration wall_time{};      // real time the run took (not deterministic: never compare it)
  Network::End end = Network::End::quiescent;
  Stats client_stats, server_stats;
  LinkStats forward, backward;
  // Each link's mean queue occupancy (datagrams queued or in service, time-weighted) from its
  // first datagram to the last byte read (Link::mean_queue).
  double forward_mean_queue = 0, backward_mean_queue = 0;
  NetworkStats network;
  // Each side's connection as it last was: sampled after every step while the core had it,
  // so the values at the end of the run, whenever the application last looked.
  std::uint32_t client_cwnd = 0, client_ssthresh = 0;
  std::uint32_t server_cwnd = 0, server_ssthresh = 0;
  std::uint64_t trace_hash = 0;

  // Application bytes per second of virtual time, both directions together.
  double goodput_bps() const;
};

TransferReport run_transfer(const TransferSpec& spec);

// Several bulk flows from one client to one server sharing the same pair of links (one
// bottleneck): each flow its own connection, congestion control and start time, sending
// `bytes` one way. Every byte is checked as in run_transfer. The share is measured while all
// flows run: from the last start plus `warmup` to the first flow's last byte read.
struct SharedFlow {
  CongestionControl cc = CongestionControl::cubic;
  std::uint64_t bytes = 8 << 20;
  Duration start{};  // after the beginning of the run
};
struct SharedSpec {
  std::uint64_t seed = 1;
  std::vector<SharedFlow> flows;
  Config client_config, server_config;  // the flows' congestion control overrides client_config's
  LinkConfig forward, backward;
  Duration warmup = std::chrono::seconds(2);
  Duration time_limit = std::chrono::hours(1);  // virtual
  std::uint64_t step_limit = 200'000'000;
  bool check_invariants = true;
};
struct SharedReport {
  std::optional<std::string> failure;  // as TransferReport's
  bool ok() const { return !failure; }
  // Per flow, in the order of SharedSpec::flows: application bytes per second of virtual time
  // within the shared window, and over the flow's whole transfer (its start to its last byte).
  std::vector<double> window_bps, transfer_bps;
  Duration window_begin{}, window_end{};
  LinkStats forward, backward;
  double forward_mean_queue = 0;  // over the shared window (datagrams, time-weighted)
  Stats client_stats;             // all flows together
  // The smaller of the flows' window goodputs over the larger (1: equal shares).
  double share_ratio() const;
};
SharedReport run_shared(const SharedSpec& spec);

// The goodput table: a one-way transfer of `bytes` over a 10 Mbit/s path with 20 ms one-way
// delay and a 64-packet drop-tail queue, for each uniform loss rate (rows, percent) and
// socket buffer size (columns, send and receive). Only virtual-time numbers: the text is a
// function of its arguments.
struct TableSpec {
  std::vector<double> loss_percent{0, 0.1, 1, 2, 5, 10};
  std::vector<std::uint32_t> buffers{4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20};
  std::uint64_t bytes = 1 << 20;
  std::uint64_t seed = 1;
  // Both sides: SACK (RFC 2018, with the loss recovery it enables) and timestamps (RFC 7323);
  // the congestion control. The default table is Config{}'s (none, CUBIC).
  bool sack = false, timestamps = false;
  std::optional<CongestionControl> cc;
};
std::string goodput_table(const TableSpec& spec = {});

// "12.3 KiB", "4 MiB" ...
std::string format_bytes(std::uint64_t bytes);
std::string_view to_string(Network::End end);

}  // namespace utcp::sim
