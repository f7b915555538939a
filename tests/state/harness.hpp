// The scenario harness of the state tests, in the manner of smoltcp's socket tests: one stack
// under test (State<int>) and a scripted peer, a virtual clock, segment templates with
// relative sequence numbers, and one fixture per TCP state reached through the public API
// and real segments only. For tests of two stacks end to end, Net (at the end).
//
// Relative numbers: a segment the peer sends has seq relative to the peer's ISN and ack
// relative to the stack's ISN; a segment the stack sends has seq relative to the stack's ISN
// and ack relative to the peer's ISN. So the peer's SYN is seq 0, its first data byte seq 1.
//
// Every helper checks the stack's invariants (check_invariants) after each step and takes a
// std::source_location, so a failure points at the test line that caused it.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <source_location>
#include <string>
#include <string_view>
#include <vector>

#include "two_stacks.hpp"
#include "utcp/utcp.hpp"

namespace utcp::test {

using namespace std::chrono_literals;
using Loc = std::source_location;
using Flag = Segment::Flag;

inline constexpr std::uint16_t kLocalPort = 80;      // the stack's port
inline constexpr std::uint16_t kRemotePort = 49152;  // the peer's port
inline constexpr Seq kPeerIsn{0xfffff000u};          // near the wrap on purpose
inline constexpr std::uint16_t kPeerWindow = 65535;  // the peer's default advertisement
// The stack's advertisement with an empty receive queue and no window scaling: the default
// receive buffer (256 KiB) is larger than the 16-bit field, so min(space, 65535).
inline constexpr std::uint16_t kStackWindow = 65535;
inline const std::string kTen = "0123456789";  // ten bytes of data

// A segment template. For the peer's segments `window` nullopt means kPeerWindow; for an
// expected segment it means "any window". `check_options = false` ignores options (expect).
struct Tcp {
  Flag flag = Flag::none;
  std::uint32_t seq = 1;
  std::optional<std::uint32_t> ack = 1;  // nullopt: the ACK bit is off
  bool push = false;
  std::optional<std::uint16_t> window = kStackWindow;
  TcpOptions options{};
  std::string payload{};
  bool check_options = true;
  bool any_ack = false;  // expect: the ACK bit and field are not checked
};

// Builders for the common shapes, each a template to adjust with designated initialisers.
inline Tcp syn(std::uint32_t seq = 0, TcpOptions opts = {}) {
  return {
      .flag = Flag::syn, .seq = seq, .ack = std::nullopt, .window = kPeerWindow, .options = std::move(opts)};
}
inline Tcp ack(std::uint32_t seq, std::uint32_t a, std::uint16_t window = kStackWindow) {
  return {.seq = seq, .ack = a, .window = window};
}
inline Tcp data(std::uint32_t seq, std::uint32_t a, std::string payload, bool push = true,
                std::uint16_t window = kStackWindow) {
  return {.seq = seq, .ack = a, .push = push, .window = window, .payload = std::move(payload)};
}
inline Tcp fin(std::uint32_t seq, std::uint32_t a, std::uint16_t window = kStackWindow) {
  return {.flag = Flag::fin, .seq = seq, .ack = a, .window = window};
}
inline Tcp rst(std::uint32_t seq, std::optional<std::uint32_t> a = std::nullopt) {
  return {.flag = Flag::rst, .seq = seq, .ack = a, .window = 0};
}

// What the stack emitted, and when.
struct Emitted {
  Instant at;
  Output out;
};

struct HarnessOptions {
  Config config{};
  bool ipv6 = false;
};

class Harness {
 public:
  explicit Harness(HarnessOptions opts = {});
  explicit Harness(Config config) : Harness(HarnessOptions{.config = config}) {}
  Harness(const Harness&) = delete;  // make_notify refers to this harness
  Harness& operator=(const Harness&) = delete;

