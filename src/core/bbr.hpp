// BBR congestion control as draft-ietf-ccwg-bbr-03 describes it ("BBRv3"): a model of the path
// (the bottleneck bandwidth from delivery-rate samples, the round-trip propagation delay from
// the minimum RTT) drives a pacing rate and a window; loss only bounds the model where its
// rate shows real congestion (BBRLossThresh, 2 %), so random loss does not slow it down.
//
// States: Startup, Drain, ProbeBW (DOWN, CRUISE, REFILL, UP), ProbeRTT. Section names in
// comments are the draft's titles (its numbering moves between revisions). Time and
// randomness are the caller's: every event carries `now`, ProbeBW's random wait draws from
// the caller's Rng.
//
// Units: bytes, bytes per second, the caller's Duration.
#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <ostream>
#include <vector>

#include "core/congestion_events.hpp"
#include "core/delivery_rate.hpp"
#include "utcp/detail/rng.hpp"
#include "utcp/time.hpp"

namespace utcp::detail {

// "BBR.max_bw max filter": the largest bandwidth sample of the current and the previous
// ProbeBW cycle (BBRMaxBwFilterLen = 2 cycles). Startup and Drain stay in one cycle.
class MaxBwFilter {
 public:
  void update(std::uint64_t bw) {
    if (bw > slot_[1]) slot_[1] = bw;
  }
  // A new cycle: the oldest slot is forgotten.
  void advance() {
    slot_[0] = slot_[1];
    slot_[1] = 0;
  }
  std::uint64_t get() const { return slot_[0] > slot_[1] ? slot_[0] : slot_[1]; }
  friend bool operator==(const MaxBwFilter&, const MaxBwFilter&) = default;

 private:
  std::uint64_t slot_[2] = {0, 0};  // [previous cycle, current cycle]
};

// Deviation (docs/deviations.md, "loss as a congestion signal"): whether an RTT shows a
// standing queue, so that loss counts as congestion. It must exceed `min_rtt` by an eighth of
// it, and by more than `quantum` bytes take at `bw` bytes per second: the model allows a
// quantum's burst (BBRQuantizationBudget), and the delay that burst adds in front of the
// bottleneck is not a standing queue. On a fast, short path (the TUN router: 20 us, 64 KiB at
// 280 MB/s take 234 us) the eighth alone reads every burst, and every late wakeup of the host,
// as one. No estimate yet (either Duration::max()): no queue.
bool standing_queue(Duration min_rtt, Duration rtt, std::uint32_t quantum, std::uint64_t bw);

// BBR.extra_acked's windowed max filter ("BBRUpdateACKAggregation"): the largest sample of the
// last `len` round trips or a little more (the current window of `len` rounds and the last).
class ExtraAckedFilter {
 public:
  void update(std::uint64_t extra, std::uint64_t round, std::uint64_t len);
  std::uint64_t get() const { return std::max(slot_[0], slot_[1]); }
  friend bool operator==(const ExtraAckedFilter&, const ExtraAckedFilter&) = default;

 private:
  std::uint64_t slot_[2] = {0, 0};  // [last window, current window]
  std::uint64_t start_ = 0;         // the round the current window began
};

// What one ACK tells BBR, besides the connection's DeliveryRate.
struct BbrAck {
  Instant now{};
  RateSample rs;               // DeliveryRate::generate's result for this ACK
  std::uint32_t inflight = 0;  // bytes in flight after the ACK (C.inflight)
  std::uint32_t smss = 536;
  bool cwnd_limited = false;  // C.is_cwnd_limited: the window, not the application, bounded sends
};

class Bbr {
 public:
  enum class State : std::uint8_t {
    startup,
    drain,
    probe_bw_down,
    probe_bw_cruise,
    probe_bw_refill,
    probe_bw_up,
    probe_rtt,
  };
  // "ProbeBW: the ACK phase": where the ACKs come from relative to the bandwidth probe.
  enum class AckPhase : std::uint8_t { init, probe_starting, probe_feedback, probe_stopping, refilling };

