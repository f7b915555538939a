// Call chain: engine_handle_buf -> input_synchronized (synchronized.cpp) -> process_ack ->
//   new_ack | dup_ack, update_send_window, ack_of_fin; then process_text_and_fin (text.cpp).
//
// §3.10.7.4 fifth, "check the ACK field" (NetSem di3_ackstuff, di3_newackstuff): RFC 5961
// §5.2 ACK validation, the send window update, RTT sampling (RFC 6298), congestion control
// (RFC 5681, RFC 6582), and the state changes an ACK of our FIN causes.
#include <algorithm>

#include "stack/engine.hpp"

namespace utcp::detail {

namespace {

// An ACK of new data (SND.UNA < SEG.ACK <= SND.MAX).
void new_ack(Ctx& c, Tcb& t, const Segment& seg, Seq ack) {
  const std::uint32_t acked = ack - t.snd_una;
  const std::uint32_t flight_before = t.flight();
  // Sequence space the SYN and FIN take is not in the send queue.
  std::uint32_t data_acked = acked;
  if (!t.syn_acked()) --data_acked;
  const bool fin_covered = t.fin_sent() && ack == t.fin_seq + 1;
  if (fin_covered) --data_acked;
  data_acked = std::min<std::uint32_t>(data_acked, static_cast<std::uint32_t>(t.sndq.size()));
  t.sndq.drop_front(data_acked);
  t.snd_una = ack;
  if (t.snd_nxt < t.snd_una) t.snd_nxt = t.snd_una;
  const std::optional<Duration> rtt = sample_rtt(c, t, seg, ack, flight_before);
  t.clear(&TimerSet::retransmits);
  t.clear(&TimerSet::limited_sent);
  if (data_acked > 0 || t.cc.in_recovery()) {
    AckEvent e;
    e.now = c.now;
    e.ack = ack;
    e.snd_nxt = t.snd_nxt;
    e.acked = data_acked;
    e.flight = flight_before;
    e.smss = t.smss;
    e.rtt = rtt;
    e.srtt = t.rtt.srtt();
    e.paced = t.pacing_rate() > 0;
    e.sack = t.open.sack;
    if (t.loss) e.pipe = t.loss->board.pipe();
    if (t.cc.on_new_ack(e) == Congestion::Action::retransmit_first) retransmit_first(c, t);
  }
  // RFC 6298 §5.2-5.3: stop the timer when everything is acknowledged, else restart it.
  // A lone zero-window probe octet is the persist timer's business.
  if (t.snd_una == t.snd_max || (t.probing_zero_window() && t.armed(Timer::persist)) ||
      c.cfg.test_faults.partial_ack_stops_rto)
    t.disarm(Timer::retransmit);
  else
    arm_retransmit(c, t);
}

void dup_ack(Ctx& c, Tcb& t, const Segment& seg, std::uint32_t wnd) {
  if (!duplicate_ack(t, seg, wnd)) return;
  ++c.e.stats.dup_acks;
  // RFC 5681 §3.2 step 2: FlightSize without what limited transmit added.
  const std::uint32_t flight = t.flight() - std::min(t.flight(), t.limited_sent());
  if (t.cc.on_dup_ack(c.now, *seg.ack, flight, t.smss, t.snd_max, t.open.sack) == Congestion::Action::retransmit_first) {
    retransmit_first(c, t);
  }
}

// An ACK that SACKed new data without moving SND.UNA: BBR's rate sample and window
// (Congestion::on_sack_only_ack; nothing for the window-based algorithms).
void sack_only_ack(Ctx& c, Tcb& t, Seq ack) {
  AckEvent e;
  e.now = c.now;
  e.ack = ack;
  e.snd_nxt = t.snd_nxt;
  e.flight = t.flight();
  e.smss = t.smss;
  e.srtt = t.rtt.srtt();
  e.paced = t.pacing_rate() > 0;
  e.sack = true;
  e.pipe = t.loss->board.pipe();
  t.cc.on_sack_only_ack(e);
}

// §3.10.7.4: update the send window from segments no older than the last update.
void update_send_window(Tcb& t, const Segment& seg, std::uint32_t wnd) {
  if (t.snd_wl1 < seg.seq || (t.snd_wl1 == seg.seq && t.snd_wl2 <= *seg.ack)) {
    const bool reopened = t.snd_wnd == 0 && wnd > 0;
    t.snd_wnd = wnd;
    t.snd_wl1 = seg.seq;
    t.snd_wl2 = *seg.ack;
    t.max_snd_wnd = std::max(t.max_snd_wnd, wnd);
    if (reopened) {
      t.clear(&TimerSet::persist_backoff);
      t.disarm(Timer::persist);
      // A probe octet still unacknowledged goes again with what follows it (else Nagle would
      // hold the rest behind it).
      if (t.flight() == 1 && t.sndq.size() > 1) t.snd_nxt = t.snd_una;
    }
  }
}

// §3.10.7.4 fifth, per state: what the ACK of our FIN does.
std::optional<Verdict> ack_of_fin(Ctx& c, Tcb& t) {
  if (!t.fin_acked()) return std::nullopt;
  switch (t.state) {
    case TcpState::fin_wait_1:
      c.e.enter(t, TcpState::fin_wait_2);
      t.disarm(Timer::retransmit);
      t.disarm(Timer::persist);
      if (t.user.close_called) t.arm(Timer::lifetime, c.now + c.cfg.fin_wait_2_timeout);
      return std::nullopt;
    case TcpState::closing:
      on_time_wait(c, t);
      return taken(InputRule::closing_fin_acked);
    case TcpState::last_ack:
      return ends(InputRule::last_ack_fin_acked, Verdict::End::close);
    default:
      return std::nullopt;
  }
}

}  // namespace

std::optional<Duration> sample_rtt(Ctx& c, Tcb& t, const Segment& seg, Seq ack, std::uint32_t flight) {
  // RFC 7323 App. G: with a sample on every ACK, each weighs 1 / ceil(FlightSize / (2 SMSS)).
  const std::uint32_t per_rtt =
      t.open.ts ? std::max<std::uint32_t>(1, (flight + 2 * t.smss - 1) / (2 * t.smss)) : 1;
  // RFC 6298 §2, with Karn's algorithm: a segment timed and never retransmitted, measured in
  // the caller's time (finer than the timestamp's 1 ms tick).
  if (t.rtt_timing && ack >= t.rtt_seq()) {
    const Duration r = c.now - t.rtt_start();
    t.rtt.sample(r, per_rtt);
    t.stop_rtt_timing();
    return r;
  }
  // RFC 7323 §4.1-4.2 RTTM: any ACK of new data echoes the TSval of the segment that caused
  // it, retransmitted or not, so recovery still gives samples (no Karn ambiguity).
  if (!t.open.ts) return std::nullopt;
  const Timestamps* ts = find_timestamps(seg);
  if (!ts || ts->echo == 0) return std::nullopt;  // 0: the peer has nothing to echo yet (as Linux)
  const auto r = ts_rtt(c.now, t.ts_offset, ts->echo);
  if (r) t.rtt.sample(*r, per_rtt);
  return r;
}

std::optional<Verdict> process_ack(Ctx& c, Tcb& t, const Segment& seg) {
  const Seq ack = *seg.ack;
  if (t.state == TcpState::syn_received) {
    // SYN-RECEIVED: an ACK of our SYN completes the handshake; any other draws an RST.
    if (!(t.snd_una < ack && ack <= t.snd_max)) {
      reset_for_segment(c.e, c.flow, seg, c.out);
      return dropped(InputRule::syn_received_bad_ack, DropReason::bad_ack);
    }
    become_established(c, t);
    t.snd_wnd = static_cast<std::uint32_t>(seg.window) << t.snd_wscale;
    t.max_snd_wnd = std::max(t.max_snd_wnd, t.snd_wnd);
    t.snd_wl1 = seg.seq;
    t.snd_wl2 = ack;
  }
  // RFC 5961 §5.2: acceptable ACKs lie in [SND.UNA - MAX.SND.WND, SND.NXT]; SND.MAX here,
  // since SND.NXT rewinds after a timeout. Outside: an ACK back, rate-limited as every
  // challenge ACK is (§7), and drop.
  const Seq oldest = t.snd_una - std::max<std::uint32_t>(t.max_snd_wnd, 1);
  if (ack > t.snd_max || ack < oldest) {
    if (challenge_ack_allowed(c, t)) send_ack(c, t);
    return dropped(InputRule::ack_unacceptable, DropReason::bad_ack);
  }
  apply_ack(c, t, seg, ack);
  return ack_of_fin(c, t);
}

void apply_ack(Ctx& c, Tcb& t, const Segment& seg, Seq ack) {
  const std::uint32_t wnd = static_cast<std::uint32_t>(seg.window) << t.snd_wscale;
  // SACK connections (input/sack.cpp): the scoreboard and RACK first, recovery after.
  const bool was_recovery = t.cc.in_recovery();
  LossAck loss;
  if (t.loss) loss = loss_ack_before(c, t, seg, ack);
  if (ack > t.snd_una) {
    new_ack(c, t, seg, ack);
  } else if (ack == t.snd_una) {
    dup_ack(c, t, seg, wnd);
    if (t.loss && loss.newly_sacked) sack_only_ack(c, t, ack);
  }
  update_send_window(t, seg, wnd);
  if (t.loss) loss_ack_after(c, t, loss, ack, was_recovery);
  // The window reopened with a probe octet still out: the retransmission timer takes it over.
  if (t.flight() > 0 && t.snd_wnd > 0 && !t.armed(Timer::retransmit) && !c.cfg.test_faults.partial_ack_stops_rto)
    arm_retransmit(c, t);
}

}  // namespace utcp::detail
