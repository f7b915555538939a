// `utcp sim`: a transfer between two simulated stacks, with a summary (docs/SIMULATION.md).
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "command.hpp"
#include "options.hpp"

#ifdef UTCP_HAVE_SIM
#include "sim.hpp"
#ifdef UTCP_HAVE_IO
#include "pcap.hpp"
#endif

namespace utcp::apps {
namespace {

struct SimOptions {
  std::uint64_t bytes = 1 << 20;
  std::uint64_t bytes_back = 0;
  double loss = 0;
  std::vector<double> burst;  // p, r in percent
  double dup = 0, reorder = 0, corrupt = 0;
  double reorder_delay_ms = 5;
  double delay_ms = 10;
  double rate_mbit = 100;
  std::size_t queue = 100;
  std::uint32_t mss = 1460;
  std::uint64_t buffer = 256 * 1024;
  std::uint64_t seed = 1;
  bool ipv6 = false, no_wscale = false, nodelay = false;
  double time_limit_s = 3600;
  std::string pcap;
  bool table = false;
};

std::string mbit(double bytes_per_second) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f Mbit/s", bytes_per_second * 8 / 1e6);
  return buf;
}

std::string secs(Duration d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6f s", std::chrono::duration<double>(d).count());
  return buf;
}

std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

std::string percent_text(double p) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g%%", p);
  return buf;
}

sim::TransferSpec make_spec(const SimOptions& o) {
  sim::TransferSpec spec;
  spec.seed = o.seed;
  spec.client_bytes = o.bytes;
  spec.server_bytes = o.bytes_back;
  spec.ipv6 = o.ipv6;
  Config cfg;
  cfg.mtu = o.mss + (o.ipv6 ? 60u : 40u);
  cfg.send_buffer = static_cast<std::uint32_t>(o.buffer);
  cfg.recv_buffer = static_cast<std::uint32_t>(o.buffer);
  cfg.window_scaling = !o.no_wscale;
  cfg.nodelay = o.nodelay;
  sim::set_both(spec, cfg);
  sim::LinkConfig link;
  link.delay = std::chrono::duration_cast<Duration>(std::chrono::duration<double, std::milli>(o.delay_ms));
  link.rate_bps = static_cast<std::uint64_t>(o.rate_mbit * 1e6);
  link.queue_limit = o.queue;
  link.mtu = cfg.mtu;
  link.impair.loss = o.loss / 100;
  if (!o.burst.empty()) link.impair.burst = sim::GilbertElliott{o.burst[0] / 100, o.burst[1] / 100, 1.0, 0.0};
  link.impair.duplicate = o.dup / 100;
  link.impair.reorder = o.reorder / 100;
  link.impair.reorder_delay =
      std::chrono::duration_cast<Duration>(std::chrono::duration<double, std::milli>(o.reorder_delay_ms));
  link.impair.corrupt = o.corrupt / 100;
  sim::set_both(spec, link);
  spec.time_limit = std::chrono::duration_cast<Duration>(std::chrono::duration<double>(o.time_limit_s));
  return spec;
}

void print_side(std::ostream& os, const char* who, const Stats& s, std::uint32_t cwnd,
                std::uint32_t ssthresh) {
  os << "  " << who << ": segments sent " << s.segments_out << " (payload bytes " << s.bytes_out
     << "), received " << s.segments_in << "; retransmissions: RTO " << s.retransmits_rto << ", fast "
     << s.retransmits_fast << "; duplicate ACKs " << s.dup_acks << "; RTO events " << s.rto_events
     << "; decode drops " << s.drop(DropReason::decode) << "; final cwnd " << cwnd << " B, ssthresh "
     << ssthresh << " B\n";
}

int run_sim(const SimOptions& o) {
  if (o.table) {
    sim::TableSpec t;
    t.bytes = o.bytes;
    t.seed = o.seed;
    std::cout << sim::goodput_table(t);
    return 0;
  }
  if (o.ipv6 && o.mss + 60 < 1280) throw UsageError("--mss below 1220 is below the IPv6 minimum MTU of 1280");
  sim::TransferSpec spec = make_spec(o);

#ifdef UTCP_HAVE_IO
  std::optional<io::PcapWriter> capture;
  std::optional<std::string> capture_error;
  if (!o.pcap.empty()) {
    auto w = io::PcapWriter::open(o.pcap);
    if (!w) throw CommandError(w.error().message);
    capture.emplace(std::move(*w));
    spec.prepare = [&](sim::Network& net) {
      net.on_transmit = [&](Instant at, sim::NodeId, const Output& out, std::span<const std::byte>) {
        if (auto r = capture->write(at - Instant{}, out); !r && !capture_error)
          capture_error = r.error().message;
      };
    };
  }
#else
  if (!o.pcap.empty()) throw CommandError("--pcap needs libpcap: this utcp was built without utcp::io");
#endif

  const sim::TransferReport r = sim::run_transfer(spec);

  std::ostream& os = std::cout;
  os << "utcp sim: " << o.bytes << " B client->server, " << o.bytes_back << " B server->client over "
     << (o.ipv6 ? "IPv6" : "IPv4") << ", MSS " << o.mss << ", buffers " << sim::format_bytes(o.buffer)
     << ", window scaling " << (o.no_wscale ? "off" : "on") << ", Nagle " << (o.nodelay ? "off" : "on")
     << ", seed " << o.seed << "\n";
  os << "link (each way): " << number(o.delay_ms) << " ms, "
     << (o.rate_mbit > 0 ? number(o.rate_mbit) + " Mbit/s" : std::string("unlimited rate")) << ", queue "
     << o.queue << " packets, loss " << percent_text(o.loss);
  if (!o.burst.empty())
    os << ", burst loss p " << percent_text(o.burst[0]) << " r " << percent_text(o.burst[1]);
  os << ", duplication " << percent_text(o.dup) << ", reordering " << percent_text(o.reorder)
     << ", corruption " << percent_text(o.corrupt) << "\n";
  os << "goodput: " << mbit(r.goodput_bps()) << " (" << (r.client_received + r.server_received) << " B in "
     << secs(r.transfer_time) << " of virtual time)\n";
  os << "time: virtual " << secs(r.end_time) << " to the end (TIME-WAIT included), wall " << secs(r.wall_time)
     << "\n";
  print_side(os, "client", r.client_stats, r.client_cwnd, r.client_ssthresh);
  print_side(os, "server", r.server_stats, r.server_cwnd, r.server_ssthresh);
  os << "  link client->server: " << r.forward << "\n";
  os << "  link server->client: " << r.backward << "\n";
#ifdef UTCP_HAVE_IO
  if (capture) {
    const std::uint64_t n = capture->records();
    if (auto c = capture->close(); !c && !capture_error) capture_error = c.error().message;
    if (capture_error) throw CommandError(*capture_error);
    os << "capture: " << n << " packets in " << o.pcap << "\n";
  }
#endif
  if (!r.ok()) {
    os << "data: FAILED: " << *r.failure << "\n";
    std::cerr << "utcp sim: " << *r.failure << "\n";
    return 1;
  }
  os << "data: OK: every byte arrived once and in order, both sides closed, nothing left behind\n";
  return 0;
}

