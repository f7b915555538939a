// The transmission control block (RFC 9293 §3.3.1): one connection's state, a value.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <optional>

#include "core/boxed.hpp"
#include "core/byte_queue.hpp"
#include "core/congestion.hpp"
#include "core/loss_state.hpp"
#include "core/reassembly.hpp"
#include "core/recycler.hpp"
#include "core/rtt.hpp"
#include "core/slot_pool.hpp"
#include "utcp/config.hpp"
#include "utcp/detail/engine_api.hpp"
#include "utcp/seq.hpp"
#include "utcp/stats.hpp"
#include "utcp/time.hpp"

namespace utcp::detail {

// Layout rule (issue 15: at most 260 bytes per idle connection per stack, trie leaf, notify
// pair and malloc overhead included, as lwIP's tcp_pcb): a field belongs in the Tcb itself
// only when an idle ESTABLISHED connection needs it. State needed only while data is in
// flight or in recovery (the SACK scoreboard, RACK and PRR state, RTT timing of a segment,
// CUBIC's epoch, pacing credit, dup-ACK and limited-transmit counts), while a hole exists
// (reassembly), during a handshake or a rare event (SYN options being negotiated, challenge
// ACK and probe counters) goes in a side structure behind one pointer (std::unique_ptr or a
// refcounted immutable node, copied with the Tcb), allocated when that phase starts and freed
// when it ends, so an idle connection pays one null pointer for it. Prefer narrow types
// (uint32 sequence and window values, uint8 shifts and counts) and keep flags together.
// New fields: say in their comment which phase needs them.

// Each timer is a deadline; an unarmed one is `never`. The deadlines live in a TimerSet
// behind one pointer while any is armed (an idle connection without keepalive arms none).
enum class Timer : std::uint8_t {
  retransmit,   // RFC 6298 retransmission, also SYN and SYN-ACK retransmission
  persist,      // zero-window probe (§3.8.6.1), or the sender SWS override timer (§3.8.6.2.1)
  delayed_ack,  // §3.8.6.3
  keepalive,    // §3.8.4
  lifetime,     // connection establishment, FIN-WAIT-2, or 2*MSL in TIME-WAIT, by state
  pacing,       // a paced flow's next segment is due (armed only while one waits)
  loss_probe,   // RFC 8985: RACK's reordering timeout or the Tail Loss Probe (LossState::reo_timer)
  count_
};
inline constexpr Instant never = Instant::max();
inline std::array<Instant, static_cast<std::size_t>(Timer::count_)> all_never() {
  std::array<Instant, static_cast<std::size_t>(Timer::count_)> a;
  a.fill(never);
  return a;
}
// The deadlines, and the state of what the timers guard (the flight, probes, keepalives):
// made when a timer is armed or a count starts, freed when no timer is armed, nothing is
// timed and every count is back to 0 (Tcb::trim).
struct TimerSet {
  std::array<Instant, static_cast<std::size_t>(Timer::count_)> at = all_never();
  Instant rtt_start{};               // RFC 6298: the timed segment (Tcb::rtt_timing) was sent then,
  Seq rtt_seq;                       // ... and ends here
  std::uint32_t limited_sent = 0;    // RFC 3042 bytes, not part of FlightSize (RFC 5681 §3.2)
  std::uint32_t retransmits = 0;     // consecutive timeouts of the current segment
  std::uint32_t probes = 0;          // unanswered zero-window probes
  std::uint32_t keepalive_sent = 0;  // unanswered keepalive probes
  std::uint32_t persist_backoff = 0;
  bool counts_zero() const {
    return (limited_sent | retransmits | probes | keepalive_sent | persist_backoff) == 0;
  }
};
// A flow arms and disarms its timers around every flight, and a connection in TIME-WAIT holds
// its set until it is reaped, so the sets come from a slot pool (core/slot_pool.hpp), as the
// flow table's leaves do: taken and given back without malloc (a stack that opens and closes
// connections holds one more set per TIME-WAIT connection, which a cache of freed sets
// could not supply), 88 bytes each rather than a 96 B chunk. The pool keeps its peak: the most
// sets ever held at once. The unique_ptr's deleter never runs (Boxed gives it back here).
template <>
struct BoxPool<TimerSet> {
  using Pool = SlotPool<sizeof(TimerSet), alignof(TimerSet)>;
  static std::unique_ptr<TimerSet> take() { return std::unique_ptr<TimerSet>(::new (Pool::take()) TimerSet()); }
  static std::unique_ptr<TimerSet> copy(const TimerSet& s) {
    return std::unique_ptr<TimerSet>(::new (Pool::take()) TimerSet(s));
  }
  static void give(std::unique_ptr<TimerSet> p) {
    static_assert(std::is_trivially_destructible_v<TimerSet>);
    Pool::give(p.release());
  }
};

// What few flows have, behind one pointer made when the first of it is set: keepalive
// parameters that FlowOptions gave (the others follow the stack's Config, which never
// changes), the RFC 5961 §7 challenge ACK budget once a challenge ACK was considered, a
// paced flow's schedule, what a SACK receiver reports first once data arrived out of order
// or twice, and the reassembly queue once data arrived out of order (Tcb::ooo()).
struct TcbRare {
  Reassembly ooo;  // out-of-order data held (one null pointer while none is)
  Seq sack_latest;  // RFC 2018 §4: the latest out-of-order segment (its first byte)
  // RFC 2883: a duplicate segment received, [dsack_left, dsack_right), reported as the first
  // SACK block of the next ACK (dsack_left == dsack_right: none).
  Seq dsack_left, dsack_right;
  Instant pace_next{};  // paced flows: when the next segment is due (output/pacer.hpp)
  std::optional<Duration> keepalive_idle, keepalive_interval;
  std::optional<std::uint32_t> keepalive_count;
  Instant challenge_window{};
  std::uint32_t challenge_count = 0;
};

// Flags, grouped by who sets them. Two are not stored: whether our FIN was sent and whether
// the peer's was received follow from the sequence numbers (fin_sent(), fin_received()).

// How the connection came to be, while it opens, and the options both sides offered in the
// handshake (one byte, issue 15).
struct OpenFlags {
  bool active : 1 = false;             // we sent the first SYN
  bool user_knows : 1 = false;         // connect() returned it, or Established was reported
  bool embryonic : 1 = false;          // counted against its listener's backlog
  bool syn_retransmitted : 1 = false;  // RFC 5681 §3.1, RFC 6298 §5.7: smaller start once open
  bool wscale : 1 = false;             // window scaling negotiated (RFC 7323 §2.2)
  bool ts : 1 = false;                 // timestamps negotiated (RFC 7323 §3.2)
  bool sack : 1 = false;               // SACK-permitted negotiated (RFC 2018 §2)
};

// What the user asked for (calls and FlowOptions).
struct UserFlags {
  bool close_called : 1 = false;  // close(): no more reads either; FIN-WAIT-2 timeout applies
  bool read_shut : 1 = false;     // shutdown(read) or close()
  bool write_shut : 1 = false;    // shutdown(write) or close(): a FIN is (to be) queued at fin_seq
  bool nodelay : 1 = false;       // FlowOptions::nodelay: no Nagle
  bool keepalive : 1 = false;     // FlowOptions::keepalive (§3.8.4)
  bool pacing : 1 = false;        // FlowOptions::pacing: sends wait for Timer::pacing
};

// An ACK we owe the peer; output() pays it.
struct AckOwed {
  bool now : 1 = false;      // immediately
  bool delayed : 1 = false;  // within the delayed-ACK time
  // Full-sized segments received since our last ACK: counts to 1 (the second makes the ACK due).
  std::uint8_t segs_unacked : 1 = 0;
};

struct Tcb {
  TcpState state = TcpState::closed;
  OpenFlags open;
  UserFlags user;
  AckOwed ack_owed;
  // Narrow fields kept together (the layout rule), whatever their topic.
  std::uint8_t snd_wscale : 4 = 0;  // the peer's shift (at most 14, RFC 7323 §2.3)
  std::uint8_t rcv_wscale : 4 = 0;  // ours
  ReoWnd reo;                     // RFC 8985 §6.2 step 4: the reordering window's state, across flights
  std::uint8_t armed_timers : 7 = 0;  // bit i: Timer i is armed (its deadline in `timers`)
  bool rtt_timing : 1 = false;    // timing a segment (rtt_seq(), rtt_start())
  // The retransmission timer's estimator (RFC 6298), every phase: 19 bytes, 1-aligned, so it
  // sits with the narrow fields.
  RttEstimator rtt;
  // The user's notifies, every phase: 9 bytes, 1-aligned.
  NotifyPair notifies;
  std::uint16_t rcv_mss = 536;    // the MSS we announced
  std::uint16_t smss = 536;       // effective send MSS: at most rcv_mss (handshake, set_options)

