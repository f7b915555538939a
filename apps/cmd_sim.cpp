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

#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "json.hpp"
#include "plot.hpp"
#include "report.hpp"
#include "sim.hpp"
#include "ip_packet.hpp"
#include "pcapng.hpp"

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
  bool ipv6 = false, no_wscale = false, nodelay = false, sack = false, timestamps = false;
  std::string cc = "cubic";
  bool cc_given = false;
  double time_limit_s = 3600;
  std::string pcap;
  bool table = false;
  double interval_s = 1;
  bool interval_given = false;
  bool json = false;
  std::string trace, plot;
  std::vector<std::string> flows;  // --flows: a shared bottleneck, one flow per name
  double stagger_s = 0, warmup_s = 2;
};

// The server's port: one that Wireshark leaves as plain TCP (port 80 made it decode the
// transfer's bytes as HTTP).
constexpr std::uint16_t kSimPort = 5001;

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
  cfg.sack = o.sack;
  cfg.timestamps = o.timestamps;
  cfg.congestion_control = congestion_control_from(o.cc).value_or(cfg.congestion_control);
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

std::uint64_t retransmits(const Stats& s) {
  return s.retransmits_rto + s.retransmits_fast;
}

double seconds(Duration d) {
  return std::chrono::duration<double>(d).count();
}

Json side_json(const Stats& s, std::uint64_t received, std::uint32_t cwnd, std::uint32_t ssthresh) {
  Json j = Json::object();
  j.set("bytes_received", received);
  j.set("segments_sent", s.segments_out);
  j.set("payload_bytes_sent", s.bytes_out);
  j.set("segments_received", s.segments_in);
  j.set("retransmits_rto", s.retransmits_rto);
  j.set("retransmits_fast", s.retransmits_fast);
  j.set("duplicate_acks", s.dup_acks);
  j.set("rto_events", s.rto_events);
  j.set("decode_drops", s.drop(DropReason::decode));
  j.set("cwnd", cwnd);
  j.set("ssthresh", ssthresh);
  return j;
}

Json link_json(const sim::LinkStats& l) {
  Json j = Json::object();
  j.set("offered", l.offered);
  j.set("delivered", l.delivered);
  j.set("lost", l.lost);
  j.set("burst_lost", l.burst_lost);
  j.set("queue_drops", l.queue_drops);
  j.set("mtu_drops", l.mtu_drops);
  j.set("duplicated", l.duplicated);
  j.set("reordered", l.reordered);
  j.set("corrupted", l.corrupted);
  j.set("max_queue", l.max_queue);
  return j;
}

// --pcap: one pcapng capture per endpoint, what that side saw: each datagram it sent, when it
// sent it (with a comment when the link dropped, duplicated, delayed or corrupted it), and
// each datagram that reached it, when it arrived and as the link delivered it.
class SimCapture {
 public:
  SimCapture(const std::string& base, const std::string& client_ip, const std::string& server_ip) {
    std::string stem = base;
    for (const char* ext : {".pcapng", ".pcap"}) {
      if (stem.size() > std::strlen(ext) && stem.ends_with(ext)) {
        stem.resize(stem.size() - std::strlen(ext));
        break;
      }
    }
    const std::string names[2] = {"client", "server"};
    const std::string ips[2] = {client_ip, server_ip};
    for (int i = 0; i < 2; ++i) {
      auto w = io::PcapngWriter::open(stem + "." + names[i] + ".pcapng",
                                      std::string("utcp ") + UTCP_VERSION + " sim");
      if (!w) throw CommandError(w.error().message);
      if (auto id = w->add_interface(names[i] + " " + ips[i],
                                     "utcp sim: what the " + names[i] + " sent and received");
          !id)
        throw CommandError(id.error().message);
      writers_[i].emplace(std::move(*w));
    }
  }

  void attach(sim::Network& net, sim::NodeId client) {
    client_ = client;
    net.on_offer = [this](Instant at, sim::NodeId from, const Output& o, std::span<const std::byte> tcp,
                          const sim::Fate& fate) {
      std::string note;
      if (!fate.dropped.empty()) {
        note = "dropped by the link: " + std::string(fate.dropped);
        ++marked_;
      }
      if (fate.duplicated) note += std::string(note.empty() ? "" : "; ") + "duplicated by the link";
      if (fate.reordered) note += std::string(note.empty() ? "" : "; ") + "held back by the link (reordered)";
      if (fate.corrupted)
        note += std::string(note.empty() ? "" : "; ") + "corrupted by the link (one bit flipped)";
      write(from, at, host::frame_tcp(o.src, o.dst, tcp), io::PacketDirection::outbound, note);
    };
    net.on_arrival = [this](Instant at, sim::NodeId to, const IpAddr& src, const IpAddr& dst,
                            std::span<const std::byte> tcp, bool corrupted) {
      write(to, at, host::frame_tcp(src, dst, tcp), io::PacketDirection::inbound,
            corrupted ? "corrupted by the link: the TCP checksum fails" : "");
    };
  }

