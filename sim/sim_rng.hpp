// The simulator's random numbers: xoshiro256** seeded through SplitMix64. Every source of
// chance in a simulation (each link's impairments, the property tests' choices) owns one
// generator derived from the run's seed, so a run is a function of its seed alone.
#pragma once

#include <cstddef>
#include <cstdint>

namespace utcp::sim {

// SplitMix64 (Steele, Lea, Flood 2014): a good 64-bit mixer, used to seed and to derive.
constexpr std::uint64_t splitmix64(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// A stateless mix of two words, for deriving independent seeds and content bytes.
constexpr std::uint64_t mix(std::uint64_t a, std::uint64_t b) {
  std::uint64_t s = a ^ (b * 0xd1b54a32d192ed03ull);
  return splitmix64(s);
}

// xoshiro256** 1.0 (Blackman, Vigna 2018).
class Rng {
 public:
  explicit Rng(std::uint64_t seed);

  std::uint64_t next();
  // Uniform in [0, 1) with 53 bits.
  double uniform();
  // True with probability p (p <= 0: never, p >= 1: always; one draw either way).
  bool chance(double p);
  // Uniform in [0, n); n > 0. Lemire's multiply-shift with rejection: unbiased.
  std::uint64_t below(std::uint64_t n);
  // Uniform in [lo, hi]; lo <= hi.
  std::uint64_t between(std::uint64_t lo, std::uint64_t hi);
  // A child generator whose stream does not overlap this one in practice.
  Rng derive(std::uint64_t stream) { return Rng(mix(next(), stream)); }

 private:
  std::uint64_t s_[4];
};

}  // namespace utcp::sim
