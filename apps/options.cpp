#include "options.hpp"

#include <cmath>
#include <cstdlib>

#include "utcp/config.hpp"

namespace utcp::apps {

CLI::Validator percent() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        std::string number = text;
        while (!number.empty() && number.back() == ' ') number.pop_back();
        if (!number.empty() && number.back() == '%') number.pop_back();
        while (!number.empty() && number.back() == ' ') number.pop_back();
        char* end = nullptr;
        const double v = number.empty() ? NAN : std::strtod(number.c_str(), &end);
        if (number.empty() || end != number.c_str() + number.size() || std::isnan(v))
          return "expected a percentage such as 2 or 2%, not '" + text + "'";
        if (v < 0 || v > 100) return "a percentage from 0 to 100, not " + text;
        text = number;
        return {};
      },
      "PERCENT");
}

CLI::Validator congestion_control_name() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        if (congestion_control_from(text)) return {};
        return "expected reno, cubic or bbr, not '" + text + "'";
      },
      "reno|cubic|bbr");
}

}  // namespace utcp::apps
