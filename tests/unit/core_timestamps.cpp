// TCP timestamps (RFC 7323): the clock and its per-connection offset, serial comparison and
// RTT from an echo.
#include <gtest/gtest.h>

#include <chrono>

#include "core/timestamps.hpp"

namespace utcp::detail {
namespace {

using namespace std::chrono_literals;

Flow flow(std::uint16_t remote_port) {
  return Flow(Endpoint{IpAddr::v4(10, 0, 0, 1), 80}, Endpoint{IpAddr::v4(10, 0, 0, 2), remote_port});
}

const std::array<std::uint8_t, 16> kSecret{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

TEST(CoreTimestamps, ClockTicksInMilliseconds) {
  const Instant t{std::chrono::seconds(7)};
  EXPECT_EQ(ts_ticks(t), 7000u);
  EXPECT_EQ(ts_ticks(t + 999us), 7000u);
  EXPECT_EQ(ts_ticks(t + 1ms), 7001u);
  EXPECT_EQ(tsval(t + 5ms, 100), 7105u);
}

TEST(CoreTimestamps, OffsetIsPerFourTupleAndSecret) {
  const std::uint32_t a = ts_offset(kSecret, flow(1000));
  EXPECT_EQ(a, ts_offset(kSecret, flow(1000))) << "deterministic";
  EXPECT_NE(a, ts_offset(kSecret, flow(1001)));
  auto other = kSecret;
  other[0] ^= 1;
  EXPECT_NE(a, ts_offset(other, flow(1000)));
  EXPECT_NE(a, 0u);
}

TEST(CoreTimestamps, SerialComparisonWraps) {
  EXPECT_TRUE(ts_before(1, 2));
  EXPECT_FALSE(ts_before(2, 2));
  EXPECT_TRUE(ts_before(0xffff'fff0u, 5));
  EXPECT_FALSE(ts_before(5, 0xffff'fff0u));
}

TEST(CoreTimestamps, RttFromAnEchoOfOurOwnValue) {
  const Instant t{std::chrono::hours(1)};
  const std::uint32_t off = 0xfffffff0u;  // the sum wraps
  const std::uint32_t sent = tsval(t, off);
  EXPECT_EQ(ts_rtt(t + 25ms, off, sent), std::optional<Duration>(25ms));
  EXPECT_EQ(ts_rtt(t, off, sent), std::optional<Duration>(0ms));
  EXPECT_FALSE(ts_rtt(t, off, sent + 10).has_value()) << "an echo from the future is not ours";
}

}  // namespace
}  // namespace utcp::detail
