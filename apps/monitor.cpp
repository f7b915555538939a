#include "monitor.hpp"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <utility>

#include "clock.hpp"
#include "command.hpp"
#include "host.hpp"
#include "tun_common.hpp"

namespace utcp::apps {

namespace {

constexpr auto kTick = std::chrono::milliseconds(10);

}  // namespace

std::uint64_t Monitor::retransmits() const {
  std::uint64_t n = 0;
  for (utcp_host* h : hosts_) {
    utcp_host_stats st{};
    if (utcp_host_get_stats(h, &st) == 0) n += st.tcp_retransmits;
  }
  return n;
}

void add_report_options(CLI::App& cmd, ReportOptions& o) {
  cmd.add_option("--interval", o.interval_s,
                 "seconds between interval lines on stderr (0: none; default 1 on a terminal)")
      ->check(CLI::Range(0.0, 3600.0))
      ->each([&o](const std::string&) { o.interval_given = true; });
  cmd.add_flag("--json", o.json,
               "print one JSON document at the end (setup, intervals, connections, summary) on stdout");
  cmd.add_option("--trace", o.trace,
                 "write a CSV time series of each connection's control block (a row per change)");
}

Monitor::Monitor(std::vector<utcp_host*> hosts, const ReportOptions& o)
    : hosts_(std::move(hosts)),
      options_(o),
      start_ns_(io::monotonic_ns()),
      log_(stderr, !o.json && (o.interval_given ? o.interval_s > 0 : isatty(STDERR_FILENO) == 1)) {
  if (!o.interval_given) options_.interval_s = 1;
  if (!o.trace.empty()) {
    std::string error;
    trace_ = TraceWriter::open(o.trace, error);
    if (!trace_) throw CommandError(error);
  }
  retr_at_start_ = retr_initial_ = retransmits();
  thread_ = std::thread([this] { run(); });
}

Monitor::~Monitor() {
  // A run that ends early (Ctrl-C, an error) still gets its summary when it moved anything.
  if (!finished_ && (stop_requested() || bytes() > 0)) {
    try {
      finish(stop_requested() ? "interrupted" : "ended early");
    } catch (const std::exception& e) {
      std::fprintf(stderr, "utcp: %s\n", e.what());
    }
  }
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

double Monitor::now() const {
  return static_cast<double>(io::monotonic_ns() - start_ns_) / 1e9;
}

std::shared_ptr<ConnCounters> Monitor::track(utcp_host* host, int fd, std::string name) {
  auto c = std::make_shared<ConnCounters>(host, fd, std::move(name), now());
  std::lock_guard lk(mu_);
  conns_.push_back(c);
  // The flow's first row as it opens, so that its trace has a start and (closed()) an end
  // even when the transfer is shorter than the sampling tick.
  if (trace_) {
    if (const auto ci = host::unwrap(host).conn_info(fd)) c->trace.sample(*trace_, c->opened, *ci, retransmits(), true);
  }
  return c;
}

void Monitor::closed(ConnCounters& c) {
  // Under c.mu, held by the caller.
  if (trace_) c.final_info = host::unwrap(c.host).conn_info(c.fd);
  c.open = false;
  c.closed = now();
}

std::uint64_t Monitor::bytes() const {
  std::lock_guard lk(mu_);
  std::uint64_t n = 0;
  for (const auto& c : conns_) n += c->sent.load() + c->received.load();
  return n;
}

void Monitor::sample(double t) {
  // Under mu_.
  if (!trace_) return;
  const std::uint64_t retr = retransmits();
  for (const auto& c : conns_) {
    std::lock_guard lk(c->mu);
    if (!c->open) {
      if (c->final_info) c->trace.sample(*trace_, t, *std::exchange(c->final_info, std::nullopt), retr, false);
      continue;
    }
    if (const auto ci = host::unwrap(c->host).conn_info(c->fd)) c->trace.sample(*trace_, t, *ci, retr, false);
  }
}

void Monitor::emit(double end) {
  // Under mu_. The interval's bytes, and the cwnd and RTT of its busiest connection.
  Interval i;
  i.start = interval_start_;
  i.end = end;
  std::shared_ptr<ConnCounters> busiest;
  std::uint64_t most = 0;
  for (const auto& c : conns_) {
    const std::uint64_t total = c->sent.load() + c->received.load();
    const std::uint64_t moved = total - c->at_interval_start;
    c->at_interval_start = total;
    i.bytes += moved;
    if (moved >= most && (c->open || moved > 0)) {
      most = moved;
      busiest = c;
    }
  }
  const std::uint64_t retr = retransmits();
  i.retransmits = retr - retr_at_start_;
  retr_at_start_ = retr;
  if (busiest) {
    std::lock_guard lk(busiest->mu);
    if (busiest->open) {
      if (const auto ci = host::unwrap(busiest->host).conn_info(busiest->fd)) {
        i.cwnd = ci->cwnd;
        if (ci->srtt > Duration::zero())
          i.rtt_ms = std::chrono::duration<double, std::milli>(ci->srtt).count();
      }
    }
  }
  log_.add(i);
  interval_start_ = end;
}

void Monitor::run() {
  std::unique_lock lk(mu_);
  double next = options_.interval_s;
  while (!stop_) {
    cv_.wait_for(lk, kTick);
    if (stop_) break;
    const double t = now();
    sample(t);
    if (options_.interval_s > 0 && t >= next) {
      emit(t);
      next += options_.interval_s;
      if (next < t) next = t + options_.interval_s;  // asleep for a while: no burst of empty lines
    }
  }
}

void Monitor::finish(std::string_view note) {
  {
    std::lock_guard lk(mu_);
    if (finished_) return;
    finished_ = true;
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::lock_guard lk(mu_);
  const double t = now();
  sample(t);
  if (options_.interval_s > 0 && t > interval_start_ + 1e-3) emit(t);
  std::uint64_t total = 0;
  for (const auto& c : conns_) total += c->sent.load() + c->received.load();
  log_.summary(t, total, retransmits() - retr_initial_, note);
  if (trace_) {
    if (auto e = trace_->close()) throw CommandError(*e);
  }
}

Json Monitor::document(Json start, Json end) const {
  std::lock_guard lk(mu_);
  Json doc = Json::object();
  doc.set("start", std::move(start));
  doc.set("intervals", log_.to_json());
  Json& conns = doc.set("connections", Json::array());
  std::uint64_t total = 0, retr = 0;
  double seconds = now();
  for (const auto& c : conns_) {
    Json j = Json::object();
    j.set("peer", c->name);
    j.set("bytes_sent", c->sent.load());
    j.set("bytes_received", c->received.load());
    j.set("opened", c->opened);
    j.set("closed", c->closed ? Json(*c->closed) : Json());
    conns.push(std::move(j));
    total += c->sent.load() + c->received.load();
  }
  retr = retransmits() - retr_initial_;
  if (!log_.intervals().empty()) seconds = log_.intervals().back().end;
  if (end.is_null()) end = Json::object();
  end.set("seconds", seconds);
  end.set("bytes", total);
  end.set("bits_per_second", seconds > 0 ? static_cast<double>(total) * 8 / seconds : 0.0);
  end.set("retransmits", retr);
  if (trace_) end.set("trace", options_.trace);
  doc.set("end", std::move(end));
  return doc;
}

}  // namespace utcp::apps
