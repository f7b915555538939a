// Refcounted payload blocks and the Payload slices over them.
#include "utcp/payload.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <cstddef>
#include <cstring>

namespace utcp {

PayloadBlock::PayloadBlock(std::size_t capacity)
    : owned_(capacity ? std::make_unique_for_overwrite<std::byte[]>(capacity) : nullptr),
      bytes_(owned_.get()),
      capacity_(capacity) {}

namespace {

// The blocks of kPooledCapacity bytes (every busy queue's blocks) are recycled through a small
// cache per thread: a block freed on a thread goes back to that thread's cache (at most
// kDepth of them, 1 MiB; at 256 KiB `bench_e2e --only sink` still made 0.09 blocks per data
// segment), and make() on the thread takes from it before calling operator new. A bulk transfer then allocates no block in the steady state: the send queue frees its
// blocks as ACKs arrive and the receive queue's blocks come back when the reader drops what
// recv returned, on the same thread. The cache's storage is trivially destructible, so a block
// freed while the thread exits (after the cleaner ran) simply goes to operator delete.
struct BlockCache {
  static constexpr std::size_t kDepth = 64;
  void* slot[kDepth];
  std::size_t n;
  bool closed;  // the thread is exiting: no more caching
};
thread_local BlockCache t_blocks{};
struct BlockCacheCleaner {
  bool armed = false;
  ~BlockCacheCleaner() {
    while (t_blocks.n > 0) ::operator delete(t_blocks.slot[--t_blocks.n]);
    t_blocks.closed = true;
  }
};
thread_local BlockCacheCleaner t_cleaner;

// Blocks also move between threads: on a threaded host the application's thread fills them
// (send) and the I/O thread frees them (the ACKs), so one thread's cache stays empty and the
// other's full, and every block was a malloc on one thread and a free on the other (glibc then
// trims and refaults the arena: with a 4 MiB send buffer 8,000-10,000 page faults and 30-70
// madvise calls per 256 MiB sent, docs/PERFORMANCE.md). A thread whose cache is full passes
// half of it to a pool shared by all threads, and a thread whose cache is empty takes up to
// half a cache from it. The pool is slots taken and filled with atomic exchanges (no lock):
// kShared blocks (4 MiB) at most; beyond that blocks go back to operator delete. Blocks in
// the pool are never freed (like a thread's cache until the thread exits), so the pool holds
// at most 4 MiB for the process.
// `count` follows the filled slots (it may lag them for a moment), so that an empty or full
// pool costs one load, not a scan of its slots.
struct SharedBlocks {
  static constexpr std::size_t kShared = 256;
  std::atomic<void*> slot[kShared];
  std::atomic<std::ptrdiff_t> count;  // signed: a take may count down before the share counts up
};
constinit SharedBlocks g_shared{};

bool share_block(void* p) {
  if (g_shared.count.load(std::memory_order_relaxed) >= std::ptrdiff_t{SharedBlocks::kShared}) return false;
  for (auto& s : g_shared.slot) {
    if (s.load(std::memory_order_relaxed) != nullptr) continue;
    void* expected = nullptr;
    if (s.compare_exchange_strong(expected, p, std::memory_order_release, std::memory_order_relaxed)) {
      g_shared.count.fetch_add(1, std::memory_order_relaxed);
      return true;
    }
  }
  return false;
}

// Fills the (empty) cache with up to half of kDepth blocks from the pool.
void refill_from_shared() {
  if (g_shared.count.load(std::memory_order_relaxed) <= 0) return;
  for (auto& s : g_shared.slot) {
    if (t_blocks.n == BlockCache::kDepth / 2) return;
    if (s.load(std::memory_order_relaxed) == nullptr) continue;
    if (void* p = s.exchange(nullptr, std::memory_order_acquire)) {
      g_shared.count.fetch_sub(1, std::memory_order_relaxed);
      t_blocks.slot[t_blocks.n++] = p;
    }
  }
}

void* take_cached_block() {
  if (t_blocks.n == 0 && !t_blocks.closed) {
    refill_from_shared();
    if (t_blocks.n > 0) t_cleaner.armed = true;  // the thread's exit frees what it took
  }
  return t_blocks.n > 0 ? t_blocks.slot[--t_blocks.n] : nullptr;
}
bool cache_block(void* p) {
  if (t_blocks.closed) return false;
  if (t_blocks.n == BlockCache::kDepth) {
    // Half of the cache to the pool, for a thread that allocates what this one frees.
    while (t_blocks.n > BlockCache::kDepth / 2 && share_block(t_blocks.slot[t_blocks.n - 1])) --t_blocks.n;
    if (t_blocks.n == BlockCache::kDepth) return share_block(p);
  }
  t_cleaner.armed = true;  // constructs the cleaner, so the thread's exit frees the cache
  t_blocks.slot[t_blocks.n++] = p;
  return true;
}

// allocate_shared's allocator for make(): each allocation (there is one, the control block
// with the PayloadBlock inside) gets `extra` bytes behind it, whose address it reports in
// `*trailer` before the block is constructed.
template <class T>
struct TrailingAllocator {
  using value_type = T;
  std::size_t extra;
  std::byte** trailer;

