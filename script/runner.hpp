// `utcp script FILE...`: runs each script, prints one line per script and a summary.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "executor.hpp"

namespace utcp::script {

struct Summary {
  int passed = 0, failed = 0;
};

// Prints `PASS file` (with the skipped shell/python count when any) or
// `FAIL file:line: reason` per script, then `N passed, M failed`.
Summary run_files(const std::vector<std::string>& paths, const RunOptions& options, std::ostream& out);

}  // namespace utcp::script
