// What connect, get and serve report while they run (report.hpp has the formats): a thread
// that wakes every 10 ms, writes --trace rows for the connections whose control block
// changed, and every --interval prints an interval line on stderr (on a terminal, or when
// --interval is given) and keeps it for --json.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "json.hpp"
#include "report.hpp"
#include "utcp/posix.h"

namespace CLI {
class App;
}

namespace utcp::apps {

struct ReportOptions {
  double interval_s = 1;
  bool interval_given = false;
  bool json = false;
  std::string trace;
};
void add_report_options(CLI::App& cmd, ReportOptions& o);

// One connection's application bytes, counted by Conn; the monitor samples its control block
// while `open` (under `mu`, which Conn also holds to close the descriptor).
struct ConnCounters {
  ConnCounters(utcp_host* host_, int fd_, std::string name_, double opened_)
      : host(host_), fd(fd_), name(std::move(name_)), trace(name), opened(opened_) {}
  utcp_host* const host;  // the shard's host the descriptor belongs to
  const int fd;
  const std::string name;
  std::atomic<std::uint64_t> sent{0}, received{0};
  std::mutex mu;
  bool open = true;
  FlowTrace trace;  // the monitor's
  double opened;
  std::optional<double> closed;
  // The descriptor's last state, read as it closes: the trace's final row for the flow, so that a
  // transfer shorter than the sampling tick still has its start and its end.
  std::optional<ConnInfo> final_info;
  std::uint64_t at_interval_start = 0;  // the monitor's
};

class Monitor {
 public:
  // `hosts`: every shard's host (retransmissions are counted over all of them).
  Monitor(std::vector<utcp_host*> hosts, const ReportOptions& o);
  ~Monitor();
  Monitor(const Monitor&) = delete;
  Monitor& operator=(const Monitor&) = delete;

  std::shared_ptr<ConnCounters> track(utcp_host* host, int fd, std::string name);
  void closed(ConnCounters& c);
  // Stops sampling, closes the last interval and prints the summary line (with `note`, e.g.
  // "interrupted"); throws CommandError when the trace could not be written.
  void finish(std::string_view note = {});
  // {"start": start, "intervals": [...], "connections": [...], "end": {...}}.
  Json document(Json start, Json end) const;
  bool json() const { return options_.json; }
  std::uint64_t bytes() const;

 private:
  void run();
  void sample(double t);
  void emit(double end);
  double now() const;

  std::uint64_t retransmits() const;

  std::vector<utcp_host*> hosts_;
  ReportOptions options_;
  std::uint64_t start_ns_;
  std::optional<TraceWriter> trace_;
  IntervalLog log_;
  mutable std::mutex mu_;  // conns_, and the state below
  std::vector<std::shared_ptr<ConnCounters>> conns_;
  double interval_start_ = 0;
  std::uint64_t retr_at_start_ = 0, retr_initial_ = 0;
  std::condition_variable cv_;
  bool stop_ = false, finished_ = false;
  std::thread thread_;
};

}  // namespace utcp::apps
