// The user calls' semantics (DESIGN.md "Meaning, as in the seed"; RFC 9293 §3.9.1): recv,
// send, close, shutdown, abort, errors, value semantics of rvalue and const& overloads, and
// the Established / Drop / Signal events with their notifies.
#include <gtest/gtest.h>

#include <algorithm>

#include "harness.hpp"

namespace utcp::test {
namespace {

bool contains(const std::vector<int>& v, int x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

// The flow's (receive, send) notifies, as recv and send report them.
std::pair<int, int> notifies(Harness& h) {
  auto r = recv(h.s, h.now(), h.flow);
  auto s = send(h.s, h.now(), h.flow, "");
  EXPECT_TRUE(r.has_value());
  EXPECT_TRUE(s.has_value());
  if (!r || !s) return {-1, -1};
  return {r->notify, s->notify};
}

// ---------------------------------------------------------------- recv

TEST(Recv, ReturnsEverythingQueued) {
  Harness h;
  h.to_established({Mss{1460}});
  h.peer_sends(data(1, 1, "one "), h.now() + 10ms);
  h.peer_sends(data(5, 1, "two "), h.now() + 1ms);
  h.peer_sends(data(9, 1, "three"), h.now() + 1ms);
  EXPECT_EQ(h.conn().recv_queued, 13u);
  auto r = h.recv();
  ASSERT_TRUE(r);
  std::string all;
  for (const auto& d : r->data) d.append_to(all);
  EXPECT_EQ(all, "one two three");
  EXPECT_EQ(h.conn().recv_queued, 0u);
}

TEST(Recv, NothingQueuedGivesNotifyToWaitOn) {
  Harness h;
  h.to_established_active({Mss{1460}});
  auto r = h.recv();
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->data.empty() || (r->data.size() == 1 && r->data[0].empty()));
  EXPECT_EQ(r->notify, *h.connect_notify) << "connect returns the receive notify";
}

TEST(Recv, EofAfterFinAndDataRead) {
  Harness h;
  h.to_established({Mss{1460}});
  Tcp f = data(1, 1, "last words");
  f.flag = Flag::fin;
  h.peer_sends(f, h.now() + 10ms);
  EXPECT_TRUE(h.conn().fin_received);
  EXPECT_EQ(h.read_all(), "last words");
  auto r = h.recv();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, Error::Kind::eof);
  // still eof on the next call
  auto again = h.recv();
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().kind, Error::Kind::eof);
}

// An out-of-order FIN is not the end of the stream until the hole is filled.
TEST(Recv, OutOfOrderFinNotEofYet) {
  Harness h;
  h.to_established({Mss{1460}});
  Tcp f = data(6, 1, "world");
  f.flag = Flag::fin;
  h.peer_sends(f, h.now() + 10ms);
  h.expect(ack(1, 1));
  EXPECT_FALSE(h.conn().fin_received);
  auto r = h.recv();
  ASSERT_TRUE(r) << "no eof while data is missing";
  h.peer_sends(data(1, 1, "hello"), h.now() + 1ms);
  h.expect(ack(1, 12));
  EXPECT_EQ(h.read_all(), "helloworld");
  EXPECT_EQ(h.state(), TcpState::close_wait);
  auto e = h.recv();
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().kind, Error::Kind::eof);
}

// §3.10.7.4 seventh step: out-of-order segments are held and delivered once the holes are
// filled; overlapping retransmissions deliver each byte once.
TEST(Recv, ReassemblyWithHolesAndOverlaps) {
  Harness h;
  h.to_established({Mss{1460}});
  const std::string text = "abcdefghijklmnopqrstuvwxyz";          // bytes 1..26
  h.peer_sends(data(21, 1, text.substr(20, 6)), h.now() + 10ms);  // "uvwxyz"
  h.expect(ack(1, 1));
  h.peer_sends(data(6, 1, text.substr(5, 8)), h.now() + 1ms);  // "fghijklm"
  h.expect(ack(1, 1));
  EXPECT_EQ(h.conn().ooo_ranges, 2u);
  EXPECT_EQ(h.conn().ooo_bytes, 14u);
  h.peer_sends(data(10, 1, text.substr(9, 14)), h.now() + 1ms);  // "jklmnopqrstuvw": joins both
  h.expect(ack(1, 1));
  EXPECT_EQ(h.conn().ooo_ranges, 1u);
  EXPECT_EQ(h.read_all(), "");
  h.peer_sends(data(1, 1, text.substr(0, 7)), h.now() + 1ms);  // "abcdefg": fills the hole
  h.expect(ack(1, 27));
  EXPECT_EQ(h.conn().ooo_ranges, 0u);
  EXPECT_EQ(h.read_all(), text);
}

