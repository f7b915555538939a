// NewReno congestion control (RFC 5681, RFC 6582, RFC 3465, RFC 3042).
#include "core/congestion.hpp"

#include <algorithm>

namespace utcp::detail {

namespace {
std::uint32_t half_flight(std::uint32_t flight, std::uint32_t smss) {
  // RFC 5681 §3.1 equation 4: ssthresh = max(FlightSize / 2, 2*SMSS).
  return std::max(flight / 2, 2 * smss);
}
}  // namespace

NewReno::Action NewReno::on_new_ack(Seq ack, std::uint32_t acked, std::uint32_t flight_before,
                                    std::uint32_t smss) {
  if (in_recovery) {
    if (ack > recover || ack == recover) {
      // RFC 6582 §3.2 step 3, full acknowledgment: deflate the window.
      const std::uint32_t flight_after = flight_before > acked ? flight_before - acked : 0;
      cwnd = std::min(ssthresh, std::max(flight_after, smss) + smss);
      in_recovery = false;
      dupacks = 0;
      bytes_acked = 0;
      return Action::none;
    }
    // RFC 6582 §3.2 step 4, partial acknowledgment: retransmit the first unacknowledged
    // segment, deflate by the amount acknowledged, add back one SMSS if that was >= SMSS.
    cwnd = cwnd > acked ? cwnd - acked : 0;
    if (acked >= smss) cwnd += smss;
    cwnd = std::max(cwnd, smss);
    return Action::retransmit_first;
  }
  dupacks = 0;
  if (cwnd < ssthresh) {
    // RFC 5681 §3.1 slow start with RFC 3465 §2.2 byte counting, L = 2*SMSS.
    cwnd += std::min(acked, 2 * smss);
  } else {
    // RFC 5681 §3.1 congestion avoidance, RFC 3465 §2.1: one SMSS per cwnd of bytes acked.
    bytes_acked += acked;
    if (bytes_acked >= cwnd) {
      bytes_acked -= cwnd;
      cwnd += smss;
    }
  }
  return Action::none;
}

NewReno::Action NewReno::on_dup_ack(Seq ack, std::uint32_t flight, std::uint32_t smss, Seq snd_max) {
  ++dupacks;
  if (in_recovery) {
    // RFC 6582 §3.2 step 5 (RFC 5681 §3.2 step 4): inflate by one SMSS per further dup ACK.
    cwnd += smss;
    return Action::none;
  }
  if (dupacks < 3) return Action::none;  // RFC 3042 limited transmit covers these
  if (dupacks > 3) return Action::none;
  // RFC 6582 §3.2 step 2: only when the ACK covers more than `recover` (no recovery episode
  // started from data sent before the last one).
  if (!(ack > recover)) return Action::none;
  ssthresh = half_flight(flight, smss);
  recover = snd_max;
  cwnd = ssthresh + 3 * smss;
  in_recovery = true;
  bytes_acked = 0;
  return Action::retransmit_first;
}

void NewReno::on_rto(std::uint32_t flight, std::uint32_t smss, Seq snd_max) {
  // RFC 5681 §3.1: ssthresh from the flight size, cwnd = loss window = 1 SMSS. No "undo"
  // on the next ACK (µTCP fault 6).
  ssthresh = half_flight(flight, smss);
  cwnd = smss;
  bytes_acked = 0;
  dupacks = 0;
  in_recovery = false;
  recover = snd_max;  // RFC 6582 §4
}

}  // namespace utcp::detail
