// SYN cookies with timestamps (RFC 4987 §3.6, RFC 7323; as Linux): the peer's window shift,
// SACK-permitted and MSS index in the low 8 bits of the SYN-ACK's TSval, a 32-bit hash in the
// ISN that covers them.
#include <gtest/gtest.h>

#include <chrono>

#include "core/syncookie.hpp"

namespace utcp::detail {
namespace {

using namespace std::chrono_literals;

const std::array<std::uint8_t, 16> kKey{9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 2, 3, 4, 5, 6};
const Flow kFlow(Endpoint{IpAddr::v4(10, 0, 0, 1), 80}, Endpoint{IpAddr::v4(10, 0, 0, 2), 40000});
const Seq kPeerIsn{123456};
const Instant t0{std::chrono::hours(5)};

TEST(CoreSynCookieTs, OptionsRoundTripThroughTheEcho) {
  for (std::uint16_t mss : kCookieMss) {
    for (int ws = -1; ws <= 14; ++ws) {
      for (bool sack : {false, true}) {
        CookieOptions o{mss, ws < 0 ? std::nullopt : std::optional<std::uint8_t>(ws), sack};
        const TsCookie c = make_ts_cookie(kKey, kFlow, kPeerIsn, o, 0x12345678, t0);
        EXPECT_EQ(check_ts_cookie(kKey, kFlow, kPeerIsn, c.isn, c.tsval, t0 + 1s), std::optional(o));
      }
    }
  }
}

TEST(CoreSynCookieTs, MssIsRoundedDownAndShiftClamped) {
  const TsCookie c = make_ts_cookie(kKey, kFlow, kPeerIsn, CookieOptions{1459, 15, true}, 1000, t0);
  const auto o = check_ts_cookie(kKey, kFlow, kPeerIsn, c.isn, c.tsval, t0);
  ASSERT_TRUE(o.has_value());
  EXPECT_EQ(o->mss, 1452);
  EXPECT_EQ(o->wscale, std::optional<std::uint8_t>(14));
}

TEST(CoreSynCookieTs, TsvalIsTheClockWithItsLowBitsReplacedNeverAhead) {
  const CookieOptions o{1460, 7, true};
  for (std::uint32_t clock : {0x1000u, 0x10ffu, 0x1080u, 0x0u, 0xffff'ff10u}) {
    const TsCookie c = make_ts_cookie(kKey, kFlow, kPeerIsn, o, clock, t0);
    EXPECT_FALSE(static_cast<std::int32_t>(c.tsval - clock) > 0) << clock;
    EXPECT_LT(clock - c.tsval, 0x200u) << clock;
  }
}

TEST(CoreSynCookieTs, AForgedEchoOrAnotherInputFails) {
  const CookieOptions o{1460, 7, true};
  const TsCookie c = make_ts_cookie(kKey, kFlow, kPeerIsn, o, 0xabcdef00, t0);
  EXPECT_FALSE(check_ts_cookie(kKey, kFlow, kPeerIsn, c.isn, c.tsval ^ 0x10, t0)) << "SACK bit flipped";
  EXPECT_FALSE(check_ts_cookie(kKey, kFlow, kPeerIsn, c.isn, c.tsval + 1, t0)) << "shift changed";
  EXPECT_FALSE(check_ts_cookie(kKey, kFlow, kPeerIsn + 1, c.isn, c.tsval, t0));
  EXPECT_FALSE(check_ts_cookie(kKey, kFlow, kPeerIsn, c.isn + 1, c.tsval, t0));
  const Flow other(Endpoint{IpAddr::v4(10, 0, 0, 1), 80}, Endpoint{IpAddr::v4(10, 0, 0, 2), 40001});
  EXPECT_FALSE(check_ts_cookie(kKey, other, kPeerIsn, c.isn, c.tsval, t0));
  auto key = kKey;
  key[3] ^= 1;
  EXPECT_FALSE(check_ts_cookie(key, kFlow, kPeerIsn, c.isn, c.tsval, t0));
  EXPECT_TRUE(check_ts_cookie(kKey, kFlow, kPeerIsn, c.isn, c.tsval + 0x100, t0))
      << "only the low 8 bits are the cookie's; the clock bits are the peer's echo";
}

TEST(CoreSynCookieTs, LivesTwoCounterStepsAndIsNotAnIsnFormatCookie) {
  const CookieOptions o{1460, std::nullopt, false};
  const TsCookie c = make_ts_cookie(kKey, kFlow, kPeerIsn, o, 77, t0);
  EXPECT_TRUE(check_ts_cookie(kKey, kFlow, kPeerIsn, c.isn, c.tsval, t0 + kCookiePeriod));
  EXPECT_FALSE(check_ts_cookie(kKey, kFlow, kPeerIsn, c.isn, c.tsval, t0 + 2 * kCookiePeriod + 1s));
  EXPECT_FALSE(check_cookie(kKey, kFlow, kPeerIsn, c.isn, t0).has_value())
      << "the two formats hash different inputs: one is not taken for the other";
}

}  // namespace
}  // namespace utcp::detail
