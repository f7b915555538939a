// The `utcp` tool: builds its command line from the registered subcommands (command.hpp).
#include <algorithm>
#include <cstring>
#include <exception>
#include <iostream>
#include <string>
#include <utility>
#include <vector>

#include "command.hpp"

namespace utcp::apps {

std::vector<Command>& commands() {
  static std::vector<Command> all;  // a function-local static: safe from initialisation order
  return all;
}

}  // namespace utcp::apps

int main(int argc, char** argv) {
  using namespace utcp::apps;
  CLI::App app{"utcp: a user-space TCP stack (RFC 9293) as a pure state machine", "utcp"};
  app.require_subcommand(1, 1);
  app.set_version_flag("--version", std::string("utcp ") + UTCP_VERSION);

  std::vector<Command> sorted = commands();
  std::sort(sorted.begin(), sorted.end(), [](const Command& a, const Command& b) { return a.name < b.name; });
  std::vector<std::pair<CLI::App*, Run>> runs;
  for (const Command& c : sorted) {
    CLI::App* sub = app.add_subcommand(c.name, c.description);
    runs.emplace_back(sub, c.setup(*sub));
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // A usage error: one line, exit 2 as Unix tools do, and the --help that explains it.
    std::string where = "utcp";
    for (const CLI::App* sub : app.get_subcommands()) where += " " + sub->get_name();
    std::string what = e.what();
    if (app.get_subcommands().empty() && argc > 1 && argv[1][0] != '-')
      what = std::string("unknown subcommand '") + argv[1] + "'";
    std::cerr << where << ": " << what << " (see " << where << " --help)\n";
    return 2;
  }

  for (auto& [sub, run] : runs) {
    if (!sub->parsed()) continue;
    try {
      return run();
    } catch (const CommandError& e) {
      std::cerr << "utcp " << sub->get_name() << ": " << e.what();
      if (e.code == 2) std::cerr << " (see utcp " << sub->get_name() << " --help)";
      std::cerr << "\n";
      return e.code;
    } catch (const std::exception& e) {
      std::cerr << "utcp " << sub->get_name() << ": " << e.what() << "\n";
      return 1;
    }
  }
  std::cerr << "utcp: no subcommand given (see utcp --help)\n";
  return 2;
}