  static constexpr std::uint64_t infinite = std::numeric_limits<std::uint64_t>::max();

  std::uint32_t cwnd = 0;
  std::uint32_t ssthresh = 0x7fff'ffff;  // BBR has none; reported as "arbitrarily high"

  // "Initialization": `srtt` the smoothed RTT if the handshake measured one.
  void init(std::uint32_t iw, std::uint32_t smss, Instant now, std::optional<Duration> srtt);
  // "Per-ACK steps": UpdateModelAndState, then UpdateControlParameters. `dr` is marked
  // app-limited in ProbeRTT; `rng` draws ProbeBW's random wait.
  void on_ack(const BbrAck& a, DeliveryRate& dr, Rng& rng);
  // "Probing for Bandwidth: inflight_hi", BBRHandleLostPacket: a segment with stamp `p` and
  // `size` bytes was deemed lost (after DeliveryRate::lost counted it).
  void on_lost(const RateStamp& p, std::uint32_t size, const DeliveryRate& dr, Instant now,
               std::uint32_t smss, Rng& rng);
  // "Modulating cwnd in loss recovery": fast recovery starts (`newly_acked` by the ACK that
  // started it), one round of it has passed, and it ends.
  void on_recovery_start(std::uint32_t inflight, std::uint32_t newly_acked, std::uint32_t smss);
  void on_recovery_round();
  void on_recovery_exit();
  // A retransmission timeout: every segment in flight is deemed lost.
  void on_rto(std::uint32_t smss);
  // The last fast-recovery episode, over, was spurious (RFC 3708 DSACKs or RFC 3522
  // timestamps, input/sack.cpp): its losses were not. The window it cut comes back
  // (BBRRestoreCwnd, as on exit "by repairing all losses or undoing recovery"), and what
  // the losses told the model goes: the lower bounds and Startup's full-bandwidth count.
  void on_spurious_recovery();
  // "Restarting from idle": sending resumes with nothing in flight after an app-limited
  // pause.
  void on_idle_restart(Instant now, std::uint32_t inflight, bool app_limited, Rng& rng);

  std::uint64_t pacing_rate() const { return pacing_rate_; }  // bytes per second
  std::uint32_t send_quantum() const { return send_quantum_; }

  // The model, for tests, info and traces.
  State state() const { return state_; }
  AckPhase ack_phase() const { return ack_phase_; }
  std::uint64_t max_bw() const { return max_bw_; }
  std::uint64_t bw() const { return bw_; }
  std::uint64_t bw_lo() const { return bw_lo_; }
  std::optional<Duration> min_rtt() const {
    return min_rtt_ == Duration::max() ? std::nullopt : std::optional<Duration>(min_rtt_);
  }
  std::uint64_t inflight_hi() const { return inflight_hi_; }
  std::uint64_t inflight_lo() const { return inflight_lo_; }
  std::uint64_t extra_acked() const { return extra_acked_; }
  std::uint64_t bdp() const;  // bw x min_rtt; 0 before a min_rtt
  double pacing_gain() const { return pacing_gain_; }
  double cwnd_gain() const { return cwnd_gain_; }
  bool full_bw_reached() const { return full_bw_reached_; }
  std::uint64_t round_count() const { return round_count_; }
  std::uint64_t cycle_count() const { return cycle_count_; }
  bool in_recovery() const { return in_recovery_; }

  friend bool operator==(const Bbr&, const Bbr&) = default;

 private:
  struct Ctx;  // one ACK's inputs, passed to the steps

