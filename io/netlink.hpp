// Configuring the kernel's side of a device over rtnetlink (no `ip` command): its address,
// its MTU, link up.
#pragma once

#include <cstdint>
#include <optional>
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

// RTM_NEWADDR: assigns `cidr` to interface `ifindex`; the kernel adds the subnet route.
// An address already there is not an error. IPv6 addresses skip duplicate address
// detection (IFA_F_NODAD) so they are usable at once.
IoResult<void> add_address(unsigned ifindex, const Cidr& cidr);

// RTM_NEWLINK on an existing link: sets its MTU (when not 0) and brings it up.
IoResult<void> set_link_up(unsigned ifindex, std::uint32_t mtu);

}  // namespace utcp::io
