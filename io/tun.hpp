// A Linux TUN device (IFF_TUN | IFF_NO_PI): raw IPv4 and IPv6 datagrams, no link header.
// With offloads (IFF_VNET_HDR and TUNSETOFFLOAD) every read and write carries a
// virtio_net_hdr (host/gso.hpp) in front of the packet: the kernel hands over GRO-coalesced
// super-segments with partial checksums and takes TSO super-segments it cuts itself.
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "error.hpp"

namespace utcp::io {

// Why Linux would refuse `name` as a network device name (empty is fine: the kernel picks
// one), as the end of a sentence: "is not a valid device name: ...".
std::optional<std::string> invalid_device_name(std::string_view name);

struct TunOptions {
  // Ask for IFF_VNET_HDR with TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6. A kernel without them
  // gets the plain device, and offload_note() says why.
  bool offload = true;
  // IFF_MULTI_QUEUE: each open of the same name attaches one more queue, and the kernel
  // steers each flow to one queue by its hash (then to the queue that last wrote it).
  bool multi_queue = false;
};

class TunDevice {
 public:
  // Attaches to the device `name` (one more queue of it with multi_queue) when it exists (a persistent one,
  // made by `ip tuntap add NAME mode tun`), creates it otherwise. An empty name lets the kernel choose (tun0,
  // tun1 ...). A device created here is not persistent: the kernel removes it when the descriptor closes, so
  // it also goes away when the process dies.
  static IoResult<TunDevice> open(std::string_view name, TunOptions options = {});
  // A descriptor that already moves one frame per read and write, non-blocking (a datagram
  // socket of a socketpair in tests: the other end plays the kernel), with or without the
  // virtio_net_hdr. The device owns it and closes it; it has no interface index.
  static TunDevice adopt(int fd, bool vnet, std::string name);

  TunDevice(TunDevice&& other) noexcept;
  TunDevice& operator=(TunDevice&& other) noexcept;
  TunDevice(const TunDevice&) = delete;
  TunDevice& operator=(const TunDevice&) = delete;
  ~TunDevice();

  int fd() const { return fd_; }
  const std::string& name() const { return name_; }
  unsigned index() const { return index_; }
  bool created() const { return created_; }  // by this process (it is removed on close)
  // Frames carry a virtio_net_hdr and the offloads are on.
  bool vnet() const { return vnet_; }
  // Why the offloads asked for are off (the kernel refused them); empty otherwise.
  const std::string& offload_note() const { return offload_note_; }

  // One frame, non-blocking (a datagram, behind its virtio_net_hdr when vnet()): its size,
  // 0 when none is waiting, or an error.
  IoResult<std::size_t> read(std::span<std::byte> buf);
  // One frame as read() returns them; false (errno set) when the kernel refused it.
  bool write(std::span<const std::byte> frame);
  // One frame gathered from `iov` (writev: the kernel copies each piece once, into the skb);
  // false (errno set) when the kernel refused it. At most IOV_MAX pieces.
  bool write(std::span<const iovec> iov);
  // One IP datagram with its checksums done: write() itself, or behind a header without
  // flags when vnet().
  bool write_packet(std::span<const std::byte> packet);

  void close();

 private:
  TunDevice() = default;
  int fd_ = -1;
  std::string name_;
  unsigned index_ = 0;
  bool created_ = false;
  bool vnet_ = false;
  std::string offload_note_;
};

}  // namespace utcp::io
