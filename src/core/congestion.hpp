// Congestion control behind a small closed interface: a std::variant of algorithms, each
// named after the RFC pseudocode it follows, and the loss recovery they share.
//
// An algorithm is a value with public `cwnd` and `ssthresh` (bytes) and these members; a
// further algorithm is a new file and one more alternative in Congestion::Algorithm:
//
//   void init(std::uint32_t iw)              the initial window (RFC 6928)
//   void on_ack(const AckEvent&)             new data acknowledged outside recovery: grow
//   void on_congestion(const LossEvent&)     a loss detected (fast retransmit): set ssthresh,
//                                            cwnd = ssthresh; recovery follows
//   void on_recovery_exit(const LossEvent&)  recovery ended (the recovery point was acked)
//   void on_rto(const LossEvent&)            a retransmission timeout
//   void on_idle_restart(std::uint32_t iw, Instant now)  RFC 5681 §4.1
//   std::uint64_t pacing_rate(Duration srtt) const  bytes per second, 0 for none
//
// Loss detection from duplicate ACKs and NewReno's window inflation and deflation during
// recovery (RFC 6582) belong to Congestion itself: they are the same for every window-based
// algorithm. BBR (BbrFlow, core/bbr.hpp) is model-based: it sees every transmission (on_send)
// and every ACK, in recovery too, and sets its window in recovery itself.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <variant>

#include "core/bbr.hpp"
#include "core/boxed.hpp"
#include "core/congestion_events.hpp"
#include "core/cubic.hpp"
#include "utcp/config.hpp"
#include "utcp/seq.hpp"
#include "utcp/time.hpp"

namespace utcp::detail {

// RFC 5681 slow start / congestion avoidance with appropriate byte counting (RFC 3465,
// L = 2*SMSS); ssthresh after a loss is half the flight (RFC 5681 §3.1 equation 4).
struct NewReno {
  std::uint32_t cwnd = 0;
  std::uint32_t ssthresh = 0x7fff'ffff;  // RFC 5681 §3.1: arbitrarily high
  std::uint32_t bytes_acked = 0;         // RFC 3465 §2.1, in congestion avoidance

  void init(std::uint32_t iw) { cwnd = iw; }
  void on_ack(const AckEvent& e);
  void on_congestion(const LossEvent& e);
  void on_recovery_exit(const LossEvent& e);
  void on_rto(const LossEvent& e);
  void on_idle_restart(std::uint32_t iw, Instant) {
    if (cwnd > iw) cwnd = iw;
  }
  std::uint64_t pacing_rate(Duration srtt) const { return paced_rate(cwnd, ssthresh, srtt); }
};

class Congestion {
 public:
  using Algorithm = std::variant<NewReno, Cubic, BbrFlow>;
  // What the ACK processing needs to do after an event.
  enum class Action : std::uint8_t { none, retransmit_first };

  explicit Congestion(CongestionControl kind = CongestionControl::cubic) { select(kind); }

  // Each algorithm's own state, for tests and tools. The non-const visit makes it (see
  // Ext below); the const one sees a fresh algorithm with the window when none is made yet.
  template <class F>
  decltype(auto) visit(F&& f) {
    return std::visit(std::forward<F>(f), algo());
  }
  template <class F>
  decltype(auto) visit(F&& f) const {
    if (ext_) return std::visit(std::forward<F>(f), ext_->algo);
    const Algorithm fresh = fresh_algorithm();
    return std::visit(std::forward<F>(f), fresh);
  }

  // Another algorithm (TCP_CONGESTION): cwnd and ssthresh carry over, its own state starts
  // afresh.
  void select(CongestionControl kind);
  CongestionControl kind() const { return kind_; }

