// Configuring the kernel's side of a device over rtnetlink (no `ip` command): its address,
// its MTU, link up.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "error.hpp"
#include "utcp/ip.hpp"

namespace utcp::io {

// An address with a prefix length: 10.77.0.1/24, fd00:77::1/64.
struct Cidr {
  IpAddr addr;
  std::uint8_t prefix = 0;
  static std::optional<Cidr> parse(std::string_view text);  // the prefix is required
  bool contains(const IpAddr& ip) const;
  std::string to_string() const;
};

// What a buffer of netlink messages from the kernel says about request `seq`: the errno of
// its acknowledgement (NLMSG_ERROR; 0 is success), not there yet (read on), or a malformed
// buffer (a length below the header or past the buffer, a cut nlmsgerr, an error that is not
// 0 or a negative errno). Messages for other sequence numbers are skipped. Reads only inside
// `reply`, which need not be aligned. Exposed for tests and fuzz/io_netlink.cpp.
struct NetlinkAck {
  enum class Status { acked, pending, malformed };
  Status status = Status::pending;
  int error = 0;  // when acked: 0 or a positive errno
};
NetlinkAck parse_netlink_ack(std::span<const std::byte> reply, std::uint32_t seq);

// RTM_NEWADDR: assigns `cidr` to interface `ifindex`; the kernel adds the subnet route.
// An address already there is not an error. IPv6 addresses skip duplicate address
// detection (IFA_F_NODAD) so they are usable at once.
IoResult<void> add_address(unsigned ifindex, const Cidr& cidr);

// RTM_NEWLINK on an existing link: sets its MTU (when not 0) and brings it up.
IoResult<void> set_link_up(unsigned ifindex, std::uint32_t mtu);

}  // namespace utcp::io
