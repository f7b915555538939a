// Out-of-order receive data (RFC 9293 §3.10.7.4, "seventh, process the segment text"),
// keyed by 64-bit stream offsets so nothing wraps: the engine converts sequence numbers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "core/byte_queue.hpp"
#include "core/recycler.hpp"
#include "utcp/payload.hpp"

namespace utcp::detail {

// Held bytes are disjoint pieces (Payloads sharing the segments' blocks) in a map from start
// offset; pieces that touch form one "range" (what SACK would report). Overlaps are resolved
// consistently: bytes already held win, the first copy is kept, so a retransmission that
// differs from the original cannot change data a SACK block already covered.
//
// Bounded memory (DESIGN.md): storing out-of-order data fails with over_limit when it would
// need more than max_ranges out-of-order ranges, or when held bytes + out-of-order ranges *
// kRangeOverhead would exceed the window. A segment that covers rcv_off is never refused
// (the next take delivers it; the window bounds it), and a range starting at rcv_off is not
// out of order: counting them could refuse in-order data and stall the connection.
// To keep adversarial tiny segments from costing a map node each, a new piece adjacent to a
// held one is merged into it when that needs no copy (Payload::concat of at most two slices)
// or the copy is small (<= kSmallMerge bytes).
class Reassembly {
 public:
  static constexpr std::size_t kRangeOverhead = 64;
  static constexpr std::size_t kSmallMerge = 512;

  enum class Insert : std::uint8_t { stored, duplicate, over_limit };

  // Copying copies the piece list (the bytes stay shared). An empty Reassembly owns nothing:
  // an idle connection's costs one null pointer.
  Reassembly() = default;
  Reassembly(const Reassembly& o);
  Reassembly& operator=(const Reassembly& o);
  Reassembly(Reassembly&&) noexcept = default;
  Reassembly& operator=(Reassembly&&) noexcept = default;

  // Keeps the part of [off, off + data.size()) that lies in [rcv_off, rcv_off + window), is not
  // held yet and is not beyond a known FIN. `fin`: the segment's FIN follows its last byte; it
  // is remembered when off + data.size() lies in [rcv_off, rcv_off + window], no FIN is known
  // yet and no held byte lies beyond it (held bytes win). stored: some byte or the FIN is new.
  Insert insert(std::uint64_t rcv_off, std::uint32_t window, std::uint64_t off, const Payload& data, bool fin,
                std::uint32_t max_ranges);

  struct Ready {
    std::uint64_t bytes = 0;
    bool fin = false;
    friend bool operator==(const Ready&, const Ready&) = default;
  };
  // Drops held bytes below rcv_off, moves the bytes now contiguous at rcv_off into `to`
  // (ByteQueue::append(Payload), sharing), and says whether the FIN is then reached
  // (fin_offset() == rcv_off + bytes).
  Ready take(std::uint64_t rcv_off, ByteQueue& to);

  std::size_t bytes() const { return rep_ ? rep_->bytes : 0; }
  std::size_t ranges() const { return rep_ ? rep_->ranges : 0; }
  bool empty() const { return !rep_ || rep_->map.empty(); }
  std::optional<std::uint64_t> fin_offset() const { return rep_ ? rep_->fin : std::nullopt; }

  // The held range [begin, end) holding offset `off`, if any; no allocation (per segment).
  std::optional<std::pair<std::uint64_t, std::uint64_t>> range_at(std::uint64_t off) const;
  // Calls f(begin, end) for each held range from the highest down while it returns true; no
  // allocation (per segment).
  template <class F>
  void for_each_range_down(F&& f) const {
    if (!rep_ || rep_->map.empty()) return;
    const Map& m = rep_->map;
    auto it = m.end();
    --it;
    std::uint64_t begin = it->first, end = end_of(it);
    while (it != m.begin()) {
      --it;
      if (end_of(it) == begin) {
        begin = it->first;
        continue;
      }
      if (!f(begin, end)) return;
      begin = it->first;
      end = end_of(it);
    }
    f(begin, end);
  }

  // Forgets everything (an aborted connection).
  void clear();

 private:
  // The rep (map included) and the map's nodes come from per-thread free lists (core/recycler.hpp), so a flow that
  // holds and releases out-of-order data over and over allocates nothing for them.
  static constexpr std::size_t kRecycled = 64;
  using Map = std::map<std::uint64_t, Payload, std::less<>,
                       RecyclingAllocator<std::pair<const std::uint64_t, Payload>, kRecycled>>;
  static std::uint64_t end_of(Map::const_iterator it) { return it->first + it->second.size(); }
  static bool cheap_concat(const Payload& a, const Payload& b);
  // Puts `p` at `start` (a gap, not overlapping any piece), merging with touching neighbours
  // when cheap; returns the piece now holding it.
  Map::iterator place(std::uint64_t start, Payload p);

  Insert insert_into(std::uint64_t rcv_off, std::uint32_t window, std::uint64_t off, const Payload& data,
                     bool fin, std::uint32_t max_ranges);

  // Everything held, in one recycled allocation: null when no byte and no FIN is held, so an
  // idle connection pays one pointer (core/tcb.hpp's layout rule).
  struct Rep {
    Map map;
    std::uint32_t bytes = 0;  // held bytes all lie in a 32-bit window
    std::uint32_t ranges = 0;
    std::optional<std::uint64_t> fin;
  };
  struct RepDelete {
    void operator()(Rep* r) const noexcept;
  };
  using RepPtr = std::unique_ptr<Rep, RepDelete>;
  static RepPtr make_rep();
  static RepPtr make_rep(const Rep& from);
  // Frees the rep when it holds nothing (no piece, no FIN).
  void trim() {
    if (rep_ && rep_->map.empty() && !rep_->fin) rep_.reset();
  }

  RepPtr rep_;
};

}  // namespace utcp::detail
