// The simulator's parts that do not need a stack: the generator and the link model.
#include <gtest/gtest.h>

#include <chrono>
#include <set>

#include "sim.hpp"

namespace utcp::sim {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;

const Instant t0{};

LinkConfig make(Duration delay, std::uint64_t rate_bps = 0, std::size_t queue_limit = 1000,
                std::uint32_t mtu = 65535) {
  LinkConfig c;
  c.delay = delay;
  c.rate_bps = rate_bps;
  c.queue_limit = queue_limit;
  c.mtu = mtu;
  return c;
}

GilbertElliott ge(double p, double r) {
  GilbertElliott g;
  g.p = p;
  g.r = r;
  return g;
}

TEST(SimRng, SameSeedSameStream) {
  Rng a(42), b(42), c(43);
  bool differs = false;
  for (int i = 0; i < 1000; ++i) {
    const auto x = a.next();
    EXPECT_EQ(x, b.next());
    differs |= x != c.next();
  }
  EXPECT_TRUE(differs);
}

TEST(SimRng, BelowStaysInRangeAndCoversIt) {
  Rng r(7);
  std::set<std::uint64_t> seen;
  for (int i = 0; i < 10000; ++i) {
    const auto x = r.below(10);
    ASSERT_LT(x, 10u);
    seen.insert(x);
  }
  EXPECT_EQ(seen.size(), 10u);
  for (int i = 0; i < 1000; ++i) {
    const auto y = r.between(5, 7);
    ASSERT_GE(y, 5u);
    ASSERT_LE(y, 7u);
  }
}

TEST(SimRng, UniformAndChance) {
  Rng r(9);
  int hits = 0;
  for (int i = 0; i < 100000; ++i) {
    const double u = r.uniform();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    hits += r.chance(0.25);
  }
  EXPECT_NEAR(hits / 100000.0, 0.25, 0.01);
  EXPECT_FALSE(Rng(1).chance(0.0));
  EXPECT_TRUE(Rng(1).chance(1.0));
}

TEST(SimContent, StreamsAreDeterministicAndSliceable) {
  std::string whole, parts;
  append_content(whole, 5, 3, 100);
  append_content(parts, 5, 3, 7);
  append_content(parts, 5, 10, 93);
  EXPECT_EQ(whole, parts);
  for (std::size_t i = 0; i < whole.size(); ++i)
    EXPECT_EQ(static_cast<std::uint8_t>(whole[i]), content_byte(5, 3 + i));
  std::string other;
  append_content(other, 6, 3, 100);
  EXPECT_NE(whole, other);
}

TEST(SimLink, DelayOnly) {
  Link link(make(milliseconds(10)), 1);
  const auto d = link.offer(t0, 100, 80);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].at, t0 + milliseconds(10));
  EXPECT_FALSE(d[0].flip_bit);
  EXPECT_EQ(link.stats().delivered, 1u);
}

TEST(SimLink, SerialisationQueuesBackToBack) {
  // 1000 bytes at 8 Mbit/s: 1 ms each.
  Link link(make(milliseconds(5), 8'000'000, 3), 1);
  for (int i = 0; i < 3; ++i) {
    const auto d = link.offer(t0, 1000, 980);
    ASSERT_EQ(d.size(), 1u);
    EXPECT_EQ(d[0].at, t0 + milliseconds(5 + i + 1));
  }
  EXPECT_TRUE(link.offer(t0, 1000, 980).empty()) << "the fourth overflows a 3-packet queue";
  EXPECT_EQ(link.stats().queue_drops, 1u);
  // After the first has left, there is room for one more, behind the other two.
  const auto d = link.offer(t0 + milliseconds(1), 1000, 980);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].at, t0 + milliseconds(5 + 4));
  // An idle link starts at once.
  const auto e = link.offer(t0 + milliseconds(100), 500, 480);
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].at, t0 + milliseconds(105) + microseconds(500));
}

