// The executor: virtual time, inbound and outbound packets, blocking-call emulation.
#include "session.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <sstream>

#include "ip_packet.hpp"
#include "parser.hpp"

namespace utcp::script {
namespace {

constexpr std::uint64_t ns_of(Micros us) {
  return us <= 0 ? 0 : static_cast<std::uint64_t>(us) * 1000u;
}
constexpr Micros us_of(std::uint64_t ns) {
  return static_cast<Micros>(ns / 1000u);
}
constexpr std::uint64_t kSecond = 1'000'000'000;
// Enough steps for hours of timers; more means the host's deadlines do not advance.
constexpr int kMaxSteps = 10'000'000;

std::string str(const auto& v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

std::string micros(Micros us) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%s%lld.%06lld", us < 0 ? "-" : "",
                static_cast<long long>(std::abs(us)) / 1000000,
                static_cast<long long>(std::abs(us)) % 1000000);
  return buf;
}

}  // namespace

Session::Session(const Script& script, const RunConfig& config, std::ostream* trace)
    : script_(script), cfg_(config), trace_(trace) {
  const std::string addr = cfg_.local_ip.to_string();
  const utcp_host_config hc{addr.c_str(), cfg_.seed, cfg_.mtu};
  host_ = utcp_host_new(&hc);
  local_port_ = cfg_.bind_port;
  remote_port_ = cfg_.remote_port;
}

Session::~Session() {
  if (host_ != nullptr) utcp_host_free(host_);
}

void Session::fail(int line, std::string reason) const {
  throw Failed{line, std::move(reason)};
}

std::string Session::at(std::uint64_t ns) const {
  return micros(us_of(ns));
}

void Session::trace(const std::string& text) const {
  if (trace_ != nullptr) *trace_ << "  " << at(now_ns_) << "  " << text << '\n';
}

Outcome Session::run() {
  Outcome o;
  o.skipped_shell = script_.skipped_shell;
  o.skipped_python = script_.skipped_python;
  if (host_ == nullptr) {
    o.reason =
        std::string("cannot create a host at ") + cfg_.local_ip.to_string() + ": " + std::strerror(errno);
    return o;
  }
  try {
    for (const Event& e : script_.events) {
      last_line_ = e.line;
      if (const auto* p = std::get_if<Packet>(&e.action)) {
        if (p->direction == Packet::Direction::inbound)
          inbound(e, *p);
        else
          outbound(e, *p);
      } else if (const auto* c = std::get_if<Syscall>(&e.action)) {
        syscall(e, *c);
      } else {
        anchor_ = previous_ = script_time(e.time, e.time.start);
      }
    }
    if (pending_) complete_pending();
    check_unconsumed(last_line_, "the end of the script");
    o.passed = true;
  } catch (const Failed& f) {
    o.line = f.line;
    o.reason = f.reason;
  }
  return o;
}

// ---- time ----

Micros Session::script_time(const Time& t, Micros value) const {
  return t.kind == Time::Kind::absolute ? value : anchor_ + value;
}

std::optional<std::uint64_t> Session::next_wake() {
  std::optional<std::uint64_t> w;
  if (const std::int64_t d = utcp_host_next_deadline(host_); d >= 0) w = static_cast<std::uint64_t>(d);
  if (pending_ && pending_->timeout_ns) w = std::min(w.value_or(UINT64_MAX), *pending_->timeout_ns);
  return w;
}

void Session::step_to(std::uint64_t ns) {
  ns = std::max(ns, now_ns_);
  utcp_host_set_time(host_, ns);
  now_ns_ = ns;
  drain();
  poll_pending();
}

void Session::advance_to(std::uint64_t target) {
  for (int steps = 0;; ++steps) {
    if (steps > kMaxSteps) fail(last_line_, "the host's timers do not advance past " + at(now_ns_));
    const auto w = next_wake();
    if (!w || *w > target) break;
    const bool stale = *w <= now_ns_;
    step_to(*w);
    if (stale) {  // due now and still due after running it: nothing more to run now
      const auto again = next_wake();
      if (again && *again <= now_ns_) break;
    }
  }
  if (target > now_ns_) step_to(target);
}

