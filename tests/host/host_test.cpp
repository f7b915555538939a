// The host as a whole: configuration, time, output queue, determinism, entropy, IPv6, and
// the receive buffer counted against the advertised window.
#include "host.hpp"

#include <fcntl.h>

#include "net.hpp"

namespace utcp::host::test {
namespace {

TEST(HostConfig, RefusesBadConfigurations) {
  const utcp_host_config bad_addr{"10.0.0.300", 1, 0, 0};
  errno = 0;
  EXPECT_EQ(utcp_host_new(&bad_addr), nullptr);
  EXPECT_EQ(errno, EINVAL);
  // Below the IP minimum MTU: 68 (RFC 791 §3.2), 1280 (RFC 8200 §5).
  const utcp_host_config small_mtu{"10.0.0.1", 1, 67, 0};
  EXPECT_EQ(utcp_host_new(&small_mtu), nullptr);
  const utcp_host_config small_mtu6{"2001:db8::1", 1, 1279, 0};
  EXPECT_EQ(utcp_host_new(&small_mtu6), nullptr);
  for (const utcp_host_config least :
       {utcp_host_config{"10.0.0.1", 1, 68, 0}, utcp_host_config{"2001:db8::1", 1, 1280, 0}}) {
    utcp_host* h = utcp_host_new(&least);
    EXPECT_NE(h, nullptr) << least.addr;
    utcp_host_free(h);
  }
  const utcp_host_config multicast{"224.0.0.1", 1, 0, 0};
  EXPECT_EQ(utcp_host_new(&multicast), nullptr);
  EXPECT_EQ(utcp_host_new(nullptr), nullptr);
  const utcp_host_config ok{"10.0.0.1", 0, 9000, 0};
  utcp_host* h = utcp_host_new(&ok);
  ASSERT_NE(h, nullptr);
  utcp_host_free(h);
}

TEST(HostTime, DeadlinesAndMonotonicTime) {
  Net net;
  EXPECT_EQ(utcp_host_next_deadline(net.a), -1);
  const int c = utcp_socket(net.a, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  socklen_t len = 0;
  sockaddr_storage dst = net.addr_b(80, &len);
  net.filter = [](const Packet&) { return false; };
  ASSERT_EQ(utcp_connect(net.a, c, reinterpret_cast<sockaddr*>(&dst), len), -1);
  const std::int64_t first = utcp_host_next_deadline(net.a);
  EXPECT_EQ(first, static_cast<std::int64_t>(sec));  // RFC 6298 initial RTO, from time 0
  net.pump();
  utcp_host_set_time(net.a, sec);  // the SYN is retransmitted
  EXPECT_EQ(utcp_host_next_deadline(net.a), static_cast<std::int64_t>(3 * sec));
  std::vector<std::byte> buf(100);
  EXPECT_GT(utcp_host_output(net.a, buf.data(), buf.size()), 0);
  utcp_host_set_time(net.a, sec / 2);  // earlier: ignored
  EXPECT_EQ(utcp_host_next_deadline(net.a), static_cast<std::int64_t>(3 * sec));
  EXPECT_EQ(utcp_host_output(net.a, buf.data(), buf.size()), -1);
  EXPECT_EQ(errno, EAGAIN);
}

TEST(HostTime, SetClockRunsNoTimer) {
  // utcp_host_set_clock moves time past the SYN's retransmission deadline (1 s), but only
  // utcp_host_set_time runs the timer: a driver hands in what already waits first.
  Net net;
  const int c = utcp_socket(net.a, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  socklen_t len = 0;
  sockaddr_storage dst = net.addr_b(80, &len);
  ASSERT_EQ(utcp_connect(net.a, c, reinterpret_cast<sockaddr*>(&dst), len), -1);
  std::vector<std::byte> buf(100);
  EXPECT_GT(utcp_host_output(net.a, buf.data(), buf.size()), 0);  // the SYN
  utcp_host_set_clock(net.a, 3 * sec / 2);
  EXPECT_EQ(utcp_host_output(net.a, buf.data(), buf.size()), -1);  // no retransmission yet
  EXPECT_EQ(utcp_host_next_deadline(net.a), static_cast<std::int64_t>(sec));
  utcp_host_set_clock(net.a, sec);  // earlier: ignored, as by set_time
  utcp_host_set_time(net.a, 3 * sec / 2);
  EXPECT_GT(utcp_host_output(net.a, buf.data(), buf.size()), 0);  // now the SYN again
  EXPECT_EQ(utcp_host_next_deadline(net.a), static_cast<std::int64_t>(3 * sec / 2 + 2 * sec));
}

TEST(HostTime, SetClockStampsTheInputThatFollows) {
  // The SYN leaves at 0; the SYN-ACK is handed in after set_clock(7 ms): the handshake's RTT
  // sample is 7 ms (a driver reading each packet's time as it reads the packet).
  Net net;
  const int l = utcp_socket(net.b, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  socklen_t len = 0;
  sockaddr_storage own = net.addr_b(80, &len);
  ASSERT_EQ(utcp_bind(net.b, l, reinterpret_cast<sockaddr*>(&own), len), 0);
  ASSERT_EQ(utcp_listen(net.b, l, 4), 0);
  const int c = utcp_socket(net.a, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  ASSERT_EQ(utcp_connect(net.a, c, reinterpret_cast<sockaddr*>(&own), len), -1);
  utcp_host_set_clock(net.a, 7'000'000);
  net.pump();
  const auto info = unwrap(net.a).conn_info(c);
  ASSERT_TRUE(info);
  EXPECT_EQ(info->state, TcpState::established);
  EXPECT_EQ(info->srtt, std::chrono::milliseconds(7));
}

TEST(HostOutput, TooSmallBufferKeepsThePacket) {
  Net net;
  const int c = utcp_socket(net.a, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  socklen_t len = 0;
  sockaddr_storage dst = net.addr_b(80, &len);
  ASSERT_EQ(utcp_connect(net.a, c, reinterpret_cast<sockaddr*>(&dst), len), -1);
  std::vector<std::byte> buf(200);
  errno = 0;
  EXPECT_EQ(utcp_host_output(net.a, buf.data(), 20), -1);
  EXPECT_EQ(errno, EMSGSIZE);
  const ssize_t n = utcp_host_output(net.a, buf.data(), buf.size());
  EXPECT_GE(n, 40);  // a SYN with options
  EXPECT_EQ(buf[0], std::byte{0x45});
}

std::vector<Packet> scripted_run(std::uint64_t seed) {
  Net net("10.0.0.1", "10.0.0.2", seed);
  net.record = true;
  const int l = utcp_socket(net.b, AF_INET, SOCK_STREAM, 0);
  socklen_t len = 0;
  sockaddr_storage any = sockaddr_of("0.0.0.0", 80, &len);
  EXPECT_EQ(utcp_bind(net.b, l, reinterpret_cast<sockaddr*>(&any), len), 0);
  EXPECT_EQ(utcp_listen(net.b, l, 4), 0);
  const int c = utcp_socket(net.a, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  sockaddr_storage dst = net.addr_b(80, &len);
  EXPECT_EQ(utcp_connect(net.a, c, reinterpret_cast<sockaddr*>(&dst), len), -1);
  net.run_for(10 * ms);
  const int s = utcp_accept(net.b, l, nullptr, nullptr);
  const std::vector<char> data(100000, 'x');
  EXPECT_GT(utcp_write(net.a, c, data.data(), data.size()), 0);
  std::vector<char> buf(1 << 16);
  for (int i = 0; i < 50; ++i) {
    net.run_for(5 * ms);
    while (utcp_recv(net.b, s, buf.data(), buf.size(), MSG_DONTWAIT) > 0) {
    }
  }
  utcp_close(net.a, c);
  utcp_close(net.b, s);
  net.run_for(200 * sec);
  return net.log;
}

TEST(HostDeterminism, SameSeedSamePackets) {
  const auto one = scripted_run(42), two = scripted_run(42), other = scripted_run(43);
  ASSERT_EQ(one.size(), two.size());
  EXPECT_GT(one.size(), 50u);
  for (std::size_t i = 0; i < one.size(); ++i) EXPECT_EQ(one[i].bytes, two[i].bytes) << i;
  EXPECT_NE(one[0].bytes, other[0].bytes);  // another ISN and port
}

TEST(HostEntropy, SeedZeroDrawsFromTheOs) {
  std::vector<std::vector<std::byte>> syns;
  for (int i = 0; i < 2; ++i) {
    const utcp_host_config cfg{"10.0.0.1", 0, 0, 0};
    utcp_host* h = utcp_host_new(&cfg);
    ASSERT_NE(h, nullptr);
    const int c = utcp_socket(h, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    socklen_t len = 0;
    sockaddr_storage dst = sockaddr_of("10.0.0.2", 80, &len);
    EXPECT_EQ(utcp_connect(h, c, reinterpret_cast<sockaddr*>(&dst), len), -1);
    std::vector<std::byte> buf(100);
    const ssize_t n = utcp_host_output(h, buf.data(), buf.size());
    ASSERT_GT(n, 0);
    buf.resize(static_cast<std::size_t>(n));
    syns.push_back(buf);
    utcp_host_free(h);
  }
  EXPECT_NE(syns[0], syns[1]);
}

TEST(HostIpv6, CallsAndErrors) {
  Net net("2001:db8::1", "2001:db8::2");
  EXPECT_EQ(utcp_socket(net.a, AF_INET, SOCK_STREAM, 0), -1);
  EXPECT_EQ(errno, EAFNOSUPPORT);
  const int l = utcp_socket(net.b, AF_INET6, SOCK_STREAM, 0);
  socklen_t len = 0;
  sockaddr_storage own = net.addr_b(80, &len);
  ASSERT_EQ(utcp_bind(net.b, l, reinterpret_cast<sockaddr*>(&own), len), 0);
  ASSERT_EQ(utcp_listen(net.b, l, 4), 0);
  const int other = utcp_socket(net.b, AF_INET6, SOCK_STREAM, 0);
  sockaddr_storage wrong = sockaddr_of("2001:db8::99", 81, &len);
  EXPECT_EQ(utcp_bind(net.b, other, reinterpret_cast<sockaddr*>(&wrong), len), -1);
  EXPECT_EQ(errno, EADDRNOTAVAIL);
  sockaddr_storage taken = sockaddr_of("::", 80, &len);
  EXPECT_EQ(utcp_bind(net.b, other, reinterpret_cast<sockaddr*>(&taken), len), -1);
  EXPECT_EQ(errno, EADDRINUSE);

  const int refused = utcp_socket(net.a, AF_INET6, SOCK_STREAM | SOCK_NONBLOCK, 0);
  sockaddr_storage dst = net.addr_b(81, &len);
  EXPECT_EQ(utcp_connect(net.a, refused, reinterpret_cast<sockaddr*>(&dst), len), -1);
  EXPECT_EQ(errno, EINPROGRESS);
  net.pump();
  int err = 0;
  socklen_t elen = sizeof err;
  ASSERT_EQ(utcp_getsockopt(net.a, refused, SOL_SOCKET, SO_ERROR, &err, &elen), 0);
  EXPECT_EQ(err, ECONNREFUSED);

  const int c = utcp_socket(net.a, AF_INET6, SOCK_STREAM | SOCK_NONBLOCK, 0);
  dst = net.addr_b(80, &len);
  EXPECT_EQ(utcp_connect(net.a, c, reinterpret_cast<sockaddr*>(&dst), len), -1);
  net.pump();
  sockaddr_in6 peer{};
  socklen_t plen = sizeof peer;
  const int s = utcp_accept(net.b, l, reinterpret_cast<sockaddr*>(&peer), &plen);
  ASSERT_GE(s, 0);
  EXPECT_EQ(plen, sizeof(sockaddr_in6));
  char text[64];
  EXPECT_STREQ(inet_ntop(AF_INET6, &peer.sin6_addr, text, sizeof text), "2001:db8::1");
  int mss = 0;
  socklen_t mlen = sizeof mss;
  ASSERT_EQ(utcp_getsockopt(net.a, c, IPPROTO_TCP, TCP_MAXSEG, &mss, &mlen), 0);
  EXPECT_EQ(mss, 1440);
  ASSERT_EQ(utcp_write(net.a, c, "six", 3), 3);
  net.pump();
  char buf[8];
  EXPECT_EQ(utcp_read(net.b, s, buf, sizeof buf), 3);
}

// b listens on port 80 (with SO_RCVBUF when rcvbuf > 0), a connects; c is a's socket, s the
// one b accepted.
void connected_pair(Net& net, int rcvbuf, int& c, int& s) {
  const int l = utcp_socket(net.b, AF_INET, SOCK_STREAM, 0);
  if (rcvbuf > 0) {
    ASSERT_EQ(utcp_setsockopt(net.b, l, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf), 0);
  }
  socklen_t len = 0;
  sockaddr_storage any = sockaddr_of("0.0.0.0", 80, &len);
  ASSERT_EQ(utcp_bind(net.b, l, reinterpret_cast<sockaddr*>(&any), len), 0);
  ASSERT_EQ(utcp_listen(net.b, l, 4), 0);
  c = utcp_socket(net.a, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  sockaddr_storage dst = net.addr_b(80, &len);
  ASSERT_EQ(utcp_connect(net.a, c, reinterpret_cast<sockaddr*>(&dst), len), -1);
  net.pump();
  s = utcp_accept(net.b, l, nullptr, nullptr);
  ASSERT_GE(s, 0);
}

// The bytes the host holds for partial reads count against SO_RCVBUF: a receiver that
// never reads more than a byte at a time never holds more than its buffer.
TEST(HostReceiveBuffer, HeldBytesCountAgainstTheWindow) {
  Net net;
  const int rcvbuf = 65536;
  int c = -1, s = -1;
  ASSERT_NO_FATAL_FAILURE(connected_pair(net, rcvbuf, c, s));
  const std::vector<char> data(1 << 20, 'r');
  std::size_t sent = 0, got = 0;
  std::vector<char> buf(1 << 20);
  while (got < data.size() && net.now() < 3600 * sec) {
    const ssize_t n = utcp_write(net.a, c, data.data() + sent, data.size() - sent);
    if (n > 0) sent += static_cast<std::size_t>(n);
    net.run_for(20 * ms);
    // One byte taken: the rest of what the core had now sits in the host's buffer.
    std::size_t held = 0;
    if (utcp_recv(net.b, s, buf.data(), 1, MSG_DONTWAIT) == 1) held = 1;
    net.run_for(300 * ms);  // the sender fills whatever window is offered, probes a closed one
    // Everything b holds, host buffer and core queue (nothing moves while we drain).
    for (;;) {
      const ssize_t k = utcp_recv(net.b, s, buf.data(), buf.size(), MSG_DONTWAIT);
      if (k <= 0) break;
      held += static_cast<std::size_t>(k);
    }
    EXPECT_LE(held, static_cast<std::size_t>(rcvbuf));
    got += held;
  }
  EXPECT_EQ(got, sent);
  EXPECT_EQ(sent, data.size());
}

// After a partial read of a full buffer (the host holds the bytes, the window is closed),
// draining them lets data flow again within a round trip, not at the sender's next backed-off
// zero-window probe.
TEST(HostReceiveBuffer, DrainingHeldBytesReopensTheWindowAtOnce) {
  Net net;
  const int rcvbuf = 65536;
  int c = -1, s = -1;
  ASSERT_NO_FATAL_FAILURE(connected_pair(net, rcvbuf, c, s));
  const std::vector<char> data(1 << 20, 'w');
  ASSERT_GT(utcp_write(net.a, c, data.data(), data.size()), 0);
  net.run_for(60 * sec);  // the window fills and closes; the sender's probes back off
  std::vector<char> buf(1 << 20);
  ASSERT_EQ(utcp_recv(net.b, s, buf.data(), 1, MSG_DONTWAIT), 1);  // the host now holds the rest
  net.run_for(60 * sec);
  std::size_t drained = 0;
  for (;;) {
    const ssize_t k = utcp_recv(net.b, s, buf.data(), buf.size(), MSG_DONTWAIT);
    if (k <= 0) break;
    drained += static_cast<std::size_t>(k);
  }
  EXPECT_GT(drained, 60000u);
  net.run_for(100 * ms);  // a window update and the next data need one round trip
  EXPECT_GT(utcp_recv(net.b, s, buf.data(), buf.size(), MSG_DONTWAIT), 0);
}

// A socket that only shut down its write side can read what arrived before the peer's FIN
// for as long as it likes, as with a BSD socket: the end of TIME-WAIT (2 MSL) deletes the
// core's flow, not the bytes, which the host took when the FIN came in. The end of stream
// follows them.
TEST(HostReceiveBuffer, UnreadBytesOutliveTimeWait) {
  Net net;
  int c = -1, s = -1;
  ASSERT_NO_FATAL_FAILURE(connected_pair(net, 0, c, s));
  ASSERT_EQ(utcp_shutdown(net.b, s, SHUT_WR), 0);  // b closes first: b reaches TIME-WAIT
  net.run_for(10 * ms);
  const std::string data(30000, 'q');
  ASSERT_EQ(utcp_write(net.a, c, data.data(), data.size()), static_cast<ssize_t>(data.size()));
  ASSERT_EQ(utcp_close(net.a, c), 0);
  net.run_for(200 * sec);  // well past 2 MSL: the core's TIME-WAIT flow is gone
  utcp_host_stats st{};
  ASSERT_EQ(utcp_host_get_stats(net.b, &st), 0);
  EXPECT_EQ(st.connections, 0u);
  std::string got(data.size() + 10, '\0');
  std::size_t n = 0;
  for (;;) {
    const ssize_t k = utcp_recv(net.b, s, got.data() + n, got.size() - n, MSG_DONTWAIT);
    ASSERT_GE(k, 0) << "errno " << errno;
    if (k == 0) break;
    n += static_cast<std::size_t>(k);
  }
  got.resize(n);
  EXPECT_EQ(got, data);
}

// The loss-recovery counters reach the C ABI (utcp_host_stats): with SACK and timestamps on
// (the hosts' defaults) the receiver's ACKs are lost until the sender's timer resends data the
// receiver already holds: the receiver reports it in a DSACK (RFC 2883), counted by both.
TEST(HostStats, LossRecoveryCountersReachTheAbi) {
  Net net("10.0.0.1", "10.0.0.2", 1, 0, 0);
  int c = -1, s = -1;
  ASSERT_NO_FATAL_FAILURE(connected_pair(net, 0, c, s));
  bool acks_lost = true;
  net.filter = [&](const Packet& p) { return p.from_a || !acks_lost; };
  const std::string data(10000, 't');
  ASSERT_EQ(utcp_write(net.a, c, data.data(), data.size()), static_cast<ssize_t>(data.size()));
  net.run_for(300 * ms);  // past the first retransmission (RTO or probe); its DSACK lost too
  acks_lost = false;
  net.run_for(5 * sec);
  std::string got(data.size() + 10, '\0');
  const ssize_t n = utcp_recv(net.b, s, got.data(), got.size(), MSG_DONTWAIT);
  ASSERT_EQ(n, static_cast<ssize_t>(data.size()));
  utcp_host_stats sa{}, sb{};
  ASSERT_EQ(utcp_host_get_stats(net.a, &sa), 0);
  ASSERT_EQ(utcp_host_get_stats(net.b, &sb), 0);
  EXPECT_GE(sa.tcp_retransmits, 2u);
  EXPECT_GE(sb.tcp_dsacks_sent, 2u);
  EXPECT_GE(sa.tcp_dsacks_received, 1u);
  EXPECT_EQ(sa.tcp_sack_blocks_ignored, 0u);
}

}  // namespace
}  // namespace utcp::host::test
