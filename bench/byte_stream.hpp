// The byte stream of the bulk benchmarks, the same for utcp (bench_e2e), lwIP
// (lwip/lwip_bulk.cpp) and Linux (linux/loopback_bulk.cpp), so that each checks what it
// received against the same bytes: a pseudo-random pattern (xorshift32) of odd period,
// stored twice so that any chunk of up to kStreamPeriod bytes is one contiguous view.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

inline constexpr std::size_t kStreamPeriod = (1u << 20) + 4099;

inline std::string make_byte_stream() {
  std::string p(2 * kStreamPeriod, '\0');
  std::uint32_t x = 88172645u;
  for (std::size_t i = 0; i < kStreamPeriod; ++i) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    p[i] = p[i + kStreamPeriod] = static_cast<char>(x);
  }
  return p;
}
