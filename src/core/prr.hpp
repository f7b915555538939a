// Proportional Rate Reduction (RFC 6937): how much a sender in loss recovery may send on each
// ACK, so that by the end of recovery the data in flight has come down to ssthresh smoothly
// (no half-RTT silence, no burst), with the Slow Start Reduction Bound once pipe falls below
// ssthresh.
#pragma once

#include <cstdint>

namespace utcp::detail {

struct Prr {
  std::uint32_t recover_fs = 0;  // RecoverFS: FlightSize at the start of recovery
  std::uint32_t delivered = 0;   // prr_delivered
  std::uint32_t out = 0;         // prr_out

  // §3, on entering recovery.
  void start(std::uint32_t flight) {
    recover_fs = flight;
    delivered = 0;
    out = 0;
  }
  // §3, on every ACK in recovery: `delivered_data` bytes newly delivered by it (cumulatively
  // or by SACK), `pipe` after it (RFC 6675). Returns sndcnt, the bytes it allows now.
  std::uint32_t on_ack(std::uint32_t delivered_data, std::uint32_t pipe, std::uint32_t ssthresh,
                       std::uint32_t smss);
  // §3, on any transmission in recovery.
  void sent(std::uint32_t bytes) { out += bytes; }

  friend bool operator==(const Prr&, const Prr&) = default;
};

}  // namespace utcp::detail
