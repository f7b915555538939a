// The flag x state matrix: what the stack answers to every kind of segment in every state,
// and the state it is in afterwards. Worked out from RFC 9293 §3.10.7 ("SEGMENT ARRIVES")
// and RFC 5961 (blind in-window attacks), one row per (state, flags, with/without data).
//
// Columns of a synchronized state, by where SEG.SEQ lies against the receive window
// (RCV.NXT, RCV.WND as the stack reports them before the segment):
//   left    SEG.SEQ = RCV.NXT
//   in      SEG.SEQ = RCV.NXT + 100 and SEG.SEQ = RCV.NXT + RCV.WND - 1   (in window, not left)
//   beyond  SEG.SEQ = RCV.NXT + RCV.WND and RCV.NXT + RCV.WND + 100       (right of the window)
//   below   SEG.SEQ = RCV.NXT - 100                                        (left of the window)
// A segment carries 10 bytes of data or none. Every column is a set of acceptable outcomes
// (reply, state afterwards); where the RFCs leave latitude the set has more than one member
// and the comment says why. The reply is whatever the stack sends within 100 ms (delayed
// ACKs fire at 40 ms; no retransmission timer can fire that soon in any fixture).
//
// Replies:
//   N    nothing
//   A    <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>, RCV.NXT as before the segment
//   AA   <SEQ=SND.NXT><ACK=RCV.NXT'><CTL=ACK>, RCV.NXT' past the segment's data and FIN
//   RS   <SEQ=SEG.ACK><CTL=RST>
//   RA   <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>
//   SA   <SEQ=ISS><ACK=SEG.SEQ+1><CTL=SYN,ACK>   (SAN: a new ISS, any value)
// The ACK field of the segment under test is SND.NXT, except in the *_una variants (the
// stack's FIN is outstanding and the peer acknowledges only SND.UNA) and where noted.
#include <gtest/gtest.h>

#include <map>
#include <sstream>

#include "harness.hpp"

