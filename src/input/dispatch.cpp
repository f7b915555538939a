// Call chain: engine_handle_buf -> input_listen (listen.cpp) | input_syn_sent (handshake.cpp) |
//   input_synchronized (synchronized.cpp) -> process_ack (ack.cpp) -> process_text_and_fin (text.cpp)
//
// Segment arrival (RFC 9293 §3.10.7): decode, find the connection, apply the rules, derive
// the event by comparing the connection before and after the step (as µTCP does), so that
// no rule deals with notifications. docs/rules.md is the full table, with the tests of each
// rule; this is the map of where each step lives.
//
// clang-format off
// | step (RFC 9293 §3.10.7)                  | NetSem          | function (file)
// |------------------------------------------|-----------------|-------------------------------------------
// | decode failure: count and drop (§3.1)    | deliver_in_99   | engine_handle_buf (dispatch.cpp)
// | CLOSED: reset generation (§3.10.7.1)     | deliver_in_6    | reset_for_segment (output/output.cpp)
// | LISTEN: RST, ACK, SYN, other (§3.10.7.2) | deliver_in_1    | input_listen (listen.cpp)
// | SYN-SENT: ACK, RST, SYN(-ACK) (§3.10.7.3)| deliver_in_2    | input_syn_sent (handshake.cpp)
// | simultaneous open (§3.10.7.3)            | deliver_in_2a   | input_syn_sent (handshake.cpp)
// | TIME-WAIT reopened by a SYN (RFC 6191)   | deliver_in_1b   | input_synchronized (synchronized.cpp)
// | first: sequence number acceptability     | deliver_in_3    | acceptable (synchronized.cpp)
// | ... trim to the window                   | di3_topstuff    | trim_to_window (synchronized.cpp)
// | second: RST (RFC 5961 §3.2)              | deliver_in_7    | check_rst (synchronized.cpp)
// | fourth: SYN (RFC 5961 §4.2)              | deliver_in_8    | input_synchronized (synchronized.cpp)
// | fifth: ACK, SYN-RECEIVED -> ESTABLISHED  | di3_ackstuff    | process_ack (ack.cpp)
// | ... ACK validation (RFC 5961 §5.2)       | di3_ackstuff    | process_ack (ack.cpp)
// | ... new ACK: RTT, congestion, queue      | di3_newackstuff | new_ack (ack.cpp)
// | ... duplicate ACK: fast retransmit       | di3_newackstuff | dup_ack (ack.cpp)
// | ... send window update (SND.WL1/WL2)     | di3_ackstuff    | update_send_window (ack.cpp)
// | ... FIN acked: FIN-WAIT-1/CLOSING/LAST-ACK| di3_ackstuff   | ack_of_fin (ack.cpp)
// | seventh: text, reassembly, delayed ACK   | di3_datastuff   | process_text_and_fin (text.cpp)
// | eighth: FIN                              | di3_datastuff   | reach_fin (text.cpp)
// | events: Drop > Established > Signal      | (the seed)      | derive_event (dispatch.cpp)
// clang-format on
#include <algorithm>

#include "stack/engine.hpp"
#include "wire/segment_decode.hpp"