  // One line for the summary; throws the first write error.
  std::string close() {
    std::string line = "capture:";
    for (int i = 0; i < 2; ++i) {
      const std::uint64_t n = writers_[i]->records();
      if (auto c = writers_[i]->close(); !c && !error_) error_ = c.error().message;
      line += std::string(i ? "," : "") + " " + std::to_string(n) + " packets in " + writers_[i]->path();
    }
    if (error_) throw CommandError(*error_);
    return line + " (" + std::to_string(marked_) + " marked as dropped by the link)";
  }
  Json to_json() const {
    Json j = Json::object();
    j.set("client", writers_[0]->path());
    j.set("server", writers_[1]->path());
    j.set("client_packets", writers_[0]->records());
    j.set("server_packets", writers_[1]->records());
    j.set("marked_dropped", marked_);
    return j;
  }

 private:
  void write(sim::NodeId n, Instant at, const std::vector<std::byte>& datagram, io::PacketDirection d,
             const std::string& comment) {
    auto& w = *writers_[n == client_ ? 0 : 1];
    if (auto r = w.write(0, at - Instant{}, datagram, d, comment); !r && !error_) error_ = r.error().message;
  }
  std::optional<io::PcapngWriter> writers_[2];
  sim::NodeId client_ = 0;
  std::uint64_t marked_ = 0;
  std::optional<std::string> error_;
};

// The run's progress, fed after every step: interval lines and the trace.
class SimProgress {
 public:
  SimProgress(const SimOptions& o, IntervalLog& log, TraceWriter* trace)
      : o_(o),
        log_(log),
        trace_(trace),
        client_trace_("client"),
        server_trace_("server"),
        next_end_(o.interval_s) {}

  void observe(const sim::TransferView& v) {
    const double t = seconds(v.net.elapsed());
    if (trace_ != nullptr) {
      for (const auto& [node, ft] :
           {std::pair{v.client, &client_trace_}, std::pair{v.server, &server_trace_}}) {
        if (const auto ci = v.info(node))
          ft->sample(*trace_, t, *ci, retransmits(stats(v.net.stack(node))), false);
      }
    }
    if (o_.interval_s > 0 && !finished_) {
      // Each interval ends with the state before the step that crossed its end.
      while (t >= next_end_) {
        emit(next_end_);
        next_end_ += o_.interval_s;
      }
      current(v);
      if (v.client_app.done_reading() && v.server_app.done_reading()) {
        if (t > start_) emit(t);
        finished_ = true;
      }
    }
  }

  // After the run: an interval still open (a run that failed or hit its limit).
  void finish(double t) {
    if (o_.interval_s > 0 && !finished_ && t > start_) emit(t);
    finished_ = true;
  }

 private:
  void current(const sim::TransferView& v) {
    bytes_ = v.client_app.received() + v.server_app.received();
    retr_ = retransmits(stats(v.net.stack(v.client))) + retransmits(stats(v.net.stack(v.server)));
    const sim::NodeId sender = o_.bytes >= o_.bytes_back ? v.client : v.server;
    if (const auto ci = v.info(sender)) {
      cwnd_ = ci->cwnd;
      if (ci->srtt > Duration::zero()) rtt_ = std::chrono::duration<double, std::milli>(ci->srtt).count();
    }
  }
  void emit(double end) {
    log_.add(Interval{start_, end, bytes_ - bytes_at_start_, retr_ - retr_at_start_, cwnd_, rtt_});
    start_ = end;
    bytes_at_start_ = bytes_;
    retr_at_start_ = retr_;
  }

  const SimOptions& o_;
  IntervalLog& log_;
  TraceWriter* trace_;
  FlowTrace client_trace_, server_trace_;
  double next_end_, start_ = 0;
  bool finished_ = false;
  std::uint64_t bytes_ = 0, bytes_at_start_ = 0, retr_ = 0, retr_at_start_ = 0;
  std::optional<std::uint32_t> cwnd_;
  std::optional<double> rtt_;
};

