// fcntl, socket options, poll, and the socket names.
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/time.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <cstring>

#include "host.hpp"
#include "socket.hpp"

namespace utcp::host {

namespace {

constexpr int min_buffer = 2048;              // SO_SNDBUF / SO_RCVBUF floor
constexpr int max_buffer = 64 * 1024 * 1024;  // and ceiling
constexpr int default_mss = 536;              // TCP_MAXSEG before a connection (RFC 9293 §3.7.1)

SysResult<int> int_arg(const void* val, socklen_t len) {
  if (val == nullptr) return std::unexpected(EFAULT);
  if (len < static_cast<socklen_t>(sizeof(int))) return std::unexpected(EINVAL);
  int v = 0;
  std::memcpy(&v, val, sizeof v);
  return v;
}

SysResult<std::chrono::nanoseconds> timeval_arg(const void* val, socklen_t len) {
  if (val == nullptr) return std::unexpected(EFAULT);
  if (len < static_cast<socklen_t>(sizeof(timeval))) return std::unexpected(EINVAL);
  timeval tv{};
  std::memcpy(&tv, val, sizeof tv);
  if (tv.tv_sec < 0 || tv.tv_usec < 0 || tv.tv_usec >= 1000000) return std::unexpected(EDOM);
  return std::chrono::seconds(tv.tv_sec) + std::chrono::microseconds(tv.tv_usec);
}

template <class T>
SysResult<void> put(const T& v, void* val, socklen_t* len) {
  if (val == nullptr || len == nullptr) return std::unexpected(EFAULT);
  const std::size_t n = std::min(static_cast<std::size_t>(*len), sizeof v);
  std::memcpy(val, &v, n);
  *len = static_cast<socklen_t>(n);
  return {};
}

timeval to_timeval(std::chrono::nanoseconds d) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(std::chrono::duration_cast<std::chrono::seconds>(d).count());
  tv.tv_usec =
      static_cast<suseconds_t>(std::chrono::duration_cast<std::chrono::microseconds>(d).count() % 1000000);
  return tv;
}

}  // namespace

SysResult<int> Host::fcntl(int fd, int cmd, int arg) {
  Lock lk(mu_);
  auto sp = lookup(fd);
  if (!sp) return std::unexpected(sp.error());
  Socket& s = **sp;
  switch (cmd) {
    case F_GETFL:
      return O_RDWR | (s.nonblocking ? O_NONBLOCK : 0);
    case F_SETFL:
      s.nonblocking = (arg & O_NONBLOCK) != 0;
      wake();  // a blocked call on this socket keeps blocking, as on Linux; nothing else changes
      return 0;
    case F_GETFD:
    case F_SETFD:
      return 0;  // no exec here: FD_CLOEXEC means nothing
    default:
      return std::unexpected(EINVAL);
  }
}

