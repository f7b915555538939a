// `utcp script FILE.pkt...`: runs packetdrill-syntax scripts against a host-layer stack on
// a virtual clock (docs/SCRIPTS.md).
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "command.hpp"

#include "parser.hpp"
#include "runner.hpp"

namespace utcp::apps {
namespace {

struct ScriptOptions {
  std::vector<std::string> files;
  std::vector<std::string> set;  // name=value, as header options
  // The header options also given directly: --tolerance_usecs=N ...
  std::vector<std::pair<std::string, std::string>> direct;
  bool verbose = false;
  bool expand = false;
};

int run_script_command(const ScriptOptions& o) {
  if (o.expand) {  // the scripts as packetdrill must be given them: includes inlined
    for (const std::string& f : o.files) {
      const auto text = script::expand_includes(f);
      if (!text) {
        std::cerr << "utcp script: " << f << ':' << text.error().line << ": " << text.error().message << '\n';
        return 1;
      }
      std::cout << *text;
    }
    return 0;
  }
  script::RunOptions options;
  for (const std::string& s : o.set) {
    const std::size_t eq = s.find('=');
    options.overrides.push_back({0, s.substr(0, eq), eq == std::string::npos ? "" : s.substr(eq + 1)});
  }
  for (const auto& [name, value] : o.direct) options.overrides.push_back({0, name, value});
  if (o.verbose) options.trace = &std::cerr;
  const script::Summary sum = script::run_files(o.files, options, std::cout);
  return sum.failed == 0 ? 0 : 1;
}

const Registration reg{{"script", "Run packetdrill-syntax scripts against the stack on a virtual clock",
                        [](CLI::App& cmd) -> Run {
                          auto opts = std::make_shared<ScriptOptions>();
                          cmd.add_option("files", opts->files, "Script files (.pkt)")->required();
                          cmd.add_option("--set", opts->set,
                                         "A header option for every script, after its own: "
                                         "--set tolerance_usecs=10000 (repeatable)")
                              ->allow_extra_args(false);
                          for (const char* name : {"tolerance_usecs", "tolerance_percent", "local_ip",
                                                   "remote_ip", "mss", "mtu", "ip_version"}) {
                            cmd.add_option_function<std::string>(
                                std::string("--") + name,
                                [opts, name](const std::string& v) { opts->direct.emplace_back(name, v); },
                                "Header option for every script (overrides the script's own)");
                          }
                          cmd.add_flag("--expand", opts->expand,
                                       "Print the scripts with their //@include lines inlined (for "
                                       "packetdrill), run nothing");
                          cmd.add_flag("-v,--verbose", opts->verbose,
                                       "Trace every event and every segment the stack sends (stderr)");
                          return [opts] { return run_script_command(*opts); };
                        }}};

}  // namespace
}  // namespace utcp::apps