  // Model and state.
  void update_latest_delivery_signals(const Ctx&);
  void update_congestion_signals(Ctx&);
  void update_round(const Ctx&);
  void update_ack_aggregation(const Ctx&);
  void update_max_bw(const Ctx&);
  void adapt_lower_bounds_from_congestion();
  void check_startup_high_loss();
  void check_full_bw_reached(const RateSample&);
  void check_startup_done();
  void check_drain_done(Ctx&);
  void update_probe_bw_cycle_phase(Ctx&);
  bool adapt_upper_bounds(Ctx&);  // false when it left ProbeBW
  static bool inflight_too_high(const RateSample&);
  bool queued(Duration rtt) const;  // standing_queue with the model's min_rtt, quantum and bw
  Duration recent_min_rtt() const { return std::min(round_min_rtt_, prev_round_min_rtt_); }
  bool check_inflight_too_high(Instant now, Rng&, const RateSample&);
  void handle_inflight_too_high(Instant now, Rng&, const RateSample&);
  void probe_inflight_hi_upward(const Ctx&);
  void raise_inflight_hi_slope();
  bool is_time_to_probe_bw(Ctx&);
  bool is_time_to_cruise(const Ctx&) const;
  bool is_time_to_go_down(const Ctx&);
  void update_min_rtt(const Ctx&);
  void check_probe_rtt(Ctx&);
  void handle_probe_rtt(Ctx&);
  void check_probe_rtt_done(Instant now, Rng&);
  void advance_latest_delivery_signals(const RateSample&);

  // Transitions.
  void enter_startup();
  void enter_drain();
  void start_probe_bw_down(Instant now, Rng& rng);
  void start_probe_bw_cruise();
  void start_probe_bw_refill();
  void start_probe_bw_up(const RateSample&);
  void enter_probe_rtt();
  void start_round() { next_round_delivered_ = delivered_; }

  // Control parameters.
  void set_pacing_rate();
  void set_send_quantum();
  void set_cwnd(const Ctx&);

  // Helpers.
  bool in_probe_bw() const { return state_ >= State::probe_bw_down && state_ <= State::probe_bw_up; }
  bool is_probing_bw() const {
    return state_ == State::startup || state_ == State::probe_bw_refill || state_ == State::probe_bw_up;
  }
  std::uint64_t bdp_multiple(double gain) const;
  std::uint64_t inflight_for(double gain) const;  // BBRInflight(gain), quantization budget included
  std::uint64_t quantization_budget(std::uint64_t inflight) const;
  std::uint64_t inflight_with_headroom() const;
  std::uint64_t target_inflight() const;
  std::uint64_t probe_rtt_cwnd() const;
  std::uint64_t min_pipe_cwnd() const { return 4ull * smss_; }
  std::uint32_t save_cwnd() const;
  void restore_cwnd();
  void reset_full_bw();
  void reset_congestion_signals();
  void reset_lower_bounds();
  void init_lower_bounds();
  void loss_lower_bounds();

  State state_ = State::startup;
  AckPhase ack_phase_ = AckPhase::init;
  double pacing_gain_ = 1, cwnd_gain_ = 2;
  std::uint32_t smss_ = 536, initial_cwnd_ = 0;
  std::uint64_t delivered_ = 0;  // C.delivered at the current ACK

  // Bandwidth model.
  MaxBwFilter max_bw_filter_;
  std::uint64_t max_bw_ = 0, bw_ = 0;
  std::uint64_t bw_lo_ = infinite, bw_latest_ = 0;
  std::uint64_t inflight_hi_ = infinite, inflight_lo_ = infinite, inflight_latest_ = 0;
  std::uint64_t cycle_count_ = 0;

  // ACK aggregation (BBRUpdateACKAggregation).
  ExtraAckedFilter extra_acked_filter_;
  std::uint64_t extra_acked_ = 0, extra_acked_delivered_ = 0;
  Instant extra_acked_interval_start_{};

