// The transmission control block (RFC 9293 §3.3.1): one connection's state, a value.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>

#include "core/byte_queue.hpp"
#include "core/congestion.hpp"
#include "core/loss_state.hpp"
#include "core/reassembly.hpp"
#include "core/rtt.hpp"
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

// Each timer is a deadline; an unarmed one is `never`.
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

// Flags, grouped by who sets them. Two are not stored: whether our FIN was sent and whether
// the peer's was received follow from the sequence numbers (fin_sent(), fin_received()).

// How the connection came to be, while it opens.
struct OpenFlags {
  bool active = false;             // we sent the first SYN
  bool user_knows = false;         // connect() returned it, or Established was reported
  bool embryonic = false;          // counted against its listener's backlog
  bool syn_retransmitted = false;  // RFC 5681 §3.1, RFC 6298 §5.7: smaller start once open
};

// What the user asked for (calls and FlowOptions).
struct UserFlags {
  bool close_called = false;  // close(): no more reads either; FIN-WAIT-2 timeout applies
  bool read_shut = false;     // shutdown(read) or close()
  bool write_shut = false;    // shutdown(write) or close(): a FIN is (to be) queued at fin_seq
  bool nodelay = false;       // FlowOptions::nodelay: no Nagle
  bool keepalive = false;     // FlowOptions::keepalive (§3.8.4)
  bool pacing = false;        // FlowOptions::pacing: sends wait for Timer::pacing
};

// An ACK we owe the peer; output() pays it.
struct AckOwed {
  bool now = false;      // immediately
  bool delayed = false;  // within the delayed-ACK time
};

// Options both sides offered in the handshake.
struct Negotiated {
  bool wscale = false;  // window scaling (RFC 7323 §2.2)
  bool ts = false;      // timestamps (RFC 7323 §3.2)
  bool sack = false;    // SACK-permitted (RFC 2018 §2)
};

struct Tcb {
  TcpState state = TcpState::closed;
  OpenFlags open;
  UserFlags user;
  AckOwed ack_owed;
  Negotiated negotiated;

  // Send sequence space (§3.3.1). snd_max: highest sequence sent (snd_nxt rewinds on RTO).
  Seq iss, snd_una, snd_nxt, snd_max, snd_wl1, snd_wl2;
  Seq fin_seq;                    // where our FIN goes: fixed by shutdown(write) or close()
  std::uint32_t snd_wnd = 0;      // scaled, in bytes
  std::uint32_t max_snd_wnd = 0;  // largest window the peer offered (RFC 5961 §5.2, SWS)
  std::uint8_t snd_wscale = 0;    // the peer's shift
  std::uint8_t rcv_wscale = 0;    // ours
  std::uint32_t smss = 536;       // effective send MSS
  std::uint16_t rcv_mss = 536;    // the MSS we announced

  // Receive sequence space.
  Seq irs, rcv_nxt;
  Seq rcv_adv;                     // right edge advertised: never moves left
  std::uint64_t rcv_off = 0;       // stream offset of rcv_nxt (data bytes since IRS + 1)
  std::uint32_t segs_unacked = 0;  // full-sized segments received since our last ACK
  Seq last_ack_sent;               // RFC 7323 §4.3 Last.ACK.sent: the ACK field we last sent
  Seq sack_latest;                 // RFC 2018 §4: the latest out-of-order segment (its first byte)
  // RFC 2883: a duplicate segment received, [dsack_left, dsack_right), reported as the first
  // SACK block of the next ACK (dsack_left == dsack_right: none). Any phase with SACK.
  Seq dsack_left, dsack_right;

  // Timestamps (RFC 7323), every phase once negotiated: our clock's per-flow offset (§5.4),
  // TS.Recent and when it was last updated (§5.5, the 24-day rule).
  std::uint32_t ts_offset = 0;
  std::uint32_t ts_recent = 0;
  Instant ts_recent_age{};

  // Buffers.
  std::uint32_t send_buffer = 0, recv_buffer = 0;
  std::uint16_t max_segment = 0;  // FlowOptions::max_segment, 0 = none
  ByteQueue sndq;                 // from the first unacknowledged data byte on
  ByteQueue rcvq;                 // in order, not yet read
  Reassembly ooo;

  // Retransmission and congestion control.
  RttEstimator rtt;
  Congestion cc;  // the algorithm is chosen by new_tcb (Config / FlowOptions)
  std::uint32_t limited_sent = 0;    // RFC 3042 bytes, not part of FlightSize (RFC 5681 §3.2)
  std::uint32_t retransmits = 0;     // consecutive timeouts of the current segment
  std::uint32_t probes = 0;          // unanswered zero-window probes
  std::uint32_t keepalive_sent = 0;  // unanswered keepalive probes
  std::uint32_t persist_backoff = 0;
  bool rtt_timing = false;
  Seq rtt_seq;  // timing the segment that ends here
  Instant rtt_start{};
  Instant last_send{};  // for RFC 5681 §4.1 restart after idle
  Instant pace_next{};  // paced flows: when the next segment is due (output.cpp, Pacer)
  // SACK loss recovery while data is in flight (negotiated.sack only): scoreboard, RACK-TLP, PRR.
  Boxed<LossState> loss;
  ReoWnd reo;  // RFC 8985 §6.2 step 4: the reordering window's state, across flights
  Instant last_recv{};  // for keepalive

  // Keepalive parameters.
  Duration keepalive_idle{}, keepalive_interval{};
  std::uint32_t keepalive_count = 0;

  // RFC 5961 §7 challenge ACK rate limit, per flow.
  Instant challenge_window{};
  std::uint32_t challenge_count = 0;

  std::array<Instant, static_cast<std::size_t>(Timer::count_)> timers = all_never();
  NotifyPair notifies;

  Tcb(Duration rto_initial, Duration rto_min, Duration rto_max) : rtt(rto_initial, rto_min, rto_max) {}

  Instant& timer(Timer t) { return timers[static_cast<std::size_t>(t)]; }
  Instant timer(Timer t) const { return timers[static_cast<std::size_t>(t)]; }
  void arm(Timer t, Instant at) { timer(t) = at; }
  void disarm(Timer t) { timer(t) = never; }
  bool armed(Timer t) const { return timer(t) != never; }
  std::optional<Instant> deadline() const {
    const Instant m = *std::min_element(timers.begin(), timers.end());
    if (m == never) return std::nullopt;
    return m;
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

struct TcbDeadline {
  std::optional<Instant> operator()(const Tcb& t) const { return t.deadline(); }
};

}  // namespace utcp::detail
