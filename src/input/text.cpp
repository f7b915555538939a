// Call chain: engine_handle_buf -> input_synchronized | input_syn_sent -> process_ack ->
//   process_text_and_fin -> reach_fin; then output (output/) sends the ACK it owes.
//
// §3.10.7.4 seventh and eighth (NetSem di3_datastuff): in-order text to the receive queue,
// out-of-order text to the reassembly queue, delayed ACKs (RFC 1122 §4.2.3.2, RFC 5681
// §4.2), and the FIN, also when it arrived out of order and its turn has come.
#include <algorithm>

#include "stack/engine.hpp"

namespace utcp::detail {

namespace {

bool receives_text(TcpState s) {
  return s == TcpState::syn_received || s == TcpState::established || s == TcpState::fin_wait_1 ||
         s == TcpState::fin_wait_2;
}

// §3.10.7.4 eighth: the FIN is reached in sequence.
void reach_fin(Ctx& c, Tcb& t) {
  t.rcv_nxt += 1;
  t.ack_owed.now = true;  // a FIN is acknowledged at once
  switch (t.state) {
    case TcpState::syn_received:
    case TcpState::established:
      c.e.enter(t, TcpState::close_wait);
      break;
    case TcpState::fin_wait_1:
      // Our FIN not yet acknowledged (an ACK of it moved us to FIN-WAIT-2 already).
      c.e.enter(t, TcpState::closing);
      break;
    case TcpState::fin_wait_2:
      t.disarm(Timer::lifetime);
      on_time_wait(c, t);
      break;
    default:
      break;
  }
  t.disarm(Timer::keepalive);
}

// RFC 1122 §4.2.3.2: ACK at least every second full-sized segment, otherwise delay.
// (segs_unacked counts to 1: the second one makes the ACK due now.)
void owe_ack_for_text(Tcb& t) {
  if (t.ack_owed.segs_unacked != 0) {
    t.ack_owed.now = true;
  } else {
    t.ack_owed.segs_unacked = 1;
  }
  if (!t.ack_owed.now) t.ack_owed.delayed = true;
}

}  // namespace

std::optional<Verdict> process_text_and_fin(Ctx& c, Tcb& t, const Segment& in) {
  // §3.10.7.4 first: a segment that starts before RCV.NXT keeps only its new part (callers
  // trim already; without it the stream offset below would wrap to a huge value).
  Segment trimmed;
  if (in.seq < t.rcv_nxt) {
    const std::uint32_t skip = t.rcv_nxt - in.seq;
    const std::size_t size = in.payload.size();
    if (skip > size) return std::nullopt;  // all of it (the FIN too) is old
    trimmed.seq = t.rcv_nxt;
    trimmed.flag = in.flag;
    trimmed.payload = in.payload.sub(skip, size - skip);
  }
  const Segment& seg = in.seq < t.rcv_nxt ? trimmed : in;
  bool fin = seg.flag == Segment::Flag::fin;
  const auto n = static_cast<std::uint32_t>(seg.payload.size());
  if (n == 0 && !fin) return std::nullopt;
  if (!receives_text(t.state)) {
    // CLOSE-WAIT, LAST-ACK, TIME-WAIT: the peer's FIN is already in; a retransmitted FIN is
    // acknowledged (and restarts TIME-WAIT), text is ignored. CLOSING (§3.10.7.4 fifth): "if
    // the ACK acknowledges our FIN, then enter the TIME-WAIT state; otherwise, ignore the
    // segment": here it did not (ack_of_fin would have moved on), so its FIN is ignored too.
    if (fin && t.state != TcpState::closing) {
      t.ack_owed.now = true;
      if (t.state == TcpState::time_wait) on_time_wait(c, t);
    }
    return std::nullopt;
  }
  if (n > 0 && t.user.close_called) {
    // RFC 1122 §4.2.2.13, RFC 9293 §3.10.4: text after CLOSE can never be read: reset.
    send_rst(c, t);
    return dropped(InputRule::text_after_close, DropReason::after_shutdown, Verdict::End::abort);
  }
  if (seg.seq != t.rcv_nxt && fin && c.cfg.test_faults.accept_fin_out_of_order) {
    reach_fin(c, t);  // the planted bug (Config::TestFaults)
    return std::nullopt;
  }
  if (seg.seq != t.rcv_nxt) {
    // Out of order: keep it within the window and the range limit; ACK at once (RFC 5681 §4.2).
    const std::uint64_t off = t.rcv_off + (seg.seq - t.rcv_nxt);
    const auto r = t.rare.make().ooo.insert(t.rcv_off, t.rcv_wnd(), off, seg.payload, fin, c.cfg.max_ooo_ranges);
    // RFC 2018 §4: reported first (read only by SACK connections).
    if (r != Reassembly::Insert::over_limit && t.open.sack) t.rare.make().sack_latest = seg.seq;
    if (r == Reassembly::Insert::duplicate) note_dsack(t, seg.seq, seg.seq + n);  // RFC 2883 §4 (3)
    if (r == Reassembly::Insert::over_limit) c.discarded = DropReason::ooo_limit;
    t.ack_owed.now = true;
    return std::nullopt;
  }
  // §3.10.7.4 eighth: a bare FIN held beyond a gap counts too (it leaves no bytes queued).
  const bool had_holes = !t.ooo().empty() || t.ooo().fin_offset().has_value();
  if (n > 0) {
    t.rcvq.append(seg.payload);
    t.rcv_nxt += n;
    t.rcv_off += n;
    c.e.stats.bytes_in += n;
  }
  if (had_holes) {
    const std::size_t before = t.rcvq.size();
    const auto ready = t.rare->ooo.take(t.rcv_off, t.rcvq);
    const auto moved = static_cast<std::uint32_t>(ready.bytes);
    t.rcv_nxt += moved;
    t.rcv_off += moved;
    c.e.stats.bytes_in += t.rcvq.size() - before;
    if (ready.fin) fin = true;
    t.ack_owed.now = true;  // a hole filled: ACK at once (RFC 5681 §4.2)
  }
  if (t.user.read_shut) t.rcvq.drop_front(t.rcvq.size());  // shutdown(read): discarded
  if (fin) {
    reach_fin(c, t);
    return std::nullopt;
  }
  owe_ack_for_text(t);
  return std::nullopt;
}

void take_text_in_order(Ctx& c, Tcb& t, const Payload& text) {
  const auto n = static_cast<std::uint32_t>(text.size());
  t.rcvq.append(text);
  t.rcv_nxt += n;
  t.rcv_off += n;
  c.e.stats.bytes_in += n;
  owe_ack_for_text(t);
}

}  // namespace utcp::detail
