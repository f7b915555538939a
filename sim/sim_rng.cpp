#include "sim_rng.hpp"

namespace utcp::sim {
namespace {
__extension__ typedef unsigned __int128 u128;  // g++ and clang both have it
}  // namespace

bool Rng::chance(double p) {
  const double u = uniform();
  return u < p;
}

std::uint64_t Rng::below(std::uint64_t n) {
  u128 m = static_cast<u128>(next()) * n;
  auto low = static_cast<std::uint64_t>(m);
  if (low < n) {
    const std::uint64_t threshold = (0 - n) % n;
    while (low < threshold) {
      m = static_cast<u128>(next()) * n;
      low = static_cast<std::uint64_t>(m);
    }
  }
  return static_cast<std::uint64_t>(m >> 64);
}

std::uint64_t Rng::between(std::uint64_t lo, std::uint64_t hi) {
  if (hi - lo == ~std::uint64_t{0}) return next();
  return lo + below(hi - lo + 1);
}

}  // namespace utcp::sim
