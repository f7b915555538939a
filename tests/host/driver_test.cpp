// The I/O loop (io/driver.hpp) over a virtual device: one end of a datagram socketpair is the
// driver's "TUN device" with offloads (so the driver takes its direct path: the thread that
// kicks writes), the other end is the kernel, played by this test with a second host fed by
// hand. The loop's safety wake-up is raised to an hour, so it wakes only for a cause.
#include "driver.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <thread>
#include <vector>

#include "clock.hpp"
#include "net.hpp"
#include "tun.hpp"

namespace utcp::host::test {
namespace {

using Frame = std::vector<std::byte>;

// The kernel's side of the virtual device: a host whose frames the test moves by hand.
class Peer {
 public:
  Peer(int fd, utcp_host* host) : fd_(fd), host_(host) {}

  // The frames the driver wrote, waiting up to timeout_ms for the first.
  std::vector<Frame> read(int timeout_ms) {
    std::vector<Frame> frames;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) <= 0) return frames;
    for (;;) {
      Frame f(UTCP_VNET_FRAME_MAX + 40);
      const ssize_t n = ::recv(fd_, f.data(), f.size(), MSG_DONTWAIT);
      if (n <= 0) break;
      f.resize(static_cast<std::size_t>(n));
      frames.push_back(std::move(f));
    }
    return frames;
  }

  // Hands a frame to the peer host and writes what it answers back to the driver.
  void deliver(const Frame& f) {
    utcp_host_set_time(host_, io::monotonic_ns());
    EXPECT_GE(utcp_host_input_vnet(host_, f.data(), f.size()), 1);
    Frame out(UTCP_VNET_FRAME_MAX);
    for (;;) {
      const ssize_t n = utcp_host_output_vnet(host_, out.data(), out.size());
      if (n < 0) break;
      ASSERT_EQ(::send(fd_, out.data(), static_cast<std::size_t>(n), 0), n);
    }
  }

 private:
  int fd_;
  utcp_host* host_;
};

// Data sent after an idle spell arms the retransmission timer (or the tail loss probe's)
// from the application's thread, which writes the segment itself while the loop sleeps with
// nothing armed. The segment is lost; the loop must wake for the timer the kick armed, not at
// the next packet (none comes) or its safety wake-up (an hour here). Without that wake the
// retransmission never came within the test's 10 s; with it, it comes after the RTO (200 ms
// at least) or the probe timeout.
TEST(Driver, AKickThatArmsATimerWakesTheSleepingLoop) {
  for (const std::uint32_t flags : {kBare, 0u}) {
    SCOPED_TRACE(flags == kBare ? "no SACK: the retransmission timeout" : "SACK: the tail loss probe");
    Net net("10.0.0.1", "10.0.0.2", 1, 0, flags);
    int sv[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
    io::TunDevice tun = io::TunDevice::adopt(sv[0], true, "virtual");
    Peer peer(sv[1], net.b);
    io::DriverConfig config;
    config.max_sleep_ns = 3600 * sec;
    {
      io::Driver driver(net.a, tun, std::move(config));
      ASSERT_TRUE(driver.start().has_value());

      // b listens; a connects without blocking, and the loop and the peer carry the handshake.
      const int l = utcp_socket(net.b, AF_INET, SOCK_STREAM, 0);
      socklen_t len = 0;
      sockaddr_storage any = sockaddr_of("0.0.0.0", 80, &len);
      ASSERT_EQ(utcp_bind(net.b, l, reinterpret_cast<sockaddr*>(&any), len), 0);
      ASSERT_EQ(utcp_listen(net.b, l, 4), 0);
      ASSERT_EQ(utcp_fcntl(net.b, l, F_SETFL, O_NONBLOCK), 0);
      const int c = utcp_socket(net.a, AF_INET, SOCK_STREAM, 0);
      ASSERT_EQ(utcp_fcntl(net.a, c, F_SETFL, O_NONBLOCK), 0);
      sockaddr_storage dst = net.addr_b(80, &len);
      ASSERT_EQ(utcp_connect(net.a, c, reinterpret_cast<sockaddr*>(&dst), len), -1);
      ASSERT_EQ(errno, EINPROGRESS);
      driver.kick();
      int s = -1;
      for (int i = 0; i < 100 && s < 0; ++i) {
        for (const Frame& f : peer.read(100)) peer.deliver(f);
        s = utcp_accept(net.b, l, nullptr, nullptr);
      }
      ASSERT_GE(s, 0);

      // Idle: nothing armed in a, and the loop asleep (it passes once more after the last
      // frame it read; give it time to reach epoll).
      for (int i = 0; i < 100 && utcp_host_next_deadline(net.a) >= 0; ++i) {
        for (const Frame& f : peer.read(50)) peer.deliver(f);
      }
      ASSERT_LT(utcp_host_next_deadline(net.a), 0);
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      const std::uint64_t wakeups = driver.counters().wakeups;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      ASSERT_EQ(driver.counters().wakeups, wakeups) << "the loop is not asleep: the test would show nothing";

      utcp_host_stats before{};
      ASSERT_EQ(utcp_host_get_stats(net.a, &before), 0);
      const io::DriverCounters counted = driver.counters();
      const char data[100] = {'x'};
      ASSERT_EQ(utcp_send(net.a, c, data, sizeof data, 0), 100);
      driver.kick();  // this thread writes the segment
      // The segment, dropped, and what the timer sends (the probe may follow within
      // microseconds: 2 SRTT on this wire).
      std::vector<Frame> sent;
      const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
      while (sent.size() < 2 && std::chrono::steady_clock::now() < give_up) {
        for (Frame& f : peer.read(100)) sent.push_back(std::move(f));
      }
      ASSERT_GE(sent.size(), 2u) << "the timer the kick armed did not fire within 10 s";
      utcp_host_stats after{};
      ASSERT_EQ(utcp_host_get_stats(net.a, &after), 0);
      EXPECT_GT(after.tcp_retransmits + after.tcp_tail_loss_probes,
                before.tcp_retransmits + before.tcp_tail_loss_probes);
      // Who wrote what (the driver's -v counters, docs/PERFORMANCE.md): the kick its one
      // segment, the loop the retransmission, after a wake-up that found no input. Only without
      // SACK: the probe may fire within microseconds, while the kick still writes, and then the
      // kicking thread writes it too (the loop leaves its frames to the writer).
      if (flags == kBare) {
        // The loop counts a frame after its write returns, which may be after the peer read it.
        io::DriverCounters now = driver.counters();
        for (int i = 0; i < 100 && now.packets_out_by_loop == counted.packets_out_by_loop; ++i) {
          std::this_thread::sleep_for(std::chrono::milliseconds(10));
          now = driver.counters();
        }
        EXPECT_EQ(
            (now.packets_out - now.packets_out_by_loop) - (counted.packets_out - counted.packets_out_by_loop),
            1u);
        EXPECT_GT(now.packets_out_by_loop, counted.packets_out_by_loop);
        EXPECT_GT(now.wakeups_without_input, counted.wakeups_without_input);
      }
      for (std::size_t i = 1; i < sent.size(); ++i) peer.deliver(sent[i]);
      char got[200];
      EXPECT_EQ(utcp_recv(net.b, s, got, sizeof got, MSG_DONTWAIT), 100);
      driver.stop();
    }
    ::close(sv[1]);
  }
}

}  // namespace
}  // namespace utcp::host::test