SysResult<void> Host::setsockopt(int fd, int level, int name, const void* val, socklen_t len) {
  Lock lk(mu_);
  auto sp = lookup(fd);
  if (!sp) return std::unexpected(sp.error());
  Socket& s = **sp;
  FlowOptions change;  // what to pass on to a live connection
  if (level == SOL_SOCKET) {
    switch (name) {
      case SO_REUSEADDR:
      case SO_KEEPALIVE:
      case SO_SNDBUF:
      case SO_RCVBUF: {
        auto v = int_arg(val, len);
        if (!v) return std::unexpected(v.error());
        if (name == SO_REUSEADDR) {
          s.reuseaddr = *v != 0;
          return {};
        }
        if (name == SO_KEEPALIVE) {
          s.options.keepalive = change.keepalive = *v != 0;
          break;
        }
        const auto size = static_cast<std::uint32_t>(std::clamp(*v, min_buffer, max_buffer));
        if (name == SO_SNDBUF) {
          s.options.send_buffer = change.send_buffer = size;
          break;
        }
        s.options.recv_buffer = size;
        if (s.phase == Socket::Phase::connected) resize(s, s.buffered());
        return {};
      }
      case SO_LINGER: {
        if (val == nullptr) return std::unexpected(EFAULT);
        if (len < static_cast<socklen_t>(sizeof(::linger))) return std::unexpected(EINVAL);
        ::linger l{};
        std::memcpy(&l, val, sizeof l);
        s.linger = l.l_onoff != 0;
        s.linger_seconds = std::max(l.l_linger, 0);
        return {};
      }
      case SO_RCVTIMEO:
      case SO_SNDTIMEO: {
        auto t = timeval_arg(val, len);
        if (!t) return std::unexpected(t.error());
        (name == SO_RCVTIMEO ? s.rcvtimeo : s.sndtimeo) = *t;
        return {};
      }
      case SO_ERROR:
      case SO_TYPE:
      case SO_DOMAIN:
      case SO_PROTOCOL:
      case SO_ACCEPTCONN:
        return std::unexpected(ENOPROTOOPT);  // read-only
      default:
        return std::unexpected(ENOPROTOOPT);
    }
  } else if (level == IPPROTO_TCP && name == TCP_CONGESTION) {
    // A name, not an int: "reno", "cubic" or "bbr" (ENOENT for any other, as Linux).
    if (val == nullptr) return std::unexpected(EFAULT);
    const auto* p = static_cast<const char*>(val);
    const std::string_view text(p, ::strnlen(p, static_cast<std::size_t>(std::max<socklen_t>(len, 0))));
    const auto cc = congestion_control_from(text);
    if (!cc) return std::unexpected(ENOENT);
    s.options.congestion_control = change.congestion_control = *cc;
  } else if (level == IPPROTO_TCP) {
    auto v = int_arg(val, len);
    if (!v) return std::unexpected(v.error());
    switch (name) {
      case TCP_NODELAY:
        s.options.nodelay = change.nodelay = *v != 0;
        break;
      case TCP_MAXSEG:
        if (*v < 88 || *v > 65535) return std::unexpected(EINVAL);  // Linux's TCP_MIN_MSS
        s.options.max_segment = change.max_segment = static_cast<std::uint16_t>(*v);
        break;
      case TCP_KEEPIDLE:
      case TCP_KEEPINTVL:
        if (*v < 1 || *v > 32767) return std::unexpected(EINVAL);
        if (name == TCP_KEEPIDLE) {
          s.options.keepalive_idle = change.keepalive_idle = std::chrono::seconds(*v);
        } else {
          s.options.keepalive_interval = change.keepalive_interval = std::chrono::seconds(*v);
        }
        break;
      case TCP_KEEPCNT:
        if (*v < 1 || *v > 127) return std::unexpected(EINVAL);
        s.options.keepalive_count = change.keepalive_count = static_cast<std::uint32_t>(*v);
        break;
      default:
        return std::unexpected(ENOPROTOOPT);
    }
  } else {
    return std::unexpected(ENOPROTOOPT);
  }
  if (s.has_flow()) {
    // The core arms the keepalive timer when keepalive turns on; new times set while it is
    // on take effect at once only if it is re-armed (as Linux does for TCP_KEEPIDLE).
    const bool rearm = level == IPPROTO_TCP && name != TCP_NODELAY && name != TCP_MAXSEG && name != TCP_CONGESTION &&
                       s.options.keepalive.value_or(utcp::config(stack_).keepalive);
    if (rearm) {
      FlowOptions off;
      off.keepalive = false;
      if (auto r = utcp::set_options(std::move(stack_), s.flow, off)) stack_ = std::move(*r);
      change.keepalive = true;
    }
    if (auto r = utcp::set_options(std::move(stack_), s.flow, change)) stack_ = std::move(*r);
  }
  wake();
  return {};
}

SysResult<void> Host::getsockopt(int fd, int level, int name, void* val, socklen_t* len) {
  Lock lk(mu_);
  auto sp = lookup(fd);
  if (!sp) return std::unexpected(sp.error());
  Socket& s = **sp;
  if (val == nullptr || len == nullptr) return std::unexpected(EFAULT);
  const Config& cfg = utcp::config(stack_);
  const std::optional<ConnInfo> inf = s.has_flow() ? utcp::info(stack_, s.flow) : std::nullopt;
  if (level == SOL_SOCKET) {
    switch (name) {
      case SO_ERROR:
        return put(std::exchange(s.error, 0), val, len);
      case SO_TYPE:
        return put(int{SOCK_STREAM}, val, len);
      case SO_DOMAIN:
        return put(s.domain, val, len);
      case SO_PROTOCOL:
        return put(int{IPPROTO_TCP}, val, len);
      case SO_ACCEPTCONN:
        return put(int{s.phase == Socket::Phase::listening}, val, len);
      case SO_REUSEADDR:
        return put(int{s.reuseaddr}, val, len);
      case SO_KEEPALIVE:
        return put(int{s.options.keepalive.value_or(cfg.keepalive)}, val, len);
      case SO_SNDBUF:
        return put(static_cast<int>(s.options.send_buffer.value_or(cfg.send_buffer)), val, len);
      case SO_RCVBUF:
        return put(static_cast<int>(recv_buffer_of(s)), val, len);
      case SO_LINGER: {
        ::linger l{};
        l.l_onoff = s.linger ? 1 : 0;
        l.l_linger = s.linger_seconds;
        return put(l, val, len);
      }
      case SO_RCVTIMEO:
        return put(to_timeval(s.rcvtimeo), val, len);
      case SO_SNDTIMEO:
        return put(to_timeval(s.sndtimeo), val, len);
      default:
        return std::unexpected(ENOPROTOOPT);
    }
  }
  if (level == IPPROTO_TCP) {
    switch (name) {
      case TCP_NODELAY:
        return put(int{s.options.nodelay.value_or(cfg.nodelay)}, val, len);
      case TCP_MAXSEG:
        if (inf && inf->mss != 0) return put(static_cast<int>(inf->mss), val, len);
        return put(static_cast<int>(s.options.max_segment.value_or(default_mss)), val, len);
      case TCP_KEEPIDLE:
        return put(static_cast<int>(std::chrono::duration_cast<std::chrono::seconds>(
                                        s.options.keepalive_idle.value_or(cfg.keepalive_idle))
                                        .count()),
                   val, len);
      case TCP_KEEPINTVL:
        return put(static_cast<int>(std::chrono::duration_cast<std::chrono::seconds>(
                                        s.options.keepalive_interval.value_or(cfg.keepalive_interval))
                                        .count()),
                   val, len);
      case TCP_KEEPCNT:
        return put(static_cast<int>(s.options.keepalive_count.value_or(cfg.keepalive_count)), val, len);
      case TCP_CONGESTION: {
        // Linux's TCP_CA_NAME_MAX (16) bytes, the name NUL-padded.
        std::array<char, 16> name_buf{};
        const std::string_view n =
            to_string(inf ? inf->congestion_control : s.options.congestion_control.value_or(cfg.congestion_control));
        std::copy(n.begin(), n.end(), name_buf.begin());
        return put(name_buf, val, len);
      }
      default:
        return std::unexpected(ENOPROTOOPT);
    }
  }
  return std::unexpected(ENOPROTOOPT);
}

