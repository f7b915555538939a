// Blocking calls woken by other threads, and timeouts counted in host time.
#include <fcntl.h>

#include <chrono>
#include <future>
#include <thread>

#include "net.hpp"

namespace utcp::host::test {
namespace {

int listener(utcp_host* h, std::uint16_t port) {
  const int fd = utcp_socket(h, AF_INET, SOCK_STREAM, 0);
  socklen_t len = 0;
  sockaddr_storage any = sockaddr_of("0.0.0.0", port, &len);
  EXPECT_EQ(utcp_bind(h, fd, reinterpret_cast<sockaddr*>(&any), len), 0);
  EXPECT_EQ(utcp_listen(h, fd, 8), 0);
  return fd;
}

int connect_b(Net& net, std::uint16_t port) {
  const int c = utcp_socket(net.a, AF_INET, SOCK_STREAM, 0);
  socklen_t len = 0;
  sockaddr_storage dst = net.addr_b(port, &len);
  return utcp_connect(net.a, c, reinterpret_cast<sockaddr*>(&dst), len) == 0 ? c : -errno;
}

TEST(Blocking, ConnectRefused) {
  Net net;
  Pump pump(net);
  EXPECT_EQ(connect_b(net, 80), -ECONNREFUSED);
}

TEST(Blocking, ConnectTimesOutInHostTime) {
  Net net;
  net.filter = [](const Packet&) { return false; };
  Pump pump(net, 10 * sec);  // idle wire: jump ahead fast
  EXPECT_EQ(connect_b(net, 80), -ETIMEDOUT);
  EXPECT_GE(net.now(), 60 * sec);
}

TEST(Blocking, AcceptReadWrite) {
  Net net;
  const int l = listener(net.b, 80);
  auto server = std::async(std::launch::async, [&] {
    const int s = utcp_accept(net.b, l, nullptr, nullptr);
    char buf[5];
    const ssize_t n = utcp_read(net.b, s, buf, sizeof buf);
    EXPECT_EQ(utcp_write(net.b, s, buf, static_cast<std::size_t>(n)), n);
    return std::string(buf, static_cast<std::size_t>(n));
  });
  Pump pump(net);
  const int c = connect_b(net, 80);
  ASSERT_GE(c, 0);
  ASSERT_EQ(utcp_write(net.a, c, "ping!", 5), 5);
  char buf[5];
  ASSERT_EQ(utcp_read(net.a, c, buf, sizeof buf), 5);
  EXPECT_EQ(std::string(buf, 5), "ping!");
  EXPECT_EQ(server.get(), "ping!");
}

// MSG_WAITALL | MSG_PEEK waits for the whole length (as Linux does), taking nothing; with
// SO_RCVTIMEO it gives up with what there is.
TEST(Blocking, PeekWaitAllWaitsForTheWholeLength) {
  Net net;
  const int l = listener(net.b, 80);
  Pump pump(net, 20 * ms);
  const int c = connect_b(net, 80);
  ASSERT_GE(c, 0);
  const int s = utcp_accept(net.b, l, nullptr, nullptr);
  ASSERT_GE(s, 0);
  const timeval tv{1, 0};
  ASSERT_EQ(utcp_setsockopt(net.b, s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
  ASSERT_EQ(utcp_write(net.a, c, "12345", 5), 5);
  char buf[10];
  std::uint64_t start = net.now();
  EXPECT_EQ(utcp_recv(net.b, s, buf, sizeof buf, MSG_PEEK | MSG_WAITALL), 5);
  EXPECT_GE(net.now() - start, 1000 * ms);  // it waited for the rest until the timeout
  // The pump moves host time on whenever the threads are idle (1 s in a few ms of real time),
  // so under load the writer may run long after host time passed start + 200 ms: a timeout
  // far beyond that keeps the wait from ending before the writer writes.
  const timeval patient{600, 0};
  ASSERT_EQ(utcp_setsockopt(net.b, s, SOL_SOCKET, SO_RCVTIMEO, &patient, sizeof patient), 0);
  start = net.now();
  auto writer = std::async(std::launch::async, [&] {
    while (net.now() < start + 200 * ms) std::this_thread::yield();
    return utcp_write(net.a, c, "67890", 5);
  });
  EXPECT_EQ(utcp_recv(net.b, s, buf, sizeof buf, MSG_PEEK | MSG_WAITALL), 10);
  EXPECT_GE(net.now() - start, 200 * ms);
  EXPECT_EQ(writer.get(), 5);
  EXPECT_EQ(utcp_recv(net.b, s, buf, sizeof buf, MSG_DONTWAIT), 10);
  EXPECT_EQ(std::string(buf, 10), "1234567890");
}

TEST(Blocking, ReceiveTimeoutCountsHostTime) {
  Net net;
  const int l = listener(net.b, 80);
  Pump pump(net, 20 * ms);
  const int c = connect_b(net, 80);
  ASSERT_GE(c, 0);
  const timeval tv{2, 500000};
  ASSERT_EQ(utcp_setsockopt(net.a, c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
  timeval got{};
  socklen_t len = sizeof got;
  ASSERT_EQ(utcp_getsockopt(net.a, c, SOL_SOCKET, SO_RCVTIMEO, &got, &len), 0);
  EXPECT_EQ(got.tv_sec, 2);
  EXPECT_EQ(got.tv_usec, 500000);
  const std::uint64_t start = net.now();
  char x;
  errno = 0;
  EXPECT_EQ(utcp_read(net.a, c, &x, 1), -1);
  EXPECT_EQ(errno, EAGAIN);
  EXPECT_GE(net.now() - start, 2500 * ms);
  EXPECT_LT(net.now() - start, 10 * sec);  // the pump keeps time moving meanwhile
  ASSERT_EQ(utcp_setsockopt(net.b, l, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
  utcp_accept(net.b, l, nullptr, nullptr);  // the queued connection
  errno = 0;
  EXPECT_EQ(utcp_accept(net.b, l, nullptr, nullptr), -1);  // nothing more: times out
  EXPECT_EQ(errno, EAGAIN);
}

TEST(Blocking, PollTimeoutCountsHostTime) {
  Net net;
  const int l = listener(net.b, 80);
  Pump pump(net, 20 * ms);
  pollfd p{l, POLLIN, 0};
  const std::uint64_t start = net.now();
  EXPECT_EQ(utcp_poll(net.b, &p, 1, 1500), 0);
  EXPECT_GE(net.now() - start, 1500 * ms);
  // A poll woken by a connection arriving.
  auto waiter = std::async(std::launch::async, [&] {
    pollfd q{l, POLLIN, 0};
    return utcp_poll(net.b, &q, 1, -1) == 1 && q.revents == POLLIN;
  });
  ASSERT_GE(connect_b(net, 80), 0);
  EXPECT_TRUE(waiter.get());
}

TEST(Blocking, CloseWakesBlockedAccept) {
  Net net;
  const int l = listener(net.b, 80);
  auto waiter = std::async(std::launch::async, [&] {
    const int r = utcp_accept(net.b, l, nullptr, nullptr);
    return r < 0 ? errno : 0;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_EQ(utcp_close(net.b, l), 0);
  EXPECT_EQ(waiter.get(), EBADF);
}

TEST(Blocking, ReadWokenByReset) {
  Net net;
  const int l = listener(net.b, 80);
  Pump pump(net);
  const int c = connect_b(net, 80);
  ASSERT_GE(c, 0);
  const int s = utcp_accept(net.b, l, nullptr, nullptr);
  ASSERT_GE(s, 0);
  auto reader = std::async(std::launch::async, [&] {
    char x;
    return utcp_read(net.a, c, &x, 1) < 0 ? errno : 0;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const ::linger lg{1, 0};
  ASSERT_EQ(utcp_setsockopt(net.b, s, SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
  ASSERT_EQ(utcp_close(net.b, s), 0);
  EXPECT_EQ(reader.get(), ECONNRESET);
}

TEST(Blocking, WriteWaitsForRoom) {
  Net net;
  const int l = listener(net.b, 80);
  Pump pump(net);
  const int c = connect_b(net, 80);
  ASSERT_GE(c, 0);
  const int s = utcp_accept(net.b, l, nullptr, nullptr);
  const int small = 8192;
  ASSERT_EQ(utcp_setsockopt(net.a, c, SOL_SOCKET, SO_SNDBUF, &small, sizeof small), 0);
  const std::vector<char> data(300000, 'w');
  auto writer =
      std::async(std::launch::async, [&] { return utcp_write(net.a, c, data.data(), data.size()); });
  std::vector<char> buf(4096);
  std::size_t got = 0;
  while (got < data.size()) {
    const ssize_t n = utcp_read(net.b, s, buf.data(), buf.size());
    ASSERT_GT(n, 0);
    got += static_cast<std::size_t>(n);
  }
  EXPECT_EQ(writer.get(), static_cast<ssize_t>(data.size()));
}

TEST(Blocking, SendTimeout) {
  Net net;
  const int l = listener(net.b, 80);
  Pump pump(net, 20 * ms);
  const int c = connect_b(net, 80);
  ASSERT_GE(c, 0);
  ASSERT_GE(utcp_accept(net.b, l, nullptr, nullptr), 0);
  const int small = 4096;
  ASSERT_EQ(utcp_setsockopt(net.b, 4, SOL_SOCKET, SO_RCVBUF, &small, sizeof small), 0);
  ASSERT_EQ(utcp_setsockopt(net.a, c, SOL_SOCKET, SO_SNDBUF, &small, sizeof small), 0);
  const timeval tv{1, 0};
  ASSERT_EQ(utcp_setsockopt(net.a, c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv), 0);
  // Nobody reads: the write fills the peer's window and our buffer, then times out partway.
  const std::vector<char> data(1 << 20, 's');
  const ssize_t n = utcp_write(net.a, c, data.data(), data.size());
  EXPECT_GT(n, 0);
  EXPECT_LT(n, static_cast<ssize_t>(data.size()));
  // The peer's first window predates its 4 KiB buffer, and the pump may lag behind on a loaded
  // machine: top the buffer up without blocking until it stays full (the peer's window is shut
  // and nothing is in flight to free space), so that the blocking write below can only time out.
  for (int quiet = 0, rounds = 0; quiet < 5 && rounds < 500; ++rounds) {
    const ssize_t more = utcp_send(net.a, c, data.data(), data.size(), MSG_DONTWAIT);
    quiet = more > 0 ? 0 : quiet + 1;
    std::this_thread::sleep_for(std::chrono::milliseconds(40));
  }
  errno = 0;
  EXPECT_EQ(utcp_write(net.a, c, data.data(), data.size()), -1);
  EXPECT_EQ(errno, EAGAIN);
}

}  // namespace
}  // namespace utcp::host::test