  // The connection is established: `srtt` the handshake's, if any; `seed` for the
  // algorithm's random choices (BBR's ProbeBW wait).
  void init(std::uint32_t iw, Seq snd_max, std::uint32_t smss = 536, Instant now = {},
            std::optional<Duration> srtt = std::nullopt, std::uint64_t seed = 0) {
    if (ext_) {
      visit([&](auto& a) { a.init(iw); });  // every algorithm's init sets cwnd alone
    } else {
      cwnd_ = iw;
    }
    if (auto* b = bbr()) b->start(smss, now, srtt, seed);
    recover_ = snd_max;
    round_end_ = snd_max;
  }
  BbrFlow* bbr() { return ext_ ? std::get_if<BbrFlow>(&ext_->algo) : nullptr; }
  const BbrFlow* bbr() const { return ext_ ? std::get_if<BbrFlow>(&ext_->algo) : nullptr; }
  // Model-based algorithms pace always (whatever FlowOptions::pacing says).
  bool always_paces() const { return bbr() != nullptr; }
  // A segment [begin, begin + len) (a FIN counts one) sent at `now`, `flight` bytes out before
  // it: the per-segment record delivery-rate sampling needs (BBR only).
  void on_send(Instant now, Seq begin, std::uint32_t len, std::uint32_t flight, std::uint32_t smss,
               std::optional<Duration> srtt) {
    if (auto* b = bbr()) b->on_send(now, begin, len, flight, smss, srtt);
  }
  // The sender ran out of data with room in the window (app-limited; BBR only).
  void on_app_limited(std::uint32_t flight) {
    if (auto* b = bbr()) b->on_app_limited(flight);
  }
  // The burst pacing allows at `rate` bytes per second: the algorithm's send quantum, else 1 ms
  // of the rate within [2 SMSS, 64 KiB] (as BBRSetSendQuantum).
  std::uint32_t send_quantum(std::uint64_t rate, std::uint32_t smss) const {
    if (const auto* b = bbr()) return b->send_quantum();
    const std::uint64_t q = rate / 1000;
    return static_cast<std::uint32_t>(std::clamp<std::uint64_t>(q, 2ull * smss, 64ull * 1024));
  }
  std::uint32_t cwnd() const {
    return ext_ ? std::visit([](const auto& a) { return a.cwnd; }, ext_->algo) : cwnd_;
  }
  std::uint32_t ssthresh() const {
    return ext_ ? std::visit([](const auto& a) { return a.ssthresh; }, ext_->algo) : kInitialSsthresh;
  }
  bool in_recovery() const { return in_recovery_; }
  std::uint32_t dupacks() const { return dupacks_; }
  void reset_dupacks() { dupacks_ = 0; }

  // A cumulative ACK of new data. `e.flight` is the flight before it; `e.acked` may be 0
  // (an ACK of our FIN or SYN alone) during recovery.
  Action on_new_ack(const AckEvent& e);
  // An ACK that left SND.UNA where it was but SACKed new data (e.ack == SND.UNA, e.acked 0):
  // BBR takes its delivery-rate sample and sets its window on it, as on every ACK that
  // delivers data (draft-ietf-ccwg-bbr-03 "Delivery Rate Estimation": delivered counts SACKed
  // data); nothing for the window-based algorithms (their SACK recovery is PRR's).
  void on_sack_only_ack(const AckEvent& e);
  // A range [begin, end) newly SACKed (before the ACK's on_new_ack or on_sack_only_ack): BBR
  // counts it delivered now.
  void on_sacked(Seq begin, Seq end, Instant now) {
    if (auto* b = bbr()) b->on_sacked(begin, end, now);
  }
  // RFC 5681 §3.2 duplicate ACK; `ack` its (unchanged) cumulative value.
  // SACK loss recovery (RFC 6675, RFC 8985), `sack` here and AckEvent::sack: the caller detects
  // losses from its scoreboard and calls enter_recovery; on_dup_ack then only counts (RFC 3042),
  // and a partial ACK neither deflates cwnd nor asks for a retransmission (PRR and NextSeg decide
  // what is sent).
  Action on_dup_ack(Instant now, Seq ack, std::uint32_t flight, std::uint32_t smss, Seq snd_max, bool sack);
  // RFC 6675 §5 step 4.2 / RFC 6937: a loss starts a recovery episode: on_congestion
  // (ssthresh, cwnd = ssthresh, no inflation), the recovery point is `snd_max`. Not while one
  // runs, and not before the cumulative ACK passed the last recovery point (RFC 6675 §5's
  // "HighACK > RecoveryPoint", as RFC 6582 §3.2 step 2). True when it started one. `pipe`:
  // what is still in the network (RFC 6675), from which BBR's packet conservation starts
  // (draft-ietf-ccwg-bbr-03 "Modulating cwnd in loss recovery": cwnd = inflight + 1 SMSS).
  bool enter_recovery(Instant now, Seq ack, std::uint32_t flight, std::uint32_t pipe, std::uint32_t smss,
                      Seq snd_max);
  // RFC 8985 §7.4.2: a Tail Loss Probe repaired a loss: the window reduction of a recovery
  // episode, without one.
  void reduce(Instant now, std::uint32_t flight, std::uint32_t smss) {
    visit([&](auto& a) { a.on_congestion(LossEvent{now, flight, smss}); });
  }
  // The algorithm's whole state, kept before a congestion response so that the response can
  // be undone (undo).
  Algorithm algorithm() const { return ext_ ? ext_->algo : fresh_algorithm(); }
  // RFC 4015 §3 / RFC 9438 §4.9: the congestion response that followed `prior` was spurious:
  // the algorithm's state goes back to it (K, W_max, epoch ... for CUBIC), cwnd to the larger
  // of the two. For BBR the model's own undo (Bbr::on_spurious_recovery); nothing when the
  // algorithm changed since.
  void undo(const Algorithm& prior);
  // RFC 5681 §3.1 equation 4, RFC 6582 §4: after a retransmission timeout.
  void on_rto(Instant now, std::uint32_t flight, std::uint32_t smss, Seq snd_max);
  // RFC 5681 §4.1: restart window after an idle period longer than the RTO.
  void on_idle_restart(std::uint32_t iw, Instant now) {
    if (!ext_) {
      // What NewReno's and CUBIC's restarts do to a fresh state (CUBIC's epoch is not begun).
      if (cwnd_ > iw) cwnd_ = iw;
      return;
    }
    visit([&](auto& a) { a.on_idle_restart(iw, now); });
  }
  // RFC 3042: segments beyond cwnd that the first two duplicate ACKs allow. BBR in recovery:
  // the segments the duplicate ACKs say have left the network (without SACK the flight
  // SND.MAX - SND.UNA still counts them; NewReno's inflation does the same for its window).
  std::uint32_t limited_transmit_allowance(std::uint32_t smss) const {
    if (in_recovery_) return ext_ ? ext_->recovery_credit : 0;
    return dupacks_ > 0 && dupacks_ < 3 ? dupacks_ * smss : 0;
  }
  // After a path MTU change: keep the window in whole segments of the new size.
  void clamp_to(std::uint32_t smss) {
    if (!ext_) {
      cwnd_ = cwnd_ < smss ? smss : cwnd_;
      return;
    }
    visit([&](auto& a) { a.cwnd = a.cwnd < smss ? smss : a.cwnd; });
  }
  // Bytes per second to pace at with this smoothed RTT; 0 for none.
  std::uint64_t pacing_rate(Duration srtt) const {
    if (!ext_) return paced_rate(cwnd_, kInitialSsthresh, srtt);  // NewReno's and CUBIC's
    return std::visit([&](const auto& a) { return a.pacing_rate(srtt); }, ext_->algo);
  }

