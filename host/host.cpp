// The host: construction, time, the network side (input, output, ICMP), core events, ports
// and the receive buffer. The socket calls are in host_calls.cpp and host_options.cpp.
#include "host.hpp"

#include <sys/random.h>

#include <cerrno>
#include <cstring>
#include <iterator>
#include <sstream>

#include "socket.hpp"
#include "utcp/checksum.hpp"
#include "utcp/detail/byte_order.hpp"
#include "utcp/detail/rng.hpp"

namespace utcp::host {

namespace {

constexpr std::size_t max_outbox = 16384;  // packets waiting for utcp_host_output
constexpr std::uint16_t ephemeral_low = 49152;
// The smallest link MTU the host takes: RFC 791 §3.2 (every IPv4 module forwards 68-octet
// datagrams unfragmented) and RFC 8200 §5.
constexpr std::uint32_t ipv4_min_mtu = 68;
constexpr std::uint32_t ipv6_min_mtu = 1280;
// The floor of a path MTU learned from ICMP: RFC 791 §3.1's 576 (every IPv4 host takes
// 576-byte datagrams), not RFC 1191's 68, as the core does: a smaller MSS only invites
// forged-ICMP throughput attacks. IPv6: its minimum MTU.
constexpr std::uint32_t ipv4_min_path_mtu = 576;

// SplitMix64 (the core's): expands one seed into independent-looking words.
using detail::splitmix64;

void os_entropy(void* buf, std::size_t n) {
  auto* p = static_cast<unsigned char*>(buf);
  while (n > 0) {
    const ssize_t got = ::getrandom(p, n, 0);
    if (got <= 0) {
      if (got < 0 && errno == EINTR) continue;
      break;  // no entropy source: keep what Config has
    }
    p += got;
    n -= static_cast<std::size_t>(got);
  }
}

// RFC 1122 §3.2.1.3 / RFC 4291 §2.7: sources that no packet may carry.
bool bad_source(const IpAddr& ip) {
  const std::uint8_t* b = ip.data();
  if (ip.is_v4()) {
    if (b[0] >= 224) return true;  // multicast, reserved, limited broadcast
    return b[0] == 0 && b[1] == 0 && b[2] == 0 && b[3] == 0;
  }
  if (b[0] == 0xff) return true;  // multicast
  for (std::size_t i = 0; i < 16; ++i) {
    if (b[i] != 0) return false;
  }
  return true;  // ::
}

}  // namespace

DerivedConfig derive_config(const HostConfig& hc) {
  DerivedConfig d;
  d.config.mtu = hc.mtu == 0 ? 1500 : hc.mtu;
  d.config.timestamps = hc.timestamps;
  d.config.sack = hc.sack;
  d.config.test_faults = hc.test_faults;
  if (hc.seed == 0) {
    os_entropy(&d.config.rng_seed, sizeof d.config.rng_seed);
    os_entropy(d.config.isn_secret.data(), d.config.isn_secret.size());
    os_entropy(&d.port_seed, sizeof d.port_seed);
  } else {
    std::uint64_t x = hc.seed;
    d.config.rng_seed = splitmix64(x);
    for (std::size_t i = 0; i < d.config.isn_secret.size(); i += 8) {
      const std::uint64_t w = splitmix64(x);
      for (std::size_t j = 0; j < 8; ++j)
        d.config.isn_secret[i + j] = static_cast<std::uint8_t>(w >> (8 * j));
    }
    d.port_seed = splitmix64(x);
  }
  return d;
}

SysResult<std::unique_ptr<Host>> Host::create(const HostConfig& hc) {
  const std::uint32_t mtu = hc.mtu == 0 ? 1500 : hc.mtu;
  if (mtu < (hc.addr.is_v4() ? ipv4_min_mtu : ipv6_min_mtu) || mtu > 65535) return std::unexpected(EINVAL);
  if (bad_source(hc.addr)) return std::unexpected(EINVAL);
  return std::unique_ptr<Host>(new Host(hc, derive_config(hc)));
}

Host::Host(const HostConfig& hc, const DerivedConfig& d)
    : addr_(hc.addr),
      mtu_(d.config.mtu),
      stack_(empty<Notify>([counter = std::make_shared<Notify>(0)] { return ++*counter; },
                           hc.addr.to_string(), d.config)),
      port_rng_(d.port_seed) {
  fds_.resize(3);
}

Host::~Host() = default;

Instant Host::instant() const {
  return Instant{} + std::chrono::nanoseconds(now_ns_);
}

std::uint64_t Host::now() {
  Lock lk(mu_);
  return now_ns_;
}

SysResult<Host::SocketPtr> Host::lookup(int fd) const {
  if (fd < 0 || static_cast<std::size_t>(fd) >= fds_.size() || !fds_[static_cast<std::size_t>(fd)]) {
    return std::unexpected(EBADF);
  }
  return fds_[static_cast<std::size_t>(fd)];
}

bool Host::wait(Lock& lk, std::optional<std::uint64_t> deadline, Socket* on) {
  if (deadline && now_ns_ >= *deadline) return false;
  if (deadline) wait_deadline_ = std::min(wait_deadline_, *deadline);
  if (on == nullptr) {
    ++cv_waiters_;
    cv_.wait(lk);
    --cv_waiters_;
    return true;
  }
  if (on->waiters++ == 0) waiting_.push_back(on);
  on->cv.wait(lk);
  if (--on->waiters == 0) {
    const auto it = std::find(waiting_.begin(), waiting_.end(), on);
    *it = waiting_.back();
    waiting_.pop_back();
  }
  return true;
}

void Host::wake() {
  if (cv_waiters_ > 0) cv_.notify_all();
  for (Socket* s : waiting_) s->cv.notify_all();
}

void Host::wake_socket(Socket& s) {
  if (s.waiters > 0) s.cv.notify_all();
  if (cv_waiters_ > 0) cv_.notify_all();
}

std::optional<std::uint64_t> Host::deadline_after(std::chrono::nanoseconds timeout) const {
  if (timeout.count() <= 0) return std::nullopt;
  return now_ns_ + static_cast<std::uint64_t>(timeout.count());
}

// ---- time ----

void Host::set_time(std::uint64_t now_ns) {
  Lock lk(mu_);
  if (now_ns > now_ns_) now_ns_ = now_ns;
  run_timers();
  if (now_ns_ >= wait_deadline_) {
    wait_deadline_ = UINT64_MAX;  // the waiters that still wait register theirs again
    wake_due_ = true;
  }
  wake_if_due();
}

void Host::set_clock(std::uint64_t now_ns) {
  Lock lk(mu_);
  if (now_ns > now_ns_) now_ns_ = now_ns;
}

void Host::run_timers() {
  const auto due = utcp::next_deadline(stack_);
  if (!due || *due > instant()) return;
  auto r = utcp::timer(std::move(stack_), instant());
  stack_ = std::move(r.state);
  for (const auto& d : r.drops) on_timer_drop(d);
  if (!r.drops.empty()) wake_due_ = true;
  emit(std::move(r.out));
}

std::optional<std::uint64_t> Host::next_deadline() {
  Lock lk(mu_);
  const auto d = utcp::next_deadline(stack_);
  if (!d) return std::nullopt;
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(*d - Instant{}).count();
  return ns < 0 ? 0 : static_cast<std::uint64_t>(ns);
}

// ---- output ----

void Host::emit_one(Output&& o) {
  if (outbox_.size() - outbox_head_ >= max_outbox) {
    ++counters_.output_overflow;
    return;
  }
  if (!framable(o)) return;
  if (outbox_head_ > 0 && outbox_.size() == outbox_.capacity()) {
    // Full: move the waiting ones to the front instead of growing.
    outbox_.erase(outbox_.begin(), outbox_.begin() + static_cast<std::ptrdiff_t>(outbox_head_));
    outbox_head_ = 0;
  }
  outbox_.push_back(std::move(o));
  ++counters_.ip_out;
}

void Host::emit(std::vector<Output>&& out) {
  for (Output& o : out) emit_one(std::move(o));
}

void Host::pop_outputs(std::size_t n) {
  outbox_head_ += n;
  if (outbox_head_ == outbox_.size()) {
    outbox_.clear();  // keeps the capacity
    outbox_head_ = 0;
  }
}

SysResult<std::size_t> Host::output(std::span<std::byte> buf) {
  Lock lk(mu_);
  if (outbox_head_ == outbox_.size()) return std::unexpected(EAGAIN);
  const Output& o = outbox_[outbox_head_];
  if (framed_size(o) > buf.size()) return std::unexpected(EMSGSIZE);
  const std::size_t n = frame_into(buf, o);  // the IP header, then the segment encoded in place
  pop_outputs(1);
  return n;
}

SysResult<std::size_t> Host::output_vnet(std::span<std::byte> buf) {
  Lock lk(mu_);
  if (outbox_head_ == outbox_.size()) return std::unexpected(EAGAIN);
  if (buf.size() <= VnetHeader::size) return std::unexpected(EMSGSIZE);
  const std::span<const Output> waiting(outbox_.data() + outbox_head_, outbox_.size() - outbox_head_);
  const std::size_t n = coalescible(waiting, std::min(max_super_packet, buf.size() - VnetHeader::size));
  const std::span<const Output> run = waiting.first(n);
  if (super_framed_size(run) > buf.size()) return std::unexpected(EMSGSIZE);
  const std::size_t written = frame_super_into(buf, run);
  if (n > 1) {
    ++counters_.gso_out;
    counters_.gso_segments_out += n;
  }
  pop_outputs(n);
  return written;
}

std::size_t Host::take_output_runs(std::vector<Output>& outs, std::vector<std::uint32_t>& runs) {
  Lock lk(mu_);
  const std::size_t waiting = outbox_.size() - outbox_head_;
  if (waiting == 0) return 0;
  std::span<const Output> rest(outbox_.data() + outbox_head_, waiting);
  while (!rest.empty()) {
    const std::size_t n = coalescible(rest);
    runs.push_back(static_cast<std::uint32_t>(n));
    if (n > 1) {
      ++counters_.gso_out;
      counters_.gso_segments_out += n;
    }
    rest = rest.subspan(n);
  }
  const auto from = outbox_.begin() + static_cast<std::ptrdiff_t>(outbox_head_);
  outs.insert(outs.end(), std::make_move_iterator(from), std::make_move_iterator(outbox_.end()));
  pop_outputs(waiting);
  return waiting;
}

// ---- input ----

SysResult<void> Host::input(std::span<const std::byte> datagram) {
  Lock lk(mu_);
  const bool ok = input_locked(datagram);
  wake_if_due();
  if (!ok) return std::unexpected(EINVAL);
  return {};
}

SysResult<std::size_t> Host::input_vnet(std::span<const std::byte> frame) {
  Lock lk(mu_);
  std::size_t ok = 0;
  // The kernel verified the TCP checksum, or built the packet itself (docs/HOST.md "Checksums"):
  // the splitter does not fill in the segments' checksums and the core does not verify them.
  const bool trusted = frame.size() >= VnetHeader::size && kernel_checked(VnetHeader::read(frame));
  const ChecksumCheck check = trusted ? ChecksumCheck::trusted : ChecksumCheck::verify;
  const auto n = splitter_.split(
      frame, [&](std::span<const std::byte> p) { ok += input_locked(p, check) ? 1 : 0; },
      trusted ? SegmentChecksums::leave : SegmentChecksums::fill);
  if (!n) {
    ++counters_.vnet_errors;
    return std::unexpected(EINVAL);
  }
  if (*n > 1) {
    ++counters_.gso_in;
    counters_.gso_segments_in += *n;
  }
  wake_if_due();
  if (ok == 0) return std::unexpected(EINVAL);
  return ok;
}

bool Host::input_locked(std::span<const std::byte> datagram, ChecksumCheck check) {
  ++counters_.ip_in;
  auto p = parse_ip(datagram);
  if (!p) {
    count_drop(p.error());
    return false;
  }
  if (p->dst != addr_) {
    count_drop(IpError::wrong_destination);
    return false;
  }
  if (bad_source(p->src)) {
    count_drop(IpError::bad_source);
    return false;
  }
  if (p->protocol == ip_proto_tcp) {
    input_tcp(*p, check);
    return true;
  }
  const std::size_t before = ip_drops_[static_cast<std::size_t>(IpError::bad_icmp)];
  wake_due_ = true;  // a smaller MSS, or an error for a socket
  input_icmp(*p);
  return ip_drops_[static_cast<std::size_t>(IpError::bad_icmp)] == before;
}

void Host::input_tcp(const IpPacket& p, ChecksumCheck check) {
  ++counters_.tcp_in;
  const bool ports = p.payload.size() >= 4;
  const Flow flow = ports ? Flow(Endpoint{p.dst, detail::load_be16(p.payload, 2)},
                                 Endpoint{p.src, detail::load_be16(p.payload, 0)})
                          : Flow();
  // The socket sees ECONNRESET when the core counts the connection as dropped by the segment.
  // An RST that ends CLOSING or LAST-ACK completes a close for the core (RFC 9293
  // §3.10.7.4), but Linux and the BSDs report it as ECONNRESET too, after the end of stream
  // (the peer's FIN came first), so the host does as well.
  SocketPtr closing;
  if (p.payload.size() >= 14 && (std::to_integer<unsigned>(p.payload[13]) & 0x04) != 0) {
    if (const auto it = by_flow_.find(flow); it != by_flow_.end()) {
      const auto inf = utcp::info(stack_, flow);
      if (inf && (inf->state == TcpState::closing || inf->state == TcpState::last_ack)) closing = it->second;
    }
  }
  // A pure ACK (a header without SYN, FIN or RST) without an event changes only its
  // connection's send space for a waiter; it wakes them when it makes the socket writable
  // (revents), not for each ACK of a stream.
  const bool pure_ack = p.payload.size() >= 20 && (std::to_integer<unsigned>(p.payload[13]) & 0x07) == 0 &&
                        std::size_t{std::to_integer<unsigned>(p.payload[12]) >> 4} * 4 == p.payload.size();
  SocketPtr sock;  // kept: on_event may take it out of by_flow_
  if (const auto it = by_flow_.find(flow); it != by_flow_.end()) sock = it->second;
  const bool watched = pure_ack && sock && sock->phase == Socket::Phase::connected;
  bool was_writable = false;
  if (watched) {
    const auto inf = utcp::info(stack_, flow);
    was_writable = !inf || writable(*inf);
  }
  const Stats& before = utcp::stats(stack_);
  const std::uint64_t dropped_before = before.connections_dropped, resets_before = before.resets_received;
  auto r = utcp::handle_buf(std::move(stack_), instant(), p.src, p.dst, p.payload, check);
  stack_ = std::move(r.state);
  // A Signal (readable, or send space back) concerns its own socket only: it takes the rules
  // of a segment without an event below, not the wake of every waiter of the host (which woke
  // a blocked accept, and every other connection's thread, once per refill of a stream).
  const bool others = r.event && !std::holds_alternative<Signal<Notify>>(*r.event);
  if (others) {
    wake_due_ = true;
  } else if (sock && !watched) {
    wake_socket(*sock);
  } else if (watched) {
    const auto inf = utcp::info(stack_, flow);
    if (!inf || writable(*inf) != was_writable) wake_socket(*sock);
  }
  const Stats& after = utcp::stats(stack_);
  const bool closing_reset = closing && after.resets_received != resets_before;
  const bool reset_seen = after.connections_dropped != dropped_before || closing_reset;
  emit(std::move(r.out));
  if (r.event) on_event(*r.event, reset_seen);
  if (closing_reset && closing->phase == Socket::Phase::gone) closing->eof = true;
  if (ports) keep_after_fin(flow);
}

// Once the peer's FIN is in, the window no longer matters, and the core may delete the flow
// with its unread bytes (TIME-WAIT's end, an RST in CLOSING) while the application can still
// read them, as a BSD socket can. So the host takes them all at once.
void Host::keep_after_fin(const Flow& flow) {
  const auto it = by_flow_.find(flow);
  if (it == by_flow_.end()) return;
  Socket& s = *it->second;
  if (s.phase != Socket::Phase::connected || s.eof || s.read_shut) return;
  const auto inf = utcp::info(stack_, flow);
  if (inf && inf->fin_received && inf->recv_queued > 0) pull(s, SIZE_MAX);
}

// RFC 792 type 3 code 4 (RFC 1191) and RFC 4443 §3.2 Packet Too Big (RFC 8201), checked as
// RFC 5927 §4.1 asks: the quoted header must name a flow of ours; the core's path_mtu then
// checks the quoted sequence number is unacknowledged.
void Host::input_icmp(const IpPacket& p) {
  const bool v4 = p.src.is_v4();
  const std::span<const std::byte> m = p.payload;
  if (m.size() < 8) {
    count_drop(IpError::bad_icmp);
    return;
  }
  if (v4) {
    if (internet_checksum(m) != 0) {
      count_drop(IpError::bad_icmp);
      return;
    }
  } else {
    // RFC 4443 §2.3: the checksum covers an IPv6 pseudo-header with next header 58.
    std::array<std::byte, 40> pseudo{};
    for (std::size_t i = 0; i < 16; ++i) {
      pseudo[i] = static_cast<std::byte>(p.src.data()[i]);
      pseudo[16 + i] = static_cast<std::byte>(p.dst.data()[i]);
    }
    const auto len = static_cast<std::uint32_t>(m.size());
    pseudo[32] = static_cast<std::byte>(len >> 24);
    pseudo[33] = static_cast<std::byte>(len >> 16);
    pseudo[34] = static_cast<std::byte>(len >> 8);
    pseudo[35] = static_cast<std::byte>(len);
    pseudo[39] = std::byte{ip_proto_icmpv6};
    if (ones_sum(m, ones_sum(pseudo)) != 0xffff) {
      count_drop(IpError::bad_icmp);
      return;
    }
  }
  ++counters_.icmp_in;
  const auto type = std::to_integer<unsigned>(m[0]);
  const auto code = std::to_integer<unsigned>(m[1]);
  std::uint32_t mtu = 0;
  std::span<const std::byte> quote = m.subspan(8);
  std::size_t tcp_at = 0;
  IpAddr qsrc, qdst;
  if (v4) {
    if (type != 3 || code != 4) {
      ++counters_.icmp_ignored;
      return;
    }
    mtu = detail::load_be16(m, 6);
    if (quote.size() < 20 || (std::to_integer<unsigned>(quote[0]) >> 4) != 4) {
      ++counters_.icmp_ignored;
      return;
    }
    tcp_at = std::size_t{std::to_integer<unsigned>(quote[0]) & 0xfu} * 4;
    if (tcp_at < 20 || std::to_integer<unsigned>(quote[9]) != ip_proto_tcp) {
      ++counters_.icmp_ignored;
      return;
    }
    qsrc = ip_addr_at(quote, 12, true);
    qdst = ip_addr_at(quote, 16, true);
  } else {
    if (type != 2 || code != 0) {
      ++counters_.icmp_ignored;
      return;
    }
    mtu = detail::load_be32(m, 4);
    if (quote.size() < 40 || (std::to_integer<unsigned>(quote[0]) >> 4) != 6 ||
        std::to_integer<unsigned>(quote[6]) != ip_proto_tcp) {
      ++counters_.icmp_ignored;
      return;
    }
    tcp_at = 40;
    qsrc = ip_addr_at(quote, 8, false);
    qdst = ip_addr_at(quote, 24, false);
  }
  // The quote holds at least the first 8 bytes of the TCP header: ports and sequence number.
  if (quote.size() < tcp_at + 8 || qsrc != addr_) {
    ++counters_.icmp_ignored;
    return;
  }
  const Flow flow(Endpoint{qsrc, detail::load_be16(quote, tcp_at)},
                  Endpoint{qdst, detail::load_be16(quote, tcp_at + 2)});
  apply_path_mtu(flow, mtu, Seq(detail::load_be32(quote, tcp_at + 4)));
}

void Host::apply_path_mtu(const Flow& flow, std::uint32_t mtu, Seq seq) {
  // RFC 1191 §4: never raise the estimate from an ICMP message; a zero MTU (a pre-RFC 1191
  // router) carries no estimate. The floor: ipv4_min_path_mtu, ipv6_min_mtu.
  const auto before = utcp::info(stack_, flow);
  if (mtu == 0 || mtu >= mtu_ || !before) {
    ++counters_.icmp_ignored;
    return;
  }
  mtu = std::max(mtu, flow.local().ip.is_v4() ? ipv4_min_path_mtu : ipv6_min_mtu);
  auto r = utcp::path_mtu(std::move(stack_), instant(), flow, mtu, seq);
  if (!r) {
    ++counters_.icmp_ignored;
    return;
  }
  stack_ = std::move(r->state);
  emit(std::move(r->out));
  // The core ignores a quote outside the data in flight (RFC 5927 §4.1) without an error.
  const auto after = utcp::info(stack_, flow);
  ++(after && after->mss < before->mss ? counters_.pmtu_updates : counters_.icmp_ignored);
}

// ---- core events ----

void Host::connection_gone(Socket& s, int error) {
  by_flow_.erase(s.flow);
  s.phase = Socket::Phase::gone;
  if (error != 0) s.error = error;
}

void Host::on_event(const Event<Notify>& ev, bool reset_seen) {
  if (const auto* est = std::get_if<Established<Notify>>(&ev)) {
    if (auto it = by_flow_.find(est->flow); it != by_flow_.end()) {
      Socket& s = *it->second;
      if (s.phase == Socket::Phase::connecting) {
        s.phase = Socket::Phase::connected;
        s.connect_unreported = s.nonblocking;
      }
      return;
    }
    if (est->notify) return;  // an active open whose socket was closed meanwhile
    // A passive open completed: into its listener's accept queue, or reset when there is no
    // listener any more or its queue is full (as Linux does with tcp_abort_on_overflow).
    auto l = listeners_.find(est->flow.local().port);
    if (l != listeners_.end() &&
        l->second->accept_queue.size() < static_cast<std::size_t>(l->second->backlog)) {
      l->second->accept_queue.push_back(est->flow);
      return;
    }
    ++counters_.accept_overflow;
    if (auto r = utcp::abort(std::move(stack_), instant(), est->flow)) {
      stack_ = std::move(r->state);
      emit(std::move(r->out));
    }
    return;
  }
  if (const auto* drop = std::get_if<Drop<Notify>>(&ev)) {
    if (auto it = by_flow_.find(drop->flow); it != by_flow_.end()) {
      Socket& s = *it->second;
      const bool connecting = s.phase == Socket::Phase::connecting;
      connection_gone(s, reset_seen || connecting ? (connecting ? ECONNREFUSED : ECONNRESET) : 0);
      return;
    }
    if (auto l = listeners_.find(drop->flow.local().port); l != listeners_.end()) {
      std::erase(l->second->accept_queue, drop->flow);
    }
  }
  // Signal: input_tcp woke the flow's own socket (or not: a pure ACK that left it unwritable).
}

void Host::on_timer_drop(const TimerDrop<Notify>& d) {
  auto it = by_flow_.find(d.flow);
  if (it == by_flow_.end()) {
    if (auto l = listeners_.find(d.flow.local().port); l != listeners_.end()) {
      std::erase(l->second->accept_queue, d.flow);
    }
    return;
  }
  const bool timed_out =
      d.error == TimerError::retransmission_exceeded || d.error == TimerError::timer_connection_established;
  connection_gone(*it->second, timed_out ? ETIMEDOUT : 0);
}

// ---- ports ----
// A port is held strongly by a socket bound to it (bind, listen) and weakly by connections
// (connected sockets, accepted ones, and the core's flows without a socket, such as
// TIME-WAIT). bind() conflicts with a strong holder always and with a weak one unless the
// binding socket has SO_REUSEADDR.

bool Host::port_free(std::uint16_t port, bool reuse) const {
  if (auto it = strong_ports_.find(port); it != strong_ports_.end() && it->second > 0) return false;
  if (reuse) return true;
  if (auto it = weak_ports_.find(port); it != weak_ports_.end() && it->second > 0) return false;
  if (utcp::listening(stack_, port)) return false;
  for (const Flow& f : utcp::flows(stack_)) {
    if (f.local().port == port) return false;
  }
  return true;
}

// RFC 6056 §3.3.2 (algorithm 2): a random start, then the next free port.
std::optional<std::uint16_t> Host::ephemeral_port() {
  constexpr std::uint32_t range = 65536 - ephemeral_low;
  const auto start = static_cast<std::uint32_t>(splitmix64(port_rng_) % range);
  for (std::uint32_t i = 0; i < range; ++i) {
    const auto port = static_cast<std::uint16_t>(ephemeral_low + (start + i) % range);
    if (port_free(port, false)) return port;
  }
  return std::nullopt;
}

void Host::release_port(Socket& s) {
  if (!s.port) return;
  auto& table = s.port_strong ? strong_ports_ : weak_ports_;
  if (auto it = table.find(*s.port); it != table.end() && --it->second == 0) table.erase(it);
  s.port.reset();
}

// ---- receiving ----
// The core's recv hands over everything it has queued, so partial reads and MSG_PEEK need
// bytes held here. They count against the socket's receive buffer R: whenever the host
// holds H bytes, the core's buffer for the flow is R - H, so the window it advertises never
// promises more than R minus what the host holds. A read that wants n bytes takes the core's
// Z queued bytes with the core's buffer set to R - max(0, H + Z - n) first: what the reader
// takes at once never lowers the window, so a read as large as the queue reopens the window
// in the core's own recv (with a window update). Bytes consumed from the host buffer raise
// the core's buffer again (resize), so the window only grows between pulls: it never
// retracts.

std::uint32_t Host::recv_buffer_of(const Socket& s) const {
  return s.options.recv_buffer.value_or(utcp::config(stack_).recv_buffer);
}

void Host::resize(Socket& s, std::size_t held) {
  const std::uint32_t full = recv_buffer_of(s);
  // The core takes no buffer below one byte; 1 is as close to a closed window as it gets.
  const std::uint32_t target = held >= full ? 1 : full - static_cast<std::uint32_t>(held);
  if (target == s.core_recv_buffer) return;
  FlowOptions o;
  o.recv_buffer = target;
  auto r = utcp::set_options(std::move(stack_), s.flow, o);
  if (!r) return;
  stack_ = std::move(*r);
  const bool grew = target > s.core_recv_buffer;
  s.core_recv_buffer = target;
  // A grown buffer may owe the peer a window update (§3.8.6.2.2). With nothing queued in the
  // core, its recv sends one when due and takes no data; with data queued, the next pull's
  // recv does.
  if (!grew) return;
  const auto inf = utcp::info(stack_, s.flow);
  if (!inf || inf->recv_queued != 0 || inf->fin_received) return;
  if (auto rr = utcp::recv(std::move(stack_), instant(), s.flow)) {
    stack_ = std::move(rr->state);
    emit(std::move(rr->out));
  }
}

void Host::pull(Socket& s, std::size_t want) {
  if (s.phase != Socket::Phase::connected || s.eof || s.read_shut) return;
  const auto inf = utcp::info(stack_, s.flow);
  if (!inf) {
    connection_gone(s, 0);
    return;
  }
  if (inf->recv_queued == 0 && !inf->fin_received) {
    resize(s, s.buffered());
    return;
  }
  const std::size_t after = s.buffered() + inf->recv_queued;
  resize(s, after > want ? after - want : 0);
  auto r = utcp::recv(std::move(stack_), instant(), s.flow);
  if (!r) {
    if (r.error().kind == Error::Kind::eof) {
      s.eof = true;
    } else if (r.error().kind == Error::Kind::not_found) {
      connection_gone(s, 0);
    }
    return;
  }
  stack_ = std::move(r->state);
  for (const Payload& chunk : r->data) chunk.append_to(s.rbuf);
  emit(std::move(r->out));
}

std::optional<ConnInfo> Host::conn_info(int fd) {
  Lock lk(mu_);
  auto s = lookup(fd);
  if (!s || !(*s)->has_flow()) return std::nullopt;
  return utcp::info(stack_, (*s)->flow);
}

std::size_t Host::open_sockets() {
  Lock lk(mu_);
  std::size_t n = 0;
  for (const auto& s : fds_) n += s ? 1 : 0;
  return n;
}

utcp_host_stats Host::stats() {
  Lock lk(mu_);
  utcp_host_stats out = counters_;
  for (std::size_t i = 0; i < ip_drops_.size(); ++i) out.ip_drops[i] = ip_drops_[i];
  const Stats& st = utcp::stats(stack_);
  out.tcp_segments_in = st.segments_in;
  out.tcp_segments_out = st.segments_out;
  out.tcp_retransmits = st.retransmits_rto + st.retransmits_fast;
  out.tcp_resets_sent = st.resets_sent;
  out.tcp_resets_received = st.resets_received;
  out.tcp_drops = st.total_drops();
  out.connections = utcp::num_connections(stack_);
  out.tcp_tail_loss_probes = st.tail_loss_probes;
  out.tcp_dsacks_received = st.dsacks_received;
  out.tcp_dsacks_sent = st.dsacks_sent;
  out.tcp_sack_blocks_ignored = st.sack_blocks_ignored;
  out.tcp_recoveries_undone = st.recoveries_undone;
  return out;
}

std::string Host::tcp_counters() {
  Lock lk(mu_);
  std::ostringstream os;
  os << utcp::stats(stack_);
  return os.str();
}

std::uint64_t Host::ip_drops(IpError e) {
  Lock lk(mu_);
  return ip_drops_[static_cast<std::size_t>(e)];
}

}  // namespace utcp::host