void Session::drain() {
  std::vector<std::byte> buf(65536 + 64);
  for (;;) {
    const ssize_t n = utcp_host_output(host_, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EAGAIN) return;
      fail(last_line_, std::string("utcp_host_output failed: ") + std::strerror(errno));
    }
    const std::span<const std::byte> packet(buf.data(), static_cast<std::size_t>(n));
    const auto ip = host::parse_ip(packet);
    if (!ip)
      fail(last_line_, "the stack sent a malformed IP packet (" + str(ip.error()) + ") at " + at(now_ns_));
    if (ip->protocol != host::ip_proto_tcp)
      fail(last_line_, "the stack sent a non-TCP packet (IP protocol " + std::to_string(ip->protocol) +
                           ") at " + at(now_ns_));
    auto seg = Segment::decode(ip->src, ip->dst, ip->payload);
    if (!seg)
      fail(last_line_,
           "the stack sent an invalid TCP segment (" + seg.error().message + ") at " + at(now_ns_));
    const auto view = view_tcp(ip->payload);
    if (!view) fail(last_line_, "the stack sent a TCP header with malformed options at " + at(now_ns_));
    queue_.push_back(Emitted{now_ns_, ip->src, ip->dst, std::move(seg->first), *view});
    trace("stack: " + show(queue_.back()));
  }
}

void Session::poll_pending() {
  if (!pending_) return;
  const bool timed_out = pending_->timeout_ns && now_ns_ >= *pending_->timeout_ns;
  auto r = pending_->attempt(timed_out);
  drain();
  if (r) finish_pending(std::move(*r));
}

void Session::finish_pending(CallResult r) {
  const Pending p = std::move(*pending_);
  pending_.reset();
  trace("line " + std::to_string(p.line) + ": " + p.call->name + " returned " + std::to_string(r.value));
  check_result(p.line, *p.call, r, p.expected_end, p.tolerance);
}

void Session::complete_pending() {
  for (int steps = 0; pending_; ++steps) {
    const auto w = next_wake();
    const std::uint64_t limit = ns_of(pending_->expected_end + pending_->tolerance);
    if (!w || *w > limit || steps > kMaxSteps)
      fail(pending_->line, "blocking " + str(*pending_->call) + ": expected to return at " +
                               micros(pending_->expected_end) + ", still blocked at " +
                               at(std::max(now_ns_, limit)));
    step_to(*w);
  }
}

void Session::check_unconsumed(int line, const char* before) {
  if (queue_.empty()) return;
  std::string also;
  if (queue_.size() > 1) also = " (and " + std::to_string(queue_.size() - 1) + " more)";
  fail(line, "unexpected segment: the stack sent " + show(queue_.front()) + also +
                 ", which no '>' line consumed before " + before);
}

// ---- packets ----