Run setup(CLI::App& cmd) {
  auto o = std::make_shared<SimOptions>();
  const CLI::Validator pct = percent();
  cmd.add_option("--bytes", o->bytes, "Bytes the client sends to the server")
      ->capture_default_str()
      ->check(CLI::Range(std::uint64_t{0}, std::uint64_t{1} << 40));
  CLI::Option* bytes_back =
      cmd.add_option("--bytes-back", o->bytes_back, "Bytes the server sends to the client")
          ->capture_default_str()
          ->check(CLI::Range(std::uint64_t{0}, std::uint64_t{1} << 40));
  // Every option that shapes the link: --table runs its own fixed path and refuses them.
  std::vector<CLI::Option*> link;
  link.push_back(cmd.add_option("--loss", o->loss, "Uniform loss, percent (2 or 2%), each way")
                     ->capture_default_str()
                     ->transform(pct));
  link.push_back(
      cmd.add_option("--burst-loss", o->burst,
                     "Gilbert-Elliott bursty loss P,R in percent: P good->bad, R bad->good, all lost in bad")
          ->expected(2)
          ->delimiter(',')
          ->transform(pct));
  link.push_back(
      cmd.add_option("--dup", o->dup, "Duplication, percent")->capture_default_str()->transform(pct));
  link.push_back(cmd.add_option("--reorder", o->reorder, "Reordering (held back by --reorder-delay), percent")
                     ->capture_default_str()
                     ->transform(pct));
  link.push_back(
      cmd.add_option("--reorder-delay", o->reorder_delay_ms, "Extra delay of a reordered packet, ms")
          ->capture_default_str()
          ->check(CLI::Range(0.0, 10'000.0)));
  link.push_back(cmd.add_option("--corrupt", o->corrupt, "Corruption (one bit flipped), percent")
                     ->capture_default_str()
                     ->transform(pct));
  link.push_back(cmd.add_option("--delay", o->delay_ms, "One-way propagation delay, ms")
                     ->capture_default_str()
                     ->check(CLI::Range(0.0, 10'000.0)));
  link.push_back(cmd.add_option("--rate", o->rate_mbit, "Link rate, Mbit/s (0: unlimited)")
                     ->capture_default_str()
                     ->check(CLI::Range(0.0, 1'000'000.0)));
  link.push_back(cmd.add_option("--queue", o->queue, "Drop-tail queue limit, packets")
                     ->capture_default_str()
                     ->check(CLI::Range(std::size_t{1}, std::size_t{1'000'000})));
  link.push_back(
      cmd.add_option("--mss", o->mss, "Maximum segment size (the MTU is MSS + 40, or + 60 on IPv6)")
          ->capture_default_str()
          ->check(CLI::Range(536u, 9000u)));
  link.push_back(cmd.add_option("--buffer", o->buffer, "Send and receive buffer of both sides, bytes")
                     ->capture_default_str()
                     ->check(CLI::Range(std::uint64_t{4096}, std::uint64_t{64} << 20)));
  cmd.add_option("--seed", o->seed, "Seed of the impairments and the data")->capture_default_str();
  link.push_back(
      cmd.add_option("--time-limit", o->time_limit_s, "Give up after this much virtual time, seconds")
          ->capture_default_str()
          ->check(CLI::Range(0.001, 1e6)));
  link.push_back(cmd.add_flag("--ipv6", o->ipv6, "Use IPv6 addresses"));
  link.push_back(cmd.add_flag("--no-wscale", o->no_wscale, "Do not offer window scaling"));
  link.push_back(cmd.add_flag("--nodelay", o->nodelay, "Turn Nagle's algorithm off"));
  link.push_back(
      cmd.add_option("--pcap", o->pcap, "Write every packet sent to this pcap file (virtual timestamps)"));
  link.push_back(bytes_back);
  CLI::Option* table = cmd.add_flag("--table", o->table,
                                    "Print the goodput table over loss rate x buffer size on its fixed path "
                                    "and exit (takes --bytes, --seed)");
  for (CLI::Option* opt : link) table->excludes(opt);
  return [o] { return run_sim(*o); };
}

const Registration registration{
    {"sim", "Simulate a transfer between two stacks over an impaired link, in virtual time", setup}};

}  // namespace
}  // namespace utcp::apps
#endif
