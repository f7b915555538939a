// The Engine: construction, listeners, per-connection bookkeeping and queries.
#include "stack/engine.hpp"

#include <algorithm>

namespace utcp::detail {

std::shared_ptr<Engine> engine_new(NotifyFactory make, std::string id, const Config& config) {
  return std::make_shared<Engine>(std::move(make), std::move(id), config);
}

std::shared_ptr<Engine> engine_clone(const Engine& e) {
  return std::make_shared<Engine>(e);
}

void engine_start_listen(Engine& e, std::uint16_t port, const FlowOptions& opts) {
  if (!e.listeners.update(port, [&](Listener& l) { l.options = opts; })) {
    e.listeners.insert(port, Listener{opts, 0});
    ++e.by_state(TcpState::listen);
  }
}

void engine_stop_listen(Engine& e, std::uint16_t port) {
  // Embryonic connections already created go on; they just stop counting against a backlog.
  if (e.listeners.erase(port)) --e.by_state(TcpState::listen);
}

void Engine::leave_backlog(const Flow& flow, Tcb& t) {
  if (!t.open.embryonic) return;
  t.open.embryonic = false;
  listeners.update(flow.local().port, [](Listener& l) {
    if (l.embryonic > 0) --l.embryonic;
  });
}

void Engine::retire(const Flow& flow, Tcb& t, bool dropped) {
  leave_backlog(flow, t);
  enter(t, TcpState::closed);
  ++stats.connections_closed;
  if (dropped) ++stats.connections_dropped;
}

std::uint8_t window_shift_for(std::uint32_t recv_buffer) {
  // RFC 7323 §2.3: the smallest shift that lets the buffer fit the 16-bit field, at most 14.
  std::uint8_t shift = 0;
  while (shift < 14 && (recv_buffer >> shift) > 0xffff) ++shift;
  return shift;
}

std::uint16_t mss_for_mtu(const Config& cfg, const Flow& flow, std::uint16_t max_segment) {
  // RFC 9293 §3.7.1: MSS = MTU - fixed IP and TCP headers (40 for IPv4, 60 for IPv6), the MTU
  // no smaller than the family's minimum (68, RFC 791 §3.2; 1280, RFC 8200 §5): an IPv4 MSS
  // can be as small as 28.
  const bool v4 = flow.local().ip.is_v4();
  const std::uint32_t overhead = v4 ? 40 : 60;
  std::uint32_t mss = std::max<std::uint32_t>(cfg.mtu, v4 ? 68 : 1280) - overhead;
  if (max_segment != 0) mss = std::min<std::uint32_t>(mss, std::max<std::uint16_t>(max_segment, 64));
  return static_cast<std::uint16_t>(std::min<std::uint32_t>(mss, 0xffff));
}

Tcb new_tcb(Engine& e, const Flow& flow, const FlowOptions& o, Instant now) {
  const Config& c = e.cfg();
  Tcb t(c.rto_initial);
  t.send_buffer = std::max<std::uint32_t>(o.send_buffer.value_or(c.send_buffer), 1);
  t.recv_buffer = std::clamp<std::uint32_t>(o.recv_buffer.value_or(c.recv_buffer), 1, 0x3fff'ffff);
  t.user.nodelay = o.nodelay.value_or(c.nodelay);
  t.user.keepalive = o.keepalive.value_or(c.keepalive);
  if (o.keepalive_idle) t.rare.make().keepalive_idle = *o.keepalive_idle;
  if (o.keepalive_interval) t.rare.make().keepalive_interval = *o.keepalive_interval;
  if (o.keepalive_count) t.rare.make().keepalive_count = *o.keepalive_count;
  t.cc.select(o.congestion_control.value_or(c.congestion_control));
  t.user.pacing = o.pacing.value_or(c.pacing);
  t.rcv_wscale = c.window_scaling ? window_shift_for(t.recv_buffer) : 0;
  t.rcv_mss = mss_for_mtu(c, flow, o.max_segment.value_or(0));
  if (c.timestamps) t.ts_offset = ts_offset(c.isn_secret, flow);  // RFC 7323 §5.4; unused without
  t.smss = t.rcv_mss;
  t.last_recv = now;
  t.last_send = now;
  t.notifies = (*e.make_notify)();
  return t;
}

bool challenge_ack_allowed(Ctx& c, Tcb& t) {
  // RFC 5961 §7: a per-flow and a per-stack budget of challenge ACKs per second.
  const auto second = std::chrono::seconds(1);
  TcbRare& r = t.rare.make();
  if (c.now - r.challenge_window >= second || c.now < r.challenge_window) {
    r.challenge_window = c.now;
    r.challenge_count = 0;
  }
  if (c.now - c.e.challenge_window >= second || c.now < c.e.challenge_window) {
    c.e.challenge_window = c.now;
    c.e.challenge_count = 0;
  }
  if (r.challenge_count >= c.cfg.challenge_acks_per_second_per_flow ||
      c.e.challenge_count >= c.cfg.challenge_acks_per_second) {
    ++c.e.stats.challenge_acks_suppressed;
    return false;
  }
  ++r.challenge_count;
  ++c.e.challenge_count;
  ++c.e.stats.challenge_acks;
  return true;
}

// ---- queries ----

std::optional<Instant> engine_next_deadline(const Engine& e) {
  return e.tcbs.min_deadline();
}

std::size_t engine_num_connections(const Engine& e) {
  return e.tcbs.size();
}

const Stats& engine_stats(const Engine& e) {
  return e.stats;
}
const Config& engine_config(const Engine& e) {
  return *e.config;
}
const std::string& engine_id(const Engine& e) {
  return *e.id;
}

std::optional<ConnInfo> engine_info(const Engine& e, const Flow& flow) {
  const Tcb* t = e.tcbs.find(flow);
  if (!t) return std::nullopt;
  ConnInfo i;
  i.state = t->state;
  i.iss = t->iss;
  i.irs = t->irs;
  i.snd_una = t->snd_una;
  i.snd_nxt = t->snd_nxt;
  i.snd_max = t->snd_max;
  i.snd_wnd = t->snd_wnd;
  i.rcv_nxt = t->rcv_nxt;
  i.rcv_wnd = t->rcv_wnd();
  i.snd_wscale = t->snd_wscale;
  i.rcv_wscale = t->rcv_wscale;
  i.mss = t->smss;
  i.cwnd = t->cc.cwnd();
  i.ssthresh = t->cc.ssthresh();
  i.congestion_control = t->cc.kind();
  i.pacing_rate = t->pacing_rate();
  if (const BbrFlow* b = t->cc.bbr()) {
    i.cc_state = to_string(b->model().state());
    i.bottleneck_bw = b->model().max_bw();
    i.delivery_rate = b->delivery().last_rate();
    i.delivered = b->delivery().total_delivered();
  }
  i.srtt = t->rtt.srtt().value_or(Duration{});
  i.rttvar = t->rtt.rttvar();
  i.rto = t->rto(e.cfg());
  i.retransmits = t->retransmits();
  i.send_queued = t->sndq.size();
  i.send_space = t->user.write_shut ? 0 : t->send_space();
  i.recv_queued = t->rcvq.size();
  i.ooo_bytes = t->ooo().bytes();
  i.ooo_ranges = t->ooo().ranges();
  i.fin_received = t->fin_received();
  i.read_shut = t->user.read_shut;
  i.write_shut = t->user.write_shut;
  i.deadline = t->deadline();
  i.nodelay = t->user.nodelay;
  i.keepalive = t->user.keepalive;
  return i;
}

std::vector<Flow> engine_flows(const Engine& e) {
  std::vector<Flow> v;
  v.reserve(e.tcbs.size());
  e.tcbs.for_each([&](const Flow& f, const Tcb&) { v.push_back(f); });
  return v;
}

bool engine_listening(const Engine& e, std::uint16_t port) {
  return e.listeners.find(port) != nullptr;
}

}  // namespace utcp::detail
