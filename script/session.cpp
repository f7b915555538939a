// The executor: virtual time, inbound and outbound packets, blocking-call emulation.
#include "session.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <sstream>

#include "host.hpp"
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

namespace {

std::optional<OptTimestamp> timestamp_of(const std::vector<Option>& options) {
  for (const Option& o : options)
    if (const auto* ts = std::get_if<OptTimestamp>(&o)) return *ts;
  return std::nullopt;
}

}  // namespace

Session::Session(const Script& script, const RunConfig& config, std::ostream* trace)
    : script_(script), cfg_(config), trace_(trace) {
  const std::string addr = cfg_.local_ip.to_string();
  if (cfg_.test_faults == Config::TestFaults{}) {
    const utcp_host_config hc{
        addr.c_str(), cfg_.seed, cfg_.mtu,
        (cfg_.tcp_timestamps ? 0u : UTCP_HOST_NO_TIMESTAMPS) | (cfg_.tcp_sack ? 0u : UTCP_HOST_NO_SACK)};
    host_ = utcp_host_new(&hc);
  } else {
    // A planted bug (--test_fault) is no part of the C ABI: the same host, made from its C++
    // config, behind a C handle; every call still goes through the ABI.
    auto h = host::Host::create(host::HostConfig{cfg_.local_ip, cfg_.seed, cfg_.mtu, cfg_.tcp_timestamps,
                                                 cfg_.tcp_sack, cfg_.test_faults});
    if (h)
      host_ = host::wrap(std::move(*h));
    else
      errno = h.error();
  }
  local_port_ = cfg_.bind_port;
  remote_port_ = cfg_.remote_port;
}

Session::~Session() {
  if (host_ != nullptr) utcp_host_free(host_);
}

void Session::fail(int line, std::string reason) const {
  if (current_ != nullptr && current_->line == line && !current_->origin.empty())
    reason = "in " + current_->origin + ": " + reason;
  throw Failed{line, std::move(reason)};
}

void Session::fail_pending(std::string reason) const {
  if (!pending_->origin.empty()) reason = "in " + pending_->origin + ": " + reason;
  throw Failed{pending_->line, std::move(reason)};
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
      current_ = &e;
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
  trace("line " + std::to_string(pending_->line) + ": " + pending_->call->name + " returned " +
        std::to_string(r.value));
  const Event* running = std::exchange(current_, nullptr);  // the failure is the pending call's
  try {
    check_result(pending_->line, *pending_->call, r, pending_->expected_end, pending_->tolerance);
  } catch (Failed& f) {
    if (!pending_->origin.empty()) f.reason = "in " + pending_->origin + ": " + f.reason;
    pending_.reset();
    current_ = running;
    throw;
  }
  pending_.reset();
  current_ = running;
}

void Session::complete_pending() {
  for (int steps = 0; pending_; ++steps) {
    const auto w = next_wake();
    const std::uint64_t limit = ns_of(pending_->expected_end + pending_->tolerance);
    if (!w || *w > limit || steps > kMaxSteps)
      fail_pending("blocking " + str(*pending_->call) + ": expected to return at " +
                   micros(pending_->expected_end) + ", still blocked at " + at(std::max(now_ns_, limit)) +
                   (pending_->sync ? " (a call without 'T...E' blocks the script: none of its later "
                                     "events runs until it returns, as in packetdrill)"
                                   : ""));
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
  if (p.ack_flag && !p.ack) fail(e.line, "an inbound packet with the ACK flag needs 'ack A'");
  if (!p.options) fail(e.line, "'<...>' is for outbound packets only");

  // As packetdrill: the script's own sequence numbers go out as written (the peer's ISN is
  // whatever its SYN says); the ack field, and SACK blocks, are relative to the stack's ISN
  // once an outbound SYN taught it, absolute before (a script without a socket).
  const std::uint32_t local = local_isn_.value_or(0);
  TcpHeader h;
  h.src_port = remote_port_;
  h.dst_port = local_port_;
  h.seq = p.start;
  h.ack_field = p.ack_flag ? local + *p.ack : p.ack.value_or(0);
  h.flags = flag_bits(p);
  h.window = static_cast<std::uint16_t>(*p.window);
  h.options = *p.options;
  for (Option& o : h.options) {
    if (auto* sk = std::get_if<OptSack>(&o))
      for (auto& [l, r] : sk->blocks) l += local, r += local;
    if (auto* ts = std::get_if<OptTimestamp>(&o); ts && ts->echo != 0) ts->echo += local_ts_.value_or(0);
  }
  const std::vector<std::byte> tcp = build_tcp(h, p.length, cfg_.remote_ip, cfg_.local_ip);
  // The IP header comes from the host's framing of a placeholder segment as long as ours.
  Segment placeholder;
  placeholder.payload = Payload(std::string(tcp.size() - 20, '\0'));
  std::vector<std::byte> bytes = host::frame(Output{cfg_.remote_ip, cfg_.local_ip, placeholder});
  if (bytes.empty()) fail(e.line, "cannot frame the packet (too large?)");
  std::copy(tcp.begin(), tcp.end(), bytes.end() - static_cast<std::ptrdiff_t>(tcp.size()));
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
  // As packetdrill: the stack's ISN is learned once, from its first SYN (active open) or
  // SYN-ACK (passive); later SYNs, of this flow or another, are numbered relative to it.
  if (!local_isn_ && p.syn && (first.view.flags & kSyn)) local_isn_ = first.segment.seq.value() - p.start;
  if (!local_ts_ && p.options) {
    const auto want_ts = timestamp_of(*p.options);
    const auto got_ts = timestamp_of(first.view.options);
    if (want_ts && got_ts) local_ts_ = got_ts->value - want_ts->value;
  }
  ts_slack_ = static_cast<std::uint32_t>(tol / 1000 + 1);

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
      if (want.ack && g->view.ack_field != *want.ack) return "wrong ack";
    } else if (g->view.ack_field != want.ack.value_or(0)) {
      return "wrong ack (the ACK flag is off, so the field must be " + std::to_string(want.ack.value_or(0)) +
             ")";
    }
    if (want.window && g->segment.window != *want.window) return "wrong window";
    if (want.options) {
      std::vector<Option> sent = *describe(*g).options;
      // A TSval within the timing tolerance of the line's is the line's.
      const auto want_ts = timestamp_of(*want.options);
      for (Option& o : sent)
        if (auto* ts = std::get_if<OptTimestamp>(&o);
            ts && want_ts && std::min(ts->value - want_ts->value, want_ts->value - ts->value) <= ts_slack_)
          ts->value = want_ts->value;
      if (sent != *want.options) return "wrong options";
    }
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
  if (p.ack_flag || e.view.ack_field != 0) p.ack = e.view.ack_field;
  p.window = e.segment.window;
  p.options = e.view.options;
  for (Option& o : *p.options)
    if (auto* ts = std::get_if<OptTimestamp>(&o)) ts->value -= local_ts_.value_or(0);
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
