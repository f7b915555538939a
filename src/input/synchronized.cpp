// Call chain: engine_handle_buf (dispatch.cpp) -> input_synchronized -> acceptable, trim_to_window,
//   check_rst -> process_ack (ack.cpp) -> process_text_and_fin (text.cpp) -> output (output/).
//
// Segment arrival once our SYN is out and the peer's is known: SYN-RECEIVED and every
// synchronized state (RFC 9293 §3.10.7.4 "Other states"; NetSem deliver_in_3 and the
// deliver_in_7/8 RST and SYN rules), with RFC 5961's blind-attack mitigations.
#include <algorithm>
#include <chrono>

#include "stack/engine.hpp"

namespace utcp::detail {

namespace {

bool in_window(Seq x, Seq lo, std::uint32_t wnd) {
  return lo <= x && x - lo < wnd;
}

// §3.10.7.4 first: the four acceptability cases.
bool acceptable(const Tcb& t, const Segment& seg) {
  const std::uint32_t len = seg.length();
  const std::uint32_t wnd = t.rcv_wnd();
  if (len == 0) return wnd == 0 ? seg.seq == t.rcv_nxt : in_window(seg.seq, t.rcv_nxt, wnd);
  if (wnd == 0) return false;
  return in_window(seg.seq, t.rcv_nxt, wnd) || in_window(seg.seq + (len - 1), t.rcv_nxt, wnd);
}

// §3.10.7.4: keep only the part of the segment inside the window (duplicates in front,
// anything beyond the right edge); a FIN cut off with the text is cut off too.
void trim_to_window(Tcb& t, Segment& seg) {
  if (seg.flag == Segment::Flag::syn) return;  // challenged below, whatever it carries
  if (seg.seq < t.rcv_nxt) {
    const std::uint32_t skip = t.rcv_nxt - seg.seq;
    const std::size_t n = seg.payload.size();
    // RFC 2883 §4 (2): the part received before goes in a DSACK block.
    if (n > 0) note_dsack(t, seg.seq, seg.seq + std::min<std::uint32_t>(skip, static_cast<std::uint32_t>(n)));
    if (skip > n) {  // everything old, the FIN included
      seg.payload = Payload();
      if (seg.flag == Segment::Flag::fin) seg.flag = Segment::Flag::none;
    } else {
      seg.payload = seg.payload.sub(skip, n - skip);
    }
    seg.seq = t.rcv_nxt;
  }
  const std::uint32_t room = t.rcv_adv > seg.seq ? t.rcv_adv - seg.seq : 0;
  if (seg.payload.size() > room) {
    // Text beyond the window (a zero-window probe, say) is answered with an ACK, while text is
    // taken at all (once the peer's FIN is in, §3.10.7.4 seventh ignores it).
    if (!t.fin_received()) t.ack_owed.now = true;
    seg.payload = seg.payload.sub(0, room);
    if (seg.flag == Segment::Flag::fin) seg.flag = Segment::Flag::none;
  }
}

// §3.10.7.4 second, with RFC 5961 §3.2: only an RST exactly at RCV.NXT resets; one elsewhere
// in the window draws a (rate-limited) challenge ACK.
Verdict check_rst(Ctx& c, Tcb& t, const Segment& seg) {
  if (seg.seq != t.rcv_nxt) {
    if (challenge_ack_allowed(c, t)) send_ack(c, t);
    return dropped(InputRule::rst_challenged, DropReason::rst_challenged);
  }
  // RFC 1337 §3 (F1): TIME-WAIT ignores an RST while the user may still read (shutdown of the
  // write side only). Both FINs are in; such an RST is typically the peer's answer to our ACK
  // of an old duplicate that arrived after its socket was gone (RFC 1337 §2, hazard H1), and
  // honouring it (RFC 9293 §3.10.7.4) would turn the unread data and end of stream into a
  // reset. After close() or shutdown(read) RFC 9293's rule stands, as with Linux's default.
  if (t.state == TcpState::time_wait && !t.user.read_shut) return taken(InputRule::rst_ignored);
  ++c.e.stats.resets_received;
  // SYN-RECEIVED from a passive open goes back to LISTEN: the listener is still there and
  // the embryonic connection just disappears. Everything else is reset.
  const bool closing =
      t.state == TcpState::closing || t.state == TcpState::last_ack || t.state == TcpState::time_wait;
  return ends(InputRule::rst, closing ? Verdict::End::close : Verdict::End::abort);
}

// An acceptable segment: the peer is alive.
void peer_alive(Ctx& c, Tcb& t) {
  t.last_recv = c.now;
  t.clear(&TimerSet::probes);
  if (t.user.keepalive && t.armed(Timer::keepalive)) {
    // §3.8.4: the idle period starts again; keep the deadline exact (no empty expiry).
    t.clear(&TimerSet::keepalive_sent);
    t.arm(Timer::keepalive, c.now + t.keepalive_idle(c.cfg));
  }
}

// Header prediction (Van Jacobson's, as in 4.3BSD-Reno's tcp_input): in ESTABLISHED, the
// segments of a steady stream are either the next in-order text or a pure ACK of new data.
// For those, most of §3.10.7.4's checks below are settled by a few comparisons: no SYN, RST
// or FIN; SEG.SEQ = RCV.NXT with all its text inside the window (acceptable, nothing to
// trim); SND.UNA <= SEG.ACK <= SND.MAX (an acceptable ACK, RFC 5961 §5.2; in ESTABLISHED no
// FIN of ours to be acknowledged); text only with nothing held out of order, before CLOSE and
// shutdown(read). A pure ACK must move SND.UNA (else it may be a duplicate ACK or a window
// update: the general path). The steps that remain are the general path's own functions in
// its order (PAWS, TS.Recent, the ACK, the text, output), so the result is the same;
// Config::header_prediction off sends every segment the general way (the tests compare both).
bool predicted(const Tcb& t, const Segment& seg) {
  if (t.state != TcpState::established || seg.flag != Segment::Flag::none || !seg.ack || seg.seq != t.rcv_nxt)
    return false;
  const Seq ack = *seg.ack;
  if (ack < t.snd_una || ack > t.snd_max) return false;
  const std::size_t n = seg.payload.size();
  if (n == 0) return ack > t.snd_una;
  return n <= t.rcv_wnd() && t.ooo().empty() && !t.ooo().fin_offset() && !t.user.close_called && !t.user.read_shut;
}

Verdict input_predicted(Ctx& c, Tcb& t, const Segment& seg) {
  ++c.e.stats.segments_predicted;
  if (t.open.ts) {  // both steps do nothing without timestamps
    const Timestamps* ts = find_timestamps(seg);
    if (ts && ts_before(ts->value, t.ts_recent)) {
      // Older than TS.Recent: the general steps (PAWS may drop it, or find TS.Recent idle).
      if (auto v = check_timestamps(c, t, seg)) return *v;  // RFC 7323 §5.3 R1
      update_ts_recent(c, t, seg);                          // R3
    } else if (ts && seg.seq <= t.last_ack_sent) {
      // Not older (PAWS lets it pass, check_timestamps does nothing): update_ts_recent's rule.
      t.set_ts_recent(ts->value, c.now);
    }
  }
  peer_alive(c, t);
  apply_ack(c, t, seg, *seg.ack);
  if (!seg.payload.empty()) take_text_in_order(c, t, seg.payload);
  output(c, t);
  return taken(InputRule::accepted);
}

}  // namespace

// A duplicate ACK (RFC 5681 §2, `duplicate_ack`) at RCV.NXT and SND.UNA that a later
// segment overtook on the way carries an older TSval.
// Taking it changes nothing PAWS protects (no text, no sequence or window state); it only
// counts toward fast retransmit and brings its SACK blocks. So within one RTO of the peer's
// clock (in its ticks read as ms, RFC 7323 §5.4's fastest) it is let through, as Linux
// does; TS.Recent stays (R3 takes no older TSval). deviations.md has the departure from R1.
namespace {

bool disordered_dup_ack(const Ctx& c, const Tcb& t, const Segment& seg, std::uint32_t tsval) {
  if (!seg.ack || *seg.ack != t.snd_una || seg.seq != t.rcv_nxt || t.state == TcpState::syn_received) return false;
  if (!duplicate_ack(t, seg, static_cast<std::uint32_t>(seg.window) << t.snd_wscale)) return false;
  const auto rto_ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.rto(c.cfg)).count();
  return static_cast<std::uint64_t>(t.ts_recent - tsval) <= static_cast<std::uint64_t>(rto_ms);
}

}  // namespace