 private:
  // The round bookkeeping of every ACK (RFC 9406 §4.2 rounds, RFC 7661 §4.1 pipeACK): fills
  // e.round_start and e.cwnd_limited.
  void mark_round(AckEvent& e);

  // The algorithm's own state beyond cwnd and ssthresh, and BBR's recovery credit: made by the
  // first event that changes it (new data acknowledged, a loss, a timeout; at once for BBR), so
  // a connection that has moved no data yet pays one null pointer (core/tcb.hpp's layout
  // rule). Until then cwnd_ holds the window and ssthresh is kInitialSsthresh (nothing sets
  // it before an event that makes Ext); after, the algorithm's fields hold both.
  struct Ext {
    Algorithm algo;
    std::uint32_t recovery_credit = 0;  // BBR in recovery: bytes the duplicate ACKs reported delivered
  };
  // RFC 5681 §3.1: ssthresh is arbitrarily high until a loss or a timeout sets it.
  static constexpr std::uint32_t kInitialSsthresh = 0x7fff'ffff;
  // A fresh algorithm of kind_ with the window so far (cwnd_, and `ssthresh`: select carries
  // the old algorithm's over).
  Algorithm fresh_algorithm(std::uint32_t ssthresh = kInitialSsthresh) const;
  Algorithm& algo() {
    if (!ext_) make_ext();
    return ext_->algo;
  }
  void make_ext();

  Boxed<Ext> ext_;
  std::uint32_t cwnd_ = 0;  // while ext_ is null
  Seq recover_;    // RFC 6582 §3.2 step 1
  Seq round_end_;  // the current round ends when this is acknowledged
  // RFC 7661 §4.1 pipeACK: the largest flight seen at an ACK in this round and the last.
  std::uint32_t pipe_ack_ = 0, pipe_ack_last_ = 0;
  // Duplicate ACKs in a row, in 16 bits (issue 15: the class in 32 bytes, not 40); it stops
  // at 65,535 (docs/deviations.md): every test of it is against 3 or less.
  std::uint16_t dupacks_ = 0;
  static constexpr std::uint16_t kMaxDupacks = 0xffff;
  CongestionControl kind_ = CongestionControl::cubic;
  bool in_recovery_ = false;
};

// Issue 15: 32 bytes in every Tcb (core/tcb.hpp).
static_assert(sizeof(void*) != 8 || sizeof(Congestion) == 32);

}  // namespace utcp::detail
