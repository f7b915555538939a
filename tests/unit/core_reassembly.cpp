// Reassembly of out-of-order data: overlaps, FIN handling, bounds, and a seeded model test.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "core/reassembly.hpp"

namespace utcp::detail {
namespace {

using Insert = Reassembly::Insert;
using Ready = Reassembly::Ready;
using Ranges = std::vector<std::pair<std::uint64_t, std::uint64_t>>;

// The lowest n held ranges in offset order, gathered through for_each_range_down (the walk the
// SACK sender uses).
Ranges held(const Reassembly& r, std::size_t n) {
  Ranges all;
  r.for_each_range_down([&](std::uint64_t begin, std::uint64_t end) {
    all.emplace_back(begin, end);
    return true;
  });
  std::reverse(all.begin(), all.end());
  if (all.size() > n) all.resize(n);
  return all;
}

constexpr std::uint32_t kWindow = 65'535;
constexpr std::uint32_t kManyRanges = 1'000;

std::string drain(ByteQueue& q) {
  std::vector<Payload> out;
  q.take_all(out);
  std::string all;
  for (const Payload& p : out) p.append_to(all);
  return all;
}

Payload pl(std::string_view s) {
  return Payload(s);
}

TEST(CoreReassembly, InOrderSegmentIsDeliveredAtOnce) {
  Reassembly r;
  ByteQueue q;
  EXPECT_EQ(r.insert(100, kWindow, 100, pl("hello"), false, kManyRanges), Insert::stored);
  EXPECT_EQ(r.take(100, q), (Ready{5, false}));
  EXPECT_EQ(drain(q), "hello");
  EXPECT_TRUE(r.empty());
  EXPECT_EQ(r.bytes(), 0u);
  EXPECT_EQ(r.ranges(), 0u);
}

TEST(CoreReassembly, AViewIsCopiedWhenHeld) {
  // Out-of-order bytes decoded as a view of the caller's buffer outlive that buffer.
  Reassembly r;
  ByteQueue q;
  std::string wire = "later";
  EXPECT_EQ(r.insert(0, kWindow, 5, Payload::view(std::as_bytes(std::span(wire.data(), wire.size()))), false,
                     kManyRanges),
            Insert::stored);
  wire = "#####";
  EXPECT_EQ(r.insert(0, kWindow, 0, pl("first"), false, kManyRanges), Insert::stored);
  EXPECT_EQ(r.take(0, q), (Ready{10, false}));
  EXPECT_EQ(drain(q), "firstlater");
}

TEST(CoreReassembly, GapFilledLater) {
  Reassembly r;
  ByteQueue q;
  EXPECT_EQ(r.insert(0, kWindow, 5, pl("fghij"), false, kManyRanges), Insert::stored);
  EXPECT_EQ(r.insert(0, kWindow, 15, pl("pq"), false, kManyRanges), Insert::stored);
  EXPECT_EQ(r.ranges(), 2u);
  EXPECT_EQ(r.bytes(), 7u);
  EXPECT_EQ(held(r, 10), (Ranges{{5, 10}, {15, 17}}));
  EXPECT_EQ(held(r, 1), (Ranges{{5, 10}}));
  // The same ranges walked in place, highest first, and found by an offset inside them.
  Ranges down;
  r.for_each_range_down([&](std::uint64_t b, std::uint64_t e) {
    down.emplace_back(b, e);
    return true;
  });
  EXPECT_EQ(down, (Ranges{{15, 17}, {5, 10}}));
  down.clear();
  r.for_each_range_down([&](std::uint64_t b, std::uint64_t e) {
    down.emplace_back(b, e);
    return false;  // stops after the first
  });
  EXPECT_EQ(down, (Ranges{{15, 17}}));
  EXPECT_EQ(r.range_at(7), (std::pair<std::uint64_t, std::uint64_t>{5, 10}));
  EXPECT_EQ(r.range_at(16), (std::pair<std::uint64_t, std::uint64_t>{15, 17}));
  EXPECT_FALSE(r.range_at(10));
  EXPECT_FALSE(r.range_at(4));
  EXPECT_FALSE(r.range_at(17));
  EXPECT_EQ(r.take(0, q), (Ready{0, false}));
  EXPECT_EQ(r.insert(0, kWindow, 0, pl("abcde"), false, kManyRanges), Insert::stored);
  EXPECT_EQ(r.ranges(), 2u);  // [0,10) and [15,17)
  EXPECT_EQ(r.take(0, q), (Ready{10, false}));
  EXPECT_EQ(drain(q), "abcdefghij");
  EXPECT_EQ(r.ranges(), 1u);
  EXPECT_EQ(r.insert(10, kWindow, 10, pl("klmno"), false, kManyRanges), Insert::stored);
  EXPECT_EQ(r.take(10, q), (Ready{7, false}));
  EXPECT_EQ(drain(q), "klmnopq");
  EXPECT_TRUE(r.empty());
}

TEST(CoreReassembly, HeldBytesWinOverlaps) {
  Reassembly r;
  ByteQueue q;
  EXPECT_EQ(r.insert(0, kWindow, 10, pl("AAAA"), false, kManyRanges), Insert::stored);
  EXPECT_EQ(r.insert(0, kWindow, 8, pl("bbbbbbbbbb"), false, kManyRanges), Insert::stored);  // 8..18
  EXPECT_EQ(r.bytes(), 10u);
  EXPECT_EQ(r.ranges(), 1u);
  EXPECT_EQ(r.insert(0, kWindow, 9, pl("ccc"), false, kManyRanges), Insert::duplicate);
  EXPECT_EQ(r.insert(0, kWindow, 0, pl("dddddddd"), false, kManyRanges), Insert::stored);
  EXPECT_EQ(r.take(0, q), (Ready{18, false}));
  EXPECT_EQ(drain(q), "ddddddddbbAAAAbbbb");
}

TEST(CoreReassembly, BridgingSegmentMergesRanges) {
  Reassembly r;
  for (std::uint64_t off = 10; off < 100; off += 10) {
    ASSERT_EQ(r.insert(0, kWindow, off, pl("xxxxx"), false, kManyRanges), Insert::stored);
  }
  EXPECT_EQ(r.ranges(), 9u);
  EXPECT_EQ(r.insert(0, kWindow, 12, pl(std::string(80, 'y')), false, kManyRanges), Insert::stored);
  EXPECT_EQ(r.ranges(), 1u);
  EXPECT_EQ(held(r, 5), (Ranges{{10, 95}}));
  EXPECT_EQ(r.range_at(10), (std::pair<std::uint64_t, std::uint64_t>{10, 95}));  // across the pieces
  EXPECT_EQ(r.range_at(94), (std::pair<std::uint64_t, std::uint64_t>{10, 95}));
  Ranges down;
  r.for_each_range_down([&](std::uint64_t b, std::uint64_t e) {
    down.emplace_back(b, e);
    return true;
  });
  EXPECT_EQ(down, (Ranges{{10, 95}}));
  EXPECT_EQ(r.bytes(), 85u);
}

TEST(CoreReassembly, WindowAndStaleDataAreClipped) {
  Reassembly r;
  ByteQueue q;
  // Below rcv_off: already received, dropped.
  EXPECT_EQ(r.insert(100, 10, 90, pl("0123456789"), false, kManyRanges), Insert::duplicate);
  // Straddling rcv_off and the window's right edge: only [100, 110) kept.
  EXPECT_EQ(r.insert(100, 10, 95, pl("abcdefghijklmnopqrst"), false, kManyRanges), Insert::stored);
  EXPECT_EQ(r.take(100, q), (Ready{10, false}));
  EXPECT_EQ(drain(q), "fghijklmno");
  // Entirely beyond the window.
  EXPECT_EQ(r.insert(110, 10, 120, pl("zz"), false, kManyRanges), Insert::duplicate);
  // Zero window: nothing fits.
  EXPECT_EQ(r.insert(110, 0, 110, pl("zz"), false, kManyRanges), Insert::duplicate);
  EXPECT_TRUE(r.empty());
}

TEST(CoreReassembly, TakeDropsBytesTheReceiverPassedAlready) {
  Reassembly r;
  ByteQueue q;
  ASSERT_EQ(r.insert(0, kWindow, 10, pl("abcdefghij"), false, kManyRanges), Insert::stored);
  ASSERT_EQ(r.insert(0, kWindow, 30, pl("zz"), false, kManyRanges), Insert::stored);
  EXPECT_EQ(r.take(15, q), (Ready{5, false}));
  EXPECT_EQ(drain(q), "fghij");
  EXPECT_EQ(r.bytes(), 2u);
  EXPECT_EQ(r.ranges(), 1u);
}

TEST(CoreReassembly, OutOfOrderFinIsHonouredWhenItsTurnComes) {
  Reassembly r;
  ByteQueue q;
  EXPECT_EQ(r.insert(0, kWindow, 5, pl("fgh"), true, kManyRanges), Insert::stored);
  EXPECT_EQ(r.fin_offset(), 8u);
  EXPECT_EQ(r.take(0, q), (Ready{0, false}));
  EXPECT_EQ(r.insert(0, kWindow, 0, pl("abc"), false, kManyRanges), Insert::stored);
  EXPECT_EQ(r.take(0, q), (Ready{3, false}));
  EXPECT_EQ(r.insert(3, kWindow, 3, pl("de"), false, kManyRanges), Insert::stored);
  EXPECT_EQ(r.take(3, q), (Ready{5, true}));
  EXPECT_EQ(drain(q), "abcdefgh");
}

TEST(CoreReassembly, BareFinAtRcvOffAndDuplicateFin) {
  Reassembly r;
  ByteQueue q;
  EXPECT_EQ(r.insert(7, kWindow, 7, Payload(), true, kManyRanges), Insert::stored);
  EXPECT_EQ(r.insert(7, kWindow, 7, Payload(), true, kManyRanges), Insert::duplicate);
  EXPECT_EQ(r.take(7, q), (Ready{0, true}));
}

TEST(CoreReassembly, DataBeyondAKnownFinIsIgnored) {
  Reassembly r;
  ByteQueue q;
  EXPECT_EQ(r.insert(0, kWindow, 4, pl("ef"), true, kManyRanges), Insert::stored);  // FIN at 6
  EXPECT_EQ(r.insert(0, kWindow, 6, pl("XYZ"), false, kManyRanges), Insert::duplicate);
  EXPECT_EQ(r.insert(0, kWindow, 2, pl("cdefgh"), true, kManyRanges), Insert::stored);  // keeps [2,4)
  EXPECT_EQ(r.fin_offset(), 6u);                                                        // the first FIN stays
  EXPECT_EQ(r.bytes(), 4u);
  EXPECT_EQ(r.insert(0, kWindow, 0, pl("ab"), false, kManyRanges), Insert::stored);
  EXPECT_EQ(r.take(0, q), (Ready{6, true}));
  EXPECT_EQ(drain(q), "abcdef");
}

TEST(CoreReassembly, FinOutsideTheWindowOrBeforeHeldDataIsNotRemembered) {
  Reassembly r;
  EXPECT_EQ(r.insert(0, 1000, 998, pl("abcd"), true, kManyRanges), Insert::stored);  // FIN at 1002 > 1000
  EXPECT_EQ(r.fin_offset(), std::nullopt);
  EXPECT_EQ(r.bytes(), 2u);
  EXPECT_EQ(r.insert(0, 1000, 2, pl("xy"), true, kManyRanges), Insert::stored);  // FIN at 4: 998.. held
  EXPECT_EQ(r.fin_offset(), std::nullopt);
  EXPECT_EQ(r.bytes(), 4u);
  EXPECT_EQ(r.insert(0, 1000, 998, pl("ab"), true, kManyRanges), Insert::stored);  // FIN at the right edge
  EXPECT_EQ(r.fin_offset(), 1000u);
  EXPECT_EQ(r.bytes(), 4u);
}

TEST(CoreReassembly, RangeLimitAndPerRangeOverhead) {
  Reassembly r;
  for (std::uint64_t i = 0; i < 4; ++i) {
    ASSERT_EQ(r.insert(0, kWindow, 10 + 10 * i, pl("x"), false, 4), Insert::stored);
  }
  EXPECT_EQ(r.insert(0, kWindow, 100, pl("x"), false, 4), Insert::over_limit);
  EXPECT_EQ(r.insert(0, kWindow, 11, pl("x"), false, 4), Insert::stored);  // extends a range
  EXPECT_EQ(r.insert(0, kWindow, 12, pl("x"), false, 4), Insert::stored);
  EXPECT_EQ(r.ranges(), 4u);

  // Overhead: 2 held bytes + 2 ranges * 64 = 130 fits a 130-byte window; a third range doesn't.
  Reassembly s;
  ASSERT_EQ(s.insert(0, 130, 10, pl("a"), false, kManyRanges), Insert::stored);
  ASSERT_EQ(s.insert(0, 130, 20, pl("b"), false, kManyRanges), Insert::stored);
  EXPECT_EQ(s.insert(0, 130, 30, pl("c"), false, kManyRanges), Insert::over_limit);
  EXPECT_EQ(s.bytes(), 2u);
  // In-order data is never refused: it leaves with the next take.
  ByteQueue q;
  EXPECT_EQ(s.insert(0, 130, 0, pl(std::string(100, 'z')), false, 0), Insert::stored);
  EXPECT_EQ(s.take(0, q).bytes, 100u);
}

TEST(CoreReassembly, TinyOutOfOrderSegmentsStayBounded) {
  // 100,000 one-byte segments at random out-of-order positions of a 64 KiB window.
  std::mt19937_64 rng(7);
  Reassembly r;
  std::size_t stored = 0, refused = 0;
  for (int i = 0; i < 100'000; ++i) {
    const std::uint64_t off = 1 + rng() % (kWindow - 1);
    const char c = static_cast<char>('a' + off % 26);
    switch (r.insert(0, kWindow, off, Payload(std::string_view(&c, 1)), false, 64)) {
      case Insert::stored:
        ++stored;
        break;
      case Insert::over_limit:
        ++refused;
        break;
      case Insert::duplicate:
        break;
    }
    ASSERT_LE(r.ranges(), 64u);
    ASSERT_LE(r.bytes() + r.ranges() * Reassembly::kRangeOverhead, kWindow);
  }
  EXPECT_GT(stored, 0u);
  EXPECT_GT(refused, 0u);
  // What is held is still right: deliver it by filling the gaps in order.
  ByteQueue q;
  std::string all(kWindow, '\0');
  for (std::uint64_t off = 0; off < kWindow; ++off) all[off] = static_cast<char>('a' + off % 26);
  std::uint64_t rcv = 0;
  while (rcv < kWindow) {
    const std::uint64_t n = std::min<std::uint64_t>(100, kWindow - rcv);
    r.insert(rcv, static_cast<std::uint32_t>(kWindow - rcv), rcv,
             Payload(std::string_view(all).substr(rcv, n)), false, 64);
    rcv += r.take(rcv, q).bytes;
  }
  EXPECT_EQ(drain(q), all);
}

TEST(CoreReassembly, AdjacentTinyPiecesAreCoalesced) {
  // Byte-by-byte backwards into one range: pieces are merged, so memory does not grow with a
  // map node per byte.
  Reassembly r;
  for (std::uint64_t off = 5000; off > 1; --off) {
    const char c = static_cast<char>('a' + off % 26);
    ASSERT_EQ(r.insert(0, kWindow, off, Payload(std::string_view(&c, 1)), false, 4), Insert::stored);
  }
  EXPECT_EQ(r.ranges(), 1u);
  EXPECT_EQ(r.bytes(), 4999u);
  ByteQueue q;
  ASSERT_EQ(r.insert(0, kWindow, 0, pl("ab"), false, 4), Insert::stored);
  EXPECT_EQ(r.take(0, q).bytes, 5001u);
  // The ByteQueue got one piece per held piece: far fewer than 5000.
  EXPECT_LT(q.pieces(), 40u);
}

// The model: a stream cut into random, overlapping segments, delivered in random order with
// duplicates and stale retransmissions; the receiver always reassembles the original.
void reassemble_random(std::uint32_t seed, std::uint32_t max_ranges) {
  std::mt19937_64 rng(seed);
  auto rnd = [&](std::uint64_t n) { return std::uniform_int_distribution<std::uint64_t>(0, n - 1)(rng); };
  const std::size_t total = 200'000;
  std::string stream(total, '\0');
  for (char& c : stream) c = static_cast<char>(rnd(256));
  const bool with_fin = seed % 2 == 0;

  Reassembly r;
  ByteQueue q;
  std::uint64_t rcv = 0;
  bool fin_seen = false;
  std::string got;
  for (int round = 0; round < 1'000'000 && !(rcv == total && (fin_seen || !with_fin)); ++round) {
    // Segments mostly near rcv_off, some beyond the window, some stale.
    std::uint64_t off = rcv + rnd(80'000);
    if (rnd(10) == 0) off = rcv > 3000 ? rcv - rnd(3000) : 0;
    if (off >= total) off = total - 1 - rnd(std::min<std::uint64_t>(total, 2000));
    const std::uint64_t len = std::min<std::uint64_t>(1 + rnd(rnd(4) == 0 ? 20 : 2000), total - off);
    const bool fin = with_fin && off + len == total;
    const std::uint32_t window =
        65'535 - static_cast<std::uint32_t>(std::min<std::uint64_t>(q.size(), 65'535));
    r.insert(rcv, window, off, Payload(std::string_view(stream).substr(off, len)), fin, max_ranges);
    const Ready ready = r.take(rcv, q);
    rcv += ready.bytes;
    fin_seen = fin_seen || ready.fin;
    ASSERT_LE(r.ranges(), max_ranges + 1);
    if (q.size() > 30'000 || rnd(5) == 0) got += drain(q);  // the application reads
  }
  got += drain(q);
  ASSERT_EQ(rcv, total);
  ASSERT_EQ(got.size(), total);
  ASSERT_TRUE(got == stream);
  EXPECT_EQ(fin_seen, with_fin);
  EXPECT_TRUE(r.empty());
}

TEST(CoreReassembly, RandomSegmentsReassembleToTheOriginal) {
  for (std::uint32_t seed = 1; seed <= 6; ++seed) {
    SCOPED_TRACE(seed);
    reassemble_random(seed, seed <= 3 ? 64 : 4);
  }
}

TEST(CoreReassembly, EmptyIsSmallAndCopiesAreIndependent) {
  EXPECT_LE(sizeof(Reassembly), 40u);  // an idle connection holds no map
  Reassembly a;
  ASSERT_EQ(a.insert(0, kWindow, 10, pl("abc"), false, kManyRanges), Insert::stored);
  Reassembly b = a;
  ASSERT_EQ(b.insert(0, kWindow, 0, pl("0123456789"), false, kManyRanges), Insert::stored);
  ByteQueue qa, qb;
  EXPECT_EQ(b.take(0, qb).bytes, 13u);
  EXPECT_TRUE(b.empty());
  EXPECT_EQ(a.take(0, qa).bytes, 0u);
  EXPECT_EQ(held(a, 4), (Ranges{{10, 13}}));
  a = b;
  EXPECT_TRUE(a.empty());
  Reassembly c = std::move(b);
  EXPECT_TRUE(c.empty());
}

TEST(CoreReassembly, ClearForgetsEverything) {
  Reassembly r;
  r.insert(0, kWindow, 5, pl("abc"), true, kManyRanges);
  r.clear();
  EXPECT_TRUE(r.empty());
  EXPECT_EQ(r.fin_offset(), std::nullopt);
  EXPECT_EQ(r.bytes(), 0u);
  EXPECT_EQ(r.ranges(), 0u);
}

}  // namespace
}  // namespace utcp::detail