  // ---- the clock ----
  Instant t0() const { return t0_; }
  Instant now() const { return now_; }
  // Runs every timer due up to `t` (at each next_deadline in turn), queueing what it emits
  // and recording drops; then sets the clock to `t`. Checks next_deadline's contract.
  void advance_to(Instant t, Loc loc = Loc::current());
  void advance(Duration d, Loc loc = Loc::current()) { advance_to(now_ + d, loc); }

  // ---- the peer ----
  // Advances the clock to `at` (default: now), then hands the segment to handle_buf.
  void peer_sends(const Tcp& seg, Loc loc = Loc::current());
  void peer_sends(const Tcp& seg, Instant at, Loc loc = Loc::current());
  void peer_sends_raw(const Segment& seg, Loc loc = Loc::current());                // absolute numbers
  void peer_sends_bytes(std::span<const std::byte> tcp, Loc loc = Loc::current());  // as on the wire

  // The next segment the stack emitted (already queued) must match `want`.
  void expect(const Tcp& want, Loc loc = Loc::current());
  // The next segment must match `want` and be emitted at exactly `at`: runs timers up to
  // `at` if nothing is queued yet; fails if it comes earlier or not by then.
  void expect_at(const Tcp& want, Instant at, Loc loc = Loc::current());
  // The next segment must match `want` and be emitted no later than `by` (now or by timers).
  void expect_by(const Tcp& want, Instant by, Loc loc = Loc::current());
  // An RST <SEQ=seq>, with or without the ACK bit (RFC 9293 leaves it open).
  void expect_rst(std::uint32_t seq, Loc loc = Loc::current());
  // Nothing is queued, and advancing the clock to `until` emits nothing.
  void expect_nothing(Instant until, Loc loc = Loc::current());
  void expect_nothing(Loc loc = Loc::current()) { expect_nothing(now_, loc); }
  // Takes the next queued output (failing when there is none).
  std::optional<Emitted> take(Loc loc = Loc::current());
  std::size_t queued() const { return out_.size(); }
  const std::deque<Emitted>& outputs() const { return out_; }
  void clear_outputs() { out_.clear(); }

  // ---- events ----
  std::deque<Event<int>> events;
  std::deque<TimerDrop<int>> drops;
  template <class E>
  std::optional<E> take_event(Loc loc = Loc::current());  // the next event must be an E
  void expect_no_event(Loc loc = Loc::current());

  // ---- the application (rvalue overloads; outputs are queued) ----
  Result<Sent<int>> send(std::string_view bytes, Loc loc = Loc::current());
  Result<Received<int>> recv(Loc loc = Loc::current());
  Result<Step<int>> close(Loc loc = Loc::current());
  Result<Step<int>> shutdown(Direction d, Loc loc = Loc::current());
  Result<Step<int>> abort(Loc loc = Loc::current());
  // recv and concatenate everything returned
  std::string read_all(Loc loc = Loc::current());
  void listen(FlowOptions opts = {}, Loc loc = Loc::current());
  // connect from the stack to the peer, with the stack's port fixed to kLocalPort
  void connect(FlowOptions opts = {}, Loc loc = Loc::current());

  // ---- fixtures: a fresh stack driven into a state. The peer always answers 10 ms later
  // (so the first RTT sample is 10 ms), the stack's SYN/SYN-ACK is checked and taken, and
  // `local_isn` is learned from it. `peer_opts` go on the peer's SYN or SYN-ACK.
  void to_listen();
  void to_syn_sent(FlowOptions opts = {});
  void to_syn_received(TcpOptions peer_opts = {}, FlowOptions opts = {});
  void to_established(TcpOptions peer_opts = {}, FlowOptions opts = {});  // passive
  void to_established_active(TcpOptions peer_opts = {}, FlowOptions opts = {});
  // The FIN-WAIT states reached by shutdown(write) (half-close: data is still accepted), or
  // by close() when `by_close` (data arriving then is answered with RST, RFC 1122 4.2.2.13).
  void to_fin_wait_1(bool by_close = false);
  void to_fin_wait_2(bool by_close = false);
  void to_close_wait();
  void to_closing();
  void to_last_ack();
  void to_time_wait();
  void to_state(TcpState st);  // dispatch to the above (half-close variants)

