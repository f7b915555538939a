// The real clock the host layer is fed with: CLOCK_MONOTONIC in nanoseconds.
#pragma once

#include <cstdint>

namespace utcp::io {

std::uint64_t monotonic_ns();

}  // namespace utcp::io
