// The loss recovery every algorithm shares (RFC 5681 §3.2, RFC 6582, RFC 3042), RFC 7661's
// cwnd-limited test, and NewReno (RFC 5681, RFC 3465).
#include "core/congestion.hpp"

#include <algorithm>

namespace utcp::detail {

// The variant's alternatives in the order of CongestionControl's values.
static_assert(std::is_same_v<std::variant_alternative_t<static_cast<std::size_t>(CongestionControl::newreno),
                                                        Congestion::Algorithm>,
                             NewReno>);
static_assert(std::is_same_v<
              std::variant_alternative_t<static_cast<std::size_t>(CongestionControl::cubic), Congestion::Algorithm>,
              Cubic>);
static_assert(std::is_same_v<
              std::variant_alternative_t<static_cast<std::size_t>(CongestionControl::bbr), Congestion::Algorithm>,
              BbrFlow>);

namespace {
std::uint32_t half_flight(std::uint32_t flight, std::uint32_t smss) {
  // RFC 5681 §3.1 equation 4: ssthresh = max(FlightSize / 2, 2*SMSS).
  return std::max(flight / 2, 2 * smss);
}
}  // namespace

// ---- NewReno ----

void NewReno::on_ack(const AckEvent& e) {
  if (!e.cwnd_limited) return;  // RFC 7661 §4.3
  if (cwnd < ssthresh) {
    // RFC 5681 §3.1 slow start with RFC 3465 §2.2 byte counting, L = 2*SMSS.
    cwnd += std::min(e.acked, 2 * e.smss);
    return;
  }
  // RFC 5681 §3.1 congestion avoidance, RFC 3465 §2.1: one SMSS per cwnd of bytes acked.
  bytes_acked += e.acked;
  if (bytes_acked >= cwnd) {
    bytes_acked -= cwnd;
    cwnd += e.smss;
  }
}

void NewReno::on_congestion(const LossEvent& e) {
  // RFC 6582 §3.2 step 2 (RFC 5681 §3.2 step 2).
  ssthresh = half_flight(e.flight, e.smss);
  cwnd = ssthresh;
  bytes_acked = 0;
}

void NewReno::on_recovery_exit(const LossEvent& e) {
  // RFC 6582 §3.2 step 3, full acknowledgment, option 1: min(ssthresh, max(FlightSize, SMSS)
  // + SMSS).
  cwnd = std::min(ssthresh, std::max(e.flight, e.smss) + e.smss);
  bytes_acked = 0;
}

void NewReno::on_rto(const LossEvent& e) {
  // RFC 5681 §3.1: ssthresh from the flight size, cwnd = loss window = 1 SMSS. No "undo"
  // on the next ACK (µTCP fault 6).
  ssthresh = half_flight(e.flight, e.smss);
  cwnd = e.smss;
  bytes_acked = 0;
}

// ---- Congestion ----

Congestion::Algorithm Congestion::fresh_algorithm(std::uint32_t ssthresh) const {
  Algorithm a;
  switch (kind_) {
    case CongestionControl::newreno:
      a.emplace<NewReno>();
      break;
    case CongestionControl::cubic:
      a.emplace<Cubic>();
      break;
    case CongestionControl::bbr:
      a.emplace<BbrFlow>();
      break;
  }
  std::visit(
      [&](auto& x) {
        x.cwnd = cwnd_;
        x.ssthresh = ssthresh;
      },
      a);
  return a;
}

void Congestion::make_ext() {
  Ext& x = ext_.make();
  x.algo = fresh_algorithm();
  x.recovery_credit = 0;
}

void Congestion::select(CongestionControl kind) {
  // A fresh state of the new kind; the window carries over (or stays unset). BBR's model is
  // made at once, the others' when their first event needs it.
  const std::uint32_t s = ssthresh();
  cwnd_ = cwnd();
  kind_ = kind;
  if (ext_)
    ext_->algo = fresh_algorithm(s);
  else if (kind == CongestionControl::bbr)
    make_ext();
}

void Congestion::mark_round(AckEvent& e) {
  // Rounds: one ends when the ACK passes what was sent when it began (RFC 9406 §4.2's
  // windowEnd). RFC 7661 §4.1: the sender is cwnd-limited when the largest flight of this
  // or the last round (the pipeACK measure) is at least half of cwnd; otherwise cwnd does
  // not grow (§4.3). For BBR with SACK the flight is the pipe (what is still in the network).
  e.round_start = !(e.ack < round_end_);
  if (e.round_start) {
    round_end_ = e.snd_nxt;
    pipe_ack_last_ = pipe_ack_;
    pipe_ack_ = 0;
  }
  pipe_ack_ = std::max(pipe_ack_, bbr() && e.pipe ? *e.pipe + e.acked : e.flight);
  e.cwnd_limited = 2 * std::uint64_t{std::max(pipe_ack_, pipe_ack_last_)} >= cwnd();
}

void Congestion::on_sack_only_ack(const AckEvent& ev) {
  auto* b = bbr();
  if (!b) return;
  AckEvent e = ev;
  mark_round(e);
  b->on_ack(e);
}

Congestion::Action Congestion::on_new_ack(const AckEvent& ev) {
  AckEvent e = ev;
  mark_round(e);
  // RFC 6582 §3.2: recover starts at the ISS and moves only at a loss or a timeout, but it is
  // compared in serial-number arithmetic: 2^31 bytes without a loss would put it half the
  // sequence space behind, and "SEG.ACK covers more than recover" would be false for the
  // next 2^31 bytes (no fast retransmit, no SACK recovery: the timer instead). Outside
  // recovery, an ACK at or past it carries it along; every later ACK passes the test exactly
  // when it passed it before (cumulative ACKs only grow).
  if (!in_recovery_ && !(e.ack < recover_)) recover_ = e.ack;
  if (auto* b = bbr()) {
    // BBR: the recovery episode ends as NewReno's (RFC 6582 §3.2 step 3), without SACK a
    // partial ACK still retransmits the next hole (step 4; with SACK, NextSeg in the room
    // BBR's window leaves decides), but the window is BBR's own on every ACK.
    Action act = Action::none;
    if (in_recovery_ && !(e.ack < recover_)) {
      in_recovery_ = false;
      dupacks_ = 0;
      ext_->recovery_credit = 0;
      b->on_recovery_exit(LossEvent{e.now, e.pipe ? *e.pipe : (e.flight > e.acked ? e.flight - e.acked : 0), e.smss});
    } else if (in_recovery_ && !e.sack) {
      // A partial ACK covers segments the duplicate ACKs had already counted.
      std::uint32_t& credit = ext_->recovery_credit;
      credit = credit > e.acked ? credit - e.acked : 0;
      act = Action::retransmit_first;
    } else if (!in_recovery_) {
      dupacks_ = 0;
    }
    b->on_ack(e);
    return act;
  }
  if (in_recovery_) {
    const LossEvent loss{e.now, e.flight > e.acked ? e.flight - e.acked : 0, e.smss};
    if (!(e.ack < recover_)) {
      // RFC 6582 §3.2 step 3, full acknowledgment: recovery ends.
      in_recovery_ = false;
      dupacks_ = 0;
      visit([&](auto& a) { a.on_recovery_exit(loss); });
      return Action::none;
    }
    if (e.sack) return Action::none;  // RFC 6675: NextSeg and PRR (RFC 6937) take it from here
    // RFC 6582 §3.2 step 4, partial acknowledgment: retransmit the first unacknowledged
    // segment, deflate by the amount acknowledged, add back one SMSS if that was >= SMSS.
    visit([&](auto& a) {
      a.cwnd = a.cwnd > e.acked ? a.cwnd - e.acked : 0;
      if (e.acked >= e.smss) a.cwnd += e.smss;
      a.cwnd = std::max(a.cwnd, e.smss);
    });
    return Action::retransmit_first;
  }
  dupacks_ = 0;
  if (e.acked > 0) visit([&](auto& a) { a.on_ack(e); });
  return Action::none;
}

Congestion::Action Congestion::on_dup_ack(Instant now, Seq ack, std::uint32_t flight, std::uint32_t smss,
                                          Seq snd_max, bool sack) {
  if (dupacks_ != kMaxDupacks) ++dupacks_;
  if (sack) return Action::none;  // RFC 6675: the scoreboard decides (enter_recovery)
  if (in_recovery_) {
    // RFC 6582 §3.2 step 5 (RFC 5681 §3.2 step 4): inflate by one SMSS per further dup ACK
    // (not BBR: its window follows its model).
    if (bbr())
      ext_->recovery_credit += smss;
    else
      visit([&](auto& a) { a.cwnd += smss; });
    return Action::none;
  }
  if (dupacks_ != 3) return Action::none;  // RFC 3042 limited transmit covers the first two
  // RFC 6582 §3.2 step 2: only when the ACK covers more than `recover` (no recovery episode
  // started from data sent before the last one). RFC 6582's recover is the highest sequence
  // number sent, SND.MAX - 1; recover_ holds SND.MAX, so "covers more than" is SEG.ACK >=
  // recover_, the same test that ends an episode (step 3): an ACK that ended one may start the
  // next, whose first lost segment is the one at the old recovery point.
  if (ack < recover_) return Action::none;
  recover_ = snd_max;
  in_recovery_ = true;
  algo();
  ext_->recovery_credit = bbr() ? 3 * smss : 0;
  visit([&](auto& a) {
    a.on_congestion(LossEvent{now, flight, smss});
    // RFC 6582 §3.2 step 2 (RFC 5681 §3.2 step 3): cwnd = ssthresh + 3*SMSS (BBR: packet
    // conservation instead, set by on_congestion).
    if constexpr (!std::is_same_v<std::decay_t<decltype(a)>, BbrFlow>) a.cwnd += 3 * smss;
  });
  return Action::retransmit_first;
}

bool Congestion::enter_recovery(Instant now, Seq ack, std::uint32_t flight, std::uint32_t pipe, std::uint32_t smss,
                                Seq snd_max) {
  // RFC 6675 §5.1 (after a timeout) and RFC 6582 §3.2 step 2: not before SEG.ACK reaches the
  // last RecoveryPoint (recover_ = SND.MAX then; see on_dup_ack).
  if (in_recovery_ || ack < recover_) return false;
  recover_ = snd_max;
  in_recovery_ = true;
  const std::uint32_t out = bbr() ? pipe : flight;
  visit([&](auto& a) { a.on_congestion(LossEvent{now, out, smss}); });
  return true;
}

void Congestion::undo(const Algorithm& prior) {
  if (prior.index() != static_cast<std::size_t>(kind_)) return;
  if (auto* b = bbr()) {
    // BBR's model holds what the episode changed, not `prior` (a copy of the whole model
    // from before it would also forget what the episode's ACKs taught it).
    b->on_spurious_recovery();
    return;
  }
  const std::uint32_t w = cwnd();
  algo() = prior;
  visit([&](auto& a) { a.cwnd = std::max(a.cwnd, w); });
}

void Congestion::on_rto(Instant now, std::uint32_t flight, std::uint32_t smss, Seq snd_max) {
  visit([&](auto& a) { a.on_rto(LossEvent{now, flight, smss}); });
  dupacks_ = 0;
  in_recovery_ = false;
  ext_->recovery_credit = 0;
  recover_ = snd_max;  // RFC 6582 §4
}

}  // namespace utcp::detail

namespace utcp {

std::string_view to_string(CongestionControl cc) {
  switch (cc) {
    case CongestionControl::newreno:
      return "reno";
    case CongestionControl::cubic:
      return "cubic";
    case CongestionControl::bbr:
      return "bbr";
  }
  return "?";
}

std::optional<CongestionControl> congestion_control_from(std::string_view name) {
  if (name == "reno" || name == "newreno") return CongestionControl::newreno;
  if (name == "cubic") return CongestionControl::cubic;
  if (name == "bbr") return CongestionControl::bbr;
  return std::nullopt;
}

}  // namespace utcp
