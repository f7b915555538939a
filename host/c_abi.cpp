// The C ABI (utcp/posix.h): each function takes the host's lock through Host and turns an
// errno result into -1 with errno set.
#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <memory>
#include <string>

#include "host.hpp"
#include "utcp/posix.h"

struct utcp_host {
  std::unique_ptr<utcp::host::Host> host;
};

namespace utcp::host {

Host& unwrap(utcp_host* h) {
  return *h->host;
}

utcp_host* wrap(std::unique_ptr<Host> h) {
  return new utcp_host{std::move(h)};
}

}  // namespace utcp::host

namespace {

using utcp::host::SysResult;

static_assert(UTCP_IP_DROP_REASONS == static_cast<int>(utcp::host::IpError::count_));
static_assert(UTCP_VNET_HDR_LEN == utcp::host::VnetHeader::size);
// The versions' sizes as posix.h's comments give them (LP64), each one the end of a field, and
// the last version the whole struct: a field appended without a new version fails here.
static_assert(UTCP_HOST_CONFIG_V2_SIZE == sizeof(utcp_host_config));
static_assert(sizeof(void*) != 8 || (UTCP_HOST_CONFIG_V1_SIZE == 20 && UTCP_HOST_CONFIG_V2_SIZE == 24));
static_assert(UTCP_HOST_STATS_V1_SIZE == 208 && UTCP_HOST_STATS_V2_SIZE == 248 &&
              UTCP_HOST_STATS_V3_SIZE == 288);
static_assert(UTCP_HOST_STATS_V3_SIZE == sizeof(utcp_host_stats));
constexpr uint32_t known_host_flags = UTCP_HOST_NO_TIMESTAMPS | UTCP_HOST_NO_SACK;

static_assert(UTCP_VNET_FRAME_MAX == utcp::host::VnetHeader::size + utcp::host::max_super_packet);

int fail(int e) {
  errno = e;
  return -1;
}

int ret(const SysResult<void>& r) {
  return r ? 0 : fail(r.error());
}
int ret(const SysResult<int>& r) {
  return r ? *r : fail(r.error());
}
ssize_t ret(const SysResult<std::size_t>& r) {
  return r ? static_cast<ssize_t>(*r) : fail(r.error());
}

}  // namespace

