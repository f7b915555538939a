// Fixed-size slots cut from 64 KiB slabs, with a free list per thread, for objects a stack
// holds one of per connection (the flow table's leaves, core/persistent_map.hpp). A slot
// costs its size rounded to its alignment and nothing else; a malloc chunk costs 8 bytes of
// header and rounds up to 16 (issue 15: a 240 B leaf is a 256 B chunk).
//
// - A slot may be given back on any thread (a State copied to another thread frees its nodes
//   there): it joins that thread's free list. Slabs belong to no thread.
// - Slabs are never returned: a pool keeps the most slots it ever had, in use or free (malloc
//   would keep most of them too, a million leaves freed one by one being scattered). They stay
//   reachable from a list of slabs, so a leak checker sees no leak.
// - A thread that exits hands its free slots (and what is left of its current slab) to a
//   shared list that the next thread to run out takes whole.
// - Under AddressSanitizer the pool is plain operator new and delete (UTCP_SLOT_POOL 0), so a
//   use after free is still reported.
//
// The slabs are malloc'd (64 KiB chunks, below glibc's mmap threshold), so the memory budget
// benchmark (bench_e2e --only memory, mallinfo2) counts them whole, free slots included.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <new>
#include <utility>

#ifndef UTCP_SLOT_POOL
#if defined(__SANITIZE_ADDRESS__)
#define UTCP_SLOT_POOL 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UTCP_SLOT_POOL 0
#endif
#endif
#endif
#ifndef UTCP_SLOT_POOL
#define UTCP_SLOT_POOL 1
#endif

namespace utcp::detail {

template <std::size_t Size, std::size_t Align>
class SlotPool {
 public:
  static void* take() {
#if UTCP_SLOT_POOL
    Local& l = local();
    if (Free* f = l.head) {
      l.head = f->next;
      return f;
    }
    if (l.bump != l.end) {
      void* p = l.bump;
      l.bump += kSlot;
      return p;
    }
    return refill(l);
#else
    return ::operator new(Size);
#endif
  }
  static void give(void* p) {
#if UTCP_SLOT_POOL
    Local& l = local();
    if (l.closed) {
      hand_over(static_cast<Free*>(p), static_cast<Free*>(p));
      return;
    }
    arm_cleaner();
    Free* f = static_cast<Free*>(p);
    f->next = l.head;
    l.head = f;
#else
    ::operator delete(p);
#endif
  }

  static constexpr std::size_t kSlot = std::max((Size + Align - 1) / Align * Align, sizeof(void*));
  // The slab's request: a glibc chunk of exactly 64 KiB (request + 8, rounded up to 16), a
  // header word (the next slab) and as many slots as fit.
  static constexpr std::size_t kHeader = std::max(sizeof(void*), Align);
  static constexpr std::size_t kSlots = (64 * 1024 - 8 - kHeader) / kSlot;
  static constexpr std::size_t kSlabBytes = kHeader + kSlots * kSlot;
  static_assert(Align <= __STDCPP_DEFAULT_NEW_ALIGNMENT__ && kHeader % Align == 0 && kSlots >= 16);

 private:
  struct Free {
    Free* next;
  };
  // Trivially destructible, so reaching it costs no initialisation check.
  struct Local {
    Free* head;
    char* bump;  // the current slab's untouched slots: [bump, end)
    char* end;
    bool closed;  // the thread is exiting: its cleaner has run
  };
  static Local& local() {
    thread_local constinit Local l{};
    return l;
  }
  struct Cleaner {
    bool armed = false;
    ~Cleaner() {
      Local& l = local();
      for (; l.bump != l.end; l.bump += kSlot) {
        Free* f = reinterpret_cast<Free*>(l.bump);
        f->next = l.head;
        l.head = f;
      }
      if (l.head) {
        Free* last = l.head;
        while (last->next) last = last->next;
        hand_over(l.head, last);
      }
      l.head = nullptr;
      l.closed = true;
    }
  };
  static void arm_cleaner() {
    thread_local Cleaner cleaner;
    cleaner.armed = true;  // constructs it, so the thread's exit hands the slots over
  }

  // Slots of exited threads, and every slab ever made (reachable for leak checkers).
  struct Shared {
    std::atomic<bool> lock{false};
    Free* head = nullptr;
    std::atomic<void*> slabs{nullptr};
  };
  static Shared& shared() {
    static constinit Shared s{};
    return s;
  }
  // The shared list's lock: held for a few stores, at a thread's exit or when one runs out.
  struct Locked {
    Shared& s = shared();
    Locked() {
      while (s.lock.exchange(true, std::memory_order_acquire)) {
      }
    }
    ~Locked() { s.lock.store(false, std::memory_order_release); }
  };
  static void hand_over(Free* first, Free* last) {
    Locked g;
    last->next = g.s.head;
    g.s.head = first;
  }
  static Free* take_shared(bool all) {
    Locked g;
    Free* f = g.s.head;
    g.s.head = all || !f ? nullptr : f->next;
    return f;
  }
  [[gnu::noinline]] static void* refill(Local& l) {
    if (l.closed) {
      // A thread past its cleaner: no free list of its own any more.
      Free* f = take_shared(false);
      return f ? f : ::operator new(Size);  // given back to the shared list later: never freed
    }
    arm_cleaner();
    if (Free* taken = take_shared(true)) {
      l.head = taken->next;
      return taken;
    }
    char* slab = static_cast<char*>(::operator new(kSlabBytes));
    Shared& s = shared();
    void* top = s.slabs.load(std::memory_order_relaxed);
    do {
      *reinterpret_cast<void**>(slab) = top;
    } while (!s.slabs.compare_exchange_weak(top, slab, std::memory_order_release, std::memory_order_relaxed));
    l.bump = slab + kHeader + kSlot;
    l.end = slab + kSlabBytes;
    return slab + kHeader;
  }
};

}  // namespace utcp::detail
