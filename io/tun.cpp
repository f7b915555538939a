#include "tun.hpp"

#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

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
      return IoError{code, dev + ": exists but is not a TUN device without packet information"};
    default:
      return errno_error("attaching to " + dev, code);
  }
}

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

IoResult<TunDevice> TunDevice::open(std::string_view name) {
  if (auto bad = invalid_device_name(name))
    return std::unexpected(IoError{EINVAL, std::string(name) + " " + *bad});
  TunDevice dev;
  std::string wanted(name);
  dev.created_ = wanted.empty() || if_nametoindex(wanted.c_str()) == 0;
  dev.fd_ = ::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (dev.fd_ < 0) return std::unexpected(open_error(errno));

  ifreq ifr{};
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
  std::memcpy(ifr.ifr_name, wanted.data(), wanted.size());
  if (ioctl(dev.fd_, TUNSETIFF, &ifr) < 0) return std::unexpected(attach_error(name, errno));
  dev.name_ = std::string(ifr.ifr_name, strnlen(ifr.ifr_name, IFNAMSIZ));
  dev.index_ = if_nametoindex(dev.name_.c_str());
  if (dev.index_ == 0) return std::unexpected(errno_error("looking up " + dev.name_));
  return dev;
}

TunDevice::TunDevice(TunDevice&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      name_(std::move(other.name_)),
      index_(other.index_),
      created_(other.created_) {}

TunDevice& TunDevice::operator=(TunDevice&& other) noexcept {
  if (this != &other) {
    close();
    fd_ = std::exchange(other.fd_, -1);
    name_ = std::move(other.name_);
    index_ = other.index_;
    created_ = other.created_;
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

bool TunDevice::write(std::span<const std::byte> packet) {
  for (;;) {
    ssize_t n = ::write(fd_, packet.data(), packet.size());
    if (n >= 0) return true;
    if (errno != EINTR) return false;
  }
}

}  // namespace utcp::io
