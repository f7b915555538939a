// Names of the state layer's enums.
#include <ostream>

#include "utcp/state.hpp"

namespace utcp {

std::string_view to_string(TimerError e) {
  switch (e) {
    case TimerError::retransmission_exceeded:
      return "retransmission_exceeded";
    case TimerError::timer_2msl:
      return "timer_2msl";
    case TimerError::timer_connection_established:
      return "timer_connection_established";
    case TimerError::timer_fin_wait_2:
      return "timer_fin_wait_2";
  }
  return "unknown";
}

std::ostream& operator<<(std::ostream& os, TimerError e) {
  return os << to_string(e);
}

}  // namespace utcp
