// Deterministic random numbers, written once: SplitMix64 (Steele, Lea, Flood 2014) and
// xoshiro256** (Blackman and Vigna, 2018) seeded through it as its authors recommend. The core
// draws no OS entropy: its seed comes from Config, so the same inputs give the same ephemeral
// ports bit for bit. The simulator (sim/sim_rng) and the host (its seeds) use the same two.
#pragma once

#include <array>
#include <bit>
#include <cstdint>

namespace utcp::detail {

// SplitMix64: advances `state` and returns the next well-mixed word; used to seed and derive.
constexpr std::uint64_t splitmix64(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// xoshiro256** 1.0.
class Rng {
 public:
  explicit constexpr Rng(std::uint64_t seed = 0) {
    // SplitMix64 fills the state so that similar seeds give unrelated streams and the state
    // is never all zero (xoshiro's one fixed point).
    for (auto& word : s_) word = splitmix64(seed);
  }

  constexpr std::uint64_t next() {
    const std::uint64_t result = std::rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = std::rotl(s_[3], 45);
    return result;
  }

  // Uniform in [0, bound) without modulo bias (Lemire, "Fast Random Integer Generation in an
  // Interval", 2019). bound == 0 returns 0.
  constexpr std::uint32_t uniform(std::uint32_t bound) {
    if (bound == 0) return 0;
    std::uint64_t m = std::uint64_t{next32()} * bound;
    auto low = static_cast<std::uint32_t>(m);
    if (low < bound) {
      const std::uint32_t threshold = static_cast<std::uint32_t>(-bound) % bound;  // 2^32 mod bound
      while (low < threshold) {
        m = std::uint64_t{next32()} * bound;
        low = static_cast<std::uint32_t>(m);
      }
    }
    return static_cast<std::uint32_t>(m >> 32);
  }

  // Uniform in [0, 1): the top 53 bits as a double's mantissa.
  constexpr double unit() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

  friend constexpr bool operator==(const Rng&, const Rng&) = default;

 private:
  constexpr std::uint32_t next32() { return static_cast<std::uint32_t>(next() >> 32); }

  std::array<std::uint64_t, 4> s_{};
};

}  // namespace utcp::detail
