// Addresses, endpoints and flows.
#pragma once

#include <array>
#include <bit>
#include <compare>
#include <cstdint>
#include <functional>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>

namespace utcp {

// An IPv4 or IPv6 address, a regular value. IPv4 addresses order before IPv6 ones.
class IpAddr {
 public:
  constexpr IpAddr() = default;  // 0.0.0.0
  static constexpr IpAddr v4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
    IpAddr ip;
    ip.bytes_ = {a, b, c, d};
    return ip;
  }
  static constexpr IpAddr v4(std::array<std::uint8_t, 4> b) { return v4(b[0], b[1], b[2], b[3]); }
  static constexpr IpAddr v6(const std::array<std::uint8_t, 16>& b) {
    IpAddr ip;
    ip.v6_ = true;
    ip.bytes_ = b;
    return ip;
  }
  // Dotted quad or RFC 4291 §2.2 text (with "::" and an embedded IPv4 tail). Nothing else:
  // no leading zeros in a quad, no zone index, no surrounding spaces.
  static std::optional<IpAddr> parse(std::string_view text);

  constexpr bool is_v4() const { return !v6_; }
  constexpr bool is_v6() const { return v6_; }
  // The address bytes in network order: 4 for IPv4, 16 for IPv6.
  constexpr const std::uint8_t* data() const { return bytes_.data(); }
  constexpr std::size_t size() const { return v6_ ? 16 : 4; }
  constexpr const std::array<std::uint8_t, 16>& raw() const { return bytes_; }

  std::string to_string() const;  // RFC 5952 form for IPv6

  // Two 8-byte words rather than a memcmp call: every segment's flow lookup compares keys.
  friend constexpr bool operator==(const IpAddr& a, const IpAddr& b) {
    using Words = std::array<std::uint64_t, 2>;
    const Words x = std::bit_cast<Words>(a.bytes_), y = std::bit_cast<Words>(b.bytes_);
    return a.v6_ == b.v6_ && x[0] == y[0] && x[1] == y[1];
  }
  friend constexpr std::strong_ordering operator<=>(const IpAddr&, const IpAddr&) = default;
  friend std::ostream& operator<<(std::ostream& os, const IpAddr& ip) { return os << ip.to_string(); }

  std::size_t hash() const noexcept;

 private:
  bool v6_ = false;                      // compared first: IPv4 < IPv6
  std::array<std::uint8_t, 16> bytes_{};  // IPv4 uses the first 4, the rest stay zero
};

struct Endpoint {
  IpAddr ip;
  std::uint16_t port = 0;
  friend constexpr bool operator==(const Endpoint&, const Endpoint&) = default;
  friend constexpr std::strong_ordering operator<=>(const Endpoint&, const Endpoint&) = default;
  friend std::ostream& operator<<(std::ostream&, const Endpoint&);  // 1.2.3.4:80, [::1]:80
};

// A connection's 4-tuple as seen from this stack.
class Flow {
 public:
  Flow() = default;
  Flow(Endpoint local, Endpoint remote) : local_(local), remote_(remote) {}
  const Endpoint& local() const { return local_; }
  const Endpoint& remote() const { return remote_; }
  friend bool operator==(const Flow&, const Flow&) = default;
  friend std::strong_ordering operator<=>(const Flow&, const Flow&) = default;
  friend std::ostream& operator<<(std::ostream&, const Flow&);  // the seed's pp_flow
  std::size_t hash() const noexcept;

 private:
  Endpoint local_, remote_;
};

std::string to_string(const Flow&);
inline std::pair<Endpoint, Endpoint> peers(const Flow& f) { return {f.local(), f.remote()}; }

}  // namespace utcp

template <>
struct std::hash<utcp::IpAddr> {
  std::size_t operator()(const utcp::IpAddr& ip) const noexcept { return ip.hash(); }
};
template <>
struct std::hash<utcp::Endpoint> {
  std::size_t operator()(const utcp::Endpoint& e) const noexcept {
    return e.ip.hash() * 0x9E3779B97F4A7C15ull ^ e.port;
  }
};
template <>
struct std::hash<utcp::Flow> {
  std::size_t operator()(const utcp::Flow& f) const noexcept { return f.hash(); }
};
