// The I/O loop: moves datagrams between a TUN device and a utcp host, and keeps the
// host's clock. On a device with offloads (TunDevice::vnet) it moves super-segments: the
// host's vnet calls split what the kernel coalesced and coalesce what the kernel will cut,
// unless the impairment or the tap needs the packets one by one (then the loop splits
// inbound frames itself and writes each outbound segment behind a header without offloads). One thread sleeps
// in epoll until a packet arrives, the host's next deadline, a held (impaired) packet's release time, or
// (with an impairment, a tap or no offloads) a kick from an application thread whose socket call produced
// output; otherwise the kicking thread writes its output to the device itself (kick()).
#pragma once

#include <sys/uio.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <span>
#include <thread>
#include <vector>

#include "error.hpp"
#include "gso.hpp"
#include "host.hpp"
#include "impair.hpp"
#include "steering.hpp"
#include "tun.hpp"
#include "utcp/posix.h"

namespace utcp::io {

struct DriverConfig {
  Impairment impairment;  // applied in both directions, each with its own random stream
  // Sees every datagram at the stack's boundary: inbound after impairment (what the stack
  // got), outbound before it (what the stack sent). Called from the loop thread.
  std::function<void(std::span<const std::byte> packet, bool outbound, std::uint64_t now_ns)> tap;
  // A multi-queue device steered by a program (io/steering.hpp): the SYNs this driver writes
  // enter their flows as `queue`'s, so the replies to a connection its host opens come back
  // to it. Must outlive the driver.
  const TunSteering* steering = nullptr;
  std::uint32_t queue = 0;
  // The longest the loop sleeps without a cause (a packet, a deadline, a kick): a safety net.
  // Tests raise it so that only a cause wakes the loop.
  std::uint64_t max_sleep_ns = 500'000'000;
};

struct DriverCounters {
  std::uint64_t packets_in = 0, bytes_in = 0;    // handed to the host (super-segments count once)
  std::uint64_t packets_out = 0, bytes_out = 0;  // written to the device (super-segments count once)
  std::uint64_t packets_out_by_loop = 0;  // of packets_out, written by the loop thread (the rest: kicks)
  std::uint64_t rejected_in = 0;          // the host refused them (not for us, malformed ...)
  std::uint64_t split_errors = 0;         // frames whose virtio_net_hdr the loop could not split
  std::uint64_t tun_write_errors = 0;     // the kernel refused them
  std::uint64_t wakeups = 0;
  std::uint64_t wakeups_without_input = 0;  // of wakeups: no frame in the device (a kick, a timer)
  Impairer::Counters impaired_in, impaired_out;
};

class Driver {
 public:
  // `host` and `tun` must outlive the driver.
  Driver(utcp_host* host, TunDevice& tun, DriverConfig config);
  ~Driver();
  Driver(const Driver&) = delete;
  Driver& operator=(const Driver&) = delete;

  IoResult<void> start();  // feeds the host the clock and spawns the loop thread
  void stop();             // drains once more, ends the loop, joins it (idempotent)

  // Gets the host's output to the device. Call after every socket call that may produce
  // segments (connect, write, read, shutdown, close). On the direct path (a device with
  // offloads, no impairment, no tap) the calling thread writes the frames itself, as a kernel
  // socket's sendmsg transmits in its caller's context; otherwise it wakes the loop (cheap
  // when already woken). On the direct path a call that armed a timer due before the loop's
  // planned wake-up (a retransmission, a loss probe, a paced send) also wakes the loop.
  void kick();

  DriverCounters counters() const;
  // The loop thread's id (gettid), for its scheduling counters in /proc; 0 before it starts.
  int loop_tid() const { return loop_tid_.load(); }

 private:
  void run();
  bool step();  // one pass: impaired releases, input, timers, output; true: more input may wait
  void drain_output(std::uint64_t now);
  // The direct path's drain, from any thread: one thread at a time writes, in outbox order
  // (tx_); a thread that finds it busy leaves its frames to the writer (tx_pending_).
  void drain_shared();
  void write_frames();
  // One packet of the host's output: `run` as frame_super_into frames it, written from the
  // headers and the payloads where they lie when it carries two or more segments.
  void write_run(std::span<const Output> run);
  void from_tun(std::span<const std::byte> frame, std::uint64_t now);
  void to_host(std::span<const std::byte> packet, std::uint64_t now);
  void to_tun(std::span<const std::byte> packet);
  void count_out(bool written, std::size_t bytes);
  void publish_impairment();
  void wake();  // the loop, through the eventfd (once until its next pass)

  utcp_host* host_;
  TunDevice& tun_;
  DriverConfig config_;
  Impairer in_, out_;
  // Packets one by one (impairment or tap): the loop splits inbound frames of a vnet device.
  bool per_packet_;
  // Super-segments without impairment or tap: any thread that kicks writes (drain_shared).
  // Otherwise (per_packet_, or a device without offloads) the loop alone writes, packet by
  // packet: without offloads, writing 44 times as many packets in the application's thread
  // measured slower (docs/PERFORMANCE.md).
  bool direct_;
  host::Splitter splitter_;
  std::mutex tx_;
  host::Host& host_cpp_;  // host_'s C++ side: write_frames takes its Outputs from it
  // What the thread that holds tx_ writes: the Outputs it took from the host (their payloads
  // keep the send queue's blocks alive until the writes return), the segments of each packet,
  // and a packet's pieces. Reused: they grow once.
  std::vector<Output> tx_outputs_;
  std::vector<std::uint32_t> tx_runs_;
  std::vector<iovec> tx_iov_;
  std::array<std::byte, host::max_super_headers> tx_headers_{};
  std::atomic<bool> tx_pending_{false};
  int epoll_fd_ = -1;
  int event_fd_ = -1;
  std::atomic<bool> kicked_{false};
  // When the loop sleeps: the instant (host nanoseconds) it will wake at; 0 while it is awake.
  std::atomic<std::uint64_t> sleep_until_{0};
  std::atomic<bool> stopping_{false};
  std::atomic<bool> running_{false};  // between start and stop: kicks may write (drain_shared)
  std::atomic<int> loop_tid_{0};
  std::thread thread_;
  struct {
    std::atomic<std::uint64_t> packets_in{0}, bytes_in{0}, packets_out{0}, bytes_out{0};
    std::atomic<std::uint64_t> rejected_in{0}, split_errors{0}, tun_write_errors{0}, wakeups{0};
    std::atomic<std::uint64_t> packets_out_by_loop{0}, wakeups_without_input{0};
  } counters_;
  std::atomic<std::uint64_t> impaired_[6] = {};  // lost, duplicated, reordered: in then out
};

}  // namespace utcp::io
