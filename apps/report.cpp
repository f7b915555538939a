#include "report.hpp"

#include <chrono>
#include <cstring>

namespace utcp::apps {

namespace {

double ms(Duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

}  // namespace

const std::vector<TraceColumn>& trace_columns() {
  // clang-format off
  static const std::vector<TraceColumn> columns = {
      {"time",        [](std::FILE* f, const TraceSample& s) { std::fprintf(f, "%.6f", s.time); }},
      {"flow",        [](std::FILE* f, const TraceSample& s) { std::fprintf(f, "%.*s", int(s.flow.size()), s.flow.data()); }},
      {"snd_una",     [](std::FILE* f, const TraceSample& s) { std::fprintf(f, "%lld", (long long)s.snd_una); }},
      {"snd_nxt",     [](std::FILE* f, const TraceSample& s) { std::fprintf(f, "%lld", (long long)s.snd_nxt); }},
      {"cwnd",        [](std::FILE* f, const TraceSample& s) { std::fprintf(f, "%u", s.info.cwnd); }},
      {"ssthresh",    [](std::FILE* f, const TraceSample& s) { std::fprintf(f, "%u", s.info.ssthresh); }},
      {"srtt_ms",     [](std::FILE* f, const TraceSample& s) { std::fprintf(f, "%.3f", ms(s.info.srtt)); }},
      {"rto_ms",      [](std::FILE* f, const TraceSample& s) { std::fprintf(f, "%.3f", ms(s.info.rto)); }},
      {"in_flight",   [](std::FILE* f, const TraceSample& s) { std::fprintf(f, "%lld", (long long)(s.snd_max - s.snd_una)); }},
      {"retransmits", [](std::FILE* f, const TraceSample& s) { std::fprintf(f, "%llu", (unsigned long long)s.retransmits); }},
      {"snd_wnd",     [](std::FILE* f, const TraceSample& s) { std::fprintf(f, "%u", s.info.snd_wnd); }},
      {"pacing_rate", [](std::FILE* f, const TraceSample& s) { std::fprintf(f, "%llu", (unsigned long long)s.info.pacing_rate); }},
      {"cc_state",    [](std::FILE* f, const TraceSample& s) { std::fprintf(f, "%.*s", int(s.info.cc_state.size()), s.info.cc_state.data()); }},
      {"bw",          [](std::FILE* f, const TraceSample& s) { std::fprintf(f, "%llu", (unsigned long long)s.info.bottleneck_bw); }},
      {"delivery_rate", [](std::FILE* f, const TraceSample& s) { std::fprintf(f, "%llu", (unsigned long long)s.info.delivery_rate); }},
      {"delivered",   [](std::FILE* f, const TraceSample& s) { std::fprintf(f, "%llu", (unsigned long long)s.info.delivered); }},
  };
  // clang-format on
  return columns;
}

std::int64_t SeqUnwrap::operator()(Seq s) {
  if (!last_) last_ = s;
  // Signed distance from the last value seen: forward or (after an RTO's rewind) back.
  offset_ += static_cast<std::int32_t>(s - *last_);
  last_ = s;
  return offset_;
}

std::optional<TraceWriter> TraceWriter::open(const std::string& path, std::string& error) {
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) {
    error = "--trace " + path + ": " + std::strerror(errno);
    return std::nullopt;
  }
  TraceWriter w(path, f);
  bool first = true;
  for (const TraceColumn& c : trace_columns()) {
    std::fprintf(f, "%s%s", first ? "" : ",", c.name);
    first = false;
  }
  std::fputc('\n', f);
  return w;
}

TraceWriter::TraceWriter(TraceWriter&& other) noexcept
    : path_(std::move(other.path_)), f_(std::exchange(other.f_, nullptr)), rows_(other.rows_) {}

TraceWriter& TraceWriter::operator=(TraceWriter&& other) noexcept {
  if (this != &other) {
    if (f_ != nullptr) std::fclose(f_);
    path_ = std::move(other.path_);
    f_ = std::exchange(other.f_, nullptr);
    rows_ = other.rows_;
  }
  return *this;
}

TraceWriter::~TraceWriter() {
  if (f_ != nullptr) std::fclose(f_);
}

void TraceWriter::row(const TraceSample& s) {
  bool first = true;
  for (const TraceColumn& c : trace_columns()) {
    if (!first) std::fputc(',', f_);
    c.write(f_, s);
    first = false;
  }
  std::fputc('\n', f_);
  ++rows_;
}

std::optional<std::string> TraceWriter::close() {
  if (f_ == nullptr) return std::nullopt;
  const bool bad = std::ferror(f_) != 0;
  const int e = errno;
  const bool closed = std::fclose(std::exchange(f_, nullptr)) == 0;
  if (bad || !closed) return "--trace " + path_ + ": writing failed: " + std::strerror(bad ? e : errno);
  return std::nullopt;
}

void FlowTrace::sample(TraceWriter& out, double time, const ConnInfo& info, std::uint64_t retransmits,
                       bool every_call) {
  if (!started_) {
    // Counted from the first byte after the SYN.
    una_.start(info.iss + 1);
    nxt_.start(info.iss + 1);
    max_.start(info.iss + 1);
    started_ = true;
  }
  const bool changed = !last_ || last_->snd_una != info.snd_una || last_->snd_nxt != info.snd_nxt ||
                       last_->cwnd != info.cwnd || last_->ssthresh != info.ssthresh ||
                       last_->rto != info.rto || last_->snd_max != info.snd_max;
  const std::int64_t una = una_(info.snd_una), nxt = nxt_(info.snd_nxt), max = max_(info.snd_max);
  if (!changed && !every_call) return;
  last_ = info;
  out.row(TraceSample{time, name_, info, una, nxt, max, retransmits});
}

std::string format_bytes(double n) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (n >= 1024 && u < 4) {
    n /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", n, units[u]);
  return buf;
}

std::string format_rate(double bytes_per_second) {
  char buf[32];
  const double bits = bytes_per_second * 8;
  if (bits >= 1e9) {
    std::snprintf(buf, sizeof buf, "%.2f Gbit/s", bits / 1e9);
  } else if (bits >= 1e6) {
    std::snprintf(buf, sizeof buf, "%.1f Mbit/s", bits / 1e6);
  } else {
    std::snprintf(buf, sizeof buf, "%.1f kbit/s", bits / 1e3);
  }
  return buf;
}

void IntervalLog::add(const Interval& i) {
  all_.push_back(i);
  if (!print_) return;
  if (!header_) {
    std::fprintf(out_, "%-17s %11s %14s %6s %11s %10s\n", "[ interval ]", "transfer", "rate", "retr", "cwnd",
                 "rtt");
    header_ = true;
  }
  char span[32], rtt[32] = "-";
  std::snprintf(span, sizeof span, "[%6.2f-%-6.2f s]", i.start, i.end);
  if (i.rtt_ms) std::snprintf(rtt, sizeof rtt, "%.1f ms", *i.rtt_ms);
  std::fprintf(
      out_, "%-17s %11s %14s %6llu %11s %10s\n", span, format_bytes(static_cast<double>(i.bytes)).c_str(),
      format_rate(static_cast<double>(i.bytes) / std::max(i.end - i.start, 1e-9)).c_str(),
      static_cast<unsigned long long>(i.retransmits), i.cwnd ? format_bytes(*i.cwnd).c_str() : "-", rtt);
  std::fflush(out_);
}

void IntervalLog::summary(double seconds, std::uint64_t bytes, std::uint64_t retransmits,
                          std::string_view note) {
  if (!print_) return;
  char span[32];
  std::snprintf(span, sizeof span, "[%6.2f-%-6.2f s]", 0.0, seconds);
  std::fprintf(
      out_, "%-17s %11s %14s %6llu  total%s%.*s\n", span, format_bytes(static_cast<double>(bytes)).c_str(),
      format_rate(static_cast<double>(bytes) / std::max(seconds, 1e-9)).c_str(),
      static_cast<unsigned long long>(retransmits), note.empty() ? "" : ", ", int(note.size()), note.data());
  std::fflush(out_);
}

Json interval_json(const Interval& i) {
  Json j = Json::object();
  j.set("start", i.start);
  j.set("end", i.end);
  j.set("seconds", i.end - i.start);
  j.set("bytes", i.bytes);
  j.set("bits_per_second", i.bits_per_second());
  j.set("retransmits", i.retransmits);
  j.set("snd_cwnd", i.cwnd ? Json(*i.cwnd) : Json());
  j.set("rtt_ms", i.rtt_ms ? Json(*i.rtt_ms) : Json());
  return j;
}

Json IntervalLog::to_json() const {
  Json a = Json::array();
  for (const Interval& i : all_) a.push(interval_json(i));
  return a;
}

}  // namespace utcp::apps
