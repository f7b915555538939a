// Time as the core sees it: values passed in by the caller, never read from a clock.
#pragma once

#include <chrono>

namespace utcp {

// The seed's Mtime.t. Only the caller produces Instants; the core compares and adds to them.
using Instant = std::chrono::steady_clock::time_point;
using Duration = std::chrono::nanoseconds;

}  // namespace utcp
