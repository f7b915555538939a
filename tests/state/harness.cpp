#include "harness.hpp"

#include <algorithm>
#include <sstream>

namespace utcp::test {

namespace {

std::string flag_text(const Segment& s) {
  std::string f;
  if (s.flag == Flag::syn) f += 'S';
  if (s.flag == Flag::fin) f += 'F';
  if (s.flag == Flag::rst) f += 'R';
  if (s.push) f += 'P';
  if (s.ack) f += '.';
  return f.empty() ? "none" : f;
}

std::string flag_text(const Tcp& t) {
  std::string f;
  if (t.flag == Flag::syn) f += 'S';
  if (t.flag == Flag::fin) f += 'F';
  if (t.flag == Flag::rst) f += 'R';
  if (t.push) f += 'P';
  if (t.ack) f += '.';
  return f.empty() ? "none" : f;
}

std::string payload_text(const std::string& p) {
  if (p.size() <= 16) return "\"" + p + "\"";
  return "\"" + p.substr(0, 16) + "...\"";
}

std::string describe_tcp(const Tcp& t) {
  std::ostringstream os;
  os << flag_text(t) << " seq " << t.seq;
  if (t.ack) os << " ack " << *t.ack;
  os << " win ";
  if (t.window)
    os << *t.window;
  else
    os << "*";
  if (t.check_options)
    os << " <" << options_text(t.options) << ">";
  else
    os << " <*>";
  os << " len " << t.payload.size();
  if (!t.payload.empty()) os << " " << payload_text(t.payload);
  return os.str();
}

}  // namespace

std::string options_text(const TcpOptions& opts) {
  std::ostringstream os;
  for (std::size_t i = 0; i < opts.size(); ++i) os << (i ? ", " : "") << opts[i];
  return os.str();
}

bool same_options(const TcpOptions& a, const TcpOptions& b) {
  if (a.size() != b.size()) return false;
  std::vector<bool> used(b.size(), false);
  for (const auto& x : a) {
    bool found = false;
    for (std::size_t i = 0; i < b.size() && !found; ++i)
      if (!used[i] && b[i] == x) used[i] = found = true;
    if (!found) return false;
  }
  return true;
}

Harness::Harness(HarnessOptions opts)
    : cfg(opts.config),
      local_ip(opts.ipv6 ? *IpAddr::parse("fd00::1") : IpAddr::v4(10, 0, 0, 1)),
      remote_ip(opts.ipv6 ? *IpAddr::parse("fd00::2") : IpAddr::v4(10, 0, 0, 2)),
      flow(Endpoint{local_ip, kLocalPort}, Endpoint{remote_ip, kRemotePort}),
      s(empty<int>([this] { return notifies_made++; }, "under-test", cfg)),
      t0_(Instant{} + std::chrono::hours(1000)),
      now_(t0_) {}

// ---------------------------------------------------------------- checks and text

void Harness::check(Loc loc) const {
  if (auto broken = check_invariants(s))
    ADD_FAILURE_AT(loc.file_name(), loc.line()) << "check_invariants: " << *broken;
}

ConnInfo Harness::conn(Loc loc) const {
  auto i = info();
  if (!i) {
    ADD_FAILURE_AT(loc.file_name(), loc.line()) << "flow " << flow << " is gone";
    return {};
  }
  return *i;
}

std::optional<TcpState> Harness::state() const {
  auto i = info();
  if (!i) return std::nullopt;
  return i->state;
}

std::string Harness::describe_out(const Segment& s) const {
  std::ostringstream os;
  os << flag_text(s) << " seq " << rel_local(s.seq);
  if (s.ack) os << " ack " << rel_peer(*s.ack);
  os << " win " << s.window << " <" << options_text(s.options) << "> len " << s.payload.size();
  if (!s.payload.empty()) os << " " << payload_text(s.payload.to_string());
  os << "   [absolute seq " << s.seq.value();
  if (s.ack) os << " ack " << s.ack->value();
  os << "]";
  return os.str();
}

std::string Harness::describe_in(const Segment& s) const {
  std::ostringstream os;
  os << flag_text(s) << " seq " << rel_peer(s.seq);
  if (s.ack) os << " ack " << rel_local(*s.ack);
  os << " win " << s.window << " <" << options_text(s.options) << "> len " << s.payload.size();
  return os.str();
}

std::optional<std::string> Harness::mismatch(const Tcp& want, const Segment& got) const {
  std::vector<std::string> diffs;
  if (want.flag != got.flag) diffs.push_back("flag");
  if (want.push != got.push) diffs.push_back("push");
  if (local_seq(want.seq) != got.seq) diffs.push_back("seq");
  if (!want.any_ack &&
      (want.ack.has_value() != got.ack.has_value() || (want.ack && peer_seq(*want.ack) != *got.ack)))
    diffs.push_back("ack");
  if (want.window && *want.window != got.window) diffs.push_back("window");
  if (want.check_options && !same_options(want.options, got.options)) diffs.push_back("options");
  if (got.payload.to_string() != want.payload) diffs.push_back("payload");
  if (got.src_port != flow.local().port || got.dst_port != flow.remote().port) diffs.push_back("ports");
  if (diffs.empty()) return std::nullopt;
  std::ostringstream os;
  os << "segment differs in:";
  for (const auto& d : diffs) os << " " << d;
  os << "\n  want: " << describe_tcp(want) << "\n  got:  " << describe_out(got);
  return os.str();
}

Segment Harness::to_segment(const Tcp& t) const {
  Segment seg;
  seg.src_port = flow.remote().port;
  seg.dst_port = flow.local().port;
  seg.seq = peer_seq(t.seq);
  if (t.ack) seg.ack = local_seq(*t.ack);
  seg.flag = t.flag;
  seg.push = t.push;
  seg.window = t.window.value_or(kPeerWindow);
  seg.options = t.options;
  seg.payload = Payload(std::string_view(t.payload));
  return seg;
}

// ---------------------------------------------------------------- clock and timers

void Harness::absorb(std::vector<Output>&& out, Loc loc) {
  for (auto& o : out) {
    // The stack's first SYN or SYN-ACK tells its ISN (tests of a new incarnation reset it).
    if (o.segment.flag == Flag::syn && !isn_learned_) {
      local_isn = o.segment.seq;
      isn_learned_ = true;
    }
    if (o.src != local_ip || o.dst != remote_ip)
      ADD_FAILURE_AT(loc.file_name(), loc.line()) << "output with addresses " << o.src << " -> " << o.dst
                                                  << ", want " << local_ip << " -> " << remote_ip;
    out_.push_back({now_, std::move(o)});
  }
  check(loc);
}

void Harness::run_timer(Instant t, Loc loc) {
  now_ = t;
  // DESIGN.md: next_deadline is exact - a timer call at it has work to do. Visible work is
  // a segment, a drop, or a connection ending.
  const bool at_deadline = next_deadline(s) == std::optional<Instant>(t);
  const std::size_t flows_before = num_connections(s);
  auto r = timer(std::move(s), t);
  s = std::move(r.state);
  if (strict_deadlines && at_deadline && r.out.empty() && r.drops.empty() &&
      num_connections(s) == flows_before)
    ADD_FAILURE_AT(loc.file_name(), loc.line())
        << "timer at next_deadline (+" << std::chrono::duration<double>(t - t0_).count() << " s) did nothing";
  for (auto& d : r.drops) drops.push_back(std::move(d));
  absorb(std::move(r.out), loc);
  // DESIGN.md: afterwards next_deadline is empty or later than t.
  if (auto d = next_deadline(s); d && *d <= t)
    ADD_FAILURE_AT(loc.file_name(), loc.line())
        << "next_deadline not later than the timer call just made (" << (t - *d).count() << " ns before)";
}

void Harness::advance_to(Instant t, Loc loc) {
  if (t < now_) {
    ADD_FAILURE_AT(loc.file_name(), loc.line()) << "the clock cannot go backwards";
    return;
  }
  // Each deadline in turn; a guard against a deadline that never moves on.
  for (int guard = 0; guard < 1'000'000; ++guard) {
    auto d = next_deadline(s);
    if (!d || *d > t) break;
    run_timer(std::max(*d, now_), loc);
  }
  now_ = t;
}

// ---------------------------------------------------------------- the peer

void Harness::peer_sends(const Tcp& seg, Loc loc) {
  peer_sends_raw(to_segment(seg), loc);
}

void Harness::peer_sends(const Tcp& seg, Instant at, Loc loc) {
  advance_to(at, loc);
  peer_sends(seg, loc);
}

void Harness::peer_sends_raw(const Segment& seg, Loc loc) {
  const std::vector<std::byte> bytes = seg.encode(remote_ip, local_ip);
  peer_sends_bytes(bytes, loc);
}

void Harness::peer_sends_bytes(std::span<const std::byte> bytes, Loc loc) {
  auto r = handle_buf(std::move(s), now_, remote_ip, local_ip, bytes);
  s = std::move(r.state);
  if (r.event) events.push_back(std::move(*r.event));
  absorb(std::move(r.out), loc);
}

std::optional<Emitted> Harness::take(Loc loc) {
  if (out_.empty()) {
    ADD_FAILURE_AT(loc.file_name(), loc.line()) << "expected a segment from the stack, got none";
    return std::nullopt;
  }
  Emitted e = std::move(out_.front());
  out_.pop_front();
  return e;
}

void Harness::expect(const Tcp& want, Loc loc) {
  if (out_.empty()) {
    ADD_FAILURE_AT(loc.file_name(), loc.line())
        << "expected " << describe_tcp(want) << ", the stack sent nothing";
    return;
  }
  Emitted e = std::move(out_.front());
  out_.pop_front();
  if (auto m = mismatch(want, e.out.segment)) ADD_FAILURE_AT(loc.file_name(), loc.line()) << *m;
}

void Harness::expect_at(const Tcp& want, Instant at, Loc loc) {
  if (out_.empty()) {
    for (int guard = 0; guard < 1'000'000 && out_.empty(); ++guard) {
      auto d = next_deadline(s);
      if (!d || *d > at) break;
      run_timer(std::max(*d, now_), loc);
    }
  }
  if (out_.empty()) {
    now_ = std::max(now_, at);
    ADD_FAILURE_AT(loc.file_name(), loc.line())
        << "expected " << describe_tcp(want) << " at +" << std::chrono::duration<double>(at - t0_).count()
        << " s, nothing was sent by then";
    return;
  }
  const Instant when = out_.front().at;
  if (when != at)
    ADD_FAILURE_AT(loc.file_name(), loc.line())
        << "segment sent at +" << std::chrono::duration<double>(when - t0_).count() << " s, want +"
        << std::chrono::duration<double>(at - t0_).count() << " s";
  expect(want, loc);
  if (now_ < at) now_ = at;
}

void Harness::expect_by(const Tcp& want, Instant by, Loc loc) {
  for (int guard = 0; guard < 1'000'000 && out_.empty(); ++guard) {
    auto d = next_deadline(s);
    if (!d || *d > by) break;
    run_timer(std::max(*d, now_), loc);
  }
  if (out_.empty()) {
    ADD_FAILURE_AT(loc.file_name(), loc.line())
        << "expected " << describe_tcp(want) << " by +" << std::chrono::duration<double>(by - t0_).count()
        << " s, nothing was sent by then";
    return;
  }
  expect(want, loc);
}

void Harness::expect_rst(std::uint32_t seq, Loc loc) {
  expect({.flag = Flag::rst,
          .seq = seq,
          .ack = std::nullopt,
          .window = std::nullopt,
          .check_options = false,
          .any_ack = true},
         loc);
}

void Harness::expect_nothing(Instant until, Loc loc) {
  auto report = [&] {
    while (!out_.empty()) {
      ADD_FAILURE_AT(loc.file_name(), loc.line())
          << "expected nothing, the stack sent at +"
          << std::chrono::duration<double>(out_.front().at - t0_).count()
          << " s: " << describe_out(out_.front().out.segment);
      out_.pop_front();
    }
  };
  report();
  for (int guard = 0; guard < 1'000'000; ++guard) {
    auto d = next_deadline(s);
    if (!d || *d > until) break;
    run_timer(std::max(*d, now_), loc);
    report();
  }
  if (until > now_) now_ = until;
}

void Harness::expect_no_event(Loc loc) {
  if (!events.empty())
    ADD_FAILURE_AT(loc.file_name(), loc.line())
        << "unexpected event (index " << events.front().index() << ")";
}

// ---------------------------------------------------------------- the application

// A user call's result: on success the new state and what it sent; on error the state is
// untouched and must still hold its invariants.
template <class R>
void Harness::adopt(R& r, Loc loc) {
  if (r) {
    s = std::move(r->state);
    absorb(std::move(r->out), loc);
  } else {
    check(loc);
  }
}

Result<Sent<int>> Harness::send(std::string_view bytes, Loc loc) {
  auto r = utcp::send(std::move(s), now_, flow, bytes);
  adopt(r, loc);
  return r;
}

Result<Received<int>> Harness::recv(Loc loc) {
  auto r = utcp::recv(std::move(s), now_, flow);
  adopt(r, loc);
  return r;
}

std::string Harness::read_all(Loc loc) {
  auto r = recv(loc);
  if (!r) {
    ADD_FAILURE_AT(loc.file_name(), loc.line()) << "recv failed: " << r.error();
    return {};
  }
  std::string all;
  for (const auto& d : r->data) d.append_to(all);
  return all;
}

Result<Step<int>> Harness::close(Loc loc) {
  auto r = utcp::close(std::move(s), now_, flow);
  adopt(r, loc);
  return r;
}

Result<Step<int>> Harness::shutdown(Direction d, Loc loc) {
  auto r = utcp::shutdown(std::move(s), now_, flow, d);
  adopt(r, loc);
  return r;
}

Result<Step<int>> Harness::abort(Loc loc) {
  auto r = utcp::abort(std::move(s), now_, flow);
  adopt(r, loc);
  return r;
}

void Harness::listen(FlowOptions opts, Loc loc) {
  s = start_listen(std::move(s), kLocalPort, opts);
  check(loc);
}

void Harness::connect(FlowOptions opts, Loc loc) {
  auto r = utcp::connect(std::move(s), now_, local_ip, remote_ip, kRemotePort, kLocalPort, opts);
  if (!r) {
    ADD_FAILURE_AT(loc.file_name(), loc.line()) << "connect failed: " << r.error();
    return;
  }
  s = std::move(r->state);
  if (r->flow != flow) ADD_FAILURE_AT(loc.file_name(), loc.line()) << "connect gave flow " << r->flow;
  connect_notify = r->notify;
  std::vector<Output> out;
  out.push_back(std::move(r->syn));
  absorb(std::move(out), loc);
}

// ---------------------------------------------------------------- fixtures

// The fixture reached its state (checked at the fixture's own line).
#define UTCP_FIXTURE_STATE(want)                                                           \
  do {                                                                                     \
    if (state() != std::optional<TcpState>(want)) {                                        \
      ADD_FAILURE() << "fixture did not reach " << (want) << ", state "                    \
                    << (state() ? std::string(to_string(*state())) : std::string("gone")); \
    }                                                                                      \
  } while (0)

void Harness::to_listen() {
  listen();
  EXPECT_TRUE(gone()) << "a listener has no flow yet";
  EXPECT_TRUE(listening(s, kLocalPort));
}

void Harness::to_syn_sent(FlowOptions opts) {
  connect(opts);
  auto e = take();
  if (e) {
    EXPECT_EQ(e->out.segment.flag, Flag::syn) << describe_out(e->out.segment);
    EXPECT_FALSE(e->out.segment.ack.has_value());
    local_isn = e->out.segment.seq;
  }
  UTCP_FIXTURE_STATE(TcpState::syn_sent);
}

void Harness::to_syn_received(TcpOptions peer_opts, FlowOptions opts) {
  listen(opts);
  peer_sends(syn(0, std::move(peer_opts)));
  auto e = take();
  if (e) {
    const Segment& sa = e->out.segment;
    EXPECT_EQ(sa.flag, Flag::syn) << describe_out(sa);
    EXPECT_EQ(sa.ack, std::optional<Seq>(peer_seq(1))) << describe_out(sa);
    local_isn = sa.seq;
  }
  EXPECT_TRUE(out_.empty());
  UTCP_FIXTURE_STATE(TcpState::syn_received);
}

void Harness::to_established(TcpOptions peer_opts, FlowOptions opts) {
  to_syn_received(std::move(peer_opts), opts);
  peer_sends(ack(1, 1, kPeerWindow), now_ + 10ms);
  auto ev = take_event<Established<int>>();
  if (ev) {
    EXPECT_EQ(ev->flow, flow);
    EXPECT_FALSE(ev->notify.has_value()) << "a passive open reports no notify";
  }
  EXPECT_TRUE(out_.empty());
  UTCP_FIXTURE_STATE(TcpState::established);
}

void Harness::to_established_active(TcpOptions peer_opts, FlowOptions opts) {
  to_syn_sent(opts);
  Tcp sa = syn(0, std::move(peer_opts));
  sa.ack = 1;
  peer_sends(sa, now_ + 10ms);
  expect({.seq = 1, .ack = 1, .window = std::nullopt});  // scaled when the peer offered it
  auto ev = take_event<Established<int>>();
  if (ev) {
    EXPECT_EQ(ev->flow, flow);
    EXPECT_EQ(ev->notify, connect_notify) << "an active open reports connect's notify";
  }
  UTCP_FIXTURE_STATE(TcpState::established);
}

void Harness::to_fin_wait_1(bool by_close) {
  to_established();
  auto r = by_close ? close() : shutdown(Direction::write);
  EXPECT_TRUE(r.has_value());
  expect(fin(1, 1));
  UTCP_FIXTURE_STATE(TcpState::fin_wait_1);
}

void Harness::to_fin_wait_2(bool by_close) {
  to_fin_wait_1(by_close);
  peer_sends(ack(1, 2, kPeerWindow), now_ + 10ms);
  expect_nothing();
  UTCP_FIXTURE_STATE(TcpState::fin_wait_2);
}

void Harness::to_close_wait() {
  to_established();
  peer_sends(fin(1, 1, kPeerWindow), now_ + 10ms);
  expect(ack(1, 2));  // a FIN is acknowledged at once
  UTCP_FIXTURE_STATE(TcpState::close_wait);
  events.clear();  // the FIN's Signal
}

void Harness::to_closing() {
  to_fin_wait_1();
  // The peer's FIN crosses ours: it does not acknowledge our FIN.
  peer_sends(fin(1, 1, kPeerWindow), now_ + 10ms);
  expect(ack(2, 2));
  UTCP_FIXTURE_STATE(TcpState::closing);
  events.clear();
}

void Harness::to_last_ack() {
  to_close_wait();
  EXPECT_TRUE(close().has_value());
  expect(fin(1, 2));
  UTCP_FIXTURE_STATE(TcpState::last_ack);
}

void Harness::to_time_wait() {
  to_fin_wait_2();
  peer_sends(fin(1, 2, kPeerWindow), now_ + 10ms);
  expect(ack(2, 2));
  UTCP_FIXTURE_STATE(TcpState::time_wait);
  events.clear();
}

void Harness::to_state(TcpState st) {
  switch (st) {
    case TcpState::closed:
      return;
    case TcpState::listen:
      return to_listen();
    case TcpState::syn_sent:
      return to_syn_sent();
    case TcpState::syn_received:
      return to_syn_received();
    case TcpState::established:
      return to_established();
    case TcpState::fin_wait_1:
      return to_fin_wait_1();
    case TcpState::fin_wait_2:
      return to_fin_wait_2();
    case TcpState::close_wait:
      return to_close_wait();
    case TcpState::closing:
      return to_closing();
    case TcpState::last_ack:
      return to_last_ack();
    case TcpState::time_wait:
      return to_time_wait();
    case TcpState::count_:
      break;
  }
  ADD_FAILURE() << "no fixture for that state";
}

#undef UTCP_FIXTURE_STATE

}  // namespace utcp::test