// RFC 9293 §3.10.7.4: a retransmitted segment that starts before RCV.NXT and extends beyond
// it: the old part is trimmed, the new bytes are accepted and acknowledged.
TEST(Recv, RetransmissionOverlappingRcvNxtKeepsTheNewBytes) {
  Harness h;
  h.to_established({Mss{1460}});
  h.peer_sends(data(1, 1, "abcde"), h.now() + 1ms);
  h.advance(1s);
  h.clear_outputs();
  EXPECT_EQ(h.conn().rcv_nxt, h.peer_seq(6));
  h.peer_sends(data(3, 1, "cdefgh"), h.now() + 1ms);  // bytes 3..8, RCV.NXT = 6
  h.advance(1s);
  h.expect(ack(1, 9));
  EXPECT_EQ(h.read_all(), "abcdefgh");
}

// Bounded memory (DESIGN.md): out-of-order ranges are capped by Config::max_ooo_ranges;
// what is beyond the cap is dropped and counted, and the stream is still right once the
// peer retransmits.
TEST(Recv, OutOfOrderRangesBounded) {
  Config c;
  c.max_ooo_ranges = 8;
  Harness h(c);
  h.to_established({Mss{1460}});
  // 12 one-byte islands at 11, 21, 31, ...: holes between all of them.
  for (std::uint32_t i = 1; i <= 12; ++i) h.peer_sends(data(10 * i + 1, 1, "x"), h.now() + 1ms);
  h.clear_outputs();
  EXPECT_LE(h.conn().ooo_ranges, 8u);
  EXPECT_GE(stats(h.s).drop(DropReason::ooo_limit), 4u);
  // The peer retransmits everything in order.
  std::string all(121, 'y');  // bytes 1..121; the islands' 'x' at offsets 10, 20, ..., 120
  for (std::size_t i = 10; i < all.size(); i += 10) all[i] = 'x';
  h.peer_sends(data(1, 1, all), h.now() + 1ms);
  h.clear_outputs();
  EXPECT_EQ(h.read_all(), all);
  EXPECT_EQ(h.conn().ooo_ranges, 0u);
}

// A duplicate of data already received is answered at once (§3.10.7.4 first step).
TEST(Recv, DuplicateDataAckedAtOnce) {
  Harness h;
  h.to_established({Mss{1460}});
  h.peer_sends(data(1, 1, kTen), h.now() + 10ms);
  h.expect_by(ack(1, 11), h.now() + 40ms);
  h.peer_sends(data(1, 1, kTen), h.now() + 200ms);
  h.expect(ack(1, 11));
  EXPECT_EQ(h.read_all(), kTen);
}

// A retransmitted FIN in CLOSE-WAIT (SEG.SEQ = RCV.NXT - 1) is acknowledged again.
TEST(Recv, RetransmittedFinInCloseWaitAcked) {
  Harness h;
  h.to_close_wait();
  h.peer_sends(fin(1, 1, kPeerWindow), h.now() + 300ms);
  h.expect(ack(1, 2));
  EXPECT_EQ(h.state(), TcpState::close_wait);
}

// §3.6.1: after the peer's FIN we can still send (half-close from the other side).
TEST(Recv, SendInCloseWait) {
  Harness h;
  h.to_close_wait();
  ASSERT_TRUE(h.send("reply"));
  h.expect({.seq = 1, .ack = 2, .push = true, .payload = "reply"});
  h.peer_sends(ack(2, 6, kPeerWindow), h.now() + 10ms);
  EXPECT_EQ(h.snd_una(), 6u);
}

// ---------------------------------------------------------------- errors

