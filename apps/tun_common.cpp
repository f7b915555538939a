#include "tun_common.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <sstream>

#include "clock.hpp"
#include "host.hpp"
#include "options.hpp"

namespace utcp::apps {

namespace {

std::atomic<bool> g_stop{false};

extern "C" void on_signal(int) {
  g_stop.store(true);
}

constexpr int poll_slice_ms = 100;

}  // namespace

void install_signal_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

bool stop_requested() {
  return g_stop.load();
}

void add_common_options(CLI::App& cmd, CommonOptions& o) {
  cmd.add_option("--tun", o.tun, "TUN device to attach to, or to create (removed at exit)")->required();
  cmd.add_option("--ip", o.ip, "utcp's own IPv4 or IPv6 address")->required();
  cmd.add_option("--kernel-ip", o.kernel_ip,
                 "address/prefix for the kernel's side of the device, e.g. 10.77.0.1/24 (set via netlink)");
  cmd.add_option("--loss", o.loss, "drop this percentage of packets, each direction (2 or 2%)")
      ->transform(percent());
  cmd.add_option("--dup", o.dup, "duplicate this percentage of packets")->transform(percent());
  cmd.add_option("--reorder", o.reorder, "hold back (3 ms) this percentage of packets")->transform(percent());
  cmd.add_option("--delay", o.delay_ms, "add this one-way delay in milliseconds to every packet");
  cmd.add_option("--seed", o.seed, "seed of the impairment (loss, dup, reorder)");
  cmd.add_option("--pcap", o.pcap, "write every packet in and out to this pcap file");
  cmd.add_option("--mtu", o.mtu, "MTU of the device and the stack")->check(CLI::Range(576u, 65535u));
  cmd.add_flag("!--no-offload", o.offload,
               "no TUN offloads (IFF_VNET_HDR, TSO, checksum): one packet per read and write");
  cmd.add_option("--cc", o.cc,
                 "congestion control: cubic (RFC 9438 with HyStart++), reno (RFC 5681, 6582) or bbr "
                 "(draft-ietf-ccwg-bbr, paced)")
      ->check(congestion_control_name())
      ->capture_default_str();
  cmd.add_option("--sndbuf", o.sndbuf,
                 "send buffer of every connection in bytes (SO_SNDBUF; 0: the stack's default, 256 KiB)")
      ->check(CLI::Range(0u, 64u * 1024 * 1024));
  cmd.add_flag("!--no-timestamps", o.timestamps, "do not negotiate TCP timestamps (RFC 7323)");
  cmd.add_flag("!--no-sack", o.sack, "do not negotiate selective acknowledgments (RFC 2018)");
  cmd.add_flag("--verbose,-v", o.verbose, "print events and, at exit, the stack's counters");
}

void Session::configure(int fd, std::size_t shard) {
  utcp_setsockopt(host(shard), fd, IPPROTO_TCP, TCP_CONGESTION, options_.cc.c_str(),
                  static_cast<socklen_t>(options_.cc.size()));
  if (options_.sndbuf != 0) {
    const int size = static_cast<int>(options_.sndbuf);
    utcp_setsockopt(host(shard), fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
  }
}

std::string sockaddr_text(const sockaddr_storage& ss) {
  std::ostringstream os;
  if (const auto e = host::from_sockaddr(ss)) os << *e;
  return os.str();
}

std::optional<Endpoint> parse_endpoint(std::string_view text) {
  std::string_view host, port;
  if (text.starts_with('[')) {
    auto close = text.find("]:");
    if (close == std::string_view::npos) return std::nullopt;
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  auto ip = IpAddr::parse(host);
  unsigned p = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
  if (!ip || port.empty() || ec != std::errc{} || end != port.data() + port.size() || p == 0 || p > 65535) {
    return std::nullopt;
  }
  return Endpoint{*ip, static_cast<std::uint16_t>(p)};
}

// ---- Session ----

namespace {

// Why `ip` cannot be the address of a host on a point-to-point device, if it cannot.
std::optional<std::string> unusable_host_address(const IpAddr& ip) {
  const std::uint8_t* b = ip.data();
  const std::size_t n = ip.is_v4() ? 4 : 16;
  if (std::all_of(b, b + n, [](std::uint8_t x) { return x == 0; }))
    return "is the unspecified address: give utcp an address of its own, e.g. 10.77.0.2";
  if (ip.is_v4() && (b[0] & 0xf0) == 224) return "is a multicast address";
  if (ip.is_v4() && std::all_of(b, b + 4, [](std::uint8_t x) { return x == 0xff; }))
    return "is the broadcast address";
  if (ip.is_v4() && b[0] == 127)
    return "is a loopback address: the kernel never routes 127.0.0.0/8 to a device";
  if (ip.is_v6() && b[0] == 0xff) return "is a multicast address";
  if (ip.is_v6() && std::all_of(b, b + 15, [](std::uint8_t x) { return x == 0; }) && b[15] == 1)
    return "is the loopback address";
  return std::nullopt;
}

}  // namespace

CheckedOptions check_common_options(const CommonOptions& o) {
  CheckedOptions c;
  if (auto bad = io::invalid_device_name(o.tun)) throw UsageError("--tun '" + o.tun + "' " + *bad);
  auto ip = IpAddr::parse(o.ip);
  if (!ip) throw UsageError("bad address for --ip: '" + o.ip + "' (expected IPv4 or IPv6, no prefix)");
  if (auto why = unusable_host_address(*ip)) throw UsageError("--ip " + o.ip + " " + *why);
  c.ip = *ip;
  if (!o.kernel_ip.empty()) {
    auto cidr = io::Cidr::parse(o.kernel_ip);
    if (!cidr)
      throw UsageError("bad CIDR for --kernel-ip: '" + o.kernel_ip + "' (expected e.g. 10.77.0.1/24)");
    if (cidr->addr.is_v4() != ip->is_v4())
      throw UsageError("--ip " + o.ip + " and --kernel-ip " + o.kernel_ip + " are of different families");
    if (cidr->addr == *ip) throw UsageError("--ip and --kernel-ip must differ");
    if (!cidr->contains(*ip)) {
      throw UsageError("--ip " + o.ip + " is outside " + o.kernel_ip +
                       ": the kernel would not route to it through the device");
    }
    c.kernel = cidr;
  }
  return c;
}

std::expected<std::unique_ptr<Session>, std::string> Session::open(const CommonOptions& o) {
  const CheckedOptions checked = check_common_options(o);
  std::unique_ptr<Session> s(new Session());
  s->options_ = o;
  s->ip_ = checked.ip;
  s->kernel_ = checked.kernel;

  // The queues first: the first one creates the device (or finds it), the others join it.
  bool multi_queue = o.threads > 1;
  auto first = io::TunDevice::open(o.tun, io::TunOptions{.offload = o.offload, .multi_queue = multi_queue});
  if (!first && multi_queue) {
    std::cerr << "utcp: no multi-queue TUN device (" << first.error().message << "): one thread\n";
    multi_queue = false;
    first = io::TunDevice::open(o.tun, io::TunOptions{.offload = o.offload});
  }
  if (!first) return std::unexpected(first.error().message);
  if (!first->offload_note().empty())
    std::cerr << "utcp: no TUN offloads (" << first->offload_note() << "): one packet per read and write\n";
  s->shards_.resize(multi_queue ? o.threads : 1);
  s->shards_[0].tun.emplace(std::move(*first));
  const std::string name = s->shards_[0].tun->name();
  for (std::size_t k = 1; k < s->shards_.size(); ++k) {
    auto q = io::TunDevice::open(name, io::TunOptions{.offload = o.offload, .multi_queue = true});
    if (!q) return std::unexpected(q.error().message);
    if (q->vnet() != s->shards_[0].tun->vnet())
      return std::unexpected("queue " + std::to_string(k) + " of " + name + ": the offloads differ");
    s->shards_[k].tun.emplace(std::move(*q));
  }
  if (s->shards_.size() > 1 && o.steer) {
    // Equal numbers of connections per shard; the kernel's hash split 16 of them 9/7 to 13/3.
    auto st = io::TunSteering::load(static_cast<std::uint32_t>(s->shards_.size()));
    std::string note;
    if (st) {
      if (auto r = st->attach(s->shards_[0].tun->fd()); r) {
        s->steering_.emplace(std::move(*st));
      } else {
        note = r.error().message;
      }
    } else {
      note = st.error().message;
    }
    if (!note.empty())
      std::cerr << "utcp: no steering program for the queues (" << note
                << "): the kernel's flow hash picks each connection's queue\n";
  }

  io::DriverConfig dc;
  dc.impairment.loss = o.loss / 100;  // the options are percentages
  dc.impairment.duplicate = o.dup / 100;
  dc.impairment.reorder = o.reorder / 100;
  dc.impairment.delay_ns = std::uint64_t{o.delay_ms} * 1'000'000u;
  dc.impairment.seed = o.seed;
  if (!o.pcap.empty()) {
    auto w = io::PcapngWriter::open(o.pcap, std::string("utcp ") + UTCP_VERSION);
    if (!w) return std::unexpected(w.error().message);
    if (auto id = w->add_interface(name, "utcp on " + o.ip + ": in after the impairment, out before it"); !id)
      return std::unexpected(id.error().message);
    s->pcap_ = std::make_unique<io::PcapngWriter>(std::move(*w));
    timespec rt{};
    clock_gettime(CLOCK_REALTIME, &rt);
    s->pcap_epoch_ns_ = static_cast<std::int64_t>(rt.tv_sec) * 1'000'000'000 + rt.tv_nsec -
                        static_cast<std::int64_t>(io::monotonic_ns());
    Session* self = s.get();
    dc.tap = [self](std::span<const std::byte> p, bool outbound, std::uint64_t now) {
      std::lock_guard lk(self->pcap_mu_);
      if (self->pcap_error_) return;
      const auto r =
          self->pcap_->write(0, Duration(static_cast<std::int64_t>(now) + self->pcap_epoch_ns_), p,
                             outbound ? io::PacketDirection::outbound : io::PacketDirection::inbound);
      if (!r) {
        self->pcap_error_ = r.error().message;
        std::cerr << "utcp: " << *self->pcap_error_ << " (capture stopped)\n";
      }
    };
  }

  // A host and an I/O thread per queue: the same address, nothing shared but the capture.
  utcp_host_config cfg{};
  cfg.addr = o.ip.c_str();
  cfg.seed = 0;  // OS entropy
  cfg.mtu = o.mtu;
  cfg.flags = (o.timestamps ? 0u : UTCP_HOST_NO_TIMESTAMPS) | (o.sack ? 0u : UTCP_HOST_NO_SACK);
  for (std::size_t k = 0; k < s->shards_.size(); ++k) {
    Shard& sh = s->shards_[k];
    sh.host = utcp_host_new(&cfg);
    if (sh.host == nullptr)
      return std::unexpected(std::string("creating the utcp host: ") + std::strerror(errno));
    // The same seed on every queue: a flow meets the same losses whichever queue it lands on.
    dc.steering = s->steering_ ? &*s->steering_ : nullptr;
    dc.queue = static_cast<std::uint32_t>(k);
    sh.driver = std::make_unique<io::Driver>(sh.host, *sh.tun, dc);
    if (auto r = sh.driver->start(); !r) return std::unexpected(r.error().message);
  }
  return s;
}

std::expected<void, std::string> Session::bring_up() {
  const io::TunDevice& tun = *shards_[0].tun;
  if (!kernel_ && !tun.created()) return {};
  if (auto r = io::set_link_up(tun.index(), options_.mtu); !r) return std::unexpected(r.error().message);
  if (kernel_) {
    if (auto r = io::add_address(tun.index(), *kernel_); !r) return std::unexpected(r.error().message);
  }
  return {};
}

void Session::start_monitor(const ReportOptions& o) {
  std::vector<utcp_host*> hosts;
  for (const Shard& sh : shards_) hosts.push_back(sh.host);
  monitor_ = std::make_unique<Monitor>(std::move(hosts), o);
}

std::optional<std::string> Session::capture_error() const {
  std::lock_guard lk(pcap_mu_);
  return pcap_error_;
}

void Session::shutdown() {
  for (Shard& sh : shards_)
    if (sh.driver) sh.driver->stop();
  std::lock_guard lk(pcap_mu_);
  if (pcap_ && !pcap_closed_) {
    pcap_closed_ = true;
    if (auto r = pcap_->close(); !r && !pcap_error_) pcap_error_ = r.error().message;
  }
}

Session::~Session() {
  shutdown();
  monitor_.reset();  // its thread asks the hosts: before they go
  // Back to the kernel's steering while the queue it was attached through is open (a
  // persistent device outlives us).
  if (steering_) steering_->detach();
  for (Shard& sh : shards_) {
    sh.driver.reset();
    if (sh.host != nullptr) utcp_host_free(sh.host);
    // A device created here disappears with its last queue's descriptor.
    if (sh.tun) sh.tun->close();
  }
}

void Session::print_counters(std::ostream& os) const {
  for (std::size_t k = 0; k < shards_.size(); ++k) {
    if (shards_.size() > 1) os << "shard " << k << " (queue " << k << " of " << device() << "):\n";
    print_shard(os, shards_[k]);
  }
}

void Session::print_shard(std::ostream& os, const Shard& sh) const {
  utcp_host_stats st{};
  if (utcp_host_get_stats(sh.host, &st) == 0) {
    os << "tcp: segments in " << st.tcp_segments_in << ", out " << st.tcp_segments_out << ", retransmitted "
       << st.tcp_retransmits << ", resets sent " << st.tcp_resets_sent << ", received "
       << st.tcp_resets_received << ", dropped " << st.tcp_drops << ", connections open " << st.connections
       << "\n";
    os << "ip: packets in " << st.ip_in << ", out " << st.ip_out << ", to tcp " << st.tcp_in << ", icmp "
       << st.icmp_in << " (" << st.icmp_ignored << " ignored, " << st.pmtu_updates << " path MTU updates)";
    if (st.output_overflow > 0) os << ", output queue overflows " << st.output_overflow;
    if (st.accept_overflow > 0) os << ", accept queue overflows " << st.accept_overflow;
    os << "\n";
    bool any = false;
    for (int r = 0; r < UTCP_IP_DROP_REASONS; ++r) {
      if (st.ip_drops[r] == 0) continue;
      os << (any ? ", " : "ip drops: ") << utcp_ip_drop_name(r) << " " << st.ip_drops[r];
      any = true;
    }
    if (any) os << "\n";
  }
  // The core's counters in full: drops by reason, decode errors, challenge ACKs, cookies.
  std::string text(4096, '\0');
  ssize_t n = utcp_host_tcp_counters(sh.host, text.data(), text.size());
  if (n >= static_cast<ssize_t>(text.size())) {
    text.resize(static_cast<std::size_t>(n) + 1);
    n = utcp_host_tcp_counters(sh.host, text.data(), text.size());
  }
  if (n > 0) {
    text.resize(std::min(static_cast<std::size_t>(n), text.size() - 1));
    std::istringstream lines(text);
    std::string line;
    bool first = true;
    while (std::getline(lines, line)) {
      os << (first ? "tcp counters: " : ", ") << line;
      first = false;
    }
    os << "\n";
  }
  auto c = sh.driver->counters();
  if (sh.tun->vnet()) {
    utcp_host_stats g{};
    utcp_host_get_stats(sh.host, &g);
    os << "offloads: super-segments in " << g.gso_in << " (" << g.gso_segments_in << " segments), out "
       << g.gso_out << " (" << g.gso_segments_out << " segments), malformed headers "
       << g.vnet_errors + c.split_errors << "\n";
  } else {
    os << "offloads: off" << (options_.offload ? " (the kernel refused them)" : " (--no-offload)") << "\n";
  }
  os << "device " << sh.tun->name() << ": packets in " << c.packets_in << " (" << c.bytes_in << " bytes, "
     << c.rejected_in << " refused by the host), packets out " << c.packets_out << " (" << c.bytes_out
     << " bytes, " << c.tun_write_errors << " refused by the kernel; " << c.packets_out_by_loop
     << " by the I/O thread, the rest by the threads that kicked it), wakeups " << c.wakeups << " ("
     << c.wakeups_without_input << " without input)\n";
  if (const int tid = sh.driver->loop_tid(); tid != 0) {
    if (auto t = thread_sched(tid)) os << "I/O thread: " << to_string(*t) << "\n";
  }
  if (options_.loss > 0 || options_.dup > 0 || options_.reorder > 0) {
    os << "impairment in: lost " << c.impaired_in.lost << ", duplicated " << c.impaired_in.duplicated
       << ", reordered " << c.impaired_in.reordered << "; out: lost " << c.impaired_out.lost
       << ", duplicated " << c.impaired_out.duplicated << ", reordered " << c.impaired_out.reordered << "\n";
  }
}

// ---- Conn ----

Conn::Conn(Session& s, int fd, std::size_t shard, bool connected) : s_(&s), shard_(shard), fd_(fd) {
  utcp_fcntl(host(), fd, F_SETFL, O_NONBLOCK);
  if (connected) track();
}

void Conn::track() {
  const int fd = fd_.load();
  if (Monitor* m = s_->monitor()) {
    sockaddr_storage local{}, peer{};
    socklen_t ll = sizeof local, pl = sizeof peer;
    std::string name = "fd " + std::to_string(fd);
    if (utcp_getsockname(host(), fd, reinterpret_cast<sockaddr*>(&local), &ll) == 0 &&
        utcp_getpeername(host(), fd, reinterpret_cast<sockaddr*>(&peer), &pl) == 0)
      name = sockaddr_text(local) + "-" + sockaddr_text(peer);
    counters_ = m->track(host(), fd, std::move(name));
  }
}

Conn::Conn(Conn&& other) noexcept
    : s_(other.s_),
      shard_(other.shard_),
      fd_(other.fd_.exchange(-1)),
      counters_(std::move(other.counters_)) {}

Conn::~Conn() {
  close();
}

bool Conn::wait(short events) {
  waits_.fetch_add(1, std::memory_order_relaxed);
  for (;;) {
    if (stop_requested()) {
      errno = EINTR;
      return false;
    }
    if (cancelled_.load()) {
      errno = ECANCELED;
      return false;
    }
    pollfd p{fd_.load(), events, 0};
    if (p.fd < 0) {  // closed by another thread (an abort): nothing left to wait for
      errno = EBADF;
      return false;
    }
    int n = utcp_poll(host(), &p, 1, poll_slice_ms);
    if (n < 0 && errno != EINTR) return false;
    if (n > 0) return true;  // ready, or an error the next call reports
  }
}

ssize_t Conn::read_some(void* buf, std::size_t n) {
  for (;;) {
    ssize_t r = utcp_recv(host(), fd_.load(), buf, n, 0);
    int e = errno;
    kick();  // reading may open the window: a window update to send
    if (r > 0 && counters_) counters_->received.fetch_add(static_cast<std::uint64_t>(r));
    if (r >= 0) return r;
    if (e != EAGAIN && e != EWOULDBLOCK) {
      errno = e;
      return -1;
    }
    if (!wait(POLLIN)) return -1;
  }
}

bool Conn::write_all(const void* buf, std::size_t n) {
  auto* p = static_cast<const char*>(buf);
  while (n > 0) {
    ssize_t r = utcp_send(host(), fd_.load(), p, n, MSG_NOSIGNAL);
    int e = errno;
    kick();
    if (r > 0) {
      if (counters_) counters_->sent.fetch_add(static_cast<std::uint64_t>(r));
      p += r;
      n -= static_cast<std::size_t>(r);
      continue;
    }
    if (r < 0 && e != EAGAIN && e != EWOULDBLOCK) {
      errno = e;
      return false;
    }
    if (!wait(POLLOUT)) {
      if (stop_requested()) write_cut_.store(true);
      return false;
    }
  }
  return true;
}

bool Conn::write_all(const Payload& data) {
  host::Host& h = host::unwrap(host());
  std::size_t done = 0;
  while (done < data.size()) {
    const auto r = h.send(fd_.load(), done == 0 ? data : data.sub(done, data.size() - done), MSG_NOSIGNAL);
    kick();
    if (r) {
      if (counters_) counters_->sent.fetch_add(*r);
      done += *r;
      continue;
    }
    if (r.error() != EAGAIN) {
      errno = r.error();
      return false;
    }
    if (!wait(POLLOUT)) {
      if (stop_requested()) write_cut_.store(true);
      return false;
    }
  }
  return true;
}

bool Conn::shutdown_write() {
  int r = utcp_shutdown(host(), fd_.load(), SHUT_WR);
  kick();
  return r == 0;
}

void Conn::close() {
  if (write_cut_.load()) {
    abort();
  } else {
    close_fd();
  }
}

void Conn::abort() {
  int fd = fd_.load();
  if (fd < 0) return;
  linger l{1, 0};
  utcp_setsockopt(host(), fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  close_fd();
}

void Conn::close_fd() {
  std::unique_lock<std::mutex> lk;
  if (counters_) lk = std::unique_lock(counters_->mu);  // the monitor samples the descriptor under it
  int fd = fd_.exchange(-1);
  if (fd < 0) return;
  if (counters_ && s_->monitor()) s_->monitor()->closed(*counters_);
  utcp_close(host(), fd);
  kick();
}

std::expected<Conn, std::string> dial(Session& s, const Endpoint& to, int timeout_ms) {
  std::ostringstream where;
  where << to;
  if (to.ip.is_v4() != s.ip().is_v4()) {
    return std::unexpected("cannot reach " + where.str() + " from " + s.ip().to_string() +
                           ": different families");
  }
  int fd = utcp_socket(s.host(), s.family(), SOCK_STREAM, 0);
  if (fd < 0) return std::unexpected(std::string("socket: ") + std::strerror(errno));
  s.configure(fd);
  Conn c(s, fd, 0, /*connected=*/false);
  auto addr = host::to_sockaddr(to.ip, to.port);
  int r = utcp_connect(s.host(), fd, addr.get(), addr.len);
  int e = errno;
  s.kick();
  if (r < 0 && e != EINPROGRESS)
    return std::unexpected("connecting to " + where.str() + ": " + std::strerror(e));
  if (r < 0) {
    auto start = io::monotonic_ns();
    for (;;) {
      if (stop_requested()) return std::unexpected("connecting to " + where.str() + ": interrupted");
      pollfd p{fd, POLLOUT, 0};
      int n = utcp_poll(s.host(), &p, 1, poll_slice_ms);
      if (n > 0) break;
      if (n < 0 && errno != EINTR) return std::unexpected(std::string("poll: ") + std::strerror(errno));
      if (io::monotonic_ns() - start > std::uint64_t(timeout_ms) * 1'000'000u) {
        return std::unexpected("connecting to " + where.str() + ": no answer within " +
                               std::to_string(timeout_ms / 1000) + " s (peer unreachable?)");
      }
    }
    int err = 0;
    socklen_t len = sizeof err;
    if (utcp_getsockopt(s.host(), fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
    if (err == ECONNREFUSED) return std::unexpected("connecting to " + where.str() + ": connection refused");
    if (err != 0) return std::unexpected("connecting to " + where.str() + ": " + std::strerror(err));
  }
  c.track();
  return c;
}

Json session_start_json(const char* command, const Session& s) {
  Json start = Json::object();
  start.set("command", command);
  start.set("version", UTCP_VERSION);
  start.set("local", s.ip().to_string());
  start.set("device", s.device());
  return start;
}

std::optional<ThreadSched> thread_sched(int tid) {
  const std::string dir = "/proc/self/task/" + std::to_string(tid) + "/";
  std::FILE* f = std::fopen((dir + "status").c_str(), "r");
  if (f == nullptr) return std::nullopt;
  ThreadSched t;
  char line[256];
  unsigned long long v = 0, w = 0;
  while (std::fgets(line, sizeof line, f) != nullptr) {
    if (std::sscanf(line, "voluntary_ctxt_switches: %llu", &v) == 1) t.voluntary = v;
    if (std::sscanf(line, "nonvoluntary_ctxt_switches: %llu", &v) == 1) t.involuntary = v;
  }
  std::fclose(f);
  if ((f = std::fopen((dir + "schedstat").c_str(), "r")) != nullptr) {
    if (std::fscanf(f, "%llu %llu", &v, &w) == 2) t.run_ns = v, t.wait_ns = w;
    std::fclose(f);
  }
  return t;
}

std::string to_string(const ThreadSched& t) {
  return "context switches " + std::to_string(t.voluntary) + " voluntary, " + std::to_string(t.involuntary) +
         " involuntary; on a CPU " + std::to_string(t.run_ns / 1'000'000) + " ms, runnable " +
         std::to_string(t.wait_ns / 1'000'000) + " ms";
}

bool write_fd(int fd, const char* p, std::size_t n) {
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

std::string describe_errno(int e) {
  if (e == ECONNRESET) return "connection reset by peer";
  if (e == ETIMEDOUT) return "connection timed out";
  if (e == EINTR) return "interrupted";
  return std::strerror(e);
}

}  // namespace utcp::apps
