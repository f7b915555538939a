#include "runner.hpp"

namespace utcp::script {

Summary run_files(const std::vector<std::string>& paths, const RunOptions& options, std::ostream& out) {
  Summary sum;
  for (const std::string& path : paths) {
    if (options.trace != nullptr) *options.trace << "== " << path << '\n';
    const Outcome o = run_file(path, options);
    if (o.passed) {
      ++sum.passed;
      out << "PASS " << path;
      if (o.skipped_shell + o.skipped_python > 0)
        out << " (skipped " << o.skipped_shell << " shell line(s), " << o.skipped_python
            << " python block(s))";
      out << '\n';
    } else {
      ++sum.failed;
      out << "FAIL " << path << ':' << o.line << ": " << o.reason << '\n';
    }
    out.flush();
  }
  out << sum.passed << " passed, " << sum.failed << " failed\n";
  return sum;
}

}  // namespace utcp::script
