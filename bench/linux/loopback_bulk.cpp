// The kernel's side of the comparison: one TCP flow over loopback, a sender thread writing
// 1 MiB chunks of the same kind of pseudo-random pattern bench_e2e uses, a receiver thread
// reading (up to 1 MiB: whatever is queued) and checking every byte, as in bench_e2e's user
// pattern. Run inside a network namespace whose lo has MTU 1500
// (scripts/bench.sh sets it up). Prints "RESULT linux_gbps_wall x", "RESULT linux_gbps_cpu x"
// (payload over the process's CPU time, user + system, both threads) and the MSS in use.
//
//   loopback_bulk BYTES [PORT]
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include "../byte_stream.hpp"

namespace {

[[noreturn]] void fail(const char* what) {
  std::perror(what);
  std::exit(1);
}

constexpr std::size_t kChunk = 1u << 20;  // 1 MiB writes and reads, as the user pattern

double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: loopback_bulk BYTES [PORT]\n");
    return 2;
  }
  const std::uint64_t total = std::strtoull(argv[1], nullptr, 10);
  const std::uint16_t port = static_cast<std::uint16_t>(argc > 2 ? std::atoi(argv[2]) : 5001);
  const std::string pattern = make_byte_stream();

  const int ls = socket(AF_INET, SOCK_STREAM, 0);
  if (ls < 0) fail("socket");
  const int one = 1;
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(ls, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) fail("bind");
  if (listen(ls, 1) != 0) fail("listen");

  std::atomic<bool> bad{false};
  std::uint64_t received = 0;
  std::thread receiver([&] {
    const int s = accept(ls, nullptr, nullptr);
    if (s < 0) fail("accept");
    std::string buf(kChunk, '\0');
    while (received < total) {
      const ssize_t n = read(s, buf.data(), buf.size());
      if (n < 0) fail("read");
      if (n == 0) break;
      const char* want = pattern.data() + received % kStreamPeriod;
      if (std::memcmp(buf.data(), want, static_cast<std::size_t>(n)) != 0) bad = true;
      received += static_cast<std::uint64_t>(n);
    }
    close(s);
  });

  const int c = socket(AF_INET, SOCK_STREAM, 0);
  if (c < 0) fail("socket");
  if (connect(c, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) fail("connect");
  int mss = 0;
  socklen_t len = sizeof mss;
  getsockopt(c, IPPROTO_TCP, TCP_MAXSEG, &mss, &len);

  const double c0 = cpu_seconds();
  const auto w0 = std::chrono::steady_clock::now();
  std::thread sender([&] {
    std::uint64_t sent = 0;
    while (sent < total) {
      const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(kChunk, total - sent));
      const ssize_t w = write(c, pattern.data() + sent % kStreamPeriod, n);
      if (w <= 0) fail("write");
      sent += static_cast<std::uint64_t>(w);
    }
    shutdown(c, SHUT_WR);
  });
  sender.join();
  receiver.join();
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - w0).count();
  const double cpu = cpu_seconds() - c0;
  close(c);
  close(ls);
  if (bad || received != total) {
    std::fprintf(stderr, "loopback_bulk: received %llu of %llu bytes%s\n",
                 static_cast<unsigned long long>(received), static_cast<unsigned long long>(total),
                 bad ? ", some differ" : "");
    return 1;
  }
  const double bits = static_cast<double>(total) * 8;
  std::printf("RESULT linux_mss %d\n", mss);
  std::printf("RESULT linux_gbps_wall %.6g\n", bits / wall / 1e9);
  std::printf("RESULT linux_gbps_cpu %.6g\n", bits / cpu / 1e9);
  return 0;
}