std::optional<Verdict> check_timestamps(Ctx& c, Tcb& t, const Segment& seg) {
  if (seg.flag == Segment::Flag::rst) return std::nullopt;  // the caller checked t.open.ts
  const Timestamps* ts = find_timestamps(seg);
  // §3.2 says SHOULD drop a segment without TSopt; accepted, as Linux does (deviations.md).
  if (!ts || !ts_before(ts->value, t.ts_recent)) return std::nullopt;
  // §5.5: TS.Recent not updated for 24 days is invalid: skip the test and start over.
  if (t.ts_recent_idle(c.now, kPawsIdle)) {
    t.set_ts_recent(ts->value, c.now);
    return std::nullopt;
  }
  if (disordered_dup_ack(c, t, seg, ts->value)) {
    ++c.e.stats.paws_disordered_acks;
    return std::nullopt;
  }
  // §5.3 R1: an old duplicate; acknowledge (RCV.NXT) and drop.
  send_ack(c, t);
  return dropped(InputRule::paws, DropReason::paws);
}

void update_ts_recent(Ctx& c, Tcb& t, const Segment& seg) {
  // §4.3 (3): TS.Recent from a segment covering Last.ACK.sent, so it is the timestamp of the
  // oldest segment not yet acknowledged (delayed ACKs echo the earliest).
  const Timestamps* ts = find_timestamps(seg);  // the caller checked t.open.ts
  if (!ts || ts_before(ts->value, t.ts_recent) || seg.seq > t.last_ack_sent) return;
  t.set_ts_recent(ts->value, c.now);
}

