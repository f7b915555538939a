// TCP timestamps (RFC 7323).
#include "core/timestamps.hpp"

#include "core/siphash.hpp"

namespace utcp::detail {

namespace {
// Distinguishes this hash of the 4-tuple from the ISN's (which hashes the 4-tuple alone).
constexpr std::uint32_t kTsLabel = 0x54537631;  // "TSv1"
}  // namespace

std::uint32_t ts_offset(const std::array<std::uint8_t, 16>& isn_secret, const Flow& flow) {
  return keyed_hash32(isn_secret, flow, kTsLabel);
}

std::optional<Duration> ts_rtt(Instant now, std::uint32_t offset, std::uint32_t tsecr) {
  const std::uint32_t elapsed = tsval(now, offset) - tsecr;
  if (elapsed >= 0x8000'0000u) return std::nullopt;
  return elapsed * kTsTick;
}

}  // namespace utcp::detail
