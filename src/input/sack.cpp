// Call chain: process_ack (ack.cpp) -> loss_ack_before (the scoreboard and RACK's state from
//   the ACK's SACK blocks and cumulative value) -> new_ack | dup_ack -> loss_ack_after (RACK
//   loss marking, recovery entry, PRR's send quantity, the loss_probe timer).
//
// SACK-based loss recovery on a connection that negotiated SACK (RFC 2018): the scoreboard
// (RFC 6675 §3), RACK-TLP (RFC 8985), RFC 6675 recovery with PRR (RFC 6937) deciding how much
// each ACK lets out, DSACK (RFC 2883) feeding RACK's reordering window, and an episode proven
// spurious (RFC 3708 DSACKs, RFC 3522 timestamps) undone (RFC 4015 §3). Without SACK the
// NewReno recovery of core/congestion (RFC 6582) runs unchanged.
#include <algorithm>

#include "core/timestamps.hpp"
#include "stack/engine.hpp"

namespace utcp::detail {

namespace {

const Sack* find_sack(const Segment& seg) {
  for (const auto& o : seg.options)
    if (const auto* s = std::get_if<Sack>(&o)) return s;
  return nullptr;
}

}  // namespace

LossState& loss_state(Tcb& t) {
  if (!t.loss) {
    LossState& l = t.loss.make();
    l.rack.fack = t.snd_una;  // RFC 8985 §6.2 step 3: a flight starts at SND.UNA
  }
  return *t.loss;
}

LossAck loss_ack_before(Ctx& c, Tcb& t, const Segment& seg, Seq ack) {
  LossAck r;
  LossState& l = *t.loss;
  std::optional<std::uint32_t> tsecr;
  if (t.open.ts)
    if (const Timestamps* ts = find_timestamps(seg); ts && ts->echo != 0) tsecr = ts->echo;
  const auto ts_of = [&](Instant sent) { return tsval(sent, t.ts_offset); };
  const std::optional<Duration> min_rtt = t.rtt.min_rtt();
  // RACK.min_RTT takes the ACK's smallest sample once, at the end (nothing here reads it: the
  // segments' checks use the value from before the ACK).
  Duration fresh_min = Duration::max();
  const auto take_min = [&] {
    if (fresh_min != Duration::max()) t.rtt.sample_min(fresh_min);
  };
  // RFC 8985 §6.2 steps 2-3 for every segment this ACK delivers, cumulatively or by SACK;
  // RACK.min_RTT (§5.3) also from SACKed segments sent once.
  const auto delivered = [&](const SentSegment& s) {
    if (!s.is(SentSegment::retransmitted)) {
      const Duration d = c.now - s.sent;
      if (d >= Duration::zero() && d < fresh_min) fresh_min = d;
    }
    l.rack.on_delivered(t.reo, s, c.now, tsecr, ts_of, min_rtt);
    r.delivered += s.size();
  };
  r.tsecr = tsecr;
  if (ack > t.snd_una) l.board.acked(ack, delivered);
  const Sack* sack = find_sack(seg);
  if (!sack) {
    take_min();
    return r;
  }
  for (std::size_t i = 0; i < sack->blocks.size(); ++i) {
    const auto [left, right] = sack->blocks[i];
    // RFC 2883 §4: the first block is a DSACK when it lies below the cumulative ACK, or
    // inside the second block: the receiver got those octets twice.
    if (i == 0 && left < right &&
        (left < ack || (sack->blocks.size() > 1 && sack->blocks[1].first <= left &&
                        right <= sack->blocks[1].second))) {
      r.dsack = true;
      ++c.e.stats.dsacks_received;
      if (l.tlp.end_seq && right == *l.tlp.end_seq) r.dsack_of_probe = true;
      // RFC 3708 §3: the octets of the episode's retransmissions reported duplicate.
      if (l.undo && l.undo->marker < right) {
        const std::uint32_t dup = right - seq_max(left, l.undo->marker);
        l.undo->unproven -= std::min(l.undo->unproven, dup);
      }
      continue;
    }
    // RFC 2018 §3-4: a block names data we sent and the cumulative ACK has not covered:
    // anything else (beyond SND.MAX, reversed, below SND.UNA) is a broken or forged block,
    // ignored and counted.
    if (!(left < right) || left < t.snd_una || right > t.snd_max) {
      ++c.e.stats.sack_blocks_ignored;
      continue;
    }
    if (l.board.sacked(left, right, delivered) > 0) {
      r.newly_sacked = true;
      t.cc.on_sacked(left, right, c.now);  // BBR: delivered now (delivery rate estimation)
    }
  }
  take_min();
  return r;
}

namespace {

Duration reo_wnd(const Tcb& t) {
  const LossState& l = *t.loss;
  const bool many_sacked = l.board.sacked_bytes() >= kDupThresh * t.smss;
  return Rack::reo_wnd(t.reo, t.cc.in_recovery(), many_sacked, t.rtt.min_rtt(), t.rtt.srtt());
}

// RFC 6675 §4 IsLost(SND.UNA) with DupThresh (§5 step 4's trigger): more than (DupThresh - 1)
// * SMSS octets SACKed above it, or DupThresh duplicate ACKs. Only until reordering has been
// seen: RACK's time-based rule takes over then (RFC 8985 §6.2 step 4, §9.2).
void mark_first_lost_by_dupthresh(Tcb& t) {
  LossState& l = *t.loss;
  if (l.board.empty() || t.cc.in_recovery() || t.reo.reordering_seen) return;
  if (l.board.sacked_bytes() > (kDupThresh - 1) * t.smss || t.cc.dupacks() >= kDupThresh) l.board.mark_lost(0);
}

}  // namespace

void start_recovery_if_lost(Ctx& c, Tcb& t, Seq ack) {
  LossState& l = *t.loss;
  if (l.board.lost_bytes() == 0 || t.cc.in_recovery()) return;
  // RFC 6675 §5 step 4: RecoveryPoint = HighData, ssthresh and cwnd from the congestion
  // module (on_congestion); RFC 6937: RecoverFS = the flight, and the fast retransmit goes
  // out at once.
  const Congestion::Algorithm prior = t.cc.algorithm();
  if (!t.cc.enter_recovery(c.now, ack, t.flight(), l.board.pipe(), t.smss, t.snd_max)) return;
  l.prr.start(t.flight());
  l.sndcnt = t.smss;
  // RFC 3708 §3 / RFC 3522 §3.2: the episode may yet prove spurious (loss_record_sent counts
  // its retransmissions); RFC 4015 §3 would then restore `prior`.
  l.undo = Undo{.marker = t.snd_una, .retransmitted = 0, .unproven = 0, .first_rtx_tsval = std::nullopt, .prior = prior};
}

namespace {

// RFC 4015 §3 (the Eifel response) once RFC 3708 or RFC 3522 proved the last episode
// spurious, after it ended: the congestion state goes back to what it was before it
// (RFC 9438 §4.9 for CUBIC). The retransmissions were unnecessary because the originals
// arrived late: reordering, which RACK's window is there for (RFC 8985 §6.2 step 3 sees only
// reordering of segments sent once; as Linux, an undone episode counts too).
void undo_if_spurious(Ctx& c, Tcb& t, std::optional<std::uint32_t> tsecr) {
  LossState& l = *t.loss;
  if (!l.undo || t.cc.in_recovery() || !l.undo->spurious(tsecr)) return;
  t.cc.undo(l.undo->prior);
  t.reo.reordering_seen = true;
  ++c.e.stats.recoveries_undone;
  l.undo.reset();
}

}  // namespace

void arm_loss_timer(Ctx& c, Tcb& t, std::optional<Duration> reo_timeout) {
  LossState& l = *t.loss;
  if (reo_timeout) {
    // RFC 8985 §6.2 step 5: the reordering timer, for the earliest segment not yet overdue.
    l.reo_timer = true;
    t.arm(Timer::loss_probe, c.now + *reo_timeout);
    return;
  }
  l.reo_timer = false;
  // RFC 8985 §7.2: a probe timeout while the connection is not in recovery, data is in
  // flight and no probe is outstanding.
  if (t.cc.in_recovery() || l.tlp.end_seq || t.flight() == 0 || !t.armed(Timer::retransmit) ||
      t.snd_wnd == 0) {
    t.disarm(Timer::loss_probe);
    return;
  }
  arm_probe_timeout(c, t, l, (t.flight() + t.smss - 1) / t.smss);
}

void loss_ack_after(Ctx& c, Tcb& t, const LossAck& a, Seq ack, bool was_recovery) {
  LossState& l = *t.loss;
  // RFC 8985 §6.2 step 4: the reordering window grows once per round that sees a DSACK, and
  // decays 16 recoveries later.
  l.rack.on_ack_end(t.reo, a.dsack, t.snd_una, t.snd_max);
  const bool exited = was_recovery && !t.cc.in_recovery();
  if (exited) Rack::on_recovery_exit(t.reo);
  // RFC 3522: only the ACK that ends the episode may tell by its echo; RFC 3708: a DSACK may
  // complete the proof on any later ACK.
  undo_if_spurious(c, t, exited ? a.tsecr : std::nullopt);
  // RFC 8985 §7.4: what the ACK says about an outstanding probe.
  if (l.tlp.end_seq) {
    const bool dup = !a.newly_sacked && a.delivered == 0;
    if (l.tlp.on_ack(ack, a.dsack_of_probe, dup)) {
      t.cc.reduce(c.now, t.flight(), t.smss);
      l.undo.reset();  // a response not to be undone by an older episode's proof
    }
  }
  if (t.flight() == 0) {
    t.disarm(Timer::loss_probe);
    // The flight is over: the state goes with it (tcb.hpp's layout rule), unless an episode
    // awaits the DSACKs of its retransmissions: this ACK delivered the last data or brought
    // a DSACK; one that does neither ends the wait.
    if (!l.undo || !(a.delivered > 0 || a.dsack)) t.loss.reset();
    return;
  }
  // RFC 8985 §6.2 step 5 (the reordering window computed only when the check has something to
  // look at), and RFC 6675's DupThresh rule for the first segment.
  const std::optional<Duration> timeout =
      l.rack.nothing_to_check(l.board) ? std::nullopt : l.rack.detect_loss(l.board, c.now, reo_wnd(t));
  mark_first_lost_by_dupthresh(t);
  const bool entering = !t.cc.in_recovery();
  start_recovery_if_lost(c, t, ack);
  if (t.cc.in_recovery()) {
    // RFC 6937 §3: the data this ACK delivered decides what may be sent now. BBR sets its
    // window on every ACK, in recovery too (draft-ietf-ccwg-bbr-03 "Modulating cwnd in loss
    // recovery": packet conservation, then cwnd less what was lost), and what is in the network
    // stays within it: cwnd - pipe, not PRR (which would hold pipe near an ssthresh BBR has
    // not got; Linux's BBR skips PRR the same way).
    const std::uint32_t pipe = l.board.pipe();
    const std::uint32_t n = t.cc.bbr() ? (t.cc.cwnd() > pipe ? t.cc.cwnd() - pipe : 0u)
                                       : l.prr.on_ack(a.delivered, pipe, t.cc.ssthresh(), t.smss);
    l.sndcnt = entering ? std::max(l.sndcnt, n) : n;
  } else {
    l.sndcnt = 0;
  }
  arm_loss_timer(c, t, timeout);
}

void loss_on_timeout(Ctx& c, Tcb& t) {
  if (!t.loss) return;
  LossState& l = *t.loss;
  // RFC 2018 §8: the receiver may have discarded what it SACKed (reneging): a timeout forgets
  // the blocks. RFC 8985 §6.3: the first segment, and every one whose time is up, are lost.
  l.board.clear_sacks();
  l.rack.mark_losses_on_rto(l.board, c.now, reo_wnd(t), t.rtt.srtt().value_or(t.rto(c.cfg)));
  l.tlp.end_seq.reset();
  l.sndcnt = 0;
  l.reo_timer = false;
  l.undo.reset();  // the timeout's response is not undone (no RFC 4015 for timeouts here)
  t.disarm(Timer::loss_probe);
}

}  // namespace utcp::detail
