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
}  // namespace

bool Reassembly::cheap_concat(const Payload& a, const Payload& b) {
  return slice_count(a) + slice_count(b) <= 2 || a.size() + b.size() <= kSmallMerge;
}

Reassembly::Map::iterator Reassembly::place(std::uint64_t start, Payload p) {
  auto next = pieces_.lower_bound(start);
  auto r = pieces_.end();
  if (next != pieces_.begin()) {
    auto before = std::prev(next);
    if (end_of(before) == start && cheap_concat(before->second, p)) {
      before->second = before->second.concat(p);
      r = before;
    }
  }
  if (r == pieces_.end()) r = pieces_.emplace_hint(next, start, std::move(p));
  if (next != pieces_.end() && end_of(r) == next->first && cheap_concat(r->second, next->second)) {
    r->second = r->second.concat(next->second);
    pieces_.erase(next);
  }
  return r;
}

Reassembly::Insert Reassembly::insert(std::uint64_t rcv_off, std::uint32_t window, std::uint64_t off,
                                      const Payload& data, bool fin, std::uint32_t max_ranges) {
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
    new_fin = pieces_.empty() || end_of(std::prev(pieces_.end())) <= end;
  }

  // Held pieces that overlap or touch [lo, hi]: the bytes of it already held, and how many
  // ranges the new bytes merge with.
  std::uint64_t new_bytes = 0;
  std::size_t touching = 0;
  if (lo < hi) {
    auto it = pieces_.upper_bound(lo);
    if (it != pieces_.begin() && end_of(std::prev(it)) >= lo) --it;
    std::uint64_t held_in = 0, prev_end = 0;
    for (auto j = it; j != pieces_.end() && j->first <= hi; ++j) {
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
    const std::uint64_t first_start = pieces_.empty() ? lo : std::min(lo, pieces_.begin()->first);
    const std::size_t ooo_after = ranges_after - (first_start <= rcv_off ? 1 : 0);
    if (ooo_after > max_ranges || bytes_ + new_bytes + ooo_after * kRangeOverhead > window) {
      return Insert::over_limit;
    }
  }

  // Fill the gaps of [lo, hi) with the matching parts of `data`.
  auto j = pieces_.upper_bound(lo);
  if (j != pieces_.begin() && end_of(std::prev(j)) > lo) --j;
  std::uint64_t cursor = lo;
  while (cursor < hi) {
    const std::uint64_t gap_end = (j == pieces_.end() || j->first >= hi) ? hi : j->first;
    if (gap_end > cursor) {
      auto r = place(cursor, data.sub(cursor - off, gap_end - cursor));
      cursor = end_of(r);
      j = std::next(r);
    } else {
      cursor = std::max(cursor, end_of(j));
      ++j;
    }
  }
  bytes_ += new_bytes;
  ranges_ = ranges_after;
  if (new_fin) fin_ = end;
  return Insert::stored;
}

Reassembly::Ready Reassembly::take(std::uint64_t rcv_off, ByteQueue& to) {
  // Removes the first piece, keeping the range count: a range ends with it unless the next
  // piece continues it.
  auto pop_front = [&] {
    auto it = pieces_.begin();
    auto next = std::next(it);
    if (next == pieces_.end() || next->first != end_of(it)) --ranges_;
    bytes_ -= it->second.size();
    pieces_.erase(it);
  };
  // Stale bytes below rcv_off (the engine advanced past them some other way).
  while (!pieces_.empty()) {
    auto it = pieces_.begin();
    if (end_of(it) <= rcv_off) {
      pop_front();
      continue;
    }
    if (it->first < rcv_off) {
      const std::uint64_t cut = rcv_off - it->first;
      Payload rest = it->second.sub(cut, it->second.size() - cut);
      bytes_ -= cut;
      auto hint = pieces_.erase(it);
      pieces_.emplace_hint(hint, rcv_off, std::move(rest));
    }
    break;
  }
  Ready r;
  std::uint64_t pos = rcv_off;
  while (!pieces_.empty() && pieces_.begin()->first == pos) {
    const Payload& p = pieces_.begin()->second;
    to.append(p);
    pos += p.size();
    r.bytes += p.size();
    pop_front();
  }
  r.fin = fin_ && *fin_ == pos;
  return r;
}

std::vector<std::pair<std::uint64_t, std::uint64_t>> Reassembly::held(std::size_t n) const {
  std::vector<std::pair<std::uint64_t, std::uint64_t>> out;
  for (auto it = pieces_.begin(); it != pieces_.end(); ++it) {
    if (!out.empty() && out.back().second == it->first) {
      out.back().second = end_of(it);
    } else {
      if (out.size() == n) break;
      out.emplace_back(it->first, end_of(it));
    }
  }
  return out;
}

void Reassembly::clear() {
  pieces_.clear();
  bytes_ = 0;
  ranges_ = 0;
  fin_.reset();
}

}  // namespace utcp::detail
