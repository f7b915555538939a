// The executor's system calls: arguments evaluated (`...` filled from the config), script
// fds mapped to the host's, blocking calls made non-blocking and retried in virtual time.
#include <arpa/inet.h>
#include <sys/time.h>
#include <sys/uio.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <sstream>
#include <unordered_map>

#include "session.hpp"
#include "sockaddr.hpp"

namespace utcp::script {
namespace {

std::string str(const auto& v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

const std::unordered_map<std::string, std::int64_t>& symbols() {
  static const std::unordered_map<std::string, std::int64_t> table = {
      {"AF_INET", AF_INET},
      {"AF_INET6", AF_INET6},
      {"AF_UNSPEC", AF_UNSPEC},
      {"PF_INET", PF_INET},
      {"PF_INET6", PF_INET6},
      {"SOCK_STREAM", SOCK_STREAM},
      {"SOCK_DGRAM", SOCK_DGRAM},
      {"SOCK_NONBLOCK", SOCK_NONBLOCK},
      {"IPPROTO_IP", IPPROTO_IP},
      {"IPPROTO_TCP", IPPROTO_TCP},
      {"IPPROTO_IPV6", IPPROTO_IPV6},
      {"SOL_SOCKET", SOL_SOCKET},
      {"SOL_TCP", IPPROTO_TCP},
      {"SO_ERROR", SO_ERROR},
      {"SO_REUSEADDR", SO_REUSEADDR},
      {"SO_REUSEPORT", SO_REUSEPORT},
      {"SO_KEEPALIVE", SO_KEEPALIVE},
      {"SO_LINGER", SO_LINGER},
      {"SO_RCVBUF", SO_RCVBUF},
      {"SO_SNDBUF", SO_SNDBUF},
      {"SO_RCVTIMEO", SO_RCVTIMEO},
      {"SO_SNDTIMEO", SO_SNDTIMEO},
      {"SO_TYPE", SO_TYPE},
      {"SO_DOMAIN", SO_DOMAIN},
      {"SO_PROTOCOL", SO_PROTOCOL},
      {"SO_ACCEPTCONN", SO_ACCEPTCONN},
      {"TCP_NODELAY", TCP_NODELAY},
      {"TCP_MAXSEG", TCP_MAXSEG},
      {"TCP_KEEPIDLE", TCP_KEEPIDLE},
      {"TCP_KEEPINTVL", TCP_KEEPINTVL},
      {"TCP_KEEPCNT", TCP_KEEPCNT},
      {"TCP_CORK", TCP_CORK},
      {"F_GETFL", F_GETFL},
      {"F_SETFL", F_SETFL},
      {"F_GETFD", F_GETFD},
      {"F_SETFD", F_SETFD},
      {"O_RDONLY", O_RDONLY},
      {"O_WRONLY", O_WRONLY},
      {"O_RDWR", O_RDWR},
      {"O_NONBLOCK", O_NONBLOCK},
      {"SHUT_RD", SHUT_RD},
      {"SHUT_WR", SHUT_WR},
      {"SHUT_RDWR", SHUT_RDWR},
      {"POLLIN", POLLIN},
      {"POLLPRI", POLLPRI},
      {"POLLOUT", POLLOUT},
      {"POLLERR", POLLERR},
      {"POLLHUP", POLLHUP},
      {"POLLNVAL", POLLNVAL},
      {"POLLRDNORM", POLLRDNORM},
      {"POLLWRNORM", POLLWRNORM},
      {"POLLRDHUP", POLLRDHUP},
      {"MSG_PEEK", MSG_PEEK},
      {"MSG_DONTWAIT", MSG_DONTWAIT},
      {"MSG_NOSIGNAL", MSG_NOSIGNAL},
      {"MSG_WAITALL", MSG_WAITALL},
      {"MSG_MORE", MSG_MORE},
      // errno values, for getsockopt(SO_ERROR, [ECONNREFUSED]) and the like
      {"EAGAIN", EAGAIN},
      {"EINPROGRESS", EINPROGRESS},
      {"ECONNREFUSED", ECONNREFUSED},
      {"ECONNRESET", ECONNRESET},
      {"ECONNABORTED", ECONNABORTED},
      {"ETIMEDOUT", ETIMEDOUT},
      {"EPIPE", EPIPE},
      {"ENOTCONN", ENOTCONN},
      {"EHOSTUNREACH", EHOSTUNREACH},
      {"ENETUNREACH", ENETUNREACH},
  };
  return table;
}

std::string errno_name(int e) {
  const char* n = strerrorname_np(e);
  return n != nullptr ? n : "errno " + std::to_string(e);
}

std::string canonical_errno(const std::string& name) {
  if (name == "EWOULDBLOCK") return "EAGAIN";
  if (name == "EDEADLOCK") return "EDEADLK";
  if (name == "ENOTSUP") return "EOPNOTSUPP";
  return name;
}

CallResult sys(std::int64_t v) {
  return CallResult{v, v < 0 ? errno : 0, {}};
}

const ExprStruct* as_struct(const Expr& e) {
  return std::get_if<ExprStruct>(&e.value);
}
const StructField* field_of(const ExprStruct& s, std::string_view name) {
  for (const StructField& f : s.fields)
    if (f.name == name) return &f;
  return nullptr;
}
const Expr* field(const ExprStruct& s, std::initializer_list<std::string_view> names) {
  for (std::string_view want : names)
    if (const StructField* f = field_of(s, want)) return &f->value;
  return nullptr;
}

// "POLLIN|POLLOUT", "0".
std::string poll_names(short events) {
  std::string s;
  for (const auto& [name, bit] : {std::pair<const char*, short>{"POLLIN", POLLIN},
                                  {"POLLPRI", POLLPRI},
                                  {"POLLOUT", POLLOUT},
                                  {"POLLERR", POLLERR},
                                  {"POLLHUP", POLLHUP},
                                  {"POLLNVAL", POLLNVAL},
                                  {"POLLRDHUP", POLLRDHUP}})
    if (events & bit) {
      if (!s.empty()) s += '|';
      s += name;
    }
  return s.empty() ? "0" : s;
}

// An integer argument: a number, a symbol, A|B, [N], htons(N).
std::int64_t eval_int(const Expr& e, int line) {
  if (const auto* i = std::get_if<ExprInt>(&e.value)) return i->value;
  if (const auto* s = std::get_if<ExprSymbol>(&e.value)) {
    const auto it = symbols().find(s->name);
    if (it == symbols().end()) throw Failed{line, "unknown symbol '" + s->name + "'"};
    return it->second;
  }
  if (const auto* o = std::get_if<ExprOr>(&e.value)) {
    std::int64_t v = 0;
    for (const Expr& t : o->terms) v |= eval_int(t, line);
    return v;
  }
  if (const auto* l = std::get_if<ExprList>(&e.value); l && l->items.size() == 1)
    return eval_int(l->items[0], line);
  if (const auto* c = std::get_if<ExprCall>(&e.value);
      c && (c->name == "htons" || c->name == "ntohs" || c->name == "htonl" || c->name == "ntohl") &&
      c->args.size() == 1)
    return eval_int(c->args[0], line);
  throw Failed{line, "expected an integer, found " + str(e)};
}

bool is_ellipsis(const Expr& e) {
  return std::holds_alternative<ExprEllipsis>(e.value);
}

}  // namespace

int Session::host_fd(const Expr& e, int line) const {
  const std::int64_t fd = eval_int(e, line);
  const auto it = fds_.find(static_cast<int>(fd));
  // An fd the script never got: one the host has not handed out either, so it says EBADF.
  return it != fds_.end() ? it->second : static_cast<int>(1'000'000 + fd);
}

bool Session::user_blocking(int fd) const {
  const auto it = nonblock_.find(fd);
  return it == nonblock_.end() || !it->second;
}

void Session::syscall(const Event& e, const Syscall& c) {
  const Micros t = script_time(e.time, e.time.start);
  if (pending_) complete_pending();
  advance_to(t <= 0 ? 0 : static_cast<std::uint64_t>(t) * 1000u);
  check_unconsumed(e.line, "this system call");
  const Micros end = e.time.block_end ? script_time(e.time, *e.time.block_end) : t;
  const Micros tol = cfg_.tolerance(end, previous_);
  trace("line " + std::to_string(e.line) + ": " + str(c));
  std::optional<std::uint64_t> timeout;
  Attempt attempt = prepare(e, c, timeout);
  auto r = attempt(false);
  drain();
  anchor_ = previous_ = t;
  if (r) {
    check_result(e.line, c, *r, end, tol);
    return;
  }
  // A call that blocks: with `T...E`, the script's later events run while it waits (as
  // packetdrill's system call thread does); without, nothing else of the script runs until
  // it returns (packetdrill's main thread makes the call), so only the stack's timers can
  // end the wait.
  const bool sync = !e.time.block_end;
  pending_ = Pending{e.line, e.origin, &c, std::move(attempt), end, tol, timeout, sync};
  if (sync) complete_pending();
}

void Session::check_result(int line, const Syscall& c, const CallResult& r, Micros end, Micros tol) {
  const auto now = static_cast<Micros>(now_ns_ / 1000);
  if (now < end - tol || now > end + tol)
    fail(line, "wrong timing: " + c.name + " returned at " + at(now_ns_) + ", expected at " +
                   str(Time{Time::Kind::absolute, end, {}, {}}) + " (+-" +
                   str(Time{Time::Kind::absolute, tol, {}, {}}) + ")");
  const std::int64_t want = eval_int(c.result, line);
  const std::string got = r.value < 0 ? "-1 " + errno_name(r.error) : std::to_string(r.value);
  const bool makes_fd = c.name == "socket" || c.name == "accept";
  if (makes_fd && want >= 0 && r.value >= 0) {
    fds_[static_cast<int>(want)] = static_cast<int>(r.value);
    return;
  }
  if (r.value != want || (want < 0 && c.errno_name && canonical_errno(*c.errno_name) != errno_name(r.error)))
    fail(line, "wrong result: " + str(c) + ", got " + got + " at " + at(now_ns_));
  if (!r.mismatch.empty()) fail(line, "wrong " + r.mismatch + " in " + str(c) + " at " + at(now_ns_));
}

Session::Attempt Session::prepare(const Event& e, const Syscall& c,
                                  std::optional<std::uint64_t>& timeout_ns) {
  const int line = e.line;
  const auto& a = c.args;
  const auto arity = [&](std::size_t lo, std::size_t hi) {
    if (a.size() < lo || a.size() > hi)
      fail(line, c.name + " takes " + std::to_string(lo) + (hi != lo ? " to " + std::to_string(hi) : "") +
                     " arguments");
  };
  utcp_host* h = host_;
  // A call that may block: EAGAIN on a socket the script keeps blocking means "retry".
  const auto may_block = [this](int fd, std::function<CallResult()> raw) -> Attempt {
    return [this, fd, raw = std::move(raw)](bool) -> std::optional<CallResult> {
      CallResult r = raw();
      if (r.value < 0 && r.error == EAGAIN && user_blocking(fd)) return std::nullopt;
      return r;
    };
  };

  if (c.name == "socket") {
    arity(3, 3);
    const int domain =
        is_ellipsis(a[0]) ? (cfg_.ipv6 ? AF_INET6 : AF_INET) : static_cast<int>(eval_int(a[0], line));
    const int type = static_cast<int>(eval_int(a[1], line));
    const int proto = is_ellipsis(a[2]) ? IPPROTO_TCP : static_cast<int>(eval_int(a[2], line));
    return [this, h, domain, type, proto](bool) -> std::optional<CallResult> {
      const int fd = utcp_socket(h, domain, type & ~SOCK_NONBLOCK, proto);
      const CallResult r = sys(fd);
      if (fd >= 0) {
        utcp_fcntl(h, fd, F_SETFL, O_NONBLOCK);
        nonblock_[fd] = (type & SOCK_NONBLOCK) != 0;
      }
      return r;
    };
  }
  if (c.name == "bind" || c.name == "connect") {
    arity(3, 3);
    const int fd = host_fd(a[0], line);
    const bool bind = c.name == "bind";
    IpAddr ip = bind ? cfg_.local_ip : cfg_.remote_ip;
    std::uint16_t port = bind ? cfg_.bind_port : cfg_.connect_port;
    if (const ExprStruct* s = as_struct(a[1])) {
      if (const Expr* p = field(*s, {"sin_port", "sin6_port"}))
        port = static_cast<std::uint16_t>(eval_int(*p, line));
      if (const Expr* x = field(*s, {"sin_addr", "sin6_addr"})) {
        const auto* call = std::get_if<ExprCall>(&x->value);
        const auto* text =
            call && !call->args.empty() ? std::get_if<ExprString>(&call->args.back().value) : nullptr;
        const auto parsed = text ? IpAddr::parse(text->value) : std::nullopt;
        if (!parsed) fail(line, "expected inet_addr(\"address\") or inet_pton(AF_INET6, \"address\")");
        ip = *parsed;
      }
    } else if (!is_ellipsis(a[1])) {
      fail(line, c.name + ": the address is '...' or {sin_port=htons(N), sin_addr=inet_addr(\"A\")}");
    }
    const host::SockAddr addr = host::to_sockaddr(ip, port);
    if (bind) {
      return [this, h, fd, addr, port](bool) -> std::optional<CallResult> {
        const CallResult r = sys(utcp_bind(h, fd, addr.get(), addr.len));
        if (r.value == 0) local_port_ = port;
        return r;
      };
    }
    auto started = std::make_shared<bool>(false);
    return [this, h, fd, addr, port, started](bool) -> std::optional<CallResult> {
      if (!*started) {
        *started = true;
        remote_port_ = port;
        local_port_known_ = false;
        const CallResult r = sys(utcp_connect(h, fd, addr.get(), addr.len));
        if (r.value < 0 && r.error == EINPROGRESS && user_blocking(fd)) return std::nullopt;
        return r;
      }
      pollfd p{fd, POLLOUT, 0};
      if (utcp_poll(h, &p, 1, 0) <= 0) return std::nullopt;
      int err = 0;
      socklen_t len = sizeof err;
      if (utcp_getsockopt(h, fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) return sys(-1);
      return err == 0 ? CallResult{0, 0, {}} : CallResult{-1, err, {}};
    };
  }
  if (c.name == "listen") {
    arity(2, 2);
    const int fd = host_fd(a[0], line);
    const int backlog = static_cast<int>(eval_int(a[1], line));
    return [h, fd, backlog](bool) -> std::optional<CallResult> { return sys(utcp_listen(h, fd, backlog)); };
  }
  if (c.name == "accept") {
    arity(3, 3);
    const int fd = host_fd(a[0], line);
    return may_block(fd, [this, h, fd] {
      sockaddr_storage peer{};
      socklen_t len = sizeof peer;
      const int nfd = utcp_accept(h, fd, reinterpret_cast<sockaddr*>(&peer), &len);
      const CallResult r = sys(nfd);
      if (nfd >= 0) {
        utcp_fcntl(h, nfd, F_SETFL, O_NONBLOCK);
        nonblock_[nfd] = false;
      }
      return r;
    });
  }
  // The read paths. Lengths are bounded so that a script cannot ask for absurd buffers.
  const auto read_length = [&](const Expr& x) {
    const std::int64_t n = eval_int(x, line);
    if (n < 0 || n > (64 << 20)) fail(line, "a read of " + std::to_string(n) + " bytes (0 to 64 MiB)");
    return static_cast<std::size_t>(n);
  };
  // A read that may block; `raw(k)` reads at most k bytes. With MSG_WAITALL on a blocking
  // socket it waits for all `n` (the host's socket is non-blocking, so the runner gathers
  // them), for less only at the end of the stream or on an error; with MSG_PEEK too, until a
  // peek sees `n` or the stream has ended.
  const auto reading = [this, h, &may_block](int fd, std::size_t n, int flags,
                                             std::function<CallResult(std::size_t)> raw) -> Attempt {
    if ((flags & MSG_WAITALL) == 0 || (flags & MSG_DONTWAIT) != 0)
      return may_block(fd, [raw = std::move(raw), n] { return raw(n); });
    auto done = std::make_shared<std::size_t>(0);
    return [this, h, fd, n, flags, raw = std::move(raw), done](bool) -> std::optional<CallResult> {
      if (!user_blocking(fd)) return raw(n);
      if ((flags & MSG_PEEK) != 0) {
        CallResult r = raw(n);
        if (r.value == static_cast<std::int64_t>(n) || r.value == 0 || (r.value < 0 && r.error != EAGAIN))
          return r;
        pollfd p{fd, POLLRDHUP, 0};
        if (utcp_poll(h, &p, 1, 0) > 0) return r;  // the stream ended: what there is
        return std::nullopt;
      }
      const CallResult r = raw(n - *done);
      if (r.value > 0) *done += static_cast<std::size_t>(r.value);
      const auto total = CallResult{static_cast<std::int64_t>(*done), 0, {}};
      if (*done == n || r.value == 0) return total;
      if (r.value > 0 || r.error == EAGAIN) return std::nullopt;
      return *done > 0 ? total : r;
    };
  };
  if (c.name == "read" || c.name == "recv" || c.name == "recvfrom") {
    const bool plain = c.name == "read";
    const bool from = c.name == "recvfrom";
    arity(plain ? 3 : from ? 6 : 4, plain ? 3 : from ? 6 : 4);
    const int fd = host_fd(a[0], line);
    const std::size_t n = read_length(a[2]);
    const int flags = plain ? 0 : static_cast<int>(eval_int(a[3], line));
    return reading(fd, n, flags, [h, fd, flags, plain, from](std::size_t k) {
      std::vector<std::byte> buf(k);
      if (plain) return sys(utcp_read(h, fd, buf.data(), k));
      if (!from) return sys(utcp_recv(h, fd, buf.data(), k, flags));
      sockaddr_storage peer{};
      socklen_t len = sizeof peer;
      return sys(utcp_recvfrom(h, fd, buf.data(), k, flags, reinterpret_cast<sockaddr*>(&peer), &len));
    });
  }
  if (c.name == "readv" || c.name == "recvmsg") {
    const bool msg = c.name == "recvmsg";
    arity(3, 3);
    const int fd = host_fd(a[0], line);
    // readv(fd, [{..., N}, ...], count); recvmsg(fd, {msg_name(...)=..., msg_iov(count)=[...],
    // msg_flags=F}, flags), msg_flags being what the call reports.
    const Expr* iov_expr = &a[1];
    std::int64_t count = 0;
    std::optional<std::int64_t> want_msg_flags;
    if (msg) {
      const ExprStruct* m = as_struct(a[1]);
      const StructField* f = m ? field_of(*m, "msg_iov") : nullptr;
      if (f == nullptr || f->args.size() != 1)
        fail(line, "recvmsg's message is {msg_name(...)=..., msg_iov(N)=[{..., LEN}, ...], msg_flags=F}");
      iov_expr = &f->value;
      count = eval_int(f->args[0], line);
      if (const StructField* fl = field_of(*m, "msg_flags")) want_msg_flags = eval_int(fl->value, line);
    } else {
      count = eval_int(a[2], line);
    }
    const auto* items = std::get_if<ExprList>(&iov_expr->value);
    if (items == nullptr) fail(line, c.name + ": the buffers are [{..., LEN}, ...]");
    std::vector<std::size_t> lengths;
    for (const Expr& item : items->items) {
      const ExprStruct* v = as_struct(item);
      const StructField* len = v == nullptr                                         ? nullptr
                               : v->fields.size() == 2 && v->fields[1].name.empty() ? &v->fields[1]
                                                                                    : field_of(*v, "iov_len");
      if (len == nullptr) fail(line, c.name + ": each buffer is {..., LEN} or {iov_base=..., iov_len=LEN}");
      lengths.push_back(read_length(len->value));
    }
    if (count < 0 || static_cast<std::size_t>(count) > lengths.size())
      fail(line, c.name + ": " + std::to_string(count) + " buffers named, " + std::to_string(lengths.size()) +
                     " written");
    lengths.resize(static_cast<std::size_t>(count));
    const int flags = msg ? static_cast<int>(eval_int(a[2], line)) : 0;
    std::size_t total = 0;
    for (std::size_t n : lengths) total += n;
    return reading(fd, total, flags, [h, fd, lengths, total, flags, msg, want_msg_flags](std::size_t k) {
      // The buffers as written; fewer bytes (the rest of a MSG_WAITALL) in one buffer.
      std::vector<std::vector<std::byte>> bufs;
      std::vector<iovec> iov;
      if (k == total)
        for (std::size_t n : lengths) bufs.emplace_back(n);
      else
        bufs.emplace_back(k);
      for (auto& b : bufs) iov.push_back(iovec{b.data(), b.size()});
      if (!msg) return sys(utcp_readv(h, fd, iov.data(), static_cast<int>(iov.size())));
      msghdr m{};
      m.msg_iov = iov.data();
      m.msg_iovlen = iov.size();
      CallResult r = sys(utcp_recvmsg(h, fd, &m, flags));
      if (r.value >= 0 && want_msg_flags && m.msg_flags != *want_msg_flags)
        r.mismatch = "msg_flags " + std::to_string(m.msg_flags);
      return r;
    });
  }
  if (c.name == "write" || c.name == "send") {
    const bool send = c.name == "send";
    arity(send ? 4 : 3, send ? 4 : 3);
    const int fd = host_fd(a[0], line);
    const auto n = static_cast<std::size_t>(eval_int(a[2], line));
    if (n > (64u << 20)) fail(line, "writes of more than 64 MiB are not supported");
    const int flags = send ? static_cast<int>(eval_int(a[3], line)) : 0;
    auto done = std::make_shared<std::size_t>(0);
    // A blocking write returns once all of it is queued: retried with the rest.
    return [this, h, fd, n, flags, send, done](bool) -> std::optional<CallResult> {
      const std::vector<std::byte> zeros(n - *done);
      const CallResult r = sys(send ? utcp_send(h, fd, zeros.data(), zeros.size(), flags)
                                    : utcp_write(h, fd, zeros.data(), zeros.size()));
      if (!user_blocking(fd) || (flags & MSG_DONTWAIT)) return r;
      if (r.value > 0) *done += static_cast<std::size_t>(r.value);
      if (*done == n) return CallResult{static_cast<std::int64_t>(n), 0, {}};
      if (r.value >= 0 || r.error == EAGAIN) return std::nullopt;
      if (*done > 0) return CallResult{static_cast<std::int64_t>(*done), 0, {}};
      return r;
    };
  }
  if (c.name == "close") {
    arity(1, 1);
    const int fd = host_fd(a[0], line);
    const int script_fd = static_cast<int>(eval_int(a[0], line));
    return [this, h, fd, script_fd](bool) -> std::optional<CallResult> {
      const CallResult r = sys(utcp_close(h, fd));
      if (r.value == 0) {
        fds_.erase(script_fd);
        nonblock_.erase(fd);
      }
      return r;
    };
  }
  if (c.name == "shutdown") {
    arity(2, 2);
    const int fd = host_fd(a[0], line);
    const int how = static_cast<int>(eval_int(a[1], line));
    return [h, fd, how](bool) -> std::optional<CallResult> { return sys(utcp_shutdown(h, fd, how)); };
  }
  if (c.name == "fcntl") {
    arity(2, 3);
    const int fd = host_fd(a[0], line);
    const int cmd = static_cast<int>(eval_int(a[1], line));
    const int arg = a.size() == 3 ? static_cast<int>(eval_int(a[2], line)) : 0;
    return [this, h, fd, cmd, arg](bool) -> std::optional<CallResult> {
      if (cmd == F_SETFL) {
        const CallResult r = sys(utcp_fcntl(h, fd, F_SETFL, arg | O_NONBLOCK));
        if (r.value == 0) nonblock_[fd] = (arg & O_NONBLOCK) != 0;
        return r;
      }
      CallResult r = sys(utcp_fcntl(h, fd, cmd, arg));
      if (cmd == F_GETFL && r.value >= 0)
        r.value = (r.value & ~O_NONBLOCK) | (user_blocking(fd) ? 0 : O_NONBLOCK);
      return r;
    };
  }
  if (c.name == "getsockopt" || c.name == "setsockopt") {
    arity(5, 5);
    const int fd = host_fd(a[0], line);
    const int level = static_cast<int>(eval_int(a[1], line));
    const int name = static_cast<int>(eval_int(a[2], line));
    const ExprStruct* s = as_struct(a[3]);
    if (c.name == "setsockopt") {
      std::vector<std::byte> value;
      const auto put = [&value](const auto& v) {
        value.resize(sizeof v);
        std::memcpy(value.data(), &v, sizeof v);
      };
      if (s && field(*s, {"onoff", "l_onoff"})) {
        const Expr* secs = field(*s, {"linger", "l_linger"});
        put(linger{static_cast<int>(eval_int(*field(*s, {"onoff", "l_onoff"}), line)),
                   secs ? static_cast<int>(eval_int(*secs, line)) : 0});
      } else if (s && field(*s, {"tv_sec"})) {
        const Expr* us = field(*s, {"tv_usec"});
        put(timeval{static_cast<time_t>(eval_int(*field(*s, {"tv_sec"}), line)),
                    us ? static_cast<suseconds_t>(eval_int(*us, line)) : 0});
      } else {
        put(static_cast<int>(eval_int(a[3], line)));
      }
      return [h, fd, level, name, value](bool) -> std::optional<CallResult> {
        return sys(utcp_setsockopt(h, fd, level, name, value.data(), static_cast<socklen_t>(value.size())));
      };
    }
    // packetdrill reads getsockopt's value as an integer [N] (or `...`), nothing else.
    if (s != nullptr) fail(line, "getsockopt's value is [N] or '...' (packetdrill takes no {...} there)");
    std::optional<std::int64_t> want;
    if (!is_ellipsis(a[3])) want = eval_int(a[3], line);
    return [h, fd, level, name, want](bool) -> std::optional<CallResult> {
      if (level == SOL_SOCKET && name == SO_LINGER) {  // [N] is l_onoff, the struct's first int
        linger l{};
        socklen_t len = sizeof l;
        CallResult r = sys(utcp_getsockopt(h, fd, level, name, &l, &len));
        if (r.value == 0 && want && l.l_onoff != *want)
          r.mismatch = "value [" + std::to_string(l.l_onoff) + "]";
        return r;
      }
      int v = 0;
      socklen_t len = sizeof v;
      CallResult r = sys(utcp_getsockopt(h, fd, level, name, &v, &len));
      if (r.value == 0 && want && v != *want) r.mismatch = "value [" + std::to_string(v) + "]";
      return r;
    };
  }
  if (c.name == "poll") {
    arity(3, 3);
    const auto* list = std::get_if<ExprList>(&a[0].value);
    if (list == nullptr) fail(line, "poll's first argument is [{fd=F, events=E, revents=R}, ...]");
    std::vector<pollfd> fds;
    std::vector<std::optional<short>> want;
    for (const Expr& item : list->items) {
      const ExprStruct* s = as_struct(item);
      const Expr* f = s ? field(*s, {"fd"}) : nullptr;
      if (f == nullptr) fail(line, "poll's first argument is [{fd=F, events=E, revents=R}, ...]");
      const Expr* ev = field(*s, {"events"});
      const Expr* rev = field(*s, {"revents"});
      fds.push_back(pollfd{host_fd(*f, line), static_cast<short>(ev ? eval_int(*ev, line) : 0), 0});
      want.push_back(rev ? std::optional<short>(static_cast<short>(eval_int(*rev, line))) : std::nullopt);
    }
    const auto timeout = eval_int(a[2], line);
    if (timeout > 0) timeout_ns = now_ns_ + static_cast<std::uint64_t>(timeout) * 1'000'000u;
    return [h, fds, want, timeout](bool timed_out) mutable -> std::optional<CallResult> {
      for (pollfd& p : fds) p.revents = 0;
      CallResult r = sys(utcp_poll(h, fds.data(), fds.size(), 0));
      if (r.value == 0 && timeout != 0 && !timed_out) return std::nullopt;
      for (std::size_t i = 0; i < fds.size() && r.value >= 0; ++i)
        if (want[i] && fds[i].revents != *want[i]) {
          r.mismatch = "revents " + poll_names(fds[i].revents) + " of entry " + std::to_string(i) +
                       " (expected " + poll_names(*want[i]) + ")";
          break;
        }
      return r;
    };
  }
  fail(line, "unsupported system call '" + c.name + "'");
}

}  // namespace utcp::script