TEST(Errors, UnknownFlowIsNotFound) {
  Harness h;
  h.to_established();
  const Flow other(Endpoint{h.local_ip, kLocalPort}, Endpoint{h.remote_ip, 1234});
  const Instant t = h.now();
  EXPECT_EQ(recv(h.s, t, other).error().kind, Error::Kind::not_found);
  EXPECT_EQ(send(h.s, t, other, "x").error().kind, Error::Kind::not_found);
  EXPECT_EQ(close(h.s, t, other).error().kind, Error::Kind::not_found);
  EXPECT_EQ(shutdown(h.s, t, other, Direction::write).error().kind, Error::Kind::not_found);
  EXPECT_EQ(abort(h.s, t, other).error().kind, Error::Kind::not_found);
  EXPECT_EQ(force_enqueue(h.s, t, other, "x").error().kind, Error::Kind::not_found);
  EXPECT_EQ(set_options(h.s, other, FlowOptions{}).error().kind, Error::Kind::not_found);
  EXPECT_FALSE(info(h.s, other).has_value());
}

TEST(Errors, SendAfterShutdownWriteIsMsg) {
  Harness h;
  h.to_established();
  ASSERT_TRUE(h.shutdown(Direction::write));
  h.expect(fin(1, 1));
  auto r = h.send("late");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, Error::Kind::msg);
  EXPECT_FALSE(r.error().message.empty());
}

TEST(Errors, SendAfterCloseIsMsg) {
  Harness h;
  h.to_established();
  ASSERT_TRUE(h.close());
  auto r = h.send("late");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, Error::Kind::msg);
}

// RFC 9293 §3.10.4: CLOSE in FIN-WAIT-1/2, CLOSING, LAST-ACK, TIME-WAIT: "connection closing".
TEST(Errors, CloseTwiceIsMsg) {
  Harness h;
  h.to_established();
  ASSERT_TRUE(h.close());
  h.expect(fin(1, 1));
  auto r = h.close();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, Error::Kind::msg);
  h.expect_nothing();
}

// The peer reset the connection: the flow is gone, calls are not_found.
TEST(Errors, CallsAfterResetAreNotFound) {
  Harness h;
  h.to_established();
  h.peer_sends(rst(1), h.now() + 10ms);
  EXPECT_TRUE(h.gone());
  EXPECT_EQ(h.send("x").error().kind, Error::Kind::not_found);
  EXPECT_EQ(h.recv().error().kind, Error::Kind::not_found);
}

// ---------------------------------------------------------------- value semantics

// DESIGN.md: a call that returns an Error leaves an rvalue argument untouched.
TEST(ValueSemantics, RvalueUntouchedOnError) {
  Harness h;
  h.to_established();
  h.peer_sends(data(1, 1, "keep"), h.now() + 10ms);
  ASSERT_TRUE(h.shutdown(Direction::write));
  h.clear_outputs();
  const ConnInfo before = h.conn();
  const std::size_t n = num_connections(h.s);

  auto r1 = send(std::move(h.s), h.now(), h.flow, "x");  // msg: write side shut
  ASSERT_FALSE(r1);
  auto r2 = close(std::move(h.s), h.now(), Flow{});  // not_found
  ASSERT_FALSE(r2);
  auto r3 = recv(std::move(h.s), h.now(), Flow{});
  ASSERT_FALSE(r3);

  EXPECT_EQ(num_connections(h.s), n);
  const ConnInfo after = h.conn();
  EXPECT_EQ(after.state, before.state);
  EXPECT_EQ(after.snd_nxt, before.snd_nxt);
  EXPECT_EQ(after.rcv_nxt, before.rcv_nxt);
  EXPECT_EQ(after.recv_queued, before.recv_queued);
  EXPECT_FALSE(check_invariants(h.s).has_value());
  EXPECT_EQ(h.read_all(), "keep") << "the state still works";
}

// The const& overloads leave the caller's state as it was: a snapshot.
TEST(ValueSemantics, ConstOverloadsLeaveSnapshot) {
  Harness h;
  h.to_established();
  const State<int> snapshot = h.s;
  auto sent = send(snapshot, h.now(), h.flow, "data");
  ASSERT_TRUE(sent);
  EXPECT_EQ(sent->enqueued, 4u);
  EXPECT_EQ(info(snapshot, h.flow)->send_queued, 0u);
  EXPECT_EQ(info(sent->state, h.flow)->send_queued, 4u);

  const std::vector<std::byte> bytes = h.to_segment(data(1, 1, "in")).encode(h.remote_ip, h.local_ip);
  auto handled = handle_buf(snapshot, h.now(), h.remote_ip, h.local_ip, std::span<const std::byte>(bytes));
  EXPECT_EQ(info(handled.state, h.flow)->recv_queued, 2u);
  EXPECT_EQ(info(snapshot, h.flow)->recv_queued, 0u);

  auto closed = close(snapshot, h.now(), h.flow);
  ASSERT_TRUE(closed);
  EXPECT_EQ(info(closed->state, h.flow)->state, TcpState::fin_wait_1);
  EXPECT_EQ(info(snapshot, h.flow)->state, TcpState::established);
  EXPECT_FALSE(check_invariants(snapshot).has_value());
}