  // Send sequence space (§3.3.1). snd_max: highest sequence sent (snd_nxt rewinds on RTO).
  Seq iss, snd_una, snd_nxt, snd_max, snd_wl1, snd_wl2;
  Seq fin_seq;                    // where our FIN goes: fixed by shutdown(write) or close()
  std::uint32_t snd_wnd = 0;      // scaled, in bytes
  std::uint32_t max_snd_wnd = 0;  // largest window the peer offered (RFC 5961 §5.2, SWS)

  // Receive sequence space.
  Seq irs, rcv_nxt;
  Seq rcv_adv;                     // right edge advertised: never moves left
  Seq last_ack_sent;               // RFC 7323 §4.3 Last.ACK.sent: the ACK field we last sent

  // Timestamps (RFC 7323), every phase once negotiated: our clock's per-flow offset (§5.4),
  // TS.Recent and when it was last updated (§5.5, the 24-day rule: ts_recent_idle()).
  std::uint32_t ts_offset = 0;
  std::uint32_t ts_recent = 0;
  // When TS.Recent was last set, in units of 2^30 ns (about 1.07 s) modulo 2^32 (about 146
  // years): 4 bytes, not an 8-byte Instant (issue 15); the 24-day rule needs no finer
  // (deviations.md).
  std::uint32_t ts_recent_stamp = 0;

