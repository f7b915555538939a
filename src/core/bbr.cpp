// BBR (draft-ietf-ccwg-bbr-03). Each function names the draft's pseudocode routine it follows.
#include "core/bbr.hpp"

#include <algorithm>
#include <chrono>

namespace utcp::detail {

namespace {
using namespace std::chrono_literals;

// "Constants" (the draft's names).
constexpr double kStartupPacingGain = 2.77;  // BBRStartupPacingGain, 4 ln 2
constexpr double kStartupCwndGain = 2;       // BBRStartupCwndGain
constexpr double kDrainPacingGain = 0.35;    // BBRDrainPacingGain
constexpr double kDefaultCwndGain = 2;       // BBRDefaultCwndGain
constexpr double kProbeDownPacingGain = 0.9;
constexpr double kProbeUpPacingGain = 1.25;
constexpr double kProbeUpCwndGain = 2.25;
constexpr double kProbeRttCwndGain = 0.5;         // BBRProbeRTTCwndGain
constexpr double kLossThresh = 0.02;              // BBRLossThresh
constexpr double kBeta = 0.7;                     // BBRBeta
constexpr double kHeadroom = 0.15;                // BBRHeadroom
constexpr double kPacingMargin = 0.01;            // BBRPacingMarginPercent
constexpr double kFullBwGrowth = 1.25;            // Startup: bandwidth still growing by 25 %
constexpr std::uint32_t kFullBwRounds = 3;        // ... over three rounds
constexpr std::uint32_t kStartupFullLossCnt = 6;  // BBRStartupFullLossCnt
constexpr Duration kProbeRttDuration = 200ms;     // ProbeRTTDuration
constexpr Duration kProbeRttInterval = 5s;        // ProbeRTTInterval
constexpr Duration kMinRttFilterLen = 10s;        // MinRTTFilterLen
constexpr std::uint64_t kMaxRenoRounds = 63;
constexpr std::uint64_t kExtraAckedFilterLen = 10;  // BBRExtraAckedFilterLen, round trips

std::uint64_t scaled(std::uint64_t v, double gain) {
  return static_cast<std::uint64_t>(static_cast<double>(v) * gain);
}
std::uint32_t clamp32(std::uint64_t v) {
  return static_cast<std::uint32_t>(std::min<std::uint64_t>(v, 0xffff'ffffu));
}
}  // namespace

// One ACK's inputs.
struct Bbr::Ctx {
  Instant now;
  const RateSample& rs;
  std::uint32_t inflight;
  bool cwnd_limited;
  DeliveryRate& dr;
  Rng& rng;
};

// ---- initialization ----

void Bbr::init(std::uint32_t iw, std::uint32_t smss, Instant now, std::optional<Duration> srtt) {
  // BBROnInit.
  *this = Bbr{};
  smss_ = smss;
  cwnd = initial_cwnd_ = iw;
  min_rtt_ = srtt.value_or(Duration::max());
  min_rtt_stamp_ = probe_rtt_min_stamp_ = extra_acked_interval_start_ = now;
  // BBRInitPacingRate: nominal bandwidth = InitialCwnd / (SRTT, or 1 ms).
  const Duration rtt = srtt.value_or(1ms) > Duration::zero() ? srtt.value_or(1ms) : 1ms;
  const double nominal = static_cast<double>(iw) * 1e9 / static_cast<double>(rtt.count());
  pacing_rate_ = static_cast<std::uint64_t>(kStartupPacingGain * nominal);
  set_send_quantum();
  enter_startup();
}

// ---- per ACK ----

void Bbr::on_ack(const BbrAck& a, DeliveryRate& dr, Rng& rng) {
  smss_ = a.smss;
  delivered_ = dr.total_delivered();
  Ctx c{a.now, a.rs, a.inflight, a.cwnd_limited, dr, rng};
  // BBRUpdateModelAndState.
  update_latest_delivery_signals(c);
  update_congestion_signals(c);
  update_ack_aggregation(c);
  check_full_bw_reached(a.rs);
  check_startup_done();
  check_drain_done(c);
  update_probe_bw_cycle_phase(c);
  update_min_rtt(c);
  check_probe_rtt(c);
  advance_latest_delivery_signals(a.rs);
  bw_ = std::min(max_bw_, bw_lo_);  // BBRBoundBWForModel
  // BBRUpdateControlParameters.
  set_pacing_rate();
  set_send_quantum();
  set_cwnd(c);
}

void Bbr::update_latest_delivery_signals(const Ctx& c) {
  // BBRUpdateLatestDeliverySignals: the loss round ends with the delivery of data sent after
  // it began.
  loss_round_start_ = false;
  bw_latest_ = std::max(bw_latest_, c.rs.delivery_rate);
  inflight_latest_ = std::max(inflight_latest_, c.rs.delivered);
  if (c.rs.has_data && c.rs.prior_delivered >= loss_round_delivered_) {
    loss_round_delivered_ = delivered_;
    loss_round_start_ = true;
  }
}

void Bbr::update_congestion_signals(Ctx& c) {
  // BBRUpdateCongestionSignals.
  update_max_bw(c);
  if (c.rs.rtt) round_min_rtt_ = std::min(round_min_rtt_, *c.rs.rtt);
  delivered_in_round_ += c.rs.newly_acked;
  lost_in_round_ += c.rs.newly_lost;
  if (c.rs.newly_lost > 0) {
    loss_in_round_ = true;
    ++loss_events_in_round_;
  }
  if (!loss_round_start_) return;  // wait for the end of the round trip
  // Deviation (docs/deviations.md): the round's loss is congestion only if a queue stood all
  // round long (its lowest RTT above min_rtt: standing_queue); random loss on a path with an
  // empty queue leaves the model alone.
  round_queued_ = queued(round_min_rtt_);
  check_startup_high_loss();
  adapt_lower_bounds_from_congestion();
  loss_in_round_ = false;
  loss_events_in_round_ = 0;
  lost_in_round_ = delivered_in_round_ = 0;
  prev_round_min_rtt_ = round_min_rtt_;
  round_min_rtt_ = Duration::max();
}

void Bbr::update_ack_aggregation(const Ctx& c) {
  // BBRUpdateACKAggregation: what this interval's ACKs delivered beyond what bw would have
  // in its time (the ACKs came in a burst), at most cwnd, into a max filter over
  // BBRExtraAckedFilterLen rounds (1 in Startup).
  const double interval = std::chrono::duration<double>(c.now - extra_acked_interval_start_).count();
  std::uint64_t expected = static_cast<std::uint64_t>(static_cast<double>(bw_) * std::max(interval, 0.0));
  if (extra_acked_delivered_ <= expected) {
    // The ACK rate fell to the expected rate or below: a new interval starts here.
    extra_acked_delivered_ = 0;
    extra_acked_interval_start_ = c.now;
    expected = 0;
  }
  extra_acked_delivered_ += c.rs.newly_acked;
  const std::uint64_t extra = std::min<std::uint64_t>(extra_acked_delivered_ - expected, cwnd);
  extra_acked_filter_.update(extra, round_count_, full_bw_reached_ ? kExtraAckedFilterLen : 1);
  extra_acked_ = extra_acked_filter_.get();
}

void ExtraAckedFilter::update(std::uint64_t extra, std::uint64_t round, std::uint64_t len) {
  // Two windows of `len` rounds, the current one and the last: the maximum covers the last
  // len to 2 len rounds (a windowed max filter over len rounds, kept in two slots).
  if (round >= start_ + len) {
    slot_[0] = round >= start_ + 2 * len ? 0 : slot_[1];
    slot_[1] = 0;
    start_ = round;
  }
  slot_[1] = std::max(slot_[1], extra);
}

void Bbr::update_round(const Ctx& c) {
  // BBRUpdateRound: a round trip ends when data sent after its start is delivered.
  round_start_ = false;
  if (c.rs.has_data && c.rs.prior_delivered >= next_round_delivered_) {
    start_round();
    ++round_count_;
    ++rounds_since_bw_probe_;
    round_start_ = true;
  }
}

void Bbr::update_max_bw(const Ctx& c) {
  // BBRUpdateMaxBw: an app-limited sample only counts if it raises the estimate.
  update_round(c);
  if (c.rs.valid && (c.rs.delivery_rate >= max_bw_ || !c.rs.is_app_limited)) {
    max_bw_filter_.update(c.rs.delivery_rate);
    max_bw_ = max_bw_filter_.get();
  }
}

void Bbr::adapt_lower_bounds_from_congestion() {
  // BBRAdaptLowerBoundsFromCongestion: while probing, loss is expected and not a signal.
  if (is_probing_bw()) return;
  if (loss_in_round_ && round_queued_) {
    init_lower_bounds();
    loss_lower_bounds();
  }
}

void Bbr::init_lower_bounds() {
  if (bw_lo_ == infinite) bw_lo_ = max_bw_;
  if (inflight_lo_ == infinite) inflight_lo_ = cwnd;
}

void Bbr::loss_lower_bounds() {
  // BBRLossLowerBounds: back off to what the last round delivered, or by BBRBeta.
  bw_lo_ = std::max(bw_latest_, scaled(bw_lo_, kBeta));
  inflight_lo_ = std::max(inflight_latest_, scaled(inflight_lo_, kBeta));
}

void Bbr::reset_lower_bounds() {
  bw_lo_ = infinite;
  inflight_lo_ = infinite;
}

void Bbr::reset_congestion_signals() {
  loss_in_round_ = false;
  loss_events_in_round_ = 0;
  lost_in_round_ = delivered_in_round_ = 0;
  bw_latest_ = 0;
  inflight_latest_ = 0;
}

void Bbr::check_startup_high_loss() {
  // BBRCheckStartupHighLoss, at the end of a round: Startup ends when the round's loss rate
  // exceeded BBRLossThresh in at least BBRStartupFullLossCnt loss events, as a full queue
  // causes (a few random losses do not).
  if (state_ != State::startup || full_bw_reached_ || !round_queued_) return;
  const std::uint64_t sent = delivered_in_round_ + lost_in_round_;
  if (loss_events_in_round_ < kStartupFullLossCnt) return;
  if (static_cast<double>(lost_in_round_) <= kLossThresh * static_cast<double>(sent)) return;
  full_bw_reached_ = true;
  inflight_hi_ = std::max(bdp_multiple(1.0), inflight_latest_);
}

void Bbr::reset_full_bw() {
  full_bw_ = 0;
  full_bw_count_ = 0;
  full_bw_now_ = false;
}

void Bbr::check_full_bw_reached(const RateSample& rs) {
  // BBRCheckFullBWReached: once per round, has the delivery rate grown by 25 %?
  if (full_bw_now_ || !round_start_ || !rs.valid || rs.is_app_limited) return;
  if (static_cast<double>(rs.delivery_rate) >= static_cast<double>(full_bw_) * kFullBwGrowth) {
    reset_full_bw();
    full_bw_ = rs.delivery_rate;
    return;
  }
  ++full_bw_count_;
  full_bw_now_ = full_bw_count_ >= kFullBwRounds;
  if (full_bw_now_) full_bw_reached_ = true;
}

void Bbr::check_startup_done() {
  // BBRCheckStartupDone.
  if (state_ == State::startup && full_bw_reached_) enter_drain();
}

void Bbr::check_drain_done(Ctx& c) {
  // BBRCheckDrainDone: the queue Startup built is gone once inflight is down to one BDP.
  if (state_ == State::drain && c.inflight <= inflight_for(1.0)) {
    cwnd_gain_ = kDefaultCwndGain;  // BBREnterProbeBW
    start_probe_bw_down(c.now, c.rng);
  }
}

void Bbr::update_probe_bw_cycle_phase(Ctx& c) {
  // BBRUpdateProbeBWCyclePhase.
  if (!in_probe_bw()) return;
  if (!adapt_upper_bounds(c)) return;  // it left ProbeBW
  switch (state_) {
    case State::probe_bw_down:
      if (is_time_to_probe_bw(c)) return;
      if (is_time_to_cruise(c)) start_probe_bw_cruise();
      break;
    case State::probe_bw_cruise:
      is_time_to_probe_bw(c);
      break;
    case State::probe_bw_refill:
      // One round of REFILL, then UP: its samples are the probe's.
      if (round_start_) {
        bw_probe_samples_ = true;
        start_probe_bw_up(c.rs);
      }
      break;
    case State::probe_bw_up:
      if (is_time_to_go_down(c)) start_probe_bw_down(c.now, c.rng);
      break;
    default:
      break;
  }
}

bool Bbr::adapt_upper_bounds(Ctx& c) {
  // BBRAdaptUpperBounds.
  if (ack_phase_ == AckPhase::probe_starting && round_start_) ack_phase_ = AckPhase::probe_feedback;
  if (ack_phase_ == AckPhase::probe_stopping && round_start_) {
    // The probe's samples are in: a new cycle of the bandwidth filter (once per cycle, as
    // Linux's BBRv3 does; the draft's pseudocode leaves the phase unchanged here).
    bw_probe_samples_ = false;
    ack_phase_ = AckPhase::init;
    if (in_probe_bw() && !c.rs.is_app_limited) {
      ++cycle_count_;
      max_bw_filter_.advance();
      max_bw_ = max_bw_filter_.get();
    }
  }
  if (!check_inflight_too_high(c.now, c.rng, c.rs)) {
    // The loss rate is safe: raise the upper bound.
    if (inflight_hi_ == infinite) return true;
    if (c.rs.tx_in_flight > inflight_hi_) inflight_hi_ = c.rs.tx_in_flight;
    if (state_ == State::probe_bw_up) probe_inflight_hi_upward(c);
  }
  return in_probe_bw();
}

bool Bbr::check_inflight_too_high(Instant now, Rng& rng, const RateSample& rs) {
  // CheckInflightTooHigh, with the queue condition of the deviation above on the lowest RTT
  // of this round and the last (a standing queue raises them all; a burst or a late wakeup of
  // the host raises single samples).
  if (!inflight_too_high(rs) || !queued(recent_min_rtt())) return false;
  if (bw_probe_samples_) handle_inflight_too_high(now, rng, rs);
  return true;
}

void Bbr::handle_inflight_too_high(Instant now, Rng& rng, const RateSample& rs) {
  // BBRHandleInflightTooHigh: react once per probe; inflight_hi backs off to what was in
  // flight when the loss rate crossed the threshold (at least BBRBeta of the target).
  bw_probe_samples_ = false;
  if (!rs.is_app_limited)
    inflight_hi_ = std::max<std::uint64_t>(rs.tx_in_flight, scaled(target_inflight(), kBeta));
  if (state_ == State::probe_bw_up) start_probe_bw_down(now, rng);
}

void Bbr::on_lost(const RateStamp& p, std::uint32_t size, const DeliveryRate& dr, Instant now,
                  std::uint32_t smss, Rng& rng) {
  // BBRHandleLostPacket: only segments sent while probing matter.
  smss_ = smss;
  if (!bw_probe_samples_) return;
  RateSample rs;
  rs.tx_in_flight = p.tx_in_flight;
  rs.lost = dr.total_lost() - p.lost;
  rs.is_app_limited = p.is_app_limited;
  if (!inflight_too_high(rs) || !queued(recent_min_rtt())) return;
  // BBRInflightHiFromLostPacket: the inflight at which the loss rate crossed the threshold.
  const double inflight_prev = static_cast<double>(rs.tx_in_flight) - size;
  const double lost_prev = static_cast<double>(rs.lost) - size;
  const double lost_prefix = (kLossThresh * inflight_prev - lost_prev) / (1 - kLossThresh);
  rs.tx_in_flight = static_cast<std::uint32_t>(std::max(0.0, inflight_prev + lost_prefix));
  handle_inflight_too_high(now, rng, rs);
}

void Bbr::probe_inflight_hi_upward(const Ctx& c) {
  // BBRProbeInflightHiUpward: grow inflight_hi while the window is what limits us,
  // exponentially faster each round (BBRRaiseInflightHiSlope).
  if (!c.cwnd_limited || cwnd < inflight_hi_) return;
  bw_probe_up_acks_ += c.rs.newly_acked;
  if (bw_probe_up_acks_ >= probe_up_cnt_) {
    const std::uint64_t delta = bw_probe_up_acks_ / probe_up_cnt_;
    bw_probe_up_acks_ -= delta * probe_up_cnt_;
    inflight_hi_ += delta * smss_;
  }
  if (round_start_) raise_inflight_hi_slope();
}

void Bbr::raise_inflight_hi_slope() {
  // BBRRaiseInflightHiSlope: 1, 2, 4 ... segments of growth per round.
  const std::uint64_t growth_this_round = std::uint64_t{smss_}
                                          << std::min<std::uint32_t>(bw_probe_up_rounds_, 30);
  bw_probe_up_rounds_ = std::min<std::uint32_t>(bw_probe_up_rounds_ + 1, 30);
  // probe_up_cnt: bytes ACKed per segment of inflight_hi growth.
  probe_up_cnt_ = std::max<std::uint64_t>(std::uint64_t{cwnd} * smss_ / growth_this_round, 1);
}

bool Bbr::is_time_to_probe_bw(Ctx& c) {
  // BBRIsTimeToProbeBW: after the random wall-clock wait, or as many rounds as Reno would
  // need to fill the same BDP (BBRIsRenoCoexistenceProbeTime).
  const std::uint64_t reno_rounds = std::min<std::uint64_t>(target_inflight() / smss_, kMaxRenoRounds);
  if (c.now - cycle_stamp_ > bw_probe_wait_ || rounds_since_bw_probe_ >= reno_rounds) {
    start_probe_bw_refill();
    return true;
  }
  return false;
}

bool Bbr::is_time_to_cruise(const Ctx& c) const {
  // BBRIsTimeToCruise.
  if (c.inflight > inflight_with_headroom()) return false;
  return c.inflight <= inflight_for(1.0);
}

bool Bbr::is_time_to_go_down(const Ctx& c) {
  // BBRIsTimeToGoDown: inflight_hi, not the path, limits the probe: keep probing; otherwise
  // down once the bandwidth stopped growing.
  if (c.cwnd_limited && cwnd >= inflight_hi_) {
    reset_full_bw();
    full_bw_ = c.rs.delivery_rate;
  } else if (full_bw_now_) {
    return true;
  }
  return false;
}

void Bbr::update_min_rtt(const Ctx& c) {
  // BBRUpdateMinRTT: probe_rtt_min_delay over ProbeRTTInterval, min_rtt over MinRTTFilterLen.
  probe_rtt_expired_ = c.now > probe_rtt_min_stamp_ + kProbeRttInterval;
  if (c.rs.rtt && (*c.rs.rtt < probe_rtt_min_delay_ || probe_rtt_expired_)) {
    probe_rtt_min_delay_ = *c.rs.rtt;
    probe_rtt_min_stamp_ = c.now;
  }
  const bool min_rtt_expired = c.now > min_rtt_stamp_ + kMinRttFilterLen;
  if (probe_rtt_min_delay_ < min_rtt_ || (min_rtt_expired && probe_rtt_min_delay_ != Duration::max())) {
    min_rtt_ = probe_rtt_min_delay_;
    min_rtt_stamp_ = probe_rtt_min_stamp_;
  }
}

void Bbr::check_probe_rtt(Ctx& c) {
  // BBRCheckProbeRTT.
  if (state_ != State::probe_rtt && probe_rtt_expired_ && !idle_restart_) {
    enter_probe_rtt();
    prior_cwnd_ = save_cwnd();
    probe_rtt_done_stamp_.reset();
    ack_phase_ = AckPhase::probe_stopping;
    start_round();
  }
  if (state_ == State::probe_rtt) handle_probe_rtt(c);
  if (c.rs.delivered > 0) idle_restart_ = false;
}

void Bbr::handle_probe_rtt(Ctx& c) {
  // BBRHandleProbeRTT: the low rate of ProbeRTT is not a bandwidth sample.
  c.dr.mark_app_limited(c.inflight);
  if (!probe_rtt_done_stamp_ && c.inflight <= probe_rtt_cwnd()) {
    // At least ProbeRTTDuration and one round at the small window.
    probe_rtt_done_stamp_ = c.now + kProbeRttDuration;
    probe_rtt_round_done_ = false;
    start_round();
  } else if (probe_rtt_done_stamp_) {
    if (round_start_) probe_rtt_round_done_ = true;
    if (probe_rtt_round_done_) check_probe_rtt_done(c.now, c.rng);
  }
}

void Bbr::check_probe_rtt_done(Instant now, Rng& rng) {
  // BBRCheckProbeRTTDone.
  if (probe_rtt_done_stamp_ && now > *probe_rtt_done_stamp_) {
    probe_rtt_min_stamp_ = now;  // the next ProbeRTT in ProbeRTTInterval
    restore_cwnd();
    // BBRExitProbeRTT.
    reset_lower_bounds();
    if (full_bw_reached_) {
      start_probe_bw_down(now, rng);
      start_probe_bw_cruise();
    } else {
      enter_startup();
    }
  }
}

void Bbr::advance_latest_delivery_signals(const RateSample& rs) {
  // BBRAdvanceLatestDeliverySignals: the next loss round starts from this sample.
  if (loss_round_start_) {
    bw_latest_ = rs.delivery_rate;
    inflight_latest_ = rs.delivered;
  }
}

// ---- transitions ----

void Bbr::enter_startup() {
  state_ = State::startup;
  pacing_gain_ = kStartupPacingGain;
  cwnd_gain_ = kStartupCwndGain;
}

void Bbr::enter_drain() {
  state_ = State::drain;
  pacing_gain_ = kDrainPacingGain;
  cwnd_gain_ = kStartupCwndGain;
}

void Bbr::start_probe_bw_down(Instant now, Rng& rng) {
  // BBRStartProbeBW_DOWN, with BBRPickProbeWait: 0 or 1 rounds, 2-3 s of wall clock.
  reset_congestion_signals();
  probe_up_cnt_ = infinite;
  rounds_since_bw_probe_ = rng.uniform(2);
  bw_probe_wait_ = 2s + std::chrono::duration_cast<Duration>(std::chrono::duration<double>(rng.unit()));
  cycle_stamp_ = now;
  ack_phase_ = AckPhase::probe_stopping;
  start_round();
  state_ = State::probe_bw_down;
  pacing_gain_ = kProbeDownPacingGain;
  cwnd_gain_ = kDefaultCwndGain;
}

void Bbr::start_probe_bw_cruise() {
  state_ = State::probe_bw_cruise;
  pacing_gain_ = 1.0;
  cwnd_gain_ = kDefaultCwndGain;
}

void Bbr::start_probe_bw_refill() {
  // BBRStartProbeBW_REFILL: forget the lower bounds, refill the pipe at the estimated rate.
  reset_lower_bounds();
  bw_probe_up_rounds_ = 0;
  bw_probe_up_acks_ = 0;
  ack_phase_ = AckPhase::refilling;
  start_round();
  state_ = State::probe_bw_refill;
  pacing_gain_ = 1.0;
  cwnd_gain_ = kDefaultCwndGain;
}

void Bbr::start_probe_bw_up(const RateSample& rs) {
  // BBRStartProbeBW_UP.
  ack_phase_ = AckPhase::probe_starting;
  start_round();
  reset_full_bw();
  full_bw_ = rs.delivery_rate;
  state_ = State::probe_bw_up;
  pacing_gain_ = kProbeUpPacingGain;
  cwnd_gain_ = kProbeUpCwndGain;
  raise_inflight_hi_slope();
}

void Bbr::enter_probe_rtt() {
  state_ = State::probe_rtt;
  pacing_gain_ = 1.0;
  cwnd_gain_ = kProbeRttCwndGain;
}

// ---- control parameters ----

void Bbr::set_pacing_rate() {
  // BBRSetPacingRateWithGain: never lower before the pipe was full (the initial rate holds).
  const auto rate = static_cast<std::uint64_t>(pacing_gain_ * static_cast<double>(bw_) * (1 - kPacingMargin));
  if (full_bw_reached_ || rate > pacing_rate_) pacing_rate_ = rate;
}

void Bbr::set_send_quantum() {
  // BBRSetSendQuantum: 1 ms at the pacing rate, between 2 SMSS and 64 KiB.
  const std::uint64_t q = pacing_rate_ / 1000;
  send_quantum_ = clamp32(std::clamp<std::uint64_t>(q, 2ull * smss_, 64ull * 1024));
}

void Bbr::set_cwnd(const Ctx& c) {
  // BBRSetCwnd.
  // BBRUpdateMaxInflight: cwnd_gain x BDP, plus what ACK aggregation delivers at once, plus
  // the offload budget (BBRUpdateOffloadBudget: three send quanta). Deviation
  // (docs/deviations.md, "offload budget"): the budget is added to the window, as Linux's
  // tcp_bbr.c adds its TSO budget (bbr_quantization_budget), where the draft's
  // BBRQuantizationBudget takes the larger of the two; BBRInflight, the target of Drain and
  // ProbeBW_DOWN, keeps the draft's larger of the two. On a path whose round trip is mostly
  // the hosts' own batching (the TUN router: min RTT 10-90 us, RTT samples 0.5-2 ms) 2 BDP
  // plus extra_acked stayed under the three quanta, the window bound there, and each ACK
  // freed a segment or two that went out alone.
  max_inflight_ = quantization_budget(bdp_multiple(cwnd_gain_) + extra_acked_ + 3ull * send_quantum_);
  // BBRModulateCwndForRecovery.
  if (c.rs.newly_lost > 0)
    cwnd = std::max<std::uint32_t>(cwnd > c.rs.newly_lost ? clamp32(cwnd - c.rs.newly_lost) : 0, smss_);
  std::uint64_t w = cwnd;
  if (packet_conservation_) w = std::max<std::uint64_t>(w, std::uint64_t{c.inflight} + c.rs.newly_acked);
  if (!packet_conservation_) {
    if (full_bw_reached_)
      w = std::min<std::uint64_t>(w + c.rs.newly_acked, max_inflight_);
    else if (w < max_inflight_ || delivered_ < initial_cwnd_)
      w += c.rs.newly_acked;
    w = std::max(w, min_pipe_cwnd());
  }
  // BBRBoundCwndForProbeRTT.
  if (state_ == State::probe_rtt) w = std::min(w, probe_rtt_cwnd());
  // BBRBoundCwndForModel: inflight_hi while probing, with headroom in CRUISE and ProbeRTT;
  // inflight_lo always.
  std::uint64_t cap = infinite;
  if (in_probe_bw() && state_ != State::probe_bw_cruise)
    cap = inflight_hi_;
  else if (state_ == State::probe_rtt || state_ == State::probe_bw_cruise)
    cap = inflight_with_headroom();
  cap = std::min(cap, inflight_lo_);
  cap = std::max(cap, min_pipe_cwnd());
  cwnd = clamp32(std::min(w, cap));
}

// ---- loss recovery and timeouts ----

void Bbr::on_recovery_start(std::uint32_t inflight, std::uint32_t newly_acked, std::uint32_t smss) {
  // BBROnEnterFastRecovery: packet conservation for the first round.
  smss_ = smss;
  prior_cwnd_ = save_cwnd();
  in_recovery_ = true;
  packet_conservation_ = true;
  cwnd = clamp32(std::uint64_t{inflight} + std::max(newly_acked, smss));
}

void Bbr::on_recovery_round() {
  packet_conservation_ = false;
}

void Bbr::on_recovery_exit() {
  // BBROnExitFastRecovery.
  in_recovery_ = false;
  packet_conservation_ = false;
  restore_cwnd();
}

void Bbr::on_rto(std::uint32_t smss) {
  // On a retransmission timeout everything in flight is deemed lost: cwnd = inflight + 1
  // segment with inflight 0.
  smss_ = smss;
  prior_cwnd_ = save_cwnd();
  in_recovery_ = true;
  packet_conservation_ = false;
  cwnd = smss;
}

void Bbr::on_spurious_recovery() {
  // The draft restores the window saved on entering recovery when a recovery ends "by
  // repairing all losses or undoing recovery" (BBROnExitFastRecovery); the proof of a
  // spurious episode may come after its end, when the window may have been bounded since by
  // what its losses did to the model. Those go too, as Linux's BBRv3 undo does
  // (bbr_undo_cwnd): bw_lo and inflight_lo, and the full-bandwidth count (a spurious
  // slow-down is no plateau). inflight_hi stays: a probe's loss rate is not undone.
  reset_lower_bounds();
  reset_full_bw();
  restore_cwnd();
}

void Bbr::on_idle_restart(Instant now, std::uint32_t inflight, bool app_limited, Rng& rng) {
  // BBRHandleRestartFromIdle: resume at the estimated rate, not below it.
  if (inflight != 0 || !app_limited) return;
  idle_restart_ = true;
  if (in_probe_bw()) {
    const auto rate = static_cast<std::uint64_t>(static_cast<double>(bw_) * (1 - kPacingMargin));
    if (rate > 0) pacing_rate_ = rate;
  } else if (state_ == State::probe_rtt) {
    check_probe_rtt_done(now, rng);
  }
}

std::uint32_t Bbr::save_cwnd() const {
  // BBRSaveCwnd: the last window before recovery or ProbeRTT cut it.
  if (!in_recovery_ && state_ != State::probe_rtt) return cwnd;
  return std::max(prior_cwnd_, cwnd);
}

void Bbr::restore_cwnd() {
  cwnd = std::max(cwnd, prior_cwnd_);
}

// ---- helpers ----

bool standing_queue(Duration min_rtt, Duration rtt, std::uint32_t quantum, std::uint64_t bw) {
  if (min_rtt == Duration::max() || rtt == Duration::max()) return false;
  Duration floor = min_rtt / 8;
  if (bw > 0) {
    const auto burst = std::chrono::duration_cast<Duration>(
        std::chrono::nanoseconds(std::uint64_t{quantum} * 1'000'000'000u / bw));
    floor = std::max(floor, burst);
  }
  return rtt > min_rtt + floor;
}

bool Bbr::queued(Duration rtt) const {
  return standing_queue(min_rtt_, rtt, send_quantum_, bw_);
}

bool Bbr::inflight_too_high(const RateSample& rs) {
  // IsInflightTooHigh: more than BBRLossThresh of what was in flight was lost.
  return static_cast<double>(rs.lost) > static_cast<double>(rs.tx_in_flight) * kLossThresh;
}

std::uint64_t Bbr::bdp() const {
  if (min_rtt_ == Duration::max()) return 0;
  return static_cast<std::uint64_t>(static_cast<double>(bw_) * static_cast<double>(min_rtt_.count()) / 1e9);
}

std::uint64_t Bbr::bdp_multiple(double gain) const {
  // BBRBDPMultiple: the initial window until a min_rtt is known.
  if (min_rtt_ == Duration::max()) return initial_cwnd_;
  return scaled(bdp(), gain);
}

std::uint64_t Bbr::inflight_for(double gain) const {
  // BBRInflight with BBRQuantizationBudget.
  return quantization_budget(bdp_multiple(gain));
}

std::uint64_t Bbr::quantization_budget(std::uint64_t inflight) const {
  // BBRQuantizationBudget: room for the sender's bursts (three send quanta), at least
  // BBRMinPipeCwnd, two more segments in ProbeBW_UP.
  inflight = std::max<std::uint64_t>(inflight, 3ull * send_quantum_);
  inflight = std::max(inflight, min_pipe_cwnd());
  if (state_ == State::probe_bw_up) inflight += 2ull * smss_;
  return inflight;
}

std::uint64_t Bbr::inflight_with_headroom() const {
  // BBRInflightWithHeadroom: leave BBRHeadroom of inflight_hi for other flows.
  if (inflight_hi_ == infinite) return infinite;
  const std::uint64_t headroom = std::max<std::uint64_t>(smss_, scaled(inflight_hi_, kHeadroom));
  return std::max(inflight_hi_ > headroom ? inflight_hi_ - headroom : 0, min_pipe_cwnd());
}

std::uint64_t Bbr::target_inflight() const {
  // BBRTargetInflight.
  return std::min<std::uint64_t>(bdp(), cwnd);
}

std::uint64_t Bbr::probe_rtt_cwnd() const {
  // BBRProbeRTTCwnd.
  return std::max(bdp_multiple(kProbeRttCwndGain), min_pipe_cwnd());
}

std::string_view to_string(Bbr::State s) {
  switch (s) {
    case Bbr::State::startup:
      return "Startup";
    case Bbr::State::drain:
      return "Drain";
    case Bbr::State::probe_bw_down:
      return "ProbeBW_DOWN";
    case Bbr::State::probe_bw_cruise:
      return "ProbeBW_CRUISE";
    case Bbr::State::probe_bw_refill:
      return "ProbeBW_REFILL";
    case Bbr::State::probe_bw_up:
      return "ProbeBW_UP";
    case Bbr::State::probe_rtt:
      return "ProbeRTT";
  }
  return "?";
}

std::ostream& operator<<(std::ostream& os, Bbr::State s) {
  return os << to_string(s);
}

// ---- BbrFlow: BBR behind the Congestion interface ----

void BbrFlow::start(std::uint32_t smss, Instant now, std::optional<Duration> srtt, std::uint64_t seed) {
  s->rng = Rng(seed);
  s->model.init(cwnd, smss, now, srtt);
  s->started = true;
  cwnd = s->model.cwnd;
}

void BbrFlow::ensure_started(std::uint32_t smss, Instant now, std::optional<Duration> srtt) {
  // Selected on a live flow (TCP_CONGESTION): the model starts from the current window.
  if (!s->started) start(smss, now, srtt, now.time_since_epoch().count());
}

void BbrFlow::count_lost(Sent& p, Instant now, std::uint32_t smss) {
  // One segment (on_send cuts it out of its record first): BBRHandleLostPacket.
  if (p.lost) return;
  p.lost = true;
  const std::uint32_t size = p.end - p.begin;
  s->dr.lost(s->pending, size);
  s->model.cwnd = cwnd;
  s->model.on_lost(p.stamp, size, s->dr, now, smss, s->rng);
  cwnd = s->model.cwnd;
}

Seq BbrFlow::boundary_up(const Sent& p, Seq x) {
  if (!(p.begin < x)) return p.begin;
  if (!(x < p.end) || p.seg == 0) return p.end;
  return p.end - ((p.end - x) / p.seg) * p.seg;
}

Seq BbrFlow::boundary_down(const Sent& p, Seq x) {
  if (!(x < p.end)) return p.end;
  if (!(p.begin < x) || p.seg == 0) return p.begin;
  const std::uint32_t k = (p.end - x + p.seg - 1) / p.seg;
  const Seq b = p.end - k * p.seg;
  return p.begin < b ? b : p.begin;
}

std::size_t BbrFlow::split(std::size_t i, Seq x) {
  auto& q = s->sent;
  Sent right = q[i];
  right.begin = x;
  q[i].stamp = q[i].at(x);
  q[i].end = x;
  q.insert(q.begin() + static_cast<std::ptrdiff_t>(i + 1), right);
  return i + 1;
}

void BbrFlow::on_send(Instant now, Seq begin, std::uint32_t len, std::uint32_t flight, std::uint32_t smss,
                      std::optional<Duration> srtt) {
  if (len == 0) return;
  ensure_started(smss, now, srtt);
  auto& q = s->sent;
  const Seq end = begin + len;
  // Retransmitted parts: the segments they cover (their records found by binary search: a
  // go-back after a timeout resends the whole flight), each cut out of its record, are counted
  // lost if they were not and take the new transmission's stamp, one by one.
  auto i = static_cast<std::size_t>(
      std::partition_point(q.begin() + static_cast<std::ptrdiff_t>(s->head), q.end(),
                           [&](const Sent& p) { return !(begin < p.end); }) -
      q.begin());
  for (; i < q.size() && q[i].begin < end; ++i) {
    if (q[i].sacked) continue;  // delivered already (a go-back after a timeout resends it)
    const Seq lo = boundary_down(q[i], begin);
    if (q[i].begin < lo) i = split(i, lo);
    const Seq first_end = boundary_up(q[i], q[i].begin + 1);
    if (first_end < q[i].end) split(i, first_end);
    Sent& p = q[i];
    count_lost(p, now, smss);
    p.lost = false;
    p.retransmitted = true;
    p.sent = now;
    p.seg = p.end - p.begin;
    p.stamp = s->dr.on_send(now, flight, p.seg);
  }
  // New data beyond the last record.
  const Seq from = q.size() > s->head && begin < q.back().end ? q.back().end : begin;
  if (!(from < end)) return;
  const std::uint32_t n = end - from;
  const RateStamp stamp = s->dr.on_send(now, flight, n);
  if (s->merge && q.size() > s->head) {
    // The next segment of the last record's run: sent at the same time, of the same length,
    // right after it, with the same delivery state and the flight it left.
    Sent& b = q.back();
    if (b.end == from && b.sent == now && b.seg == n && !b.retransmitted && !b.lost && !b.sacked &&
        b.stamp.tx_in_flight == flight && b.stamp.delivered == stamp.delivered && b.stamp.lost == stamp.lost &&
        b.stamp.delivered_time == stamp.delivered_time && b.stamp.first_send_time == stamp.first_send_time &&
        b.stamp.is_app_limited == stamp.is_app_limited) {
      b.end = end;
      b.stamp.tx_in_flight = stamp.tx_in_flight;
      return;
    }
  }
  if (s->head > 0 && q.size() == q.capacity()) {
    // Compact in place rather than grow: the vector's capacity follows the flight's records.
    q.erase(q.begin(), q.begin() + static_cast<std::ptrdiff_t>(s->head));
    s->head = 0;
  }
  Sent rec{from, end, now, stamp};
  rec.seg = n;
  q.push_back(rec);
}

void BbrFlow::on_ack(const AckEvent& e) {
  ensure_started(e.smss, e.now, e.srtt);
  RateSample rs = s->pending;
  s->pending = RateSample{};
  auto& q = s->sent;
  // "Upon receiving an ACK": every segment the cumulative ACK covers is delivered. A record's
  // segments share all but P.tx_in_flight, and the newest (the last) defines the sample, so
  // one UpdateRateSample with their bytes and the last one's stamp does what one per segment
  // does; a segment the ACK covers in part is delivered in part, as before.
  while (s->head < q.size() && q[s->head].begin < e.ack) {
    Sent& p = q[s->head];
    const bool whole = !(e.ack < p.end);
    const Seq end = whole ? p.end : e.ack;
    if (!p.sacked)
      s->dr.delivered(rs, p.at(boundary_up(p, end)), end, end - p.begin, p.sent, p.retransmitted, e.now);
    if (!whole) {
      p.begin = e.ack;
      break;
    }
    ++s->head;
  }
  if (s->head == q.size()) {
    q.clear();
    s->head = 0;
  }
  s->dr.generate(rs, s->model.min_rtt());
  BbrAck a;
  a.now = e.now;
  a.rs = rs;
  a.inflight = e.pipe ? *e.pipe : (e.flight > e.acked ? e.flight - e.acked : 0);
  a.smss = e.smss;
  a.cwnd_limited = e.cwnd_limited;
  s->model.cwnd = cwnd;
  s->ack_delivered = rs.newly_acked;
  s->ack_at = e.now;
  s->model.on_ack(a, s->dr, s->rng);
  // "Modulating cwnd in loss recovery": packet conservation for the first round only.
  if (s->model.in_recovery() && s->model.round_count() > s->recovery_round) s->model.on_recovery_round();
  cwnd = s->model.cwnd;
}

void BbrFlow::on_sacked(Seq begin, Seq end, Instant now) {
  auto& q = s->sent;
  // Every segment wholly inside [begin, end) is delivered now: the records that hold some are
  // split so that those segments have one of their own, delivered at once (as in on_ack).
  auto i = static_cast<std::size_t>(
      std::partition_point(q.begin() + static_cast<std::ptrdiff_t>(s->head), q.end(),
                           [&](const Sent& p) { return !(begin < p.end); }) -
      q.begin());
  for (; i < q.size() && q[i].begin < end; ++i) {
    if (q[i].sacked) continue;
    const Seq lo = boundary_up(q[i], begin);
    const Seq hi = boundary_down(q[i], end);
    if (!(lo < hi)) continue;
    if (q[i].begin < lo) i = split(i, lo);
    if (hi < q[i].end) split(i, hi);
    Sent& p = q[i];
    p.sacked = true;
    // Not counted lost any more (it was not: it arrived); C.lost keeps what was counted.
    s->dr.delivered(s->pending, p.stamp, p.end, p.end - p.begin, p.sent, p.retransmitted, now);
  }
}

void BbrFlow::on_congestion(const LossEvent& e) {
  ensure_started(e.smss, e.now, std::nullopt);
  s->model.cwnd = cwnd;
  // BBROnEnterFastRecovery: cwnd = C.inflight + max(rs.newly_acked, 1 SMSS), the newly_acked
  // of the ACK that found the loss (its on_ack came just before, at the same time; a loss
  // found without a delivering ACK, as by a duplicate ACK without SACK, adds nothing). With 0
  // here, an ACK that SACKed most of the flight left a window of one segment: only the
  // retransmission went out, and if it or its ACK was lost (3 % each on the router path)
  // nothing else came back before the RTO (issue 17).
  const std::uint64_t newly_acked = s->ack_at == e.now ? s->ack_delivered : 0;
  s->ack_delivered = 0;
  s->model.on_recovery_start(
      e.flight, static_cast<std::uint32_t>(std::min<std::uint64_t>(newly_acked, 0xffff'ffffu)), e.smss);
  s->recovery_round = s->model.round_count();
  cwnd = s->model.cwnd;
}

void BbrFlow::on_recovery_exit(const LossEvent&) {
  s->model.cwnd = cwnd;
  s->model.on_recovery_exit();
  cwnd = s->model.cwnd;
}

void BbrFlow::on_spurious_recovery() {
  if (!s->started) return;
  s->model.cwnd = cwnd;
  s->model.on_spurious_recovery();
  cwnd = s->model.cwnd;
}

void BbrFlow::on_rto(const LossEvent& e) {
  ensure_started(e.smss, e.now, std::nullopt);
  for (std::size_t i = s->head; i < s->sent.size(); ++i) {
    Sent& p = s->sent[i];
    if (p.sacked) continue;
    if (!p.lost) s->dr.lost(s->pending, p.end - p.begin);
    p.lost = true;
  }
  s->model.cwnd = cwnd;
  s->model.on_rto(e.smss);
  cwnd = s->model.cwnd;
}

void BbrFlow::on_idle_restart(std::uint32_t, Instant now) {
  if (!s->started) return;
  s->model.cwnd = cwnd;
  s->model.on_idle_restart(now, 0, s->dr.app_limited(), s->rng);
  cwnd = s->model.cwnd;
}

}  // namespace utcp::detail