// A copy shares structure but diverges: updating one does not touch the other, even with
// the rvalue overload on the copy (which must not update a shared engine in place).
TEST(ValueSemantics, CopyThenMoveDoesNotAlias) {
  Harness h;
  h.to_established();
  State<int> copy = h.s;
  auto r = send(std::move(copy), h.now(), h.flow, "only in the copy");
  ASSERT_TRUE(r);
  EXPECT_EQ(info(h.s, h.flow)->send_queued, 0u);
  EXPECT_EQ(info(r->state, h.flow)->send_queued, 16u);
}

// timer on a const& state leaves the caller's state as it was, even when it has nothing
// due, and the caller's own timers then still run as before.
TEST(ValueSemantics, ConstTimerCallLeavesCallersTimers) {
  Harness h;
  h.to_established();
  ASSERT_TRUE(h.close());
  h.expect(fin(1, 1));
  auto d = next_deadline(h.s);
  ASSERT_TRUE(d);
  auto early = timer(h.s, *d - 1ns);
  EXPECT_TRUE(early.out.empty());
  EXPECT_EQ(next_deadline(h.s), d);
  h.expect_at(fin(1, 1), *d);
}

// ... and a const& handle_buf likewise.
TEST(ValueSemantics, ConstTimerCallThenFinRetransmission) {
  Harness h;
  h.to_established();
  ASSERT_TRUE(h.close());
  h.expect(fin(1, 1));
  auto d = next_deadline(h.s);
  ASSERT_TRUE(d);
  auto due = timer(h.s, *d);  // the snapshot retransmits
  ASSERT_EQ(due.out.size(), 1u);
  EXPECT_EQ(due.out[0].segment.flag, Flag::fin);
  h.expect_at(fin(1, 1), *d);  // and so does the original, independently
}

// handle_buf never writes into the caller's buffer (µTCP fault 4).
TEST(ValueSemantics, HandleBufDoesNotWriteInput) {
  Harness h;
  h.to_established();
  const std::vector<std::byte> bytes = h.to_segment(data(1, 1, "abc")).encode(h.remote_ip, h.local_ip);
  const std::vector<std::byte> copy = bytes;
  auto r = handle_buf(std::move(h.s), h.now(), h.remote_ip, h.local_ip, std::span<const std::byte>(bytes));
  h.s = std::move(r.state);
  EXPECT_EQ(bytes, copy);
}

// ---------------------------------------------------------------- notify forms

// A connection keeps its two notifies inline when each is trivial and at most 4 bytes, else
// behind a shared holder (engine_api.hpp): both report what the factory made, copies of the
// State report the same, and a State outlives the copies it shared them with.
template <class N>
void check_notify_form(std::function<N(int)> make) {
  int n = 0;
  auto s = empty<N>([&] { return make(n++); }, "forms");
  const IpAddr a = IpAddr::v4(10, 0, 0, 1), b = IpAddr::v4(10, 0, 0, 2);
  auto c = connect(std::move(s), Instant{}, a, b, 80, 4000);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->notify, make(0)) << "connect returns the receive notify";
  std::optional<State<N>> copy(c->state);
  auto r = recv(*copy, Instant{}, c->flow);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->notify, make(0));
  {
    auto sent = send(std::move(*copy), Instant{}, c->flow, "x");
    ASSERT_TRUE(sent);
    EXPECT_EQ(sent->notify, make(1)) << "the send notify";
  }
  copy.reset();  // the copies go; the original keeps its notifies
  auto sent2 = send(c->state, Instant{}, c->flow, "");
  ASSERT_TRUE(sent2);
  EXPECT_EQ(sent2->notify, make(1));
  const auto d = abort(std::move(c->state), Instant{}, c->flow);
  ASSERT_TRUE(d);
}

