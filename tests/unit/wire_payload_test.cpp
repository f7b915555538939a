// Payload: refcounted blocks, sharing slices, and the single-writer append.
#include <gtest/gtest.h>

#include <set>
#include <sstream>
#include <thread>
#include <vector>

#include "utcp/payload.hpp"

namespace utcp {
namespace {

std::span<const std::byte> as_bytes(std::string_view s) {
  return std::as_bytes(std::span(s.data(), s.size()));
}

// A block holding `text`, appended by its single writer.
std::shared_ptr<PayloadBlock> block_of(std::string_view text, std::size_t capacity) {
  auto b = PayloadBlock::make(capacity);
  EXPECT_TRUE(b->try_append(0, as_bytes(text)));
  return b;
}

// A threaded host fills send-queue blocks on the application's thread and frees them on the I/O
// thread (the ACKs): blocks a thread frees beyond its own cache reach the thread that
// allocates through the shared pool instead of going back to malloc (with a 4 MiB send buffer
// the malloc/free round trips cost 8,000-10,000 page faults per 256 MiB, docs/PERFORMANCE.md).
TEST(WirePayload, BlocksFreedOnOneThreadAreReusedOnAnother) {
  constexpr std::size_t kBlocks = 200;  // more than a thread's cache (64)
  std::vector<std::shared_ptr<PayloadBlock>> blocks;
  std::set<const std::byte*> freed;
  for (std::size_t i = 0; i < kBlocks; ++i) blocks.push_back(PayloadBlock::make(PayloadBlock::kPooledCapacity));
  for (const auto& b : blocks) freed.insert(b->data());
  std::thread([&] { blocks.clear(); }).join();  // freed on another thread, which then exits
  // A third thread (its own malloc arena, so malloc alone would not hand these back) takes
  // more blocks than the pool holds: some are the ones freed above. Other tests may have left
  // blocks in the pool too, so no exact count.
  std::size_t reused = 0;
  std::thread([&] {
    std::vector<std::shared_ptr<PayloadBlock>> again;
    for (std::size_t i = 0; i < 300; ++i) {
      again.push_back(PayloadBlock::make(PayloadBlock::kPooledCapacity));
      if (freed.count(again.back()->data()) != 0) ++reused;
    }
  }).join();
  EXPECT_GT(reused, 0u);
}

TEST(WirePayload, EmptyByDefault) {
  Payload p;
  EXPECT_TRUE(p.empty());
  EXPECT_EQ(p.size(), 0u);
  EXPECT_EQ(p.to_string(), "");
  EXPECT_EQ(p, Payload(""));
}

TEST(WirePayload, CopiesFromStringAndBytes) {
  const Payload a("hello"), b(as_bytes("hello"));
  EXPECT_EQ(a.size(), 5u);
  EXPECT_EQ(a.to_string(), "hello");
  EXPECT_EQ(a, b);
  EXPECT_NE(a, Payload("hellO"));
  EXPECT_NE(a, Payload("hell"));
  EXPECT_EQ(a.at(1), std::byte{'e'});
}

TEST(WirePayload, CopiesShareTheBlock) {
  auto block = block_of("abcdef", 16);
  std::weak_ptr<PayloadBlock> watch = block;
  Payload p(block, 1, 3);
  block.reset();
  ASSERT_FALSE(watch.expired());  // the payload keeps it alive
  Payload q = p;
  EXPECT_EQ(q.to_string(), "bcd");
  p = Payload();
  q = Payload();
  EXPECT_TRUE(watch.expired());
}

TEST(WirePayload, SubSharesAndClamps) {
  auto block = block_of("0123456789", 10);
  const Payload p(block, 0, 10);
  EXPECT_EQ(p.sub(2, 3).to_string(), "234");
  EXPECT_EQ(p.sub(8, 100).to_string(), "89");
  EXPECT_EQ(p.sub(100, 5).size(), 0u);
  EXPECT_EQ(p.sub(0, 10), p);
  EXPECT_EQ(block.use_count(), 2);
  const Payload s = p.sub(3, 4);
  EXPECT_EQ(block.use_count(), 3);  // shared, not copied
}

TEST(WirePayload, ConcatOfNeighboursInOneBlockIsOneSlice) {
  auto block = block_of("abcdefgh", 8);
  const Payload a(block, 0, 3), b(block, 3, 5);
  const Payload ab = a.concat(b);
  EXPECT_EQ(ab.to_string(), "abcdefgh");
  int slices = 0;
  ab.for_each_slice([&](std::span<const std::byte>) { ++slices; });
  EXPECT_EQ(slices, 1);
}

TEST(WirePayload, ConcatAcrossBlocksIsTwoSharedSlices) {
  auto b1 = block_of("hello ", 6), b2 = block_of("world", 5);
  const Payload ab = Payload(b1, 0, 6).concat(Payload(b2, 0, 5));
  EXPECT_EQ(ab.to_string(), "hello world");
  EXPECT_EQ(b1.use_count(), 2);
  EXPECT_EQ(b2.use_count(), 2);
  std::vector<std::size_t> sizes;
  ab.for_each_slice([&](std::span<const std::byte> s) { sizes.push_back(s.size()); });
  EXPECT_EQ(sizes, (std::vector<std::size_t>{6, 5}));
  // A sub-range that straddles the two blocks.
  EXPECT_EQ(ab.sub(4, 4).to_string(), "o wo");
  EXPECT_EQ(ab.sub(7, 10).to_string(), "orld");
  EXPECT_EQ(ab.sub(0, 6).to_string(), "hello ");
  EXPECT_EQ(ab.at(6), std::byte{'w'});
}

TEST(WirePayload, ConcatOfThreeBlocksCopies) {
  auto b1 = block_of("ab", 2), b2 = block_of("cd", 2), b3 = block_of("ef", 2);
  const Payload two = Payload(b1, 0, 2).concat(Payload(b2, 0, 2));
  const Payload three = two.concat(Payload(b3, 0, 2));
  EXPECT_EQ(three.to_string(), "abcdef");
  int slices = 0;
  three.for_each_slice([&](std::span<const std::byte>) { ++slices; });
  EXPECT_EQ(slices, 1);
  EXPECT_EQ(b3.use_count(), 1);  // copied out, not kept
}

TEST(WirePayload, ConcatMergesWhenTheJoinIsContiguous) {
  auto b1 = block_of("xy", 2), b2 = block_of("0123", 4);
  const Payload left = Payload(b1, 0, 2).concat(Payload(b2, 0, 2));  // "xy" + "01"
  const Payload joined = left.concat(Payload(b2, 2, 2));             // + "23": continues b2
  EXPECT_EQ(joined.to_string(), "xy0123");
  EXPECT_EQ(b1.use_count(), 3);  // still shared: two slices were enough
  EXPECT_EQ(Payload().concat(left), left);
  EXPECT_EQ(left.concat(Payload()), left);
}

TEST(WirePayload, EqualityIsByContentWhateverTheSlices) {
  auto b1 = block_of("abc", 3), b2 = block_of("def", 3), b3 = block_of("abcdef", 6);
  const Payload split = Payload(b1, 0, 3).concat(Payload(b2, 0, 3));
  EXPECT_EQ(split, Payload(b3, 0, 6));
  EXPECT_EQ(split, Payload("abcdef"));
  EXPECT_NE(split, Payload("abcdeg"));
  EXPECT_EQ(split.sub(1, 4), Payload("bcde"));
}

TEST(WirePayload, CopyToStopsAtTheSmallerSize) {
  const Payload p("abcdef");
  std::array<std::byte, 4> out{};
  EXPECT_EQ(p.copy_to(out), 4u);
  EXPECT_EQ(out[3], std::byte{'d'});
  std::array<std::byte, 10> big{};
  EXPECT_EQ(p.copy_to(big), 6u);
}

TEST(WirePayload, TryAppendOnlyAtTheCurrentFill) {
  auto b = PayloadBlock::make(8);
  EXPECT_EQ(b->capacity(), 8u);
  EXPECT_EQ(b->fill(), 0u);
  EXPECT_TRUE(b->try_append(0, as_bytes("abc")));
  EXPECT_EQ(b->fill(), 3u);
  EXPECT_FALSE(b->try_append(0, as_bytes("x")));       // a stale view of the block
  EXPECT_FALSE(b->try_append(5, as_bytes("x")));       // beyond the fill
  EXPECT_FALSE(b->try_append(3, as_bytes("123456")));  // no room
  EXPECT_EQ(b->fill(), 3u);
  EXPECT_TRUE(b->try_append(3, as_bytes("12345")));
  EXPECT_EQ(b->fill(), 8u);
  EXPECT_FALSE(b->try_append(8, as_bytes("z")));
  EXPECT_TRUE(b->try_append(8, {}));  // nothing to add still fits
  EXPECT_EQ(Payload(b, 0, 8).to_string(), "abc12345");
}

TEST(WirePayload, TwoWritersWithTheSameEndOnlyTheFirstSucceeds) {
  // Two snapshots of a queue that both believe they own the tail of the block.
  auto b = block_of("base", 16);
  const std::size_t end_seen_by_both = b->fill();
  EXPECT_TRUE(b->try_append(end_seen_by_both, as_bytes("first")));
  EXPECT_FALSE(b->try_append(end_seen_by_both, as_bytes("second")));
  EXPECT_EQ(Payload(b, 0, b->fill()).to_string(), "basefirst");
  // The first writer's earlier payloads are untouched.
  EXPECT_EQ(Payload(b, 0, 4).to_string(), "base");
}

TEST(WirePayload, AViewOwnsNothingAndOwnedCopiesIt) {
  std::string bytes = "segment";
  const Payload v = Payload::view(as_bytes(bytes));
  EXPECT_FALSE(v.is_owned());
  EXPECT_EQ(v.to_string(), "segment");
  EXPECT_FALSE(v.sub(1, 3).is_owned());  // a part of a view is a view
  const Payload kept = v.sub(1, 3).owned();
  EXPECT_TRUE(kept.is_owned());
  bytes[1] = 'X';  // the caller reuses its buffer
  EXPECT_EQ(v.to_string(), "sXgment");
  EXPECT_EQ(kept.to_string(), "egm");
  EXPECT_TRUE(Payload::view({}).is_owned());  // nothing to own
  EXPECT_TRUE(Payload("abc").is_owned());
}

TEST(WirePayload, ViewsNeverMergeAndConcatCopiesThem) {
  const std::string bytes = "abcdef";
  const Payload a = Payload::view(as_bytes(bytes).first(3)), b = Payload::view(as_bytes(bytes).subspan(3));
  const Payload ab = a.concat(b);
  EXPECT_EQ(ab.to_string(), "abcdef");
  EXPECT_FALSE(ab.is_owned());                      // two slices, each still a view
  EXPECT_TRUE(ab.concat(Payload("g")).is_owned());  // three slices: copied into a block
}

TEST(WirePayload, SharesTheCallersBytesWithTheirOwner) {
  auto text = std::make_shared<const std::string>("shared, not copied");
  std::weak_ptr<const std::string> watch = text;
  Payload p(text, as_bytes(*text));
  EXPECT_TRUE(p.is_owned());
  EXPECT_EQ(p.size(), text->size());
  const std::byte* first = nullptr;
  p.sub(8, 3).for_each_slice([&](std::span<const std::byte> s) { first = s.data(); });
  EXPECT_EQ(first, as_bytes(*text).data() + 8);  // the caller's own bytes
  text.reset();
  EXPECT_FALSE(watch.expired());  // kept alive by the payload
  EXPECT_EQ(p.sub(8, 3).to_string(), "not");
  p = Payload();
  EXPECT_TRUE(watch.expired());
}

TEST(WirePayload, PrintsSizeAndHexPrefix) {
  std::ostringstream os;
  os << Payload("hi") << ' ' << Payload() << ' ' << Payload(std::string(20, 'A'));
  EXPECT_EQ(os.str(),
            "Payload(2 bytes 6869) Payload(0 bytes) Payload(20 bytes 41414141414141414141414141414141...)");
}

}  // namespace
}  // namespace utcp
