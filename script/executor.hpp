// Runs a parsed script against one host-layer stack (the C ABI of utcp/posix.h) on a
// virtual clock, single-threaded and deterministic. docs/SCRIPTS.md describes the rules.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "ast.hpp"

namespace utcp::script {

struct RunOptions {
  std::vector<HeaderOption> overrides;  // applied after the script's own header options
  std::ostream* trace = nullptr;        // when set: every event and every emitted segment
};

struct Outcome {
  bool passed = false;
  int line = 0;        // the failing line (0 when the file itself is at fault)
  std::string reason;  // one line: what was expected, what happened, at what virtual time
  int skipped_shell = 0, skipped_python = 0;
};

Outcome run_script(const Script&, const RunOptions& = {});
// Parses then runs; a parse error is a failure at its line.
Outcome run_file(const std::string& path, const RunOptions& = {});

}  // namespace utcp::script