  // Buffers.
  std::uint32_t send_buffer = 0, recv_buffer = 0;
  // The receive side's stream offset, here after the 4-byte fields (no padding).
  std::uint64_t rcv_off = 0;       // stream offset of rcv_nxt (data bytes since IRS + 1)
  ByteQueue sndq;                 // from the first unacknowledged data byte on
  ByteQueue rcvq;                 // in order, not yet read

  // Congestion control (the RTT estimator is above, with the narrow fields).
  Congestion cc;  // 32 bytes; the algorithm is chosen by new_tcb (Config / FlowOptions)
  Instant last_send{};  // for RFC 5681 §4.1 restart after idle
  // SACK loss recovery while data is in flight (open.sack only): scoreboard, RACK-TLP, PRR.
  Boxed<LossState> loss;
  Instant last_recv{};  // for keepalive

  Boxed<TcbRare> rare;  // keepalive parameters from FlowOptions, the challenge ACK budget, pacing, SACK reports
  Boxed<TimerSet> timers;  // while a timer is armed, a segment timed or a count not 0

  explicit Tcb(Duration rto_initial) : rtt(rto_initial) {}

  Instant timer(Timer t) const { return armed(t) ? timers->at[static_cast<std::size_t>(t)] : never; }
  void arm(Timer t, Instant at) {
    if (at == never) {
      disarm(t);
      return;
    }
    timers.make().at[static_cast<std::size_t>(t)] = at;
    armed_timers = armed_timers | bit(t);
  }
  void disarm(Timer t) {
    if (!armed(t)) return;
    timers->at[static_cast<std::size_t>(t)] = never;
    armed_timers = armed_timers & static_cast<std::uint8_t>(~bit(t));
    if (armed_timers == 0) trim();
  }
  bool armed(Timer t) const { return (armed_timers & bit(t)) != 0; }
  std::optional<Instant> deadline() const {
    if (armed_timers == 0) return std::nullopt;
    // The earliest of the armed timers only (the others hold `never`): one or two, not all
    // Timer::count_, on a stream's every segment (the flow table's aggregate reads it).
    Instant d = never;
    for (unsigned bits = armed_timers; bits != 0; bits &= bits - 1) d = std::min(d, timers->at[static_cast<std::size_t>(std::countr_zero(bits))]);
    return d;
  }
  // The flight's counts and RTT timing (TimerSet): 0 and unset while there is none.
  std::uint32_t limited_sent() const { return timers ? timers->limited_sent : 0; }
  std::uint32_t retransmits() const { return timers ? timers->retransmits : 0; }
  std::uint32_t probes() const { return timers ? timers->probes : 0; }
  std::uint32_t keepalive_sent() const { return timers ? timers->keepalive_sent : 0; }
  std::uint32_t persist_backoff() const { return timers ? timers->persist_backoff : 0; }
  Seq rtt_seq() const { return timers ? timers->rtt_seq : Seq{}; }
  Instant rtt_start() const { return timers ? timers->rtt_start : Instant{}; }
  // To change a count (made if need be); clear() sets one to 0 without making anything.
  TimerSet& counts() { return timers.make(); }
  void clear(std::uint32_t TimerSet::*count) {
    if (!timers) return;
    timers.get()->*count = 0;
    trim();
  }
  void start_rtt_timing(Seq end, Instant sent) {
    TimerSet& s = timers.make();
    s.rtt_seq = end;
    s.rtt_start = sent;
    rtt_timing = true;
  }
  void stop_rtt_timing() {
    rtt_timing = false;
    trim();
  }
  // Frees the TimerSet once it holds nothing (rtt_seq and rtt_start mean nothing untimed).
  void trim() {
    if (timers && armed_timers == 0 && !rtt_timing && timers->counts_zero()) timers.reset();
  }
  static_assert(static_cast<unsigned>(Timer::count_) <= 7, "armed_timers is 7 bits");
  static std::uint8_t bit(Timer t) { return static_cast<std::uint8_t>(1u << static_cast<unsigned>(t)); }
  Instant pace_next() const { return rare ? rare->pace_next : Instant{}; }
  // The reassembly queue: in TcbRare (issue 15: 8 bytes less in every Tcb), empty while there
  // is none. Storing into it makes TcbRare (rare.make().ooo).
  const Reassembly& ooo() const { return rare ? rare->ooo : kNoReassembly; }
  static const Reassembly kNoReassembly;
  Seq sack_latest() const { return rare ? rare->sack_latest : Seq{}; }
  bool dsack_pending() const { return rare && rare->dsack_left < rare->dsack_right; }
  // Keepalive parameters: the flow's own (FlowOptions), else the stack's.
  Duration keepalive_idle(const Config& c) const {
    return rare && rare->keepalive_idle ? *rare->keepalive_idle : c.keepalive_idle;
  }
  Duration keepalive_interval(const Config& c) const {
    return rare && rare->keepalive_interval ? *rare->keepalive_interval : c.keepalive_interval;
  }
  std::uint32_t keepalive_count(const Config& c) const {
    return rare && rare->keepalive_count ? *rare->keepalive_count : c.keepalive_count;
  }

