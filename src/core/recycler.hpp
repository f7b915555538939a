// Per-thread free lists of fixed-size blocks, so that storage a flow makes and drops on the
// per-segment path (out-of-order map nodes, the map itself) is reused instead of allocated
// again (issue 15). Like the payload block cache (wire/payload.cpp): at most Depth blocks
// per thread, the cache's storage trivially destructible, emptied by a cleaner when the
// thread exits; a block given back after that goes to operator delete.
#pragma once

#include <cstddef>
#include <new>

namespace utcp::detail {

template <std::size_t Size, std::size_t Depth>
class Recycler {
  struct Cache {
    void* slot[Depth];
    std::size_t n;
    bool closed;
  };
  struct Cleaner {
    bool armed = false;
    ~Cleaner() {
      Cache& c = cache();
      while (c.n > 0) ::operator delete(c.slot[--c.n]);
      c.closed = true;
    }
  };
  static Cache& cache() {
    thread_local Cache c{};
    return c;
  }

 public:
  static void* take() {
    Cache& c = cache();
    return c.n > 0 ? c.slot[--c.n] : ::operator new(Size);
  }
  static void give(void* p) {
    Cache& c = cache();
    if (c.closed || c.n == Depth) {
      ::operator delete(p);
      return;
    }
    thread_local Cleaner cleaner;
    cleaner.armed = true;  // constructs the cleaner, so the thread's exit frees the cache
    c.slot[c.n++] = p;
  }
};

// A std::allocator for node containers whose single-object allocations go through a
// Recycler of their size.
template <class T, std::size_t Depth>
struct RecyclingAllocator {
  using value_type = T;
  template <class U>
  struct rebind {
    using other = RecyclingAllocator<U, Depth>;
  };
  RecyclingAllocator() = default;
  template <class U>
  RecyclingAllocator(const RecyclingAllocator<U, Depth>&) noexcept {}

  T* allocate(std::size_t n) {
    if (n == 1) return static_cast<T*>(Recycler<sizeof(T), Depth>::take());
    return static_cast<T*>(::operator new(n * sizeof(T)));
  }
  void deallocate(T* p, std::size_t n) noexcept {
    if (n == 1) {
      Recycler<sizeof(T), Depth>::give(p);
      return;
    }
    ::operator delete(p);
  }
  template <class U>
  friend bool operator==(const RecyclingAllocator&, const RecyclingAllocator<U, Depth>&) noexcept {
    return true;
  }
};

}  // namespace utcp::detail
