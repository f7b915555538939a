// Timers (RFC 9293 §3.8; NetSem timer_tt_* rules): each one a deadline in the Tcb. `timer`
// visits only the connections with a deadline due (PersistentMap::update_due), never the
// idle ones (µTCP fault 9).
//
// | timer       | on expiry                                                  | RFC              |
// |-------------|------------------------------------------------------------|------------------|
// | retransmit  | back off, resend (SYN, SYN-ACK or data), cc.on_rto; give up | RFC 6298 §5, 5681|
// |             | after Config::max_retransmits: RST (not from SYN-SENT)     |                  |
// | persist     | zero-window probe with backoff (never gives up while the   | §3.8.6.1         |
// |             | peer answers), or the sender SWS override                  | §3.8.6.2.1       |
// | delayed_ack | send the owed ACK                                          | §3.8.6.3         |
// | keepalive   | probe after idle, every interval, give up after count      | §3.8.4           |
// | lifetime    | connection establishment / FIN-WAIT-2 / 2 MSL in TIME-WAIT | §3.10.7, the seed|
// | pacing      | a paced flow's next segment is due: output                 | BBR draft, pacing|
// | loss_probe  | RACK reordering timeout: mark, recover; or a Tail Loss Probe| RFC 8985 §6, §7  |
#include <algorithm>

#include "stack/engine.hpp"

namespace utcp::detail {

void on_time_wait(Ctx& c, Tcb& t) {
  if (t.state != TcpState::time_wait) c.e.enter(t, TcpState::time_wait);
  t.disarm(Timer::retransmit);
  t.disarm(Timer::persist);
  t.disarm(Timer::keepalive);
  t.disarm(Timer::pacing);
  t.arm(Timer::lifetime, c.now + 2 * c.cfg.msl);
}

namespace {

struct Due {
  Ctx& c;
  Tcb& t;
  TimerDropSink drops;

  bool due(Timer which) const { return t.timer(which) <= c.now; }

  void end(TimerError err, bool reset) {
    if (reset) send_rst(c, t);
    if (t.open.user_knows) drops.put(drops.ctx, EngineTimerDrop{c.flow, err, t.notifies});
    c.remove = true;
    c.dropped = err != TimerError::timer_2msl;
  }

  void lifetime() {
    t.disarm(Timer::lifetime);
    switch (t.state) {
      case TcpState::syn_sent:
      case TcpState::syn_received:
        return end(TimerError::timer_connection_established, false);
      case TcpState::fin_wait_2:
        return end(TimerError::timer_fin_wait_2, false);
      case TcpState::time_wait:
        return end(TimerError::timer_2msl, false);
      default:
        return;
    }
  }

  void retransmit() {
    t.disarm(Timer::retransmit);
    const bool handshake = t.state == TcpState::syn_sent || t.state == TcpState::syn_received;
    if (!handshake && t.flight() == 0) return;
    if (!handshake && t.snd_wnd == 0) {
      // The peer closed its window with data outstanding: the retransmission is a window
      // probe (§3.8.6.1), given up only when unanswered (like the persist timer).
      if (t.probes() >= c.cfg.max_retransmits) return end(TimerError::retransmission_exceeded, true);
      ++t.counts().probes;
      ++c.e.stats.rto_events;
      t.rtt.backoff();
      t.stop_rtt_timing();
      retransmit_first(c, t);
      arm_retransmit(c, t);
      return;
    }
    if (t.retransmits() >= c.cfg.max_retransmits) {
      return end(TimerError::retransmission_exceeded, t.state != TcpState::syn_sent);
    }
    ++t.counts().retransmits;
    ++c.e.stats.rto_events;
    t.rtt.backoff();
    t.stop_rtt_timing();  // Karn
    if (handshake) {
      t.open.syn_retransmitted = true;
      ++c.e.stats.retransmits_rto;
      send_syn(c, t);
      return;
    }
    // RFC 5681 §3.1 on a timeout; go back to SND.UNA and resend what cwnd (one SMSS) allows,
    // at least the first segment whatever sender SWS avoidance would say.
    loss_on_timeout(c, t);  // RFC 2018 §8, RFC 8985 §6.3 (SACK connections)
    t.cc.on_rto(c.now, t.flight(), t.smss, t.snd_max);
    t.snd_nxt = t.snd_una;
    output_forced(c, t);
    if (t.snd_nxt == t.snd_una) retransmit_first(c, t);
    if (!t.armed(Timer::retransmit)) arm_retransmit(c, t);
  }

  void persist() {
    t.disarm(Timer::persist);
    if (!t.synchronized()) return;
    if (t.snd_wnd > 0) {
      output_forced(c, t);  // §3.8.6.2.1 override: the window is open but small
      return;
    }
    // §3.8.6.1: probe the zero window for as long as the peer answers; `probes` counts the
    // unanswered ones (any acceptable segment from the peer resets it).
    if (t.probes() >= c.cfg.max_retransmits) return end(TimerError::retransmission_exceeded, true);
    ++t.counts().probes;
    send_window_probe(c, t);
    ++t.counts().persist_backoff;
    t.arm(Timer::persist, c.now + next_persist_interval(c, t));
  }

  void keepalive() {
    t.disarm(Timer::keepalive);
    if (!t.user.keepalive || t.state != TcpState::established) return;
    if (c.now - t.last_recv < t.keepalive_idle(c.cfg)) {
      t.clear(&TimerSet::keepalive_sent);
      t.arm(Timer::keepalive, t.last_recv + t.keepalive_idle(c.cfg));
      return;
    }
    if (t.keepalive_sent() >= t.keepalive_count(c.cfg)) return end(TimerError::retransmission_exceeded, true);
    ++t.counts().keepalive_sent;
    send_keepalive_probe(c, t);
    t.arm(Timer::keepalive, c.now + t.keepalive_interval(c.cfg));
  }

  void run() {
    if (due(Timer::lifetime)) lifetime();
    if (c.remove) return;
    if (due(Timer::retransmit)) retransmit();
    if (c.remove) return;
    if (due(Timer::persist)) persist();
    if (c.remove) return;
    if (due(Timer::loss_probe)) loss_probe_timer(c, t);  // RFC 8985 §6.2 step 5, §7.3
    if (due(Timer::keepalive)) keepalive();
    if (c.remove) return;
    if (due(Timer::pacing)) {
      // A paced flow's next segment is due (draft-ietf-ccwg-bbr "Pacing rate"): output reads
      // the deadline as the time it was due, then re-arms or disarms it.
      output(c, t);
      if (due(Timer::pacing)) t.disarm(Timer::pacing);
    }
    if (due(Timer::delayed_ack)) {
      t.disarm(Timer::delayed_ack);
      if (t.ack_owed.delayed || t.ack_owed.now) send_ack(c, t);
    }
  }
};

}  // namespace

void engine_timer(Engine& e, Instant now, TimerDropSink drops, std::vector<Output>& out) {
  e.tcbs.update_due(now, [&](const Flow& flow, Tcb& t) -> bool {
    Ctx c(e, now, flow, out);
    Due{c, t, drops}.run();
    if (!c.remove) return true;
    e.retire(flow, t, c.dropped);
    return false;
  });
}

}  // namespace utcp::detail
