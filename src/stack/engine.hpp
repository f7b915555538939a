// The stack as a value: connection table, listeners, stats, rng. Copying an Engine is O(1):
// both tables are persistent maps and the configuration is shared.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/persistent_map.hpp"
#include "core/syncookie.hpp"
#include "core/tcb.hpp"
#include "core/timestamps.hpp"
#include "stack/flow_key.hpp"
#include "utcp/config.hpp"
#include "utcp/detail/engine_api.hpp"
#include "utcp/detail/rng.hpp"
#include "utcp/state.hpp"
#include "utcp/stats.hpp"

namespace utcp::detail {

struct Listener {
  FlowOptions options;
  std::uint32_t embryonic = 0;  // SYN-RECEIVED flows it created, bounded by Config::listen_backlog
};
struct NoDeadline {
  template <class V>
  std::optional<Instant> operator()(const V&) const {
    return std::nullopt;
  }
};
struct PortHash {
  std::size_t operator()(std::uint16_t p) const noexcept { return p * 0x9E3779B97F4A7C15ull; }
};

// The leaves keep a 16-byte FlowKey, not the 40-byte Flow (stack/flow_key.hpp).
using FlowTable = PersistentMap<Flow, Tcb, TcbDeadline, std::hash<Flow>, FlowKey>;
using ListenerTable = PersistentMap<std::uint16_t, Listener, NoDeadline, PortHash>;

class Engine {
 public:
  Engine(NotifyFactory make, std::string name, const Config& cfg)
      : config(std::make_shared<const Config>(cfg)),
        make_notify(std::make_shared<const NotifyFactory>(std::move(make))),
        id(std::make_shared<const std::string>(std::move(name))),
        rng(cfg.rng_seed),
        syn_cookie_key(cookie_key(cfg.isn_secret)) {}

  std::shared_ptr<const Config> config;
  std::shared_ptr<const NotifyFactory> make_notify;
  std::shared_ptr<const std::string> id;
  FlowTable tcbs;
  ListenerTable listeners;
  Stats stats;
  Rng rng;
  std::array<std::uint8_t, 16> syn_cookie_key;  // RFC 4987 §3.6, derived once from the ISN secret
  // RFC 5961 §7 challenge ACK rate limit, per stack.
  Instant challenge_window{};
  std::uint32_t challenge_count = 0;

  // FlowTable::hash of a flow, remembered for the last one asked: a stream's segments arrive
  // on one flow after another, a user call names the flow its last segment came on (close
  // after the peer's FIN, recv after data), and comparing a Flow costs less than hashing it.
  std::uint64_t flow_hash(const Flow& f) {
    if (!(last_flow_ && *last_flow_ == f)) {
      last_flow_ = f;
      last_flow_hash_ = FlowTable::hash(f);
    }
    return last_flow_hash_;
  }

  const Config& cfg() const { return *config; }
  std::uint64_t& by_state(TcpState s) { return stats.connections_by_state[static_cast<std::size_t>(s)]; }

  // Moves a connection to a state, keeping the per-state gauges.
  void enter(Tcb& t, TcpState s) {
    if (t.state != TcpState::closed) --by_state(t.state);
    t.state = s;
    if (s != TcpState::closed) ++by_state(s);
  }
  // A connection leaves the table (the caller erases it): gauges, backlog, counters.
  void retire(const Flow& flow, Tcb& t, bool dropped);
  // The embryonic connection stops counting against its listener.
  void leave_backlog(const Flow& flow, Tcb& t);