void Session::inbound(const Event& e, const Packet& p) {
  const Micros t = script_time(e.time, e.time.start);
  advance_to(ns_of(t));
  check_unconsumed(e.line, "this inbound packet");
  if (int{p.syn} + int{p.fin} + int{p.rst} > 1)
    fail(e.line, "an inbound packet carries at most one of S, F and R");
  if (p.urg || p.ece || p.cwr) fail(e.line, "inbound U, E and W flags are not supported");
  if (p.ack_flag && !p.ack) fail(e.line, "an inbound packet with the ACK flag needs 'ack A'");
  if (!p.options) fail(e.line, "'<...>' is for outbound packets only");

  const bool first_syn = p.syn && !remote_isn_;
  if (first_syn) remote_isn_ = p.start;
  Segment s;
  s.src_port = remote_port_;
  s.dst_port = local_port_;
  s.seq = Seq(first_syn ? p.start : remote_isn_.value_or(0) + p.start);
  if (p.ack_flag) s.ack = Seq(local_isn_.value_or(0) + *p.ack);
  s.flag = p.syn   ? Segment::Flag::syn
           : p.fin ? Segment::Flag::fin
           : p.rst ? Segment::Flag::rst
                   : Segment::Flag::none;
  s.push = p.psh;
  s.window = static_cast<std::uint16_t>(*p.window);
  for (const Option& o : *p.options) {
    if (const auto* m = std::get_if<OptMss>(&o)) s.options.emplace_back(Mss{m->value});
    if (const auto* w = std::get_if<OptWscale>(&o)) s.options.emplace_back(WindowScale{w->shift});
    if (std::holds_alternative<OptSackOk>(o)) s.options.emplace_back(SackPermitted{});
    if (const auto* ts = std::get_if<OptTimestamp>(&o))
      s.options.emplace_back(Timestamps{ts->value, ts->echo});
    if (const auto* sk = std::get_if<OptSack>(&o)) {
      Sack sack;
      for (const auto& [l, r] : sk->blocks)
        sack.blocks.emplace_back(Seq(local_isn_.value_or(0) + l), Seq(local_isn_.value_or(0) + r));
      s.options.emplace_back(std::move(sack));
    }
  }
  if (!s.valid()) fail(e.line, "the options do not fit in a TCP header");
  s.payload = Payload(std::string(p.length, '\0'));
  const std::vector<std::byte> bytes = host::frame(Output{cfg_.remote_ip, cfg_.local_ip, s});
  if (bytes.empty()) fail(e.line, "cannot frame the packet (too large?)");
  trace("line " + std::to_string(e.line) + ": < " + str(p));
  if (utcp_host_input(host_, bytes.data(), bytes.size()) != 0)
    fail(e.line, std::string("the host's IP layer refused the packet: ") + std::strerror(errno));
  drain();
  poll_pending();
  anchor_ = previous_ = t;
}

std::optional<std::size_t> Session::emitted_at(std::size_t index, std::uint64_t limit_ns) {
  for (int steps = 0; queue_.size() <= index; ++steps) {
    const auto w = next_wake();
    if (!w || *w > limit_ns || steps > kMaxSteps) return std::nullopt;
    step_to(*w);
  }
  return index;
}

void Session::outbound(const Event& e, const Packet& p) {
  const bool any = e.time.kind == Time::Kind::any;
  Micros lo = 0, hi = 0, tol = 0;
  if (!any) {
    lo = script_time(e.time, e.time.start);
    hi = e.time.window_end ? script_time(e.time, *e.time.window_end) : lo;
    tol = cfg_.tolerance(hi, previous_);
  }
  const std::string expected =
      "> " + str(p) +
      (any ? std::string(" at any time")
           : " at " + micros(lo) + (hi != lo ? "~" + micros(hi) : "") + " (+-" + micros(tol) + ")");
  const std::uint64_t want_lo = ns_of(lo - tol), want_hi = ns_of(hi + tol);
  // Past want_hi only to tell what came instead.
  const std::uint64_t limit = any ? now_ns_ + 3600 * kSecond : want_hi + 600 * kSecond;
  if (!emitted_at(0, limit))
    fail(e.line, "missing segment: expected " + expected + ", the stack sent nothing (virtual time " +
                     at(now_ns_) + ")");
  const Emitted& first = queue_.front();
  trace("line " + std::to_string(e.line) + ": " + expected);
  if (!any && (first.at_ns < want_lo || first.at_ns > want_hi))
    fail(e.line, "wrong timing: expected " + expected + ", the stack sent " + show(first));
  if (first.src != cfg_.local_ip || first.dst != cfg_.remote_ip || first.segment.dst_port != remote_port_ ||
      (local_port_known_ && first.segment.src_port != local_port_))
    fail(e.line, "the stack sent a segment of another flow (" + first.src.to_string() + ":" +
                     std::to_string(first.segment.src_port) + " -> " + first.dst.to_string() + ":" +
                     std::to_string(first.segment.dst_port) + "): " + show(first));
  if (!local_port_known_) {
    local_port_ = first.segment.src_port;
    local_port_known_ = true;
  }
  if (p.syn && (first.view.flags & kSyn)) local_isn_ = first.segment.seq.value() - p.start;

  std::vector<const Emitted*> got{&first};
  std::size_t total = first.segment.payload.size();
  while (total < p.length && !got.back()->segment.payload.empty() &&
         !(got.back()->view.flags & (kFin | kSyn | kRst))) {
    const auto i = emitted_at(got.size(), any ? limit : want_hi);
    if (!i) break;
    const Emitted& n = queue_[*i];
    if (n.segment.payload.empty() ||
        n.segment.seq != got.back()->segment.seq + got.back()->segment.payload.size() ||
        (n.view.flags & (kSyn | kRst)))
      break;
    got.push_back(&n);
    total += n.segment.payload.size();
  }
  if (const std::string why = compare(p, got); !why.empty()) {
    std::string sent;
    for (const Emitted* g : got) sent += (sent.empty() ? "" : " + ") + show(*g);
    fail(e.line, why + ": expected " + expected + ", the stack sent " + sent);
  }
  const std::uint64_t actual = first.at_ns;
  queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(got.size()));
  anchor_ = previous_ = (any || e.time.window_end) ? us_of(actual) : lo;
}

