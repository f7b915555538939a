#include "netlink.hpp"

#include <linux/if_addr.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <vector>

namespace utcp::io {

std::optional<Cidr> Cidr::parse(std::string_view text) {
  auto slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  auto addr = IpAddr::parse(text.substr(0, slash));
  if (!addr) return std::nullopt;
  auto digits = text.substr(slash + 1);
  unsigned prefix = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), prefix);
  if (digits.empty() || ec != std::errc{} || end != digits.data() + digits.size()) return std::nullopt;
  if (prefix > addr->size() * 8) return std::nullopt;
  return Cidr{*addr, static_cast<std::uint8_t>(prefix)};
}

bool Cidr::contains(const IpAddr& ip) const {
  if (ip.is_v4() != addr.is_v4()) return false;
  unsigned bits = prefix;
  for (std::size_t i = 0; i < addr.size() && bits > 0; ++i) {
    unsigned take = bits >= 8 ? 8 : bits;
    auto mask = static_cast<std::uint8_t>(0xff00u >> take);
    if ((ip.data()[i] & mask) != (addr.data()[i] & mask)) return false;
    bits -= take;
  }
  return true;
}

std::string Cidr::to_string() const {
  return addr.to_string() + "/" + std::to_string(prefix);
}

NetlinkAck parse_netlink_ack(std::span<const std::byte> reply, std::uint32_t seq) {
  using Status = NetlinkAck::Status;
  std::size_t at = 0;
  while (reply.size() - at >= sizeof(nlmsghdr)) {
    nlmsghdr h{};
    std::memcpy(&h, reply.data() + at, sizeof h);
    const std::size_t len = h.nlmsg_len;
    if (len < sizeof(nlmsghdr) || len > reply.size() - at) return {Status::malformed, 0};
    if (h.nlmsg_seq == seq && h.nlmsg_type == NLMSG_ERROR) {
      if (len < NLMSG_LENGTH(sizeof(nlmsgerr))) return {Status::malformed, 0};
      nlmsgerr e{};
      std::memcpy(&e, reply.data() + at + NLMSG_HDRLEN, sizeof e);
      // 0 or -errno; anything else (INT_MIN could not even be negated) is not a kernel answer.
      if (e.error > 0 || e.error < -4095) return {Status::malformed, 0};
      return {Status::acked, -e.error};
    }
    at += NLMSG_ALIGN(len);  // len <= size - at, so this cannot wrap
    if (at > reply.size()) break;
  }
  return {Status::pending, 0};
}

namespace {

constexpr std::uint32_t request_seq = 1;

// A netlink request being built: header, a fixed body, then attributes.
class Request {
 public:
  Request(std::uint16_t type, std::uint16_t flags) {
    buf_.resize(NLMSG_HDRLEN);
    header().nlmsg_type = type;
    header().nlmsg_flags = static_cast<std::uint16_t>(flags | NLM_F_REQUEST | NLM_F_ACK);
    header().nlmsg_seq = request_seq;
  }
  template <class Body>
  void body(const Body& b) {
    append(&b, sizeof b);
  }
  void attr(std::uint16_t type, const void* data, std::size_t len) {
    rtattr a{};
    a.rta_len = static_cast<unsigned short>(RTA_LENGTH(len));
    a.rta_type = type;
    append(&a, sizeof a);
    append(data, len);
  }
  std::vector<std::byte>& finish() {
    header().nlmsg_len = static_cast<std::uint32_t>(buf_.size());
    return buf_;
  }

 private:
  nlmsghdr& header() { return *reinterpret_cast<nlmsghdr*>(buf_.data()); }
  void append(const void* data, std::size_t len) {
    auto at = buf_.size();
    buf_.resize(at + NLMSG_ALIGN(len));
    std::memcpy(buf_.data() + at, data, len);
  }
  std::vector<std::byte> buf_;
};

// Sends one request and waits for its acknowledgement; returns the kernel's errno (0: done).
IoResult<int> transact(std::vector<std::byte>& msg) {
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) return std::unexpected(errno_error("opening a netlink socket"));
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (sendto(fd, msg.data(), msg.size(), 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel) < 0) {
    int e = errno;
    ::close(fd);
    return std::unexpected(errno_error("sending a netlink request", e));
  }
  alignas(nlmsghdr) std::array<std::byte, 8192> reply{};
  for (;;) {
    ssize_t n = recv(fd, reply.data(), reply.size(), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int e = errno;
      ::close(fd);
      return std::unexpected(errno_error("reading a netlink reply", e));
    }
    auto ack = parse_netlink_ack(std::span<const std::byte>(reply.data(), static_cast<std::size_t>(n)), request_seq);
    if (ack.status == NetlinkAck::Status::pending) continue;
    ::close(fd);
    if (ack.status == NetlinkAck::Status::malformed) {
      return std::unexpected(IoError{EPROTO, "reading a netlink reply: malformed message"});
    }
    return ack.error;
  }
}

std::string if_name(unsigned ifindex) {
  char name[IF_NAMESIZE] = {};
  if (if_indextoname(ifindex, name) == nullptr) return "interface " + std::to_string(ifindex);
  return name;
}

}  // namespace

IoResult<void> add_address(unsigned ifindex, const Cidr& cidr) {
  Request req(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL);
  ifaddrmsg ifa{};
  ifa.ifa_family = static_cast<unsigned char>(cidr.addr.is_v4() ? AF_INET : AF_INET6);
  ifa.ifa_prefixlen = cidr.prefix;
  ifa.ifa_flags = cidr.addr.is_v4() ? 0 : IFA_F_NODAD;
  ifa.ifa_scope = RT_SCOPE_UNIVERSE;
  ifa.ifa_index = ifindex;
  req.body(ifa);
  req.attr(IFA_LOCAL, cidr.addr.data(), cidr.addr.size());
  req.attr(IFA_ADDRESS, cidr.addr.data(), cidr.addr.size());
  auto err = transact(req.finish());
  if (!err) return std::unexpected(err.error());
  if (*err == 0 || *err == EEXIST) return {};
  if (*err == EPERM || *err == EACCES) {
    return std::unexpected(IoError{*err, "assigning " + cidr.to_string() + " to " + if_name(ifindex) +
                                             ": not permitted (run as root or grant CAP_NET_ADMIN)"});
  }
  return std::unexpected(errno_error("assigning " + cidr.to_string() + " to " + if_name(ifindex), *err));
}

IoResult<void> set_link_up(unsigned ifindex, std::uint32_t mtu) {
  Request req(RTM_NEWLINK, 0);
  ifinfomsg ifi{};
  ifi.ifi_family = AF_UNSPEC;
  ifi.ifi_index = static_cast<int>(ifindex);
  ifi.ifi_flags = IFF_UP;
  ifi.ifi_change = IFF_UP;
  req.body(ifi);
  if (mtu != 0) req.attr(IFLA_MTU, &mtu, sizeof mtu);
  auto err = transact(req.finish());
  if (!err) return std::unexpected(err.error());
  if (*err == 0) return {};
  if (*err == EPERM || *err == EACCES) {
    return std::unexpected(IoError{
        *err, "bringing up " + if_name(ifindex) + ": not permitted (run as root or grant CAP_NET_ADMIN)"});
  }
  if (*err == EINVAL && mtu != 0) {
    return std::unexpected(IoError{
        *err, "setting the MTU of " + if_name(ifindex) + " to " + std::to_string(mtu) + ": out of range"});
  }
  return std::unexpected(errno_error("bringing up " + if_name(ifindex), *err));
}

}  // namespace utcp::io