// --flows: several flows from the client over the same links, each sending --bytes with its
// own congestion control, started --stagger seconds apart; their shares while all run.
int run_shared_sim(const SimOptions& o) {
  const sim::TransferSpec t = make_spec(o);
  sim::SharedSpec spec;
  spec.seed = o.seed;
  spec.client_config = t.client_config;
  spec.server_config = t.server_config;
  spec.forward = t.forward;
  spec.backward = t.backward;
  spec.time_limit = t.time_limit;
  spec.warmup = std::chrono::duration_cast<Duration>(std::chrono::duration<double>(o.warmup_s));
  for (std::size_t i = 0; i < o.flows.size(); ++i) {
    sim::SharedFlow f;
    f.cc = *congestion_control_from(o.flows[i]);
    f.bytes = o.bytes;
    f.start = std::chrono::duration_cast<Duration>(std::chrono::duration<double>(o.stagger_s * static_cast<double>(i)));
    spec.flows.push_back(f);
  }
  const sim::SharedReport r = sim::run_shared(spec);
  std::ostream& os = std::cout;
  os << "utcp sim: " << o.flows.size() << " flows of " << o.bytes << " B over one bottleneck, MSS " << o.mss
     << ", buffers " << sim::format_bytes(o.buffer) << (o.sack ? ", SACK" : "") << (o.timestamps ? ", timestamps" : "")
     << ", starts " << number(o.stagger_s) << " s apart, seed " << o.seed << "\n";
  os << "link (each way): " << number(o.delay_ms) << " ms, "
     << (o.rate_mbit > 0 ? number(o.rate_mbit) + " Mbit/s" : std::string("unlimited rate")) << ", queue " << o.queue
     << " packets, loss " << percent_text(o.loss) << "\n";
  os << "shared window: " << secs(r.window_begin) << " to " << secs(r.window_end) << " (first flow done)\n";
  for (std::size_t i = 0; i < o.flows.size(); ++i)
    os << "  flow " << i + 1 << " (" << o.flows[i] << "): " << mbit(r.window_bps[i]) << " in the window, "
       << mbit(r.transfer_bps[i]) << " over its transfer\n";
  os << "share: smallest / largest " << number(r.share_ratio()) << "\n";
  os << "  link client->server: " << r.forward << " mean_queue (window) " << r.forward_mean_queue << "\n";
  os << "  client: retransmissions: RTO " << r.client_stats.retransmits_rto << ", fast " << r.client_stats.retransmits_fast
     << "; RTO events " << r.client_stats.rto_events << "\n";
  if (!r.ok()) {
    os << "data: FAILED: " << *r.failure << "\n";
    std::cerr << "utcp sim: " << *r.failure << "\n";
    return 1;
  }
  os << "data: OK: every byte of every flow arrived once and in order, all closed\n";
  return 0;
}

