// RACK-TLP loss detection (RFC 8985): time-based loss marking from the most recently
// delivered segment's transmission time, an adaptive reordering window, and Tail Loss Probes.
// These are the RFC's procedures as functions of the scoreboard (core/scoreboard.hpp), the
// RTT estimator and the time; input/ and timers/ call them and act on what they return.
//
// | RFC 8985                                   | here                         |
// |--------------------------------------------|------------------------------|
// | §6.2 step 2 RACK_update()                  | Rack::on_delivered           |
// | §6.2 step 3 RACK_detect_reordering()       | Rack::on_delivered           |
// | §6.2 step 4 RACK_update_reo_wnd()          | Rack::on_ack_end, reo_wnd    |
// | §6.2 step 5 RACK_detect_loss()             | Rack::detect_loss            |
// | §6.3 RACK_mark_losses_on_RTO()             | Rack::mark_losses_on_rto     |
// | §7.2 TLP_calc_PTO()                        | Tlp::pto                     |
// | §7.3 TLP_send_probe() bookkeeping          | Tlp::sent_probe              |
// | §7.4 TLP_process_ack()                     | Tlp::on_ack                  |
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

#include "core/scoreboard.hpp"
#include "utcp/seq.hpp"
#include "utcp/time.hpp"

namespace utcp::detail {

// RFC 8985 §6.2 step 4: the window persists for 16 recoveries after a DSACK grew it.
inline constexpr std::uint8_t kReoWndPersist = 16;
// RFC 6675 §2 DupThresh, used by RACK §6.2 step 4 before any reordering was seen.
inline constexpr std::uint32_t kDupThresh = 3;
// RFC 8985 §7.2: the worst-case delayed ACK time a probe of one segment waits for.
inline constexpr Duration kTlpMaxAckDelay = std::chrono::milliseconds(200);
// Added to the probe timeout of a flight of several segments, as Linux adds TCP_TIMEOUT_MIN
// (2 ms): on a path of tens of microseconds 2 SRTT is shorter than a busy host's scheduling
// delay, and a probe sent while the ACKs are already queued takes the one probe an episode has
// (deviations.md).
inline constexpr Duration kTlpMinTimeout = std::chrono::milliseconds(2);

// The reordering state that outlives a flight (kept in the Tcb: three bytes).
struct ReoWnd {
  std::uint8_t mult = 1;         // RACK.reo_wnd_mult
  std::uint8_t persist : 7 = 0;      // RACK.reo_wnd_persist (at most 16)
  bool reordering_seen : 1 = false;  // RACK.reordering_seen
  friend bool operator==(const ReoWnd&, const ReoWnd&) = default;
};

struct Rack {
  // RACK.xmit_ts / RACK.end_seq: the most recently sent segment delivered so far, and its
  // place in the sending order (SentSegment::order), which decides "most recently".
  Instant xmit_ts{};
  Seq end_seq;
  std::uint64_t xmit_order = 0;
  bool valid = false;              // some segment has been delivered in this flight
  Duration rtt{};                  // RACK.rtt
  Seq fack;                        // RACK.fack: highest sequence delivered (start a flight at SND.UNA)
  std::optional<Seq> dsack_round;  // RACK.dsack_round

  // §6.2 steps 2 and 3 for one newly delivered segment `s` (its state before the ACK).
  // `tsecr`: the ACK's TSecr when timestamps are on; `ts_of(s.sent)` the TSval `s` carried;
  // `min_rtt`: RACK.min_RTT.
  template <class TsOf>
  void on_delivered(ReoWnd& w, const SentSegment& s, Instant now, std::optional<std::uint32_t> tsecr,
                    TsOf ts_of, std::optional<Duration> min_rtt);
  // §6.2 step 4, after the ACK's segments: a DSACK on the ACK (`dsack`) starts a round of
  // growth; `snd_una`/`snd_nxt` after the ACK.
  void on_ack_end(ReoWnd& w, bool dsack, Seq snd_una, Seq snd_nxt);
  // §6.2 step 4, on leaving fast or RTO recovery.
  static void on_recovery_exit(ReoWnd& w);
  // RACK.reo_wnd (§6.2 step 4). `many_sacked`: RACK.segs_sacked >= DupThresh.
  static Duration reo_wnd(const ReoWnd& w, bool in_recovery, bool many_sacked,
                          std::optional<Duration> min_rtt, std::optional<Duration> srtt);