  TrailingAllocator(std::size_t e, std::byte** t) : extra(e), trailer(t) {}
  template <class U>
  TrailingAllocator(const TrailingAllocator<U>& o) : extra(o.extra), trailer(o.trailer) {}

  // Blocks of kPooledCapacity bytes go through the thread's cache (n is always 1: the
  // control block with the PayloadBlock inside, so equal `extra` means equal sizes).
  bool pooled() const { return extra == PayloadBlock::kPooledCapacity; }
  T* allocate(std::size_t n) {
    void* cached = pooled() && n == 1 ? take_cached_block() : nullptr;
    auto* p = static_cast<std::byte*>(cached ? cached : ::operator new(n * sizeof(T) + extra));
    *trailer = p + n * sizeof(T);
    return reinterpret_cast<T*>(p);
  }
  void deallocate(T* p, std::size_t n) {
    if (pooled() && n == 1 && cache_block(p)) return;
    ::operator delete(static_cast<void*>(p), n * sizeof(T) + extra);
  }
  template <class U>
  friend bool operator==(const TrailingAllocator&, const TrailingAllocator<U>&) {
    return true;
  }
};

}  // namespace

std::shared_ptr<PayloadBlock> PayloadBlock::make(std::size_t capacity) {
  std::byte* bytes = nullptr;
  // The allocator sets `bytes` before the block is constructed from it (by reference).
  struct Late {
    std::byte* const& p;
    operator std::byte*() const { return p; }
  };
  return std::allocate_shared<PayloadBlock>(TrailingAllocator<PayloadBlock>(capacity, &bytes), Key{},
                                            Late{bytes}, capacity);
}

bool PayloadBlock::try_append(std::size_t end, std::span<const std::byte> bytes) {
  if (end > capacity_ || bytes.size() > capacity_ - end) return false;
  // Claim [end, end + n) first: of two writers holding the same `end`, exactly one moves
  // fill on, and only that one writes. Nobody reads the claimed range until its writer has
  // made a Payload over it, after this returns.
  std::size_t expected = end;
  if (!fill_.compare_exchange_strong(expected, end + bytes.size(), std::memory_order_acq_rel)) return false;
  if (!bytes.empty()) std::memcpy(bytes_ + end, bytes.data(), bytes.size());
  return true;
}

namespace {

std::shared_ptr<const PayloadBlock> block_with(std::span<const std::byte> bytes) {
  auto b = PayloadBlock::make(bytes.size());
  b->try_append(0, bytes);
  return b;
}

}  // namespace

Payload::Payload(std::span<const std::byte> bytes) {
  if (bytes.empty()) return;
  auto b = block_with(bytes);
  const std::byte* at = b->data();
  first_ = {std::shared_ptr<const std::byte>(std::move(b), at), static_cast<std::uint32_t>(bytes.size())};
}

Payload::Payload(std::string_view bytes) : Payload(std::as_bytes(std::span(bytes.data(), bytes.size()))) {}

Payload::Payload(std::shared_ptr<const PayloadBlock> block, std::size_t off, std::size_t len) {
  if (len == 0) return;
  const std::byte* at = block->data() + off;
  first_ = {std::shared_ptr<const std::byte>(std::move(block), at), static_cast<std::uint32_t>(len)};
}

Payload::Payload(std::shared_ptr<const void> owner, std::span<const std::byte> bytes) {
  if (bytes.empty()) return;
  first_ = {std::shared_ptr<const std::byte>(std::move(owner), bytes.data()),
            static_cast<std::uint32_t>(bytes.size())};
}

Payload Payload::owned() const {
  if (is_owned()) return *this;
  auto b = PayloadBlock::make(size());
  std::size_t fill = 0;
  for_each_slice([&](std::span<const std::byte> s) {
    b->try_append(fill, s);
    fill += s.size();
  });
  return Payload(std::move(b), 0, fill);
}

std::string Payload::to_string() const {
  std::string s(size(), '\0');
  copy_to(std::as_writable_bytes(std::span(s.data(), s.size())));
  return s;
}

void Payload::append_to(std::string& out) const {
  for_each_slice(
      [&](std::span<const std::byte> s) { out.append(reinterpret_cast<const char*>(s.data()), s.size()); });
}

std::size_t Payload::copy_to(std::span<std::byte> out) const {
  std::size_t done = 0;
  for_each_slice([&](std::span<const std::byte> s) {
    const std::size_t n = std::min(s.size(), out.size() - done);
    if (n) std::memcpy(out.data() + done, s.data(), n);
    done += n;
  });
  return done;
}

std::byte Payload::at(std::size_t i) const {
  if (i < first_.len) return first_.bytes.get()[i];
  return second_.bytes.get()[i - first_.len];
}

Payload Payload::sub(std::size_t off, std::size_t len) const {
  if (second_.len == 0) {
    // One slice (every segment the send queue cuts from within one piece): its view, aliasing
    // the same owner.
    off = std::min<std::size_t>(off, first_.len);
    len = std::min<std::size_t>(len, first_.len - off);
    Payload p;
    if (len == 0) return p;
    p.first_ = {std::shared_ptr<const std::byte>(first_.bytes, first_.bytes.get() + off), static_cast<std::uint32_t>(len)};
    return p;
  }
  const std::size_t total = size();
  off = std::min(off, total);
  len = std::min(len, total - off);
  Payload p;
  if (len == 0) return p;
  auto take = [&](const Slice& s, std::size_t from, std::size_t n) {
    Slice r{std::shared_ptr<const std::byte>(s.bytes, s.bytes.get() + from), static_cast<std::uint32_t>(n)};
    if (p.first_.len == 0) {
      p.first_ = std::move(r);
    } else {
      p.second_ = std::move(r);
    }
  };
  if (off < first_.len) {
    const std::size_t n = std::min(len, first_.len - off);
    take(first_, off, n);
    if (len > n) take(second_, 0, len - n);
  } else {
    take(second_, off - first_.len, len);
  }
  return p;
}

Payload Payload::concat(const Payload& next) const {
  if (next.empty()) return *this;
  if (empty()) return next;
  // Up to four slices; merge neighbours that continue each other in one block.
  std::array<Slice, 4> s;
  std::size_t n = 0;
  for (const Slice* x : {&first_, &second_, &next.first_, &next.second_}) {
    if (x->len == 0) continue;
    if (n > 0 && s[n - 1].continued_by(*x)) {
      s[n - 1].len += x->len;
    } else {
      s[n++] = *x;
    }
  }
  Payload p;
  if (n <= 2) {
    p.first_ = s[0];
    if (n == 2) p.second_ = s[1];
    return p;
  }
  auto b = PayloadBlock::make(size() + next.size());
  std::size_t fill = 0;
  for (std::size_t k = 0; k < n; ++k) {
    b->try_append(fill, std::span(s[k].bytes.get(), s[k].len));
    fill += s[k].len;
  }
  const std::byte* at = b->data();
  p.first_ = {std::shared_ptr<const std::byte>(std::move(b), at), static_cast<std::uint32_t>(fill)};
  return p;
}

bool operator==(const Payload& a, const Payload& b) {
  if (a.size() != b.size()) return false;
  // Walk both slice lists side by side.
  const Payload::Slice* as[2] = {&a.first_, &a.second_};
  const Payload::Slice* bs[2] = {&b.first_, &b.second_};
  std::size_t ai = 0, bi = 0, ao = 0, bo = 0, left = a.size();
  while (left > 0) {
    while (as[ai]->len == ao) ++ai, ao = 0;
    while (bs[bi]->len == bo) ++bi, bo = 0;
    const std::size_t n = std::min({as[ai]->len - ao, bs[bi]->len - bo, left});
    const std::byte* pa = as[ai]->bytes.get() + ao;
    const std::byte* pb = bs[bi]->bytes.get() + bo;
    if (pa != pb && std::memcmp(pa, pb, n) != 0) return false;
    ao += n;
    bo += n;
    left -= n;
  }
  return true;
}

std::ostream& operator<<(std::ostream& os, const Payload& p) {
  static constexpr char kDigits[] = "0123456789abcdef";
  constexpr std::size_t kShown = 16;
  std::string hex;
  for (std::size_t i = 0; i < p.size() && i < kShown; ++i) {
    const auto b = std::to_integer<unsigned>(p.at(i));
    hex += kDigits[b >> 4];
    hex += kDigits[b & 0xf];
  }
  os << "Payload(" << p.size() << (p.size() == 1 ? " byte" : " bytes");
  if (!p.empty()) os << ' ' << hex << (p.size() > kShown ? "..." : "");
  return os << ')';
}

}  // namespace utcp
