// Call chain: engine_handle_buf (dispatch.cpp) -> input_syn_sent -> accept_peer_options,
//   become_established -> process_text_and_fin (text.cpp) -> output; process_ack -> become_established.
//
// The opening handshake: SYN-SENT (RFC 9293 §3.10.7.3; NetSem deliver_in_2, deliver_in_2a
// for simultaneous open), option negotiation (§3.7.1, RFC 7323 §2) and the move to
// ESTABLISHED.
#include <algorithm>

#include "stack/engine.hpp"

namespace utcp::detail {

void accept_peer_options(Ctx& c, Tcb& t, const Segment& seg) {
  std::optional<std::uint16_t> mss;
  std::optional<std::uint8_t> shift;
  std::optional<Timestamps> ts;
  bool sack_permitted = false;
  for (const auto& o : seg.options) {
    if (const auto* m = std::get_if<Mss>(&o)) mss = m->value;
    if (const auto* w = std::get_if<WindowScale>(&o)) shift = w->shift;
    if (const auto* s = std::get_if<Timestamps>(&o)) ts = *s;
    if (std::holds_alternative<SackPermitted>(o)) sack_permitted = true;
    // Unknown options: neither used nor answered.
  }
  // RFC 7323 §3.2: timestamps when both SYNs carry them (in SYN-SENT, ours did when the
  // configuration offers them). TS.Recent starts at the SYN's TSval (§4.3).
  t.open.ts = ts && c.cfg.timestamps;
  // RFC 2018 §2: SACK blocks may be sent to a peer whose SYN carried SACK-permitted (and, in
  // SYN-SENT, ours did).
  t.open.sack = sack_permitted && c.cfg.sack;
  if (t.open.ts) {
    t.set_ts_recent(ts->value, c.now);
  }
  // §3.7.1: without the option assume 536 (IPv4) or 1220 (IPv6); clamp nonsense to 64 (or
  // to our own MSS, on a link smaller than that).
  const std::uint16_t peer = mss.value_or(c.flow.local().ip.is_v4() ? 536 : 1220);
  t.smss = std::clamp<std::uint32_t>(peer, std::min<std::uint32_t>(64, t.rcv_mss), t.rcv_mss);
  // RFC 6691 §2: the MSS does not count options; with timestamps in every segment a full
  // segment carries 12 bytes of options less data.
  if (t.open.ts && t.smss > 64 + 12) t.smss -= 12;
  // RFC 7323 §2.2-2.3: scaling only when both sides offer it; a shift above 14 means 14.
  if (shift && c.cfg.window_scaling) {
    t.open.wscale = true;
    t.snd_wscale = std::min<std::uint8_t>(*shift, 14);
  } else {
    t.open.wscale = false;
    t.snd_wscale = 0;
    t.rcv_wscale = 0;
  }
}

void hold_syn_text(Tcb& t, const Segment& seg) {
  // §3.10.7.2: text on a SYN is queued for processing once ESTABLISHED; the SYN-ACK
  // acknowledges only the SYN. It waits in the reassembly queue at stream offset 0.
  if (seg.payload.empty()) return;
  t.rare.make().ooo.insert(t.rcv_off, t.recv_buffer, t.rcv_off, seg.payload, false, 1);
}

// The text a SYN carried becomes readable (and is acknowledged) on ESTABLISHED.
void deliver_held_text(Ctx& c, Tcb& t) {
  if (t.ooo().empty()) return;
  const std::size_t before = t.rcvq.size();
  const auto ready = t.rare->ooo.take(t.rcv_off, t.rcvq);
  const auto n = static_cast<std::uint32_t>(ready.bytes);
  if (n == 0) return;
  t.rcv_nxt += n;
  t.rcv_off += n;
  // The held text may exceed the window the SYN-ACK offered (it was counted as used space).
  t.rcv_adv = seq_max(t.rcv_adv, t.rcv_nxt);
  c.e.stats.bytes_in += t.rcvq.size() - before;
  t.ack_owed.delayed = true;
}

void become_established(Ctx& c, Tcb& t) {
  c.e.enter(t, TcpState::established);
  t.open.user_knows = true;  // the step reports Established (derive_event)
  c.e.leave_backlog(c.flow, t);
  ++c.e.stats.connections_established;
  t.disarm(Timer::lifetime);
  // RFC 6298 §5.7: a retransmitted SYN and no sample yet: RTO 3 s once data starts.
  if (t.open.syn_retransmitted && !t.rtt.srtt()) t.rtt.reset_to(std::chrono::seconds(3));
  // RFC 6928 initial window; RFC 5681 §3.1: one segment when the SYN was retransmitted.
  const std::uint32_t iw =
      t.open.syn_retransmitted ? t.smss : std::max(c.cfg.initial_window_segments, 1u) * t.smss;
  // The handshake's RTT (the SYN-ACK's ACK is sampled after this): BBR's initial pacing rate.
  // The ISS (secret-keyed, RFC 6528) seeds the algorithm's random choices.
  std::optional<Duration> hs_rtt = t.rtt.srtt();
  if (!hs_rtt && t.rtt_timing && !t.open.syn_retransmitted) hs_rtt = c.now - t.rtt_start();
  t.cc.init(iw, t.iss, t.smss, c.now, hs_rtt, std::uint64_t{t.iss.value()} ^ c.cfg.rng_seed);
  t.clear(&TimerSet::retransmits);
  t.last_recv = c.now;
  if (t.user.keepalive) t.arm(Timer::keepalive, c.now + t.keepalive_idle(c.cfg));
  deliver_held_text(c, t);
  // A close or shutdown(write) issued before the handshake completed: send the FIN now.
  if (t.user.write_shut) c.e.enter(t, TcpState::fin_wait_1);
}

Verdict input_syn_sent(Ctx& c, Tcb& t, Segment& seg) {
  // First, the ACK: it must acknowledge our SYN and nothing beyond it.
  if (seg.ack && (*seg.ack <= t.iss || *seg.ack > t.snd_max)) {
    reset_for_segment(c.e, c.flow, seg, c.out);
    return dropped(InputRule::syn_sent_bad_ack, DropReason::bad_ack);
  }
  // Second, the RST: with an acceptable ACK the connection is refused; without one, ignored.
  if (seg.flag == Segment::Flag::rst) {
    if (!seg.ack) return dropped(InputRule::syn_sent_rst, DropReason::rst_out_of_window);
    ++c.e.stats.resets_received;
    return ends(InputRule::syn_sent_rst, Verdict::End::abort);
  }
  // Fourth, the SYN.
  if (seg.flag != Segment::Flag::syn) return dropped(InputRule::syn_sent_no_syn, DropReason::no_ack);
  t.irs = seg.seq;
  t.rcv_nxt = seg.seq + 1;
  // Our SYN offered min(buffer, 65535) unscaled: what the peer may send first.
  t.rcv_adv = t.rcv_nxt + std::min<std::uint32_t>(t.recv_buffer, 0xffff);
  t.last_recv = c.now;
  accept_peer_options(c, t, seg);
  t.snd_wnd = seg.window;  // RFC 7323 §2.2: never scaled in a SYN
  t.max_snd_wnd = t.snd_wnd;
  t.snd_wl1 = seg.seq;
  seg.flag = Segment::Flag::none;
  seg.seq = seg.seq + 1;  // the SYN is consumed; any text follows it
  if (seg.ack) {
    // SYN-ACK: ESTABLISHED.
    const Seq ack = *seg.ack;
    t.snd_wl2 = ack;
    sample_rtt(c, t, seg, ack, 1);
    t.snd_una = ack;
    if (t.snd_nxt < t.snd_una) t.snd_nxt = t.snd_una;
    become_established(c, t);
    t.disarm(Timer::retransmit);
    t.ack_owed.now = true;
    if (auto v = process_text_and_fin(c, t, seg)) return *v;
    output(c, t);
    return taken(InputRule::syn_sent_syn_ack);
  }
  // Simultaneous open (§3.10.7.3, Figure 8): SYN-RECEIVED, <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>.
  t.snd_wl2 = t.iss;
  c.e.enter(t, TcpState::syn_received);
  hold_syn_text(t, seg);
  t.disarm(Timer::retransmit);
  send_syn(c, t);
  return taken(InputRule::syn_sent_syn);
}

}  // namespace utcp::detail