  // The retransmission timeout within the stack's bounds (Config::rto_min, rto_max).
  Duration rto(const Config& c) const { return rtt.rto(c.rto_min, c.rto_max); }

  // RFC 7323 §5.5: TS.Recent was set now; whether it has gone unchanged for longer than `idle`.
  static constexpr unsigned kTsStampShift = 30;
  static std::uint32_t ts_stamp(Instant t) {
    return static_cast<std::uint32_t>(static_cast<std::uint64_t>(t.time_since_epoch().count()) >> kTsStampShift);
  }
  void set_ts_recent(std::uint32_t value, Instant now) {
    ts_recent = value;
    ts_recent_stamp = ts_stamp(now);
  }
  bool ts_recent_idle(Instant now, Duration idle) const {
    return ts_stamp(now) - ts_recent_stamp > static_cast<std::uint64_t>(idle.count()) >> kTsStampShift;
  }

  bool synchronized() const { return state >= TcpState::established; }
  bool syn_acked() const { return snd_una != iss; }
  // Sequence number of the byte at the front of sndq.
  Seq data_start() const { return syn_acked() ? snd_una : iss + 1; }
  // Our FIN went out: only a FIN takes SND.MAX past fin_seq (data ends at it). Stays true
  // when the FIN is later resent from SND.UNA, since SND.MAX never moves back.
  bool fin_sent() const { return user.write_shut && snd_max == fin_seq + 1; }
  bool fin_acked() const { return fin_sent() && snd_una == fin_seq + 1; }
  // The peer's FIN was reached in sequence: it is the one octet of RCV.NXT - IRS - 1 that is
  // not text (rcv_off counts text only; before the SYN, IRS = RCV.NXT = 0 gives 2^32 - 1).
  bool fin_received() const { return rcv_nxt - irs - 1u - static_cast<std::uint32_t>(rcv_off) == 1; }
  std::uint32_t flight() const { return snd_max - snd_una; }
  // What is still in the network: RFC 6675's pipe on a SACK connection with data out (the
  // octets neither SACKed nor deemed lost), else the flight. A model-based algorithm (BBR)
  // bounds this by its window, not the flight (draft-ietf-ccwg-bbr-03 C.inflight).
  std::uint32_t pipe() const { return loss ? loss->board.pipe() : flight(); }
  // A zero window with at most the probe octet out (§3.8.6.1): the persist timer, not the
  // retransmission timer, is in charge of it.
  bool probing_zero_window() const { return snd_wnd == 0 && flight() <= 1; }
  // The window we have advertised and not yet seen filled.
  std::uint32_t rcv_wnd() const { return rcv_adv > rcv_nxt ? rcv_adv - rcv_nxt : 0; }
  // The rate this flow paces at, bytes per second; 0: not paced (pacing off, or a window-based
  // algorithm without an RTT yet).
  std::uint64_t pacing_rate() const {
    if (!user.pacing && !cc.always_paces()) return 0;
    return cc.pacing_rate(rtt.srtt().value_or(Duration{}));
  }
  std::size_t send_space() const { return sndq.size() >= send_buffer ? 0 : send_buffer - sndq.size(); }
};

// Issue 15: 208 bytes on x86-64, no padding between fields (a 232 B trie leaf in a 232 B slot
// of the leaf pool, core/slot_pool.hpp; docs/PERFORMANCE.md); a field added here grows every
// leaf by 8 bytes.
static_assert(sizeof(void*) != 8 || sizeof(Tcb) == 208);
inline const Reassembly Tcb::kNoReassembly{};

struct TcbDeadline {
  std::optional<Instant> operator()(const Tcb& t) const { return t.deadline(); }
};

}  // namespace utcp::detail