  // §6.2 step 5: marks lost every entry sent before RACK's segment whose time is up. Returns
  // the time until the next one would be (to arm the reordering timer), or nothing.
  std::optional<Duration> detect_loss(Scoreboard& b, Instant now, Duration reo) const;
  // True when detect_loss would look at nothing: no delivery yet, an empty board, or a front
  // entry sent after RACK's segment and never retransmitted (the loop stops there: an in-order
  // ACK's case). A caller can then skip computing the reordering window it takes.
  bool nothing_to_check(const Scoreboard& b) const;
  // §6.3: the first unacknowledged segment, and every one whose time is up, are lost.
  // Without a delivery in this flight, `fallback_rtt` (SRTT) stands in for RACK.rtt.
  void mark_losses_on_rto(Scoreboard& b, Instant now, Duration reo, Duration fallback_rtt) const;

  friend bool operator==(const Rack&, const Rack&) = default;
};

// RFC 8985 §7: one probe per episode, tracked until its ACK tells what happened.
struct Tlp {
  std::optional<Seq> end_seq;  // TLP.end_seq: SND.NXT after the probe; none when no episode
  bool is_retrans = false;     // TLP.is_retrans

  // §7.2: the probe timeout. `flight_segments`: segments in flight; `rto_left`: time until
  // the RTO would fire.
  static Duration pto(std::optional<Duration> srtt, std::uint32_t flight_segments, Duration rto_left);
  // §7.3: a probe went out; `retransmission` when it resent the last segment.
  void sent_probe(Seq snd_nxt, bool retransmission) {
    end_seq = snd_nxt;
    is_retrans = retransmission;
  }
  // §7.4: the ACK of a probe. `dsack_of_probe`: the ACK carries a DSACK for the probe's
  // sequence; `dup`: it acknowledges nothing new (no SND.UNA move, nothing newly SACKed).
  // True when the probe repaired a loss: the caller then reduces cwnd as for fast recovery.
  bool on_ack(Seq ack, bool dsack_of_probe, bool dup);

  friend bool operator==(const Tlp&, const Tlp&) = default;
};

// RACK_sent_after (§6.2) by the order of transmission (SentSegment::order) rather than by
// time with the sequence number breaking ties: two segments the caller's clock stamped alike
// (a batch of packets handled at one reading) are still ordered, and a retransmission counts
// as later than the originals of higher sequence sent at the same time (deviations.md). The
// parts of one transmission share its order; the sequence number orders them.
inline bool sent_after(std::uint64_t order1, Seq seq1, std::uint64_t order2, Seq seq2) {
  return order1 > order2 || (order1 == order2 && seq1 > seq2);
}

template <class TsOf>
void Rack::on_delivered(ReoWnd& w, const SentSegment& s, Instant now, std::optional<std::uint32_t> tsecr,
                        TsOf ts_of, std::optional<Duration> min_rtt) {
  // Step 2 (RACK_update). Per segment rather than sorted by xmit_ts: sent_after keeps the
  // latest whatever the order, and RACK.rtt is the sample of that segment.
  const Duration sample = now - s.sent;
  bool ambiguous = false;
  if (s.is(SentSegment::retransmitted)) {
    // The ACK may be for the original: its echo predates the retransmission, or the RTT is
    // implausibly short.
    if (tsecr) {
      const std::uint32_t sent_ts = ts_of(s.sent);
      if (static_cast<std::int32_t>(*tsecr - sent_ts) < 0) ambiguous = true;
    }
    if (min_rtt && sample < *min_rtt) ambiguous = true;
  }
  if (!ambiguous) {
    if (!valid || sent_after(s.order, s.end, xmit_order, end_seq)) {
      rtt = sample;
      xmit_ts = s.sent;
      end_seq = s.end;
      xmit_order = s.order;
      valid = true;
    }
  }
  // Step 3 (RACK_detect_reordering).
  if (fack < s.end) {
    fack = s.end;
  } else if (s.end < fack && !s.is(SentSegment::retransmitted)) {
    w.reordering_seen = true;
  }
}

}  // namespace utcp::detail