// What poll reports for a socket, as Linux's tcp_poll does.
short Host::revents(Socket& s) {
  short ev = 0;
  if (s.error != 0) ev |= POLLERR;
  switch (s.phase) {
    case Socket::Phase::fresh:
    case Socket::Phase::bound:
      ev |= POLLOUT | POLLHUP;
      break;
    case Socket::Phase::listening:
      if (!s.accept_queue.empty()) ev |= POLLIN;
      break;
    case Socket::Phase::connecting:
      break;
    case Socket::Phase::gone:
      ev |= POLLIN | POLLRDHUP | POLLOUT | POLLHUP;
      break;
    case Socket::Phase::connected: {
      const auto inf = utcp::info(stack_, s.flow);
      if (!inf) {
        connection_gone(s, 0);
        return static_cast<short>(ev | POLLIN | POLLRDHUP | POLLOUT | POLLHUP);
      }
      const bool peer_done = s.eof || inf->fin_received;
      if (s.buffered() > 0 || inf->recv_queued > 0 || peer_done || s.read_shut) ev |= POLLIN;
      if (peer_done || s.read_shut) ev |= POLLRDHUP;  // as Linux: the read side is done
      if (s.write_shut || writable(*inf)) ev |= POLLOUT;
      if (s.write_shut && peer_done) ev |= POLLHUP;
      break;
    }
  }
  return ev;
}

SysResult<int> Host::poll(pollfd* fds, nfds_t n, int timeout_ms) {
  if (fds == nullptr && n > 0) return std::unexpected(EFAULT);
  Lock lk(mu_);
  const auto deadline =
      timeout_ms > 0
          ? std::optional(now_ns_ + std::uint64_t{1000000} * static_cast<std::uint64_t>(timeout_ms))
          : std::nullopt;
  for (;;) {
    int ready = 0;
    for (nfds_t i = 0; i < n; ++i) {
      fds[i].revents = 0;
      if (fds[i].fd < 0) continue;
      auto sp = lookup(fds[i].fd);
      if (!sp) {
        fds[i].revents = POLLNVAL;
      } else {
        const short ev = revents(**sp);
        fds[i].revents = static_cast<short>(ev & (fds[i].events | POLLERR | POLLHUP));
      }
      ready += fds[i].revents != 0 ? 1 : 0;
    }
    if (ready > 0 || timeout_ms == 0) return ready;
    // One socket: wait on it alone (what concerns other sockets does not wake this call).
    SocketPtr one;
    if (n == 1 && fds[0].fd >= 0) {
      if (auto sp = lookup(fds[0].fd)) one = *sp;
    }
    if (!wait(lk, deadline, one.get())) return 0;
  }
}

SysResult<void> Host::getsockname(int fd, sockaddr* addr, socklen_t* len) {
  Lock lk(mu_);
  auto sp = lookup(fd);
  if (!sp) return std::unexpected(sp.error());
  const Socket& s = **sp;
  const IpAddr any = s.domain == AF_INET ? IpAddr{} : IpAddr::v6({});
  if (s.has_flow() || s.phase == Socket::Phase::gone) return endpoint_to(s.flow.local(), addr, len);
  return endpoint_to(Endpoint{any, s.port.value_or(0)}, addr, len);
}

SysResult<void> Host::getpeername(int fd, sockaddr* addr, socklen_t* len) {
  Lock lk(mu_);
  auto sp = lookup(fd);
  if (!sp) return std::unexpected(sp.error());
  const Socket& s = **sp;
  if (s.phase != Socket::Phase::connected) return std::unexpected(ENOTCONN);
  return endpoint_to(s.flow.remote(), addr, len);
}

}  // namespace utcp::host