Verdict input_synchronized(Ctx& c, Tcb& t, Segment& seg) {
  if (c.cfg.header_prediction && predicted(t, seg)) return input_predicted(c, t, seg);
  // RFC 1122 §4.2.2.13, RFC 6191: a new SYN above the old sequence space reopens a flow in
  // TIME-WAIT when someone listens on the port.
  if (t.state == TcpState::time_wait && seg.flag == Segment::Flag::syn && !seg.ack && seg.seq > t.rcv_nxt &&
      c.e.listeners.find(c.flow.local().port)) {
    return ends(InputRule::time_wait_reopen, Verdict::End::reopen);
  }
  if (t.state == TcpState::syn_received && seg.flag == Segment::Flag::syn && seg.seq == t.irs) {
    if (!seg.ack) {
      // The peer's SYN again: our SYN-ACK was lost. Send it again (without touching the timer).
      const Instant rexmt = t.timer(Timer::retransmit);
      send_syn(c, t);
      t.arm(Timer::retransmit, rexmt);
      return taken(InputRule::syn_received_syn);
    }
    // Simultaneous open: the peer's SYN-ACK. Its SYN is old news; go on with its ACK. (From a
    // passive open no SYN-ACK is due: it is unacceptable and challenged below, §3.10.7.4.)
    if (t.open.active) {
      seg.flag = Segment::Flag::none;
      seg.seq = seg.seq + 1;
    }
  }

  // RFC 7323 §5.3 R1: PAWS before the sequence number check (with timestamps only).
  if (t.open.ts) {
    if (auto v = check_timestamps(c, t, seg)) return *v;
  }

  // First: sequence number.
  if (!acceptable(t, seg)) {
    // §3.10.7.4: with a zero window, ACKs (and RSTs) at RCV.NXT are still processed.
    const bool zero_window_ack = t.rcv_wnd() == 0 && seg.seq == t.rcv_nxt && seg.flag != Segment::Flag::syn;
    // Its text is not (a zero-window probe): counted, trimmed away and answered with an ACK.
    if (zero_window_ack && !seg.payload.empty()) c.discarded = DropReason::not_acceptable;
    if (!zero_window_ack) {
      if (seg.flag == Segment::Flag::rst)
        return dropped(InputRule::unacceptable_rst, DropReason::rst_out_of_window);
      if (seg.flag == Segment::Flag::syn) {
        // RFC 5961 §4.2: a SYN draws a challenge ACK "irrespective of the sequence number",
        // and challenge ACKs are rate-limited (§7): a stream of blind SYNs gets no more.
        if (challenge_ack_allowed(c, t)) send_ack(c, t);
        return dropped(InputRule::syn_challenged, DropReason::syn_challenged);
      }
      // §3.10.7.4: a retransmitted FIN in TIME-WAIT restarts the 2 MSL timeout.
      if (t.state == TcpState::time_wait && seg.flag == Segment::Flag::fin) on_time_wait(c, t);
      // RFC 2883 §4 (1): a duplicate below RCV.NXT is reported in a DSACK block.
      if (!seg.payload.empty() && seg.seq < t.rcv_nxt)
        note_dsack(t, seg.seq, seq_min(seg.seq + static_cast<std::uint32_t>(seg.payload.size()), t.rcv_nxt));
      send_ack(c, t);
      return dropped(InputRule::unacceptable, DropReason::not_acceptable);
    }
  }
  if (t.open.ts) update_ts_recent(c, t, seg);  // RFC 7323 §5.3 R3, on the segment before trimming
  peer_alive(c, t);
  trim_to_window(t, seg);

  // Second: RST.
  if (seg.flag == Segment::Flag::rst) return check_rst(c, t, seg);

  // Fourth: SYN (RFC 5961 §4.2: always a challenge ACK, never a reset).
  if (seg.flag == Segment::Flag::syn) {
    if (t.state == TcpState::syn_received && !t.open.active) {
      // §3.10.7.4 fourth, SYN-RECEIVED from a passive OPEN: "return this connection to the
      // LISTEN state and return": the embryonic connection disappears silently.
      return dropped(InputRule::syn_received_passive_syn, DropReason::syn_challenged, Verdict::End::abort);
    }
    if (challenge_ack_allowed(c, t)) send_ack(c, t);
    return dropped(InputRule::syn_challenged, DropReason::syn_challenged);
  }

  // Fifth: ACK.
  if (!seg.ack) return dropped(InputRule::no_ack, DropReason::no_ack);
  if (auto v = process_ack(c, t, seg)) return *v;

  // Sixth (URG) is not supported. Seventh and eighth: text and FIN.
  if (auto v = process_text_and_fin(c, t, seg)) return *v;
  output(c, t);
  return taken(InputRule::accepted);
}

}  // namespace utcp::detail
