#include "plot.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <vector>

#include "command.hpp"
#include "options.hpp"

extern char** environ;

namespace utcp::apps {
namespace {

struct Row {
  double t, una, cwnd, ssthresh, srtt;
};
struct Series {
  std::string flow;
  std::vector<Row> rows;
  bool sends() const {
    // Beyond 1: more than a FIN was acknowledged.
    return std::any_of(rows.begin(), rows.end(), [](const Row& r) { return r.una > 1; });
  }
  bool has_ssthresh() const {
    return std::any_of(rows.begin(), rows.end(), [](const Row& r) { return std::isfinite(r.ssthresh); });
  }
  bool has_srtt() const {
    return std::any_of(rows.begin(), rows.end(), [](const Row& r) { return std::isfinite(r.srtt); });
  }
};

std::vector<std::string> split(const std::string& line) {
  std::vector<std::string> out;
  std::stringstream ss(line);
  std::string cell;
  while (std::getline(ss, cell, ',')) out.push_back(cell);
  return out;
}

// The trace's rows by connection, in the order connections first appear.
std::vector<Series> read_trace(const std::string& path, std::string& error) {
  std::ifstream in(path);
  if (!in) {
    error = "cannot read " + path + ": " + std::strerror(errno);
    return {};
  }
  std::string line;
  if (!std::getline(in, line)) {
    error = path + ": empty (not a trace written by --trace)";
    return {};
  }
  const std::vector<std::string> header = split(line);
  std::map<std::string, std::size_t> col;
  for (std::size_t i = 0; i < header.size(); ++i) col[header[i]] = i;
  for (const char* need : {"time", "flow", "snd_una", "cwnd", "ssthresh", "srtt_ms"}) {
    if (!col.contains(need)) {
      error = path + ": no column '" + need + "' (not a trace written by --trace)";
      return {};
    }
  }
  std::vector<Series> series;
  std::map<std::string, std::size_t> index;
  std::size_t number = 1;
  while (std::getline(in, line)) {
    ++number;
    if (line.empty()) continue;
    const std::vector<std::string> cells = split(line);
    if (cells.size() != header.size()) {
      error = path + ":" + std::to_string(number) + ": " + std::to_string(cells.size()) +
              " cells, the header has " + std::to_string(header.size());
      return {};
    }
    const auto num = [&](const char* name) { return std::strtod(cells[col[name]].c_str(), nullptr); };
    const std::string& flow = cells[col["flow"]];
    auto [it, fresh] = index.try_emplace(flow, series.size());
    if (fresh) series.push_back(Series{flow, {}});
    const double ssthresh = num("ssthresh"), srtt = num("srtt_ms");
    series[it->second].rows.push_back(
        Row{num("time"), num("snd_una"), num("cwnd"),
            ssthresh >= 1e9 ? NAN : ssthresh,  // "infinite" before the first loss
            srtt > 0 ? srtt : NAN});           // no RTT sample yet
  }
  if (series.empty()) error = path + ": no rows";
  return series;
}

// A gnuplot string: double quotes, so that "\n" breaks a title's line.
std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (const char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out + "\"";
}

// Runs gnuplot on `script`; its stderr goes to `errors`. Empty on success.
std::optional<std::string> run_gnuplot(const std::string& script, const std::string& errors) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, errors.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0600);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  std::string prog = "gnuplot";
  char* argv[] = {prog.data(), const_cast<char*>(script.c_str()), nullptr};
  pid_t pid = 0;
  const int rc = posix_spawnp(&pid, "gnuplot", &actions, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc == ENOENT)
    return "gnuplot is not installed (Debian: apt-get install gnuplot-nox; scripts/deps.sh does it)";
  if (rc != 0) return std::string("starting gnuplot: ") + std::strerror(rc);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  std::ifstream err(errors);
  std::string first, line;
  while (std::getline(err, line)) {
    if (!line.empty() && first.empty()) first = line;
  }
  if (!first.empty()) return "gnuplot: " + first;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return "gnuplot failed (exit status " + std::to_string(status) + ")";
  return std::nullopt;
}

}  // namespace

