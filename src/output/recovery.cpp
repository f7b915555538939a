// Call chain: send_data (output.cpp) -> loss_record_sent; output_impl -> send_recovery (in
//   SACK recovery) | loss_skip_sacked (the go-back after a timeout); engine_timer -> Due::run
//   (timers.cpp) -> loss_probe_timer.
//
// What the sender transmits when SACK loss recovery (input/sack.cpp) runs: RFC 6675 §4 NextSeg
// in the quantities PRR (RFC 6937) allows, RACK's reordering timeout and the Tail Loss Probe
// (RFC 8985 §6.2 step 5, §7.3).
#include <algorithm>

#include "core/timestamps.hpp"
#include "output/pacer.hpp"
#include "stack/engine.hpp"

namespace utcp::detail {

void loss_record_sent(Ctx& c, Tcb& t, Seq begin, std::uint32_t len) {
  // RFC 6675 §3 / RFC 8985 §5.2: every transmission is on the scoreboard with its time; the
  // board covers [SND.UNA, SND.MAX).
  if (len == 0) return;
  LossState& l = loss_state(t);
  Scoreboard& b = l.board;
  const Seq end = begin + len;
  if (b.empty() && t.snd_una < begin) b.sent_new(t.snd_una, begin, c.now);  // not seen go out
  if (begin < t.snd_max) {
    b.resent(begin, seq_min(end, t.snd_max), c.now);
    if (l.undo) {
      // RFC 3708 §3 and RFC 3522 §3.2: what the episode that may be undone sent again.
      const std::uint32_t n = seq_min(end, t.snd_max) - begin;
      l.undo->retransmitted += n;
      l.undo->unproven += n;
      if (!l.undo->first_rtx_tsval && t.open.ts) l.undo->first_rtx_tsval = tsval(c.now, t.ts_offset);
    }
  }
  if (t.snd_max < end) b.sent_new(seq_max(begin, t.snd_max), end, c.now);
  // RFC 8985 §7.2: new data (re)arms the probe timeout, unless RACK's reordering timer runs.
  if (!(t.armed(Timer::loss_probe) && l.reo_timer) && end > t.snd_max && !t.cc.in_recovery() && !l.tlp.end_seq && t.snd_wnd > 0)
    arm_probe_timeout(c, t, l, (t.flight() + len + t.smss - 1) / t.smss);
}

void arm_probe_timeout_computed(Ctx& c, Tcb& t, LossState& l, std::uint32_t segs) {
  // RFC 8985 §7.2: PTO from SRTT, the flight (one segment or more) and the time left until
  // the RTO (the RTO itself when it is not armed).
  LossState::PtoMemo& m = l.pto_memo;
  const std::optional<Duration> srtt = t.rtt.srtt();
  if (!t.armed(Timer::retransmit)) {
    t.arm(Timer::loss_probe, c.now + Tlp::pto(srtt, segs, t.rto(c.cfg)));
    m = {};
    return;
  }
  const Instant rtx = t.timer(Timer::retransmit);
  m = {.now = c.now, .rtx = rtx, .srtt = srtt, .single = segs <= 1, .at = c.now + Tlp::pto(srtt, segs, rtx - c.now)};
  t.arm(Timer::loss_probe, m.at);
}

void loss_skip_sacked(Tcb& t) {
  // RFC 6675 §5.1: after a timeout the go-back resends only what the peer has not SACKed
  // since (the timeout itself forgot the older blocks, RFC 2018 §8).
  if (!t.loss || t.loss->board.sacked_bytes() == 0) return;  // nothing SACKed: nothing to skip
  const Scoreboard& b = t.loss->board;
  for (std::size_t i = b.find(t.snd_nxt); i < b.size() && b[i].is(SentSegment::sacked); ++i) t.snd_nxt = b[i].end;
}

namespace {

// Sends [begin, begin + len) again (part of what was sent, perhaps with the FIN).
void resend(Ctx& c, Tcb& t, Seq begin, std::uint32_t len) {
  const bool fin = t.fin_sent() && begin + len == t.fin_seq + 1;
  const std::uint32_t data = len - (fin ? 1u : 0u);
  const Seq saved = t.snd_nxt;
  t.snd_nxt = begin;
  t.stop_rtt_timing();  // Karn's algorithm (RFC 6298 §3)
  send_data(c, t, begin - t.data_start(), data, fin);
  t.snd_nxt = seq_max(saved, t.snd_nxt);
}

// RFC 6675 §4 NextSeg rule 2: the next new segment the receive window allows, or 0 octets.
struct NewSeg {
  std::uint32_t off = 0, len = 0;
  bool fin = false;
};
NewSeg next_new(const Tcb& t) {
  NewSeg n;
  const auto queued = static_cast<std::uint32_t>(t.sndq.size());
  n.off = t.snd_max - t.data_start();
  const std::uint32_t avail = n.off < queued ? queued - n.off : 0;
  const std::uint32_t room = t.snd_wnd > t.flight() ? t.snd_wnd - t.flight() : 0;
  n.len = std::min({avail, room, std::uint32_t{t.smss}});
  // A short segment only when it empties the queue (sender SWS avoidance, RFC 9293 §3.8.6.2.1).
  if (n.len < t.smss && n.off + n.len != queued) n.len = 0;
  n.fin = t.user.write_shut && !t.fin_sent() && n.off <= queued && n.off + n.len == queued && t.snd_max + n.len == t.fin_seq;
  return n;
}

}  // namespace

bool send_recovery(Ctx& c, Tcb& t, Pacer& pacer, bool force) {
  // RFC 6675 §5 step 4.3 / §5 (C): while PRR's sndcnt (RFC 6937 §3) allows, send NextSeg: the
  // first segment deemed lost and not yet retransmitted (rule 1), else new data (rule 2).
  // Rules 3 and 4 are RACK-TLP's business (deviations.md). PRR takes the place of RFC 6675's
  // "cwnd - pipe" (RFC 6937 §1). A paced flow sends each segment when the pacer lets it
  // (Timer::pacing releases the rest of sndcnt; the next ACK's PRR count includes it).
  LossState& l = *t.loss;
  bool sent = false;
  t.snd_nxt = t.snd_max;
  while (l.sndcnt > 0) {
    const std::size_t i = l.board.first_lost();
    std::uint32_t n = 0;
    if (i < l.board.size()) {
      const SentSegment& s = l.board[i];
      n = std::min(s.size(), t.smss + (t.fin_sent() && s.end == t.fin_seq + 1 ? 1u : 0u));
      if (n > l.sndcnt + 1 && sent) break;
      // Only a segment ready to go waits for the pacer (Timer::pacing always has work).
      if (!force && pacer.waits(c.now)) break;
      resend(c, t, s.begin, n);
    } else {
      const NewSeg s = next_new(t);
      n = s.len + (s.fin ? 1u : 0u);
      if (n == 0 || (s.len > l.sndcnt && sent)) break;
      if (!force && pacer.waits(c.now)) break;
      send_data(c, t, s.off, s.len, s.fin);
    }
    pacer.sent(c.now, n);
    sent = true;
    force = false;
    l.prr.sent(n);
    l.sndcnt -= std::min(l.sndcnt, n);
  }
  return sent;
}

void loss_probe_timer(Ctx& c, Tcb& t) {
  t.disarm(Timer::loss_probe);
  if (!t.loss || t.flight() == 0 || !t.synchronized()) return;
  LossState& l = *t.loss;
  if (l.reo_timer) {
    // RFC 8985 §6.2 step 5 on the reordering timeout: mark what is now overdue, start
    // recovery (or go on with it) and send what cwnd leaves room for.
    l.reo_timer = false;
    const bool many_sacked = l.board.sacked_bytes() >= kDupThresh * t.smss;
    const Duration reo = Rack::reo_wnd(t.reo, t.cc.in_recovery(), many_sacked, t.rtt.min_rtt(), t.rtt.srtt());
    const std::uint32_t lost_before = l.board.lost_bytes();
    const std::optional<Duration> timeout = l.rack.detect_loss(l.board, c.now, reo);
    start_recovery_if_lost(c, t, t.snd_una);
    if (t.cc.in_recovery()) {
      const std::uint32_t pipe = l.board.pipe();
      l.sndcnt = std::max({l.sndcnt, t.cc.cwnd() > pipe ? t.cc.cwnd() - pipe : 0u, std::uint32_t{t.smss}});
      // A loss the timer found goes out now, not at the pacer's next slot: the timer's work
      // is visible at its deadline (a paced flow's Timer::pacing sends the rest).
      if (l.board.lost_bytes() > lost_before)
        output_forced(c, t);
      else
        output(c, t);
    }
    if (t.loss) arm_loss_timer(c, t, timeout);
    return;
  }
  // RFC 8985 §7.3: one probe: a new segment when the windows allow one, else the last
  // segment again. The RTO is restarted after it.
  if (t.cc.in_recovery() || l.tlp.end_seq || t.snd_wnd == 0) return;
  ++c.e.stats.tail_loss_probes;
  const NewSeg s = next_new(t);
  if (s.len > 0 || s.fin) {
    t.snd_nxt = t.snd_max;
    send_data(c, t, s.off, s.len, s.fin);
    l.tlp.sent_probe(t.snd_max, false);
    // The new data re-armed the probe timeout (loss_record_sent) before the probe was
    // recorded; §7.3 arms the RTO instead: a second PTO would find the probe out and do nothing.
    t.disarm(Timer::loss_probe);
  } else {
    std::size_t i = l.board.size();
    while (i > 0 && l.board[i - 1].is(SentSegment::sacked)) --i;
    if (i == 0) return;
    const SentSegment& last = l.board[i - 1];
    const Seq begin = last.size() > t.smss ? last.end - t.smss : last.begin;
    l.probing = true;  // counted as a fast retransmission, not a timeout's
    resend(c, t, begin, last.end - begin);
    l.probing = false;
    l.tlp.sent_probe(t.snd_max, true);
  }
  arm_retransmit(c, t);
}

}  // namespace utcp::detail
