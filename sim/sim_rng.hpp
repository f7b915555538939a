// The simulator's random numbers: xoshiro256** seeded through SplitMix64. Every source of
// chance in a simulation (each link's impairments, the property tests' choices) owns one
// generator derived from the run's seed, so a run is a function of its seed alone.
#pragma once

#include <cstddef>
#include <cstdint>

#include "utcp/detail/rng.hpp"

namespace utcp::sim {

// SplitMix64 and xoshiro256** are the core's (utcp/detail/rng.hpp); this adds what the
// simulator draws: 64-bit bounds, probabilities, derived streams.
using detail::splitmix64;

// A stateless mix of two words, for deriving independent seeds and content bytes.
constexpr std::uint64_t mix(std::uint64_t a, std::uint64_t b) {
  std::uint64_t s = a ^ (b * 0xd1b54a32d192ed03ull);
  return splitmix64(s);
}

class Rng {
 public:
  explicit Rng(std::uint64_t seed) : g_(seed) {}

  std::uint64_t next() { return g_.next(); }
  // Uniform in [0, 1) with 53 bits.
  double uniform() { return g_.unit(); }
  // True with probability p (p <= 0: never, p >= 1: always; one draw either way).
  bool chance(double p);
  // Uniform in [0, n); n > 0. Lemire's multiply-shift with rejection: unbiased.
  std::uint64_t below(std::uint64_t n);
  // Uniform in [lo, hi]; lo <= hi.
  std::uint64_t between(std::uint64_t lo, std::uint64_t hi);
  // A child generator whose stream does not overlap this one in practice.
  Rng derive(std::uint64_t stream) { return Rng(mix(next(), stream)); }

 private:
  detail::Rng g_;
};

}  // namespace utcp::sim
