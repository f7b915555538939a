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

constinit ByteQueue::Rep ByteQueue::empty_reps_[kEmptyReps] = {
    // tail, tail_end, cap, head, count, hint, next_start, size, last_block
    {{}, 0, 0, 0, 0, 0, 0, 0, 0},     {{}, 0, 0, 0, 0, 0, 0, 0, 1024}, {{}, 0, 0, 0, 0, 0, 0, 0, 2048},
    {{}, 0, 0, 0, 0, 0, 0, 0, 4096}, {{}, 0, 0, 0, 0, 0, 0, 0, 8192}, {{}, 0, 0, 0, 0, 0, 0, 0, 16384}};

ByteQueue::ByteQueue(const ByteQueue& o) : rep_(o.rep_) {
  const Rep* from = o.rep_;
  if (!real(from)) return;  // the same empty stand-in
  // A copy holds exactly the pieces: copying is O(pieces), bytes stay shared.
  Rep* r = new_rep(std::max(from->count, kFirstCap));
  r->tail = from->tail;
  r->tail_end = from->tail_end;
  r->next_start = from->next_start;
  r->size = from->size;
  r->last_block = from->last_block;
  for (std::uint32_t i = 0; i < from->count; ++i) ::new (&r->pieces()[i]) Piece(from->at(i));
  r->count = from->count;
  rep_ = r;
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
    if (real(rep_)) free_rep(rep_);
    rep_ = o.rep_;
    o.rep_ = empty_rep(rep_->last_block);  // empty, keeping its last block
  }
  return *this;
}

void ByteQueue::clear() {
  Rep* r = rep_;
  if (!real(r)) return;
  rep_ = empty_rep(r->last_block);
  free_rep(r);
}

std::size_t ByteQueue::pieces() const {
  return rep_->count;
}

ByteQueue::Rep* ByteQueue::push_piece(Payload p) {
  Rep* old = rep_;
  if (!real(old)) {
    const std::uint32_t last_block = old->last_block;
    old = new_rep(kFirstCap);
    old->last_block = last_block;
    rep_ = old;
  }
  if (old->count == old->cap) {
    Rep* r = new_rep(old->cap * 2);
    r->tail = std::move(old->tail);
    r->tail_end = old->tail_end;
    r->next_start = old->next_start;
    r->size = old->size;
    r->last_block = old->last_block;
    for (std::uint32_t i = 0; i < old->count; ++i) {
      ::new (&r->pieces()[i]) Piece(std::move(old->at(i)));
    }
    r->count = old->count;
    free_rep(old);  // destroys the moved-from pieces
    rep_ = r;
    old = r;
  }
  const std::size_t n = p.size();
  ::new (&old->at(old->count)) Piece{std::move(p), old->next_start};
  ++old->count;
  old->next_start += n;
  return old;
}