namespace utcp::test {
namespace {

enum class Fx {
  closed,  // nothing listens on the port
  listen,
  syn_sent,              // ACK field ISS+1 (acceptable)
  syn_sent_old_ack,      // ACK field ISS   (SEG.ACK =< ISS)
  syn_sent_future_ack,   // ACK field ISS+100 (SEG.ACK > SND.NXT)
  syn_received,          // passive; ACK field ISS+1 = SND.NXT
  syn_received_bad_ack,  // ACK field ISS = SND.UNA: not acceptable in SYN-RECEIVED
  established,
  fin_wait_1_una,  // reached by shutdown(write); ACK field SND.UNA (our FIN not acknowledged)
  fin_wait_1,      // ACK field SND.NXT: acknowledges our FIN
  fin_wait_2,
  close_wait,
  closing_una,
  closing,  // ACK field SND.NXT: acknowledges our FIN
  last_ack_una,
  last_ack,  // ACK field SND.NXT: acknowledges our FIN
  time_wait,
};

std::string_view name(Fx f) {
  switch (f) {
    case Fx::closed:
      return "closed";
    case Fx::listen:
      return "listen";
    case Fx::syn_sent:
      return "syn_sent";
    case Fx::syn_sent_old_ack:
      return "syn_sent_old_ack";
    case Fx::syn_sent_future_ack:
      return "syn_sent_future_ack";
    case Fx::syn_received:
      return "syn_received";
    case Fx::syn_received_bad_ack:
      return "syn_received_bad_ack";
    case Fx::established:
      return "established";
    case Fx::fin_wait_1_una:
      return "fin_wait_1_una";
    case Fx::fin_wait_1:
      return "fin_wait_1";
    case Fx::fin_wait_2:
      return "fin_wait_2";
    case Fx::close_wait:
      return "close_wait";
    case Fx::closing_una:
      return "closing_una";
    case Fx::closing:
      return "closing";
    case Fx::last_ack_una:
      return "last_ack_una";
    case Fx::last_ack:
      return "last_ack";
    case Fx::time_wait:
      return "time_wait";
  }
  return "?";
}

enum class In { none, syn, syn_ack, ack, fin, fin_ack, rst, rst_ack };

std::string_view name(In i) {
  switch (i) {
    case In::none:
      return "none";
    case In::syn:
      return "syn";
    case In::syn_ack:
      return "syn_ack";
    case In::ack:
      return "ack";
    case In::fin:
      return "fin";
    case In::fin_ack:
      return "fin_ack";
    case In::rst:
      return "rst";
    case In::rst_ack:
      return "rst_ack";
  }
  return "?";
}

enum class Reply { nothing, ack, ack_adv, rst_seq_ack, rst_ack, syn_ack, syn_ack_new };

struct Outcome {
  Reply reply;
  std::optional<TcpState> state;  // nullopt: the flow is gone
};
using Outcomes = std::vector<Outcome>;

const std::optional<TcpState> GONE = std::nullopt;
constexpr TcpState SS = TcpState::syn_sent, SR = TcpState::syn_received, EST = TcpState::established,
                   FW1 = TcpState::fin_wait_1, FW2 = TcpState::fin_wait_2, CW = TcpState::close_wait,
                   CLG = TcpState::closing, LA = TcpState::last_ack, TW = TcpState::time_wait;

Outcome N(std::optional<TcpState> s) {
  return {Reply::nothing, s};
}
Outcome A(std::optional<TcpState> s) {
  return {Reply::ack, s};
}
Outcome AA(std::optional<TcpState> s) {
  return {Reply::ack_adv, s};
}
Outcome RS(std::optional<TcpState> s) {
  return {Reply::rst_seq_ack, s};
}
Outcome RA(std::optional<TcpState> s) {
  return {Reply::rst_ack, s};
}
Outcome SA(std::optional<TcpState> s) {
  return {Reply::syn_ack, s};
}
Outcome SAN(std::optional<TcpState> s) {
  return {Reply::syn_ack_new, s};
}

enum class Data { no, yes, both };

// One row of a table: for the unsynchronized fixtures (CLOSED, LISTEN, SYN-SENT) the
// position does not matter and only `left` is used (SEG.SEQ is the peer's ISN).
struct Row {
  Fx fx;
  In in;
  Data data;
  Outcomes left, in_window = {}, beyond = {}, below = {};
  const char* engine_bug = nullptr;  // set: the row runs DISABLED_ (the text says why)
};

struct Case {
  Fx fx;
  In in;
  bool data;
  Outcomes left, in_window, beyond, below;
  const char* engine_bug;
};

bool synchronized(Fx f) {
  return f != Fx::closed && f != Fx::listen && f != Fx::syn_sent && f != Fx::syn_sent_old_ack &&
         f != Fx::syn_sent_future_ack;
}

// ---------------------------------------------------------------- the tables

// CLOSED (§3.10.7.1): an RST is dropped; a segment with ACK gets <SEQ=SEG.ACK><CTL=RST>;
// one without gets <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>.
std::vector<Row> closed_rows() {
  const Fx f = Fx::closed;
  return {
      {f, In::none, Data::both, {RA(GONE)}}, {f, In::syn, Data::both, {RA(GONE)}},
      {f, In::fin, Data::both, {RA(GONE)}},  {f, In::syn_ack, Data::both, {RS(GONE)}},
      {f, In::ack, Data::both, {RS(GONE)}},  {f, In::fin_ack, Data::both, {RS(GONE)}},
      {f, In::rst, Data::both, {N(GONE)}},   {f, In::rst_ack, Data::both, {N(GONE)}},
  };
}

// LISTEN (§3.10.7.2): first RST (ignore), second ACK (<SEQ=SEG.ACK><CTL=RST>), third SYN
// (SYN-RECEIVED, <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>; data on the SYN is queued, not
// acknowledged), fourth anything else is dropped.
std::vector<Row> listen_rows() {
  const Fx f = Fx::listen;
  return {
      {f, In::none, Data::both, {N(GONE)}}, {f, In::fin, Data::both, {N(GONE)}},
      {f, In::rst, Data::both, {N(GONE)}},  {f, In::rst_ack, Data::both, {N(GONE)}},
      {f, In::syn, Data::both, {SAN(SR)}},  {f, In::syn_ack, Data::both, {RS(GONE)}},
      {f, In::ack, Data::both, {RS(GONE)}}, {f, In::fin_ack, Data::both, {RS(GONE)}},
  };
}

// SYN-SENT (§3.10.7.3): first the ACK bit (SEG.ACK =< ISS or > SND.NXT: RST <SEQ=SEG.ACK>
// unless the segment is an RST, then drop), second RST (accepted only with an acceptable
// ACK: CLOSED; else dropped), fourth SYN (with acceptable ACK: ESTABLISHED and ACK, data
// acknowledged; without ACK: simultaneous open, SYN-RECEIVED and <SEQ=ISS><ACK=RCV.NXT>
// <CTL=SYN,ACK>), fifth neither SYN nor RST: drop.
std::vector<Row> syn_sent_rows() {
  const Fx f = Fx::syn_sent, o = Fx::syn_sent_old_ack, u = Fx::syn_sent_future_ack;
  return {
      {f, In::none, Data::both, {N(SS)}},      {f, In::fin, Data::both, {N(SS)}},
      {f, In::rst, Data::both, {N(SS)}},       {f, In::syn, Data::both, {SA(SR)}},
      {f, In::syn_ack, Data::no, {A(EST)}},    {f, In::syn_ack, Data::yes, {AA(EST)}},
      {f, In::ack, Data::both, {N(SS)}},       {f, In::fin_ack, Data::both, {N(SS)}},
      {f, In::rst_ack, Data::both, {N(GONE)}},  //
      {o, In::syn_ack, Data::both, {RS(SS)}},  {o, In::ack, Data::both, {RS(SS)}},
      {o, In::fin_ack, Data::both, {RS(SS)}},  {o, In::rst_ack, Data::both, {N(SS)}},
      {u, In::syn_ack, Data::both, {RS(SS)}},  {u, In::ack, Data::both, {RS(SS)}},
      {u, In::fin_ack, Data::both, {RS(SS)}},  {u, In::rst_ack, Data::both, {N(SS)}},
  };
}

// SYN-RECEIVED (passive). §3.10.7.4: first the sequence number (not acceptable and no
// RST: ACK; RST: drop), second RST (RFC 5961 §3: at RCV.NXT back to LISTEN, so the flow is
// gone; in window: challenge ACK), fourth SYN (RFC 9293: a passive SYN-RECEIVED returns to
// LISTEN; RFC 5961 §4 would send a challenge ACK: both accepted), fifth ACK (SND.UNA <
// SEG.ACK =< SND.NXT: ESTABLISHED and continue; otherwise <SEQ=SEG.ACK><CTL=RST>).
// The ACK the stack sends here may also be a retransmitted SYN-ACK (what the peer needs if
// ours was lost), so every A in this state accepts SA too.
std::vector<Row> syn_received_rows() {
  const Fx f = Fx::syn_received, b = Fx::syn_received_bad_ack;
  const Outcomes as = {A(SR), SA(SR)};
  const Outcomes syn_in = {N(GONE), A(SR), SA(SR)};
  std::vector<Row> rows;
  for (Fx x : {f, b}) {
    rows.push_back({x, In::none, Data::both, {N(SR)}, {N(SR)}, as, as});
    rows.push_back({x, In::fin, Data::both, {N(SR)}, {N(SR)}, as, as});
    rows.push_back({x, In::syn, Data::both, syn_in, syn_in, as, as});
    rows.push_back({x, In::syn_ack, Data::both, syn_in, syn_in, as, as});
    rows.push_back({x, In::rst, Data::both, {N(GONE)}, as, {N(SR)}, {N(SR)}});
    rows.push_back({x, In::rst_ack, Data::both, {N(GONE)}, as, {N(SR)}, {N(SR)}});
  }
  // Acceptable ACK: ESTABLISHED, then the text (in order: acknowledged, at most 40 ms
  // later; out of order: an immediate duplicate ACK, RFC 5681 §4.2) and the FIN (CLOSE-WAIT).
  rows.push_back({f, In::ack, Data::no, {N(EST)}, {N(EST)}, as, as});
  rows.push_back({f, In::ack, Data::yes, {AA(EST)}, {A(EST)}, as, as});
  // An out-of-order FIN alone may be held with or without a duplicate ACK.
  rows.push_back({f, In::fin_ack, Data::no, {AA(CW)}, {A(EST), N(EST)}, as, as});
  rows.push_back({f, In::fin_ack, Data::yes, {AA(CW)}, {A(EST)}, as, as});
  // Unacceptable ACK (SEG.ACK = ISS = SND.UNA): reset <SEQ=SEG.ACK>, stay.
  rows.push_back({b, In::ack, Data::both, {RS(SR)}, {RS(SR)}, as, as});
  rows.push_back({b, In::fin_ack, Data::both, {RS(SR)}, {RS(SR)}, as, as});
  return rows;
}

// The states that still take data: ESTABLISHED, FIN-WAIT-1, FIN-WAIT-2 (§3.10.7.4).
//   first, sequence number: not acceptable -> A (an RST: dropped)
//   second, RST (RFC 5961 §3): at RCV.NXT reset (the flow is gone); in window -> challenge A
//   fourth, SYN (RFC 5961 §4): challenge A whatever the sequence number
//   fifth, ACK: off -> drop; on -> process (`after_ack`: the state once SEG.ACK is taken)
//   seventh, text: in order -> deliver and acknowledge (AA, within the 40 ms delayed ACK);
//            out of order -> immediate duplicate ACK (RFC 5681 §4.2)
//   eighth, FIN: in order -> acknowledge at once, `after_fin`
std::vector<Row> receiving_rows(Fx f, TcpState st, TcpState after_ack, TcpState after_fin) {
  return {
      {f, In::none, Data::both, {N(st)}, {N(st)}, {A(st)}, {A(st)}},
      {f, In::fin, Data::both, {N(st)}, {N(st)}, {A(st)}, {A(st)}},
      {f, In::syn, Data::both, {A(st)}, {A(st)}, {A(st)}, {A(st)}},
      {f, In::syn_ack, Data::both, {A(st)}, {A(st)}, {A(st)}, {A(st)}},
      {f, In::rst, Data::both, {N(GONE)}, {A(st)}, {N(st)}, {N(st)}},
      {f, In::rst_ack, Data::both, {N(GONE)}, {A(st)}, {N(st)}, {N(st)}},
      {f, In::ack, Data::no, {N(after_ack)}, {N(after_ack)}, {A(st)}, {A(st)}},
      {f, In::ack, Data::yes, {AA(after_ack)}, {A(after_ack)}, {A(st)}, {A(st)}},
      // An out-of-order FIN alone may be held with or without a duplicate ACK.
      {f, In::fin_ack, Data::no, {AA(after_fin)}, {A(after_ack), N(after_ack)}, {A(st)}, {A(st)}},
      {f, In::fin_ack, Data::yes, {AA(after_fin)}, {A(after_ack)}, {A(st)}, {A(st)}},
  };
}

// The states after the peer's FIN: CLOSE-WAIT, CLOSING, LAST-ACK, TIME-WAIT (§3.10.7.4).
// As above for the first, second, fourth and fifth checks; then text and a FIN beyond the
// peer's own FIN "should not occur" and are ignored: the stack may stay silent or send an
// ACK. `after_ack`: CLOSING -> TIME-WAIT and LAST-ACK -> CLOSED (gone, silently) when
// SEG.ACK acknowledges our FIN.
std::vector<Row> finished_rows(Fx f, TcpState st, std::optional<TcpState> after_ack) {
  const Outcomes quiet = after_ack ? Outcomes{N(after_ack), A(after_ack)} : Outcomes{N(GONE)};
  return {
      {f, In::none, Data::both, {N(st)}, {N(st)}, {A(st)}, {A(st)}},
      {f, In::fin, Data::both, {N(st)}, {N(st)}, {A(st)}, {A(st)}},
      {f, In::syn, Data::both, {A(st)}, {A(st)}, {A(st)}, {A(st)}},
      {f, In::syn_ack, Data::both, {A(st)}, {A(st)}, {A(st)}, {A(st)}},
      {f, In::rst, Data::both, {N(GONE)}, {A(st)}, {N(st)}, {N(st)}},
      {f, In::rst_ack, Data::both, {N(GONE)}, {A(st)}, {N(st)}, {N(st)}},
      {f, In::ack, Data::no, {N(after_ack)}, {N(after_ack)}, {A(st)}, {A(st)}},
      {f, In::ack, Data::yes, quiet, quiet, {A(st)}, {A(st)}},
      {f, In::fin_ack, Data::both, quiet, quiet, {A(st)}, {A(st)}},
  };
}

// TIME-WAIT differs in two rows:
//  - a SYN (no ACK) with SEG.SEQ > RCV.NXT opens a new incarnation (RFC 6191 §2 without
//    timestamps; the listener is still there): SYN-ACK with a new ISS, SYN-RECEIVED. At or
//    below RCV.NXT RFC 6191 drops it silently, RFC 5961 §4 sends a challenge ACK: both.
//  - an RST at RCV.NXT closes it (RFC 9293 §3.10.7.4), or is ignored (RFC 1337 §3): both.
std::vector<Row> time_wait_rows() {
  std::vector<Row> rows;
  for (Row& r : finished_rows(Fx::time_wait, TW, TW)) {
    if (r.in == In::syn)
      r = {Fx::time_wait, In::syn, Data::both, {A(TW), N(TW)}, {SAN(SR)}, {SAN(SR)}, {A(TW), N(TW)}};
    if (r.in == In::rst || r.in == In::rst_ack) r.left = {N(GONE), N(TW)};
    rows.push_back(r);
  }
  return rows;
}

std::vector<Row> all_rows() {
  std::vector<Row> rows;
  auto add = [&](std::vector<Row> more) { rows.insert(rows.end(), more.begin(), more.end()); };
  add(closed_rows());
  add(listen_rows());
  add(syn_sent_rows());
  add(syn_received_rows());
  add(receiving_rows(Fx::established, EST, EST, CW));
  add(receiving_rows(Fx::fin_wait_1_una, FW1, FW1, CLG));
  add(receiving_rows(Fx::fin_wait_1, FW1, FW2, TW));
  add(receiving_rows(Fx::fin_wait_2, FW2, FW2, TW));
  add(finished_rows(Fx::close_wait, CW, CW));
  add(finished_rows(Fx::closing_una, CLG, CLG));
  add(finished_rows(Fx::closing, CLG, TW));
  add(finished_rows(Fx::last_ack_una, LA, LA));
  add(finished_rows(Fx::last_ack, LA, GONE));
  add(time_wait_rows());
  return rows;
}

std::vector<Case> all_cases() {
  std::vector<Case> cases;
  for (const Row& r : all_rows())
    for (bool d : {false, true})
      if (r.data == Data::both || (r.data == Data::yes) == d)
        cases.push_back({r.fx, r.in, d, r.left, r.in_window, r.beyond, r.below, r.engine_bug});
  return cases;
}

std::string case_name(const Case& c) {
  std::ostringstream os;
  if (c.engine_bug) os << "DISABLED_";
  os << name(c.fx) << "_" << name(c.in) << (c.data ? "_data" : "");
  return os.str();
}

// gtest prints a failing parameter with this (instead of its bytes).
void PrintTo(const Case& c, std::ostream* os) {
  *os << case_name(c);
}

// ---------------------------------------------------------------- running one case

void drive(Harness& h, Fx f) {
  switch (f) {
    case Fx::closed:
      return;
    case Fx::listen:
      return h.to_listen();
    case Fx::syn_sent:
    case Fx::syn_sent_old_ack:
    case Fx::syn_sent_future_ack:
      return h.to_syn_sent();
    case Fx::syn_received:
    case Fx::syn_received_bad_ack:
      return h.to_syn_received();
    case Fx::established:
      return h.to_established();
    case Fx::fin_wait_1_una:
    case Fx::fin_wait_1:
      return h.to_fin_wait_1();
    case Fx::fin_wait_2:
      return h.to_fin_wait_2();
    case Fx::close_wait:
      return h.to_close_wait();
    case Fx::closing_una:
    case Fx::closing:
      return h.to_closing();
    case Fx::last_ack_una:
    case Fx::last_ack:
      return h.to_last_ack();
    case Fx::time_wait:
      return h.to_time_wait();
  }
}

std::string describe(const Outcome& o) {
  static constexpr std::string_view names[] = {"N", "A", "AA", "RS", "RA", "SA", "SAN"};
  std::ostringstream os;
  os << names[static_cast<int>(o.reply)] << "/" << (o.state ? std::string(to_string(*o.state)) : "gone");
  return os.str();
}

class Matrix : public ::testing::TestWithParam<Case> {};

// `seq_at` selects SEG.SEQ relative to RCV.NXT and RCV.WND.
void run_position(const Case& c, const Outcomes& want, const std::string& where,
                  std::int64_t (*seq_at)(std::int64_t r, std::int64_t w)) {
  SCOPED_TRACE("position: " + where);
  Harness h;
  drive(h, c.fx);
  if (::testing::Test::HasFailure()) return;
  h.expect_nothing();

  // Before: RCV.NXT, RCV.WND, SND.UNA, SND.NXT (relative).
  std::uint32_t r = 1, w = 0, una = 0, nxt = 1;
  if (synchronized(c.fx)) {
    const ConnInfo ci = h.conn();
    r = h.rel_peer(ci.rcv_nxt);
    w = ci.rcv_wnd;
    una = h.rel_local(ci.snd_una);
    nxt = h.rel_local(ci.snd_nxt);
  }

  Tcp seg{.window = kPeerWindow};
  seg.seq = synchronized(c.fx) ? static_cast<std::uint32_t>(seq_at(r, w)) : 0;
  const bool has_ack = c.in == In::syn_ack || c.in == In::ack || c.in == In::fin_ack || c.in == In::rst_ack;
  if (has_ack) {
    switch (c.fx) {
      case Fx::closed:
      case Fx::listen:
        seg.ack = 5000;
        break;  // no ISN of ours: any number
      case Fx::syn_sent:
        seg.ack = 1;
        break;
      case Fx::syn_sent_old_ack:
        seg.ack = 0;
        break;
      case Fx::syn_sent_future_ack:
        seg.ack = 100;
        break;
      case Fx::syn_received_bad_ack:
      case Fx::fin_wait_1_una:
      case Fx::closing_una:
      case Fx::last_ack_una:
        seg.ack = una;
        break;
      default:
        seg.ack = nxt;
        break;
    }
  } else {
    seg.ack = std::nullopt;
  }
  if (c.in == In::syn || c.in == In::syn_ack) seg.flag = Flag::syn;
  if (c.in == In::fin || c.in == In::fin_ack) seg.flag = Flag::fin;
  if (c.in == In::rst || c.in == In::rst_ack) seg.flag = Flag::rst;
  if (c.data) seg.payload = kTen;
  const Segment abs = h.to_segment(seg);
  SCOPED_TRACE("peer sends: " + h.describe_in(abs) + " (RCV.NXT " + std::to_string(r) + ", RCV.WND " +
               std::to_string(w) + ", SND.UNA " + std::to_string(una) + ", SND.NXT " + std::to_string(nxt) +
               ")");

  h.peer_sends(seg);
  h.advance(100ms);
  std::vector<Segment> got;
  for (const auto& e : h.outputs()) got.push_back(e.out.segment);
  const std::optional<TcpState> st = h.state();

  auto reply_matches = [&](Reply rep) -> bool {
    if (rep == Reply::nothing) return got.empty();
    if (got.size() != 1) return false;
    const Segment& g = got[0];
    Tcp want_seg{.seq = nxt, .ack = r, .window = kStackWindow};
    switch (rep) {
      case Reply::nothing:
        break;
      case Reply::ack:
        break;
      case Reply::ack_adv:
        want_seg.ack = seg.seq + static_cast<std::uint32_t>(seg.payload.size()) +
                       (seg.flag == Flag::fin ? 1u : 0u) + (seg.flag == Flag::syn ? 1u : 0u);
        break;
      case Reply::rst_seq_ack:
        want_seg = {
            .flag = Flag::rst, .seq = seg.ack.value_or(0), .ack = std::nullopt, .window = std::nullopt};
        break;
      case Reply::rst_ack:
        want_seg = {.flag = Flag::rst, .seq = 0, .ack = seg.seq + abs.length(), .window = std::nullopt};
        // <SEQ=0>: absolute zero, whatever our ISN
        want_seg.seq = 0u - h.local_isn.value();
        break;
      case Reply::syn_ack:
      case Reply::syn_ack_new:
        // a SYN-ACK answering this SYN acknowledges it; a retransmitted one (SYN-RECEIVED)
        // acknowledges the SYN that created the flow: RCV.NXT
        want_seg = {
            .flag = Flag::syn, .seq = 0, .ack = seg.seq + 1, .window = std::nullopt, .check_options = false};
        if (rep == Reply::syn_ack && synchronized(c.fx)) want_seg.ack = r;
        if (rep == Reply::syn_ack_new) want_seg.seq = h.rel_local(g.seq);
        break;
    }
    return !h.mismatch(want_seg, g).has_value();
  };

  for (const Outcome& o : want)
    if (reply_matches(o.reply) && o.state == st) return;

  std::ostringstream os;
  os << "no acceptable outcome.\n  want one of:";
  for (const Outcome& o : want) os << " " << describe(o);
  os << "\n  state afterwards: " << (st ? std::string(to_string(*st)) : "gone") << "\n  stack sent "
     << got.size() << " segment(s)";
  for (const Segment& g : got) os << "\n    " << h.describe_out(g);
  ADD_FAILURE() << os.str();
}

TEST_P(Matrix, Row) {
  const Case& c = GetParam();
  if (!synchronized(c.fx)) {
    run_position(c, c.left, "SEG.SEQ = peer ISN",
                 [](std::int64_t, std::int64_t) -> std::int64_t { return 0; });
    return;
  }
  run_position(c, c.left, "left edge (RCV.NXT)", [](std::int64_t r, std::int64_t) { return r; });
  run_position(c, c.in_window, "in window (RCV.NXT+100)",
               [](std::int64_t r, std::int64_t) { return r + 100; });
  run_position(c, c.in_window, "right edge inside (RCV.NXT+RCV.WND-1)",
               [](std::int64_t r, std::int64_t w) { return r + w - 1; });
  run_position(c, c.beyond, "right edge outside (RCV.NXT+RCV.WND)",
               [](std::int64_t r, std::int64_t w) { return r + w; });
  run_position(c, c.beyond, "above (RCV.NXT+RCV.WND+100)",
               [](std::int64_t r, std::int64_t w) { return r + w + 100; });
  run_position(c, c.below, "below (RCV.NXT-100)", [](std::int64_t r, std::int64_t) { return r - 100; });
}

INSTANTIATE_TEST_SUITE_P(Rfc9293, Matrix, ::testing::ValuesIn(all_cases()),
                         [](const ::testing::TestParamInfo<Case>& i) { return case_name(i.param); });

// The table is complete: every fixture has a row for every kind of segment, with and
// without data.
TEST(MatrixTable, EveryStateHasEveryRow) {
  std::map<std::pair<int, int>, int> seen;
  for (const Case& c : all_cases()) seen[{static_cast<int>(c.fx), static_cast<int>(c.in)}] += 1;
  for (int f = 0; f <= static_cast<int>(Fx::time_wait); ++f) {
    const Fx fx = static_cast<Fx>(f);
    const bool partial = fx == Fx::syn_sent_old_ack || fx == Fx::syn_sent_future_ack;  // ACK rows only
    for (int i = 0; i <= static_cast<int>(In::rst_ack); ++i) {
      const In in = static_cast<In>(i);
      const bool needs_ack = in == In::syn_ack || in == In::ack || in == In::fin_ack || in == In::rst_ack;
      if (partial && !needs_ack) continue;
      EXPECT_EQ((seen[{f, i}]), 2) << name(fx) << " " << name(in);
    }
  }
}

// ---------------------------------------------------------------- ACK validation

// RFC 5961 §5.2 and RFC 9293 §3.10.7.4 fifth step, in ESTABLISHED with 100 bytes
// outstanding (SND.UNA 1, SND.NXT 101) and MAX.SND.WND = 65535: a segment carrying 10 bytes
// at RCV.NXT is processed only when SND.UNA - MAX.SND.WND =< SEG.ACK =< SND.NXT; otherwise
// the stack sends <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> at once and drops it (data too).
struct AckRow {
  const char* name;
  std::int64_t ack;  // relative to our ISN
  bool accepted;
  const char* engine_bug = nullptr;
};

class AckValidation : public ::testing::TestWithParam<AckRow> {};

TEST_P(AckValidation, Row) {
  const AckRow& row = GetParam();
  Harness h;
  h.to_established({Mss{1460}});
  ASSERT_TRUE(h.send(std::string(100, 'o')));
  h.expect({.seq = 1, .ack = 1, .push = true, .payload = std::string(100, 'o')});
  ASSERT_EQ(h.snd_una(), 1u);
  ASSERT_EQ(h.snd_nxt(), 101u);
  h.peer_sends(data(1, static_cast<std::uint32_t>(row.ack), kTen), h.now() + 10ms);
  if (row.accepted) {
    EXPECT_EQ(h.conn().recv_queued, 10u);
    h.expect_by(ack(101, 11), h.now() + 40ms);
  } else {
    h.expect(ack(101, 1));
    EXPECT_EQ(h.conn().recv_queued, 0u) << "the data of an unacceptable ACK is dropped";
    EXPECT_EQ(h.snd_una(), 1u);
    EXPECT_GE(stats(h.s).drop(DropReason::bad_ack), 1u);
  }
  EXPECT_EQ(h.state(), TcpState::established);
}

INSTANTIATE_TEST_SUITE_P(Rfc5961, AckValidation,
                         ::testing::Values(AckRow{"beyond_snd_nxt", 102, false},          //
                                           AckRow{"far_beyond_snd_nxt", 100000, false},   //
                                           AckRow{"snd_nxt", 101, true},                  //
                                           AckRow{"inside_flight", 51, true},             //
                                           AckRow{"snd_una", 1, true},                    //
                                           AckRow{"below_snd_una", 0, true},              //
                                           AckRow{"oldest_acceptable", 1 - 65535, true},  //
                                           AckRow{"too_old", 1 - 65536, false}),
                         [](const ::testing::TestParamInfo<AckRow>& i) {
                           return std::string(i.param.engine_bug ? "DISABLED_" : "") + i.param.name;
                         });

// ---------------------------------------------------------------- challenge ACK limit

// RFC 5961 §7: challenge ACKs are rate limited (Config: 10 per second per flow).
TEST(ChallengeAck, RateLimitedPerFlow) {
  Harness h;
  h.to_established({Mss{1460}});
  for (int i = 0; i < 15; ++i) h.peer_sends(rst(100), h.now() + 1ms);  // in window, not RCV.NXT
  EXPECT_EQ(h.queued(), 10u);
  while (h.queued() > 0) h.expect(ack(1, 1));
  EXPECT_EQ(stats(h.s).challenge_acks, 10u);
  EXPECT_EQ(stats(h.s).challenge_acks_suppressed, 5u);
  EXPECT_EQ(h.state(), TcpState::established);
  // A second later the budget is back.
  h.peer_sends(rst(100), h.now() + 1s);
  h.expect(ack(1, 1));
}

// In-window SYNs draw challenge ACKs under the same limit (RFC 5961 §4, §7).
TEST(ChallengeAck, SynsShareTheLimit) {
  Harness h;
  h.to_established({Mss{1460}});
  for (int i = 0; i < 12; ++i) h.peer_sends(syn(50), h.now() + 1ms);
  EXPECT_EQ(h.queued(), 10u);
  h.clear_outputs();
  EXPECT_EQ(h.state(), TcpState::established);
  EXPECT_EQ(stats(h.s).drop(DropReason::syn_challenged), 12u);
}

// RFC 5961 §4.2: a SYN draws a challenge ACK "irrespective of the sequence number", so SYNs
// outside the window share the §7 limit too: a blind SYN stream gets at most 10 ACKs a second.
TEST(ChallengeAck, SynsOutsideTheWindowShareTheLimit) {
  Harness h;
  h.to_established({Mss{1460}});
  for (int i = 0; i < 30; ++i) h.peer_sends(syn(0x40000000), h.now() + 1ms);
  EXPECT_EQ(h.queued(), 10u);
  while (h.queued() > 0) h.expect(ack(1, 1));
  EXPECT_EQ(h.state(), TcpState::established);
  EXPECT_EQ(stats(h.s).drop(DropReason::syn_challenged), 30u);
  EXPECT_EQ(stats(h.s).challenge_acks_suppressed, 20u);
}

// RFC 5961 §5.2 with §7: data whose ACK acknowledges what was never sent (or is older than
// MAX.SND.WND) is dropped, and the ACKs it draws are rate-limited, not one per segment.
TEST(ChallengeAck, BadAckDataSharesTheLimit) {
  Harness h;
  h.to_established({Mss{1460}});
  for (int i = 0; i < 30; ++i) h.peer_sends(data(1, 0x40000000, "inject"), h.now() + 1ms);
  EXPECT_EQ(h.queued(), 10u);
  while (h.queued() > 0) h.expect(ack(1, 1));
  EXPECT_EQ(stats(h.s).drop(DropReason::bad_ack), 30u);
  EXPECT_EQ(h.conn().recv_queued, 0u);
  // A second later the budget is back.
  h.peer_sends(data(1, 0x40000000, "inject"), h.now() + 1s);
  h.expect(ack(1, 1));
}

}  // namespace
}  // namespace utcp::test