std::optional<std::string> plot_trace(const PlotOptions& o) {
  std::string error;
  std::vector<Series> all = read_trace(o.csv, error);
  if (!error.empty()) return error;
  // The receivers' rows say nothing about sending: leave them out unless nobody sent.
  std::vector<Series> series;
  for (Series& s : all)
    if (s.sends()) series.push_back(std::move(s));
  if (series.empty()) series = std::move(all);

  double t0 = INFINITY, t1 = -INFINITY;
  for (const Series& s : series) {
    t0 = std::min(t0, s.rows.front().t);
    t1 = std::max(t1, s.rows.back().t);
  }
  if (!(t1 > t0)) t1 = t0 + 1;
  const double bin = std::max((t1 - t0) / 100, 1e-3);  // about 100 throughput samples

  std::string tmpl =
      (std::getenv("TMPDIR") && *std::getenv("TMPDIR") ? std::string(std::getenv("TMPDIR")) : "/tmp") +
      "/utcp-plot-XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr)
    return "creating a scratch directory: " + std::string(std::strerror(errno));
  const std::filesystem::path dir = tmpl;
  struct Remove {
    std::filesystem::path p;
    ~Remove() {
      std::error_code ec;
      std::filesystem::remove_all(p, ec);
    }
  } remove{dir};

  // Blocks 2k (samples) and 2k+1 (throughput bins) of flow k, gnuplot's `index`.
  const std::string data = (dir / "data").string();
  {
    std::ofstream d(data);
    for (const Series& s : series) {
      for (const Row& r : s.rows)
        d << r.t << ' ' << r.una / 1048576 << ' ' << r.cwnd / 1024 << ' ' << r.ssthresh / 1024 << ' '
          << r.srtt << '\n';
      d << "\n\n";
      std::size_t i = 0;
      double last = 0;
      for (double start = t0; start < t1; start += bin) {
        double una = last;
        while (i < s.rows.size() && s.rows[i].t <= start + bin) una = s.rows[i++].una;
        d << start << ' ' << (una - last) * 8 / bin / 1e6 << '\n';
        last = una;
      }
      d << "\n\n";
    }
    if (!d) return "writing " + data + " failed";
  }

  std::ostringstream g;
  const std::string title = o.title.empty() ? std::filesystem::path(o.csv).filename().string() : o.title;
  g << "set terminal pngcairo size " << o.width << "," << o.height << " noenhanced font 'sans,10'\n"
    << "set output " << quoted(o.png) << "\n"
    << "set multiplot layout 4,1 title " << quoted(title) << "\n"
    << "set grid\nset key top left\nset lmargin 12\n"
    << "set xrange [" << t0 << ":" << t1 << "]\n";
  const auto panel = [&](const std::string& ylabel, auto&& each) {
    g << "set ylabel " << quoted(ylabel) << "\n";
    std::vector<std::string> parts;
    for (std::size_t k = 0; k < series.size(); ++k) each(k, series[k], parts);
    if (parts.empty()) {
      g << "set yrange [0:1]\nplot 2 notitle\nset autoscale y\n";  // nothing to draw: an empty panel
      return;
    }
    g << "plot ";
    for (std::size_t i = 0; i < parts.size(); ++i) g << (i ? ", \\\n     " : "") << parts[i];
    g << "\n";
  };
  const std::string file = quoted(data);
  panel("sequence (MiB acked)", [&](std::size_t k, const Series& s, std::vector<std::string>& p) {
    p.push_back(file + " index " + std::to_string(2 * k) + " using 1:2 with lines lw 2 title " +
                quoted(s.flow));
  });
  panel("throughput (Mbit/s)", [&](std::size_t k, const Series& s, std::vector<std::string>& p) {
    p.push_back(file + " index " + std::to_string(2 * k + 1) + " using 1:2 with steps lw 2 title " +
                quoted(s.flow));
  });
  panel("window (KiB)", [&](std::size_t k, const Series& s, std::vector<std::string>& p) {
    p.push_back(file + " index " + std::to_string(2 * k) + " using 1:3 with steps lw 2 title " +
                quoted(s.flow + " cwnd"));
    if (s.has_ssthresh())
      p.push_back(file + " index " + std::to_string(2 * k) + " using 1:4 with steps dt 2 title " +
                  quoted(s.flow + " ssthresh"));
  });
  g << "set xlabel 'time (s)'\n";
  panel("smoothed RTT (ms)", [&](std::size_t k, const Series& s, std::vector<std::string>& p) {
    if (s.has_srtt())
      p.push_back(file + " index " + std::to_string(2 * k) + " using 1:5 with lines lw 2 title " +
                  quoted(s.flow));
  });
  g << "unset multiplot\n";
  const std::string script = (dir / "plot.gp").string();
  {
    std::ofstream sf(script);
    sf << g.str();
    if (!sf) return "writing " + script + " failed";
  }
  if (auto e = run_gnuplot(script, (dir / "stderr").string())) return e;
  std::error_code ec;
  if (!std::filesystem::exists(o.png, ec)) return "gnuplot wrote no " + o.png;
  return std::nullopt;
}

namespace {

Run setup(CLI::App& cmd) {
  auto o = std::make_shared<PlotOptions>();
  auto size = std::make_shared<std::string>("1200x1000");
  cmd.add_option("trace", o->csv, "A trace written by --trace (CSV)")->required();
  cmd.add_option("-o,--output", o->png, "The PNG to write")->required();
  cmd.add_option("--size", *size, "Width x height in pixels")->capture_default_str();
  cmd.add_option("--title", o->title, "Title over the panels (default: the trace's file name)");
  return [o, size] {
    unsigned w = 0, h = 0;
    char x = 0, extra = 0;
    if (std::sscanf(size->c_str(), "%u%c%u%c", &w, &x, &h, &extra) != 3 || x != 'x' || w < 200 || h < 200 ||
        w > 10000 || h > 10000)
      throw UsageError("--size " + *size + ": expected WIDTHxHEIGHT, each 200 to 10000 pixels");
    o->width = w;
    o->height = h;
    if (auto e = plot_trace(*o)) throw CommandError(*e);
    return 0;
  };
}

const Registration registration{
    {"plot", "Draw a --trace CSV (sequence, throughput, cwnd, RTT over time) as a PNG with gnuplot", setup}};

}  // namespace
}  // namespace utcp::apps
