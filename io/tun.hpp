// A Linux TUN device (IFF_TUN | IFF_NO_PI): raw IPv4 and IPv6 datagrams, no link header.
#pragma once

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

class TunDevice {
 public:
  // Attaches to the device `name` when it exists (a persistent one, made by
  // `ip tuntap add NAME mode tun`), creates it otherwise. An empty name lets the kernel
  // choose (tun0, tun1 ...). A device created here is not persistent: the kernel removes
  // it when the descriptor closes, so it also goes away when the process dies.
  static IoResult<TunDevice> open(std::string_view name);

  TunDevice(TunDevice&& other) noexcept;
  TunDevice& operator=(TunDevice&& other) noexcept;
  TunDevice(const TunDevice&) = delete;
  TunDevice& operator=(const TunDevice&) = delete;
  ~TunDevice();

  int fd() const { return fd_; }
  const std::string& name() const { return name_; }
  unsigned index() const { return index_; }
  bool created() const { return created_; }  // by this process (it is removed on close)

  // One datagram, non-blocking: its size, 0 when none is waiting, or an error.
  IoResult<std::size_t> read(std::span<std::byte> buf);
  // One datagram; false (errno set) when the kernel refused it.
  bool write(std::span<const std::byte> packet);

  void close();

 private:
  TunDevice() = default;
  int fd_ = -1;
  std::string name_;
  unsigned index_ = 0;
  bool created_ = false;
};

}  // namespace utcp::io
