// Two hosts joined by a virtual wire, driven only through the C ABI (utcp/posix.h).
// Single-threaded tests call pump() / run_for(); threaded ones start a Pump.
#pragma once

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "utcp/posix.h"

namespace utcp::host::test {

constexpr std::uint64_t ms = 1000000;
constexpr std::uint64_t sec = 1000 * ms;

inline sockaddr_storage sockaddr_of(const char* ip, std::uint16_t port, socklen_t* len) {
  sockaddr_storage ss{};
  sockaddr_in in{};
  if (::inet_pton(AF_INET, ip, &in.sin_addr) == 1) {
    in.sin_family = AF_INET;
    in.sin_port = htons(port);
    std::memcpy(&ss, &in, sizeof in);
    *len = sizeof in;
    return ss;
  }
  sockaddr_in6 in6{};
  EXPECT_EQ(::inet_pton(AF_INET6, ip, &in6.sin6_addr), 1) << ip;
  in6.sin6_family = AF_INET6;
  in6.sin6_port = htons(port);
  std::memcpy(&ss, &in6, sizeof in6);
  *len = sizeof in6;
  return ss;
}

// A packet on its way: the bytes and whether host a sent it.
struct Packet {
  std::vector<std::byte> bytes;
  bool from_a;
};

// The hosts negotiate neither timestamps nor SACK: these tests count bare segments (full
// segments of the whole MSS, TCP_MAXSEG as announced). abi_transfer.c runs with both on.
inline constexpr std::uint32_t kBare = UTCP_HOST_NO_TIMESTAMPS | UTCP_HOST_NO_SACK;

class Net {
 public:
  explicit Net(const char* a_addr = "10.0.0.1", const char* b_addr = "10.0.0.2", std::uint64_t seed = 1,
               std::uint32_t mtu = 0, std::uint32_t flags = kBare)
      : a_addr_(a_addr), b_addr_(b_addr) {
    utcp_host_config ca{a_addr, seed, mtu, flags};
    utcp_host_config cb{b_addr, seed + 1, mtu, flags};
    a = utcp_host_new(&ca);
    b = utcp_host_new(&cb);
    EXPECT_NE(a, nullptr);
    EXPECT_NE(b, nullptr);
  }
  ~Net() {
    utcp_host_free(a);
    utcp_host_free(b);
  }
  Net(const Net&) = delete;
  Net& operator=(const Net&) = delete;

  utcp_host* a = nullptr;
  utcp_host* b = nullptr;
  // Called on every packet before delivery; false drops it.
  std::function<bool(const Packet&)> filter;
  std::vector<Packet> log;  // every packet moved, when record is set
  bool record = false;
  // Moves frames with a virtio_net_hdr (utcp_host_output_vnet / utcp_host_input_vnet) instead
  // of plain packets: TSO super-segments one way, cut back into segments the other.
  bool vnet = false;

  sockaddr_storage addr_a(std::uint16_t port, socklen_t* len) const {
    return sockaddr_of(a_addr_, port, len);
  }
  sockaddr_storage addr_b(std::uint16_t port, socklen_t* len) const {
    return sockaddr_of(b_addr_, port, len);
  }

  // Moves packets both ways until neither host has any; returns how many moved.
  int pump() {
    std::lock_guard<std::mutex> g(pump_mu_);
    int moved = 0;
    for (bool any = true; any;) {
      any = false;
      any |= move_one(a, b, true, moved);
      any |= move_one(b, a, false, moved);
    }
    return moved;
  }
  std::uint64_t now() const { return now_.load(); }
  void set_time(std::uint64_t t) {
    now_ = t;
    utcp_host_set_time(a, t);
    utcp_host_set_time(b, t);
  }
  // The earlier of the two hosts' deadlines, or -1.
  std::int64_t next_deadline() {
    const std::int64_t da = utcp_host_next_deadline(a), db = utcp_host_next_deadline(b);
    if (da < 0) return db;
    if (db < 0) return da;
    return std::min(da, db);
  }
  // Advances virtual time by `d`, stopping at every deadline on the way and pumping.
  void run_for(std::uint64_t d) {
    const std::uint64_t end = now() + d;
    pump();
    for (;;) {
      const std::int64_t next = next_deadline();
      if (next < 0 || static_cast<std::uint64_t>(next) > end) break;
      set_time(std::max<std::uint64_t>(static_cast<std::uint64_t>(next), now()));
      pump();
    }
    set_time(end);
    pump();
  }

 private:
  bool move_one(utcp_host* from, utcp_host* to, bool from_a, int& moved) {
    std::vector<std::byte> buf(vnet ? UTCP_VNET_FRAME_MAX : 65536);
    const ssize_t n = vnet ? utcp_host_output_vnet(from, buf.data(), buf.size())
                           : utcp_host_output(from, buf.data(), buf.size());
    if (n < 0) return false;
    buf.resize(static_cast<std::size_t>(n));
    Packet p{std::move(buf), from_a};
    ++moved;
    if (filter && !filter(p)) return true;
    if (vnet) {
      utcp_host_input_vnet(to, p.bytes.data(), p.bytes.size());
    } else {
      utcp_host_input(to, p.bytes.data(), p.bytes.size());
    }
    if (record) log.push_back(std::move(p));
    return true;
  }

  const char* a_addr_;
  const char* b_addr_;
  std::atomic<std::uint64_t> now_{0};
  std::mutex pump_mu_;
};

// A thread that keeps packets moving and virtual time going while others block in calls:
// whenever the wire is idle it advances time to the next deadline, by at most `step`.
class Pump {
 public:
  explicit Pump(Net& net, std::uint64_t step = ms) : net_(net), step_(step), thread_([this] { run(); }) {}
  ~Pump() {
    stop_ = true;
    thread_.join();
  }
  Pump(const Pump&) = delete;
  Pump& operator=(const Pump&) = delete;

 private:
  void run() {
    int idle = 0;
    while (!stop_) {
      if (net_.pump() > 0) {
        idle = 0;
        continue;
      }
      if (++idle < 4) {  // give the application threads a moment to act first
        std::this_thread::sleep_for(std::chrono::microseconds(20));
        continue;
      }
      std::uint64_t next = net_.now() + step_;
      const std::int64_t d = net_.next_deadline();
      if (d >= 0 && static_cast<std::uint64_t>(d) < next)
        next = std::max<std::uint64_t>(static_cast<std::uint64_t>(d), net_.now());
      net_.set_time(next);
      idle = 0;
    }
  }

  Net& net_;
  std::uint64_t step_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace utcp::host::test
