#include "driver.hpp"

#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>

#include "clock.hpp"

namespace utcp::io {

namespace {

// A frame: the virtio_net_hdr and an IP packet of up to 64 KiB (IPv6's payload length does
// not count its 40-byte header).
constexpr std::size_t max_frame = UTCP_VNET_FRAME_MAX + 40;
constexpr int batch = 64;  // datagrams read per wakeup before timers run again

// Set on the loop thread: its writes are counted apart from the kicking threads'.
thread_local bool on_loop_thread = false;

// The frame that one thread's writes go through: each writing thread has its own.
std::span<std::byte> frame_buffer() {
  alignas(8) static thread_local std::array<std::byte, max_frame> buf;
  return buf;
}

}  // namespace

Driver::Driver(utcp_host* host, TunDevice& tun, DriverConfig config)
    : host_(host),
      tun_(tun),
      config_(std::move(config)),
      in_(config_.impairment, 0),
      out_(config_.impairment, 1),
      per_packet_(config_.impairment.any() || config_.tap != nullptr),
      direct_(!per_packet_ && tun_.vnet()),
      host_cpp_(host::unwrap(host)) {}

Driver::~Driver() {
  stop();
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
  if (event_fd_ >= 0) ::close(event_fd_);
}

IoResult<void> Driver::start() {
  event_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (event_fd_ < 0) return std::unexpected(errno_error("eventfd"));
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) return std::unexpected(errno_error("epoll_create1"));
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = tun_.fd();
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, tun_.fd(), &ev) < 0)
    return std::unexpected(errno_error("epoll_ctl"));
  ev.data.fd = event_fd_;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, event_fd_, &ev) < 0)
    return std::unexpected(errno_error("epoll_ctl"));
  utcp_host_set_time(host_, monotonic_ns());
  running_.store(true);
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "utcp-io");  // for top -H, perf and scripts/device_cpu.sh
    run();
  });
  return {};
}

void Driver::stop() {
  if (!thread_.joinable()) return;
  running_.store(false);  // kicks wake the loop from now on, which drains once more
  stopping_.store(true);
  kick();
  thread_.join();
}

void Driver::kick() {
  if (direct_ && running_.load()) {
    drain_shared();
    // The call may have armed a timer the sleeping loop does not know of: the retransmission
    // or probe timer of data sent after an idle spell, a paced flow's next send. Without a wake
    // it would fire at the next packet or at the loop's safety net, up to 500 ms late. The loop
    // publishes its wake-up before it reads the deadline again (run), so either it sees this
    // call's deadline or this call sees its wake-up.
    const std::int64_t due = utcp_host_next_deadline(host_);
    if (due >= 0 && static_cast<std::uint64_t>(due) < sleep_until_.load()) wake();
    return;
  }
  wake();
}

void Driver::wake() {
  if (event_fd_ < 0 || kicked_.exchange(true)) return;
  std::uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(event_fd_, &one, sizeof one);
}

void Driver::count_out(bool written, std::size_t bytes) {
  if (written) {
    counters_.packets_out.fetch_add(1, std::memory_order_relaxed);
    counters_.bytes_out.fetch_add(bytes, std::memory_order_relaxed);
    if (on_loop_thread) counters_.packets_out_by_loop.fetch_add(1, std::memory_order_relaxed);
  } else {
    counters_.tun_write_errors.fetch_add(1, std::memory_order_relaxed);
  }
}

void Driver::to_tun(std::span<const std::byte> packet) {
  count_out(tun_.write_packet(packet), packet.size());
}

void Driver::to_host(std::span<const std::byte> packet, std::uint64_t now) {
  if (config_.tap) config_.tap(packet, false, now);
  counters_.packets_in.fetch_add(1, std::memory_order_relaxed);
  counters_.bytes_in.fetch_add(packet.size(), std::memory_order_relaxed);
  if (utcp_host_input(host_, packet.data(), packet.size()) < 0) {
    counters_.rejected_in.fetch_add(1, std::memory_order_relaxed);
  }
  drain_output(now);
}