  // Round counting.
  std::uint64_t next_round_delivered_ = 0, round_count_ = 0;
  bool round_start_ = false;
  std::uint64_t loss_round_delivered_ = 0;
  bool loss_round_start_ = false, loss_in_round_ = false;
  std::uint32_t loss_events_in_round_ = 0;
  std::uint64_t lost_in_round_ = 0, delivered_in_round_ = 0;
  // The lowest RTT samples of the round so far and of the last round (the queue condition).
  Duration round_min_rtt_ = Duration::max(), prev_round_min_rtt_ = Duration::max();
  bool round_queued_ = false;

  // Startup's full-pipe estimate.
  std::uint64_t full_bw_ = 0;
  std::uint32_t full_bw_count_ = 0;
  bool full_bw_now_ = false, full_bw_reached_ = false;

  // ProbeBW.
  Instant cycle_stamp_{};
  Duration bw_probe_wait_{};
  std::uint64_t rounds_since_bw_probe_ = 0;
  std::uint32_t bw_probe_up_rounds_ = 0;
  std::uint64_t bw_probe_up_acks_ = 0, probe_up_cnt_ = infinite;
  bool bw_probe_samples_ = false;

  // Minimum RTT and ProbeRTT.
  Duration min_rtt_ = Duration::max();
  Instant min_rtt_stamp_{};
  Duration probe_rtt_min_delay_ = Duration::max();
  Instant probe_rtt_min_stamp_{};
  bool probe_rtt_expired_ = false;
  std::optional<Instant> probe_rtt_done_stamp_;
  bool probe_rtt_round_done_ = false;
  bool idle_restart_ = false;

  // Control.
  std::uint64_t pacing_rate_ = 0, max_inflight_ = 0;
  std::uint32_t send_quantum_ = 0, prior_cwnd_ = 0;
  bool in_recovery_ = false, packet_conservation_ = false;
};

std::string_view to_string(Bbr::State);
std::ostream& operator<<(std::ostream&, Bbr::State);

// BBR as one alternative of Congestion (core/congestion.hpp): the model, the connection's
// delivery-rate state and the per-segment send record it samples from, behind one pointer so
// that the Congestion variant (and so every Tcb) stays small. `cwnd` and `ssthresh` mirror the
// model's for the interface. Congestion calls the BBR-specific members (on_send, on_ack,
// on_app_limited) itself; the shared NewReno window inflation and deflation of recovery do not
// apply (BBR modulates cwnd in recovery its own way).
struct BbrFlow {
  // The transmissions of [begin, end): "Per-packet state" of delivery rate estimation, one
  // record for a run of segments of `seg` bytes each sent together (one output burst: the same
  // time, the connection's delivery state unchanged between them, each right after the one
  // before). Their P.delivered, P.lost, P.delivered_time, P.first_send_time and
  // P.is_app_limited are the same; P.tx_in_flight grows by each one's size, so `stamp` holds
  // the last one's and the segment ending at e had stamp.tx_in_flight - (end - e) (at()). The
  // segments end at end - k * seg. An ACK delivers the segments it covers at once (the newest
  // of them defines the sample, draft "Upon receiving an ACK"); a SACK block or a
  // retransmission that covers some of them cuts the record at their edges, so each segment is
  // delivered, lost or resent as if it had had a record of its own.
  struct Sent {
    Seq begin, end;
    Instant sent;
    RateStamp stamp;
    bool retransmitted = false;  // Karn: its ACK gives no RTT
    bool lost = false;           // counted in C.lost since its latest transmission
    bool sacked = false;         // delivered by a SACK block: counted, not again
    std::uint32_t seg = 0;       // each segment's length (the first may be shorter: cut by an ACK)
    // The stamp of the segment that ends at e (begin < e <= end, a segment's end).
    RateStamp at(Seq e) const {
      RateStamp p = stamp;
      p.tx_in_flight -= static_cast<std::uint32_t>(end - e);
      return p;
    }
  };
  struct State {
    Bbr model;
    DeliveryRate dr;
    Rng rng;
    RateSample pending;  // losses counted since the last ACK (its rs.newly_lost)
    // In sequence order; a vector used as a queue (head index, compacted in place): once grown
    // to the flight size, nothing is allocated per segment.
    std::vector<Sent> sent;
    std::size_t head = 0;
    // One record per burst (Sent); false: one per segment, the draft's per-packet state as
    // written (tests compare the two).
    bool merge = true;
    std::uint64_t recovery_round = 0;  // the model's round count when recovery started
    // The latest ACK's rs.newly_acked (cumulatively ACKed and SACKed) and its time: the ACK
    // whose loss marks start recovery comes just before on_congestion.
    std::uint64_t ack_delivered = 0;
    Instant ack_at{};
    bool started = false;
  };

