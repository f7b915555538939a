// Exhaustive exploration of a small scenario (docs/EXPLORE.md).
//
// Two stacks (a client and a server), a workload run by deterministic applications (connect,
// send a few bytes each way, close or abort), and a network whose every nondeterministic
// choice is explicit: the segment at the head of each direction is delivered, lost or
// duplicated; a later one may be delivered past it (a reordering); a stack's earliest timer
// may fire at its deadline. The explorer walks every sequence of such choices up to the
// bounds, depth first, branching by copying the whole world: a State copy is O(1).
//
// Equivalent interleavings are explored once: a visited set keyed by a fingerprint of both
// stacks (every flow's ConnInfo, deadlines, listeners), both applications and the segments in
// flight; and sleep sets (partial-order reduction) for deliveries to different stacks, which
// commute. Every step checks the properties; from every new state a run over a well-behaved
// network must complete the workload (liveness).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "utcp/state.hpp"

namespace utcp::sim {

enum class ExploreScenario : std::uint8_t { handshake, transfer, close, simultaneous_close, abort };
std::string_view to_string(ExploreScenario);
std::optional<ExploreScenario> parse_explore_scenario(std::string_view);  // "simultaneous-close" ...

struct ExploreBounds {
  std::uint32_t max_loss = 2;     // segments lost
  std::uint32_t max_dup = 1;      // segments delivered twice
  std::uint32_t max_reorder = 1;  // segments delivered past earlier ones
  std::uint32_t max_timers = 6;   // timer firings (every kind: retransmission, delayed ACK, TIME-WAIT ...)
  std::uint32_t depth = 60;       // choices on one path
  // The network holds a segment at most this long: a timer whose deadline is later than that
  // for a segment in flight waits until the segment is delivered or lost.
  Duration max_delay = std::chrono::seconds(2);
};

struct ExploreSpec {
  ExploreScenario scenario = ExploreScenario::handshake;
  ExploreBounds bounds;
  // Application bytes client -> server and server -> client (transfer, close, abort; the
  // handshake and simultaneous-close scenarios send what they are given too).
  std::uint32_t client_bytes = 0, server_bytes = 0;
  Config client_config, server_config;
  bool merge_states = true;   // the visited set (off: every path is walked, a tree search)
  bool partial_order = true;  // sleep sets
  bool check_liveness = true;
  std::uint32_t liveness_steps = 500;  // choices a well-behaved run may take to complete
  std::uint64_t max_states = 0;        // stop after this many steps (0: no limit)
  // Look for a shorter violating sequence once one is found (re-searching with smaller depths):
  // the one reported has the fewest choices, the search's and the well-behaved run's together.
  bool shorten = true;
  // Called about every `progress_every` steps.
  std::function<void(const struct ExploreProgress&)> progress;
  std::uint64_t progress_every = 20000;
};

// One nondeterministic choice. Channel 0 carries client -> server, channel 1 server -> client.
struct Choice {
  enum class Kind : std::uint8_t { deliver, drop, duplicate, timer };
  Kind kind = Kind::deliver;
  std::uint8_t target = 0;  // the channel (deliver, drop, duplicate) or the stack (timer: 0 client, 1 server)
  std::uint8_t index = 0;   // deliver: position in the channel (> 0: a reordering)
  friend bool operator==(const Choice&, const Choice&) = default;
};
std::string to_string(const Choice&);  // "deliver c>s", "drop s>c", "timer client" ...

// What happened on one step of a replayed path, for reproducers.
struct TraceEntry {
  enum class Kind : std::uint8_t { send, deliver, drop, timer, call };
  Kind kind = Kind::send;
  Instant at{};
  std::uint8_t side = 0;  // the stack that sent (send), received (deliver), lost its segment (drop), ran (timer, call)
  std::optional<Output> segment;  // send, deliver, drop
  // call: "connect", "accept", "shutdown" (the write side), "close", "abort", "send 100",
  // "read 100", "read eof"
  std::string call;
};

struct ExploreViolation {
  std::string property;  // "invariant", "data", "liveness", "state", "event", "retransmissions"
  std::string message;
  std::vector<Choice> choices;  // from the initial state; the liveness run's choices included
  std::size_t explored_prefix = 0;  // choices made by the search (the rest: the well-behaved run)
};

struct ExploreProgress {
  std::uint64_t explored = 0;  // steps taken (transitions), liveness runs excluded
  std::uint64_t distinct = 0;  // fingerprints in the visited set
  std::uint64_t frontier = 0;  // choices waiting on the depth-first stack
  double seconds = 0;
};

struct ExploreReport {
  std::uint64_t explored = 0, distinct = 0;
  std::uint64_t revisits = 0;      // states pruned because an equal one was explored with at least as much left
  std::uint64_t sleep_pruned = 0;  // choices skipped by partial-order reduction
  std::uint64_t depth_cut = 0;     // states at the depth bound (not expanded)
  std::uint64_t liveness_runs = 0, liveness_steps = 0;
  std::uint32_t max_depth = 0;
  bool stopped = false;  // max_states reached before the search finished
  std::optional<ExploreViolation> violation;
  double seconds = 0;
};

ExploreReport explore(const ExploreSpec&);

// Re-runs a choice sequence from the initial state: what each step did, and the first
// violation reached (the same as the search saw).
struct ExploreReplay {
  std::vector<TraceEntry> trace;
  std::optional<std::string> failure;  // "<property>: <message>"
  bool applied_all = false;             // every choice was enabled
};
ExploreReplay replay(const ExploreSpec&, std::span<const Choice>);
// `prefix` (as far as its choices are enabled), then what a well-behaved network does (the
// heads delivered in order, a timer only when nothing is in flight) until the workload
// completes, a property breaks or spec.liveness_steps pass: a whole run, for reproducers.
std::vector<Choice> well_behaved_run(const ExploreSpec&, std::span<const Choice> prefix = {});
// One line per entry: "  0.200s client send S 1000:1000(0) win 65535 <mss 1460>", ...
std::string format_trace(std::span<const TraceEntry>);

// A reproducer of a choice sequence (docs/EXPLORE.md, "Reproducers"): a packetdrill-syntax
// script from one stack's point of view, for `utcp script`, and every segment of the run.
struct ExploreRepro {
  std::uint8_t side = 0;  // the stack under test: 0 client, 1 server
  std::string script;
  // The stack has test faults and the script tells it from a correct one: a correct stack
  // passes the script, the faulty one fails at `failing_line` (1-based).
  bool diverges = false;
  int failing_line = 0;
  std::string note;  // why the script cannot tell them apart, when it cannot
  struct Sent {
    Instant at;
    Output out;
  };
  std::vector<Sent> segments;  // both stacks', lost ones included, in the order sent
};
// The side: the one with test faults when only one has them, else the one the violation
// names, else the client.
ExploreRepro make_repro(const ExploreSpec&, std::span<const Choice>, std::optional<std::uint8_t> side = std::nullopt);

// The addresses and ports of the two stacks.
inline const IpAddr explore_client_ip = IpAddr::v4(10, 0, 0, 1);
inline const IpAddr explore_server_ip = IpAddr::v4(10, 0, 0, 2);
inline constexpr std::uint16_t explore_port = 8080;

}  // namespace utcp::sim
