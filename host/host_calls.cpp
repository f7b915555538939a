// The socket calls: socket, bind, listen, accept, connect, recv/send, shutdown, close.
#include <netinet/in.h>
#include <sys/uio.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>

#include "host.hpp"
#include "sockaddr.hpp"
#include "socket.hpp"

namespace utcp::host {

namespace {

constexpr int max_backlog = 4096;  // SOMAXCONN on current Linux
constexpr int recv_flags = MSG_PEEK | MSG_DONTWAIT | MSG_WAITALL | MSG_NOSIGNAL;
constexpr int send_flags = MSG_DONTWAIT | MSG_NOSIGNAL | MSG_MORE;

bool is_any(const IpAddr& ip) {
  return ip == IpAddr{} || ip == IpAddr::v6({});
}

// The one table from a core call's refusal to the errno a socket call reports.
int to_errno(const Error& e) {
  if (e.kind == Error::Kind::not_found) return ENOTCONN;
  switch (e.call) {
    case CallError::write_shut:
      return EPIPE;
    case CallError::not_connected:
      return ENOTCONN;
    case CallError::already_closed:
      return EBADF;
    case CallError::address_family:
      return EAFNOSUPPORT;
    case CallError::port_zero:
      return ECONNREFUSED;
    case CallError::table_full:
      return ENOBUFS;
    case CallError::address_in_use:
      return EADDRINUSE;
    case CallError::no_ephemeral_port:
      return EADDRNOTAVAIL;
    case CallError::none:
      break;
  }
  return EIO;
}

}  // namespace

SysResult<Endpoint> endpoint_from(int domain, const sockaddr* addr, socklen_t len) {
  if (addr == nullptr) return std::unexpected(EFAULT);
  const std::size_t need = domain == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
  if (len < static_cast<socklen_t>(need)) return std::unexpected(EINVAL);
  const std::optional<Endpoint> e = from_sockaddr(addr, len);
  if (!e || e->ip.is_v4() != (domain == AF_INET)) return std::unexpected(EAFNOSUPPORT);
  return *e;
}

SysResult<void> endpoint_to(const Endpoint& e, sockaddr* addr, socklen_t* len) {
  if (addr == nullptr || len == nullptr) return std::unexpected(EFAULT);
  const SockAddr a = to_sockaddr(e);
  if (*len > 0) std::memcpy(addr, &a.storage, std::min<std::size_t>(static_cast<std::size_t>(*len), a.len));
  *len = a.len;
  return {};
}

SysResult<int> Host::socket(int domain, int type, int protocol) {
  if (domain != AF_INET && domain != AF_INET6) return std::unexpected(EAFNOSUPPORT);
  // SOCK_NONBLOCK is honoured; SOCK_CLOEXEC means nothing here.
  const int base = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (base != SOCK_STREAM)
    return std::unexpected(base == SOCK_DGRAM || base == SOCK_RAW ? EPROTONOSUPPORT : EINVAL);
  if (protocol != 0 && protocol != IPPROTO_TCP) return std::unexpected(EPROTONOSUPPORT);
  Lock lk(mu_);
  // One address per host: a socket of the other family could never be bound or connected.
  if ((domain == AF_INET) != addr_.is_v4()) return std::unexpected(EAFNOSUPPORT);
  auto s = std::make_shared<Socket>();
  s->domain = domain;
  s->nonblocking = (type & SOCK_NONBLOCK) != 0;
  std::size_t fd = 3;
  while (fd < fds_.size() && fds_[fd]) ++fd;
  if (fd == fds_.size()) fds_.emplace_back();
  fds_[fd] = std::move(s);
  return static_cast<int>(fd);
}

SysResult<void> Host::bind(int fd, const sockaddr* addr, socklen_t len) {
  Lock lk(mu_);
  auto sp = lookup(fd);
  if (!sp) return std::unexpected(sp.error());
  Socket& s = **sp;
  auto ep = endpoint_from(s.domain, addr, len);
  if (!ep) return std::unexpected(ep.error());
  if (s.port) return std::unexpected(EINVAL);  // already bound
  if (!is_any(ep->ip) && ep->ip != addr_) return std::unexpected(EADDRNOTAVAIL);
  std::uint16_t port = ep->port;
  if (port == 0) {
    auto e = ephemeral_port();
    if (!e) return std::unexpected(EADDRINUSE);
    port = *e;
  } else if (!port_free(port, s.reuseaddr)) {
    return std::unexpected(EADDRINUSE);
  }
  s.port = port;
  s.port_strong = true;
  ++strong_ports_[port];
  if (s.phase == Socket::Phase::fresh) s.phase = Socket::Phase::bound;
  return {};
}

SysResult<void> Host::listen(int fd, int backlog) {
  Lock lk(mu_);
  auto sp = lookup(fd);
  if (!sp) return std::unexpected(sp.error());
  Socket& s = **sp;
  if (s.phase != Socket::Phase::fresh && s.phase != Socket::Phase::bound &&
      s.phase != Socket::Phase::listening) {
    return std::unexpected(EINVAL);
  }
  s.backlog = std::clamp(backlog, 1, max_backlog);
  if (s.phase == Socket::Phase::listening) return {};
  if (!s.port) {  // Linux binds an unbound listener to an ephemeral port
    auto e = ephemeral_port();
    if (!e) return std::unexpected(EADDRINUSE);
    s.port = *e;
    s.port_strong = true;
    ++strong_ports_[*e];
  }
  stack_ = utcp::start_listen(std::move(stack_), *s.port, s.options);
  listeners_[*s.port] = *sp;
  s.phase = Socket::Phase::listening;
  return {};
}

SysResult<int> Host::accept(int fd, sockaddr* addr, socklen_t* len) {
  Lock lk(mu_);
  auto sp = lookup(fd);
  if (!sp) return std::unexpected(sp.error());
  const SocketPtr listener = *sp;
  if (listener->phase != Socket::Phase::listening) return std::unexpected(EINVAL);
  if (addr != nullptr && len == nullptr) return std::unexpected(EFAULT);
  const auto deadline = deadline_after(listener->rcvtimeo);
  while (listener->accept_queue.empty()) {
    if (listener->nonblocking || !wait(lk, deadline, listener.get())) return std::unexpected(EAGAIN);
    if (listener->closed) return std::unexpected(EBADF);
  }
  const Flow flow = listener->accept_queue.front();
  listener->accept_queue.pop_front();
  auto s = std::make_shared<Socket>();
  s->domain = listener->domain;
  s->phase = Socket::Phase::connected;
  s->options = listener->options;
  s->reuseaddr = listener->reuseaddr;
  s->linger = listener->linger;
  s->linger_seconds = listener->linger_seconds;
  s->rcvtimeo = listener->rcvtimeo;
  s->sndtimeo = listener->sndtimeo;
  s->flow = flow;
  s->port = flow.local().port;
  ++weak_ports_[flow.local().port];
  s->core_recv_buffer = recv_buffer_of(*s);
  // Options set on the listener after listen() reach the connection here.
  s->options.recv_buffer = s->core_recv_buffer;
  if (auto r = utcp::set_options(std::move(stack_), flow, s->options)) stack_ = std::move(*r);
  std::size_t nfd = 3;
  while (nfd < fds_.size() && fds_[nfd]) ++nfd;
  if (nfd == fds_.size()) fds_.emplace_back();
  fds_[nfd] = s;
  by_flow_[flow] = s;
  if (addr != nullptr) {
    if (auto r = endpoint_to(flow.remote(), addr, len); !r) return std::unexpected(r.error());
  }
  return static_cast<int>(nfd);
}

SysResult<void> Host::start_connect(Socket& s, const Endpoint& remote) {
  if (remote.port == 0 || is_any(remote.ip)) return std::unexpected(ECONNREFUSED);
  std::optional<std::uint16_t> port = s.port;
  if (!port) {
    port = ephemeral_port();
    if (!port) return std::unexpected(EADDRNOTAVAIL);
  }
  auto r = utcp::connect(std::move(stack_), instant(), addr_, remote.ip, remote.port, port, s.options);
  if (!r) return std::unexpected(to_errno(r.error()));
  stack_ = std::move(r->state);
  if (!s.port) {
    s.port = port;
    s.port_strong = false;
    ++weak_ports_[*port];
  }
  s.flow = r->flow;
  s.phase = Socket::Phase::connecting;
  s.core_recv_buffer = recv_buffer_of(s);
  emit_one(std::move(r->syn));
  return {};
}

SysResult<void> Host::connect(int fd, const sockaddr* addr, socklen_t len) {
  Lock lk(mu_);
  auto sp = lookup(fd);
  if (!sp) return std::unexpected(sp.error());
  const SocketPtr s = *sp;
  switch (s->phase) {
    case Socket::Phase::listening:
      return std::unexpected(EISCONN);
    case Socket::Phase::connected:
      if (s->connect_unreported) {  // a non-blocking connect finished: say so once
        s->connect_unreported = false;
        return {};
      }
      return std::unexpected(EISCONN);
    case Socket::Phase::gone:
      if (s->error != 0) return std::unexpected(std::exchange(s->error, 0));
      return std::unexpected(EISCONN);
    case Socket::Phase::connecting:
      if (s->nonblocking) return std::unexpected(EALREADY);
      break;
    case Socket::Phase::fresh:
    case Socket::Phase::bound: {
      auto remote = endpoint_from(s->domain, addr, len);
      if (!remote) return std::unexpected(remote.error());
      if (remote->ip.is_v4() != addr_.is_v4()) return std::unexpected(ENETUNREACH);
      if (auto r = start_connect(*s, *remote); !r) return r;
      by_flow_[s->flow] = s;
      if (s->nonblocking) return std::unexpected(EINPROGRESS);
      break;
    }
  }
  const auto deadline = deadline_after(s->sndtimeo);
  while (s->phase == Socket::Phase::connecting) {
    if (!wait(lk, deadline, s.get())) return std::unexpected(EINPROGRESS);
    if (s->closed) return std::unexpected(EBADF);
  }
  if (s->phase == Socket::Phase::connected) {
    s->connect_unreported = false;
    return {};
  }
  const int err = std::exchange(s->error, 0);
  return std::unexpected(err != 0 ? err : ECONNREFUSED);
}

// recv and send on a socket that never had a connection, or was closed by this process.
static std::optional<int> stream_error(const Host::Socket& s) {
  if (s.closed) return EBADF;
  switch (s.phase) {
    case Host::Socket::Phase::fresh:
    case Host::Socket::Phase::bound:
    case Host::Socket::Phase::listening:
      return ENOTCONN;
    default:
      return std::nullopt;
  }
}

// Copies `k` bytes of `src` into the scatter list at byte `offset` of it.
static void scatter(std::span<const iovec> iov, std::size_t offset, const char* src, std::size_t k) {
  for (const iovec& v : iov) {
    if (k == 0) return;
    if (offset >= v.iov_len) {
      offset -= v.iov_len;
      continue;
    }
    const std::size_t m = std::min(k, v.iov_len - offset);
    std::memcpy(static_cast<char*>(v.iov_base) + offset, src, m);
    src += m;
    k -= m;
    offset = 0;
  }
}

SysResult<std::size_t> Host::recv(int fd, void* buf, std::size_t n, int flags) {
  const iovec one{buf, n};
  return recv(fd, std::span<const iovec>(&one, 1), flags);
}

// Every read returns min(asked, available) (POSIX, as Linux and the BSDs): the host's held
// bytes and the core's queued ones together, so a read after a short peek sees what came
// since. MSG_WAITALL waits for all `n` (with MSG_PEEK too, as Linux), short only at the end
// of the stream, on an error or a timeout.
SysResult<std::size_t> Host::recv(int fd, std::span<const iovec> iov, int flags) {
  if ((flags & ~recv_flags) != 0) return std::unexpected(EOPNOTSUPP);
  std::size_t n = 0;
  for (const iovec& v : iov) {
    if (v.iov_base == nullptr && v.iov_len > 0) return std::unexpected(EFAULT);
    if (v.iov_len > SSIZE_MAX - n) return std::unexpected(EINVAL);
    n += v.iov_len;
  }
  Lock lk(mu_);
  auto sp = lookup(fd);
  if (!sp) return std::unexpected(sp.error());
  const SocketPtr s = *sp;
  const bool peek = (flags & MSG_PEEK) != 0;
  const bool waitall = (flags & MSG_WAITALL) != 0;
  const auto deadline = deadline_after(s->rcvtimeo);
  std::size_t done = 0;
  for (;;) {
    if (auto e = stream_error(*s)) return std::unexpected(*e);
    if (s->phase != Socket::Phase::connecting) {
      if (n == 0) return std::size_t{0};
      if (s->buffered() < n - done) pull(*s, peek ? 0 : n - done);
      const bool ended = s->read_shut || s->eof || s->phase == Socket::Phase::gone || s->error != 0;
      const std::size_t k = std::min(n - done, s->buffered());
      const char* held = s->rbuf.data() + s->rbuf_off;
      if (k > 0 && peek && (!waitall || k == n || ended)) {
        scatter(iov, 0, held, k);
        return k;
      }
      if (k > 0 && !peek) {
        scatter(iov, done, held, k);
        s->consume(k);
        done += k;
        if (s->phase == Socket::Phase::connected) resize(*s, s->buffered());
        if (!waitall || done == n) return done;
        continue;
      }
      if (done > 0 && s->phase == Socket::Phase::gone) return done;
      // An error after the end of stream (an RST in CLOSING or LAST-ACK) leaves reads at 0,
      // as Linux does; SO_ERROR, poll and the next write report it.
      if (s->error != 0 && !s->eof) {
        if (done > 0) return done;
        return std::unexpected(std::exchange(s->error, 0));
      }
      if (ended) return done;
    }
    if (s->nonblocking || (flags & MSG_DONTWAIT) != 0 || !wait(lk, deadline, s.get())) {
      if (done > 0) return done;
      if (peek && s->buffered() > 0) {  // MSG_WAITALL|MSG_PEEK timed out: what there is
        const std::size_t k = std::min(n, s->buffered());
        scatter(iov, 0, s->rbuf.data() + s->rbuf_off, k);
        return k;
      }
      return std::unexpected(EAGAIN);
    }
  }
}

template <class CoreSend>
SysResult<std::size_t> Host::send_with(int fd, std::size_t n, int flags, CoreSend&& core_send) {
  if ((flags & ~send_flags) != 0) return std::unexpected(EOPNOTSUPP);
  Lock lk(mu_);
  auto sp = lookup(fd);
  if (!sp) return std::unexpected(sp.error());
  const SocketPtr s = *sp;
  const auto deadline = deadline_after(s->sndtimeo);
  std::size_t done = 0;
  for (;;) {
    if (auto e = stream_error(*s)) return std::unexpected(*e);
    if (s->phase != Socket::Phase::connecting) {
      // A pending error is reported once (ECONNRESET, ETIMEDOUT), then EPIPE, as Linux.
      if (s->error != 0) {
        if (done > 0) return done;
        return std::unexpected(std::exchange(s->error, 0));
      }
      if (s->write_shut || s->phase == Socket::Phase::gone) {
        if (done > 0) return done;
        return std::unexpected(EPIPE);
      }
      if (n == 0) return std::size_t{0};
      auto r = core_send(std::move(stack_), instant(), s->flow, done);
      if (!r) {
        if (r.error().kind == Error::Kind::not_found) {
          connection_gone(*s, 0);
          continue;
        }
        if (r.error().call == CallError::write_shut) {
          s->write_shut = true;
          continue;  // EPIPE, or what was sent
        }
        if (done > 0) return done;
        return std::unexpected(to_errno(r.error()));
      }
      stack_ = std::move(r->state);
      done += r->enqueued;
      emit(std::move(r->out));
      if (done == n) return done;
    }
    if (s->nonblocking || (flags & MSG_DONTWAIT) != 0 || !wait(lk, deadline, s.get())) {
      if (done > 0) return done;
      return std::unexpected(EAGAIN);
    }
  }
}

SysResult<std::size_t> Host::send(int fd, const void* buf, std::size_t n, int flags) {
  if ((flags & ~send_flags) != 0) return std::unexpected(EOPNOTSUPP);
  if (buf == nullptr && n > 0) return std::unexpected(EFAULT);
  const auto* in = static_cast<const char*>(buf);
  return send_with(fd, n, flags, [&](Stack&& st, Instant now, const Flow& flow, std::size_t done) {
    return utcp::send(std::move(st), now, flow, std::string_view(in + done, n - done));
  });
}

SysResult<std::size_t> Host::send(int fd, const Payload& data, int flags) {
  return send_with(fd, data.size(), flags, [&](Stack&& st, Instant now, const Flow& flow, std::size_t done) {
    return utcp::send(std::move(st), now, flow, done == 0 ? data : data.sub(done, data.size() - done));
  });
}

SysResult<void> Host::shutdown(int fd, int how) {
  Lock lk(mu_);
  auto sp = lookup(fd);
  if (!sp) return std::unexpected(sp.error());
  Socket& s = **sp;
  if (how != SHUT_RD && how != SHUT_WR && how != SHUT_RDWR) return std::unexpected(EINVAL);
  if (s.phase != Socket::Phase::connected) return std::unexpected(ENOTCONN);
  const Direction dir = how == SHUT_RD   ? Direction::read
                        : how == SHUT_WR ? Direction::write
                                         : Direction::read_write;
  auto r = utcp::shutdown(std::move(stack_), instant(), s.flow, dir);
  if (r) {
    stack_ = std::move(r->state);
    emit(std::move(r->out));
  } else if (r.error().kind == Error::Kind::not_found) {
    connection_gone(s, 0);
    return std::unexpected(ENOTCONN);
  }
  if (how != SHUT_WR) s.read_shut = true;
  if (how != SHUT_RD) s.write_shut = true;
  wake();
  return {};
}

SysResult<void> Host::close(int fd) {
  Lock lk(mu_);
  auto sp = lookup(fd);
  if (!sp) return std::unexpected(sp.error());
  const SocketPtr s = *sp;
  fds_[static_cast<std::size_t>(fd)].reset();
  s->closed = true;
  if (s->phase == Socket::Phase::listening) {
    listeners_.erase(*s->port);
    stack_ = utcp::stop_listen(std::move(stack_), *s->port);
    for (const Flow& f : s->accept_queue) {  // never accepted: reset, as Linux does
      if (auto r = utcp::abort(std::move(stack_), instant(), f)) {
        stack_ = std::move(r->state);
        emit(std::move(r->out));
      }
    }
    s->accept_queue.clear();
  } else if (s->has_flow()) {
    by_flow_.erase(s->flow);
    // RFC 1122 §4.2.2.13 (and Linux): closing with unread data resets. SO_LINGER 0 too.
    const auto inf = utcp::info(stack_, s->flow);
    const bool unread = s->buffered() > 0 || (inf && inf->recv_queued > 0);
    const bool abortive =
        (s->linger && s->linger_seconds == 0) || (unread && s->phase == Socket::Phase::connected);
    auto r = abortive ? utcp::abort(std::move(stack_), instant(), s->flow)
                      : utcp::close(std::move(stack_), instant(), s->flow);
    if (r) {
      stack_ = std::move(r->state);
      emit(std::move(r->out));
    }
  }
  release_port(*s);
  wake();
  return {};
}

}  // namespace utcp::host
