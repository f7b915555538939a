// Longer scenarios on virtual time through the ABI: loss, idle connections, zero windows,
// keepalive and retransmission timeouts, many connections, TIME-WAIT expiry.
#include <fcntl.h>
#include <netinet/tcp.h>

#include "ip_packet.hpp"
#include "net.hpp"

namespace utcp::host::test {
namespace {

class Scenario : public ::testing::Test {
 protected:
  Net net;
  int l = -1;

  void SetUp() override {
    l = utcp_socket(net.b, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    socklen_t len = 0;
    sockaddr_storage any = sockaddr_of("0.0.0.0", 80, &len);
    ASSERT_EQ(utcp_bind(net.b, l, reinterpret_cast<sockaddr*>(&any), len), 0);
    ASSERT_EQ(utcp_listen(net.b, l, 128), 0);
  }
  std::pair<int, int> establish() {
    const int c = utcp_socket(net.a, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    socklen_t len = 0;
    sockaddr_storage dst = net.addr_b(80, &len);
    EXPECT_EQ(utcp_connect(net.a, c, reinterpret_cast<sockaddr*>(&dst), len), -1);
    net.run_for(10 * ms);
    const int s = utcp_accept(net.b, l, nullptr, nullptr);
    EXPECT_GE(s, 0);
    EXPECT_EQ(utcp_fcntl(net.b, s, F_SETFL, O_NONBLOCK), 0);  // single-threaded: never block
    return {c, s};
  }
  int sockerr(utcp_host* h, int fd) {
    int v = -1;
    socklen_t len = sizeof v;
    EXPECT_EQ(utcp_getsockopt(h, fd, SOL_SOCKET, SO_ERROR, &v, &len), 0);
    return v;
  }
  // Moves `n` bytes from (h, from) to (g, to) with non-blocking calls on virtual time.
  void transfer(utcp_host* h, int from, utcp_host* g, int to, std::size_t n,
                std::uint64_t limit = 3600 * sec) {
    std::vector<unsigned char> data(n);
    for (std::size_t i = 0; i < n; ++i) data[i] = static_cast<unsigned char>(i * 7 + i / 251);
    std::vector<unsigned char> got;
    std::vector<unsigned char> buf(1 << 16);
    std::size_t sent = 0;
    const std::uint64_t end = net.now() + limit;
    while (got.size() < n && net.now() < end) {
      if (sent < n) {
        const ssize_t k = utcp_write(h, from, data.data() + sent, n - sent);
        if (k > 0) sent += static_cast<std::size_t>(k);
      }
      net.run_for(5 * ms);
      for (;;) {
        const ssize_t k = utcp_recv(g, to, buf.data(), buf.size(), MSG_DONTWAIT);
        if (k <= 0) break;
        got.insert(got.end(), buf.begin(), buf.begin() + k);
      }
    }
    ASSERT_EQ(got.size(), n);
    EXPECT_TRUE(got == data);
  }
  std::uint64_t connections(utcp_host* h) {
    utcp_host_stats st{};
    EXPECT_EQ(utcp_host_get_stats(h, &st), 0);
    return st.connections;
  }
};

TEST_F(Scenario, TransferWithLoss) {
  auto [c, s] = establish();
  int n = 0;
  net.filter = [&n](const Packet&) { return ++n % 23 != 0; };
  transfer(net.a, c, net.b, s, 2u << 20);
  utcp_host_stats st{};
  ASSERT_EQ(utcp_host_get_stats(net.a, &st), 0);
  EXPECT_GT(st.tcp_retransmits, 0u);
}

// b offers a 2048-byte buffer and does not read; a sends 1460, then 588 bytes into the
// remaining window; the ACK of those 588 is lost. Every RTO must resend them, though the
// window is below one MSS (a stall in the engine until a0ed1cb).
TEST_F(Scenario, RtoRetransmitsIntoSmallWindow) {
  utcp_close(net.b, l);
  l = utcp_socket(net.b, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  const int rcvbuf = 2048;
  ASSERT_EQ(utcp_setsockopt(net.b, l, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf), 0);
  const int one = 1;
  ASSERT_EQ(utcp_setsockopt(net.b, l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one), 0);
  socklen_t len = 0;
  sockaddr_storage any = sockaddr_of("0.0.0.0", 80, &len);
  ASSERT_EQ(utcp_bind(net.b, l, reinterpret_cast<sockaddr*>(&any), len), 0);
  ASSERT_EQ(utcp_listen(net.b, l, 4), 0);
  auto [c, s] = establish();
  bool small_window_seen = false;
  int resent_while_acks_lost = 0;
  net.filter = [&](const Packet& p) {
    auto ip = parse_ip(p.bytes);
    auto seg = Segment::decode(ip->src, ip->dst, ip->payload);
    const bool acks_lost = small_window_seen && net.now() < 5 * sec;
    if (p.from_a) {
      if (acks_lost && seg->first.payload.size() > 0) ++resent_while_acks_lost;
      return true;
    }
    if (seg->first.window > 0 && seg->first.window < 1460) small_window_seen = true;
    return !acks_lost;
  };
  const std::vector<char> data(10000, 'x');
  ASSERT_EQ(utcp_write(net.a, c, data.data(), data.size()), 10000);
  net.run_for(5 * sec);
  EXPECT_TRUE(small_window_seen);
  EXPECT_GE(resent_while_acks_lost,
            3);  // the 588 bytes, then RTOs at about 1, 2, 4 s (the first is the SWS override send)
}

TEST_F(Scenario, TransferWithReordering) {
  auto [c, s] = establish();
  // Holds every 5th packet back and delivers it after the next one.
  std::vector<std::byte> held;
  int n = 0;
  net.filter = [&](const Packet& p) {
    if (!held.empty()) {
      utcp_host_input(p.from_a ? net.b : net.a, p.bytes.data(), p.bytes.size());
      utcp_host_input(p.from_a ? net.b : net.a, held.data(), held.size());
      held.clear();
      return false;
    }
    if (++n % 5 == 0 && p.from_a) {
      held = p.bytes;
      return false;
    }
    return true;
  };
  transfer(net.a, c, net.b, s, 1u << 20);
}

TEST_F(Scenario, BothDirectionsAtOnce) {
  auto [c, s] = establish();
  transfer(net.b, s, net.a, c, 300000);
  transfer(net.a, c, net.b, s, 300000);
}

TEST_F(Scenario, IdleConnectionSurvives) {
  auto [c, s] = establish();
  net.run_for(3600 * sec);  // µTCP reset idle server connections after ~10 minutes
  EXPECT_EQ(sockerr(net.a, c), 0);
  EXPECT_EQ(sockerr(net.b, s), 0);
  transfer(net.b, s, net.a, c, 1000);
  transfer(net.a, c, net.b, s, 1000);
}

TEST_F(Scenario, ZeroWindowOutlastsProbeLimit) {
  auto [c, s] = establish();
  const int small = 4096;
  ASSERT_EQ(utcp_setsockopt(net.b, s, SOL_SOCKET, SO_RCVBUF, &small, sizeof small), 0);
  const std::vector<char> data(100000, 'z');
  ASSERT_GT(utcp_write(net.a, c, data.data(), data.size()), 0);
  net.run_for(1800 * sec);  // nobody reads for half an hour: the sender keeps probing
  EXPECT_EQ(sockerr(net.a, c), 0);
  std::vector<char> buf(1 << 16);
  std::size_t got = 0;
  for (int i = 0; i < 2000 && got < 100000; ++i) {
    const ssize_t k = utcp_recv(net.b, s, buf.data(), buf.size(), MSG_DONTWAIT);
    if (k > 0) got += static_cast<std::size_t>(k);
    net.run_for(100 * ms);
  }
  EXPECT_GE(got, 100000u);
}

TEST_F(Scenario, KeepaliveDetectsDeadPeer) {
  auto [c, s] = establish();
  const int one = 1, idle = 10, intvl = 2, cnt = 3;
  ASSERT_EQ(utcp_setsockopt(net.a, c, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one), 0);
  ASSERT_EQ(utcp_setsockopt(net.a, c, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle), 0);
  ASSERT_EQ(utcp_setsockopt(net.a, c, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof intvl), 0);
  ASSERT_EQ(utcp_setsockopt(net.a, c, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt), 0);
  net.run_for(30 * sec);  // the peer answers the probes
  EXPECT_EQ(sockerr(net.a, c), 0);
  net.filter = [](const Packet&) { return false; };  // now it is gone
  net.run_for(60 * sec);
  EXPECT_EQ(sockerr(net.a, c), ETIMEDOUT);
  char x;
  EXPECT_EQ(utcp_read(net.a, c, &x, 1), 0);
}

TEST_F(Scenario, RetransmissionsExhaustedTimesOut) {
  auto [c, s] = establish();
  net.filter = [](const Packet&) { return false; };
  ASSERT_EQ(utcp_write(net.a, c, "lost", 4), 4);
  net.run_for(3600 * sec);
  EXPECT_EQ(sockerr(net.a, c), ETIMEDOUT);
  EXPECT_EQ(utcp_write(net.a, c, "x", 1), -1);
  EXPECT_EQ(errno, EPIPE);
}

TEST_F(Scenario, ManyConnections) {
  std::vector<std::pair<int, int>> pairs;
  for (int i = 0; i < 60; ++i) pairs.push_back(establish());
  EXPECT_EQ(connections(net.a), 60u);
  for (auto [c, s] : pairs) {
    ASSERT_EQ(utcp_write(net.a, c, &c, sizeof c), static_cast<ssize_t>(sizeof c));
  }
  net.run_for(100 * ms);
  for (auto [c, s] : pairs) {
    int v = -1;
    ASSERT_EQ(utcp_read(net.b, s, &v, sizeof v), static_cast<ssize_t>(sizeof v));
    EXPECT_EQ(v, c);
  }
  for (auto [c, s] : pairs) {
    ASSERT_EQ(utcp_close(net.a, c), 0);
    ASSERT_EQ(utcp_close(net.b, s), 0);
  }
  net.run_for(300 * sec);  // FIN exchange, then TIME-WAIT expires
  EXPECT_EQ(connections(net.a), 0u);
  EXPECT_EQ(connections(net.b), 0u);
}

TEST_F(Scenario, SimultaneousClose) {
  auto [c, s] = establish();
  ASSERT_EQ(utcp_close(net.a, c), 0);
  ASSERT_EQ(utcp_close(net.b, s), 0);
  net.run_for(300 * sec);
  EXPECT_EQ(connections(net.a), 0u);
  EXPECT_EQ(connections(net.b), 0u);
}

TEST_F(Scenario, CloseWhileConnecting) {
  net.filter = [](const Packet& p) { return !p.from_a; };  // the SYN never arrives
  const int c = utcp_socket(net.a, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  socklen_t len = 0;
  sockaddr_storage dst = net.addr_b(80, &len);
  ASSERT_EQ(utcp_connect(net.a, c, reinterpret_cast<sockaddr*>(&dst), len), -1);
  ASSERT_EQ(utcp_close(net.a, c), 0);
  net.run_for(300 * sec);
  EXPECT_EQ(connections(net.a), 0u);
}

TEST_F(Scenario, HalfCloseThenData) {
  auto [c, s] = establish();
  ASSERT_EQ(utcp_shutdown(net.a, c, SHUT_WR), 0);
  net.run_for(10 * ms);
  char x;
  EXPECT_EQ(utcp_read(net.b, s, &x, 1), 0);
  transfer(net.b, s, net.a, c, 200000);  // CLOSE-WAIT side still sends
  ASSERT_EQ(utcp_close(net.b, s), 0);
  net.run_for(10 * ms);
  EXPECT_EQ(utcp_read(net.a, c, &x, 1), 0);
  ASSERT_EQ(utcp_close(net.a, c), 0);
  net.run_for(300 * sec);
  EXPECT_EQ(connections(net.a), 0u);
  EXPECT_EQ(connections(net.b), 0u);
}

}  // namespace
}  // namespace utcp::host::test