namespace utcp::detail {

namespace {

struct Before {
  TcpState state;
  bool user_knows;
  bool fin_received;
  std::size_t rcvq;
  std::size_t send_space;
};

Before before(const Tcb& t) {
  return {t.state, t.open.user_knows, t.fin_received(), t.rcvq.size(), t.send_space()};
}

// The send space at which a waiting writer is woken: one full segment (half the send buffer
// when that is smaller; at least one byte). A writer waits only after a send that filled the
// buffer, so the edge fires once per refill: with the writer keeping the buffer full, at the
// first ACK that frees a segment's worth. A higher mark (Linux wakes at a third of the buffer
// free) left small buffers idle: `utcp sim --table` lost up to 45 % of its 16 KiB goodput
// with half the buffer as the mark.
std::size_t send_low_water(const Tcb& t) {
  return std::max<std::size_t>(1, std::min<std::size_t>(t.smss, t.send_buffer / 2));
}

// The event a step caused, from the connection before and after it and the verdict alone,
// made in place in `ev` (left empty for none): no EngineEvent is moved into the caller's.
[[gnu::always_inline]] inline void derive_event(const Before& b, const Tcb& t, const Verdict& v, const Flow& flow,
                  std::optional<EngineEvent>& ev) {
  ev.reset();  // a step run again (a SYN reopening TIME-WAIT) reports only its own event
  if (v.end != Verdict::End::keep) {
    if (!b.user_knows) return;
    EngineEvent& d = ev.emplace(EngineEvent::Kind::drop, flow, t.notifies);
    d.pending = !t.rcvq.empty();
    return;
  }
  const bool was_open = b.state == TcpState::syn_sent || b.state == TcpState::syn_received;
  if (was_open && t.synchronized()) {
    EngineEvent& d = ev.emplace(EngineEvent::Kind::established, flow, t.notifies);
    d.active = t.open.active;
    return;
  }
  if (!b.user_knows) return;
  // Edges only, so a steady stream costs one event per emptied queue, not one per segment:
  // the receive queue went from empty to non-empty (a reader waits only after a recv that
  // found it empty), or the end of stream was reached; the send space rose across the
  // low-water mark (a writer waits only after a send that filled the buffer).
  const bool wake_rcv = (b.rcvq == 0 && !t.rcvq.empty()) || (t.fin_received() && !b.fin_received);
  const std::size_t lowat = send_low_water(t);
  const bool wake_snd = !t.user.write_shut && b.send_space < lowat && t.send_space() >= lowat;
  if (!wake_rcv && !wake_snd) return;
  EngineEvent& d = ev.emplace(EngineEvent::Kind::signal, flow, t.notifies);
  d.wake_rcv = wake_rcv;
  d.wake_snd = wake_snd;
}

// The one place where what became of a segment is counted.
void count(Stats& s, const Verdict& v, std::optional<DropReason> discarded = std::nullopt) {
  ++s.rules[static_cast<std::size_t>(v.rule)];
  if (v.drop) ++s.drops[static_cast<std::size_t>(*v.drop)];
  if (discarded) ++s.drops[static_cast<std::size_t>(*discarded)];
}

}  // namespace

std::optional<EngineEvent> engine_handle_buf(Engine& e, Instant now, const IpAddr& src, const IpAddr& dst,
                                             std::span<const std::byte> tcp_bytes, std::vector<Output>& out,
                                             ChecksumCheck check) {
  ++e.stats.segments_in;
  // Every return below returns this one object (reset where the answer is none), so it is
  // built in the caller's place: no EngineEvent moved out on return.
  std::optional<EngineEvent> event;
  // A view of the caller's bytes: the receive queue (or reassembly) copies the payload once.
  Segment seg;
  if (const DecodeError err = wire::decode_view_into(src, dst, tcp_bytes, seg, check);
      err != DecodeError::none) {
    const auto reason = static_cast<std::size_t>(err);
    if (reason < e.stats.decode_errors.size()) ++e.stats.decode_errors[reason];
    ++e.stats.drops[static_cast<std::size_t>(DropReason::decode)];
    return event;
  }
  const Flow flow(Endpoint{dst, seg.dst_port}, Endpoint{src, seg.src_port});

  Verdict verdict = taken(InputRule::accepted);
  std::optional<Seq> old_snd_max;
  auto step = [&](Tcb& t) __attribute__((always_inline)) {
    Ctx c(e, now, flow, out);
    const Before b = before(t);
    verdict = t.state == TcpState::syn_sent ? input_syn_sent(c, t, seg) : input_synchronized(c, t, seg);
    count(e.stats, verdict, c.discarded);
    derive_event(b, t, verdict, flow, event);
    if (verdict.end == Verdict::End::reopen) old_snd_max = t.snd_max;
    if (verdict.end != Verdict::End::keep) e.retire(flow, t, verdict.end == Verdict::End::abort);
  };
  const std::uint64_t h = e.flow_hash(flow);  // once for update, erase and insert
  const bool found = e.tcbs.update(h, flow, step);
  if (found && verdict.end != Verdict::End::keep) e.tcbs.erase_present(h, flow);
  if (found && verdict.end != Verdict::End::reopen) return event;
  event.reset();  // a reopened flow's step reports nothing unless the listener's flow then does

  if (e.listeners.find(flow.local().port)) {
    // RFC 4987: an ACK that returns a SYN cookie creates the flow; the ordinary rules then
    // complete the handshake on it and report Established as for a backlog flow.
    if (const auto v = input_listen(e, now, flow, h, seg, out, old_snd_max)) {
      count(e.stats, *v);
      return event;
    }
    if (e.tcbs.update(h, flow, step) && verdict.end != Verdict::End::keep) e.tcbs.erase_present(h, flow);
    return event;
  }
  // §3.10.7.1: no connection and no listener.
  reset_for_segment(e, flow, seg, out);
  count(e.stats, dropped(InputRule::closed, DropReason::no_connection));
  return event;
}

}  // namespace utcp::detail