  std::uint32_t cwnd = 0;
  std::uint32_t ssthresh = 0x7fff'ffff;
  std::unique_ptr<State> s = std::make_unique<State>();

  BbrFlow() = default;
  BbrFlow(const BbrFlow& o) : cwnd(o.cwnd), ssthresh(o.ssthresh), s(std::make_unique<State>(*o.s)) {}
  BbrFlow& operator=(const BbrFlow& o) {
    if (this != &o) *this = BbrFlow(o);
    return *this;
  }
  BbrFlow(BbrFlow&&) noexcept = default;
  BbrFlow& operator=(BbrFlow&&) noexcept = default;

  // The Congestion interface (congestion.hpp).
  void init(std::uint32_t iw) { cwnd = iw; }
  void on_congestion(const LossEvent& e);      // fast recovery starts
  void on_recovery_exit(const LossEvent& e);
  void on_rto(const LossEvent& e);             // every segment in flight deemed lost
  void on_spurious_recovery();                 // Congestion::undo
  void on_idle_restart(std::uint32_t iw, Instant now);
  std::uint64_t pacing_rate(Duration) const { return s->model.pacing_rate(); }

  // BBR's own: "Initialization" with the handshake's RTT; `seed` for ProbeBW's random wait.
  void start(std::uint32_t smss, Instant now, std::optional<Duration> srtt, std::uint64_t seed);
  // A transmission of [begin, begin + len) at `now` with `flight` bytes already out
  // ("Upon sending a packet"); a retransmission of a segment not yet counted lost counts it
  // lost now (BBRHandleLostPacket).
  void on_send(Instant now, Seq begin, std::uint32_t len, std::uint32_t flight, std::uint32_t smss,
               std::optional<Duration> srtt);
  // A cumulative ACK (during recovery too): the delivered segments give the rate sample,
  // then the model's per-ACK steps.
  void on_ack(const AckEvent& e);
  // [begin, end) SACKed: every record wholly inside it is delivered now ("Upon receiving an
  // ACK": C.delivered counts SACKed data), into the next on_ack's sample.
  void on_sacked(Seq begin, Seq end, Instant now);
  // The sender has nothing more to send ("Detecting application-limited phases").
  void on_app_limited(std::uint32_t flight) { s->dr.check_app_limited(true, flight, cwnd, false); }
  std::uint32_t send_quantum() const { return s->model.send_quantum(); }
  const Bbr& model() const { return s->model; }
  const DeliveryRate& delivery() const { return s->dr; }
  std::size_t records() const { return s->sent.size() - s->head; }

 private:
  void ensure_started(std::uint32_t smss, Instant now, std::optional<Duration> srtt);
  void count_lost(Sent& p, Instant now, std::uint32_t smss);
  // Cuts record i at x (a segment boundary inside it): [begin, x) stays at i, [x, end)
  // follows at i + 1. Returns i + 1.
  std::size_t split(std::size_t i, Seq x);
  // The first segment boundary of record p at or after x (p.begin when x <= p.begin), and the
  // last at or before x (p.end when x >= p.end).
  static Seq boundary_up(const Sent& p, Seq x);
  static Seq boundary_down(const Sent& p, Seq x);
};

}  // namespace utcp::detail
