// Seq: RFC 1982 serial arithmetic over 32 bits.
#include <gtest/gtest.h>

#include <unordered_set>

#include "utcp/seq.hpp"

namespace utcp {
namespace {

TEST(WireSeq, DefaultIsZeroAndValueRoundTrips) {
  EXPECT_EQ(Seq{}.value(), 0u);
  EXPECT_EQ(Seq(0xdeadbeef).value(), 0xdeadbeefu);
}

TEST(WireSeq, AdditionWrapsAt32Bits) {
  EXPECT_EQ(Seq(0xffff'fff0) + 0x20u, Seq(0x10));
  EXPECT_EQ(Seq(0x10) - 0x20u, Seq(0xffff'fff0));
  Seq s(0xffff'ffff);
  s += 1;
  EXPECT_EQ(s, Seq(0));
}

TEST(WireSeq, DistanceIsModulo32Bits) {
  EXPECT_EQ(Seq(0x10) - Seq(0xffff'fff0), 0x20u);
  EXPECT_EQ(Seq(0xffff'fff0) - Seq(0x10), 0xffff'ffe0u);
  EXPECT_EQ(Seq(5) - Seq(5), 0u);
}

TEST(WireSeq, OrderAcrossTheWrap) {
  const Seq before(0xffff'fff0), after(0x10);
  EXPECT_TRUE(before < after);
  EXPECT_TRUE(before <= after);
  EXPECT_TRUE(after > before);
  EXPECT_TRUE(after >= before);
  EXPECT_FALSE(after < before);
  EXPECT_FALSE(before > after);
  EXPECT_EQ(seq_max(before, after), after);
  EXPECT_EQ(seq_min(before, after), before);
}

TEST(WireSeq, EqualIsNeitherLess) {
  const Seq a(1234);
  EXPECT_FALSE(a < a);
  EXPECT_FALSE(a > a);
  EXPECT_TRUE(a <= a);
  EXPECT_TRUE(a >= a);
}

TEST(WireSeq, AtDistanceExactlyTwoToThe31NeitherIsLess) {
  for (std::uint32_t base : {0u, 1u, 0x7fff'ffffu, 0x8000'0000u, 0xffff'ffffu, 0x1234'5678u}) {
    const Seq a(base), b = Seq(base) + 0x8000'0000u;
    EXPECT_FALSE(a < b) << base;
    EXPECT_FALSE(b < a) << base;
    EXPECT_FALSE(a > b) << base;
    EXPECT_FALSE(b > a) << base;
    EXPECT_FALSE(a <= b) << base;
    EXPECT_FALSE(a >= b) << base;
    EXPECT_NE(a, b);
  }
}

TEST(WireSeq, JustInsideHalfTheSpaceIsOrdered) {
  const Seq a(0xffff'ff00);
  EXPECT_TRUE(a < a + 0x7fff'ffffu);
  EXPECT_TRUE(a > a + 0x8000'0001u);  // that one is behind, by 2^31 - 1
}

TEST(WireSeq, HashesByValue) {
  std::unordered_set<Seq> set{Seq(1), Seq(2), Seq(1)};
  EXPECT_EQ(set.size(), 2u);
  EXPECT_EQ(std::hash<Seq>{}(Seq(7)), std::hash<Seq>{}(Seq(7)));
}

}  // namespace
}  // namespace utcp