TEST(NotifyForms, InlineInt) {
  check_notify_form<int>([](int i) { return 7 + i; });
}
TEST(NotifyForms, InlineFourBytes) {
  check_notify_form<std::uint32_t>([](int i) { return 0xfffffff0u + static_cast<std::uint32_t>(i); });
}
TEST(NotifyForms, HeldEightBytes) {
  check_notify_form<std::uint64_t>([](int i) { return (std::uint64_t{1} << 40) + static_cast<std::uint64_t>(i); });
}
TEST(NotifyForms, HeldString) {
  check_notify_form<std::string>([](int i) { return std::string(40, 'a') + std::to_string(i); });
}

// ---------------------------------------------------------------- events

TEST(Events, EstablishedActiveCarriesConnectNotify) {
  Harness h;
  h.to_syn_sent();
  ASSERT_TRUE(h.connect_notify);
  Tcp sa = syn(0, {Mss{1460}});
  sa.ack = 1;
  h.peer_sends(sa, h.now() + 10ms);
  auto ev = h.take_event<Established<int>>();
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->flow, h.flow);
  EXPECT_EQ(ev->notify, h.connect_notify);
}

TEST(Events, EstablishedPassiveHasNoNotify) {
  Harness h;
  h.to_syn_received();
  h.peer_sends(ack(1, 1, kPeerWindow), h.now() + 10ms);
  auto ev = h.take_event<Established<int>>();
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->flow, h.flow);
  EXPECT_FALSE(ev->notify.has_value());
}

TEST(Events, DataSignalsReceiveWaiter) {
  Harness h;
  h.to_established({Mss{1460}});
  const auto [rcv, snd] = notifies(h);
  EXPECT_NE(rcv, snd);
  h.peer_sends(data(1, 1, "wake"), h.now() + 10ms);
  auto ev = h.take_event<Signal<int>>();
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->flow, h.flow);
  EXPECT_TRUE(contains(ev->notifies, rcv));
}

TEST(Events, FinSignalsReceiveWaiter) {
  Harness h;
  h.to_established({Mss{1460}});
  const auto [rcv, snd] = notifies(h);
  h.peer_sends(fin(1, 1, kPeerWindow), h.now() + 10ms);
  auto ev = h.take_event<Signal<int>>();
  ASSERT_TRUE(ev);
  EXPECT_TRUE(contains(ev->notifies, rcv));
}

// Signals are edges: data arriving while earlier data is still unread wakes nobody (a reader
// waits only after a recv found the queue empty); once recv has emptied it, the next data
// signals again.
TEST(Events, DataSignalsOnlyWhenTheQueueWasEmpty) {
  Harness h;
  h.to_established({Mss{1460}});
  const auto [rcv, snd] = notifies(h);
  h.peer_sends(data(1, 1, "one "), h.now() + 10ms);
  auto first = h.take_event<Signal<int>>();
  ASSERT_TRUE(first);
  EXPECT_TRUE(contains(first->notifies, rcv));
  h.peer_sends(data(5, 1, "two "), h.now() + 1ms);
  h.expect_no_event();
  auto r = h.recv();
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->data.empty());
  h.peer_sends(data(9, 1, "three"), h.now() + 1ms);
  auto again = h.take_event<Signal<int>>();
  ASSERT_TRUE(again);
  EXPECT_TRUE(contains(again->notifies, rcv));
  EXPECT_FALSE(contains(again->notifies, snd));
}

// The send waiter is woken when the send space rises across one segment (the low-water mark),
// once: an ACK freeing less leaves it asleep, one freeing more after the crossing wakes nobody.
TEST(Events, SendWaiterWokenAcrossTheLowWaterMarkOnce) {
  Harness h;
  FlowOptions o;
  o.send_buffer = 4096;
  h.to_established({Mss{1460}}, o);
  const auto [rcv, snd] = notifies(h);
  auto s1 = h.send(std::string(10000, 'q'));
  ASSERT_TRUE(s1);
  EXPECT_EQ(s1->enqueued, 4096u);
  h.clear_outputs();
  h.peer_sends(ack(1, 1001, kPeerWindow), h.now() + 10ms);
  EXPECT_EQ(h.conn().send_space, 1000u);
  h.expect_no_event();
  h.peer_sends(ack(1, 2921, kPeerWindow), h.now() + 1ms);
  EXPECT_EQ(h.conn().send_space, 2920u);
  auto ev = h.take_event<Signal<int>>();
  ASSERT_TRUE(ev);
  EXPECT_TRUE(contains(ev->notifies, snd));
  EXPECT_FALSE(contains(ev->notifies, rcv));
  h.peer_sends(ack(1, 4097, kPeerWindow), h.now() + 1ms);
  EXPECT_EQ(h.conn().send_space, 4096u);
  h.expect_no_event();
}

