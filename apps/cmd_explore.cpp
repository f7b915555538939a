// `utcp explore`: every interleaving of a small scenario up to bounds (sim/explore.hpp,
// docs/EXPLORE.md). Exit 0: no violation; 1: a violation (printed with its choices and trace);
// 2: usage.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>

#include "command.hpp"
#include "explore.hpp"
#include "json.hpp"
#include "options.hpp"
#include "pcap.hpp"

namespace utcp::apps {
namespace {

struct ExploreOptions {
  std::string scenario = "handshake";
  sim::ExploreBounds bounds;
  double max_delay_ms = 2000;
  std::uint32_t bytes = 0, bytes_back = 0;
  bool bytes_given = false;
  bool no_merge = false, no_por = false, no_liveness = false;
  std::uint64_t max_states = 0;
  bool json = false, quiet = false;
  std::uint32_t mtu = 1500;
  bool nodelay = false;
  std::vector<std::string> test_faults;
  std::string repro_dir;
  std::string repro_side;  // empty: make_repro's choice
};

// Where a reproducer went: the script, the pcap, and what the script shows.
struct ReproFiles {
  std::string script, pcap;
  sim::ExploreRepro repro;
};

// Writes DIR/<scenario>.pkt and DIR/<scenario>.pcap for the violation's choices.
ReproFiles write_repro(const std::string& dir, const std::string& side, const sim::ExploreSpec& spec,
                       const sim::ExploreViolation& v) {
  ReproFiles f;
  std::optional<std::uint8_t> pov;
  if (!side.empty()) pov = side == "server" ? 1 : 0;
  f.repro = sim::make_repro(spec, v.choices, pov);
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw CommandError("utcp explore: --repro " + dir + ": " + ec.message());
  const std::string stem = dir + "/" + std::string(sim::to_string(spec.scenario));
  f.script = stem + ".pkt";
  f.pcap = stem + ".pcap";
  {
    std::ofstream out(f.script);
    out << f.repro.script;
    if (!out.flush()) throw CommandError("utcp explore: cannot write " + f.script);
  }
  auto w = io::PcapWriter::open(f.pcap);
  if (!w) throw CommandError("utcp explore: " + w.error().message);
  for (const auto& s : f.repro.segments)
    if (auto r = w->write(s.at - Instant{}, s.out); !r) throw CommandError("utcp explore: " + r.error().message);
  if (auto r = w->close(); !r) throw CommandError("utcp explore: " + r.error().message);
  return f;
}

std::string repro_text(const ReproFiles& f) {
  std::ostringstream os;
  os << "reproducer: " << f.script << " (the " << (f.repro.side == 0 ? "client" : "server")
     << "'s point of view, for `utcp script`), " << f.pcap << " (" << f.repro.segments.size() << " segments)\n";
  if (f.repro.diverges)
    os << "  with its --test_fault lines the script fails at line " << f.repro.failing_line
       << "; without them a correct stack passes it\n";
  if (!f.repro.note.empty()) os << "  note: " << f.repro.note << "\n";
  return os.str();
}

std::string bounds_text(const sim::ExploreSpec& s) {
  std::ostringstream os;
  os << "loss <= " << s.bounds.max_loss << ", dup <= " << s.bounds.max_dup << ", reorder <= " << s.bounds.max_reorder
     << ", timers <= " << s.bounds.max_timers << ", depth <= " << s.bounds.depth << ", max delay "
     << std::chrono::duration<double, std::milli>(s.bounds.max_delay).count() << " ms; bytes " << s.client_bytes
     << " client->server, " << s.server_bytes << " server->client";
  return os.str();
}

Json report_json(const sim::ExploreSpec& spec, const sim::ExploreReport& r, const std::optional<ReproFiles>& files) {
  Json doc = Json::object();
  doc.set("scenario", sim::to_string(spec.scenario));
  Json b = Json::object();
  b.set("max_loss", spec.bounds.max_loss);
  b.set("max_dup", spec.bounds.max_dup);
  b.set("max_reorder", spec.bounds.max_reorder);
  b.set("max_timers", spec.bounds.max_timers);
  b.set("depth", spec.bounds.depth);
  b.set("max_delay_ms", std::chrono::duration<double, std::milli>(spec.bounds.max_delay).count());
  b.set("client_bytes", spec.client_bytes);
  b.set("server_bytes", spec.server_bytes);
  b.set("merge_states", spec.merge_states);
  b.set("partial_order", spec.partial_order);
  b.set("liveness", spec.check_liveness);
  doc.set("bounds", std::move(b));
  doc.set("explored", r.explored);
  doc.set("distinct", r.distinct);
  doc.set("revisits", r.revisits);
  doc.set("sleep_pruned", r.sleep_pruned);
  doc.set("depth_cut", r.depth_cut);
  doc.set("liveness_runs", r.liveness_runs);
  doc.set("liveness_steps", r.liveness_steps);
  doc.set("max_depth", r.max_depth);
  doc.set("complete", !r.stopped);
  doc.set("seconds", r.seconds);
  if (r.violation) {
    Json v = Json::object();
    v.set("property", r.violation->property);
    v.set("message", r.violation->message);
    Json choices = Json::array();
    for (const auto& c : r.violation->choices) choices.push(sim::to_string(c));
    v.set("choices", std::move(choices));
    v.set("search_choices", static_cast<std::uint64_t>(r.violation->explored_prefix));
    const sim::ExploreReplay again = sim::replay(spec, r.violation->choices);
    Json trace = Json::array();
    std::istringstream lines(sim::format_trace(again.trace));
    for (std::string line; std::getline(lines, line);) trace.push(line);
    v.set("trace", std::move(trace));
    if (files) {
      Json rj = Json::object();
      rj.set("script", files->script);
      rj.set("pcap", files->pcap);
      rj.set("side", files->repro.side == 0 ? "client" : "server");
      rj.set("segments", static_cast<std::uint64_t>(files->repro.segments.size()));
      rj.set("diverges", files->repro.diverges);
      rj.set("failing_line", files->repro.failing_line);
      rj.set("note", files->repro.note);
      v.set("repro", std::move(rj));
    }
    doc.set("violation", std::move(v));
  } else {
    doc.set("violation", nullptr);
  }
  return doc;
}

int run_explore(const ExploreOptions& o) {
  sim::ExploreSpec spec;
  const auto sc = sim::parse_explore_scenario(o.scenario);
  if (!sc) throw UsageError("--scenario: unknown scenario '" + o.scenario + "'");
  spec.scenario = *sc;
  spec.bounds = o.bounds;
  spec.bounds.max_delay = std::chrono::duration_cast<Duration>(std::chrono::duration<double, std::milli>(o.max_delay_ms));
  // The transfer scenario moves one segment unless told otherwise.
  spec.client_bytes = o.bytes_given ? o.bytes : (*sc == sim::ExploreScenario::transfer ? 100 : 0);
  spec.server_bytes = o.bytes_back;
  spec.merge_states = !o.no_merge;
  spec.partial_order = !o.no_por;
  spec.check_liveness = !o.no_liveness;
  spec.max_states = o.max_states;
  for (Config* c : {&spec.client_config, &spec.server_config}) {
    c->mtu = o.mtu;
    c->nodelay = o.nodelay;
  }
  for (const std::string& given : o.test_faults) {
    // [client:|server:]NAME
    std::string name = given;
    std::vector<Config*> where{&spec.client_config, &spec.server_config};
    if (const auto colon = given.find(':'); colon != std::string::npos) {
      const std::string side = given.substr(0, colon);
      if (side != "client" && side != "server") throw UsageError("--test-fault: '" + side + "' is not client or server");
      where = {side == "client" ? &spec.client_config : &spec.server_config};
      name = given.substr(colon + 1);
    }
    for (Config* c : where) {
      if (name == "partial_ack_stops_rto")
        c->test_faults.partial_ack_stops_rto = true;
      else if (name == "accept_fin_out_of_order")
        c->test_faults.accept_fin_out_of_order = true;
      else
        throw UsageError("--test-fault: unknown fault '" + name + "'");
    }
  }
  const bool tty = isatty(STDERR_FILENO) == 1;
  std::uint64_t last_explored = 0;
  double last_seconds = 0;
  if (!o.quiet) {
    spec.progress_every = 50000;
    spec.progress = [&](const sim::ExploreProgress& p) {
      const double dt = p.seconds - last_seconds;
      const double rate = dt > 0 ? static_cast<double>(p.explored - last_explored) / dt : 0;
      last_explored = p.explored;
      last_seconds = p.seconds;
      std::fprintf(stderr, "%sexplored %llu states, %llu distinct, %.0f/s, frontier %llu%s",
                   tty ? "\r" : "", static_cast<unsigned long long>(p.explored),
                   static_cast<unsigned long long>(p.distinct), rate, static_cast<unsigned long long>(p.frontier),
                   tty ? "   " : "\n");
      std::fflush(stderr);
    };
  }
  const sim::ExploreReport r = sim::explore(spec);
  if (!o.quiet && tty && r.explored >= spec.progress_every) std::fprintf(stderr, "\n");
  std::optional<ReproFiles> files;
  if (r.violation && !o.repro_dir.empty()) files = write_repro(o.repro_dir, o.repro_side, spec, *r.violation);

  if (o.json) {
    std::cout << report_json(spec, r, files).dump(2) << "\n";
    if (r.violation) std::cerr << "utcp explore: " << r.violation->property << ": " << r.violation->message << "\n";
    return r.violation ? 1 : 0;
  }
  std::ostringstream os;
  os << "explore " << sim::to_string(spec.scenario) << ": " << bounds_text(spec) << "\n";
  char line[256];
  std::snprintf(line, sizeof line, "explored %llu states, %llu distinct, in %.2f s (%.0f/s); max depth %u\n",
                static_cast<unsigned long long>(r.explored), static_cast<unsigned long long>(r.distinct), r.seconds,
                r.seconds > 0 ? static_cast<double>(r.explored) / r.seconds : 0.0, r.max_depth);
  os << line;
  os << "reductions: " << r.revisits << " revisits merged, " << r.sleep_pruned
     << " choices skipped by partial-order reduction; " << r.depth_cut << " states at the depth bound; "
     << r.liveness_runs << " liveness runs (" << r.liveness_steps << " steps)\n";
  if (r.violation) {
    const auto& v = *r.violation;
    os << "VIOLATION: " << v.property << ": " << v.message << "\n";
    os << "choices (" << v.explored_prefix << " by the search";
    if (v.choices.size() > v.explored_prefix)
      os << ", then " << (v.choices.size() - v.explored_prefix) << " of a well-behaved network";
    os << "):";
    for (const auto& c : v.choices) os << " [" << sim::to_string(c) << "]";
    os << "\ntrace:\n" << sim::format_trace(sim::replay(spec, v.choices).trace);
    if (files) os << repro_text(*files);
    std::cout << os.str();
    std::cerr << "utcp explore: " << v.property << ": " << v.message << "\n";
    return 1;
  }
  os << "result: no violation" << (r.stopped ? " (stopped at --max-states, not complete)" : ", complete to the bounds")
     << "\n";
  std::cout << os.str();
  return 0;
}

Run setup(CLI::App& cmd) {
  auto o = std::make_shared<ExploreOptions>();
  cmd.add_option("--scenario", o->scenario, "handshake, transfer, close, simultaneous-close or abort")
      ->capture_default_str()
      ->check(CLI::IsMember({"handshake", "transfer", "close", "simultaneous-close", "abort"}));
  cmd.add_option("--max-loss", o->bounds.max_loss, "Segments the network may lose on one path")
      ->capture_default_str()
      ->check(CLI::Range(0u, 16u));
  cmd.add_option("--max-dup", o->bounds.max_dup, "Segments it may deliver twice")
      ->capture_default_str()
      ->check(CLI::Range(0u, 16u));
  cmd.add_option("--max-reorder", o->bounds.max_reorder, "Segments it may deliver past earlier ones")
      ->capture_default_str()
      ->check(CLI::Range(0u, 16u));
  cmd.add_option("--max-timers", o->bounds.max_timers, "Timer firings on one path (all kinds)")
      ->capture_default_str()
      ->check(CLI::Range(0u, 64u));
  cmd.add_option("--depth", o->bounds.depth, "Choices on one path")->capture_default_str()->check(CLI::Range(1u, 1000u));
  cmd.add_option("--max-delay", o->max_delay_ms, "Longest a segment stays in flight, ms")
      ->capture_default_str()
      ->check(CLI::Range(1.0, 3'600'000.0));
  cmd.add_option("--bytes", o->bytes, "Bytes the client sends (default: 100 for transfer, else 0)")
      ->check(CLI::Range(0u, 1u << 20))
      ->each([o](const std::string&) { o->bytes_given = true; });
  cmd.add_option("--bytes-back", o->bytes_back, "Bytes the server sends")
      ->capture_default_str()
      ->check(CLI::Range(0u, 1u << 20));
  cmd.add_flag("--no-merge", o->no_merge, "No visited set: walk every path (a tree search)");
  cmd.add_flag("--no-por", o->no_por, "No partial-order reduction");
  cmd.add_flag("--no-liveness", o->no_liveness, "Do not check that every state can still complete");
  cmd.add_option("--max-states", o->max_states, "Stop after this many states (0: no limit)")->capture_default_str();
  cmd.add_option("--mtu", o->mtu, "Both stacks' MTU (576: MSS 536)")->capture_default_str()->check(CLI::Range(68u, 65535u));
  cmd.add_flag("--nodelay", o->nodelay, "Nagle off in both stacks");
  cmd.add_option("--test-fault", o->test_faults,
                 "TEST ONLY: plant a bug, [client:|server:]NAME (partial_ack_stops_rto, accept_fin_out_of_order; "
                 "without a side, in both stacks); repeatable");
  cmd.add_option("--repro", o->repro_dir,
                 "On a violation, write DIR/<scenario>.pkt (a script for `utcp script`) and DIR/<scenario>.pcap");
  cmd.add_option("--repro-side", o->repro_side,
                 "The reproducer's point of view (default: the side with test faults, else the one the violation names)")
      ->check(CLI::IsMember({"client", "server"}));
  cmd.add_flag("--json", o->json, "Print one JSON document instead of text");
  cmd.add_flag("--quiet", o->quiet, "No progress line");
  return [o] { return run_explore(*o); };
}

const Registration registration{
    {"explore", "Explore every interleaving of a small scenario up to bounds (losses, duplicates, reorderings, timers)",
     setup}};

}  // namespace
}  // namespace utcp::apps
