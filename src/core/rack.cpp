// RACK-TLP (RFC 8985).
#include "core/rack.hpp"

#include <algorithm>

namespace utcp::detail {

void Rack::on_ack_end(ReoWnd& w, bool dsack, Seq snd_una, Seq snd_nxt) {
  // §6.2 step 4: one increase of the window per round trip that sees a DSACK.
  if (dsack_round && !(snd_una < *dsack_round)) dsack_round.reset();
  if (!dsack_round && dsack) {
    dsack_round = snd_nxt;
    if (w.mult < 0xff) ++w.mult;
    w.persist = kReoWndPersist;
  }
}

void Rack::on_recovery_exit(ReoWnd& w) {
  // §6.2 step 4: back to the base window 16 recoveries after the last increase.
  if (w.persist > 0) --w.persist;
  if (w.persist == 0) w.mult = 1;
}

Duration Rack::reo_wnd(const ReoWnd& w, bool in_recovery, bool many_sacked, std::optional<Duration> min_rtt,
                       std::optional<Duration> srtt) {
  // §6.2 step 4: without reordering seen, losses are declared at once in recovery and once
  // DupThresh segments are SACKed (as RFC 6675 would).
  if (!w.reordering_seen && (in_recovery || many_sacked)) return Duration::zero();
  if (!min_rtt || !srtt) return Duration::zero();
  return std::min(w.mult * *min_rtt / 4, *srtt);
}

bool Rack::nothing_to_check(const Scoreboard& b) const {
  if (!valid || b.empty()) return true;
  const SentSegment& s = b.front();
  return !sent_after(xmit_order, end_seq, s.order, s.end) && !s.is(SentSegment::retransmitted);
}

std::optional<Duration> Rack::detect_loss(Scoreboard& b, Instant now, Duration reo) const {
  if (nothing_to_check(b)) return std::nullopt;
  std::optional<Duration> timeout;
  for (std::size_t i = 0; i < b.size(); ++i) {
    const SentSegment& s = b[i];
    if (!sent_after(xmit_order, end_seq, s.order, s.end)) {
      // Entries after a never-retransmitted one sent after RACK's segment were all sent later
      // still (new data goes out in sequence order; a retransmission later than its original).
      if (!s.is(SentSegment::retransmitted)) break;
      continue;
    }
    if (s.is(SentSegment::sacked) || s.is(SentSegment::lost)) continue;
    const Duration remaining = (s.sent + rtt + reo) - now;
    if (remaining <= Duration::zero()) {
      b.mark_lost(i);
    } else {
      timeout = std::max(timeout.value_or(Duration::zero()), remaining);
    }
  }
  return timeout;
}

void Rack::mark_losses_on_rto(Scoreboard& b, Instant now, Duration reo, Duration fallback_rtt) const {
  const Duration r = valid ? rtt : fallback_rtt;
  for (std::size_t i = 0; i < b.size(); ++i) {
    const SentSegment& s = b[i];
    if (s.is(SentSegment::sacked) || s.is(SentSegment::lost)) continue;
    if (i == 0 || s.sent + r + reo <= now) b.mark_lost(i);
  }
}

Duration Tlp::pto(std::optional<Duration> srtt, std::uint32_t flight_segments, Duration rto_left) {
  // §7.2: two round trips, plus the worst-case delayed ACK when a single segment is out (its
  // ACK may be delayed); one second before any RTT sample. Never later than the RTO.
  Duration p = std::chrono::seconds(1);
  if (srtt) {
    p = 2 * *srtt;
    p += flight_segments <= 1 ? kTlpMaxAckDelay : kTlpMinTimeout;
  }
  return std::min(p, std::max(rto_left, Duration::zero()));
}

bool Tlp::on_ack(Seq ack, bool dsack_of_probe, bool dup) {
  // §7.4.
  if (!end_seq || ack < *end_seq) return false;
  if (!is_retrans || dsack_of_probe) {
    // New data delivered, or the DSACK says the original and the probe both arrived.
    end_seq.reset();
    return false;
  }
  if (ack > *end_seq) {
    // The probe repaired a loss of the last segment.
    end_seq.reset();
    return true;
  }
  // A pure duplicate ACK at TLP.end_seq: original and probe both arrived (no DSACK support
  // on the peer's side, or the ACK of the original).
  if (dup) end_seq.reset();
  return false;
}

}  // namespace utcp::detail
