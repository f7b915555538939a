// Out-of-order receive data: RFC 9293 §3.10.7.4 "seventh, process the segment text", with
// the queue bounded as DESIGN.md requires.
#include "core/reassembly.hpp"

#include <algorithm>
#include <iterator>

namespace utcp::detail {

namespace {
std::size_t slice_count(const Payload& p) {
  std::size_t n = 0;
  p.for_each_slice([&](std::span<const std::byte>) { ++n; });
  return n;
}
// Held bytes outlive the call that brought them, so an arriving view is copied. Copies go
// into 16 KiB blocks (PayloadBlock::kPooledCapacity, recycled through the block cache) that
// the thread's flows fill one after another, each piece a slice of one: no allocation per
// segment, and a block is freed when its last piece is delivered or dropped. A piece pins at
// most its block: 16 KiB for as little as one held byte, bounded as held bytes are, by the
// ranges (max_ooo_ranges) and the window.
struct Arena {
  std::shared_ptr<PayloadBlock> block;
  std::size_t end = 0;
};
thread_local Arena t_arena;

Payload held_copy(const Payload& p) {
  if (p.is_owned()) return p;
  const std::size_t n = p.size();
  if (n > PayloadBlock::kPooledCapacity) return p.owned();
  if (!t_arena.block || t_arena.block->capacity() - t_arena.end < n || t_arena.block->fill() != t_arena.end) {
    t_arena.block = PayloadBlock::make(PayloadBlock::kPooledCapacity);
    t_arena.end = 0;
  }
  const std::size_t start = t_arena.end;
  p.for_each_slice([&](std::span<const std::byte> s) {
    t_arena.block->try_append(t_arena.end, s);
    t_arena.end += s.size();
  });
  return Payload(t_arena.block, start, n);
}

}  // namespace

void Reassembly::RepDelete::operator()(Rep* r) const noexcept {
  r->~Rep();
  Recycler<sizeof(Rep), kRecycled>::give(r);
}

Reassembly::RepPtr Reassembly::make_rep() {
  return RepPtr(::new (Recycler<sizeof(Rep), kRecycled>::take()) Rep());
}

Reassembly::RepPtr Reassembly::make_rep(const Rep& from) {
  return RepPtr(::new (Recycler<sizeof(Rep), kRecycled>::take()) Rep(from));
}

Reassembly::Reassembly(const Reassembly& o) : rep_(o.rep_ ? make_rep(*o.rep_) : nullptr) {}

Reassembly& Reassembly::operator=(const Reassembly& o) {
  if (this != &o) rep_ = o.rep_ ? make_rep(*o.rep_) : nullptr;
  return *this;
}

bool Reassembly::cheap_concat(const Payload& a, const Payload& b) {
  return slice_count(a) + slice_count(b) <= 2 || a.size() + b.size() <= kSmallMerge;
}

Reassembly::Map::iterator Reassembly::place(std::uint64_t start, Payload p) {
  Map* const map_ = &rep_->map;
  auto next = map_->lower_bound(start);
  auto r = map_->end();
  if (next != map_->begin()) {
    auto before = std::prev(next);
    if (end_of(before) == start && cheap_concat(before->second, p)) {
      before->second = before->second.concat(p);
      r = before;
    }
  }
  if (r == map_->end()) r = map_->emplace_hint(next, start, std::move(p));
  if (next != map_->end() && end_of(r) == next->first && cheap_concat(r->second, next->second)) {
    r->second = r->second.concat(next->second);
    map_->erase(next);
  }
  return r;
}

Reassembly::Insert Reassembly::insert(std::uint64_t rcv_off, std::uint32_t window, std::uint64_t off,
                                      const Payload& data, bool fin, std::uint32_t max_ranges) {
  if (!rep_) rep_ = make_rep();
  const Insert result = insert_into(rcv_off, window, off, data, fin, max_ranges);
  trim();  // an idle connection holds nothing
  return result;
}

Reassembly::Insert Reassembly::insert_into(std::uint64_t rcv_off, std::uint32_t window, std::uint64_t off,
                                           const Payload& data, bool fin, std::uint32_t max_ranges) {
  Map* const map_ = &rep_->map;
  std::uint32_t& bytes_ = rep_->bytes;
  std::uint32_t& ranges_ = rep_->ranges;
  std::optional<std::uint64_t>& fin_ = rep_->fin;
  const std::uint64_t wend = rcv_off + window;
  const std::uint64_t end = off + data.size();
  const std::uint64_t lo = std::max(off, rcv_off);
  std::uint64_t hi = std::min(end, wend);
  if (fin_) hi = std::min(hi, *fin_);  // nothing exists beyond a known FIN

  // The FIN is remembered when its position is in the window (RFC 9293 §3.10.7.4 "eighth,
  // check the FIN bit" applies once the data before it is in), unless a FIN is known already
  // or held bytes lie beyond it: what we hold wins.
  bool new_fin = false;
  if (fin && !fin_ && end >= rcv_off && end <= wend) {
    new_fin = map_->empty() || end_of(std::prev(map_->end())) <= end;
  }

  // Held pieces that overlap or touch [lo, hi]: the bytes of it already held, and how many
  // ranges the new bytes merge with.
  std::uint64_t new_bytes = 0;
  std::size_t touching = 0;
  if (lo < hi) {
    auto it = map_->upper_bound(lo);
    if (it != map_->begin() && end_of(std::prev(it)) >= lo) --it;
    std::uint64_t held_in = 0, prev_end = 0;
    for (auto j = it; j != map_->end() && j->first <= hi; ++j) {
      if (j == it || j->first != prev_end) ++touching;
      const std::uint64_t a = std::max(j->first, lo), b = std::min(end_of(j), hi);
      if (a < b) held_in += b - a;
      prev_end = end_of(j);
    }
    new_bytes = (hi - lo) - held_in;
  }
  if (new_bytes == 0) {
    if (!new_fin) return Insert::duplicate;
    fin_ = end;
    return Insert::stored;
  }

  // Bounded memory, for out-of-order data only: a segment that covers rcv_off is delivered
  // by the next take, so refusing it could only stall the connection (the window already
  // bounds it). Otherwise count the out-of-order ranges after the insert; the first range is
  // not out of order when it starts at rcv_off.
  const std::size_t ranges_after = ranges_ + 1 - touching;
  if (lo > rcv_off) {
    const std::uint64_t first_start = map_->empty() ? lo : std::min(lo, map_->begin()->first);
    const std::size_t ooo_after = ranges_after - (first_start <= rcv_off ? 1 : 0);
    if (ooo_after > max_ranges || bytes_ + new_bytes + ooo_after * kRangeOverhead > window) {
      return Insert::over_limit;
    }
  }

  // Fill the gaps of [lo, hi) with the matching parts of `data`.
  auto j = map_->upper_bound(lo);
  if (j != map_->begin() && end_of(std::prev(j)) > lo) --j;
  std::uint64_t cursor = lo;
  while (cursor < hi) {
    const std::uint64_t gap_end = (j == map_->end() || j->first >= hi) ? hi : j->first;
    if (gap_end > cursor) {
      // A view (the arriving segment's bytes) is copied here: held bytes outlive the call.
      auto r = place(cursor, held_copy(data.sub(cursor - off, gap_end - cursor)));
      cursor = end_of(r);
      j = std::next(r);
    } else {
      cursor = std::max(cursor, end_of(j));
      ++j;
    }
  }
  bytes_ += static_cast<std::uint32_t>(new_bytes);
  ranges_ = static_cast<std::uint32_t>(ranges_after);
  if (new_fin) fin_ = end;
  return Insert::stored;
}

Reassembly::Ready Reassembly::take(std::uint64_t rcv_off, ByteQueue& to) {
  if (!rep_) return {0, false};
  Map* const map_ = &rep_->map;
  std::uint32_t& bytes_ = rep_->bytes;
  std::uint32_t& ranges_ = rep_->ranges;
  const std::optional<std::uint64_t>& fin_ = rep_->fin;
  // Removes the first piece, keeping the range count: a range ends with it unless the next
  // piece continues it.
  auto pop_front = [&] {
    auto it = map_->begin();
    auto next = std::next(it);
    if (next == map_->end() || next->first != end_of(it)) --ranges_;
    bytes_ -= static_cast<std::uint32_t>(it->second.size());
    map_->erase(it);
  };
  // Stale bytes below rcv_off (the engine advanced past them some other way).
  while (!map_->empty()) {
    auto it = map_->begin();
    if (end_of(it) <= rcv_off) {
      pop_front();
      continue;
    }
    if (it->first < rcv_off) {
      const std::uint64_t cut = rcv_off - it->first;
      Payload rest = it->second.sub(cut, it->second.size() - cut);
      bytes_ -= static_cast<std::uint32_t>(cut);
      auto hint = map_->erase(it);
      map_->emplace_hint(hint, rcv_off, std::move(rest));
    }
    break;
  }
  Ready r;
  std::uint64_t pos = rcv_off;
  while (!map_->empty() && map_->begin()->first == pos) {
    const Payload& p = map_->begin()->second;
    to.append(p);
    pos += p.size();
    r.bytes += p.size();
    pop_front();
  }
  r.fin = fin_ && *fin_ == pos;
  trim();
  return r;
}

std::optional<std::pair<std::uint64_t, std::uint64_t>> Reassembly::range_at(std::uint64_t off) const {
  if (!rep_) return std::nullopt;
  const Map* const map_ = &rep_->map;
  auto it = map_->upper_bound(off);
  if (it == map_->begin()) return std::nullopt;
  --it;
  if (end_of(it) <= off) return std::nullopt;
  std::pair<std::uint64_t, std::uint64_t> r{it->first, end_of(it)};
  for (auto lo = it; lo != map_->begin();) {
    --lo;
    if (end_of(lo) != r.first) break;
    r.first = lo->first;
  }
  for (auto hi = std::next(it); hi != map_->end() && hi->first == r.second; ++hi) r.second = end_of(hi);
  return r;
}

void Reassembly::clear() { rep_.reset(); }

}  // namespace utcp::detail
