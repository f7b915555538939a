// Steering a multi-queue TUN device's inbound flows to its queues with an eBPF program
// (TUNSETSTEERINGEBPF), so that shards get equal numbers of connections.
//
// Without a program the kernel picks a queue by the flow's hash (then the queue that last
// wrote the flow), and 16 connections split 9/7 to 13/3 about as often as not
// (docs/PERFORMANCE.md). The program here deals new connections out in turn instead: an
// inbound SYN without ACK of a flow it has not seen takes the next queue of a counter, and
// every later packet of the flow goes where its SYN went, through a flow table (an LRU hash
// map). A packet of a flow the table does not have (one evicted, or a stray) takes a queue
// from a hash of its addresses and ports. ICMP errors go to the queue of the flow they quote,
// so path MTU discovery reaches the shard that has the connection. Connections a shard opens
// itself (its SYN leaves through its own queue) are entered by the driver when it writes the
// SYN (claim_outbound), so their replies come back to it.
//
// The program is hand-assembled (no libbpf, no compiler), loaded with bpf(2) as a
// BPF_PROG_TYPE_SOCKET_FILTER; for IFF_TUN the skb's data starts at the IP header, so its
// BPF_LD_ABS/BPF_LD_IND loads read the IP and TCP headers directly. The kernel takes the
// program's return value modulo the number of queues.
#pragma once

#include <linux/bpf.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "error.hpp"

namespace utcp::io {

// The flow table's key, as the program builds it from an inbound packet: the peer's address
// (IPv4 in the first word, the others 0; IPv6 in four), each 32-bit word as BPF_LD_ABS reads
// it (network order loaded into a host-order integer), then (peer port << 16) | local port.
// The device's own (local) address is the same for every flow of a host, so it is left out.
struct SteeringKey {
  std::uint32_t addr[4] = {};
  std::uint32_t ports = 0;
  bool operator==(const SteeringKey&) const = default;
};
static_assert(sizeof(SteeringKey) == 20);

// The key of an outbound IP packet (IPv4 or IPv6, TCP as the first header after the fixed one)
// that is a SYN without ACK: the connection a shard opens. Anything else: nullopt.
std::optional<SteeringKey> outbound_syn_key(std::span<const std::byte> packet);

// The instructions of the steering program, for `queues` queues (at least 1), with the flow
// table's and the turn counter's map descriptors patched in. Exposed for tests.
std::vector<bpf_insn> steering_program(int flows_map_fd, int counter_map_fd, std::uint32_t queues);

class TunSteering {
 public:
  // Creates the maps and loads the program for `queues` queues. Fails (a message saying what
  // the kernel refused and why: no CAP_BPF, a kernel without the map type ...) when bpf(2)
  // refuses.
  static IoResult<TunSteering> load(std::uint32_t queues, std::uint32_t max_flows = 1u << 16);

  TunSteering(TunSteering&& other) noexcept;
  TunSteering& operator=(TunSteering&& other) noexcept;
  TunSteering(const TunSteering&) = delete;
  TunSteering& operator=(const TunSteering&) = delete;
  ~TunSteering();  // detaches (when attached and the descriptor is still open), closes the maps

  // Attaches the program to the device of `tun_fd` (any of its queues' descriptors).
  IoResult<void> attach(int tun_fd);
  // Back to the kernel's own steering. Idempotent.
  void detach();

  // Records the flow of an outbound SYN without ACK as queue `queue`'s (anything else is
  // ignored): the replies to a connection a shard opens come back to that shard. Thread safe.
  void claim_outbound(std::span<const std::byte> packet, std::uint32_t queue) const;

  // The queue the flow table holds for `key`, if any (for tests and diagnostics).
  std::optional<std::uint32_t> lookup(const SteeringKey& key) const;

  int program_fd() const { return prog_fd_; }

 private:
  TunSteering() = default;
  void close_all();
  int flows_fd_ = -1;
  int counter_fd_ = -1;
  int prog_fd_ = -1;
  int attached_fd_ = -1;  // the tun descriptor it is attached through; -1 when not attached
};

}  // namespace utcp::io
