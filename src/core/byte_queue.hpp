// A FIFO of bytes stored in shared PayloadBlocks: the send queue and the in-order receive
// queue of a connection.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "utcp/payload.hpp"

namespace utcp::detail {

// The bytes are a sequence of pieces (Payloads). Copying a ByteQueue copies only the piece
// list (references to blocks), O(pieces); the bytes themselves are never copied, and two
// copies may keep appending independently (PayloadBlock::try_append lets only the first of
// them extend a shared tail block; the other starts a new block).
//
// Memory: an empty queue owns nothing and is 8 bytes (an idle connection has two). The piece
// list and the tail block are released as soon as the queue empties, so the first append to
// an empty queue allocates its piece list (and a block for copied bytes); while the queue is
// non-empty, append + drop_front allocate only a new block when the tail one is full
// (one allocation per 16 KiB once the queue has grown past its first small blocks) and,
// rarely, a larger piece list (doubling).
class ByteQueue {
 public:
  static constexpr std::size_t kBlockSize = PayloadBlock::kPooledCapacity;  // the steady-state block size
  static constexpr std::size_t kMinBlock = 1024;  // the first block of a small queue
  static constexpr std::size_t kCopyBelow = 512;  // append(Payload) copies up to this

  ByteQueue() = default;
  ByteQueue(const ByteQueue& o);
  ByteQueue(ByteQueue&& o) noexcept : rep_(o.rep_) { o.rep_ = empty_rep(rep_->last_block); }
  ByteQueue& operator=(const ByteQueue& o);
  ByteQueue& operator=(ByteQueue&& o) noexcept;
  ~ByteQueue() { clear(); }

  std::size_t size() const { return rep_->size; }
  bool empty() const { return size() == 0; }

  // Copies into the tail block when our view still ends at its fill and there is room
  // (PayloadBlock::try_append), else into a new block: kMinBlock for a small queue, doubling
  // per block up to kBlockSize while the queue lives; a large append fills kBlockSize blocks.
  void append(std::span<const std::byte> bytes);
  void append(std::string_view bytes) { append(std::as_bytes(std::span(bytes.data(), bytes.size()))); }
  // Shares p's slices (no byte copied) when p is larger than kCopyBelow and owns its bytes;
  // copies smaller ones into the tail block, so tiny segments do not cost a piece each, and
  // views (Payload::view), which must not outlive the call.
  void append(const Payload& p);

  // Bytes [off, off + len) from the front (clamped to size()), sharing the blocks. A Payload
  // holds at most two slices: when the range spans more than two pieces (pieces adjacent in
  // one block count as one), Payload::concat copies the bytes into one new block. A sender
  // that slices at most an MSS out of 16 KiB blocks spans at most two, so it never copies.
  // Not const: it moves the lookup hint (Rep::hint), so a State read from several threads
  // never writes through a const path.
  Payload slice(std::size_t off, std::size_t len);

  // Removes n bytes from the front (n <= size(); more is clamped).
  void drop_front(std::size_t n);

  // Moves every piece to the end of `out` (the queue's own blocks, shared: no byte is copied)
  // and empties the queue.
  void take_all(std::vector<Payload>& out);

  // Copies min(size(), out.size()) bytes from the front into `out` and removes them; returns
  // how many.
  std::size_t take_front(std::span<std::byte> out);

  // Copies min(size(), out.size()) bytes from the front without consuming them; returns how many.
  std::size_t copy_front(std::span<std::byte> out) const;

  // Removes everything.
  void clear();

  // Number of pieces (for tests and statistics).
  std::size_t pieces() const;

  friend bool operator==(const ByteQueue& a, const ByteQueue& b);  // by content

 private:
  struct Piece {
    Payload bytes;
    std::uint64_t start;  // stream position of its first byte, for binary search in slice
  };
  // One allocation: this header, then `cap` Pieces in a ring.
  struct Rep {
    std::shared_ptr<PayloadBlock> tail;  // the block the last piece ends in, when we filled it
    std::size_t tail_end = 0;            // our view's end in `tail`
    std::uint32_t cap = 0, head = 0, count = 0;
    // The ring slot piece_at found last (a hint, checked before use): segments go out in
    // stream order, so the next lookup is mostly in that piece or the one after it.
    std::uint32_t hint = 0;
    std::uint64_t next_start = 0;  // stream position after the last byte
    std::uint32_t size = 0;        // bytes queued: a queue holds less than 4 GiB (a 32-bit sequence space's worth)
    // The capacity of the last block this queue filled (0: none yet). It outlives the piece
    // list (an empty queue points at the stand-in for it), so a busy queue that empties (recv took
    // everything, ACKs covered everything sent) starts its next block at the size it had
    // reached rather than at kMinBlock again.
    std::uint32_t last_block = 0;
    Piece* pieces() { return reinterpret_cast<Piece*>(reinterpret_cast<std::byte*>(this) + sizeof(Rep)); }
    const Piece* pieces() const {
      return reinterpret_cast<const Piece*>(reinterpret_cast<const std::byte*>(this) + sizeof(Rep));
    }
    Piece& at(std::uint32_t i) { return pieces()[wrap(i)]; }
    const Piece& at(std::uint32_t i) const { return pieces()[wrap(i)]; }
    std::uint32_t wrap(std::uint32_t i) const {
      const std::uint32_t j = head + i;
      return j >= cap ? j - cap : j;
    }
  };
  static_assert(sizeof(Rep) % alignof(Piece) == 0);

  static Rep* new_rep(std::uint32_t cap);
  static void free_rep(Rep* r);
  Rep* push_piece(Payload p);  // grows the ring when full (makes it when empty); returns it
  std::size_t new_block_size(std::size_t n) const;
  std::uint32_t piece_at(std::size_t off);  // index of the piece holding byte `off`

  // An empty queue's stand-in for a piece list: no pieces, cap 0, size 0, and the capacity of
  // its last block (Rep::last_block survives the list). Blocks are powers of two from
  // kMinBlock to kBlockSize, so there is one per log2(capacity) - 9 (1 for 1 KiB, 5 for
  // 16 KiB) and [0] for none. Shared by every thread and never written: nothing writes
  // through a Rep whose cap is 0.
  static constexpr std::size_t kEmptyReps = 6;
  static_assert(kMinBlock == 1024 && kBlockSize == (std::size_t{512} << (kEmptyReps - 1)));
  static Rep empty_reps_[kEmptyReps];
  static Rep* empty_rep(std::uint32_t last_block) {
    return &empty_reps_[last_block == 0 ? 0 : std::countr_zero(last_block) - 9];
  }
  static bool real(const Rep* r) { return r->cap != 0; }

  // One pointer (issue 15: an idle connection's two queues in 16 bytes, not 32): the piece
  // list while the queue holds bytes, else one of empty_reps_, so size() is one load more
  // and no branch.
  Rep* rep_ = &empty_reps_[0];
};
static_assert(sizeof(ByteQueue) == sizeof(void*));

}  // namespace utcp::detail
