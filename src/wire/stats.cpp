// Names of drop reasons, input rules and TCP states, and the Stats printer.
#include "utcp/stats.hpp"

#include <numeric>

namespace utcp {

std::string_view to_string(DropReason r) {
  switch (r) {
    case DropReason::decode:
      return "decode";
    case DropReason::no_connection:
      return "no_connection";
    case DropReason::listen_bad_segment:
      return "listen_bad_segment";
    case DropReason::backlog_full:
      return "backlog_full";
    case DropReason::table_full:
      return "table_full";
    case DropReason::not_acceptable:
      return "not_acceptable";
    case DropReason::bad_ack:
      return "bad_ack";
    case DropReason::rst_out_of_window:
      return "rst_out_of_window";
    case DropReason::rst_challenged:
      return "rst_challenged";
    case DropReason::syn_challenged:
      return "syn_challenged";
    case DropReason::no_ack:
      return "no_ack";
    case DropReason::ooo_limit:
      return "ooo_limit";
    case DropReason::after_shutdown:
      return "after_shutdown";
    case DropReason::paws:
      return "paws";
    case DropReason::count_:
      break;
  }
  return "unknown";
}

std::string_view to_string(InputRule r) {
  switch (r) {
    case InputRule::closed:
      return "closed";
    case InputRule::listen_rst:
      return "listen_rst";
    case InputRule::listen_ack:
      return "listen_ack";
    case InputRule::listen_cookie_refused:
      return "listen_cookie_refused";
    case InputRule::listen_syn:
      return "listen_syn";
    case InputRule::listen_syn_cookie:
      return "listen_syn_cookie";
    case InputRule::listen_syn_refused:
      return "listen_syn_refused";
    case InputRule::listen_other:
      return "listen_other";
    case InputRule::syn_sent_bad_ack:
      return "syn_sent_bad_ack";
    case InputRule::syn_sent_rst:
      return "syn_sent_rst";
    case InputRule::syn_sent_no_syn:
      return "syn_sent_no_syn";
    case InputRule::syn_sent_syn_ack:
      return "syn_sent_syn_ack";
    case InputRule::syn_sent_syn:
      return "syn_sent_syn";
    case InputRule::time_wait_reopen:
      return "time_wait_reopen";
    case InputRule::paws:
      return "paws";
    case InputRule::syn_received_syn:
      return "syn_received_syn";
    case InputRule::unacceptable:
      return "unacceptable";
    case InputRule::unacceptable_rst:
      return "unacceptable_rst";
    case InputRule::rst:
      return "rst";
    case InputRule::rst_challenged:
      return "rst_challenged";
    case InputRule::rst_ignored:
      return "rst_ignored";
    case InputRule::syn_challenged:
      return "syn_challenged";
    case InputRule::syn_received_passive_syn:
      return "syn_received_passive_syn";
    case InputRule::no_ack:
      return "no_ack";
    case InputRule::syn_received_bad_ack:
      return "syn_received_bad_ack";
    case InputRule::ack_unacceptable:
      return "ack_unacceptable";
    case InputRule::closing_fin_acked:
      return "closing_fin_acked";
    case InputRule::last_ack_fin_acked:
      return "last_ack_fin_acked";
    case InputRule::text_after_close:
      return "text_after_close";
    case InputRule::accepted:
      return "accepted";
    case InputRule::count_:
      break;
  }
  return "unknown";
}

std::string_view to_string(TcpState s) {
  switch (s) {
    case TcpState::closed:
      return "CLOSED";
    case TcpState::listen:
      return "LISTEN";
    case TcpState::syn_sent:
      return "SYN-SENT";
    case TcpState::syn_received:
      return "SYN-RECEIVED";
    case TcpState::established:
      return "ESTABLISHED";
    case TcpState::fin_wait_1:
      return "FIN-WAIT-1";
    case TcpState::fin_wait_2:
      return "FIN-WAIT-2";
    case TcpState::close_wait:
      return "CLOSE-WAIT";
    case TcpState::closing:
      return "CLOSING";
    case TcpState::last_ack:
      return "LAST-ACK";
    case TcpState::time_wait:
      return "TIME-WAIT";
    case TcpState::count_:
      break;
  }
  return "UNKNOWN";
}

std::ostream& operator<<(std::ostream& os, TcpState s) {
  return os << to_string(s);
}

std::uint64_t Stats::total_drops() const {
  return std::accumulate(drops.begin(), drops.end(), std::uint64_t{0});
}

std::ostream& operator<<(std::ostream& os, const Stats& s) {
  auto line = [&os](std::string_view name, std::uint64_t v) {
    if (v != 0) os << name << ' ' << v << '\n';
  };
  line("segments_in", s.segments_in);
  line("segments_predicted", s.segments_predicted);
  line("segments_out", s.segments_out);
  line("bytes_in", s.bytes_in);
  line("bytes_out", s.bytes_out);
  line("retransmits_rto", s.retransmits_rto);
  line("retransmits_fast", s.retransmits_fast);
  line("rto_events", s.rto_events);
  line("dup_acks", s.dup_acks);
  line("paws_disordered_acks", s.paws_disordered_acks);
  line("tail_loss_probes", s.tail_loss_probes);
  line("dsacks_received", s.dsacks_received);
  line("dsacks_sent", s.dsacks_sent);
  line("sack_blocks_ignored", s.sack_blocks_ignored);
  line("recoveries_undone", s.recoveries_undone);
  line("challenge_acks", s.challenge_acks);
  line("challenge_acks_suppressed", s.challenge_acks_suppressed);
  line("resets_sent", s.resets_sent);
  line("resets_received", s.resets_received);
  line("zero_window_probes", s.zero_window_probes);
  line("keepalive_probes", s.keepalive_probes);
  line("connections_opened_active", s.connections_opened_active);
  line("connections_opened_passive", s.connections_opened_passive);
  line("connections_established", s.connections_established);
  line("connections_closed", s.connections_closed);
  line("connections_dropped", s.connections_dropped);
  line("syn_cookies_sent", s.syn_cookies_sent);
  line("syn_cookies_accepted", s.syn_cookies_accepted);
  line("syn_cookies_rejected", s.syn_cookies_rejected);
  for (std::size_t i = 0; i < s.drops.size(); ++i) {
    if (s.drops[i] != 0) os << "drop." << to_string(static_cast<DropReason>(i)) << ' ' << s.drops[i] << '\n';
  }
  for (std::size_t i = 0; i < s.decode_errors.size(); ++i) {
    if (s.decode_errors[i] == 0) continue;
    os << "decode_error.";
    // Indexes past the last DecodeError are still printed, by number.
    if (i <= static_cast<std::size_t>(DecodeError::address_family_mismatch)) {
      os << to_string(static_cast<DecodeError>(i));
    } else {
      os << i;
    }
    os << ' ' << s.decode_errors[i] << '\n';
  }
  for (std::size_t i = 0; i < s.connections_by_state.size(); ++i) {
    if (s.connections_by_state[i] != 0) {
      os << "state." << to_string(static_cast<TcpState>(i)) << ' ' << s.connections_by_state[i] << '\n';
    }
  }
  return os;
}

}  // namespace utcp
