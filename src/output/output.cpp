// Call chain: input (after each segment), user calls, timers -> output: queued data, FIN, owed
//   ACKs as the windows allow. Direct, one segment now: send_ack, send_syn, send_rst, reset_for_segment.
//
// Segment construction and the send decision: windows, Nagle and sender SWS avoidance
// (RFC 9293 §3.8.6.2.1, RFC 896), congestion window, FIN, owed ACKs, zero-window probing.
#include <algorithm>

#include "output/pacer.hpp"
#include "stack/engine.hpp"

namespace utcp::detail {

namespace {

// Converts to a default-initialized Segment: an Output built in place from it gets its
// `segment` straight from the conversion (no copy, no move), and Segment, an aggregate, is
// then not value-initialized: `emplace_back(src, dst)` would zero-fill all its bytes (the
// inline options' room included) before the member initializers run.
struct FreshSegment {
  operator Segment() const {
    Segment s;
    return s;
  }
};

// What the send loop may send now: the bytes queued past SND.NXT (`avail`, from `off` into the
// queue) and what the send and congestion windows leave (`usable`). The congestion window
// counts limited transmit's allowance (RFC 3042); a model-based algorithm (BBR) bounds what is
// in the network, SACKed data not counted (draft-ietf-ccwg-bbr-03 C.inflight, RFC 6675 pipe),
// the others bound the flight.
struct SendRoom {
  std::uint32_t queued, off, avail, in_flight, usable;
};
[[gnu::always_inline]] inline SendRoom send_room(const Tcb& t) {
  SendRoom r;
  r.queued = static_cast<std::uint32_t>(t.sndq.size());
  r.off = t.snd_nxt - t.data_start();
  r.avail = r.off < r.queued ? r.queued - r.off : 0;
  r.in_flight = t.snd_nxt - t.snd_una;
  const std::uint32_t cwnd = t.cc.cwnd() + t.cc.limited_transmit_allowance(t.smss);
  const std::uint32_t cc_flight = t.cc.always_paces() && t.snd_nxt == t.snd_max ? t.pipe() : r.in_flight;
  r.usable = std::min(t.snd_wnd > r.in_flight ? t.snd_wnd - r.in_flight : 0, cwnd > cc_flight ? cwnd - cc_flight : 0);
  return r;
}

// `out` is full and a segment is to go in it: room for it and for the rest of the flight the
// windows let out now (the queued bytes past SND.NXT within the send and congestion windows,
// in segments; at most 1,024), and at least the doubling a push_back would make. The calls
// that return their outputs start from an empty vector each time, which a flight sent at once
// (an ACK that opens the windows, a send into an idle connection) would otherwise grow 1, 2,
// 4, 8, ..., moving every Output built so far at each step. A paced flow sends at most what
// is due now (output/pacer.hpp: one segment on time, up to its catch-up when behind, which at
// high rates is the whole window: BBR's ACKs of 100 kB on the router path, issue 17), so its
// room is the lesser of the two. Only when full: the sink variants' reused vector, with
// room, never comes here.
[[gnu::noinline]] void make_room(std::vector<Output>& out, const Tcb& t, Instant now) {
  const SendRoom r = send_room(t);
  const std::uint32_t smss = std::max<std::uint32_t>(t.smss, 1);
  std::size_t segments = std::max<std::size_t>((std::size_t{std::min(r.avail, r.usable)} + smss - 1) / smss, 1);
  if (t.pacing_rate() > 0)
    segments = std::max<std::uint64_t>(std::min<std::uint64_t>(segments, Pacer(t, now).due(now)), 1);
  constexpr std::size_t kMost = 1024;
  out.reserve(out.size() + std::max({std::min(segments, kMost), out.size(), std::size_t{1}}));
}

}  // namespace

Segment& base_segment(Ctx& c, const Tcb& t) {
  if (c.out.size() == c.out.capacity()) make_room(c.out, t, c.now);
  // Built in place at the end of the output vector, where it goes out: nothing to move.
  Segment& s = c.out.emplace_back(c.flow.local().ip, c.flow.remote().ip, FreshSegment{}).segment;
  s.src_port = c.flow.local().port;
  s.dst_port = c.flow.remote().port;
  s.seq = t.snd_nxt;
  return s;
}

namespace {

std::uint32_t receive_space(const Tcb& t) {
  const std::size_t used = t.rcvq.size() + t.ooo().bytes();
  return used >= t.recv_buffer ? 0 : static_cast<std::uint32_t>(t.recv_buffer - used);
}

// `seg` is the last output (base_segment built it there): count it.
void record(Ctx& c, const Segment& seg) {
  ++c.e.stats.segments_out;
  c.e.stats.bytes_out += seg.payload.size();
}

}  // namespace

std::uint16_t advertise_window(Tcb& t) {
  const std::uint32_t space = receive_space(t);
  if (t.state == TcpState::syn_sent || t.state == TcpState::syn_received) {
    // RFC 7323 §2.2: the window in a SYN is never scaled.
    const std::uint32_t field = std::min<std::uint32_t>(space, 0xffff);
    if (t.state == TcpState::syn_received) t.rcv_adv = seq_max(t.rcv_adv, t.rcv_nxt + field);
    return static_cast<std::uint16_t>(field);
  }
  const std::uint32_t cur = t.rcv_wnd();
  std::uint32_t wnd = space;
  // §3.8.6.2.2 receiver SWS avoidance: move the right edge only by a useful amount.
  const std::uint32_t step = std::min<std::uint32_t>(t.recv_buffer / 2, t.rcv_mss);
  if (wnd > cur && wnd - cur < step) wnd = cur;
  if (wnd < cur) wnd = cur;  // §3.8.6.2.2 / RFC 7323 §2.4: never shrink the window
  const std::uint32_t max = 0xffffu << t.rcv_wscale;
  wnd = std::min(wnd, max);
  // RFC 7323 §2.3: the field is the free space shifted right (truncated, not rounded up:
  // that would offer bytes beyond the buffer, and a full buffer could never advertise zero).
  // Only when truncating would move the advertised right edge left (§2.4, §3.8.6.2.2) is the
  // window still open rounded up to the next unit, as Linux does (tcp_select_window).
  std::uint32_t field = wnd >> t.rcv_wscale;
  if ((field << t.rcv_wscale) < cur) field = (cur + (1u << t.rcv_wscale) - 1) >> t.rcv_wscale;
  field = std::min<std::uint32_t>(field, 0xffff);
  t.rcv_adv = seq_max(t.rcv_adv, t.rcv_nxt + (field << t.rcv_wscale));
  return static_cast<std::uint16_t>(field);
}

namespace {

// RFC 7323 §3.2: once negotiated, TSopt in every segment but RSTs; TSecr is TS.Recent
// (§4.3). Our TSval is the caller's clock plus the flow's offset (§5.4).
Timestamps our_timestamps(const Ctx& c, const Tcb& t) {
  return Timestamps{tsval(c.now, t.ts_offset), t.ts_recent};
}

// RFC 2018 §4: SACK blocks for the held out-of-order ranges, the one holding the latest
// out-of-order segment first, then the others from the highest down (the most recently
// received, when the peer sends in order), as many as fit: 40 option bytes less the
// timestamps (3 blocks beside them, 4 without), and in a data segment no more than the room
// its payload leaves below the peer's MSS (RFC 6691 §2).
void add_sack_blocks(Tcb& t, Segment& seg) {
  std::size_t room = 40 - (t.open.ts ? 12 : 0);
  if (!seg.payload.empty())
    room = std::min<std::size_t>(room, t.smss - std::min<std::size_t>(t.smss, seg.payload.size()));
  if (room < 12) return;
  const std::size_t max_blocks = std::min<std::size_t>(4, (room - 4) / 8);  // NOP, NOP, kind, length
  Sack sack;
  // RFC 2883 §4: a duplicate segment received is reported first (a DSACK block), once.
  if (t.dsack_pending()) {
    TcbRare& r = *t.rare;
    sack.blocks.emplace_back(r.dsack_left, r.dsack_right);
    r.dsack_right = r.dsack_left;
  }
  const auto to_seq = [&](std::uint64_t off) {
    return t.rcv_nxt + static_cast<std::uint32_t>(off - t.rcv_off);
  };
  // Walked in place, not gathered: this runs for every ACK while data is held.
  std::optional<std::pair<std::uint64_t, std::uint64_t>> first;
  if (const Seq latest = t.sack_latest(); latest >= t.rcv_nxt && sack.blocks.size() < max_blocks) {
    first = t.ooo().range_at(t.rcv_off + (latest - t.rcv_nxt));
    if (first) sack.blocks.emplace_back(to_seq(first->first), to_seq(first->second));
  }
  t.ooo().for_each_range_down([&](std::uint64_t begin, std::uint64_t end) {
    if (sack.blocks.size() >= max_blocks) return false;
    if (!first || first->first != begin) sack.blocks.emplace_back(to_seq(begin), to_seq(end));
    return true;
  });
  if (!sack.blocks.empty()) seg.options.push_back(std::move(sack));
}

}  // namespace

void emit(Ctx& c, Tcb& t, Segment& seg) {
  if (t.state != TcpState::syn_sent) seg.ack = t.rcv_nxt;
  if (t.open.ts && seg.flag != Segment::Flag::syn) seg.options.emplace_back(our_timestamps(c, t));
  if (t.open.sack && seg.flag != Segment::Flag::syn && (!t.ooo().empty() || t.dsack_pending())) {
    const bool dsack = t.dsack_pending();
    add_sack_blocks(t, seg);
    if (dsack && !t.dsack_pending()) ++c.e.stats.dsacks_sent;
  }
  t.last_ack_sent = t.rcv_nxt;
  seg.window = advertise_window(t);
  t.ack_owed.now = false;
  t.ack_owed.delayed = false;
  t.ack_owed.segs_unacked = 0;
  t.disarm(Timer::delayed_ack);
  t.last_send = c.now;
  record(c, seg);
}

void arm_retransmit(Ctx& c, Tcb& t) {
  t.arm(Timer::retransmit, c.now + t.rto(c.cfg));
}

void send_ack(Ctx& c, Tcb& t) {
  // SEQ = SND.MAX, not SND.NXT: after a timeout rewinds SND.NXT the peer may already hold
  // data beyond it, and an ACK below its RCV.NXT would be unacceptable there (two stacks
  // rewound at once would ACK each other's unacceptable ACKs forever).
  Segment& s = base_segment(c, t);
  s.seq = t.snd_max;
  emit(c, t, s);
}

void send_syn(Ctx& c, Tcb& t) {
  // §3.10.1 / §3.10.7.2: <SEQ=ISS><CTL=SYN> or <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>, with
  // MSS (§3.7.1) and window scale (RFC 7323 §2) options.
  Segment& s = base_segment(c, t);
  s.seq = t.iss;
  s.flag = Segment::Flag::syn;
  // RFC 7323 §3.2: timestamps in SYN-SENT when configured (TSecr 0), in the SYN-ACK when the
  // peer's SYN had them.
  const bool syn_sent = t.state == TcpState::syn_sent;
  // RFC 2018 §2: SACK-permitted in SYN-SENT when configured, in the SYN-ACK when the peer's
  // SYN had it.
  const bool offer_sack = syn_sent ? c.cfg.sack : t.open.sack;
  const bool offer_ts = syn_sent ? c.cfg.timestamps : t.open.ts;
  const bool offer_ws = syn_sent ? c.cfg.window_scaling : t.open.wscale;
  // Room for all of them at once: none allocated while they fit the Segment's own.
  s.options.reserve(1u + offer_sack + offer_ts + offer_ws);
  s.options.push_back(Mss{t.rcv_mss});
  if (offer_sack) s.options.push_back(SackPermitted{});
  if (offer_ts) s.options.push_back(Timestamps{tsval(c.now, t.ts_offset), syn_sent ? 0u : t.ts_recent});
  if (offer_ws) s.options.push_back(WindowScale{t.rcv_wscale});
  if (t.snd_max == t.iss) {
    t.snd_nxt = t.iss + 1;
    t.snd_max = t.snd_nxt;
    // RFC 6298 §2: the SYN is timed like data (Karn: not once retransmitted).
    t.start_rtt_timing(t.snd_nxt, c.now);
  }
  emit(c, t, s);
  if (!t.armed(Timer::retransmit)) arm_retransmit(c, t);
}

void send_rst(Ctx& c, Tcb& t) {
  Segment& s = base_segment(c, t);
  s.seq = t.snd_max;
  s.flag = Segment::Flag::rst;
  if (t.state != TcpState::syn_sent) s.ack = t.rcv_nxt;
  ++c.e.stats.resets_sent;
  record(c, s);
}

void reset_for_segment(Engine& e, const Flow& flow, const Segment& in, std::vector<Output>& out) {
  // §3.10.7.1: never answer an RST; otherwise <SEQ=SEG.ACK><CTL=RST> when the segment has an
  // ACK, else <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>.
  if (in.flag == Segment::Flag::rst) return;
  Segment s;
  s.src_port = flow.local().port;
  s.dst_port = flow.remote().port;
  s.flag = Segment::Flag::rst;
  if (in.ack) {
    s.seq = *in.ack;
  } else {
    s.seq = Seq(0);
    s.ack = in.seq + in.length();
  }
  ++e.stats.resets_sent;
  ++e.stats.segments_out;
  out.emplace_back(flow.local().ip, flow.remote().ip, std::move(s));
}

namespace {

bool can_send_data(TcpState s) {
  return s == TcpState::established || s == TcpState::close_wait || s == TcpState::fin_wait_1 ||
         s == TcpState::closing || s == TcpState::last_ack;
}

Duration persist_interval(const Ctx& c, const Tcb& t) {
  Duration d = t.rto(c.cfg);
  for (std::uint32_t i = 0; i < t.persist_backoff() && d < c.cfg.zero_window_probe_max; ++i) d *= 2;
  return std::min(d, c.cfg.zero_window_probe_max);
}

}  // namespace

// Sends [snd_nxt, snd_nxt + len) plus the FIN when asked.
void send_data(Ctx& c, Tcb& t, std::uint32_t off, std::uint32_t len, bool fin) {
  Segment& s = base_segment(c, t);
  if (len > 0) s.payload = t.sndq.slice(off, len);
  if (fin) s.flag = Segment::Flag::fin;
  s.push = len > 0 && off + len == t.sndq.size();
  const std::uint32_t seg_len = len + (fin ? 1u : 0u);
  const bool is_new = t.snd_nxt == t.snd_max;
  if (is_new && t.cc.limited_transmit_allowance(t.smss) > 0) t.counts().limited_sent += len;
  if (!is_new) {
    // By cause: fast retransmit and NewReno recovery (RFC 6582) run in recovery; anything
    // else resent is the go-back after a timeout (RFC 5681 §3.1), also once an ACK of the
    // first retransmission has reset the backoff count.
    if (t.cc.in_recovery() || (t.loss && t.loss->probing))
      ++c.e.stats.retransmits_fast;
    else
      ++c.e.stats.retransmits_rto;
  }
  if (is_new && !t.rtt_timing) {
    t.start_rtt_timing(t.snd_nxt + seg_len, c.now);
  }
  emit(c, t, s);
  t.cc.on_send(c.now, t.snd_nxt, seg_len, t.pipe(), t.smss, t.rtt.srtt());  // delivery-rate record (BBR)
  if (!t.armed(Timer::retransmit)) arm_retransmit(c, t);
  if (t.open.sack) loss_record_sent(c, t, t.snd_nxt, seg_len);
  t.snd_nxt += seg_len;
  if (t.snd_nxt > t.snd_max) t.snd_max = t.snd_nxt;
}

namespace {

void output_data(Ctx& c, Tcb& t, bool force);

void output_impl(Ctx& c, Tcb& t, bool force) {
  if (can_send_data(t.state)) {
    // RFC 5681 §4.1: restart from at most the initial window after an idle period. (The RTO
    // is never below rto_min: an idle time within it needs no RTO computed.)
    const Duration idle = c.now - t.last_send;
    if (t.flight() == 0 && idle > c.cfg.rto_min && idle > t.rto(c.cfg)) {
      t.cc.on_idle_restart(std::max(c.cfg.initial_window_segments, 1u) * t.smss, c.now);
    }
    if (c.cfg.header_prediction && t.sndq.size() == 0 && !t.user.write_shut && !t.loss && !t.user.pacing &&
        !t.cc.always_paces()) {
      // Nothing queued and no FIN to send (a receiving end, say): the loop below would send
      // nothing, so only what it leaves behind then: no pacing timer (the flow is not paced),
      // and the flow is app-limited. No data waits, so no persist timer. (A fast path: under
      // Config::header_prediction, so the tests that compare it on and off cover it.)
      t.disarm(Timer::pacing);
      t.cc.on_app_limited(t.flight());
    } else {
      output_data(c, t, force);
    }
  }
  if (t.ack_owed.now) {
    send_ack(c, t);
  } else if (t.ack_owed.delayed && !t.armed(Timer::delayed_ack)) {
    t.arm(Timer::delayed_ack, c.now + c.cfg.delayed_ack);
  }
}

// The send loop of output_impl: queued data and the FIN as the windows, Nagle and the pacer
// allow, then the timers that follow from what is left.
void output_data(Ctx& c, Tcb& t, bool force) {
  bool sent_any = false;
  Pacer pacer(t, c.now);
  // RFC 6675 / RFC 6937: in SACK recovery NextSeg and PRR decide, not the loop below.
  if (t.loss && t.cc.in_recovery()) sent_any = send_recovery(c, t, pacer, force);
  else for (;;) {
    // RFC 6675 §5.1's go-back skips what is SACKed: no call when nothing is.
    if (t.loss && t.loss->board.sacked_bytes() != 0) loss_skip_sacked(t);
    const auto [queued, off, avail, in_flight, usable] = send_room(t);
    std::uint32_t len = std::min({avail, usable, std::uint32_t{t.smss}});
    if (force && len == 0 && avail > 0 && t.snd_wnd > 0) len = std::min({avail, t.snd_wnd, std::uint32_t{t.smss}});
    const bool fin =
        t.user.write_shut && off <= queued && off + len == queued && t.snd_nxt + len == t.fin_seq;
    if (len == 0 && !fin) break;
    if (len > 0 && len < t.smss && !fin) {
      // §3.8.6.2.1 sender SWS avoidance and Nagle (RFC 896): a short segment goes out only
      // when it empties the queue and nothing is outstanding (or NODELAY), when it is at
      // least half the largest window the peer offered, or when the override timer fired.
      const bool all = off + len == queued;
      const bool ok = (all && (t.user.nodelay || in_flight == 0 || t.user.write_shut)) ||
                      (t.max_snd_wnd > 0 && len >= t.max_snd_wnd / 2) || force;
      if (!ok) break;
    }
    if (!force && pacer.waits(c.now)) break;  // Timer::pacing releases it
    send_data(c, t, off, len, fin);
    pacer.sent(c.now, len + (fin ? 1u : 0u));
    sent_any = true;
    force = false;
    if (fin) break;
  }
  if (sent_any) t.disarm(Timer::persist);
  pacer.finish(t);
  // Nothing more to send with room in the window: the flow is app-limited (BBR's samples).
  if (t.snd_nxt - t.data_start() >= t.sndq.size() && !(t.user.write_shut && !t.fin_sent()))
    t.cc.on_app_limited(t.flight());
  // §3.8.6.1 zero-window probing, §3.8.6.2.1 SWS override: data (or a FIN) waits and
  // nothing is in flight to bring an ACK.
  const bool waiting = t.snd_nxt - t.data_start() < t.sndq.size() || (t.user.write_shut && !t.fin_sent());
  if (waiting && (t.flight() == 0 || t.probing_zero_window()) && !t.armed(Timer::retransmit) &&
      !t.armed(Timer::persist) && !t.armed(Timer::pacing)) {
    t.arm(Timer::persist, c.now + persist_interval(c, t));
  }
}

}  // namespace

void output(Ctx& c, Tcb& t) {
  output_impl(c, t, false);
}

void output_forced(Ctx& c, Tcb& t) {
  output_impl(c, t, true);
}

void send_window_probe(Ctx& c, Tcb& t) {
  // §3.8.6.1: probe a zero window with one octet of new data. The octet counts as sent
  // (SND.MAX covers it, so an ACK of it is no "ACK of unsent data"), but the persist timer,
  // not the retransmission timer, repeats it: a peer that keeps answering with a zero window
  // is probed forever (µTCP fault 3).
  ++c.e.stats.zero_window_probes;
  const std::uint32_t off = t.snd_una - t.data_start();
  Segment& s = base_segment(c, t);
  if (off < t.sndq.size()) {
    s.seq = t.snd_una;
    s.payload = t.sndq.slice(off, 1);
    emit(c, t, s);
    if (t.open.sack && t.snd_max == t.snd_una) loss_record_sent(c, t, t.snd_una, 1);
    if (t.snd_max == t.snd_una) t.snd_max = t.snd_una + 1;
    t.snd_nxt = seq_max(t.snd_nxt, t.snd_una + 1);
    t.stop_rtt_timing();
  } else {
    // Only a FIN waits: <SEQ=SND.UNA-1><ACK=RCV.NXT> draws an ACK with the current window.
    s.seq = t.snd_una - 1;
    emit(c, t, s);
  }
}

void send_keepalive_probe(Ctx& c, Tcb& t) {
  // §3.8.4: <SEQ=SND.UNA-1><ACK=RCV.NXT>, no data: the peer answers with an ACK.
  ++c.e.stats.keepalive_probes;
  Segment& probe = base_segment(c, t);
  probe.seq = t.snd_una - 1;
  emit(c, t, probe);
}

Duration next_persist_interval(const Ctx& c, const Tcb& t) {
  return persist_interval(c, t);
}

void retransmit_first(Ctx& c, Tcb& t) {
  if (t.state == TcpState::syn_sent || t.state == TcpState::syn_received) {
    send_syn(c, t);
    return;
  }
  const auto queued = static_cast<std::uint32_t>(t.sndq.size());
  const std::uint32_t len = std::min(queued, std::uint32_t{t.smss});
  const bool fin = t.fin_sent() && len == queued;
  if (len == 0 && !fin) return;
  const Seq saved = t.snd_nxt;
  t.snd_nxt = t.snd_una;
  t.stop_rtt_timing();  // Karn's algorithm (RFC 6298 §3)
  send_data(c, t, 0, len, fin);
  t.snd_nxt = seq_max(saved, t.snd_nxt);
}

}  // namespace utcp::detail
