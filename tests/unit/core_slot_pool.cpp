// SlotPool (core/slot_pool.hpp): the flow table's leaves in fixed-size slots.
#include <gtest/gtest.h>

#include <cstdint>
#include <set>
#include <thread>
#include <vector>

#include "core/persistent_map.hpp"
#include "core/slot_pool.hpp"

namespace utcp::detail {
namespace {

TEST(CoreSlotPool, SlotsAreAlignedDistinctAndReused) {
  using Pool = SlotPool<232, 8>;  // the flow table leaf's size on x86-64 (the Tcb's 208 bytes)
  static_assert(Pool::kSlot == 232);
  static_assert(Pool::kSlabBytes + 8 <= 64 * 1024, "a 64 KiB malloc chunk");
  std::vector<void*> got;
  std::set<void*> distinct;
  for (int i = 0; i < 1000; ++i) {
    void* p = Pool::take();
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(p) % 8, 0u);
    got.push_back(p);
    distinct.insert(p);
  }
  EXPECT_EQ(distinct.size(), got.size());
  for (void* p : got) Pool::give(p);
  if (!UTCP_SLOT_POOL) GTEST_SKIP() << "plain operator new and delete under AddressSanitizer";
  // The free list is last in, first out: the same slots come back, no new slab.
  for (auto it = got.rbegin(); it != got.rend(); ++it) EXPECT_EQ(Pool::take(), *it);
  for (void* p : got) Pool::give(p);
}

// A slot given back on another thread joins that thread's list; the thread's exit hands its
// list over, and the next thread to run out takes it whole instead of making a slab.
TEST(CoreSlotPool, SlotsFreedOnAThreadThatExitsAreTakenBack) {
  using Pool = SlotPool<1000, 8>;  // a size no other test takes
  std::vector<void*> got;
  for (std::size_t i = 0; i < Pool::kSlots; ++i) got.push_back(Pool::take());  // one slab, used up
  std::thread([&] {
    for (void* p : got) Pool::give(p);
  }).join();
  const std::set<void*> freed(got.begin(), got.end());
  std::vector<void*> again;
  for (std::size_t i = 0; i < Pool::kSlots; ++i) again.push_back(Pool::take());
  if (UTCP_SLOT_POOL) {
    for (void* p : again) EXPECT_TRUE(freed.count(p)) << "a new slab where the handed-over slots would do";
  }
  EXPECT_EQ(std::set<void*>(again.begin(), again.end()).size(), again.size());
  for (void* p : again) Pool::give(p);
}

struct NoDeadline {
  std::optional<Instant> operator()(const std::uint64_t&) const { return std::nullopt; }
};

// A map copied to another thread and released there: its leaves go back on that thread.
TEST(CoreSlotPool, MapReleasedOnAnotherThread) {
  using Map = PersistentMap<std::uint64_t, std::uint64_t, NoDeadline>;
  auto map = std::make_unique<Map>();
  for (std::uint64_t i = 0; i < 5000; ++i) map->insert(i, i * 3);
  Map copy = *map;  // shares every node
  std::thread([m = std::move(map)]() mutable {
    m->insert(7, 1);  // copies the path to key 7 (a new leaf from this thread's pool)
    m.reset();        // the path copy and the shared nodes' references, released here
  }).join();
  ASSERT_EQ(copy.size(), 5000u);
  for (std::uint64_t i = 0; i < 5000; ++i) ASSERT_EQ(*copy.find(i), i * 3);
  for (std::uint64_t i = 0; i < 5000; i += 2) copy.erase(i);
  for (std::uint64_t i = 1; i < 5000; i += 2) ASSERT_EQ(*copy.find(i), i * 3);
}

}  // namespace
}  // namespace utcp::detail
