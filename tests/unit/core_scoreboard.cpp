// The sender's scoreboard (RFC 6675 §3-4, RFC 8985 §5.2): transmissions, cumulative and
// selective acknowledgments, loss marks, pipe, splits, and a seeded model test.
#include <gtest/gtest.h>

#include <chrono>
#include <random>
#include <vector>

#include "core/scoreboard.hpp"

namespace utcp::detail {
namespace {

using namespace std::chrono_literals;
constexpr std::uint32_t S = 1000;  // segment size in these tests
const Seq kBase{0xffff'f000u};     // near the wrap on purpose
const Instant t0{std::chrono::seconds(100)};

Seq at(std::uint32_t i) {
  return kBase + i * S;
}

// Ten segments [at(0), at(10)) sent 1 ms apart.
Scoreboard ten() {
  Scoreboard b;
  for (std::uint32_t i = 0; i < 10; ++i) b.sent_new(at(i), at(i + 1), t0 + i * 1ms);
  return b;
}

std::vector<Seq> delivered_begins(Scoreboard& b, Seq l, Seq r) {
  std::vector<Seq> v;
  b.sacked(l, r, [&](const SentSegment& s) { v.push_back(s.begin); });
  return v;
}

TEST(CoreScoreboard, NewDataIsRecordedInOrder) {
  Scoreboard b = ten();
  EXPECT_EQ(b.size(), 10u);
  EXPECT_EQ(b.bytes(), 10 * S);
  EXPECT_EQ(b.pipe(), 10 * S);
  EXPECT_EQ(b.front().begin, at(0));
  EXPECT_EQ(b.back().end, at(10));
  EXPECT_EQ(b[3].sent, t0 + 3ms);
  EXPECT_EQ(b.check(), "");
}

TEST(CoreScoreboard, CumulativeAckRemovesAndReportsUnsackedOnly) {
  Scoreboard b = ten();
  EXPECT_EQ(delivered_begins(b, at(2), at(3)), (std::vector<Seq>{at(2)}));
  std::vector<Seq> acked;
  EXPECT_EQ(b.acked(at(4), [&](const SentSegment& s) { acked.push_back(s.begin); }), 3 * S);
  EXPECT_EQ(acked, (std::vector<Seq>{at(0), at(1), at(3)}));  // at(2) was SACKed already
  EXPECT_EQ(b.size(), 6u);
  EXPECT_EQ(b.bytes(), 6 * S);
  EXPECT_EQ(b.sacked_bytes(), 0u);
  EXPECT_EQ(b.highest_sacked(at(4)), at(4)) << "SACK information below the ACK is gone";
  EXPECT_EQ(b.check(), "");
}

TEST(CoreScoreboard, AckInsideASegmentSplitsIt) {
  Scoreboard b = ten();
  std::uint32_t n = b.acked(at(1) + 300, [](const SentSegment&) {});
  EXPECT_EQ(n, S + 300);
  EXPECT_EQ(b.front().begin, at(1) + 300);
  EXPECT_EQ(b.front().end, at(2));
  EXPECT_EQ(b.front().sent, t0 + 1ms) << "the rest keeps its transmission time";
  EXPECT_EQ(b.bytes(), 9 * S - 300);
  EXPECT_EQ(b.check(), "");
}

TEST(CoreScoreboard, SackBlocksMarkAndPipeExcludesThem) {
  Scoreboard b = ten();
  EXPECT_EQ(b.sacked(at(5), at(8), [](const SentSegment&) {}), 3 * S);
  EXPECT_EQ(b.sacked_bytes(), 3 * S);
  EXPECT_EQ(b.pipe(), 7 * S);
  EXPECT_EQ(b.highest_sacked(at(0)), at(8));
  // The same block again is nothing new.
  EXPECT_EQ(b.sacked(at(5), at(8), [](const SentSegment&) { ADD_FAILURE() << "no new delivery"; }), 0u);
  EXPECT_EQ(b.check(), "");
}

TEST(CoreScoreboard, PartialSackBlocksSplitSegments) {
  Scoreboard b = ten();
  // A block from the middle of segment 2 to the middle of segment 4.
  EXPECT_EQ(b.sacked(at(2) + 400, at(4) + 100, [](const SentSegment&) {}), 2 * S - 300);
  EXPECT_EQ(b.size(), 12u);
  EXPECT_EQ(b[2].end, at(2) + 400);
  EXPECT_FALSE(b[2].is(SentSegment::sacked));
  EXPECT_TRUE(b[3].is(SentSegment::sacked));
  EXPECT_TRUE(b[5].is(SentSegment::sacked));
  EXPECT_EQ(b[5].end, at(4) + 100);
  EXPECT_FALSE(b[6].is(SentSegment::sacked));
  EXPECT_EQ(b.check(), "");
}

TEST(CoreScoreboard, BlocksOutsideTheBoardAreIgnored) {
  Scoreboard b = ten();
  EXPECT_EQ(b.sacked(at(10), at(12), [](const SentSegment&) {}), 0u) << "beyond SND.MAX";
  EXPECT_EQ(b.sacked(at(0) - 5000, at(0), [](const SentSegment&) {}), 0u) << "below SND.UNA";
  EXPECT_EQ(b.sacked(at(4), at(3), [](const SentSegment&) {}), 0u) << "reversed";
  EXPECT_EQ(b.sacked(at(9), at(9) + 100000, [](const SentSegment&) {}), S) << "clipped to SND.MAX";
  EXPECT_EQ(b.check(), "");
}

TEST(CoreScoreboard, LostSegmentsLeavePipeUntilRetransmitted) {
  Scoreboard b = ten();
  b.sacked(at(3), at(10), [](const SentSegment&) {});
  EXPECT_EQ(b.mark_lost(0), S);
  EXPECT_EQ(b.mark_lost(1), S);
  EXPECT_EQ(b.mark_lost(1), 0u) << "already lost";
  EXPECT_EQ(b.mark_lost(5), 0u) << "SACKed segments are never lost";
  EXPECT_EQ(b.lost_bytes(), 2 * S);
  EXPECT_EQ(b.pipe(), S);  // only segment 2
  EXPECT_EQ(b.first_lost(), 0u);
  EXPECT_EQ(b.resent(at(0), at(1), t0 + 50ms), S);
  EXPECT_EQ(b.pipe(), 2 * S) << "the retransmission is in flight";
  EXPECT_TRUE(b[0].is(SentSegment::retransmitted));
  EXPECT_EQ(b[0].sent, t0 + 50ms);
  EXPECT_EQ(b.first_lost(), 1u);
  EXPECT_EQ(b.check(), "");
}

TEST(CoreScoreboard, MarkAllLostSparesSacked) {
  Scoreboard b = ten();
  b.sacked(at(4), at(6), [](const SentSegment&) {});
  b.mark_all_lost();
  EXPECT_EQ(b.lost_bytes(), 8 * S);
  EXPECT_EQ(b.pipe(), 0u);
  b.clear_sacks();
  EXPECT_EQ(b.sacked_bytes(), 0u);
  EXPECT_EQ(b.pipe(), 2 * S) << "reneging: the formerly SACKed data counts as in flight";
  EXPECT_EQ(b.check(), "");
}

TEST(CoreScoreboard, FindLocatesTheEntryHoldingASequenceNumber) {
  Scoreboard b = ten();
  EXPECT_EQ(b.find(at(0)), 0u);
  EXPECT_EQ(b.find(at(3) + 999), 3u);
  EXPECT_EQ(b.find(at(9)), 9u);
  EXPECT_EQ(b.find(at(10)), b.size());
  EXPECT_EQ(b.find(at(0) - 1), b.size());
}

TEST(CoreScoreboard, QueueCompactsWithoutLosingEntries) {
  Scoreboard b;
  Instant t = t0;
  std::uint32_t next = 0;
  for (int round = 0; round < 50; ++round) {
    for (int k = 0; k < 7; ++k, ++next) b.sent_new(at(next), at(next + 1), t += 1ms);
    b.acked(at(next - 2), [](const SentSegment&) {});
    ASSERT_EQ(b.size(), 2u);
    ASSERT_EQ(b.front().begin, at(next - 2));
    ASSERT_EQ(b.check(), "");
  }
}

// A model of the board: per byte offset, whether it is SACKed or lost; random operations.
TEST(CoreScoreboard, MatchesAByteModelUnderRandomOperations) {
  for (std::uint32_t seed = 1; seed <= 20; ++seed) {
    std::mt19937 rng(seed);
    Scoreboard b;
    struct Byte {
      bool sacked = false, lost = false;
    };
    std::vector<Byte> model;  // index = offset from una
    std::uint32_t una = 0, high = 0;
    const Seq base = kBase - 5000 * seed;
    auto pos = [&](std::uint32_t off) { return base + off; };
    for (int op = 0; op < 400; ++op) {
      const int kind = static_cast<int>(rng() % 5);
      if (kind == 0 || b.empty()) {
        const std::uint32_t len = 1 + rng() % 1500;
        b.sent_new(pos(high), pos(high + len), t0 + op * 1ms);
        model.resize(model.size() + len);
        high += len;
      } else if (kind == 1) {
        const std::uint32_t to = una + rng() % (high - una + 1);
        std::uint32_t want = 0;
        for (std::uint32_t o = una; o < to; ++o) want += !model[o - una].sacked;
        ASSERT_EQ(b.acked(pos(to), [](const SentSegment&) {}), want);
        model.erase(model.begin(), model.begin() + (to - una));
        una = to;
      } else if (kind == 2) {
        const std::uint32_t l = una + rng() % (high - una + 1);
        const std::uint32_t r = l + rng() % (high - l + 1);
        std::uint32_t want = 0;
        for (std::uint32_t o = l; o < r; ++o) {
          Byte& x = model[o - una];
          if (!x.sacked) ++want;
          if (!x.sacked && x.lost) x.lost = false;
          x.sacked = true;
        }
        ASSERT_EQ(b.sacked(pos(l), pos(r), [](const SentSegment&) {}), want);
      } else if (kind == 3) {
        const std::size_t i = rng() % b.size();
        const SentSegment e = b[i];
        b.mark_lost(i);
        for (Seq s = e.begin; s < e.end; s = s + 1) {
          Byte& x = model[s - pos(una)];
          if (!x.sacked) x.lost = true;
        }
      } else {
        const std::size_t i = rng() % b.size();
        const SentSegment e = b[i];
        b.resent(e.begin, e.end, t0 + op * 1ms);
        for (Seq s = e.begin; s < e.end; s = s + 1) model[s - pos(una)].lost = false;
      }
      ASSERT_EQ(b.check(), "") << "seed " << seed << " op " << op;
      std::uint32_t sacked = 0, lost = 0;
      for (const Byte& x : model) sacked += x.sacked, lost += x.lost;
      ASSERT_EQ(b.bytes(), high - una) << "seed " << seed << " op " << op;
      ASSERT_EQ(b.sacked_bytes(), sacked) << "seed " << seed << " op " << op;
      ASSERT_EQ(b.lost_bytes(), lost) << "seed " << seed << " op " << op;
      ASSERT_EQ(b.pipe(), high - una - sacked - lost);
    }
  }
}

}  // namespace
}  // namespace utcp::detail
