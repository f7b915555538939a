// The subcommand registry of the `utcp` tool. A subcommand lives in its own apps/cmd_*.cpp
// and registers itself with a static object:
//
//   namespace {
//   const utcp::apps::Registration reg{{"sim", "Simulate a transfer between two stacks",
//       [](CLI::App& cmd) -> utcp::apps::Run {
//         auto opts = std::make_shared<SimOptions>();
//         cmd.add_option("--bytes", opts->bytes, "...");
//         return [opts] { return run_sim(*opts); };  // the exit code
//       }}};
//   }
//
// main.cpp adds one CLI11 subcommand per registration (in name order), requires exactly one
// on the command line, and returns what the chosen subcommand's Run returns.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace utcp::apps {

// Runs a parsed subcommand; returns the process exit code. It may throw: main prints the
// exception's message as one line and exits 1.
using Run = std::function<int()>;

struct Command {
  std::string name;
  std::string description;
  // Declares the subcommand's options on `cmd`; the Run it returns is called after parsing.
  std::function<Run(CLI::App& cmd)> setup;
};

// Every registered command (filled before main runs).
std::vector<Command>& commands();

struct Registration {
  explicit Registration(Command command) { commands().push_back(std::move(command)); }
};

// A failure of a subcommand that has already been explained: main prints `what()` as one
// line and exits with `code`.
struct CommandError : std::runtime_error {
  CommandError(const std::string& message, int exit_code = 1)
      : std::runtime_error(message), code(exit_code) {}
  int code;
};

}  // namespace utcp::apps
