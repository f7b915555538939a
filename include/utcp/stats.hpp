// Counters a stack keeps, for tools to print and tests to check.
#pragma once

#include <array>
#include <cstdint>
#include <ostream>
#include <string_view>

#include "utcp/error.hpp"

namespace utcp {

// Why an incoming segment was dropped (beyond decode failures, counted by DecodeError).
enum class DropReason : std::uint8_t {
  decode,              // Segment::decode refused it (see decode_errors)
  no_connection,       // no flow and no listener (answered with RST unless it was an RST)
  listen_bad_segment,  // at LISTEN: an RST, an ACK (answered with RST) or no SYN
  backlog_full,        // SYN beyond a listening port's backlog
  table_full,          // SYN while the connection table is at its limit
  not_acceptable,      // sequence number outside the window (answered with ACK)
  bad_ack,             // RFC 5961 §5.2 ACK validation failed, or SYN-SENT ACK out of range
  rst_out_of_window,   // RST whose sequence is outside the window
  rst_challenged,      // RST in window but not at RCV.NXT (challenge ACK)
  syn_challenged,      // SYN in a synchronized state (challenge ACK)
  no_ack,              // synchronized state, segment without ACK
  ooo_limit,           // out-of-order data beyond the range limit
  after_shutdown,      // data after the read side was closed (answered with RST)
  count_
};
std::string_view to_string(DropReason);

enum class TcpState : std::uint8_t {
  closed, listen, syn_sent, syn_received, established, fin_wait_1, fin_wait_2,
  close_wait, closing, last_ack, time_wait, count_
};
std::string_view to_string(TcpState);  // "ESTABLISHED", ...
std::ostream& operator<<(std::ostream&, TcpState);

struct Stats {
  std::uint64_t segments_in = 0;
  std::uint64_t segments_out = 0;
  std::uint64_t bytes_in = 0;   // payload bytes accepted in order
  std::uint64_t bytes_out = 0;  // payload bytes sent, first transmissions and retransmissions
  std::uint64_t retransmits_rto = 0;   // segments resent by the retransmission timer
  std::uint64_t retransmits_fast = 0;  // segments resent by fast retransmit / recovery
  std::uint64_t rto_events = 0;        // retransmission timer expiries
  std::uint64_t dup_acks = 0;
  std::uint64_t challenge_acks = 0;
  std::uint64_t challenge_acks_suppressed = 0;  // held back by the rate limit
  std::uint64_t resets_sent = 0;
  std::uint64_t resets_received = 0;
  std::uint64_t zero_window_probes = 0;
  std::uint64_t keepalive_probes = 0;
  std::uint64_t connections_opened_active = 0;
  std::uint64_t connections_opened_passive = 0;
  std::uint64_t connections_established = 0;
  std::uint64_t connections_closed = 0;  // reached CLOSED from any state
  std::uint64_t connections_dropped = 0;  // reset or timed out
  std::uint64_t syn_cookies_sent = 0;      // SYN-ACKs with a cookie ISN (RFC 4987 §3.6), backlog full
  std::uint64_t syn_cookies_accepted = 0;  // ACKs at a listener that validated as a cookie: a flow
  std::uint64_t syn_cookies_rejected = 0;  // ACKs at a listener that did not (answered with RST)
  std::array<std::uint64_t, static_cast<std::size_t>(DropReason::count_)> drops{};
  std::array<std::uint64_t, 16> decode_errors{};  // indexed by DecodeError
  std::array<std::uint64_t, static_cast<std::size_t>(TcpState::count_)> connections_by_state{};

  std::uint64_t drop(DropReason r) const { return drops[static_cast<std::size_t>(r)]; }
  std::uint64_t decode_error(DecodeError e) const { return decode_errors[static_cast<std::size_t>(e)]; }
  std::uint64_t total_drops() const;
};
// One "name value" line per non-zero counter.
std::ostream& operator<<(std::ostream&, const Stats&);

}  // namespace utcp
