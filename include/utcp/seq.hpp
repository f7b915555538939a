// TCP sequence numbers: 32-bit values compared by RFC 1982 serial-number arithmetic.
#pragma once

#include <cstdint>
#include <functional>
#include <ostream>

namespace utcp {

class Seq {
 public:
  constexpr Seq() = default;
  constexpr explicit Seq(std::uint32_t v) : v_(v) {}
  constexpr std::uint32_t value() const { return v_; }

  // Addition wraps modulo 2^32.
  friend constexpr Seq operator+(Seq a, std::uint32_t n) { return Seq(a.v_ + n); }
  friend constexpr Seq operator-(Seq a, std::uint32_t n) { return Seq(a.v_ - n); }
  Seq& operator+=(std::uint32_t n) {
    v_ += n;
    return *this;
  }
  // Distance a - b modulo 2^32.
  friend constexpr std::uint32_t operator-(Seq a, Seq b) { return a.v_ - b.v_; }

  // RFC 1982 §3.2: a < b iff the forward distance from a to b is in (0, 2^31).
  // At distance exactly 2^31 neither is less. There is deliberately no <=>.
  friend constexpr bool operator<(Seq a, Seq b) {
    const std::uint32_t d = b.v_ - a.v_;
    return d != 0 && d < 0x8000'0000u;
  }
  friend constexpr bool operator>(Seq a, Seq b) { return b < a; }
  friend constexpr bool operator<=(Seq a, Seq b) { return a == b || a < b; }
  friend constexpr bool operator>=(Seq a, Seq b) { return a == b || b < a; }
  friend constexpr bool operator==(Seq, Seq) = default;

  friend std::ostream& operator<<(std::ostream& os, Seq s) { return os << s.v_; }

 private:
  std::uint32_t v_ = 0;
};

// max/min in serial order, for values known to be within 2^31 of each other.
constexpr Seq seq_max(Seq a, Seq b) { return a < b ? b : a; }
constexpr Seq seq_min(Seq a, Seq b) { return a < b ? a : b; }

}  // namespace utcp

template <>
struct std::hash<utcp::Seq> {
  std::size_t operator()(utcp::Seq s) const noexcept { return std::hash<std::uint32_t>{}(s.value()); }
};
