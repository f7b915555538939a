// The socket calls through the C ABI, single-threaded on virtual time: every errno path,
// non-blocking connect, poll, MSG_PEEK, SO_LINGER 0, shutdown, EOF, bind conflicts.
#include <fcntl.h>
#include <netinet/tcp.h>

#include "host.hpp"
#include "net.hpp"

namespace utcp::host::test {
namespace {

class Calls : public ::testing::Test {
 protected:
  Net net;

  int tcp_socket(utcp_host* h) {
    const int fd = utcp_socket(h, AF_INET, SOCK_STREAM, 0);
    EXPECT_GE(fd, 3);
    return fd;
  }
  int bind_any(utcp_host* h, int fd, std::uint16_t port) {
    socklen_t len = 0;
    sockaddr_storage ss = sockaddr_of("0.0.0.0", port, &len);
    return utcp_bind(h, fd, reinterpret_cast<sockaddr*>(&ss), len);
  }
  int listener(utcp_host* h, std::uint16_t port, int backlog = 8) {
    const int fd = tcp_socket(h);
    EXPECT_EQ(bind_any(h, fd, port), 0);
    EXPECT_EQ(utcp_listen(h, fd, backlog), 0);
    return fd;
  }
  int connect_to_b(int fd, std::uint16_t port) {
    socklen_t len = 0;
    sockaddr_storage ss = net.addr_b(port, &len);
    return utcp_connect(net.a, fd, reinterpret_cast<sockaddr*>(&ss), len);
  }
  void set_nonblocking(utcp_host* h, int fd) {
    ASSERT_EQ(utcp_fcntl(h, fd, F_SETFL, utcp_fcntl(h, fd, F_GETFL, 0) | O_NONBLOCK), 0);
  }
  // A connected pair: client on a, server (accepted) on b.
  std::pair<int, int> establish(std::uint16_t port = 80) {
    const int l = listener(net.b, port);
    const int c = tcp_socket(net.a);
    set_nonblocking(net.a, c);
    EXPECT_EQ(connect_to_b(c, port), -1);
    EXPECT_EQ(errno, EINPROGRESS);
    net.pump();
    set_nonblocking(net.b, l);
    const int s = utcp_accept(net.b, l, nullptr, nullptr);
    EXPECT_GE(s, 3) << std::strerror(errno);
    EXPECT_EQ(utcp_fcntl(net.a, c, F_SETFL, O_RDWR), 0);  // back to blocking
    listener_ = l;
    return {c, s};
  }
  int sockerr(utcp_host* h, int fd) {
    int v = -1;
    socklen_t len = sizeof v;
    EXPECT_EQ(utcp_getsockopt(h, fd, SOL_SOCKET, SO_ERROR, &v, &len), 0);
    return v;
  }
  short poll_one(utcp_host* h, int fd, short events) {
    pollfd p{fd, events, 0};
    EXPECT_GE(utcp_poll(h, &p, 1, 0), 0);
    return p.revents;
  }
  int listener_ = -1;
};

#define EXPECT_ERRNO(call, err)                      \
  do {                                               \
    errno = 0;                                       \
    EXPECT_EQ((call), -1);                           \
    EXPECT_EQ(errno, (err)) << std::strerror(errno); \
  } while (0)

TEST_F(Calls, SocketArguments) {
  EXPECT_ERRNO(utcp_socket(net.a, AF_UNIX, SOCK_STREAM, 0), EAFNOSUPPORT);
  EXPECT_ERRNO(utcp_socket(net.a, AF_INET6, SOCK_STREAM, 0), EAFNOSUPPORT);  // an IPv4 host
  EXPECT_ERRNO(utcp_socket(net.a, AF_INET, SOCK_DGRAM, 0), EPROTONOSUPPORT);
  EXPECT_ERRNO(utcp_socket(net.a, AF_INET, SOCK_STREAM, IPPROTO_UDP), EPROTONOSUPPORT);
  EXPECT_ERRNO(utcp_socket(net.a, AF_INET, 12345, 0), EINVAL);
  EXPECT_EQ(utcp_socket(net.a, AF_INET, SOCK_STREAM, IPPROTO_TCP), 3);
}

TEST_F(Calls, LowestFreeDescriptor) {
  EXPECT_EQ(tcp_socket(net.a), 3);
  EXPECT_EQ(tcp_socket(net.a), 4);
  EXPECT_EQ(tcp_socket(net.a), 5);
  EXPECT_EQ(utcp_close(net.a, 4), 0);
  EXPECT_EQ(tcp_socket(net.a), 4);
  EXPECT_EQ(tcp_socket(net.a), 6);
}

TEST_F(Calls, BadDescriptors) {
  char c = 0;
  for (int fd : {-1, 0, 1, 2, 3, 1000}) {
    EXPECT_ERRNO(utcp_close(net.a, fd), EBADF);
    EXPECT_ERRNO(utcp_read(net.a, fd, &c, 1), EBADF);
    EXPECT_ERRNO(utcp_write(net.a, fd, &c, 1), EBADF);
    EXPECT_ERRNO(utcp_listen(net.a, fd, 1), EBADF);
    EXPECT_ERRNO(utcp_fcntl(net.a, fd, F_GETFL, 0), EBADF);
  }
  const int fd = tcp_socket(net.a);
  EXPECT_EQ(utcp_close(net.a, fd), 0);
  EXPECT_ERRNO(utcp_close(net.a, fd), EBADF);
}

TEST_F(Calls, NotConnected) {
  const int fd = tcp_socket(net.a);
  char c = 0;
  EXPECT_ERRNO(utcp_read(net.a, fd, &c, 1), ENOTCONN);
  EXPECT_ERRNO(utcp_write(net.a, fd, &c, 1), ENOTCONN);
  EXPECT_ERRNO(utcp_shutdown(net.a, fd, SHUT_WR), ENOTCONN);
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  EXPECT_ERRNO(utcp_getpeername(net.a, fd, reinterpret_cast<sockaddr*>(&ss), &len), ENOTCONN);
  EXPECT_ERRNO(utcp_accept(net.a, fd, nullptr, nullptr), EINVAL);
  const int l = listener(net.a, 99);
  EXPECT_ERRNO(utcp_read(net.a, l, &c, 1), ENOTCONN);
}

TEST_F(Calls, BadPointersAndFlags) {
  auto [c, s] = establish();
  EXPECT_ERRNO(utcp_read(net.a, c, nullptr, 10), EFAULT);
  EXPECT_ERRNO(utcp_write(net.a, c, nullptr, 10), EFAULT);
  char x = 0;
  EXPECT_ERRNO(utcp_recv(net.a, c, &x, 1, MSG_OOB), EOPNOTSUPP);
  EXPECT_ERRNO(utcp_send(net.a, c, &x, 1, MSG_OOB), EOPNOTSUPP);
  EXPECT_ERRNO(utcp_getsockopt(net.a, c, SOL_SOCKET, SO_ERROR, nullptr, nullptr), EFAULT);
  EXPECT_ERRNO(utcp_connect(net.a, tcp_socket(net.a), nullptr, 16), EFAULT);
  EXPECT_ERRNO(utcp_shutdown(net.a, c, 7), EINVAL);
  EXPECT_ERRNO(utcp_fcntl(net.a, c, F_DUPFD, 0), EINVAL);
  EXPECT_ERRNO(utcp_poll(net.a, nullptr, 1, 0), EFAULT);
}

TEST_F(Calls, BindErrors) {
  const int fd = tcp_socket(net.a);
  socklen_t len = 0;
  sockaddr_storage other = sockaddr_of("10.0.0.9", 80, &len);
  EXPECT_ERRNO(utcp_bind(net.a, fd, reinterpret_cast<sockaddr*>(&other), len), EADDRNOTAVAIL);
  EXPECT_ERRNO(utcp_bind(net.a, fd, reinterpret_cast<sockaddr*>(&other), len - 1), EINVAL);
  sockaddr_storage v6 = sockaddr_of("::1", 80, &len);
  EXPECT_ERRNO(utcp_bind(net.a, fd, reinterpret_cast<sockaddr*>(&v6), len), EAFNOSUPPORT);
  sockaddr_storage own = net.addr_a(80, &len);
  EXPECT_EQ(utcp_bind(net.a, fd, reinterpret_cast<sockaddr*>(&own), len), 0);
  EXPECT_ERRNO(utcp_bind(net.a, fd, reinterpret_cast<sockaddr*>(&own), len), EINVAL);  // already bound
  const int fd2 = tcp_socket(net.a);
  EXPECT_ERRNO(bind_any(net.a, fd2, 80), EADDRINUSE);
  const int one = 1;
  ASSERT_EQ(utcp_setsockopt(net.a, fd2, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one), 0);
  EXPECT_ERRNO(bind_any(net.a, fd2, 80), EADDRINUSE);  // a bound socket holds it even so
  EXPECT_EQ(utcp_close(net.a, fd), 0);
  EXPECT_EQ(bind_any(net.a, fd2, 80), 0);
}

TEST_F(Calls, BindEphemeralAndNames) {
  const int fd = tcp_socket(net.a);
  ASSERT_EQ(bind_any(net.a, fd, 0), 0);
  sockaddr_in in{};
  socklen_t len = sizeof in;
  ASSERT_EQ(utcp_getsockname(net.a, fd, reinterpret_cast<sockaddr*>(&in), &len), 0);
  EXPECT_EQ(len, sizeof in);
  EXPECT_GE(ntohs(in.sin_port), 49152);
  auto [c, s] = establish(81);
  ASSERT_EQ(utcp_getpeername(net.b, s, reinterpret_cast<sockaddr*>(&in), &len), 0);
  char text[32];
  EXPECT_STREQ(inet_ntop(AF_INET, &in.sin_addr, text, sizeof text), "10.0.0.1");
  sockaddr_in local{};
  ASSERT_EQ(utcp_getsockname(net.a, c, reinterpret_cast<sockaddr*>(&local), &len), 0);
  EXPECT_EQ(local.sin_port, in.sin_port);
  ASSERT_EQ(utcp_getpeername(net.a, c, reinterpret_cast<sockaddr*>(&in), &len), 0);
  EXPECT_EQ(ntohs(in.sin_port), 81);
}

TEST_F(Calls, ReuseAddrAfterTimeWait) {
  auto [c, s] = establish(8080);
  // The server closes first: its side goes through TIME-WAIT and keeps port 8080.
  ASSERT_EQ(utcp_close(net.b, s), 0);
  net.pump();
  ASSERT_EQ(utcp_close(net.a, c), 0);
  net.pump();
  ASSERT_EQ(utcp_close(net.b, listener_), 0);
  const int fd = tcp_socket(net.b);
  EXPECT_ERRNO(bind_any(net.b, fd, 8080), EADDRINUSE);
  const int one = 1;
  ASSERT_EQ(utcp_setsockopt(net.b, fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one), 0);
  EXPECT_EQ(bind_any(net.b, fd, 8080), 0);
  EXPECT_EQ(utcp_listen(net.b, fd, 1), 0);
}

TEST_F(Calls, NonBlockingConnect) {
  const int l = listener(net.b, 80);
  const int c = tcp_socket(net.a);
  set_nonblocking(net.a, c);
  EXPECT_EQ(utcp_fcntl(net.a, c, F_GETFL, 0), O_RDWR | O_NONBLOCK);
  EXPECT_ERRNO(connect_to_b(c, 80), EINPROGRESS);
  EXPECT_ERRNO(connect_to_b(c, 80), EALREADY);
  EXPECT_EQ(poll_one(net.a, c, POLLOUT), 0);
  char x = 0;
  EXPECT_ERRNO(utcp_read(net.a, c, &x, 1), EAGAIN);
  EXPECT_ERRNO(utcp_write(net.a, c, &x, 1), EAGAIN);
  net.pump();
  EXPECT_EQ(poll_one(net.a, c, POLLOUT | POLLIN), POLLOUT);
  EXPECT_EQ(sockerr(net.a, c), 0);
  EXPECT_EQ(connect_to_b(c, 80), 0);  // once, as Linux
  EXPECT_ERRNO(connect_to_b(c, 80), EISCONN);
  EXPECT_ERRNO(utcp_listen(net.a, c, 1), EINVAL);
  EXPECT_EQ(poll_one(net.b, l, POLLIN), POLLIN);
  EXPECT_ERRNO(connect_to_b(l, 80), EISCONN);
}

TEST_F(Calls, RefusedConnect) {
  const int c = tcp_socket(net.a);
  set_nonblocking(net.a, c);
  EXPECT_ERRNO(connect_to_b(c, 81), EINPROGRESS);
  net.pump();  // SYN, RST
  EXPECT_EQ(poll_one(net.a, c, POLLIN | POLLOUT), POLLIN | POLLOUT | POLLERR | POLLHUP);
  EXPECT_EQ(sockerr(net.a, c), ECONNREFUSED);
  EXPECT_EQ(sockerr(net.a, c), 0);  // reading SO_ERROR clears it
  EXPECT_EQ(poll_one(net.a, c, POLLIN | POLLOUT), POLLIN | POLLOUT | POLLHUP);
}

TEST_F(Calls, RefusedConnectReportedByNextCall) {
  const int c = tcp_socket(net.a);
  set_nonblocking(net.a, c);
  EXPECT_ERRNO(connect_to_b(c, 81), EINPROGRESS);
  net.pump();
  EXPECT_ERRNO(connect_to_b(c, 81), ECONNREFUSED);
  const int d = tcp_socket(net.a);
  set_nonblocking(net.a, d);
  EXPECT_ERRNO(connect_to_b(d, 81), EINPROGRESS);
  net.pump();
  char x = 0;
  EXPECT_ERRNO(utcp_read(net.a, d, &x, 1), ECONNREFUSED);
  EXPECT_EQ(utcp_read(net.a, d, &x, 1), 0);
}

TEST_F(Calls, ConnectTimesOut) {
  net.filter = [](const Packet&) { return false; };  // a black hole
  const int c = tcp_socket(net.a);
  set_nonblocking(net.a, c);
  EXPECT_ERRNO(connect_to_b(c, 80), EINPROGRESS);
  net.run_for(400 * sec);
  EXPECT_EQ(sockerr(net.a, c), ETIMEDOUT);
}

TEST_F(Calls, ConnectArguments) {
  const int c = tcp_socket(net.a);
  socklen_t len = 0;
  sockaddr_storage v6 = sockaddr_of("::1", 80, &len);
  EXPECT_ERRNO(utcp_connect(net.a, c, reinterpret_cast<sockaddr*>(&v6), len), EAFNOSUPPORT);
  sockaddr_storage dst = net.addr_b(80, &len);
  EXPECT_ERRNO(utcp_connect(net.a, c, reinterpret_cast<sockaddr*>(&dst), 4), EINVAL);
}

TEST_F(Calls, DataPeekAndDontWait) {
  auto [c, s] = establish();
  char buf[16] = {};
  EXPECT_ERRNO(utcp_recv(net.b, s, buf, sizeof buf, MSG_DONTWAIT), EAGAIN);
  EXPECT_EQ(poll_one(net.b, s, POLLIN), 0);
  ASSERT_EQ(utcp_write(net.a, c, "hello world", 11), 11);
  net.pump();
  EXPECT_EQ(poll_one(net.b, s, POLLIN | POLLOUT), POLLIN | POLLOUT);
  EXPECT_EQ(utcp_recv(net.b, s, buf, 5, MSG_PEEK), 5);
  EXPECT_EQ(std::string(buf, 5), "hello");
  EXPECT_EQ(utcp_recv(net.b, s, buf, sizeof buf, MSG_PEEK | MSG_DONTWAIT), 11);
  EXPECT_EQ(utcp_recv(net.b, s, buf, 6, 0), 6);
  EXPECT_EQ(std::string(buf, 6), "hello ");
  EXPECT_EQ(utcp_read(net.b, s, buf, sizeof buf), 5);
  EXPECT_EQ(std::string(buf, 5), "world");
  EXPECT_ERRNO(utcp_recv(net.b, s, buf, sizeof buf, MSG_DONTWAIT), EAGAIN);
  EXPECT_EQ(utcp_read(net.b, s, buf, 0), 0);
}

// Every read path returns min(asked, available): the bytes a short peek left in the host's
// buffer and the ones that arrived since, together, with the data in order.
TEST_F(Calls, ReadPathsReturnEverythingAvailable) {
  auto [c, s] = establish();
  char buf[64] = {};
  ASSERT_EQ(utcp_write(net.a, c, "0123456789", 10), 10);
  net.run_for(100 * ms);  // past the delayed ACK, so Nagle lets the next write go
  EXPECT_EQ(utcp_recv(net.b, s, buf, 4, MSG_PEEK), 4);
  ASSERT_EQ(utcp_write(net.a, c, "abcdefghij", 10), 10);
  net.run_for(100 * ms);  // past the delayed ACK, so Nagle lets the next write go
  EXPECT_EQ(utcp_recv(net.b, s, buf, sizeof buf, MSG_PEEK | MSG_DONTWAIT), 20);
  // readv: scattered in order over the buffers, up to their total.
  char x[3], y[5];
  iovec iov[2] = {{x, sizeof x}, {y, sizeof y}};
  EXPECT_EQ(utcp_readv(net.b, s, iov, 2), 8);
  EXPECT_EQ(std::string(x, 3) + std::string(y, 5), "01234567");
  // recvfrom: no source address for TCP (as Linux), the rest of the data.
  sockaddr_storage from{};
  socklen_t len = sizeof from;
  EXPECT_EQ(utcp_recvfrom(net.b, s, buf, 2, MSG_PEEK, reinterpret_cast<sockaddr*>(&from), &len), 2);
  EXPECT_EQ(len, 0u);
  EXPECT_EQ(std::string(buf, 2), "89");
  ASSERT_EQ(utcp_write(net.a, c, "KLMNO", 5), 5);
  net.run_for(100 * ms);  // past the delayed ACK, so Nagle lets the next write go
  // recvmsg: 12 held + 5 new, up to its 12; msg_flags and the lengths as Linux reports them.
  char p[6], q[6];
  iovec parts[2] = {{p, sizeof p}, {q, sizeof q}};
  msghdr m{};
  m.msg_name = &from;
  m.msg_namelen = sizeof from;
  m.msg_iov = parts;
  m.msg_iovlen = 2;
  m.msg_flags = -1;
  EXPECT_EQ(utcp_recvmsg(net.b, s, &m, MSG_DONTWAIT), 12);
  EXPECT_EQ(std::string(p, 6) + std::string(q, 6), "89abcdefghij");
  EXPECT_EQ(m.msg_flags, 0);
  EXPECT_EQ(m.msg_namelen, 0u);
  EXPECT_EQ(utcp_recvfrom(net.b, s, buf, sizeof buf, 0, nullptr, nullptr), 5);
  EXPECT_EQ(std::string(buf, 5), "KLMNO");
  EXPECT_ERRNO(utcp_readv(net.b, s, iov, -1), EINVAL);
  EXPECT_ERRNO(utcp_readv(net.b, s, nullptr, 1), EFAULT);
  EXPECT_ERRNO(utcp_recvmsg(net.b, s, nullptr, 0), EFAULT);
  EXPECT_ERRNO(utcp_recvfrom(net.b, s, buf, 1, 0, reinterpret_cast<sockaddr*>(&from), nullptr), EFAULT);
}

TEST_F(Calls, EndOfStream) {
  auto [c, s] = establish();
  ASSERT_EQ(utcp_write(net.a, c, "bye", 3), 3);
  ASSERT_EQ(utcp_shutdown(net.a, c, SHUT_WR), 0);
  net.pump();
  char buf[8];
  EXPECT_EQ(utcp_read(net.b, s, buf, sizeof buf), 3);
  EXPECT_EQ(poll_one(net.b, s, POLLIN), POLLIN);
  EXPECT_EQ(utcp_read(net.b, s, buf, sizeof buf), 0);
  EXPECT_EQ(utcp_read(net.b, s, buf, sizeof buf), 0);
  // The other direction still works.
  ASSERT_EQ(utcp_write(net.b, s, "ok", 2), 2);
  net.pump();
  EXPECT_EQ(utcp_read(net.a, c, buf, sizeof buf), 2);
  EXPECT_ERRNO(utcp_write(net.a, c, "x", 1), EPIPE);
  ASSERT_EQ(utcp_shutdown(net.b, s, SHUT_WR), 0);
  net.pump();
  EXPECT_EQ(poll_one(net.a, c, POLLIN | POLLOUT), POLLIN | POLLOUT | POLLHUP);
  EXPECT_EQ(utcp_read(net.a, c, buf, sizeof buf), 0);
}

TEST_F(Calls, LingerZeroResetsPeer) {
  auto [c, s] = establish();
  const ::linger l{1, 0};
  ASSERT_EQ(utcp_setsockopt(net.a, c, SOL_SOCKET, SO_LINGER, &l, sizeof l), 0);
  ::linger got{};
  socklen_t len = sizeof got;
  ASSERT_EQ(utcp_getsockopt(net.a, c, SOL_SOCKET, SO_LINGER, &got, &len), 0);
  EXPECT_EQ(got.l_onoff, 1);
  EXPECT_EQ(got.l_linger, 0);
  ASSERT_EQ(utcp_close(net.a, c), 0);
  net.pump();
  utcp_host_stats st{};
  ASSERT_EQ(utcp_host_get_stats(net.b, &st), 0);
  EXPECT_EQ(st.tcp_resets_received, 1u);
  EXPECT_NE(poll_one(net.b, s, POLLIN) & POLLERR, 0);
  char buf[4];
  EXPECT_ERRNO(utcp_read(net.b, s, buf, sizeof buf), ECONNRESET);
  EXPECT_EQ(utcp_read(net.b, s, buf, sizeof buf), 0);
  EXPECT_ERRNO(utcp_write(net.b, s, "x", 1), EPIPE);
}

TEST_F(Calls, EpipeAfterPeerReset) {
  auto [c, s] = establish();
  const ::linger l{1, 0};
  ASSERT_EQ(utcp_setsockopt(net.b, s, SOL_SOCKET, SO_LINGER, &l, sizeof l), 0);
  ASSERT_EQ(utcp_close(net.b, s), 0);
  net.pump();
  // As Linux: the pending error first, then EPIPE; never a signal (MSG_NOSIGNAL or not).
  EXPECT_ERRNO(utcp_send(net.a, c, "x", 1, MSG_NOSIGNAL), ECONNRESET);
  EXPECT_ERRNO(utcp_send(net.a, c, "x", 1, MSG_NOSIGNAL), EPIPE);
  EXPECT_ERRNO(utcp_write(net.a, c, "x", 1), EPIPE);
  EXPECT_EQ(sockerr(net.a, c), 0);
}

TEST_F(Calls, CloseWithUnreadDataResets) {
  auto [c, s] = establish();
  ASSERT_EQ(utcp_write(net.a, c, "unread", 6), 6);
  net.pump();
  ASSERT_EQ(utcp_close(net.b, s), 0);  // RFC 1122 §4.2.2.13
  net.pump();
  char buf[4];
  EXPECT_ERRNO(utcp_read(net.a, c, buf, sizeof buf), ECONNRESET);
}

TEST_F(Calls, ShutdownRead) {
  auto [c, s] = establish();
  ASSERT_EQ(utcp_shutdown(net.b, s, SHUT_RD), 0);
  char buf[4];
  EXPECT_EQ(utcp_read(net.b, s, buf, sizeof buf), 0);
  EXPECT_EQ(poll_one(net.b, s, POLLIN), POLLIN);
}

TEST_F(Calls, AcceptNonBlockingAndPeer) {
  const int l = listener(net.b, 80);
  set_nonblocking(net.b, l);
  EXPECT_ERRNO(utcp_accept(net.b, l, nullptr, nullptr), EAGAIN);
  EXPECT_EQ(poll_one(net.b, l, POLLIN), 0);
  const int c = tcp_socket(net.a);
  set_nonblocking(net.a, c);
  EXPECT_ERRNO(connect_to_b(c, 80), EINPROGRESS);
  net.pump();
  EXPECT_EQ(poll_one(net.b, l, POLLIN), POLLIN);
  sockaddr_in peer{};
  socklen_t len = 4;  // truncated: the full size comes back
  const int s = utcp_accept(net.b, l, reinterpret_cast<sockaddr*>(&peer), &len);
  EXPECT_GE(s, 4);
  EXPECT_EQ(len, sizeof(sockaddr_in));
  EXPECT_EQ(peer.sin_family, AF_INET);
  // Accepted sockets do not inherit O_NONBLOCK (accept, not accept4).
  EXPECT_EQ(utcp_fcntl(net.b, s, F_GETFL, 0), O_RDWR);
}

TEST_F(Calls, AcceptQueueOverflowResets) {
  const int l = listener(net.b, 80, 1);
  const int c1 = tcp_socket(net.a), c2 = tcp_socket(net.a);
  set_nonblocking(net.a, c1);
  set_nonblocking(net.a, c2);
  EXPECT_ERRNO(connect_to_b(c1, 80), EINPROGRESS);
  net.pump();
  EXPECT_ERRNO(connect_to_b(c2, 80), EINPROGRESS);
  net.pump();
  utcp_host_stats st{};
  ASSERT_EQ(utcp_host_get_stats(net.b, &st), 0);
  EXPECT_EQ(st.accept_overflow, 1u);
  EXPECT_EQ(sockerr(net.a, c1), 0);
  EXPECT_EQ(sockerr(net.a, c2), ECONNRESET);
  EXPECT_GE(utcp_accept(net.b, l, nullptr, nullptr), 0);
}

TEST_F(Calls, ClosingListenerResetsQueued) {
  const int l = listener(net.b, 80);
  const int c = tcp_socket(net.a);
  set_nonblocking(net.a, c);
  EXPECT_ERRNO(connect_to_b(c, 80), EINPROGRESS);
  net.pump();
  ASSERT_EQ(utcp_close(net.b, l), 0);
  net.pump();
  EXPECT_EQ(sockerr(net.a, c), ECONNRESET);
  // and the port no longer listens
  const int d = tcp_socket(net.a);
  set_nonblocking(net.a, d);
  EXPECT_ERRNO(connect_to_b(d, 80), EINPROGRESS);
  net.pump();
  EXPECT_EQ(sockerr(net.a, d), ECONNREFUSED);
}

TEST_F(Calls, SocketOptions) {
  auto [c, s] = establish();
  int v = 0;
  socklen_t len = sizeof v;
  ASSERT_EQ(utcp_getsockopt(net.a, c, IPPROTO_TCP, TCP_NODELAY, &v, &len), 0);
  EXPECT_EQ(v, 0);
  const int one = 1;
  ASSERT_EQ(utcp_setsockopt(net.a, c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one), 0);
  ASSERT_EQ(utcp_getsockopt(net.a, c, IPPROTO_TCP, TCP_NODELAY, &v, &len), 0);
  EXPECT_EQ(v, 1);
  ASSERT_EQ(utcp_getsockopt(net.a, c, IPPROTO_TCP, TCP_MAXSEG, &v, &len), 0);
  EXPECT_EQ(v, 1460);
  ASSERT_EQ(utcp_setsockopt(net.a, c, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one), 0);
  ASSERT_EQ(utcp_getsockopt(net.a, c, SOL_SOCKET, SO_KEEPALIVE, &v, &len), 0);
  EXPECT_EQ(v, 1);
  const int size = 65536;
  ASSERT_EQ(utcp_setsockopt(net.a, c, SOL_SOCKET, SO_SNDBUF, &size, sizeof size), 0);
  ASSERT_EQ(utcp_getsockopt(net.a, c, SOL_SOCKET, SO_SNDBUF, &v, &len), 0);
  EXPECT_EQ(v, 65536);
  ASSERT_EQ(utcp_setsockopt(net.a, c, SOL_SOCKET, SO_RCVBUF, &size, sizeof size), 0);
  ASSERT_EQ(utcp_getsockopt(net.a, c, SOL_SOCKET, SO_RCVBUF, &v, &len), 0);
  EXPECT_EQ(v, 65536);
  ASSERT_EQ(utcp_getsockopt(net.a, c, SOL_SOCKET, SO_TYPE, &v, &len), 0);
  EXPECT_EQ(v, SOCK_STREAM);
  EXPECT_ERRNO(utcp_setsockopt(net.a, c, SOL_SOCKET, SO_ERROR, &one, sizeof one), ENOPROTOOPT);
  EXPECT_ERRNO(utcp_setsockopt(net.a, c, SOL_SOCKET, SO_BROADCAST, &one, sizeof one), ENOPROTOOPT);
  EXPECT_ERRNO(utcp_setsockopt(net.a, c, IPPROTO_IP, IP_TTL, &one, sizeof one), ENOPROTOOPT);
  EXPECT_ERRNO(utcp_setsockopt(net.a, c, IPPROTO_TCP, TCP_NODELAY, &one, 2), EINVAL);
  EXPECT_ERRNO(utcp_setsockopt(net.a, c, IPPROTO_TCP, TCP_MAXSEG, &one, sizeof one), EINVAL);
  short small = 0;
  socklen_t slen = sizeof small;  // truncated to the caller's length, as Linux
  ASSERT_EQ(utcp_getsockopt(net.a, c, SOL_SOCKET, SO_TYPE, &small, &slen), 0);
  EXPECT_EQ(slen, sizeof small);
}

// TCP_CONGESTION takes and gives a name, as on Linux: "cubic" by default, "reno" chosen on
// a listener is inherited by what it accepts, an unknown name is ENOENT.
TEST_F(Calls, TcpCongestionByName) {
  const int l = listener(net.b, 80);
  char name[16] = {};
  socklen_t len = sizeof name;
  ASSERT_EQ(utcp_getsockopt(net.b, l, IPPROTO_TCP, TCP_CONGESTION, name, &len), 0);
  EXPECT_STREQ(name, "cubic");
  ASSERT_EQ(utcp_setsockopt(net.b, l, IPPROTO_TCP, TCP_CONGESTION, "reno", 4), 0);
  EXPECT_ERRNO(utcp_setsockopt(net.b, l, IPPROTO_TCP, TCP_CONGESTION, "vegas", 5), ENOENT);
  EXPECT_ERRNO(utcp_setsockopt(net.b, l, IPPROTO_TCP, TCP_CONGESTION, nullptr, 4), EFAULT);
  const int c = tcp_socket(net.a);
  set_nonblocking(net.a, c);
  EXPECT_ERRNO(connect_to_b(c, 80), EINPROGRESS);
  net.pump();
  const int s = utcp_accept(net.b, l, nullptr, nullptr);
  ASSERT_GE(s, 0);
  len = sizeof name;
  ASSERT_EQ(utcp_getsockopt(net.b, s, IPPROTO_TCP, TCP_CONGESTION, name, &len), 0);
  EXPECT_STREQ(name, "reno");
  len = sizeof name;
  ASSERT_EQ(utcp_getsockopt(net.a, c, IPPROTO_TCP, TCP_CONGESTION, name, &len), 0);
  EXPECT_STREQ(name, "cubic");
  // Changed on the live connection.
  ASSERT_EQ(utcp_setsockopt(net.a, c, IPPROTO_TCP, TCP_CONGESTION, "reno\0junk", 9), 0);
  len = sizeof name;
  ASSERT_EQ(utcp_getsockopt(net.a, c, IPPROTO_TCP, TCP_CONGESTION, name, &len), 0);
  EXPECT_STREQ(name, "reno");
}

TEST_F(Calls, MaxSegmentBeforeConnect) {
  const int l = listener(net.b, 80);
  const int c = tcp_socket(net.a);
  const int mss = 1000;
  ASSERT_EQ(utcp_setsockopt(net.a, c, IPPROTO_TCP, TCP_MAXSEG, &mss, sizeof mss), 0);
  set_nonblocking(net.a, c);
  EXPECT_ERRNO(connect_to_b(c, 80), EINPROGRESS);
  net.pump();
  const int s = utcp_accept(net.b, l, nullptr, nullptr);
  ASSERT_GE(s, 0);
  int v = 0;
  socklen_t len = sizeof v;
  ASSERT_EQ(utcp_getsockopt(net.b, s, IPPROTO_TCP, TCP_MAXSEG, &v, &len), 0);
  EXPECT_EQ(v, 1000);  // the peer announced 1000
}

TEST_F(Calls, NonBlockingWriteFillsBuffer) {
  auto [c, s] = establish();
  set_nonblocking(net.a, c);
  std::vector<char> big(1 << 20, 'x');
  std::size_t total = 0;
  for (;;) {
    const ssize_t n = utcp_write(net.a, c, big.data(), big.size());
    if (n < 0) {
      EXPECT_EQ(errno, EAGAIN);
      break;
    }
    total += static_cast<std::size_t>(n);
  }
  EXPECT_GT(total, 0u);
  EXPECT_EQ(poll_one(net.a, c, POLLOUT), 0);
  net.pump();
  std::vector<char> buf(1 << 20);
  std::size_t got = 0;
  while (got < total) {
    net.pump();
    const ssize_t n = utcp_recv(net.b, s, buf.data(), buf.size(), MSG_DONTWAIT);
    if (n < 0) {
      ASSERT_EQ(errno, EAGAIN);
      net.run_for(10 * ms);
      continue;
    }
    got += static_cast<std::size_t>(n);
  }
  EXPECT_EQ(got, total);
  net.pump();
  EXPECT_EQ(poll_one(net.a, c, POLLOUT), POLLOUT);
}

// Host::send(fd, Payload) queues the caller's storage itself: a non-blocking send takes what
// the buffer has room for, the rest goes in later calls, every byte arrives in order, and
// once all is acknowledged the host holds no reference to the storage (the HTTP app reads
// the next chunk into it then).
TEST_F(Calls, SendSharingAPayloadQueuesItAndLetsItGo) {
  auto [c, s] = establish();
  set_nonblocking(net.a, c);
  const std::size_t size = 1 << 20;
  auto storage = std::make_shared<std::vector<std::byte>>(size);
  for (std::size_t i = 0; i < size; ++i) (*storage)[i] = static_cast<std::byte>(i * 13 + i / 251);
  const Payload data{std::shared_ptr<const void>(storage), std::span<const std::byte>(*storage)};
  Host& h = unwrap(net.a);
  std::vector<std::byte> got;
  std::vector<std::byte> buf(1 << 16);
  std::size_t sent = 0;
  int partial = 0;
  for (int round = 0; round < 10000 && got.size() < size; ++round) {
    if (sent < size) {
      const auto r = h.send(c, data.sub(sent, size - sent), 0);
      if (r) {
        sent += *r;
        if (sent < size) ++partial;
      } else {
        EXPECT_EQ(r.error(), EAGAIN);
      }
    }
    net.run_for(ms);
    for (ssize_t n; (n = utcp_recv(net.b, s, buf.data(), buf.size(), MSG_DONTWAIT)) > 0;)
      got.insert(got.end(), buf.begin(), buf.begin() + n);
  }
  EXPECT_GT(partial, 0);  // the buffer (256 KiB) took it in pieces
  ASSERT_EQ(got.size(), size);
  EXPECT_TRUE(got == *storage);
  net.run_for(500 * ms);              // the last segment's delayed ACK
  EXPECT_EQ(storage.use_count(), 2);  // this test's, and `data`'s
  EXPECT_EQ(h.send(c, Payload(), 0), std::size_t{0});
}

// POLLOUT as Linux's tcp_poll: free space at least half of what is queued. An ACK that frees
// a little of a full buffer leaves the socket unwritable (a writer waiting for POLLOUT is not
// woken for it); once everything is acknowledged it is writable.
TEST_F(Calls, PollOutWaitsForAThirdOfTheBufferFree) {
  auto [c, s] = establish();
  const int size = 20 * 1460;
  ASSERT_EQ(utcp_setsockopt(net.a, c, SOL_SOCKET, SO_SNDBUF, &size, sizeof size), 0);
  set_nonblocking(net.a, c);
  std::vector<char> big(1 << 16, 'x');
  while (utcp_write(net.a, c, big.data(), big.size()) > 0) {
  }
  ASSERT_EQ(errno, EAGAIN);
  EXPECT_EQ(poll_one(net.a, c, POLLOUT), 0);
  // Only B's first ACK arrives: it covers the first segments of the initial window.
  int acks = 0;
  net.filter = [&](const Packet& p) { return p.from_a || acks++ == 0; };
  net.pump();
  const auto inf = utcp::host::unwrap(net.a).conn_info(c);
  ASSERT_TRUE(inf);
  ASSERT_GT(inf->send_space, 0u);
  ASSERT_LT(2 * inf->send_space, inf->send_queued);
  EXPECT_EQ(poll_one(net.a, c, POLLOUT), 0);
  net.filter = nullptr;
  std::vector<char> buf(1 << 16);
  for (int i = 0; i < 100 && utcp::host::unwrap(net.a).conn_info(c)->send_queued > 0; ++i) {
    net.run_for(50 * ms);
    while (utcp_recv(net.b, s, buf.data(), buf.size(), MSG_DONTWAIT) > 0) {
    }
  }
  EXPECT_EQ(utcp::host::unwrap(net.a).conn_info(c)->send_queued, 0u);
  EXPECT_EQ(poll_one(net.a, c, POLLOUT), POLLOUT);
}

TEST_F(Calls, UnconnectedPoll) {
  const int fd = tcp_socket(net.a);
  EXPECT_EQ(poll_one(net.a, fd, POLLIN | POLLOUT), POLLOUT | POLLHUP);
  pollfd p[2] = {{fd, POLLOUT, 0}, {77, POLLIN, 0}};
  EXPECT_EQ(utcp_poll(net.a, p, 2, 0), 2);
  EXPECT_EQ(p[1].revents, POLLNVAL);
  pollfd neg{-1, POLLIN, 5};
  EXPECT_EQ(utcp_poll(net.a, &neg, 1, 0), 0);
  EXPECT_EQ(neg.revents, 0);
}

}  // namespace
}  // namespace utcp::host::test