// A pure ACK with nothing to wake gives no event.
TEST(Events, PureAckNoEvent) {
  Harness h;
  h.to_established({Mss{1460}});
  h.peer_sends(ack(1, 1, kPeerWindow), h.now() + 10ms);
  h.expect_no_event();
}

// When the send buffer is full, send takes what fits; an ACK that frees space wakes the
// send waiter.
TEST(Events, AckFreeingSpaceSignalsSendWaiter) {
  Harness h;
  FlowOptions o;
  o.send_buffer = 4096;
  h.to_established({Mss{1460}}, o);
  const auto [rcv, snd] = notifies(h);
  auto s1 = h.send(std::string(10000, 'q'));
  ASSERT_TRUE(s1);
  EXPECT_EQ(s1->enqueued, 4096u);
  EXPECT_EQ(s1->notify, snd);
  auto s2 = h.send("more");
  ASSERT_TRUE(s2);
  EXPECT_EQ(s2->enqueued, 0u);
  EXPECT_EQ(h.conn().send_space, 0u);
  h.clear_outputs();
  h.peer_sends(ack(1, 2921, kPeerWindow), h.now() + 10ms);
  auto ev = h.take_event<Signal<int>>();
  ASSERT_TRUE(ev);
  EXPECT_TRUE(contains(ev->notifies, snd));
  EXPECT_EQ(h.conn().send_space, 2920u);
}

// force_enqueue may exceed the send buffer and emits nothing.
TEST(Events, ForceEnqueueExceedsBuffer) {
  Harness h;
  FlowOptions o;
  o.send_buffer = 4096;
  h.to_established({Mss{1460}}, o);
  ASSERT_TRUE(h.send(std::string(4096, 'q')));
  h.clear_outputs();
  auto r = force_enqueue(std::move(h.s), h.now(), h.flow, std::string(1000, 'f'));
  ASSERT_TRUE(r);
  h.s = std::move(*r);
  EXPECT_EQ(h.conn().send_queued, 5096u);
  EXPECT_FALSE(check_invariants(h.s).has_value());
}

// RST: Drop with both notifies to wake; pending = the receive notify when unread data
// remains.
TEST(Events, RstDropsWithPendingWhenUnreadData) {
  Harness h;
  h.to_established({Mss{1460}});
  const auto [rcv, snd] = notifies(h);
  h.peer_sends(data(1, 1, "unread"), h.now() + 10ms);
  h.events.clear();
  h.peer_sends(rst(7), h.now() + 1ms);
  auto ev = h.take_event<Drop<int>>();
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->flow, h.flow);
  EXPECT_EQ(ev->pending, std::optional<int>(rcv));
  EXPECT_TRUE(contains(ev->notifies, rcv));
  EXPECT_TRUE(contains(ev->notifies, snd));
  EXPECT_TRUE(h.gone());
  EXPECT_EQ(stats(h.s).resets_received, 1u);
}

TEST(Events, RstDropsWithoutPending) {
  Harness h;
  h.to_established({Mss{1460}});
  h.peer_sends(rst(1, 1), h.now() + 10ms);
  auto ev = h.take_event<Drop<int>>();
  ASSERT_TRUE(ev);
  EXPECT_FALSE(ev->pending.has_value());
  EXPECT_EQ(num_connections(h.s), 0u);
}

// ---------------------------------------------------------------- URG

