// Option conventions shared by the subcommands: percentages (as netem writes them) and usage
// errors (exit 2, one line that points at the subcommand's own --help).
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "command.hpp"

namespace utcp::apps {

// A percentage from 0 to 100, written `2`, `2%` or `0.5 %`: the value becomes the number alone.
// Everything else is refused with one line naming what was given.
CLI::Validator percent();

// A congestion control algorithm's name as TCP_CONGESTION takes it ("reno", "cubic", "bbr").
CLI::Validator congestion_control_name();

// A mistake in the command line the parser could not see (two options that contradict each
// other, a value out of range for another's sake): exit 2, like a parse error.
struct UsageError : CommandError {
  explicit UsageError(const std::string& message) : CommandError(message, 2) {}
};

}  // namespace utcp::apps
