// A FIFO of bytes in shared PayloadBlocks.
#include "core/byte_queue.hpp"

#include <algorithm>
#include <bit>
#include <cstring>
#include <new>
#include <utility>

namespace utcp::detail {

namespace {
constexpr std::uint32_t kFirstCap = 4;

// A queue gives its piece list back when it empties (so an idle connection owns nothing),
// and a busy one empties often: recv takes everything, an ACK covers everything sent. Freed
// lists of up to kMaxCap pieces wait in a small cache per thread for the next queue that
// needs one, so a steady stream allocates none. Trivially destructible storage, as the block
// cache in payload.cpp: a list freed while the thread exits (after the cleaner) is deleted.
struct RepCache {
  static constexpr std::size_t kDepth = 8;
  static constexpr std::uint32_t kMaxCap = 64;
  void* slot[kDepth];
  std::uint32_t cap[kDepth];
  std::size_t n;
  bool closed;
};
thread_local RepCache t_reps{};
struct RepCacheCleaner {
  bool armed = false;
  ~RepCacheCleaner() {
    while (t_reps.n > 0) ::operator delete(t_reps.slot[--t_reps.n]);
    t_reps.closed = true;
  }
};
thread_local RepCacheCleaner t_rep_cleaner;

// A cached list with room for at least `cap` pieces (its capacity in `*got`), or nullptr.
void* take_cached_rep(std::uint32_t cap, std::uint32_t* got) {
  for (std::size_t i = t_reps.n; i-- > 0;) {
    if (t_reps.cap[i] < cap) continue;
    void* p = t_reps.slot[i];
    *got = t_reps.cap[i];
    --t_reps.n;
    t_reps.slot[i] = t_reps.slot[t_reps.n];
    t_reps.cap[i] = t_reps.cap[t_reps.n];
    return p;
  }
  return nullptr;
}
bool cache_rep(void* p, std::uint32_t cap) {
  if (t_reps.closed || cap > RepCache::kMaxCap || t_reps.n == RepCache::kDepth) return false;
  t_rep_cleaner.armed = true;  // constructs the cleaner, so the thread's exit frees the cache
  t_reps.slot[t_reps.n] = p;
  t_reps.cap[t_reps.n] = cap;
  ++t_reps.n;
  return true;
}
}  // namespace

ByteQueue::Rep* ByteQueue::new_rep(std::uint32_t cap) {
  std::uint32_t got = cap;
  void* mem = take_cached_rep(cap, &got);
  if (!mem) mem = ::operator new(sizeof(Rep) + cap * sizeof(Piece));
  Rep* r = ::new (mem) Rep;
  r->cap = got;
  return r;
}

void ByteQueue::free_rep(Rep* r) {
  for (std::uint32_t i = 0; i < r->count; ++i) r->at(i).~Piece();
  const std::uint32_t cap = r->cap;
  r->~Rep();
  if (cache_rep(r, cap)) return;
  ::operator delete(static_cast<void*>(r));
}

ByteQueue::ByteQueue(const ByteQueue& o) : size_(o.size_), last_block_(o.last_block_) {
  if (!o.rep_) return;
  // A copy holds exactly the pieces: copying is O(pieces), bytes stay shared.
  rep_ = new_rep(std::max(o.rep_->count, kFirstCap));
  rep_->tail = o.rep_->tail;
  rep_->tail_end = o.rep_->tail_end;
  rep_->next_start = o.rep_->next_start;
  for (std::uint32_t i = 0; i < o.rep_->count; ++i) ::new (&rep_->pieces()[i]) Piece(o.rep_->at(i));
  rep_->count = o.rep_->count;
}

ByteQueue& ByteQueue::operator=(const ByteQueue& o) {
  if (this != &o) {
    ByteQueue tmp(o);
    *this = std::move(tmp);
  }
  return *this;
}

ByteQueue& ByteQueue::operator=(ByteQueue&& o) noexcept {
  if (this != &o) {
    clear();
    rep_ = std::exchange(o.rep_, nullptr);
    size_ = std::exchange(o.size_, 0);
    last_block_ = o.last_block_;
  }
  return *this;
}

void ByteQueue::clear() {
  if (rep_) free_rep(rep_);
  rep_ = nullptr;
  size_ = 0;
}

std::size_t ByteQueue::pieces() const {
  return rep_ ? rep_->count : 0;
}

void ByteQueue::push_piece(Payload p) {
  if (!rep_) rep_ = new_rep(kFirstCap);
  if (rep_->count == rep_->cap) {
    Rep* r = new_rep(rep_->cap * 2);
    r->tail = std::move(rep_->tail);
    r->tail_end = rep_->tail_end;
    r->next_start = rep_->next_start;
    for (std::uint32_t i = 0; i < rep_->count; ++i) {
      ::new (&r->pieces()[i]) Piece(std::move(rep_->at(i)));
    }
    r->count = rep_->count;
    free_rep(rep_);  // destroys the moved-from pieces
    rep_ = r;
  }
  const std::size_t n = p.size();
  ::new (&rep_->at(rep_->count)) Piece{std::move(p), rep_->next_start};
  ++rep_->count;
  rep_->next_start += n;
}

void ByteQueue::append(std::span<const std::byte> bytes) {
  while (!bytes.empty()) {
    if (rep_ && rep_->tail) {
      // The last piece ends at tail_end in the tail block: extend both when nobody else
      // (another copy of this queue) has appended to the block since.
      PayloadBlock& block = *rep_->tail;
      const std::size_t n = std::min(block.capacity() - rep_->tail_end, bytes.size());
      if (n > 0 && block.try_append(rep_->tail_end, bytes.first(n))) {
        // The last piece is one slice of the tail block ending at tail_end: it grows in
        // place, sharing the block as before (no new reference to take and drop).
        Payload& last = rep_->at(rep_->count - 1).bytes;
        last.first_.len += static_cast<std::uint32_t>(n);
        rep_->tail_end += n;
        rep_->next_start += n;
        size_ += static_cast<std::uint32_t>(n);
        bytes = bytes.subspan(n);
        continue;
      }
    }
    const std::size_t cap = new_block_size(bytes.size());
    const std::size_t n = std::min(cap, bytes.size());
    std::shared_ptr<PayloadBlock> block = PayloadBlock::make(cap);
    block->try_append(0, bytes.first(n));
    push_piece(Payload(block, 0, n));
    rep_->tail = std::move(block);
    rep_->tail_end = n;
    last_block_ = static_cast<std::uint32_t>(cap);
    size_ += static_cast<std::uint32_t>(n);
    bytes = bytes.subspan(n);
  }
}

std::size_t ByteQueue::new_block_size(std::size_t n) const {
  // Small queues get small blocks (a few unread bytes must not pin 16 KiB on each of a million
  // connections); the size doubles with each block while the queue lives, so a busy queue
  // reaches kBlockSize after a few blocks and allocates once per 16 KiB from then on.
  // A large append is split into kBlockSize blocks, not given one block of its size: blocks
  // above glibc's mmap threshold (128 KiB at first) would each be an mmap, page faults and a
  // munmap, for every send of a large buffer.
  std::size_t want = size_ + n >= kBlockSize ? kBlockSize : std::bit_ceil(size_ + n);
  if (rep_ && rep_->tail) want = std::max(want, 2 * rep_->tail->capacity());
  // A queue that was busy before it emptied starts where it was.
  want = std::max<std::size_t>(want, last_block_);
  return std::clamp(want, kMinBlock, kBlockSize);
}

void ByteQueue::append(const Payload& p) {
  if (p.empty()) return;
  if (p.size() <= kCopyBelow || !p.is_owned()) {
    // Small payloads are copied, not shared: a flood of tiny segments must not cost a piece
    // (and pin a block) per segment; bytes are bounded by the window, pieces then are too.
    // A view (an arriving segment, decoded in place) is copied: this is its one copy.
    p.for_each_slice([&](std::span<const std::byte> s) { append(s); });
    return;
  }
  push_piece(p);
  rep_->tail.reset();  // the last piece is no longer in a block we fill
  size_ += static_cast<std::uint32_t>(p.size());
}

std::uint32_t ByteQueue::piece_at(std::size_t off) {
  // The last piece whose start is <= the byte's stream position.
  const std::uint64_t pos = rep_->at(0).start + off;
  const auto holds = [&](std::uint32_t i) {
    return i < rep_->count && rep_->at(i).start <= pos &&
           (i + 1 == rep_->count || rep_->at(i + 1).start > pos);
  };
  const std::uint32_t last =
      rep_->hint >= rep_->head ? rep_->hint - rep_->head : rep_->hint + rep_->cap - rep_->head;
  if (holds(last)) return last;
  if (holds(last + 1)) {
    rep_->hint = rep_->wrap(last + 1);
    return last + 1;
  }
  std::uint32_t lo = 0, hi = rep_->count;  // answer in [lo, hi)
  while (hi - lo > 1) {
    const std::uint32_t mid = lo + (hi - lo) / 2;
    if (rep_->at(mid).start <= pos) {
      lo = mid;
    } else {
      hi = mid;
    }
  }
  rep_->hint = rep_->wrap(lo);
  return lo;
}

Payload ByteQueue::slice(std::size_t off, std::size_t len) {
  off = std::min(off, size());
  len = std::min(len, size() - off);
  Payload out;
  if (len == 0) return out;
  const std::uint64_t front = rep_->at(0).start;
  const std::uint32_t first = piece_at(off);
  {
    // The common case, a segment within one piece: its view, without building a chain.
    const Piece& p = rep_->at(first);
    const std::size_t in = static_cast<std::size_t>(front + off - p.start);
    if (p.bytes.size() - in >= len) return p.bytes.sub(in, len);
  }
  for (std::uint32_t i = first; len > 0; ++i) {
    const Piece& p = rep_->at(i);
    const std::size_t in = static_cast<std::size_t>(front + off - p.start);
    const std::size_t n = std::min(p.bytes.size() - in, len);
    out = out.concat(p.bytes.sub(in, n));
    off += n;
    len -= n;
  }
  return out;
}

void ByteQueue::drop_front(std::size_t n) {
  if (n >= size_) {
    // Empty: give everything back, so an idle connection's queues own nothing.
    clear();
    return;
  }
  size_ -= static_cast<std::uint32_t>(n);
  while (n > 0) {
    Piece& p = rep_->at(0);
    const std::size_t len = p.bytes.size();
    if (len <= n) {
      p.~Piece();
      rep_->head = rep_->wrap(1);
      --rep_->count;
      n -= len;
    } else {
      if (p.bytes.second_.len == 0) {
        // One slice: its start moves on in place, the reference to its block moved along.
        auto& f = p.bytes.first_;
        const std::byte* at = f.bytes.get() + n;
        f.bytes = std::shared_ptr<const std::byte>(std::move(f.bytes), at);
        f.len -= static_cast<std::uint32_t>(n);
      } else {
        p.bytes = p.bytes.sub(n, len - n);
      }
      p.start += n;
      n = 0;
    }
  }
}

void ByteQueue::take_all(std::vector<Payload>& out) {
  if (size_ == 0) return;
  for (std::uint32_t i = 0; i < rep_->count; ++i) out.push_back(std::move(rep_->at(i).bytes));
  clear();
}

std::size_t ByteQueue::take_front(std::span<std::byte> out) {
  const std::size_t n = copy_front(out);
  drop_front(n);
  return n;
}

std::size_t ByteQueue::copy_front(std::span<std::byte> out) const {
  const std::size_t want = std::min(out.size(), size());
  std::size_t done = 0;
  for (std::uint32_t i = 0; done < want; ++i) {
    done += rep_->at(i).bytes.copy_to(out.subspan(done, want - done));
  }
  return done;
}

bool operator==(const ByteQueue& a, const ByteQueue& b) {
  if (a.size_ != b.size_) return false;
  // Walk both piece lists; compares contents, not how they are split.
  std::uint32_t ia = 0, ib = 0;
  std::size_t oa = 0, ob = 0, left = a.size_;
  std::byte ba[256], bb[256];
  while (left > 0) {
    const Payload& pa = a.rep_->at(ia).bytes;
    const Payload& pb = b.rep_->at(ib).bytes;
    const std::size_t n = std::min({pa.size() - oa, pb.size() - ob, sizeof ba});
    pa.sub(oa, n).copy_to(std::span(ba, n));
    pb.sub(ob, n).copy_to(std::span(bb, n));
    if (std::memcmp(ba, bb, n) != 0) return false;
    oa += n;
    ob += n;
    left -= n;
    if (oa == pa.size()) ++ia, oa = 0;
    if (ob == pb.size()) ++ib, ob = 0;
  }
  return true;
}

}  // namespace utcp::detail
