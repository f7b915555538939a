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
  paws,                // RFC 7323 §5.3 R1: a timestamp older than TS.Recent (answered with ACK)
  count_
};
std::string_view to_string(DropReason);

// The input rule that decided what became of a segment (docs/rules.md maps each to its RFC
// section and function). Every segment that decodes is counted under one; a SYN that ends
// TIME-WAIT (time_wait_reopen) is counted again under the listener's rule that takes it.
enum class InputRule : std::uint8_t {
  closed,                    // §3.10.7.1: no connection, no listener: RST unless an RST
  listen_rst,                // §3.10.7.2 first: an RST at a listener, ignored
  listen_ack,                // §3.10.7.2 second: an ACK (not a valid cookie) draws an RST
  listen_cookie_refused,     // RFC 4987: a valid cookie with the connection table full
  listen_syn,                // §3.10.7.2 third: a SYN opens a flow in SYN-RECEIVED
  listen_syn_cookie,         // RFC 4987 §3.6: the backlog is full, a cookie SYN-ACK answers
  listen_syn_refused,        // the backlog or the connection table is full: dropped
  listen_other,              // §3.10.7.2 fourth: neither RST, ACK nor SYN
  syn_sent_bad_ack,          // §3.10.7.3 first: an ACK outside (ISS, SND.MAX] draws an RST
  syn_sent_rst,              // §3.10.7.3 second: refused with an acceptable ACK, else ignored
  syn_sent_no_syn,           // §3.10.7.3 fifth: neither SYN nor RST: dropped
  syn_sent_syn_ack,          // §3.10.7.3 fourth: a SYN-ACK: ESTABLISHED
  syn_sent_syn,              // §3.10.7.3 fourth: a SYN alone: simultaneous open, SYN-RECEIVED
  time_wait_reopen,          // RFC 6191: a SYN above the old sequence space goes to the listener
  paws,                      // RFC 7323 §5.3 R1: a timestamp older than TS.Recent: ACK, dropped
  syn_received_syn,          // the peer's SYN again in SYN-RECEIVED: the SYN-ACK again
  unacceptable,              // §3.10.7.4 first: not acceptable: ACK (TIME-WAIT: 2 MSL again)
  unacceptable_rst,          // §3.10.7.4 first: an unacceptable RST, dropped silently
  rst,                       // §3.10.7.4 second: an RST at RCV.NXT ends the connection
  rst_challenged,            // RFC 5961 §3.2: an RST elsewhere in the window: challenge ACK
  rst_ignored,               // RFC 1337 §3: an RST in TIME-WAIT while the user may still read
  syn_challenged,            // §3.10.7.4 fourth, RFC 5961 §4.2: a SYN: challenge ACK
  syn_received_passive_syn,  // §3.10.7.4 fourth: a SYN in SYN-RECEIVED from a passive open
  no_ack,                    // §3.10.7.4 fifth: no ACK bit: dropped
  syn_received_bad_ack,      // §3.10.7.4 fifth: SYN-RECEIVED, an ACK not of our SYN: RST
  ack_unacceptable,          // RFC 5961 §5.2: an ACK outside [SND.UNA - MAX.SND.WND, SND.MAX]
  closing_fin_acked,         // §3.10.7.4 fifth: CLOSING, our FIN acknowledged: TIME-WAIT
  last_ack_fin_acked,        // §3.10.7.4 fifth: LAST-ACK, our FIN acknowledged: CLOSED
  text_after_close,          // RFC 1122 §4.2.2.13: text after CLOSE: RST
  accepted,                  // §3.10.7.4 fifth to eighth ran: ACK, text, FIN taken
  count_
};
std::string_view to_string(InputRule);

enum class TcpState : std::uint8_t {
  closed,
  listen,
  syn_sent,
  syn_received,
  established,
  fin_wait_1,
  fin_wait_2,
  close_wait,
  closing,
  last_ack,
  time_wait,
  count_
};
std::string_view to_string(TcpState);  // "ESTABLISHED", ...
std::ostream& operator<<(std::ostream&, TcpState);

struct Stats {
  std::uint64_t segments_in = 0;
  std::uint64_t segments_predicted = 0;  // of segments_in, taken by header prediction (Config::header_prediction)
  std::uint64_t segments_out = 0;
  std::uint64_t bytes_in = 0;          // payload bytes accepted in order
  std::uint64_t bytes_out = 0;         // payload bytes sent, first transmissions and retransmissions
  std::uint64_t retransmits_rto = 0;   // segments resent by the retransmission timer
  std::uint64_t retransmits_fast = 0;  // segments resent by fast retransmit / recovery
  std::uint64_t rto_events = 0;        // retransmission timer expiries
  std::uint64_t dup_acks = 0;
  std::uint64_t paws_disordered_acks = 0;  // duplicate ACKs older than TS.Recent let through PAWS (deviations.md)
  std::uint64_t tail_loss_probes = 0;     // RFC 8985 §7.3 probes sent
  std::uint64_t dsacks_received = 0;      // ACKs whose first SACK block was a DSACK (RFC 2883)
  std::uint64_t dsacks_sent = 0;          // ACKs we sent with a DSACK block
  std::uint64_t sack_blocks_ignored = 0;  // SACK blocks outside [SND.UNA, SND.MAX] (RFC 2018)
  std::uint64_t recoveries_undone = 0;    // congestion responses undone as spurious (RFC 3708/3522, RFC 4015)
  std::uint64_t challenge_acks = 0;
  std::uint64_t challenge_acks_suppressed = 0;  // held back by the rate limit
  std::uint64_t resets_sent = 0;
  std::uint64_t resets_received = 0;
  std::uint64_t zero_window_probes = 0;
  std::uint64_t keepalive_probes = 0;
  std::uint64_t connections_opened_active = 0;
  std::uint64_t connections_opened_passive = 0;
  std::uint64_t connections_established = 0;
  std::uint64_t connections_closed = 0;    // reached CLOSED from any state
  std::uint64_t connections_dropped = 0;   // reset or timed out
  std::uint64_t syn_cookies_sent = 0;      // SYN-ACKs with a cookie ISN (RFC 4987 §3.6), backlog full
  std::uint64_t syn_cookies_accepted = 0;  // ACKs at a listener that validated as a cookie: a flow
  std::uint64_t syn_cookies_rejected = 0;  // ACKs at a listener that did not (answered with RST)
  std::array<std::uint64_t, static_cast<std::size_t>(DropReason::count_)> drops{};
  std::array<std::uint64_t, 16> decode_errors{};  // indexed by DecodeError
  std::array<std::uint64_t, static_cast<std::size_t>(TcpState::count_)> connections_by_state{};
  std::array<std::uint64_t, static_cast<std::size_t>(InputRule::count_)>
      rules{};  // segments each rule decided

  std::uint64_t drop(DropReason r) const { return drops[static_cast<std::size_t>(r)]; }
  std::uint64_t rule(InputRule r) const { return rules[static_cast<std::size_t>(r)]; }
  std::uint64_t decode_error(DecodeError e) const { return decode_errors[static_cast<std::size_t>(e)]; }
  std::uint64_t total_drops() const;
};
// One "name value" line per non-zero counter.
std::ostream& operator<<(std::ostream&, const Stats&);

}  // namespace utcp
