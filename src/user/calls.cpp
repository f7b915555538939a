// The user calls on an existing connection (RFC 9293 §3.10.2-§3.10.6): SEND, RECEIVE, CLOSE,
// shutdown, ABORT, and utcp's set_options and path_mtu. Each validates before it changes
// anything, so a failed call leaves the engine as it was.
#include <algorithm>

#include "stack/engine.hpp"

namespace utcp::detail {

namespace {

Error wrong_state(std::string_view call, const Tcb& t, CallError reason, std::string_view why) {
  return Error::refused(reason, std::string(call) + ": " + std::string(why) + " (connection is " +
                                    std::string(to_string(t.state)) + ")");
}

// Runs f(ctx, tcb) on the flow (h: its FlowTable::hash), then erases it when f ended the
// connection. With `check`: check(const Tcb&) -> bool first, and f only when it returns true
// (a call validates before it changes anything, so a refused call leaves the engine as it
// was), in the same descent of the table. Returns whether the flow exists.
template <class C, class F>
bool step_if(Engine& e, std::uint64_t h, Instant now, const Flow& flow, std::vector<Output>& out, C&& check,
             F&& f) {
  bool remove = false;
  const bool found = e.tcbs.update_if(h, flow, check, [&](Tcb& t) {
    Ctx c(e, now, flow, out);
    f(c, t);
    remove = c.remove;
    if (remove) e.retire(flow, t, c.dropped);
  });
  if (remove) e.tcbs.erase_present(h, flow);
  return found;
}
// step_if without a check. Returns whether the flow exists.
template <class F>
bool step(Engine& e, std::uint64_t h, Instant now, const Flow& flow, std::vector<Output>& out, F&& f) {
  return step_if(e, h, now, flow, out, [](const Tcb&) { return true; }, std::forward<F>(f));
}

// §3.10.4 CLOSE / shutdown(write): queue a FIN behind the data.
void shut_write(Ctx& c, Tcb& t) {
  if (t.user.write_shut) return;
  t.user.write_shut = true;
  t.fin_seq = t.data_start() + static_cast<std::uint32_t>(t.sndq.size());
  switch (t.state) {
    case TcpState::established:
      c.e.enter(t, TcpState::fin_wait_1);
      break;
    case TcpState::close_wait:
      c.e.enter(t, TcpState::last_ack);
      break;
    default:
      break;  // SYN-SENT, SYN-RECEIVED: the FIN goes after the handshake
  }
  output(c, t);
}

bool can_send(TcpState s) {
  return s == TcpState::syn_sent || s == TcpState::syn_received || s == TcpState::established ||
         s == TcpState::close_wait;
}

}  // namespace

std::optional<Error> engine_close(Engine& e, Instant now, const Flow& flow, std::vector<Output>& out) {
  const std::uint64_t h = e.flow_hash(flow);
  std::optional<Error> refused;
  const auto check = [&](const Tcb& t) {
    if (t.user.close_called) refused = wrong_state("close", t, CallError::already_closed, "already closed");
    return !refused;
  };
  const bool found = step_if(e, h, now, flow, out, check, [&](Ctx& c, Tcb& t) {
    if (t.state == TcpState::syn_sent) {  // §3.10.4: delete the TCB
      c.remove = true;
      return;
    }
    if (!t.rcvq.empty()) {
      // RFC 1122 §4.2.2.13: closing with unread data resets the connection.
      send_rst(c, t);
      c.remove = true;
      return;
    }
    t.user.close_called = true;
    t.user.read_shut = true;
    shut_write(c, t);
    if (t.state == TcpState::fin_wait_2 && !t.armed(Timer::lifetime))
      t.arm(Timer::lifetime, now + c.cfg.fin_wait_2_timeout);
  });
  if (!found) return Error::not_found();
  return refused;
}

std::optional<Error> engine_shutdown(Engine& e, Instant now, const Flow& flow, Direction dir,
                                     std::vector<Output>& out) {
  const std::uint64_t h = e.flow_hash(flow);
  const bool found = step(e, h, now, flow, out, [&](Ctx& c, Tcb& t) {
    if (dir == Direction::read || dir == Direction::read_write) {
      t.user.read_shut = true;
      t.rcvq.drop_front(t.rcvq.size());
      output(c, t);  // the freed space may reopen the window
    }
    if (dir == Direction::write || dir == Direction::read_write) shut_write(c, t);
  });
  if (!found) return Error::not_found();
  return std::nullopt;
}

std::optional<Error> engine_abort(Engine& e, Instant now, const Flow& flow, std::vector<Output>& out) {
  const std::uint64_t h = e.flow_hash(flow);
  const bool found = step(e, h, now, flow, out, [&](Ctx& c, Tcb& t) {
    // §3.10.5 ABORT: <SEQ=SND.NXT><CTL=RST> unless only our SYN is out.
    if (t.state != TcpState::syn_sent && t.state != TcpState::time_wait) send_rst(c, t);
    c.remove = true;
  });
  if (!found) return Error::not_found();
  return std::nullopt;
}

// §3.8.6.2.2: the window has opened by a useful amount since it was last advertised (after a
// read, or after the receive buffer grew through set_options while the queue was empty).
static bool window_update_due(const Tcb& t) {
  if (t.fin_received() || !t.synchronized()) return false;
  const std::uint32_t cur = t.rcv_wnd();
  const std::size_t used = t.ooo().bytes() + t.rcvq.size();
  const std::uint32_t space = std::min<std::uint32_t>(
      used >= t.recv_buffer ? 0 : t.recv_buffer - static_cast<std::uint32_t>(used), 0xffffu << t.rcv_wscale);
  const std::uint32_t step_size = std::min<std::uint32_t>(t.recv_buffer / 2, t.rcv_mss);
  return space > cur && space - cur >= step_size;
}

namespace {

// §3.10.3 RECEIVE: take(rcvq) takes what the call returns, then the window update is sent
// when the freed space makes one due (§3.8.6.2.2).
template <class Take>
Result<NotifyPair> receive(Engine& e, Instant now, const Flow& flow, std::vector<Output>& out, Take&& take) {
  const std::uint64_t h = e.flow_hash(flow);
  std::optional<Result<NotifyPair>> early;  // the answer when there is nothing to take or send
  NotifyPair n;
  const auto check = [&](const Tcb& t) {
    if (t.rcvq.empty()) {
      if (t.fin_received() || t.user.read_shut) {
        early.emplace(std::unexpected(Error::eof()));
        return false;
      }
      if (!window_update_due(t)) {
        early.emplace(t.notifies);
        return false;
      }
    }
    n = t.notifies;
    return true;
  };
  const bool found = step_if(e, h, now, flow, out, check, [&](Ctx& c, Tcb& t) {
    take(t.rcvq);
    if (!t.fin_received() && t.synchronized()) {
      if (window_update_due(t)) t.ack_owed.now = true;
      output(c, t);
    }
  });
  if (!found) return std::unexpected(Error::not_found());
  if (early) return std::move(*early);
  return n;
}

}  // namespace

Result<NotifyPair> engine_recv(Engine& e, Instant now, const Flow& flow, std::vector<Payload>& data,
                               std::vector<Output>& out) {
  return receive(e, now, flow, out, [&](ByteQueue& q) { q.take_all(data); });
}

Result<NotifyPair> engine_recv_into(Engine& e, Instant now, const Flow& flow, std::span<std::byte> buf,
                                    std::size_t& taken, std::vector<Output>& out) {
  return receive(e, now, flow, out, [&](ByteQueue& q) { taken = q.take_front(buf); });
}

Result<std::size_t> engine_peek(const Engine& e, const Flow& flow, std::span<std::byte> buf) {
  const Tcb* found = e.tcbs.find(flow);
  if (!found) return std::unexpected(Error::not_found());
  if (found->rcvq.empty() && (found->fin_received() || found->user.read_shut))
    return std::unexpected(Error::eof());
  return found->rcvq.copy_front(buf);
}

namespace {

std::size_t size_of(std::string_view d) {
  return d.size();
}
std::size_t size_of(const Payload& d) {
  return d.size();
}
void enqueue(ByteQueue& q, std::string_view d, std::size_t n) {
  q.append(d.substr(0, n));  // copies
}
void enqueue(ByteQueue& q, const Payload& d, std::size_t n) {
  q.append(d.sub(0, n));  // shares
}

// §3.10.2 SEND, for both kinds of data.
template <class D>
Result<EngineSent> send_data(Engine& e, Instant now, const Flow& flow, const D& data,
                             std::vector<Output>& out) {
  const std::uint64_t h = e.flow_hash(flow);
  std::optional<Error> refused;
  EngineSent r{};
  const auto check = [&](const Tcb& t) {
    if (t.user.write_shut)
      refused = wrong_state("send", t, CallError::write_shut, "shut down for writing");
    else if (!can_send(t.state))
      refused = wrong_state("send", t, CallError::not_connected, "cannot send");
    if (refused) return false;
    r = EngineSent{std::min(size_of(data), t.send_space()), t.notifies};
    return r.enqueued != 0;  // nothing taken: nothing changes
  };
  const bool found = step_if(e, h, now, flow, out, check, [&](Ctx& c, Tcb& t) {
    enqueue(t.sndq, data, r.enqueued);
    if (t.synchronized()) output(c, t);
  });
  if (!found) return std::unexpected(Error::not_found());
  if (refused) return std::unexpected(std::move(*refused));
  return r;
}

}  // namespace

Result<EngineSent> engine_send(Engine& e, Instant now, const Flow& flow, std::string_view data,
                               std::vector<Output>& out) {
  return send_data(e, now, flow, data, out);
}

Result<EngineSent> engine_send(Engine& e, Instant now, const Flow& flow, const Payload& data,
                               std::vector<Output>& out) {
  return send_data(e, now, flow, data, out);
}

std::optional<Error> engine_force_enqueue(Engine& e, Instant now, const Flow& flow, std::string_view data) {
  const std::uint64_t h = e.flow_hash(flow);
  const Tcb* found = e.tcbs.find(h, flow);
  if (!found) return Error::not_found();
  if (found->user.write_shut)
    return wrong_state("force_enqueue", *found, CallError::write_shut, "shut down for writing");
  if (!can_send(found->state)) return wrong_state("force_enqueue", *found, CallError::not_connected, "cannot send");
  (void)now;
  e.tcbs.update(h, flow, [&](Tcb& t) { t.sndq.append(data); });
  return std::nullopt;
}

std::optional<Error> engine_set_options(Engine& e, const Flow& flow, const FlowOptions& o) {
  const std::uint64_t h = e.flow_hash(flow);
  if (!e.tcbs.find(h, flow)) return Error::not_found();
  e.tcbs.update(h, flow, [&](Tcb& t) {
    if (o.send_buffer) t.send_buffer = std::max<std::uint32_t>(*o.send_buffer, 1);
    if (o.recv_buffer) {
      // The window scale is fixed by the SYN; before it the new size also decides the shift.
      t.recv_buffer = std::clamp<std::uint32_t>(*o.recv_buffer, 1, 0x3fff'ffff);
      if (t.state == TcpState::syn_sent && t.snd_max == t.iss && e.cfg().window_scaling)
        t.rcv_wscale = window_shift_for(t.recv_buffer);
    }
    if (o.nodelay) t.user.nodelay = *o.nodelay;
    if (o.congestion_control && *o.congestion_control != t.cc.kind()) t.cc.select(*o.congestion_control);
    if (o.pacing) t.user.pacing = *o.pacing;
    if (o.keepalive_idle) t.rare.make().keepalive_idle = *o.keepalive_idle;
    if (o.keepalive_interval) t.rare.make().keepalive_interval = *o.keepalive_interval;
    if (o.keepalive_count) t.rare.make().keepalive_count = *o.keepalive_count;
    if (o.keepalive) {
      t.user.keepalive = *o.keepalive;
      if (!t.user.keepalive)
        t.disarm(Timer::keepalive);
      else if (t.state == TcpState::established && !t.armed(Timer::keepalive))
        t.arm(Timer::keepalive, t.last_recv + t.keepalive_idle(e.cfg()));
    }
    if (o.max_segment) {
      const std::uint32_t clamp = std::max<std::uint16_t>(*o.max_segment, 64);
      t.smss = static_cast<std::uint16_t>(std::min<std::uint32_t>(t.smss, clamp));
      if (t.state == TcpState::syn_sent && t.snd_max == t.iss)
        t.rcv_mss = mss_for_mtu(e.cfg(), flow, *o.max_segment);
    }
  });
  return std::nullopt;
}

std::optional<Error> engine_path_mtu(Engine& e, Instant now, const Flow& flow, std::uint32_t mtu,
                                     Seq quoted_seq, std::vector<Output>& out) {
  const std::uint64_t h = e.flow_hash(flow);
  const Tcb* found = e.tcbs.find(h, flow);
  if (!found) return Error::not_found();
  // RFC 5927 §4.1: only an error quoting data in flight is believed.
  if (!(found->snd_una <= quoted_seq && quoted_seq < found->snd_max)) return std::nullopt;
  const bool v4 = flow.local().ip.is_v4();
  const std::uint32_t floor = v4 ? 576 : 1280;
  const std::uint32_t mss = std::max(mtu, floor) - (v4 ? 40 : 60);
  if (mss >= found->smss) return std::nullopt;
  step(e, h, now, flow, out, [&](Ctx& c, Tcb& t) {
    t.smss = static_cast<std::uint16_t>(mss);  // below the current one
    t.cc.clamp_to(mss);
    t.snd_nxt = t.snd_una;  // resend what was in flight at the new size
    t.stop_rtt_timing();
    output(c, t);
  });
  return std::nullopt;
}

}  // namespace utcp::detail