extern "C" {

utcp_host* utcp_host_new_sized(const utcp_host_config* cfg, size_t size) {
  if (cfg == nullptr) {
    errno = EFAULT;
    return nullptr;
  }
  if (size < UTCP_HOST_CONFIG_V1_SIZE) {
    errno = EINVAL;
    return nullptr;
  }
  // A newer caller's struct: its fields past ours must be unset (as Linux's extensible
  // structs, copy_struct_from_user).
  const auto* bytes = reinterpret_cast<const unsigned char*>(cfg);
  if (size > sizeof(utcp_host_config) &&
      std::any_of(bytes + sizeof(utcp_host_config), bytes + size, [](unsigned char b) { return b != 0; })) {
    errno = E2BIG;
    return nullptr;
  }
  utcp_host_config c{};
  std::memcpy(&c, cfg, std::min(size, sizeof c));
  if (c.addr == nullptr || (c.flags & ~known_host_flags) != 0) {
    errno = EINVAL;
    return nullptr;
  }
  auto ip = utcp::IpAddr::parse(c.addr);
  if (!ip) {
    errno = EINVAL;
    return nullptr;
  }
  auto h = utcp::host::Host::create(utcp::host::HostConfig{
      *ip, c.seed, c.mtu, (c.flags & UTCP_HOST_NO_TIMESTAMPS) == 0, (c.flags & UTCP_HOST_NO_SACK) == 0});
  if (!h) {
    errno = h.error();
    return nullptr;
  }
  return new utcp_host{std::move(*h)};
}

// The unsized forms, for programs built before the sized ones (the header's macros of the same
// name call the sized forms; the parentheses keep those macros out of these definitions).
// clang-format off
utcp_host* (utcp_host_new)(const utcp_host_config* cfg) {
  return utcp_host_new_sized(cfg, UTCP_HOST_CONFIG_V2_SIZE);
}
// clang-format on

void utcp_host_free(utcp_host* h) {
  delete h;
}

void utcp_host_set_time(utcp_host* h, uint64_t now_ns) {
  h->host->set_time(now_ns);
}

void utcp_host_set_clock(utcp_host* h, uint64_t now_ns) {
  h->host->set_clock(now_ns);
}

int64_t utcp_host_next_deadline(utcp_host* h) {
  const auto d = h->host->next_deadline();
  return d ? static_cast<int64_t>(*d) : -1;
}

int utcp_host_input(utcp_host* h, const void* ip_datagram, size_t len) {
  if (ip_datagram == nullptr && len > 0) return fail(EFAULT);
  return ret(h->host->input({static_cast<const std::byte*>(ip_datagram), len}));
}

int utcp_host_input_vnet(utcp_host* h, const void* frame, size_t len) {
  if (frame == nullptr && len > 0) return fail(EFAULT);
  const auto r = h->host->input_vnet({static_cast<const std::byte*>(frame), len});
  return r ? static_cast<int>(*r) : fail(r.error());
}

ssize_t utcp_host_output_vnet(utcp_host* h, void* buf, size_t cap) {
  if (buf == nullptr && cap > 0) return fail(EFAULT);
  return ret(h->host->output_vnet({static_cast<std::byte*>(buf), cap}));
}

ssize_t utcp_host_output(utcp_host* h, void* buf, size_t cap) {
  if (buf == nullptr && cap > 0) return fail(EFAULT);
  return ret(h->host->output({static_cast<std::byte*>(buf), cap}));
}

int utcp_socket(utcp_host* h, int domain, int type, int protocol) {
  return ret(h->host->socket(domain, type, protocol));
}
int utcp_bind(utcp_host* h, int fd, const struct sockaddr* addr, socklen_t len) {
  return ret(h->host->bind(fd, addr, len));
}
int utcp_listen(utcp_host* h, int fd, int backlog) {
  return ret(h->host->listen(fd, backlog));
}
int utcp_accept(utcp_host* h, int fd, struct sockaddr* addr, socklen_t* len) {
  return ret(h->host->accept(fd, addr, len));
}
int utcp_connect(utcp_host* h, int fd, const struct sockaddr* addr, socklen_t len) {
  return ret(h->host->connect(fd, addr, len));
}
ssize_t utcp_read(utcp_host* h, int fd, void* buf, size_t n) {
  return ret(h->host->recv(fd, buf, n, 0));
}
ssize_t utcp_write(utcp_host* h, int fd, const void* buf, size_t n) {
  return ret(h->host->send(fd, buf, n, 0));
}
ssize_t utcp_recv(utcp_host* h, int fd, void* buf, size_t n, int flags) {
  return ret(h->host->recv(fd, buf, n, flags));
}
ssize_t utcp_readv(utcp_host* h, int fd, const struct iovec* iov, int iovcnt) {
  if (iovcnt < 0 || iovcnt > IOV_MAX) return fail(EINVAL);
  if (iov == nullptr && iovcnt > 0) return fail(EFAULT);
  return ret(h->host->recv(fd, std::span<const iovec>(iov, static_cast<std::size_t>(iovcnt)), 0));
}
ssize_t utcp_recvfrom(utcp_host* h, int fd, void* buf, size_t n, int flags, struct sockaddr* addr,
                      socklen_t* addrlen) {
  if (addr != nullptr && addrlen == nullptr) return fail(EFAULT);
  const ssize_t r = ret(h->host->recv(fd, buf, n, flags));
  if (r >= 0 && addr != nullptr) *addrlen = 0;
  return r;
}
ssize_t utcp_recvmsg(utcp_host* h, int fd, struct msghdr* msg, int flags) {
  if (msg == nullptr) return fail(EFAULT);
  if (msg->msg_iovlen > static_cast<std::size_t>(IOV_MAX)) return fail(EMSGSIZE);
  if (msg->msg_iov == nullptr && msg->msg_iovlen > 0) return fail(EFAULT);
  const ssize_t r = ret(h->host->recv(fd, std::span<const iovec>(msg->msg_iov, msg->msg_iovlen), flags));
  if (r >= 0) {
    msg->msg_namelen = 0;
    msg->msg_controllen = 0;
    msg->msg_flags = 0;
  }
  return r;
}
ssize_t utcp_send(utcp_host* h, int fd, const void* buf, size_t n, int flags) {
  return ret(h->host->send(fd, buf, n, flags));
}
int utcp_shutdown(utcp_host* h, int fd, int how) {
  return ret(h->host->shutdown(fd, how));
}
int utcp_close(utcp_host* h, int fd) {
  return ret(h->host->close(fd));
}
int utcp_fcntl(utcp_host* h, int fd, int cmd, int arg) {
  return ret(h->host->fcntl(fd, cmd, arg));
}
int utcp_getsockopt(utcp_host* h, int fd, int level, int name, void* val, socklen_t* len) {
  return ret(h->host->getsockopt(fd, level, name, val, len));
}
int utcp_setsockopt(utcp_host* h, int fd, int level, int name, const void* val, socklen_t len) {
  return ret(h->host->setsockopt(fd, level, name, val, len));
}
int utcp_poll(utcp_host* h, struct pollfd* fds, nfds_t n, int timeout_ms) {
  return ret(h->host->poll(fds, n, timeout_ms));
}
int utcp_getsockname(utcp_host* h, int fd, struct sockaddr* addr, socklen_t* len) {
  return ret(h->host->getsockname(fd, addr, len));
}
int utcp_getpeername(utcp_host* h, int fd, struct sockaddr* addr, socklen_t* len) {
  return ret(h->host->getpeername(fd, addr, len));
}

const char* utcp_ip_drop_name(int reason) {
  if (reason < 0 || reason >= UTCP_IP_DROP_REASONS) return nullptr;
  return utcp::host::to_string(static_cast<utcp::host::IpError>(reason)).data();
}

ssize_t utcp_host_get_stats_sized(const utcp_host* h, utcp_host_stats* out, size_t size) {
  if (out == nullptr) return fail(EFAULT);
  if (size < UTCP_HOST_STATS_V1_SIZE) return fail(EINVAL);
  const utcp_host_stats st = h->host->stats();
  const std::size_t n = std::min(size, sizeof st);
  auto* bytes = reinterpret_cast<unsigned char*>(out);
  std::memcpy(bytes, &st, n);
  std::memset(bytes + n, 0, size - n);
  return static_cast<ssize_t>(n);
}

// clang-format off
int (utcp_host_get_stats)(utcp_host* h, utcp_host_stats* out) {
  return utcp_host_get_stats_sized(h, out, UTCP_HOST_STATS_V1_SIZE) < 0 ? -1 : 0;
}
// clang-format on

ssize_t utcp_host_tcp_counters(utcp_host* h, char* buf, size_t len) {
  if (buf == nullptr && len > 0) return fail(EFAULT);
  const std::string text = h->host->tcp_counters();
  if (len > 0) {
    const std::size_t n = std::min(text.size(), len - 1);
    std::memcpy(buf, text.data(), n);
    buf[n] = '\0';
  }
  return static_cast<ssize_t>(text.size());
}

}  // extern "C"
