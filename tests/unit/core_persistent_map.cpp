// PersistentMap against std::unordered_map as a model, with snapshots, deadline aggregates
// and structure sharing.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <source_location>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/persistent_map.hpp"

namespace utcp::detail {
namespace {

struct Val {
  std::uint64_t data = 0;
  std::optional<Instant> deadline;
  friend bool operator==(const Val&, const Val&) = default;
};
struct DeadlineOfVal {
  std::optional<Instant> operator()(const Val& v) const { return v.deadline; }
};
// Keys that collide in all 64 bits, to exercise collision nodes at every level.
struct WeakHash {
  std::size_t operator()(std::uint64_t k) const { return k % 7; }
};

Instant at(std::int64_t ns) {
  return Instant(Duration(ns));
}

using Map = PersistentMap<std::uint64_t, Val, DeadlineOfVal>;
using CollidingMap = PersistentMap<std::uint64_t, Val, DeadlineOfVal, WeakHash>;
using Model = std::unordered_map<std::uint64_t, Val>;

std::optional<Instant> brute_min(const Model& m) {
  std::optional<Instant> best;
  for (const auto& [k, v] : m) {
    if (v.deadline && (!best || *v.deadline < *best)) best = v.deadline;
  }
  return best;
}

template <class M>
void expect_matches(const M& map, const Model& model, bool full,
                    std::source_location loc = std::source_location::current()) {
  SCOPED_TRACE(testing::Message() << loc.file_name() << ":" << loc.line());
  ASSERT_EQ(map.size(), model.size());
  ASSERT_EQ(map.empty(), model.empty());
  ASSERT_EQ(map.min_deadline(), brute_min(model));
  ASSERT_TRUE(map.aggregates_exact());
  if (!full) return;
  for (const auto& [k, v] : model) {
    const Val* got = map.find(k);
    ASSERT_NE(got, nullptr) << "key " << k;
    ASSERT_EQ(*got, v) << "key " << k;
  }
  std::size_t seen = 0;
  map.for_each([&](const std::uint64_t& k, const Val& v) {
    ++seen;
    auto it = model.find(k);
    ASSERT_NE(it, model.end()) << "extra key " << k;
    ASSERT_EQ(it->second, v);
  });
  ASSERT_EQ(seen, model.size());
}

TEST(CorePersistentMap, EmptyMap) {
  Map m;
  EXPECT_TRUE(m.empty());
  EXPECT_EQ(m.size(), 0u);
  EXPECT_EQ(m.find(1), nullptr);
  EXPECT_FALSE(m.erase(1));
  EXPECT_EQ(m.min_deadline(), std::nullopt);
  bool called = false;
  EXPECT_FALSE(m.update(1, [&](Val&) { called = true; }));
  EXPECT_FALSE(called);
  m.update_due(at(1'000'000), [&](const std::uint64_t&, Val&) { return called = true; });
  EXPECT_FALSE(called);
  EXPECT_EQ(m.memory_usage(), 0u);
}

TEST(CorePersistentMap, InsertFindAssignErase) {
  Map m;
  m.insert(1, {10, at(50)});
  m.insert(2, {20, std::nullopt});
  ASSERT_NE(m.find(1), nullptr);
  EXPECT_EQ(m.find(1)->data, 10u);
  EXPECT_EQ(m.min_deadline(), at(50));
  m.insert(1, {11, at(70)});  // assign
  EXPECT_EQ(m.size(), 2u);
  EXPECT_EQ(m.find(1)->data, 11u);
  EXPECT_EQ(m.min_deadline(), at(70));
  EXPECT_TRUE(m.update(2, [](Val& v) { v.deadline = at(30); }));
  EXPECT_EQ(m.min_deadline(), at(30));
  EXPECT_TRUE(m.erase(2));
  EXPECT_EQ(m.min_deadline(), at(70));
  EXPECT_FALSE(m.erase(2));
  EXPECT_TRUE(m.erase(1));
  EXPECT_TRUE(m.empty());
  EXPECT_EQ(m.min_deadline(), std::nullopt);
  EXPECT_EQ(m.memory_usage(), 0u);
}

TEST(CorePersistentMap, UpdateOfAbsentKeyCallsNothingAndCopiesNothing) {
  Map a;
  for (std::uint64_t k = 0; k < 100; ++k) a.insert(k, {k, at(static_cast<std::int64_t>(k))});
  Map b = a;
  bool called = false;
  EXPECT_FALSE(b.update(1000, [&](Val&) { called = true; }));
  EXPECT_FALSE(called);
  EXPECT_FALSE(b.erase(1000));
  EXPECT_TRUE(b.shares_root_with(a));
}

template <class M>
void random_ops(std::uint32_t seed, int ops, std::uint64_t key_range) {
  std::mt19937_64 rng(seed);
  M map;
  Model model;
  struct Snap {
    M map;
    Model model;
  };
  std::vector<Snap> snaps;
  auto rnd = [&](std::uint64_t n) { return std::uniform_int_distribution<std::uint64_t>(0, n - 1)(rng); };
  auto random_deadline = [&]() -> std::optional<Instant> {
    if (rnd(4) == 0) return std::nullopt;
    return at(static_cast<std::int64_t>(rnd(1'000'000)));
  };
  for (int i = 0; i < ops; ++i) {
    // Most operations go to the main map; some to a snapshot, so both sides of a shared
    // structure get mutated.
    // Snapshot management first: it may reallocate `snaps`, so no reference into it is live.
    const std::uint64_t snap_op = rnd(40);
    if (snap_op == 0) {
      if (snaps.size() < 4) {
        snaps.push_back({map, model});
      } else {
        snaps[rnd(snaps.size())] = {map, model};
      }
    } else if (snap_op == 1 && !snaps.empty()) {
      snaps.erase(snaps.begin() + static_cast<std::ptrdiff_t>(rnd(snaps.size())));
    }
    const bool on_snap = !snaps.empty() && rnd(4) == 0;
    Snap* s = on_snap ? &snaps[rnd(snaps.size())] : nullptr;
    M& m = s ? s->map : map;
    Model& mm = s ? s->model : model;
    const std::uint64_t k = rnd(key_range);
    switch (rnd(20)) {
      case 0:
      case 1:
      case 2:
      case 3:
      case 4:
      case 5: {
        const Val v{rnd(1u << 30), random_deadline()};
        m.insert(k, v);
        mm[k] = v;
        break;
      }
      case 6:
      case 7:
      case 8:
        ASSERT_EQ(m.erase(k), mm.erase(k) == 1);
        break;
      case 9:
      case 10:
      case 11:
      case 12: {
        const std::optional<Instant> d = random_deadline();
        const std::uint64_t data = rnd(1000);
        const bool present = mm.count(k) == 1;
        ASSERT_EQ(m.update(k,
                           [&](Val& v) {
                             v.data += data;
                             v.deadline = d;
                           }),
                  present);
        if (present) {
          mm[k].data += data;
          mm[k].deadline = d;
        }
        break;
      }
      case 13:
      case 14: {
        const Val* got = m.find(k);
        auto it = mm.find(k);
        ASSERT_EQ(got != nullptr, it != mm.end());
        if (got) {
          ASSERT_EQ(*got, it->second);
        }
        break;
      }
      case 15: {
        // update_due: due entries with an odd value are erased, the others move later.
        const Instant now = at(static_cast<std::int64_t>(rnd(1'000'000)));
        std::set<std::uint64_t> expected, visited;
        for (const auto& [key, v] : mm) {
          if (v.deadline && *v.deadline <= now) expected.insert(key);
        }
        m.update_due(now, [&](const std::uint64_t& key, Val& v) {
          EXPECT_TRUE(visited.insert(key).second) << "visited twice";
          if (v.data % 2 == 1) return false;
          v.deadline = now + Duration(1 + rnd(500'000));
          return true;
        });
        ASSERT_EQ(visited, expected);
        for (std::uint64_t key : expected) {
          Val& v = mm[key];
          const Val* got = m.find(key);
          if (v.data % 2 == 1) {
            ASSERT_EQ(got, nullptr);
            mm.erase(key);
          } else {
            ASSERT_NE(got, nullptr);
            v.deadline = got->deadline;  // the model follows the random step taken
            ASSERT_GT(*v.deadline, now);
          }
        }
        break;
      }
      default: {
        // Move and copy-assign through a temporary.
        M tmp = std::move(m);
        m = tmp;
        break;
      }
    }
    expect_matches(m, mm, i % 500 == 0);
    if (testing::Test::HasFatalFailure()) {
      ADD_FAILURE() << "at op " << i << " seed " << seed;
      return;
    }
  }
  expect_matches(map, model, true);
  for (const Snap& s : snaps) expect_matches(s.map, s.model, true);
}

TEST(CorePersistentMap, RandomOpsAgainstModel) {
  random_ops<Map>(12345, 100'000, 600);
}
TEST(CorePersistentMap, RandomOpsAgainstModelLargeKeySpace) {
  random_ops<Map>(777, 8'000, 1u << 20);
}
TEST(CorePersistentMap, RandomOpsWithFullHashCollisions) {
  random_ops<CollidingMap>(99, 30'000, 200);
}

// The pattern of connect + close (issue 15, session 29): each new entry is the earliest
// (its RTO), moves later (no deadline), earlier again, then later than every entry before it
// (TIME-WAIT), while a snapshot now and then shares the path. The branches' hints take the
// earliest-moves-later steps without a rescan; the aggregate and every hint stay exact.
TEST(CorePersistentMap, EarliestEntryMovingLaterKeepsAggregatesExact) {
  Map m;
  Model model;
  std::vector<Map> snaps;
  auto set = [&](std::uint64_t k, std::optional<Instant> d) {
    ASSERT_TRUE(m.update(k, [&](Val& v) { v.deadline = d; }));
    model[k].deadline = d;
    expect_matches(m, model, false);
  };
  for (std::uint64_t i = 0; i < 3'000; ++i) {
    const std::uint64_t k = i * 0x9E3779B97F4A7C15ull;
    const std::int64_t now = static_cast<std::int64_t>(i) * 10;
    if (i % 97 == 0) snaps.push_back(m);
    m.insert(k, {i, at(now + 1'000)});
    model[k] = {i, at(now + 1'000)};
    expect_matches(m, model, false);
    set(k, std::nullopt);
    set(k, at(now + 1'005));
    set(k, std::nullopt);
    set(k, at(now + 60'000));
    if (i % 5 == 4) {  // reap one: erasing the earliest
      const std::uint64_t old = (i - 4) * 0x9E3779B97F4A7C15ull;
      ASSERT_TRUE(m.erase(old));
      model.erase(old);
      expect_matches(m, model, false);
    }
  }
  expect_matches(m, model, true);
  for (const Map& s : snaps) EXPECT_TRUE(s.aggregates_exact());
}

TEST(CorePersistentMap, UpdateDueVisitsExactlyTheDueEntriesAndErasesOnFalse) {
  Map m;
  Model model;
  for (std::uint64_t k = 0; k < 5000; ++k) {
    Val v{k, k % 3 == 0 ? std::nullopt : std::optional<Instant>(at(static_cast<std::int64_t>(k * 10)))};
    m.insert(k, v);
    model[k] = v;
  }
  std::set<std::uint64_t> visited;
  m.update_due(at(20'000), [&](const std::uint64_t& k, Val& v) {
    visited.insert(k);
    if (k % 2 == 0) return false;
    v.deadline.reset();
    return true;
  });
  std::set<std::uint64_t> expected;
  for (auto& [k, v] : model) {
    if (v.deadline && *v.deadline <= at(20'000)) expected.insert(k);
  }
  EXPECT_EQ(visited, expected);
  for (std::uint64_t k : expected) {
    if (k % 2 == 0) {
      model.erase(k);
    } else {
      model[k].deadline.reset();
    }
  }
  expect_matches(m, model, true);
  EXPECT_EQ(m.min_deadline(), at(20'020));  // 2002 * 10: 2001 % 3 == 0 has no deadline

  // Nothing due: the callback is never called.
  bool called = false;
  m.update_due(at(20'009), [&](const std::uint64_t&, Val&) { return called = true; });
  EXPECT_FALSE(called);

  // Erasing everything leaves an empty map.
  m.update_due(at(1'000'000'000), [](const std::uint64_t&, Val&) { return false; });
  std::size_t undated = 0;
  for (auto& [k, v] : model) undated += v.deadline ? 0 : 1;
  EXPECT_EQ(m.size(), undated);
  EXPECT_EQ(m.min_deadline(), std::nullopt);
}

TEST(CorePersistentMap, UpdateDueOnSnapshotLeavesTheOriginal) {
  Map a;
  for (std::uint64_t k = 0; k < 1000; ++k) a.insert(k, {k, at(static_cast<std::int64_t>(k))});
  Map b = a;
  b.update_due(at(499), [](const std::uint64_t&, Val& v) { return v.data % 2 == 0; });
  EXPECT_EQ(a.size(), 1000u);
  EXPECT_EQ(b.size(), 750u);
  EXPECT_EQ(a.min_deadline(), at(0));
  EXPECT_EQ(b.min_deadline(), at(0));  // key 0 kept (even), deadline unchanged by the callback
  for (std::uint64_t k = 0; k < 1000; ++k) ASSERT_NE(a.find(k), nullptr);
}

// update_if: the check sees the value before anything is copied; refused, nothing is called
// or copied (a shared root stays shared) and the result is still "present"; absent, the check
// is not asked. Accepted, it updates as update does, in place or copying the shared path.
TEST(CorePersistentMap, UpdateIfChecksBeforeCopyingAnything) {
  Map a;
  for (std::uint64_t k = 0; k < 1'000; ++k) a.insert(k, {k, at(static_cast<std::int64_t>(k + 100))});
  Map b = a;
  int checks = 0, calls = 0;
  const auto refuse = [&](const Val& v) {
    ++checks;
    EXPECT_EQ(v.data, 7u);
    return false;
  };
  const auto change = [&](Val& v) {
    ++calls;
    v.data = 70;
    v.deadline = at(1);
  };
  EXPECT_TRUE(b.update_if(Map::hash(7), 7, refuse, change));
  EXPECT_EQ(checks, 1);
  EXPECT_EQ(calls, 0);
  EXPECT_TRUE(b.shares_root_with(a));
  EXPECT_EQ(b.find(7), a.find(7));
  EXPECT_FALSE(b.update_if(Map::hash(5'000), 5'000, refuse, change));
  EXPECT_EQ(checks, 1);
  EXPECT_EQ(calls, 0);

  const auto accept = [](const Val& v) { return v.data == 7; };
  EXPECT_TRUE(b.update_if(Map::hash(7), 7, accept, change));
  EXPECT_EQ(calls, 1);
  EXPECT_FALSE(b.shares_root_with(a));
  EXPECT_EQ(a.find(7)->data, 7u);
  EXPECT_EQ(b.find(7)->data, 70u);
  EXPECT_EQ(b.min_deadline(), at(1));
  EXPECT_EQ(a.min_deadline(), at(100));
  EXPECT_TRUE(b.aggregates_exact());
  // Uniquely owned now: refused again, still nothing changes.
  EXPECT_TRUE(b.update_if(Map::hash(7), 7, [](const Val&) { return false; }, [](Val& v) { v.data = 0; }));
  EXPECT_EQ(b.find(7)->data, 70u);

  b.erase_present(Map::hash(7), 7);
  EXPECT_EQ(b.find(7), nullptr);
  EXPECT_EQ(b.size(), 999u);
  EXPECT_EQ(a.size(), 1'000u);
  EXPECT_EQ(b.min_deadline(), at(100));
  EXPECT_TRUE(b.aggregates_exact());
}

TEST(CorePersistentMap, CopiesShareStructureAndMutationsDoNotLeak) {
  Map a;
  for (std::uint64_t k = 0; k < 10'000; ++k) a.insert(k, {k, at(static_cast<std::int64_t>(k + 100))});
  const Val* a5 = a.find(5);
  const Val* a6 = a.find(6);
  Map b = a;  // O(1): the same root
  EXPECT_TRUE(b.shares_root_with(a));
  EXPECT_EQ(b.find(5), a5);  // the very same leaf

  b.update(5, [](Val& v) {
    v.data = 555;
    v.deadline = at(1);
  });
  EXPECT_FALSE(b.shares_root_with(a));
  EXPECT_EQ(a.find(5), a5);
  EXPECT_EQ(a.find(5)->data, 5u);
  EXPECT_EQ(b.find(5)->data, 555u);
  EXPECT_NE(b.find(5), a5);  // copied on write
  EXPECT_EQ(b.find(6), a6);  // an untouched leaf is still shared
  EXPECT_EQ(a.min_deadline(), at(100));
  EXPECT_EQ(b.min_deadline(), at(1));

  b.erase(6);
  b.insert(20'000, {1, at(0)});
  EXPECT_EQ(a.find(6), a6);
  EXPECT_EQ(a.find(20'000), nullptr);
  EXPECT_EQ(a.size(), 10'000u);
  EXPECT_EQ(b.size(), 10'000u);
  EXPECT_EQ(a.min_deadline(), at(100));
  EXPECT_EQ(b.min_deadline(), at(0));

  // Mutating the original does not show in the copy either.
  a.update(7, [](Val& v) { v.data = 777; });
  EXPECT_EQ(b.find(7)->data, 7u);
}

TEST(CorePersistentMap, UniquelyOwnedUpdateIsInPlace) {
  Map m;
  for (std::uint64_t k = 0; k < 10'000; ++k) m.insert(k, {k, at(static_cast<std::int64_t>(k))});
  const Val* p = m.find(1234);
  const std::size_t mem = m.memory_usage();
  for (int i = 0; i < 100; ++i) {
    m.update(1234, [&](Val& v) {
      ++v.data;
      v.deadline = at(i % 2 ? 5 : 50'000);
    });
    ASSERT_EQ(m.find(1234), p);
  }
  EXPECT_EQ(m.memory_usage(), mem);
  EXPECT_EQ(m.min_deadline(), at(0));
  {
    Map copy = m;  // shared while the copy lives
    m.update(1234, [](Val& v) { ++v.data; });
    EXPECT_NE(m.find(1234), p);
  }
  // The copy is gone, so the map owns its (new) path alone again.
  p = m.find(1234);
  m.update(1234, [](Val& v) { ++v.data; });
  EXPECT_EQ(m.find(1234), p);
}

TEST(CorePersistentMap, EraseShrinksBackToEmpty) {
  Map m;
  for (std::uint64_t k = 0; k < 3000; ++k) m.insert(k, {k, std::nullopt});
  for (std::uint64_t k = 0; k < 3000; ++k) ASSERT_TRUE(m.erase(k));
  EXPECT_TRUE(m.empty());
  EXPECT_EQ(m.memory_usage(), 0u);
}

TEST(CorePersistentMap, MemoryOverheadPerEntry) {
  Map m;
  constexpr std::uint64_t kN = 200'000;
  for (std::uint64_t k = 0; k < kN; ++k) m.insert(k * 0x9E3779B97F4A7C15ull, {k, std::nullopt});
  const double per_entry = static_cast<double>(m.memory_usage()) / kN;
  const double overhead = per_entry - static_cast<double>(sizeof(std::uint64_t) + sizeof(Val));
  RecordProperty("overhead_bytes_per_entry", std::to_string(overhead));
  EXPECT_LT(overhead, 100.0);  // the budget is ~150 bytes of map overhead per entry
}

TEST(CorePersistentMap, CopiesMutatedOnOtherThreads) {
  // A State may be copied to another thread: shared nodes are only read, refcounts are atomic.
  Map base;
  for (std::uint64_t k = 0; k < 20'000; ++k) base.insert(k, {k, at(static_cast<std::int64_t>(k))});
  std::vector<std::thread> threads;
  std::vector<std::size_t> sums(4);
  for (std::size_t t = 0; t < 4; ++t) {
    threads.emplace_back([&, t, copy = base]() mutable {
      for (std::uint64_t k = t % 2; k < 20'000; k += 3) {
        copy.update(k, [](Val& v) { v.data += 1; });
        if (k % 5 == 0) copy.erase(k);
        Map snapshot = copy;  // copies and drops on this thread too
      }
      copy.update_due(at(10'000), [](const std::uint64_t&, Val& v) { return v.data % 2 == 0; });
      copy.for_each([&](const std::uint64_t&, const Val& v) { sums[t] += v.data; });
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(base.size(), 20'000u);
  for (std::uint64_t k = 0; k < 20'000; ++k) ASSERT_EQ(base.find(k)->data, k);
  // Threads 0 and 2 (1 and 3) ran the same steps on the same snapshot.
  EXPECT_EQ(sums[0], sums[2]);
  EXPECT_EQ(sums[1], sums[3]);
  EXPECT_NE(sums[0], sums[1]);
}

TEST(CorePersistentMap, NonTrivialValuesAreCopiedAndFreed) {
  struct S {
    std::string s;
  };
  struct NoDeadline {
    std::optional<Instant> operator()(const S&) const { return std::nullopt; }
  };
  PersistentMap<std::string, S, NoDeadline> a;
  for (int i = 0; i < 500; ++i) a.insert("key" + std::to_string(i), {std::string(100, 'x')});
  auto b = a;
  b.update("key7", [](S& v) { v.s = "changed"; });
  EXPECT_EQ(a.find("key7")->s, std::string(100, 'x'));
  EXPECT_EQ(b.find("key7")->s, "changed");
  a = PersistentMap<std::string, S, NoDeadline>();
  EXPECT_EQ(b.size(), 500u);
  EXPECT_EQ(b.find("key8")->s, std::string(100, 'x'));
}

}  // namespace
}  // namespace utcp::detail