TEST(SimLink, MeanQueueIsTheTimeWeightedOccupancy) {
  // Three 1 ms datagrams at once: 3, 2 and 1 in the queue for 1 ms each, then none.
  Link link(make(milliseconds(5), 8'000'000, 10), 1);
  EXPECT_EQ(link.mean_queue(t0), 0.0);
  for (int i = 0; i < 3; ++i) link.offer(t0, 1000, 980);
  EXPECT_EQ(link.stats().max_queue, 3u);
  EXPECT_DOUBLE_EQ(link.mean_queue(t0 + milliseconds(2)), 2.5);  // (3 + 2) / 2
  EXPECT_DOUBLE_EQ(link.mean_queue(t0 + milliseconds(4)), 1.5);  // (3 + 2 + 1) / 4
  // One more at 10 ms, alone for its 1 ms: (6 + 1) / 12.
  link.offer(t0 + milliseconds(10), 1000, 980);
  EXPECT_DOUBLE_EQ(link.mean_queue(t0 + milliseconds(12)), 7.0 / 12);
  EXPECT_EQ(link.stats().max_queue, 3u);
}

TEST(SimLink, MtuDrops) {
  Link link(make(milliseconds(10), 0, 1000, 1500), 1);
  EXPECT_EQ(link.offer(t0, 1500, 1480).size(), 1u);
  EXPECT_TRUE(link.offer(t0, 1501, 1481).empty());
  EXPECT_EQ(link.stats().mtu_drops, 1u);
}

TEST(SimLink, ImpairmentRatesAreAsConfigured) {
  LinkConfig cfg;
  cfg.impair.loss = 0.1;
  cfg.impair.duplicate = 0.05;
  cfg.impair.reorder = 0.2;
  cfg.impair.corrupt = 0.03;
  Link link(cfg, 99);
  const int n = 100000;
  int reordered = 0;
  for (int i = 0; i < n; ++i) {
    for (const Delivery& d : link.offer(t0, 100, 80)) {
      reordered += d.at > t0 + cfg.delay;
      if (d.flip_bit) {
        EXPECT_LT(*d.flip_bit, 80u * 8);
      }
    }
  }
  const LinkStats& s = link.stats();
  EXPECT_NEAR(s.lost / double(n), 0.1, 0.01);
  EXPECT_NEAR(s.duplicated / double(n), 0.9 * 0.05, 0.005);
  EXPECT_NEAR(s.reordered / double(n), 0.9 * 0.2, 0.01);
  EXPECT_EQ(static_cast<std::uint64_t>(reordered), s.reordered);
  EXPECT_NEAR(s.corrupted / double(s.delivered), 0.03, 0.005);
  EXPECT_EQ(s.delivered, n - s.lost + s.duplicated);
}

TEST(SimLink, GilbertElliottLosesInBursts) {
  LinkConfig cfg;
  cfg.impair.burst = ge(0.01, 0.25);
  Link link(cfg, 3);
  const int n = 200000;
  int bursts = 0, lost = 0;
  bool prev_lost = false;
  for (int i = 0; i < n; ++i) {
    const bool l = link.offer(t0, 100, 80).empty();
    lost += l;
    bursts += l && !prev_lost;
    prev_lost = l;
  }
  // Stationary loss p / (p + r) = 1/26; mean burst length 1 / r = 4.
  EXPECT_NEAR(lost / double(n), 0.01 / 0.26, 0.006);
  EXPECT_NEAR(lost / double(bursts), 4.0, 0.4);
  EXPECT_EQ(link.stats().burst_lost, static_cast<std::uint64_t>(lost));
}

TEST(SimLink, SameSeedSameFates) {
  LinkConfig cfg;
  cfg.impair.loss = 0.3;
  cfg.impair.duplicate = 0.3;
  cfg.impair.corrupt = 0.3;
  cfg.impair.reorder = 0.3;
  Link a(cfg, 5), b(cfg, 5);
  for (int i = 0; i < 1000; ++i) {
    const auto x = a.offer(t0 + microseconds(i), 200, 180);
    const auto y = b.offer(t0 + microseconds(i), 200, 180);
    ASSERT_EQ(x.size(), y.size());
    for (std::size_t k = 0; k < x.size(); ++k) {
      EXPECT_EQ(x[k].at, y[k].at);
      EXPECT_EQ(x[k].flip_bit, y[k].flip_bit);
    }
  }
  EXPECT_EQ(a.stats(), b.stats());
}

}  // namespace
}  // namespace utcp::sim
