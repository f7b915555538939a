// ByteQueue: a FIFO of bytes in shared blocks, against a std::string model.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "core/byte_queue.hpp"

namespace utcp::detail {
namespace {

std::string str(const ByteQueue& q) {
  std::string s(q.size(), '\0');
  EXPECT_EQ(q.copy_front(std::as_writable_bytes(std::span(s.data(), s.size()))), q.size());
  return s;
}

std::span<const std::byte> bytes_of(const std::string& s) {
  return std::as_bytes(std::span(s.data(), s.size()));
}

std::string pattern(std::size_t n, std::size_t seed) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + (seed + i * 7) % 26);
  return s;
}

TEST(CoreByteQueue, EmptyQueueIsSmallAndOwnsNothing) {
  ByteQueue q;
  EXPECT_EQ(sizeof(ByteQueue), sizeof(void*));  // issue 15: one pointer per queue
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.size(), 0u);
  EXPECT_EQ(q.pieces(), 0u);
  EXPECT_TRUE(q.slice(0, 10).empty());
  std::vector<Payload> out;
  q.take_all(out);
  EXPECT_TRUE(out.empty());
  q.append(std::string_view());
  q.append(Payload());
  EXPECT_EQ(q.pieces(), 0u);
}

TEST(CoreByteQueue, AppendSliceDropTake) {
  ByteQueue q;
  q.append(std::string_view("hello "));
  q.append(Payload(std::string_view("world")));
  q.append(std::string_view("!"));
  EXPECT_EQ(q.size(), 12u);
  EXPECT_EQ(str(q), "hello world!");
  EXPECT_EQ(q.slice(3, 5).to_string(), "lo wo");
  EXPECT_EQ(q.slice(6, 100).to_string(), "world!");
  EXPECT_EQ(q.slice(0, 12).to_string(), "hello world!");  // three pieces: copied into one block
  EXPECT_TRUE(q.slice(12, 1).empty());
  q.drop_front(4);
  EXPECT_EQ(str(q), "o world!");
  EXPECT_EQ(q.slice(1, 5).to_string(), " worl");
  std::vector<Payload> out{Payload("x")};
  q.take_all(out);
  std::string all;
  for (const Payload& p : out) p.append_to(all);
  EXPECT_EQ(all, "xo world!");  // the queue's pieces, shared, after what was there
  EXPECT_GE(out.size(), 2u);
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.pieces(), 0u);
}

TEST(CoreByteQueue, SmallAppendsShareOneBlock) {
  ByteQueue q;
  for (int i = 0; i < 100; ++i) q.append(std::string_view("0123456789"));
  EXPECT_EQ(q.pieces(), 1u);  // all in the first 16 KiB block
  EXPECT_EQ(q.size(), 1000u);
  // A slice of one piece shares it: one slice, no copy.
  int slices = 0;
  q.slice(100, 500).for_each_slice([&](std::span<const std::byte>) { ++slices; });
  EXPECT_EQ(slices, 1);
}