// One frame read from the device.
void Driver::from_tun(std::span<const std::byte> frame, std::uint64_t now) {
  auto sink_in = [this, now](std::span<const std::byte> p) { to_host(p, now); };
  if (!tun_.vnet()) {
    in_.push(frame, now, sink_in);
    return;
  }
  if (per_packet_) {
    auto n = splitter_.split(frame, [&](std::span<const std::byte> p) { in_.push(p, now, sink_in); });
    if (!n) counters_.split_errors.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  counters_.packets_in.fetch_add(1, std::memory_order_relaxed);
  counters_.bytes_in.fetch_add(frame.size() - UTCP_VNET_HDR_LEN, std::memory_order_relaxed);
  if (utcp_host_input_vnet(host_, frame.data(), frame.size()) < 0) {
    counters_.rejected_in.fetch_add(1, std::memory_order_relaxed);
  }
  drain_output(now);
}

// Whoever holds tx_ writes until the outbox is empty, then looks again if another thread
// found tx_ taken meanwhile: that thread set tx_pending_ before trying, so either its try
// succeeds or the holder sees the flag after letting go. So no frame waits for a later call,
// and frames leave in the order the host queued them.
void Driver::drain_shared() {
  tx_pending_.store(true);
  while (tx_pending_.load() && tx_.try_lock()) {
    tx_pending_.store(false);
    write_frames();
    tx_.unlock();
  }
}

// The host's packets, taken under its lock all at once and written outside it; each packet
// of two or more segments as one gather write of its headers and the send queue's bytes (no
// copy in user space: docs/HOST.md "Driving a host").
void Driver::write_frames() {
  while (host_cpp_.take_output_runs(tx_outputs_, tx_runs_) > 0) {
    std::span<const Output> rest(tx_outputs_);
    for (const std::uint32_t n : tx_runs_) {
      write_run(rest.first(n));
      rest = rest.subspan(n);
    }
    tx_outputs_.clear();  // keeps the capacity; lets the blocks go
    tx_runs_.clear();
  }
}

void Driver::write_run(std::span<const Output> run) {
  const std::size_t headers = host::frame_super_headers_into(tx_headers_, run);
  if (headers > 0) {
    tx_iov_.clear();
    tx_iov_.push_back({tx_headers_.data(), headers});
    std::size_t bytes = headers;
    host::for_each_payload_range(run, [&](std::span<const std::byte> r) {
      tx_iov_.push_back({const_cast<std::byte*>(r.data()), r.size()});
      bytes += r.size();
    });
    // A run of segments much smaller than the blocks' could need more pieces than writev takes.
    // (A run never starts with a SYN: no steering claim to make.)
    if (tx_iov_.size() <= IOV_MAX) {
      count_out(tun_.write(std::span<const iovec>(tx_iov_)), bytes - UTCP_VNET_HDR_LEN);
      return;
    }
  }
  const std::span<std::byte> buf = frame_buffer();
  const std::size_t n = host::frame_super_into(buf, run);
  if (n == 0) return;
  const auto frame = std::span<const std::byte>(buf.data(), n);
  if (config_.steering != nullptr)
    config_.steering->claim_outbound(frame.subspan(UTCP_VNET_HDR_LEN), config_.queue);
  count_out(tun_.write(frame), frame.size() - UTCP_VNET_HDR_LEN);
}

void Driver::drain_output(std::uint64_t now) {
  if (direct_) {
    drain_shared();
    return;
  }
  // Packets one by one (through the impairment and the tap, if any), from the loop thread alone.
  const std::span<std::byte> buf = frame_buffer();
  auto sink = [this](std::span<const std::byte> p) { to_tun(p); };
  for (;;) {
    ssize_t n = utcp_host_output(host_, buf.data(), buf.size());
    if (n < 0) break;
    std::span<const std::byte> packet(buf.data(), static_cast<std::size_t>(n));
    if (config_.tap) config_.tap(packet, true, now);
    if (config_.steering != nullptr) config_.steering->claim_outbound(packet, config_.queue);
    out_.push(packet, now, sink);
  }
}

// One pass. Packets first, timers after: what already waits in the device (ACKs among it)
// reaches the stack before any timer runs, so a timer that fell due meanwhile does not fire on
// a state those packets change (a retransmission timeout the ACK would have restarted, a paced
// send before the ACK that frees its window). Each frame gets its own clock reading: a batch
// can take hundreds of microseconds (every output it triggers is a write that runs the
// kernel's forwarding path), and one reading for all of it made the RTT of data sent and
// acknowledged within the batch zero, and made pacing see no time pass.
bool Driver::step() {
  kicked_.store(false);
  std::uint64_t now = monotonic_ns();
  utcp_host_set_clock(host_, now);
  in_.release(now, [this, now](std::span<const std::byte> p) { to_host(p, now); });

  alignas(8) static thread_local std::array<std::byte, max_frame> buf;
  bool more = true;  // a full batch: more may be waiting
  for (int i = 0; i < batch; ++i) {
    auto n = tun_.read(buf);
    if (!n || *n == 0) {
      if (i == 0) counters_.wakeups_without_input.fetch_add(1, std::memory_order_relaxed);
      more = false;
      break;
    }
    now = monotonic_ns();
    utcp_host_set_clock(host_, now);
    from_tun(std::span<const std::byte>(buf.data(), *n), now);
  }

  now = monotonic_ns();
  utcp_host_set_time(host_, now);  // the timers now due
  out_.release(now, [this](std::span<const std::byte> p) { to_tun(p); });
  drain_output(now);
  publish_impairment();
  return more;
}

void Driver::publish_impairment() {
  if (!config_.impairment.any()) return;
  const auto& i = in_.counters();
  const auto& o = out_.counters();
  std::uint64_t values[6] = {i.lost, i.duplicated, i.reordered, o.lost, o.duplicated, o.reordered};
  for (std::size_t k = 0; k < 6; ++k) impaired_[k].store(values[k], std::memory_order_relaxed);
}

void Driver::run() {
  // The pacing timer's gaps are microseconds (a 64 KiB quantum at 300 MB/s is 220 us): the
  // default timer slack of 50 us would add a quarter to every paced wait.
  prctl(PR_SET_TIMERSLACK, 1000UL, 0UL, 0UL, 0UL);
  on_loop_thread = true;
  loop_tid_.store(static_cast<int>(gettid()));
  std::array<epoll_event, 4> events{};
  bool more = true;
  while (!stopping_.load()) {
    std::uint64_t now = monotonic_ns();
    std::uint64_t wake = now + config_.max_sleep_ns;  // a safety net; every wakeup has a cause
    std::int64_t deadline = utcp_host_next_deadline(host_);
    if (deadline >= 0) wake = std::min(wake, static_cast<std::uint64_t>(deadline));
    if (auto t = in_.next_release()) wake = std::min(wake, *t);
    if (auto t = out_.next_release()) wake = std::min(wake, *t);
    if (!more && wake > now) {
      // Announce the wake-up, then look at the deadline again: a kick that armed an earlier
      // timer meanwhile is seen here, or sees the announcement and wakes the loop (kick).
      sleep_until_.store(wake);
      deadline = utcp_host_next_deadline(host_);
      if (deadline >= 0) wake = std::min(wake, static_cast<std::uint64_t>(deadline));
    }
    std::uint64_t sleep = more || wake <= now ? 0 : wake - now;
    timespec ts{static_cast<time_t>(sleep / 1'000'000'000u), static_cast<long>(sleep % 1'000'000'000u)};
    int n = epoll_pwait2(epoll_fd_, events.data(), static_cast<int>(events.size()), &ts, nullptr);
    sleep_until_.store(0);
    if (n < 0 && errno != EINTR) break;
    for (int i = 0; i < n; ++i) {
      if (events[static_cast<std::size_t>(i)].data.fd == event_fd_) {
        std::uint64_t v;
        [[maybe_unused]] auto r = ::read(event_fd_, &v, sizeof v);
      }
    }
    counters_.wakeups.fetch_add(1, std::memory_order_relaxed);
    more = step();
  }
  // Whatever the last socket calls queued (a FIN, an RST) still goes out.
  step();
}

DriverCounters Driver::counters() const {
  DriverCounters c;
  c.packets_in = counters_.packets_in.load();
  c.bytes_in = counters_.bytes_in.load();
  c.packets_out = counters_.packets_out.load();
  c.bytes_out = counters_.bytes_out.load();
  c.rejected_in = counters_.rejected_in.load();
  c.split_errors = counters_.split_errors.load();
  c.tun_write_errors = counters_.tun_write_errors.load();
  c.wakeups = counters_.wakeups.load();
  c.packets_out_by_loop = counters_.packets_out_by_loop.load();
  c.wakeups_without_input = counters_.wakeups_without_input.load();
  c.impaired_in = {impaired_[0].load(), impaired_[1].load(), impaired_[2].load()};
  c.impaired_out = {impaired_[3].load(), impaired_[4].load(), impaired_[5].load()};
  return c;
}

}  // namespace utcp::io
