// Bulk transfer through the C ABI only: a server thread blocks in accept and read, a client
// writes 10 MiB, both close; a pump thread moves packets and virtual time.
#include <thread>

#include "net.hpp"

namespace utcp::host::test {
namespace {

std::vector<unsigned char> pattern(std::size_t n) {
  std::vector<unsigned char> v(n);
  std::uint32_t x = 12345;
  for (auto& c : v) {
    x = x * 1103515245u + 12345u;
    c = static_cast<unsigned char>(x >> 16);
  }
  return v;
}

void transfer(const char* a_addr, const char* b_addr, std::size_t total) {
  Net net(a_addr, b_addr);
  const std::vector<unsigned char> data = pattern(total);
  const int ls = utcp_socket(net.b, std::strchr(b_addr, ':') ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(ls, 3);
  socklen_t len = 0;
  sockaddr_storage any = sockaddr_of(std::strchr(b_addr, ':') ? "::" : "0.0.0.0", 5000, &len);
  ASSERT_EQ(utcp_bind(net.b, ls, reinterpret_cast<sockaddr*>(&any), len), 0);
  ASSERT_EQ(utcp_listen(net.b, ls, 8), 0);

  std::vector<unsigned char> received;
  int server_errno = 0;
  std::thread server([&] {
    sockaddr_storage peer{};
    socklen_t plen = sizeof peer;
    const int fd = utcp_accept(net.b, ls, reinterpret_cast<sockaddr*>(&peer), &plen);
    if (fd < 0) {
      server_errno = errno;
      return;
    }
    std::vector<unsigned char> buf(50000);
    for (;;) {
      const ssize_t n = utcp_read(net.b, fd, buf.data(), buf.size());
      if (n < 0) {
        server_errno = errno;
        break;
      }
      if (n == 0) break;
      received.insert(received.end(), buf.begin(), buf.begin() + n);
    }
    utcp_close(net.b, fd);
  });

  Pump pump(net);
  const int c = utcp_socket(net.a, std::strchr(a_addr, ':') ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(c, 3);
  sockaddr_storage dst = net.addr_b(5000, &len);
  ASSERT_EQ(utcp_connect(net.a, c, reinterpret_cast<sockaddr*>(&dst), len), 0) << std::strerror(errno);
  std::size_t off = 0;
  while (off < data.size()) {
    const std::size_t chunk = std::min<std::size_t>(100000, data.size() - off);
    const ssize_t n = utcp_write(net.a, c, data.data() + off, chunk);
    ASSERT_GT(n, 0) << std::strerror(errno);
    off += static_cast<std::size_t>(n);
  }
  ASSERT_EQ(utcp_close(net.a, c), 0);
  server.join();
  EXPECT_EQ(server_errno, 0) << std::strerror(server_errno);
  ASSERT_EQ(received.size(), data.size());
  EXPECT_TRUE(received == data);
  EXPECT_EQ(utcp_close(net.b, ls), 0);
}

TEST(Transfer, TenMebibytesIpv4) {
  transfer("10.0.0.1", "10.0.0.2", 10u << 20);
}

TEST(Transfer, OneMebibyteIpv6) {
  transfer("2001:db8::1", "2001:db8::2", 1u << 20);
}

}  // namespace
}  // namespace utcp::host::test