 private:
  std::optional<Flow> last_flow_;  // flow_hash's memo (not state: no query reads it)
  std::uint64_t last_flow_hash_ = 0;
};

// One step on one connection: what every rule needs besides the Tcb.
struct Ctx {
  Engine& e;
  Instant now;
  const Flow& flow;
  std::vector<Output>& out;
  const Config& cfg;
  // Timers and user calls: the connection ends with this step (abnormally: reset or timed
  // out). Input rules say so in their Verdict instead.
  bool remove = false;
  bool dropped = false;
  // Input: part of the segment was discarded and the rest processed (text beyond a zero
  // window, out-of-order text beyond the range limit); engine_handle_buf counts it.
  std::optional<DropReason> discarded;
  Ctx(Engine& eng, Instant t, const Flow& f, std::vector<Output>& o)
      : e(eng), now(t), flow(f), out(o), cfg(*eng.config) {}
};

// What an input rule decided about a segment (µTCP's Ok / Drop reason / Reset reason). A
// rule sends its own replies (ACK, challenge ACK, RST) and returns its verdict; only
// engine_handle_buf counts it (Stats::rules, Stats::drops) and ends the connection. Steps
// that may let the next one run return std::optional<Verdict>: nothing means "go on".
struct Verdict {
  enum class End : std::uint8_t {
    keep,    // the connection stays
    close,   // it ends normally (the last ACK of a close, an RST in a closing state)
    abort,   // it ends abnormally: reset, refused, aborted (Stats::connections_dropped)
    reopen,  // TIME-WAIT ends and the listener takes the SYN (RFC 6191)
  };
  InputRule rule;
  std::optional<DropReason> drop;  // the segment was discarded, for this reason
  End end = End::keep;
};
inline Verdict taken(InputRule r) {
  return {r, std::nullopt, Verdict::End::keep};
}
inline Verdict dropped(InputRule r, DropReason why, Verdict::End end = Verdict::End::keep) {
  return {r, why, end};
}
inline Verdict ends(InputRule r, Verdict::End how) {
  return {r, std::nullopt, how};
}

// ---- src/stack ----
Tcb new_tcb(Engine&, const Flow&, const FlowOptions& opts, Instant now);
std::uint8_t window_shift_for(std::uint32_t recv_buffer);
std::uint16_t mss_for_mtu(const Config&, const Flow&, std::uint16_t max_segment);
bool challenge_ack_allowed(Ctx&, Tcb&);  // RFC 5961 §7

// ---- src/output ----
// A segment from this flow at SND.NXT, built as the last of c.out; emit or record must follow
// before anything else is added to c.out.
Segment& base_segment(Ctx&, const Tcb&);
void emit(Ctx&, Tcb&, Segment& seg);  // base_segment's: stamps ACK/window, counts, clears owed ACKs
void send_ack(Ctx&, Tcb&);
void send_syn(Ctx&, Tcb&);       // SYN in SYN-SENT, SYN-ACK in SYN-RECEIVED
void send_rst(Ctx&, Tcb&);       // <SEQ=SND.NXT><CTL=RST> for an abort or a timeout
void output(Ctx&, Tcb&);         // data, FIN, owed ACKs as windows, Nagle and SWS allow
void output_forced(Ctx&, Tcb&);  // the SWS override timer fired: send even a short segment
void retransmit_first(Ctx&, Tcb&);
void send_window_probe(Ctx&, Tcb&);
void send_keepalive_probe(Ctx&, Tcb&);  // §3.8.4
Duration next_persist_interval(const Ctx&, const Tcb&);
std::uint16_t advertise_window(Tcb&);  // the raw field; moves rcv_adv right, never left
void reset_for_segment(Engine&, const Flow&, const Segment& in, std::vector<Output>& out);
void arm_retransmit(Ctx&, Tcb&);
// Sends [snd_nxt, snd_nxt + len) of the send queue (from its offset `off`), with the FIN when asked.
void send_data(Ctx&, Tcb&, std::uint32_t off, std::uint32_t len, bool fin);
// recovery.cpp: SACK loss recovery's transmissions (RFC 6675 NextSeg, PRR, RACK-TLP).
void loss_record_sent(Ctx&, Tcb&, Seq begin, std::uint32_t len);  // before SND.MAX moves
void loss_skip_sacked(Tcb&);                                      // the go-back after a timeout
struct Pacer;
bool send_recovery(Ctx&, Tcb&, Pacer&, bool force);               // in recovery, instead of output's loop
void loss_probe_timer(Ctx&, Tcb&);                                // Timer::loss_probe

// ---- src/input ----
// sack.cpp: the scoreboard, RACK and recovery entry from an ACK (SACK connections).
struct LossAck {
  std::uint32_t delivered = 0;  // octets newly delivered, cumulatively or by SACK (RFC 6937 DeliveredData)
  bool newly_sacked = false;
  bool dsack = false;           // the first block was a DSACK (RFC 2883 §4)
  bool dsack_of_probe = false;  // ... of the outstanding tail loss probe
  std::optional<std::uint32_t> tsecr;  // the ACK's TSecr (timestamps on, not 0)
};
LossState& loss_state(Tcb&);  // made on first use
// RFC 2883 §4: [left, right) arrived twice; the next ACK reports it first (SACK connections).
inline void note_dsack(Tcb& t, Seq left, Seq right) {
  if (!t.open.sack || !(left < right)) return;
  TcbRare& r = t.rare.make();
  r.dsack_left = left;
  r.dsack_right = right;
}
LossAck loss_ack_before(Ctx&, Tcb&, const Segment&, Seq ack);
void loss_ack_after(Ctx&, Tcb&, const LossAck&, Seq ack, bool was_recovery);
void start_recovery_if_lost(Ctx&, Tcb&, Seq ack);
void arm_loss_timer(Ctx&, Tcb&, std::optional<Duration> reo_timeout);
// RFC 8985 §7.2: (re)arms Timer::loss_probe as the probe timeout for a flight of `segs`
// segments (output/recovery.cpp). The deadline is a function of (now, SRTT, one segment or
// more, the RTO's deadline): when these are the last arming's (LossState::pto_memo) and the
// timer still holds its deadline, arming again would change nothing, and is skipped. A
// stream's sends and ACKs at one instant mostly find it so (issue 15).
void arm_probe_timeout_computed(Ctx&, Tcb&, LossState&, std::uint32_t segs);
inline void arm_probe_timeout(Ctx& c, Tcb& t, LossState& l, std::uint32_t segs) {
  l.reo_timer = false;
  const LossState::PtoMemo& m = l.pto_memo;
  if (m.now == c.now && m.single == (segs <= 1) && t.armed(Timer::loss_probe) && t.armed(Timer::retransmit) &&
      t.timer(Timer::loss_probe) == m.at && t.timer(Timer::retransmit) == m.rtx && m.srtt == t.rtt.srtt())
    return;
  arm_probe_timeout_computed(c, t, l, segs);
}
void loss_on_timeout(Ctx&, Tcb&);  // the retransmission timer fired
// A segment for a port with a listener and no connection; `old_snd_max` when a SYN reopens
// a flow that was in TIME-WAIT (RFC 6191: the new ISN must lie above the old sequence space).
// Nothing when an ACK returned a valid SYN cookie (RFC 4987): the flow now exists in
// SYN-RECEIVED and the segment goes on to the ordinary rules. `flow_hash` is FlowTable::hash(flow).
std::optional<Verdict> input_listen(Engine&, Instant, const Flow&, std::uint64_t flow_hash, const Segment&,
                                    std::vector<Output>&, std::optional<Seq> old_snd_max = std::nullopt);
Verdict input_syn_sent(Ctx&, Tcb&, Segment&);
Verdict input_synchronized(Ctx&, Tcb&, Segment&);
std::optional<Verdict> process_ack(Ctx&, Tcb&, const Segment&);
// process_ack's steps for an acceptable ACK (SND.UNA - MAX.SND.WND <= SEG.ACK <= SND.MAX) in
// a synchronized state past SYN-RECEIVED, without the ACK of our FIN: scoreboard, new or
// duplicate ACK, send window, retransmission timer. Header prediction calls it directly.
void apply_ack(Ctx&, Tcb&, const Segment&, Seq ack);
// RFC 5681 §2's duplicate ACK, SEG.ACK = SND.UNA aside (the callers compare it): no text, no
// SYN or FIN, the window (`wnd`, scaled) unchanged, data outstanding; an answer to a zero-window
// probe (a zero window) is no loss signal and counts as none.
inline bool duplicate_ack(const Tcb& t, const Segment& seg, std::uint32_t wnd) {
  return seg.payload.empty() && seg.flag == Segment::Flag::none && wnd == t.snd_wnd && wnd != 0 && t.flight() > 0;
}
std::optional<Verdict> process_text_and_fin(Ctx&, Tcb&, const Segment&);
// process_text_and_fin's steps for text at RCV.NXT with nothing held out of order, no FIN,
// in a state that takes text and before CLOSE or shutdown(read): queue it and owe the ACK
// (at once for every second segment, else delayed). Header prediction calls it directly.
void take_text_in_order(Ctx&, Tcb&, const Payload&);
// RFC 7323 §4 RTTM from the ACK's TSecr when timestamps are on, else RFC 6298's timed
// segment (Karn); `ack` acknowledges new data.
// `flight` is FlightSize before the ACK (RFC 7323 App. G weights samples by it). Returns the
// sample taken, if any (congestion control's AckEvent::rtt).
std::optional<Duration> sample_rtt(Ctx&, Tcb&, const Segment&, Seq ack, std::uint32_t flight);
// The segment's timestamps option, if any. Inline: four input steps ask for it per segment,
// and a segment with timestamps nearly always carries them as its first option.
inline const Timestamps* find_timestamps(const Segment& seg) {
  for (const auto& o : seg.options)
    if (const auto* ts = std::get_if<Timestamps>(&o)) return ts;
  return nullptr;
}
// RFC 7323 §5.3 R1 (PAWS) and §4.3 (TS.Recent): a drop when the segment fails PAWS. Only for
// a flow with timestamps (t.open.ts): without them both do nothing, and the input steps, on
// every segment, test that rather than make the calls.
std::optional<Verdict> check_timestamps(Ctx&, Tcb&, const Segment&);
void update_ts_recent(Ctx&, Tcb&, const Segment&);
void accept_peer_options(Ctx&, Tcb&, const Segment&);
void become_established(Ctx&, Tcb&);
void hold_syn_text(Tcb&, const Segment& syn);

// ---- src/timers ----
void on_time_wait(Ctx&, Tcb&);  // enter TIME-WAIT or restart its 2*MSL

}  // namespace utcp::detail
