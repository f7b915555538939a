// What sim, connect, get and serve report while they run, in iperf3's habits: an interval
// line every second (transferred, rate, retransmissions, cwnd, RTT) and a summary; the same
// as one JSON document with --json; and with --trace FILE.csv a time series of each
// connection's control block, which `utcp plot` draws.
#pragma once

#include <cstdint>
#include <cstdio>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "json.hpp"
#include "utcp/state.hpp"

namespace utcp::apps {

// One connection's control block at one moment, as a trace row sees it.
struct TraceSample {
  double time = 0;        // seconds since the start of the run
  std::string_view flow;  // a name for the connection ("client", "10.77.0.2:80-10.77.0.1:5000")
  const ConnInfo& info;
  // Sequence numbers relative to the first byte after the SYN and unwrapped to 64 bits: byte
  // counts from 0 (-1 while the SYN is outstanding).
  std::int64_t snd_una = 0, snd_nxt = 0, snd_max = 0;
  std::uint64_t retransmits = 0;  // segments retransmitted so far by this side
};

// The trace's columns, in order. Adding one is one line in trace_columns (report.cpp):
// its header name and how a sample prints it. `utcp plot` finds columns by name.
struct TraceColumn {
  const char* name;
  void (*write)(std::FILE*, const TraceSample&);
};
const std::vector<TraceColumn>& trace_columns();

// Sequence numbers of one connection unwrapped to 64 bits, relative to its first data byte.
class SeqUnwrap {
 public:
  std::int64_t operator()(Seq s);
  void start(Seq isn_plus_one) { last_ = isn_plus_one; }

 private:
  std::optional<Seq> last_;
  std::int64_t offset_ = 0;
};

// One trace file: the header row at open, then a row per sample. Write errors are kept and
// reported by close().
class TraceWriter {
 public:
  // nullopt and a message in `error` when the file cannot be created.
  static std::optional<TraceWriter> open(const std::string& path, std::string& error);
  TraceWriter(TraceWriter&& other) noexcept;
  TraceWriter& operator=(TraceWriter&& other) noexcept;
  TraceWriter(const TraceWriter&) = delete;
  ~TraceWriter();
  void row(const TraceSample& s);
  std::uint64_t rows() const { return rows_; }
  const std::string& path() const { return path_; }
  // Empty when every row reached the file.
  std::optional<std::string> close();

 private:
  TraceWriter(std::string path, std::FILE* f) : path_(std::move(path)), f_(f) {}
  std::string path_;
  std::FILE* f_;
  std::uint64_t rows_ = 0;
};

// The per-connection trace state: unwraps its sequence numbers and writes a row when the
// control block changed (for sim: once per ACK or send) or, with every_call, each time.
class FlowTrace {
 public:
  explicit FlowTrace(std::string name) : name_(std::move(name)) {}
  void sample(TraceWriter& out, double time, const ConnInfo& info, std::uint64_t retransmits,
              bool every_call);
  const std::string& name() const { return name_; }

 private:
  std::string name_;
  bool started_ = false;
  SeqUnwrap una_, nxt_, max_;
  std::optional<ConnInfo> last_;
};

// One interval of a run, as iperf3 reports it.
struct Interval {
  double start = 0, end = 0;  // seconds since the start
  std::uint64_t bytes = 0;    // application bytes moved (both directions)
  std::uint64_t retransmits = 0;
  std::optional<std::uint32_t> cwnd;  // of the busiest sender, at the interval's end
  std::optional<double> rtt_ms;       // its smoothed RTT
  double bits_per_second() const { return end > start ? static_cast<double>(bytes) * 8 / (end - start) : 0; }
};

// Collects intervals for --json and prints their lines ("[  1.00-2.00 s]  1.2 MiB ...") when
// asked to: on a terminal, or with --interval.
class IntervalLog {
 public:
  IntervalLog(std::FILE* out, bool print) : out_(out), print_(print) {}
  void add(const Interval& i);
  // The summary line over everything (also after Ctrl-C).
  void summary(double seconds, std::uint64_t bytes, std::uint64_t retransmits, std::string_view note = {});
  const std::vector<Interval>& intervals() const { return all_; }
  Json to_json() const;

 private:
  std::FILE* out_;
  bool print_;
  bool header_ = false;
  std::vector<Interval> all_;
};

// "1.2 MiB", "12.3 Mbit/s": the units of the interval lines (format_bytes is binary, rates decimal).
std::string format_bytes(double n);
std::string format_rate(double bytes_per_second);

// Interval::to_json, shared by the summaries.
Json interval_json(const Interval& i);

}  // namespace utcp::apps