  // ---- inspection ----
  std::optional<ConnInfo> info() const { return utcp::info(s, flow); }
  ConnInfo conn(Loc loc = Loc::current()) const;  // fails the test when the flow is gone
  std::optional<TcpState> state() const;          // nullopt: the flow is gone
  bool gone() const { return !info().has_value(); }
  void check(Loc loc = Loc::current()) const;  // check_invariants

  // Relative <-> absolute.
  Seq peer_seq(std::uint32_t rel) const { return peer_isn + rel; }
  Seq local_seq(std::uint32_t rel) const { return local_isn + rel; }
  std::uint32_t rel_local(Seq s) const { return s - local_isn; }
  std::uint32_t rel_peer(Seq s) const { return s - peer_isn; }
  // The stack's RCV.NXT and SND.NXT, relative.
  std::uint32_t rcv_nxt(Loc loc = Loc::current()) const { return rel_peer(conn(loc).rcv_nxt); }
  std::uint32_t snd_nxt(Loc loc = Loc::current()) const { return rel_local(conn(loc).snd_nxt); }
  std::uint32_t snd_una(Loc loc = Loc::current()) const { return rel_local(conn(loc).snd_una); }

  // Does `got` (from the stack) match the template? Returns an explanation when not.
  std::optional<std::string> mismatch(const Tcp& want, const Segment& got) const;
  std::string describe_out(const Segment& s) const;  // relative numbers, stack -> peer
  std::string describe_in(const Segment& s) const;   // relative numbers, peer -> stack
  Segment to_segment(const Tcp& t) const;            // a peer template made absolute

  Config cfg;
  IpAddr local_ip, remote_ip;
  Flow flow;
  Seq peer_isn = kPeerIsn;
  Seq local_isn{};
  int notifies_made = 0;
  State<int> s;
  std::optional<int> connect_notify;  // what connect() returned
  // Every timer call the harness makes at next_deadline must emit, drop or end something.
  bool strict_deadlines = true;

 private:
  void absorb(std::vector<Output>&& out, Loc loc);
  template <class R>
  void adopt(R& r, Loc loc);  // a user call's result: take its state and output, or check
  void run_timer(Instant t, Loc loc);

  Instant t0_;
  Instant now_;
  bool isn_learned_ = false;
  std::deque<Emitted> out_;
};

template <class E>
std::optional<E> Harness::take_event(Loc loc) {
  if (events.empty()) {
    ADD_FAILURE_AT(loc.file_name(), loc.line()) << "expected an event, got none";
    return std::nullopt;
  }
  Event<int> ev = std::move(events.front());
  events.pop_front();
  if (auto* e = std::get_if<E>(&ev)) return std::move(*e);
  ADD_FAILURE_AT(loc.file_name(), loc.line()) << "event of another kind (index " << ev.index() << ")";
  return std::nullopt;
}

// ---- two stacks: the engine end to end (engine_*_test.cpp) ----
// Two stacks over the simulator's in-memory wire (sim/two_stacks.hpp), a packet taking 1 ms;
// each side's application sends `to_send` and reads into `received`.
struct Net : sim::TwoStacks {
  explicit Net(Config ca = {}, Config cb = {}) : TwoStacks(ca, cb) { latency = 1ms; }
};
using Peer = sim::TwoStacks::Side;
using sim::pattern;
inline Instant t0() {
  return Instant{} + std::chrono::hours(1);  // where a Net's clock starts
}

// Options compared regardless of order.
bool same_options(const TcpOptions& a, const TcpOptions& b);
std::string options_text(const TcpOptions& opts);

}  // namespace utcp::test
