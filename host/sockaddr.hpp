// Socket addresses and utcp's IpAddr / Endpoint, converted in one place for host/ (the C
// ABI's sockaddr arguments), script/ (syscalls a script makes) and apps/ (the tools' kernel
// sockets and their printing).
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <bit>
#include <cstdint>
#include <cstring>
#include <optional>

#include "utcp/ip.hpp"

namespace utcp::host {

// A sockaddr_in or sockaddr_in6 in storage big enough for either, and its length.
struct SockAddr {
  sockaddr_storage storage{};
  socklen_t len = 0;
  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
};

// `in` (a sockaddr_in or sockaddr_in6) as a SockAddr.
template <class In>
SockAddr stored(const In& in) {
  SockAddr a;
  std::memcpy(&a.storage, &in, sizeof in);
  a.len = sizeof in;
  return a;
}

inline SockAddr to_sockaddr(const IpAddr& ip, std::uint16_t port) {
  if (ip.is_v4()) {
    sockaddr_in in{};
    in.sin_family = AF_INET;
    in.sin_port = htons(port);
    std::memcpy(&in.sin_addr, ip.data(), 4);
    return stored(in);
  }
  sockaddr_in6 in6{};
  in6.sin6_family = AF_INET6;
  in6.sin6_port = htons(port);
  std::memcpy(&in6.sin6_addr, ip.data(), 16);
  return stored(in6);
}
inline SockAddr to_sockaddr(const Endpoint& e) {
  return to_sockaddr(e.ip, e.port);
}

// The address of an AF_INET or AF_INET6 sockaddr that is at least as long as its family's
// struct; nothing for any other family or a shorter length.
inline std::optional<Endpoint> from_sockaddr(const sockaddr* addr, socklen_t len) {
  if (addr == nullptr) return std::nullopt;
  const auto fits = [&](std::size_t size) { return len >= static_cast<socklen_t>(size); };
  if (addr->sa_family == AF_INET && fits(sizeof(sockaddr_in))) {
    sockaddr_in in{};
    std::memcpy(&in, addr, sizeof in);
    return Endpoint{IpAddr::v4(std::bit_cast<std::array<std::uint8_t, 4>>(in.sin_addr)), ntohs(in.sin_port)};
  }
  if (addr->sa_family == AF_INET6 && fits(sizeof(sockaddr_in6))) {
    sockaddr_in6 in6{};
    std::memcpy(&in6, addr, sizeof in6);
    return Endpoint{IpAddr::v6(std::bit_cast<std::array<std::uint8_t, 16>>(in6.sin6_addr)),
                    ntohs(in6.sin6_port)};
  }
  return std::nullopt;
}
inline std::optional<Endpoint> from_sockaddr(const sockaddr_storage& ss) {
  return from_sockaddr(reinterpret_cast<const sockaddr*>(&ss), sizeof ss);
}

}  // namespace utcp::host