// utcp ignores URG (RFC 9293 §3.8.5 allows the pointer to be ignored; RFC 6093 recommends
// not using it): urgent data is delivered in band like any other.
TEST(Urgent, UrgIgnoredDataInBand) {
  Harness h;
  h.to_established({Mss{1460}});
  std::vector<std::byte> b = h.to_segment(data(1, 1, "urgent!")).encode(h.remote_ip, h.local_ip);
  b[13] |= std::byte{0x20};  // URG
  b[18] = std::byte{0};
  b[19] = std::byte{3};  // urgent pointer 3
  b[16] = b[17] = std::byte{0};
  const std::uint16_t sum = tcp_checksum(h.remote_ip, h.local_ip, b);
  b[16] = std::byte(sum >> 8);
  b[17] = std::byte(sum & 0xff);
  h.peer_sends_bytes(b);
  EXPECT_EQ(h.read_all(), "urgent!");
  h.expect_by(ack(1, 8), h.now() + 40ms);
}

// ---------------------------------------------------------------- abort, counts

// RFC 9293 §3.10.5 ABORT: <SEQ=SND.NXT><CTL=RST>, the flow is gone.
TEST(Abort, SendsRstAndForgets) {
  Harness h;
  h.to_established({Mss{1460}});
  ASSERT_TRUE(h.send("x"));
  h.clear_outputs();
  ASSERT_TRUE(h.abort());
  auto e = h.take();
  ASSERT_TRUE(e);
  EXPECT_EQ(e->out.segment.flag, Flag::rst);
  EXPECT_EQ(e->out.segment.seq, h.local_seq(2));
  EXPECT_TRUE(h.gone());
  h.expect_nothing(h.now() + 10min);
}

// RFC 9293 §3.10.4: CLOSE in SYN-SENT deletes the TCB; nothing is sent.
TEST(Abort, CloseInSynSentForgets) {
  Harness h;
  h.to_syn_sent();
  ASSERT_TRUE(h.close());
  h.expect_nothing(h.now() + 10min);
  EXPECT_TRUE(h.gone());
}

TEST(Abort, InSynSentSendsNothing) {
  Harness h;
  h.to_syn_sent();
  ASSERT_TRUE(h.abort());
  h.expect_nothing(h.now() + 10min);
  EXPECT_TRUE(h.gone());
}

TEST(Counts, NumConnectionsByState) {
  Harness h;
  EXPECT_EQ(num_connections(h.s), 0u);
  h.listen();
  EXPECT_EQ(num_connections(h.s), 0u) << "LISTEN does not count";
  h.peer_sends(syn(0, {Mss{1460}}));
  EXPECT_EQ(num_connections(h.s), 1u);
  EXPECT_EQ(flows(h.s).size(), 1u);
  EXPECT_EQ(flows(h.s)[0], h.flow);
}

TEST(Counts, SegmentCounters) {
  Harness h;
  h.to_established({Mss{1460}});
  EXPECT_EQ(stats(h.s).segments_in, 2u);   // SYN, ACK
  EXPECT_EQ(stats(h.s).segments_out, 1u);  // SYN-ACK
  h.peer_sends(data(1, 1, kTen), h.now() + 10ms);
  h.advance(100ms);
  h.clear_outputs();
  EXPECT_EQ(stats(h.s).segments_in, 3u);
  EXPECT_EQ(stats(h.s).segments_out, 2u);
  EXPECT_EQ(stats(h.s).bytes_in, 10u);
  EXPECT_EQ(stats(h.s).connections_opened_passive, 1u);
  EXPECT_EQ(stats(h.s).connections_established, 1u);
}

// connect picks a source port when none is given; two connects get different flows.
TEST(Counts, ConnectPicksDistinctPorts) {
  Harness h;
  auto a = connect(h.s, h.now(), h.local_ip, h.remote_ip, 80);
  ASSERT_TRUE(a);
  auto b = connect(a->state, h.now(), h.local_ip, h.remote_ip, 80);
  ASSERT_TRUE(b);
  EXPECT_NE(a->flow, b->flow);
  EXPECT_NE(a->notify, b->notify);
  EXPECT_EQ(num_connections(b->state), 2u);
  EXPECT_EQ(a->syn.segment.flag, Flag::syn);
  EXPECT_EQ(a->syn.segment.src_port, a->flow.local().port);
}

// Connecting the same 4-tuple twice is refused.
TEST(Counts, ConnectSameFlowTwiceFails) {
  Harness h;
  h.connect();
  auto again = connect(h.s, h.now(), h.local_ip, h.remote_ip, kRemotePort, kLocalPort);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().kind, Error::Kind::msg);
}

}  // namespace
}  // namespace utcp::test
