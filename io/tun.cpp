#include "tun.hpp"

#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <array>
#include <bit>
#include <cerrno>
#include <cstring>
#include <utility>

#include "utcp/posix.h"

namespace utcp::io {

namespace {

IoError open_error(int code) {
  switch (code) {
    case ENOENT:
    case ENODEV:
    case ENXIO:
      return IoError{code, "/dev/net/tun is missing: this kernel or container has no TUN support"};
    case EACCES:
    case EPERM:
      return IoError{code, "opening /dev/net/tun: not permitted (run as root or grant CAP_NET_ADMIN)"};
    default:
      return errno_error("opening /dev/net/tun", code);
  }
}

IoError attach_error(std::string_view name, int code) {
  std::string dev = name.empty() ? std::string("a TUN device") : "TUN device " + std::string(name);
  switch (code) {
    case EPERM:
    case EACCES:
      return IoError{code, "creating " + dev + ": not permitted (run as root or grant CAP_NET_ADMIN)"};
    case EBUSY:
      return IoError{code, dev + " is in use by another process"};
    case EINVAL:
      return IoError{code, dev +
                               ": exists but is not a TUN device without packet information (or its "
                               "multi-queue setting differs)"};
    default:
      return errno_error("attaching to " + dev, code);
  }
}

// What the host layer takes from the kernel: packets with a partial checksum (TUN_F_CSUM) and
// TCP super-segments over IPv4 and IPv6 (host/gso.hpp splits them). Not TUN_F_TSO_ECN: with
// it off the kernel segments a super-segment carrying CWR before handing it over. Not USO
// (TUN_F_USO4/6, Linux 6.2): utcp has no UDP, and UDP super-segments would only be dropped as
// malformed frames instead of as datagrams of a protocol it does not speak.
constexpr unsigned long offloads = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6;

}  // namespace

std::optional<std::string> invalid_device_name(std::string_view name) {
  // The rules of Linux's dev_valid_name.
  if (name.size() >= IFNAMSIZ)
    return "is not a valid device name: at most " + std::to_string(IFNAMSIZ - 1) + " characters";
  if (name == "." || name == "..") return std::string("is not a valid device name");
  for (const char c : name) {
    if (c == '/' || c == ':' || c == ' ' || (c >= '\t' && c <= '\r'))
      return std::string("is not a valid device name: no '/', ':' or white space");
  }
  return std::nullopt;
}

IoResult<TunDevice> TunDevice::open(std::string_view name, TunOptions options) {
  if (auto bad = invalid_device_name(name))
    return std::unexpected(IoError{EINVAL, std::string(name) + " " + *bad});
  TunDevice dev;
  std::string wanted(name);
  dev.created_ = wanted.empty() || if_nametoindex(wanted.c_str()) == 0;
  dev.fd_ = ::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (dev.fd_ < 0) return std::unexpected(open_error(errno));

  bool vnet = options.offload;
  unsigned features = 0;
  if (vnet && (ioctl(dev.fd_, TUNGETFEATURES, &features) < 0 || (features & IFF_VNET_HDR) == 0)) {
    dev.offload_note_ = "this kernel's TUN driver has no IFF_VNET_HDR";
    vnet = false;
  }
  ifreq ifr{};
  ifr.ifr_flags = static_cast<short>(IFF_TUN | IFF_NO_PI | (vnet ? IFF_VNET_HDR : 0) |
                                     (options.multi_queue ? IFF_MULTI_QUEUE : 0));
  std::memcpy(ifr.ifr_name, wanted.data(), wanted.size());
  if (ioctl(dev.fd_, TUNSETIFF, &ifr) < 0) return std::unexpected(attach_error(name, errno));
  dev.name_ = std::string(ifr.ifr_name, strnlen(ifr.ifr_name, IFNAMSIZ));
  dev.index_ = if_nametoindex(dev.name_.c_str());
  if (dev.index_ == 0) return std::unexpected(errno_error("looking up " + dev.name_));
  if (vnet) {
    // The header is little-endian on the wire of host/gso.hpp; a big-endian machine asks for it.
    int le = 1;
    const bool endian_ok =
        std::endian::native == std::endian::little || ioctl(dev.fd_, TUNSETVNETLE, &le) == 0;
    if (!endian_ok || ioctl(dev.fd_, TUNSETOFFLOAD, offloads) < 0) {
      // The descriptor is attached with IFF_VNET_HDR: start again without it (a device
      // created here went away with the descriptor and is created again).
      std::string note =
          std::string(endian_ok ? "TUNSETOFFLOAD" : "TUNSETVNETLE") + " refused: " + std::strerror(errno);
      dev.close();
      auto plain = open(name, TunOptions{.offload = false, .multi_queue = options.multi_queue});
      if (plain) plain->offload_note_ = std::move(note);
      return plain;
    }
    dev.vnet_ = true;
  }
  return dev;
}

TunDevice TunDevice::adopt(int fd, bool vnet, std::string name) {
  TunDevice dev;
  dev.fd_ = fd;
  dev.vnet_ = vnet;
  dev.name_ = std::move(name);
  return dev;
}

TunDevice::TunDevice(TunDevice&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      name_(std::move(other.name_)),
      index_(other.index_),
      created_(other.created_),
      vnet_(other.vnet_),
      offload_note_(std::move(other.offload_note_)) {}

TunDevice& TunDevice::operator=(TunDevice&& other) noexcept {
  if (this != &other) {
    close();
    fd_ = std::exchange(other.fd_, -1);
    name_ = std::move(other.name_);
    index_ = other.index_;
    created_ = other.created_;
    vnet_ = other.vnet_;
    offload_note_ = std::move(other.offload_note_);
  }
  return *this;
}

TunDevice::~TunDevice() {
  close();
}

void TunDevice::close() {
  if (fd_ >= 0) ::close(std::exchange(fd_, -1));
}

IoResult<std::size_t> TunDevice::read(std::span<std::byte> buf) {
  for (;;) {
    ssize_t n = ::read(fd_, buf.data(), buf.size());
    if (n >= 0) return static_cast<std::size_t>(n);
    if (errno == EINTR) continue;
    if (errno == EAGAIN) return 0;
    return std::unexpected(errno_error("reading from " + name_));
  }
}

bool TunDevice::write(std::span<const std::byte> frame) {
  for (;;) {
    ssize_t n = ::write(fd_, frame.data(), frame.size());
    if (n >= 0) return true;
    if (errno != EINTR) return false;
  }
}

bool TunDevice::write(std::span<const iovec> iov) {
  for (;;) {
    ssize_t n = ::writev(fd_, iov.data(), static_cast<int>(iov.size()));
    if (n >= 0) return true;
    if (errno != EINTR) return false;
  }
}

bool TunDevice::write_packet(std::span<const std::byte> packet) {
  if (!vnet_) return write(packet);
  // A virtio_net_hdr of zeros: no GSO, no checksum to complete.
  static constexpr std::byte no_offload[UTCP_VNET_HDR_LEN] = {};
  std::array<iovec, 2> iov{{{const_cast<std::byte*>(no_offload), sizeof no_offload},
                            {const_cast<std::byte*>(packet.data()), packet.size()}}};
  for (;;) {
    ssize_t n = ::writev(fd_, iov.data(), static_cast<int>(iov.size()));
    if (n >= 0) return true;
    if (errno != EINTR) return false;
  }
}

}  // namespace utcp::io