TEST(CoreByteQueue, BlocksFillThenANewOneStartsTwiceAsLarge) {
  ByteQueue q;
  const std::string chunk = pattern(1000, 1);
  for (int i = 0; i < 40; ++i) q.append(bytes_of(chunk));
  // 40,000 bytes in blocks of 1, 2, 4, 8, 16 and 16 KiB, each filled to the brim before the
  // next starts: ends at 1024, 3072, 7168, 15360, 31744, 48128.
  EXPECT_EQ(q.pieces(), 6u);
  std::string expect;
  for (int i = 0; i < 40; ++i) expect += chunk;
  EXPECT_EQ(str(q), expect);
  // A slice across a block boundary is two slices of two blocks: shared.
  int slices = 0;
  const Payload p = q.slice(15'000, 1460);
  p.for_each_slice([&](std::span<const std::byte>) { ++slices; });
  EXPECT_EQ(slices, 2);
  EXPECT_EQ(p.to_string(), expect.substr(15'000, 1460));
}

TEST(CoreByteQueue, AnEmptiedQueueStartsAtItsLastBlockSizeAcrossMovesAndCopies) {
  // 3000 bytes in appends of 300 into a fresh queue take a 1 KiB and a 2 KiB block (two
  // pieces); into one that has filled a 4 KiB block before, one 4 KiB block, even after it
  // emptied, moved or copied.
  const auto append_in = [](ByteQueue& q, const std::string& s, std::size_t step) {
    for (std::size_t at = 0; at < s.size(); at += step) q.append(bytes_of(s.substr(at, step)));
  };
  const std::string small = pattern(3000, 2);
  ByteQueue fresh;
  append_in(fresh, small, 300);
  EXPECT_EQ(fresh.pieces(), 2u);

  ByteQueue q;
  append_in(q, pattern(7000, 3), 1000);  // blocks of 1, 2 and 4 KiB
  EXPECT_EQ(q.pieces(), 3u);
  q.drop_front(7000);
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.pieces(), 0u);
  ByteQueue copy(q);
  ByteQueue moved(std::move(q));
  ByteQueue assigned;
  assigned = copy;
  for (ByteQueue* x : {&q, &copy, &moved, &assigned}) {
    append_in(*x, small, 300);
    EXPECT_EQ(x->pieces(), 1u);
    EXPECT_EQ(str(*x), small);
  }
  // 16 KiB, the largest block, is kept as well.
  ByteQueue big;
  append_in(big, pattern(40'000, 4), 1000);  // up to 16 KiB blocks
  std::vector<Payload> out;
  big.take_all(out);
  EXPECT_TRUE(big.empty());
  append_in(big, pattern(15'000, 5), 1000);
  EXPECT_EQ(big.pieces(), 1u);
}

TEST(CoreByteQueue, LargePayloadsAreSharedSmallOnesCoalesced) {
  ByteQueue q;
  const Payload big(std::string_view(pattern(1460, 2)));
  q.append(big);
  const std::byte* original = nullptr;
  big.for_each_slice([&](std::span<const std::byte> s) { original = s.data(); });
  const std::byte* queued = nullptr;
  q.slice(0, 1460).for_each_slice([&](std::span<const std::byte> s) { queued = s.data(); });
  EXPECT_EQ(queued, original);  // the very same bytes
  std::string expect = big.to_string();
  for (int i = 0; i < 10'000; ++i) {
    const char c = static_cast<char>('a' + i % 26);
    q.append(Payload(std::string_view(&c, 1)));
    expect += c;
  }
  EXPECT_LE(q.pieces(), 6u);  // 10,000 tiny segments in a few blocks, not 10,000 pieces
  EXPECT_EQ(str(q), expect);
}

TEST(CoreByteQueue, LargeAppendFillsBlocksOfTheSteadySize) {
  // Never one block of the append's size: above glibc's mmap threshold each would be an mmap.
  ByteQueue q;
  const std::string big = pattern(100'000, 3);
  q.append(bytes_of(big));
  EXPECT_EQ(q.pieces(), (big.size() + ByteQueue::kBlockSize - 1) / ByteQueue::kBlockSize);
  EXPECT_EQ(q.slice(0, big.size()).to_string(), big);
  EXPECT_EQ(str(q), big);
}

TEST(CoreByteQueue, AViewIsCopiedOnceIntoTheTailBlock) {
  // An arriving segment is decoded as a view of the caller's buffer; the queue keeps a copy.
  ByteQueue q;
  std::string wire = pattern(1460, 5);
  const std::string sent = wire;
  for (int i = 0; i < 3; ++i) q.append(Payload::view(bytes_of(wire)));
  wire.assign(wire.size(), '#');  // the caller reuses its buffer
  EXPECT_EQ(str(q), sent + sent + sent);
  EXPECT_EQ(q.pieces(), 2u);  // a 2 KiB block, then a 4 KiB one the third extends
  EXPECT_TRUE(q.slice(0, 3 * 1460).is_owned());
}

TEST(CoreByteQueue, SharesTheCallersPayloadWithoutCopying) {
  auto text = std::make_shared<const std::string>(pattern(100'000, 6));
  ByteQueue q;
  q.append(Payload(text, bytes_of(*text)));
  const std::byte* queued = nullptr;
  q.slice(5000, 1460).for_each_slice([&](std::span<const std::byte> s) { queued = s.data(); });
  EXPECT_EQ(queued, bytes_of(*text).data() + 5000);  // the caller's own bytes
  EXPECT_EQ(q.pieces(), 1u);
}

TEST(CoreByteQueue, CopiesAreIndependentAndShareBlocks) {
  ByteQueue a;
  a.append(std::string_view("abc"));
  ByteQueue b = a;
  // Both views end at the same fill of the shared tail block: the first to append extends it,
  // the second must start a new block rather than overwrite.
  a.append(std::string_view("DEF"));
  b.append(std::string_view("xyz"));
  EXPECT_EQ(str(a), "abcDEF");
  EXPECT_EQ(str(b), "abcxyz");
  EXPECT_EQ(a.pieces(), 1u);
  EXPECT_EQ(b.pieces(), 2u);
  b.drop_front(2);
  EXPECT_EQ(str(a), "abcDEF");
  EXPECT_EQ(str(b), "cxyz");
  ByteQueue c;
  c = b;
  b.drop_front(4);
  EXPECT_EQ(str(c), "cxyz");
  EXPECT_TRUE(b.empty());
  ByteQueue d = std::move(c);
  EXPECT_EQ(str(d), "cxyz");
  EXPECT_TRUE(c.empty());  // NOLINT(bugprone-use-after-move): moved-from is empty by contract
  EXPECT_TRUE(a == ByteQueue(a));
  EXPECT_FALSE(a == d);
}

TEST(CoreByteQueue, EqualityIsByContent) {
  ByteQueue a, b;
  a.append(std::string_view("hello world"));
  b.append(Payload(std::string_view("hel")));
  b.append(Payload(std::string_view("lo wor")));
  b.append(std::string_view("ld"));
  EXPECT_TRUE(a == b);
  b.drop_front(1);
  EXPECT_FALSE(a == b);
}

TEST(CoreByteQueue, SteadyStateAppendDropKeepsOnePieceListAndReusesBlocks) {
  ByteQueue q;
  const std::string seg = pattern(1460, 5);
  q.append(bytes_of(seg));
  std::size_t max_pieces = 0;
  for (int i = 0; i < 10'000; ++i) {
    q.append(bytes_of(seg));
    q.drop_front(1460);
    max_pieces = std::max(max_pieces, q.pieces());
    ASSERT_EQ(q.size(), 1460u);
  }
  // Never more than two blocks are live: the ring never grows past its first size.
  EXPECT_LE(max_pieces, 2u);
  EXPECT_EQ(str(q), seg);
}

// The sender's pattern: segments sliced in stream order (piece_at starts from the piece it
// found last, then the one after it), pieces of many sizes shared from the caller, ACKs
// dropping the front so the piece ring wraps, a retransmission going back to the front.
TEST(CoreByteQueue, InOrderSlicesAcrossSharedPiecesAndDrops) {
  ByteQueue q;
  std::string model;
  std::size_t sent = 0;  // offset of the next slice, from the front
  std::size_t most_pieces = 0;
  for (int round = 0; round < 400; ++round) {
    const std::string s = pattern(1000 + (round * 733) % 5000, round);
    q.append(Payload(std::string_view(s)));  // at least 1,000 bytes: a piece of its own
    model += s;
    for (std::size_t len : {1460u, 536u, 1460u, 7u}) {
      if (sent >= model.size()) break;
      ASSERT_EQ(q.slice(sent, len).to_string(), model.substr(sent, len)) << "round " << round;
      sent = std::min(model.size(), sent + len);
    }
    if (round % 5 == 0) {  // a retransmission of the first segment
      ASSERT_EQ(q.slice(0, 1460).to_string(), model.substr(0, 1460)) << "round " << round;
    }
    if (round % 3 == 2) {  // an ACK of part of what was sent
      const std::size_t n = sent / 2 + round % 17;
      q.drop_front(std::min(n, model.size()));
      model.erase(0, std::min(n, model.size()));
      sent -= std::min(sent, n);
    }
    most_pieces = std::max(most_pieces, q.pieces());
  }
  EXPECT_GE(most_pieces, 8u);
  ASSERT_EQ(str(q), model);
}

TEST(CoreByteQueue, RandomOpsAgainstStringModel) {
  std::mt19937_64 rng(42);
  auto rnd = [&](std::size_t n) { return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng); };
  ByteQueue q;
  std::string model;
  std::vector<std::pair<ByteQueue, std::string>> snaps;
  for (int i = 0; i < 20'000; ++i) {
    switch (rnd(8)) {
      case 0:
      case 1: {
        const std::string s = pattern(rnd(3000), rnd(1000));
        q.append(bytes_of(s));
        model += s;
        break;
      }
      case 2: {
        const std::string s = pattern(rnd(200), rnd(1000));
        q.append(Payload(std::string_view(s)));
        model += s;
        break;
      }
      case 3:
      case 4: {
        const std::size_t n = rnd(model.size() + 1);
        q.drop_front(n);
        model.erase(0, n);
        break;
      }
      case 5: {
        const std::size_t off = rnd(model.size() + 2), len = rnd(5000);
        const Payload p = q.slice(off, len);
        ASSERT_EQ(p.to_string(), off <= model.size() ? model.substr(off, len) : std::string());
        // Slicing a queue's own slice back in (a Payload appended from elsewhere).
        if (rnd(4) == 0) {
          q.append(p);
          model += p.to_string();
        }
        break;
      }
      case 6: {
        if (snaps.size() < 3) {
          snaps.emplace_back(q, model);
        } else {
          snaps[rnd(3)] = {q, model};
        }
        // Mutate a snapshot too: its appends must not disturb q.
        auto& [sq, sm] = snaps[rnd(snaps.size())];
        const std::string s = pattern(rnd(100), 9);
        sq.append(bytes_of(s));
        sm += s;
        break;
      }
      default:
        if (rnd(50) == 0) {
          std::vector<Payload> out;
          q.take_all(out);
          std::string all;
          for (const Payload& p : out) p.append_to(all);
          ASSERT_EQ(all, model);
          model.clear();
        }
        break;
    }
    ASSERT_EQ(q.size(), model.size()) << "op " << i;
    if (i % 97 == 0) {
      ASSERT_EQ(str(q), model) << "op " << i;
    }
  }
  ASSERT_EQ(str(q), model);
  for (auto& [sq, sm] : snaps) ASSERT_EQ(str(sq), sm);
}

TEST(CoreByteQueue, CopyFrontIntoASmallerBuffer) {
  ByteQueue q;
  q.append(std::string_view("abcdef"));
  q.append(Payload(std::string_view("ghij")));
  std::string out(8, '.');
  EXPECT_EQ(q.copy_front(std::as_writable_bytes(std::span(out.data(), out.size()))), 8u);
  EXPECT_EQ(out, "abcdefgh");
  EXPECT_EQ(q.size(), 10u);  // not consumed
}

}  // namespace
}  // namespace utcp::detail
