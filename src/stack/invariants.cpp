// check_invariants: the control-block invariants, over every flow.
#include <sstream>

#include "stack/engine.hpp"

namespace utcp::detail {

namespace {

std::optional<std::string> check(const Engine& e, const Tcb& t) {
  const Config& cfg = e.cfg();
  if (t.state == TcpState::closed || t.state == TcpState::listen)
    return "a CLOSED or LISTEN control block in the table";
  if (!(t.snd_una <= t.snd_nxt)) return "SND.UNA > SND.NXT";
  if (!(t.snd_nxt <= t.snd_max)) return "SND.NXT > SND.MAX";
  if (t.flight() > t.sndq.size() + 2) return "more in flight than queued (plus SYN and FIN)";
  if (t.state != TcpState::syn_sent && !(t.rcv_nxt <= t.rcv_adv))
    return "the advertised right edge is left of RCV.NXT (window shrunk)";
  if (t.ooo().ranges() > cfg.max_ooo_ranges) return "more out-of-order ranges than Config::max_ooo_ranges";
  const std::size_t slack = std::size_t{1} << t.rcv_wscale;
  if (t.rcvq.size() + t.ooo().bytes() > std::size_t{t.recv_buffer} + slack + 0xffff)
    return "receive queues beyond the receive buffer";
  // Timers consistent with the state.
  if (t.state == TcpState::time_wait && !t.armed(Timer::lifetime)) return "TIME-WAIT without its 2 MSL timer";
  if ((t.state == TcpState::syn_sent || t.state == TcpState::syn_received) && !t.armed(Timer::retransmit))
    return "handshake without a retransmission timer";
  const bool probing = t.probing_zero_window() && t.armed(Timer::persist);
  if (t.synchronized() && t.state != TcpState::time_wait && t.flight() > 0 && !t.armed(Timer::retransmit) &&
      !probing)
    return "data in flight without a retransmission timer";
  if (t.synchronized() && t.flight() == 0 && t.armed(Timer::retransmit))
    return "retransmission timer armed with nothing in flight";
  if (t.state == TcpState::time_wait && (t.armed(Timer::retransmit) || t.armed(Timer::persist)))
    return "TIME-WAIT with a retransmission or persist timer";
  if (t.fin_received() && t.state == TcpState::established) return "FIN received but ESTABLISHED";
  if (t.loss) {
    // The SACK scoreboard covers [SND.UNA, SND.MAX) exactly (RFC 6675 §3), totals consistent.
    const Scoreboard& b = t.loss->board;
    if (auto why = b.check(); !why.empty()) return why;
    if (!b.empty() && (b.front().begin != t.snd_una || b.back().end != t.snd_max))
      return "the scoreboard does not cover [SND.UNA, SND.MAX)";
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> engine_check_invariants(const Engine& e) {
  std::optional<std::string> first;
  e.tcbs.for_each([&](const Flow& f, const Tcb& t) {
    if (first) return;
    if (auto v = check(e, t)) {
      std::ostringstream os;
      os << f << " (" << t.state << "): " << *v;
      first = os.str();
    }
  });
  if (first) return first;
  std::uint64_t counted = 0;
  for (std::size_t s = 0; s < e.stats.connections_by_state.size(); ++s) {
    if (s != static_cast<std::size_t>(TcpState::closed) && s != static_cast<std::size_t>(TcpState::listen))
      counted += e.stats.connections_by_state[s];
  }
  if (counted != e.tcbs.size()) return "Stats::connections_by_state does not add up to the table size";
  return std::nullopt;
}

}  // namespace utcp::detail