void ByteQueue::append(std::span<const std::byte> bytes) {
  while (!bytes.empty()) {
    Rep* r = rep_;
    if (r->tail) {  // a stand-in has none
      // The last piece ends at tail_end in the tail block: extend both when nobody else
      // (another copy of this queue) has appended to the block since.
      PayloadBlock& block = *r->tail;
      const std::size_t n = std::min(block.capacity() - r->tail_end, bytes.size());
      if (n > 0 && block.try_append(r->tail_end, bytes.first(n))) {
        // The last piece is one slice of the tail block ending at tail_end: it grows in
        // place, sharing the block as before (no new reference to take and drop).
        Payload& last = r->at(r->count - 1).bytes;
        last.first_.len += static_cast<std::uint32_t>(n);
        r->tail_end += n;
        r->next_start += n;
        r->size += static_cast<std::uint32_t>(n);
        bytes = bytes.subspan(n);
        continue;
      }
    }
    const std::size_t cap = new_block_size(bytes.size());
    const std::size_t n = std::min(cap, bytes.size());
    std::shared_ptr<PayloadBlock> block = PayloadBlock::make(cap);
    block->try_append(0, bytes.first(n));
    r = push_piece(Payload(block, 0, n));
    r->tail = std::move(block);
    r->tail_end = n;
    r->last_block = static_cast<std::uint32_t>(cap);
    r->size += static_cast<std::uint32_t>(n);
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
  const Rep* r = rep_;
  std::size_t want = r->size + n >= kBlockSize ? kBlockSize : std::bit_ceil(r->size + n);
  if (r->tail) want = std::max(want, 2 * r->tail->capacity());
  // A queue that was busy before it emptied starts where it was.
  want = std::max<std::size_t>(want, r->last_block);
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
  Rep* r = push_piece(p);
  r->tail.reset();  // the last piece is no longer in a block we fill
  r->size += static_cast<std::uint32_t>(p.size());
}

std::uint32_t ByteQueue::piece_at(std::size_t off) {
  Rep* const r = rep_;
  // The last piece whose start is <= the byte's stream position.
  const std::uint64_t pos = r->at(0).start + off;
  const auto holds = [&](std::uint32_t i) {
    return i < r->count && r->at(i).start <= pos &&
           (i + 1 == r->count || r->at(i + 1).start > pos);
  };
  const std::uint32_t last =
      r->hint >= r->head ? r->hint - r->head : r->hint + r->cap - r->head;
  if (holds(last)) return last;
  if (holds(last + 1)) {
    r->hint = r->wrap(last + 1);
    return last + 1;
  }
  std::uint32_t lo = 0, hi = r->count;  // answer in [lo, hi)
  while (hi - lo > 1) {
    const std::uint32_t mid = lo + (hi - lo) / 2;
    if (r->at(mid).start <= pos) {
      lo = mid;
    } else {
      hi = mid;
    }
  }
  r->hint = r->wrap(lo);
  return lo;
}

Payload ByteQueue::slice(std::size_t off, std::size_t len) {
  const std::size_t size = this->size();
  off = std::min(off, size);
  len = std::min(len, size - off);
  Payload out;
  if (len == 0) return out;
  Rep* const r = rep_;
  const std::uint64_t front = r->at(0).start;
  const std::uint32_t first = piece_at(off);
  {
    // The common case, a segment within one piece: its view, without building a chain.
    const Piece& p = r->at(first);
    const std::size_t in = static_cast<std::size_t>(front + off - p.start);
    if (p.bytes.size() - in >= len) return p.bytes.sub(in, len);
    // The next most common, a segment across the boundary of two one-slice pieces (a block
    // filled, the next begun): its two views, joined as concat joins them (one slice when
    // they continue each other in one block), without the general loop's temporaries.
    if (first + 1 < r->count) {
      const Piece& q = r->at(first + 1);
      const std::size_t n = p.bytes.size() - in;
      if (p.bytes.second_.len == 0 && q.bytes.second_.len == 0 && n + q.bytes.size() >= len) {
        out = p.bytes.sub(in, n);
        Payload next = q.bytes.sub(0, len - n);
        if (out.first_.continued_by(next.first_)) {
          out.first_.len += next.first_.len;
        } else {
          out.second_ = std::move(next.first_);
        }
        return out;
      }
    }
  }
  for (std::uint32_t i = first; len > 0; ++i) {
    const Piece& p = r->at(i);
    const std::size_t in = static_cast<std::size_t>(front + off - p.start);
    const std::size_t n = std::min(p.bytes.size() - in, len);
    out = out.concat(p.bytes.sub(in, n));
    off += n;
    len -= n;
  }
  return out;
}

void ByteQueue::drop_front(std::size_t n) {
  Rep* const r = rep_;
  if (n >= r->size) {
    // Empty: give everything back, so an idle connection's queues own nothing.
    clear();
    return;
  }
  r->size -= static_cast<std::uint32_t>(n);
  while (n > 0) {
    Piece& p = r->at(0);
    const std::size_t len = p.bytes.size();
    if (len <= n) {
      p.~Piece();
      r->head = r->wrap(1);
      --r->count;
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
  Rep* const r = rep_;
  if (r->size == 0) return;
  for (std::uint32_t i = 0; i < r->count; ++i) out.push_back(std::move(r->at(i).bytes));
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
  if (a.size() != b.size()) return false;
  // Walk both piece lists; compares contents, not how they are split.
  std::uint32_t ia = 0, ib = 0;
  std::size_t oa = 0, ob = 0, left = a.size();
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
