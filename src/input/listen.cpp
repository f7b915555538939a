// LISTEN (RFC 9293 §3.10.7.2; NetSem deliver_in_1): a listening port with no connection for
// the 4-tuple yet.
#include "core/siphash.hpp"
#include "stack/engine.hpp"

namespace utcp::detail {

namespace {
void drop(Engine& e, DropReason r) {
  ++e.stats.drops[static_cast<std::size_t>(r)];
}
}  // namespace

void input_listen(Engine& e, Instant now, const Flow& flow, const Segment& seg, std::vector<Output>& out,
                  std::optional<Seq> old_snd_max) {
  const Config& cfg = e.cfg();
  // First, an RST: ignore it.
  if (seg.flag == Segment::Flag::rst) return drop(e, DropReason::listen_bad_segment);
  // Second, an ACK: <SEQ=SEG.ACK><CTL=RST>.
  if (seg.ack) {
    drop(e, DropReason::listen_bad_segment);
    reset_for_segment(e, flow, seg, out);
    return;
  }
  // Third, a SYN; anything else is dropped.
  if (seg.flag != Segment::Flag::syn) return drop(e, DropReason::listen_bad_segment);
  const Listener* l = e.listeners.find(flow.local().port);
  if (l->embryonic >= cfg.listen_backlog) return drop(e, DropReason::backlog_full);
  if (e.tcbs.size() >= cfg.max_connections) return drop(e, DropReason::table_full);

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
  t.embryonic = true;
  e.listeners.update(flow.local().port, [](Listener& li) { ++li.embryonic; });
  e.enter(t, TcpState::syn_received);
  ++e.stats.connections_opened_passive;
  t.arm(Timer::lifetime, now + cfg.connection_establish_timeout);
  hold_syn_text(t, seg);
  send_syn(c, t);
  e.tcbs.insert(flow, std::move(t));
}

}  // namespace utcp::detail
