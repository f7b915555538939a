// The per-thread cache of LossState objects (loss_state.hpp).
#include "core/loss_state.hpp"

#include <array>

namespace utcp::detail {

namespace {

// As the payload block cache (wire/payload.cpp): a few per thread, the storage trivially
// destructible, emptied by a cleaner when the thread exits; one given back after that is
// simply deleted.
struct LossCache {
  static constexpr std::size_t kDepth = 8;
  std::array<LossState*, kDepth> slot;
  std::size_t n;
  bool closed;
};
thread_local LossCache t_loss{};
struct LossCacheCleaner {
  bool armed = false;
  ~LossCacheCleaner() {
    while (t_loss.n > 0) delete t_loss.slot[--t_loss.n];
    t_loss.closed = true;
  }
};
thread_local LossCacheCleaner t_loss_cleaner;

}  // namespace

std::unique_ptr<LossState> BoxPool<LossState>::take() {
  if (t_loss.n == 0) return std::make_unique<LossState>();
  std::unique_ptr<LossState> l(t_loss.slot[--t_loss.n]);
  Scoreboard board = std::move(l->board);
  board.reset();
  *l = LossState{};
  l->board = std::move(board);
  return l;
}

void BoxPool<LossState>::give(std::unique_ptr<LossState> l) {
  if (t_loss.closed || t_loss.n == LossCache::kDepth) return;  // deleted here
  t_loss_cleaner.armed = true;  // constructs the cleaner, so the thread's exit frees the cache
  t_loss.slot[t_loss.n++] = l.release();
}

}  // namespace utcp::detail