std::string Session::compare(const Packet& want, const std::vector<const Emitted*>& got) {
  const Emitted& f = *got.front();
  const Emitted& l = *got.back();
  const auto flags =
      static_cast<std::uint8_t>((f.view.flags & ~(kFin | kPsh)) | (l.view.flags & (kFin | kPsh)));
  if (flags != flag_bits(want)) return "wrong flags";
  if (f.segment.seq.value() != static_cast<std::uint32_t>(local_isn_.value_or(0) + want.start))
    return "wrong sequence number";
  std::size_t total = 0;
  for (const Emitted* g : got) total += g->segment.payload.size();
  if (total != want.length) return "wrong payload length";
  for (const Emitted* g : got) {
    if (want.ack_flag) {
      if (want.ack && g->view.ack_field != static_cast<std::uint32_t>(remote_isn_.value_or(0) + *want.ack))
        return "wrong ack";
    } else if (g->view.ack_field != want.ack.value_or(0)) {
      return "wrong ack (the ACK flag is off, so the field must be " + std::to_string(want.ack.value_or(0)) +
             ")";
    }
    if (want.window && g->segment.window != *want.window) return "wrong window";
    if (want.options && describe(*g).options != want.options) return "wrong options";
  }
  return "";
}

Packet Session::describe(const Emitted& e) const {
  Packet p;
  p.direction = Packet::Direction::outbound;
  const std::uint8_t f = e.view.flags;
  p.syn = f & kSyn, p.fin = f & kFin, p.rst = f & kRst, p.psh = f & kPsh, p.ack_flag = f & kAck;
  p.urg = f & kUrg, p.ece = f & kEce, p.cwr = f & kCwr;
  const std::uint32_t isn = local_isn_.value_or(p.syn ? e.segment.seq.value() : 0);
  p.start = e.segment.seq.value() - isn;
  p.length = static_cast<std::uint32_t>(e.segment.payload.size());
  p.end = p.start + p.length;
  const std::uint32_t peer = remote_isn_.value_or(0);
  if (p.ack_flag)
    p.ack = e.view.ack_field - peer;
  else if (e.view.ack_field != 0)
    p.ack = e.view.ack_field;
  p.window = e.segment.window;
  std::vector<Option> options = e.view.options;
  for (Option& o : options)
    if (auto* s = std::get_if<OptSack>(&o))
      for (auto& [l, r] : s->blocks) l -= peer, r -= peer;
  p.options = std::move(options);
  return p;
}

std::string Session::show(const Emitted& e) const {
  return "> " + str(describe(e)) + " at " + at(e.at_ns);
}

Outcome run_script(const Script& script, const RunOptions& options) {
  std::vector<HeaderOption> all = script.options;
  all.insert(all.end(), options.overrides.begin(), options.overrides.end());
  const auto config = make_config(all);
  if (!config) {
    Outcome o;
    o.line = config.error().line;
    o.reason = config.error().message;
    return o;
  }
  return Session(script, *config, options.trace).run();
}

Outcome run_file(const std::string& path, const RunOptions& options) {
  const auto script = parse_file(path);
  if (!script) {
    Outcome o;
    o.line = script.error().line;
    o.reason = "parse error: " + script.error().message;
    return o;
  }
  return run_script(*script, options);
}

}  // namespace utcp::script