int run_sim(SimOptions o) {
  if (!o.flows.empty()) return run_shared_sim(o);
  if (o.table) {
    sim::TableSpec t;
    t.bytes = o.bytes;
    t.seed = o.seed;
    t.sack = o.sack;
    t.timestamps = o.timestamps;
    if (o.cc_given) t.cc = congestion_control_from(o.cc);
    std::cout << sim::goodput_table(t);
    return 0;
  }
  if (o.ipv6 && o.mss + 60 < 1280) throw UsageError("--mss below 1220 is below the IPv6 minimum MTU of 1280");
  // Interval lines: every second on a terminal, or as --interval says; --json keeps them for
  // the document (every second by default) and prints none.
  const bool print_intervals = !o.json && (o.interval_given ? o.interval_s > 0 : isatty(STDOUT_FILENO) == 1);
  if (!o.interval_given) o.interval_s = (print_intervals || o.json) ? 1.0 : 0.0;
  sim::TransferSpec spec = make_spec(o);
  spec.port = kSimPort;

  std::string trace_path = o.trace;
  std::optional<std::string> scratch_trace;
  if (!o.plot.empty() && trace_path.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    trace_path =
        std::string(tmp && *tmp ? tmp : "/tmp") + "/utcp-sim-trace-" + std::to_string(getpid()) + ".csv";
    scratch_trace = trace_path;
  }
  std::optional<TraceWriter> trace;
  if (!trace_path.empty()) {
    std::string error;
    trace = TraceWriter::open(trace_path, error);
    if (!trace) throw CommandError(error);
  }
  struct RemoveScratch {
    std::optional<std::string>& p;
    ~RemoveScratch() {
      if (p) std::remove(p->c_str());
    }
  } remove_scratch{scratch_trace};

  std::optional<SimCapture> capture;
  if (!o.pcap.empty()) {
    capture.emplace(o.pcap, o.ipv6 ? "fd00::1" : "10.0.0.1", o.ipv6 ? "fd00::2" : "10.0.0.2");
    spec.prepare = [&](sim::Network& net) { capture->attach(net, 0); };  // the client is node 0
  }

  std::ostream& os = std::cout;
  std::ostringstream setup_line;
  setup_line << o.bytes << " B client->server, " << o.bytes_back << " B server->client over "
             << (o.ipv6 ? "IPv6" : "IPv4") << ", MSS " << o.mss << ", buffers " << sim::format_bytes(o.buffer)
             << ", window scaling " << (o.no_wscale ? "off" : "on") << ", Nagle "
             << (o.nodelay ? "off" : "on") << ", " << o.cc << ", seed " << o.seed;
  std::ostringstream link_line;
  link_line << number(o.delay_ms) << " ms, "
            << (o.rate_mbit > 0 ? number(o.rate_mbit) + " Mbit/s" : std::string("unlimited rate"))
            << ", queue " << o.queue << " packets, loss " << percent_text(o.loss);
  if (!o.burst.empty())
    link_line << ", burst loss p " << percent_text(o.burst[0]) << " r " << percent_text(o.burst[1]);
  link_line << ", duplication " << percent_text(o.dup) << ", reordering " << percent_text(o.reorder)
            << ", corruption " << percent_text(o.corrupt);
  if (!o.json) {
    os << "utcp sim: " << setup_line.str() << "\n";
    os << "link (each way): " << link_line.str() << "\n";
    os.flush();
  }

  IntervalLog log(stdout, print_intervals);
  SimProgress progress(o, log, trace ? &*trace : nullptr);
  if (trace || o.interval_s > 0) spec.observe = [&](const sim::TransferView& v) { progress.observe(v); };

  const sim::TransferReport r = sim::run_transfer(spec);
  progress.finish(seconds(r.end_time));
  const std::uint64_t moved = r.client_received + r.server_received;
  const std::uint64_t retr = retransmits(r.client_stats) + retransmits(r.server_stats);
  log.summary(seconds(r.transfer_time), moved, retr, "goodput of virtual time");

  std::optional<std::string> trace_error;
  std::uint64_t trace_rows = 0;
  if (trace) {
    trace_rows = trace->rows();
    trace_error = trace->close();
    if (trace_error) throw CommandError(*trace_error);
  }
  std::string capture_line;
  Json capture_json;
  if (capture) {
    capture_line = capture->close();
    capture_json = capture->to_json();
  }
  if (!o.plot.empty()) {
    PlotOptions p;
    p.csv = trace_path;
    p.png = o.plot;
    p.title = "utcp sim: " + setup_line.str() + "\nlink: " + link_line.str();
    if (auto e = plot_trace(p)) throw CommandError("--plot " + o.plot + ": " + *e);
  }

  if (o.json) {
    Json doc = Json::object();
    Json& start = doc.set("start", Json::object());
    start.set("command", "sim");
    start.set("version", UTCP_VERSION);
    start.set("setup", setup_line.str());
    start.set("link", link_line.str());
    Json& opts = start.set("options", Json::object());
    opts.set("bytes", o.bytes);
    opts.set("bytes_back", o.bytes_back);
    opts.set("loss_percent", o.loss);
    opts.set("duplicate_percent", o.dup);
    opts.set("reorder_percent", o.reorder);
    opts.set("corrupt_percent", o.corrupt);
    opts.set("delay_ms", o.delay_ms);
    opts.set("rate_mbit", o.rate_mbit);
    opts.set("queue", static_cast<std::uint64_t>(o.queue));
    opts.set("mss", o.mss);
    opts.set("buffer", o.buffer);
    opts.set("seed", o.seed);
    opts.set("ipv6", o.ipv6);
    doc.set("intervals", log.to_json());
    Json& end = doc.set("end", Json::object());
    end.set("ok", r.ok());
    end.set("failure", r.failure ? Json(*r.failure) : Json());
    end.set("bytes", moved);
    end.set("bits_per_second", r.goodput_bps() * 8);
    end.set("transfer_seconds", seconds(r.transfer_time));
    end.set("virtual_seconds", seconds(r.end_time));
    end.set("wall_seconds", seconds(r.wall_time));
    end.set("retransmits", retr);
    end.set("client", side_json(r.client_stats, r.client_received, r.client_cwnd, r.client_ssthresh));
    end.set("server", side_json(r.server_stats, r.server_received, r.server_cwnd, r.server_ssthresh));
    end.set("link_client_to_server", link_json(r.forward));
    end.set("link_server_to_client", link_json(r.backward));
    end.set("mean_queue_client_to_server", r.forward_mean_queue);
    end.set("mean_queue_server_to_client", r.backward_mean_queue);
    if (!capture_json.is_null()) end.set("capture", capture_json);
    if (trace && !scratch_trace) end.set("trace", o.trace);
    if (!o.plot.empty()) end.set("plot", o.plot);
    os << doc.dump(2) << "\n";
    if (!r.ok()) std::cerr << "utcp sim: " << *r.failure << "\n";
    return r.ok() ? 0 : 1;
  }

  os << "goodput: " << mbit(r.goodput_bps()) << " (" << moved << " B in " << secs(r.transfer_time)
     << " of virtual time)\n";
  os << "time: virtual " << secs(r.end_time) << " to the end (TIME-WAIT included), wall " << secs(r.wall_time)
     << "\n";
  print_side(os, "client", r.client_stats, r.client_cwnd, r.client_ssthresh);
  print_side(os, "server", r.server_stats, r.server_cwnd, r.server_ssthresh);
  os << "  link client->server: " << r.forward << " mean_queue " << r.forward_mean_queue << "\n";
  os << "  link server->client: " << r.backward << " mean_queue " << r.backward_mean_queue << "\n";
  if (!capture_line.empty()) os << capture_line << "\n";
  if (trace && !scratch_trace) os << "trace: " << trace_rows << " rows in " << o.trace << "\n";
  if (!o.plot.empty()) os << "plot: " << o.plot << "\n";
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
  cmd.add_option("--cc", o->cc, "Congestion control of both sides: cubic, reno or bbr")
                        ->capture_default_str()
                        ->check(congestion_control_name())
                        ->each([o](const std::string&) { o->cc_given = true; });
  CLI::Option* flows =
      cmd.add_option("--flows", o->flows,
                     "Several flows over one bottleneck, one congestion control each (bbr,bbr or bbr,cubic): "
                     "each sends --bytes; prints their shares while all run")
          ->delimiter(',')
          ->check(congestion_control_name());
  cmd.add_option("--stagger", o->stagger_s, "With --flows: seconds between the flows' starts")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1e4))
      ->needs(flows);
  cmd.add_option("--warmup", o->warmup_s, "With --flows: the shares are measured from this long after the last start")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1e4))
      ->needs(flows);
  cmd.add_flag("--sack", o->sack, "Both sides offer SACK (RFC 2018): SACK loss recovery, RACK-TLP, PRR");
  cmd.add_flag("--timestamps", o->timestamps, "Both sides offer timestamps (RFC 7323)");
  link.push_back(cmd.add_option("--pcap", o->pcap,
                                "Write what each side saw to BASE.client.pcapng and BASE.server.pcapng "
                                "(virtual time; the link's drops marked with comments)"));
  link.push_back(bytes_back);
  CLI::Option* table = cmd.add_flag("--table", o->table,
                                    "Print the goodput table over loss rate x buffer size on its fixed path "
                                    "and exit (takes --bytes, --seed)");
  for (CLI::Option* opt : link) table->excludes(opt);
  cmd.add_option("--interval", o->interval_s,
                 "Seconds of virtual time between interval lines (0: none; default 1 on a terminal)")
      ->check(CLI::Range(0.0, 1e6))
      ->each([o](const std::string&) { o->interval_given = true; });
  cmd.add_flag("--json", o->json, "Print one JSON document (setup, intervals, summary) instead of text");
  cmd.add_option("--trace", o->trace,
                 "Write a CSV time series of both connections' control blocks, a row per change (per ACK)");
  cmd.add_option("--plot", o->plot, "Draw the trace (sequence, throughput, cwnd, RTT) as this PNG (gnuplot)");
  for (const char* name : {"--interval", "--json", "--trace", "--plot"})
    table->excludes(cmd.get_option(name));
  table->excludes(flows);
  for (const char* name : {"--bytes-back", "--json", "--trace", "--plot", "--pcap", "--ipv6"})
    flows->excludes(cmd.get_option(name));
  return [o] { return run_sim(*o); };
}

const Registration registration{
    {"sim", "Simulate a transfer between two stacks over an impaired link, in virtual time", setup}};

}  // namespace
}  // namespace utcp::apps
