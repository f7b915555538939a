// `utcp plot TRACE.csv -o FILE.png`: a trace written by --trace, drawn by gnuplot as four
// panels over time (sequence, throughput, cwnd and ssthresh, smoothed RTT), one line per
// connection. `utcp sim --plot` calls the same function.
#pragma once

#include <optional>
#include <string>

namespace utcp::apps {

struct PlotOptions {
  std::string csv, png;
  unsigned width = 1200, height = 1000;
  std::string title;  // empty: the CSV's file name
};

// Empty on success; otherwise one line saying what went wrong (gnuplot missing, a column
// missing from the CSV, anything gnuplot printed on stderr).
std::optional<std::string> plot_trace(const PlotOptions& o);

}  // namespace utcp::apps
