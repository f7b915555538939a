// Random transfer setups for the property tests, and how to describe and reproduce one.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>

#include "sim.hpp"

namespace utcp::sim::test {

// UTCP_SOAK=1: many more seeds and bigger transfers (`make soak`).
bool soak();
// An environment variable as a number, if set.
std::optional<std::uint64_t> env_number(const char* name);

// Everything about a run drawn from `seed`: sizes in both directions, each side's MSS,
// buffers, window scaling and Nagle, IPv4 or IPv6, each link's delay, rate, queue and
// impairments. `max_bytes` bounds each direction.
TransferSpec random_spec(std::uint64_t seed, std::uint64_t max_bytes);
// One line per side and per link.
std::string describe(const TransferSpec& spec);
// This test program's path (for reproduction lines).
std::string self_path();

}  // namespace utcp::sim::test
