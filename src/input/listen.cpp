// Call chain: engine_handle_buf (dispatch.cpp) -> input_listen -> send_cookie | open_from_cookie
//   | send_syn (output); a flow opened from a cookie goes on through input_synchronized.
//
// LISTEN (RFC 9293 §3.10.7.2; NetSem deliver_in_1): a listening port with no connection for
// the 4-tuple yet. With the backlog full, SYN cookies (RFC 4987 §3.6; core/syncookie.hpp)
// answer SYNs without keeping state, and an ACK that returns a valid cookie opens the flow.
#include <algorithm>

#include "core/siphash.hpp"
#include "core/syncookie.hpp"
#include "stack/engine.hpp"

namespace utcp::detail {

namespace {

// The MSS the peer's SYN announced, or the §3.7.1 default without the option.
std::uint16_t peer_mss(const Flow& flow, const Segment& syn) {
  for (const auto& o : syn.options) {
    if (const auto* m = std::get_if<Mss>(&o)) return m->value;
  }
  return flow.local().ip.is_v4() ? 536 : 1220;
}

// The unscaled window of a SYN-ACK from this listener (what new_tcb and advertise_window
// give an embryonic flow with an empty queue).
std::uint16_t syn_ack_window(const Config& cfg, const Listener& l) {
  const std::uint32_t buffer =
      std::clamp<std::uint32_t>(l.options.recv_buffer.value_or(cfg.recv_buffer), 1, 0x3fff'ffff);
  return static_cast<std::uint16_t>(std::min<std::uint32_t>(buffer, 0xffff));
}

// What a SYN offered that a timestamp cookie keeps (core/syncookie.hpp), as far as this
// stack takes it up.
CookieOptions cookie_options(const Config& cfg, const Flow& flow, const Segment& syn) {
  CookieOptions o;
  o.mss = kCookieMss[cookie_mss_index(peer_mss(flow, syn))];
  for (const auto& opt : syn.options) {
    if (const auto* w = std::get_if<WindowScale>(&opt); w && cfg.window_scaling)
      o.wscale = std::min<std::uint8_t>(w->shift, 14);
    if (std::holds_alternative<SackPermitted>(opt)) o.sack_permitted = cfg.sack;
  }
  return o;
}

// The options of a timestamp cookie's SYN-ACK: the peer's offers answered as the backlog path
// would (RFC 7323 §2-3, RFC 2018 §2), with the cookie's TSval.
struct CookieReply {
  CookieOptions peer;
  std::uint32_t tsval = 0, tsecr = 0;
  std::uint8_t shift = 0;  // ours
};

// RFC 4987 §3.6: <SEQ=cookie><ACK=SEG.SEQ+1><CTL=SYN,ACK> with our MSS; nothing is kept.
// Without timestamps no window scale (the peer's shift could not be recalled), with them
// everything the SYN offered (`ts`).
void send_cookie(Engine& e, const Flow& flow, const Segment& syn, const Listener& l, Seq cookie,
                 std::vector<Output>& out, const std::optional<CookieReply>& ts = std::nullopt) {
  const Config& cfg = e.cfg();
  Segment s;
  s.src_port = flow.local().port;
  s.dst_port = flow.remote().port;
  s.seq = cookie;
  s.ack = syn.seq + 1;
  s.flag = Segment::Flag::syn;
  s.window = syn_ack_window(cfg, l);
  s.options.push_back(Mss{mss_for_mtu(cfg, flow, l.options.max_segment.value_or(0))});
  if (ts) {
    if (ts->peer.sack_permitted) s.options.push_back(SackPermitted{});
    s.options.push_back(Timestamps{ts->tsval, ts->tsecr});
    if (ts->peer.wscale) s.options.push_back(WindowScale{ts->shift});
  }
  ++e.stats.syn_cookies_sent;
  ++e.stats.segments_out;
  out.push_back(Output{flow.local().ip, flow.remote().ip, std::move(s)});
}

// RFC 4987 §3.6: the final ACK returned a valid cookie. The flow the SYN-ACK stood for, in
// SYN-RECEIVED (not counted against the backlog); the caller runs the ACK through the
// ordinary rules next, which complete the handshake and take any data or FIN on it.
void open_from_cookie(Engine& e, Instant now, const Flow& flow, std::uint64_t flow_hash, const Segment& ack,
                      const Listener& l, const CookieOptions& peer, const Timestamps* ts) {
  const Config& cfg = e.cfg();
  Tcb t = new_tcb(e, flow, l.options, now);
  t.irs = ack.seq - 1;
  t.rcv_nxt = ack.seq;
  t.rcv_adv = t.rcv_nxt + syn_ack_window(cfg, l);
  t.iss = *ack.ack - 1;
  t.snd_una = t.iss;
  t.snd_nxt = t.snd_max = t.iss + 1;
  // A timestamp cookie brings back the peer's shift and SACK-permitted (ts: the ACK's TSopt).
  t.open.wscale = peer.wscale.has_value();
  t.snd_wscale = std::min<std::uint8_t>(peer.wscale.value_or(0), 14);
  if (!t.open.wscale) t.rcv_wscale = 0;
  t.open.sack = peer.sack_permitted;
  t.open.ts = ts != nullptr;
  if (ts) {
    t.set_ts_recent(ts->value, now);
  }
  t.smss = std::clamp<std::uint32_t>(peer.mss, std::min<std::uint32_t>(64, t.rcv_mss), t.rcv_mss);
  if (t.open.ts && t.smss > 64 + 12) t.smss -= 12;  // RFC 6691 §2, as accept_peer_options
  t.snd_wnd = ack.window;
  t.max_snd_wnd = t.snd_wnd;
  t.snd_wl1 = t.irs;
  t.snd_wl2 = t.iss;
  e.enter(t, TcpState::syn_received);
  ++e.stats.connections_opened_passive;
  ++e.stats.syn_cookies_accepted;
  // SYN-RECEIVED keeps its timers; the ACK that follows stops them.
  t.arm(Timer::retransmit, now + t.rto(cfg));
  t.arm(Timer::lifetime, now + cfg.connection_establish_timeout);
  e.tcbs.insert(flow_hash, flow, std::move(t));
}

}  // namespace

std::optional<Verdict> input_listen(Engine& e, Instant now, const Flow& flow, std::uint64_t flow_hash,
                                    const Segment& seg, std::vector<Output>& out,
                                    std::optional<Seq> old_snd_max) {
  const Config& cfg = e.cfg();
  const Listener* l = e.listeners.find(flow.local().port);
  // First, an RST: ignore it.
  if (seg.flag == Segment::Flag::rst) return dropped(InputRule::listen_rst, DropReason::listen_bad_segment);
  // Second, an ACK: a SYN cookie returned (RFC 4987 §3.6), else <SEQ=SEG.ACK><CTL=RST>.
  if (seg.ack) {
    if (cfg.syn_cookies && seg.flag != Segment::Flag::syn) {
      // A cookie SYN-ACK with timestamps is echoed in the ACK's TSecr (its options inside).
      const Timestamps* ts = cfg.timestamps ? find_timestamps(seg) : nullptr;
      std::optional<CookieOptions> peer;
      if (ts) {
        peer = check_ts_cookie(e.syn_cookie_key, flow, seg.seq - 1, *seg.ack - 1, ts->echo, now);
      } else if (const auto mss = check_cookie(e.syn_cookie_key, flow, seg.seq - 1, *seg.ack - 1, now)) {
        peer.emplace();
        peer->mss = *mss;
      }
      if (peer) {
        if (e.tcbs.size() >= cfg.max_connections)
          return dropped(InputRule::listen_cookie_refused, DropReason::table_full);
        open_from_cookie(e, now, flow, flow_hash, seg, *l, *peer, ts);
        return std::nullopt;
      }
      ++e.stats.syn_cookies_rejected;
    }
    reset_for_segment(e, flow, seg, out);
    return dropped(InputRule::listen_ack, DropReason::listen_bad_segment);
  }
  // Third, a SYN; anything else is dropped.
  if (seg.flag != Segment::Flag::syn) return dropped(InputRule::listen_other, DropReason::listen_bad_segment);
  if (l->embryonic >= cfg.listen_backlog) {
    if (!cfg.syn_cookies) return dropped(InputRule::listen_syn_refused, DropReason::backlog_full);
    // A cookie could not become a flow either.
    if (e.tcbs.size() >= cfg.max_connections)
      return dropped(InputRule::listen_syn_refused, DropReason::table_full);
    // With the peer's TSopt (and ours configured) the options ride in the TSval, as Linux does.
    std::optional<CookieReply> reply;
    Seq cookie;
    if (const Timestamps* ts = cfg.timestamps ? find_timestamps(seg) : nullptr) {
      reply = CookieReply{.peer = cookie_options(cfg, flow, seg), .tsecr = ts->value};
      const std::uint32_t clock = tsval(now, ts_offset(cfg.isn_secret, flow));
      const TsCookie k = make_ts_cookie(e.syn_cookie_key, flow, seg.seq, reply->peer, clock, now);
      cookie = k.isn;
      reply->tsval = k.tsval;
      const std::uint32_t buffer = l->options.recv_buffer.value_or(cfg.recv_buffer);
      reply->shift = window_shift_for(std::clamp<std::uint32_t>(buffer, 1, 0x3fff'ffff));
    } else {
      cookie = make_cookie(e.syn_cookie_key, flow, seg.seq, peer_mss(flow, seg), now);
    }
    // RFC 6191: a SYN reopening a TIME-WAIT flow needs an ISN above the old sequence space,
    // and a cookie cannot be chosen.
    if (old_snd_max && !(cookie > *old_snd_max))
      return dropped(InputRule::listen_syn_refused, DropReason::backlog_full);
    send_cookie(e, flow, seg, *l, cookie, out, reply);
    return taken(InputRule::listen_syn_cookie);
  }
  if (e.tcbs.size() >= cfg.max_connections)
    return dropped(InputRule::listen_syn_refused, DropReason::table_full);

  Tcb t = new_tcb(e, flow, l->options, now);
  Ctx c(e, now, flow, out);
  t.irs = seg.seq;
  t.rcv_nxt = seg.seq + 1;
  t.rcv_adv = t.rcv_nxt;
  // RFC 6528 ISN; RFC 6191: above the sequence space of the TIME-WAIT flow it replaces.
  Seq iss = initial_sequence_number(cfg.isn_secret, flow, now);
  if (old_snd_max && !(iss > *old_snd_max)) iss = *old_snd_max + 0x10000u;
  t.iss = iss;
  t.snd_una = t.snd_nxt = t.snd_max = iss;
  accept_peer_options(c, t, seg);
  // RFC 7323 §2.2: the window of a SYN is not scaled.
  t.snd_wnd = seg.window;
  t.max_snd_wnd = t.snd_wnd;
  t.snd_wl1 = seg.seq;
  t.snd_wl2 = iss;
  t.open.embryonic = true;
  e.listeners.update(flow.local().port, [](Listener& li) { ++li.embryonic; });
  e.enter(t, TcpState::syn_received);
  ++e.stats.connections_opened_passive;
  t.arm(Timer::lifetime, now + cfg.connection_establish_timeout);
  hold_syn_text(t, seg);
  send_syn(c, t);
  e.tcbs.insert(flow_hash, flow, std::move(t));
  return taken(InputRule::listen_syn);
}

}  // namespace utcp::detail
