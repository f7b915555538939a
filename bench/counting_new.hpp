// A counting global operator new for one program (a benchmark, or the state tests through
// tests/state/zero_copy_test.cpp): include this header in exactly one
// .cpp of the program (each bench/bench_*.cpp is a program of its own). allocations() is the
// number of operator new calls so far.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <new>

namespace utcp::bench {
inline std::atomic<std::uint64_t> g_allocations{0};
inline std::uint64_t allocations() {
  return g_allocations.load(std::memory_order_relaxed);
}
}  // namespace utcp::bench

// GCC cannot see that this operator new and operator delete are a matching malloc/free pair
// when it inlines them.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
void* operator new(std::size_t n) {
  utcp::bench::g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}
