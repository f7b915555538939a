// The sender's record of what is in flight: one entry per transmitted segment, in sequence
// order, from SND.UNA to SND.MAX. It is the SACK scoreboard of RFC 6675 §3 (which octets the
// peer has SACKed, which are deemed lost, which were retransmitted) and the per-segment
// transmission times RACK needs (RFC 8985 §5.2). Its totals give RFC 6675's `pipe`.
//
// Segments are split where a SACK block or a retransmission covers only part of one (the
// peer's blocks normally end on our segment boundaries, so this is rare). Entries live in a
// vector used as a queue (a head index, compacted now and then): once grown to the flight
// size nothing is allocated per segment.
#pragma once

#include <cstddef>
#include <cstdint>
#include <ostream>
#include <vector>

#include "core/delivery_rate.hpp"
#include "utcp/seq.hpp"
#include "utcp/time.hpp"

namespace utcp::detail {

struct SentSegment {
  enum : std::uint8_t {
    sacked = 1,         // covered by a SACK block (RFC 2018)
    lost = 2,           // deemed lost and not retransmitted since (RACK, NewReno, RTO)
    retransmitted = 4,  // sent more than once (RFC 8985 §5.2 and Karn's rule)
  };
  Seq begin, end;  // [begin, end) of sequence space (a FIN counts one)
  Instant sent;    // the latest transmission (RACK's Segment.xmit_ts)
  std::uint8_t flags = 0;
  RateStamp rate{};  // delivery-rate state at the latest transmission (core/delivery_rate.hpp)
  // The latest transmission's place in the order of all the board's transmissions (1, 2, ...;
  // the parts of a split entry share it): which of two segments went out later even when the
  // caller's clock gave them the same time (RACK_sent_after, core/rack.hpp).
  std::uint64_t order = 0;

  std::uint32_t size() const { return end - begin; }
  bool is(std::uint8_t f) const { return (flags & f) != 0; }
  friend bool operator==(const SentSegment&, const SentSegment&) = default;
};
std::ostream& operator<<(std::ostream&, const SentSegment&);

class Scoreboard {
 public:
  // ---- transmissions ----
  // New data [begin, end), sent at `now`: it must start where the last entry ends (or be the
  // first when the board is empty).
  void sent_new(Seq begin, Seq end, Instant now, const RateStamp& rate = {});
  // [begin, end), all of it recorded, sent again at `now`: its entries are no longer lost,
  // are marked retransmitted and carry the new time and stamp. Returns the bytes that were
  // marked lost.
  std::uint32_t resent(Seq begin, Seq end, Instant now, const RateStamp& rate = {});

  // ---- acknowledgments ----
  // The cumulative ACK moved to `una`: entries below it go. `delivered(seg)` is called for
  // every entry (or its acknowledged part) that was not SACKed before, before it goes.
  // Returns the number of such bytes.
  template <class F>
  std::uint32_t acked(Seq una, F&& delivered);
  // A SACK block [left, right) (RFC 2018 §3): entries inside it become SACKed (parts of an
  // entry split off); `delivered(seg)` is called for each newly SACKed entry. Parts of the
  // block outside the board are ignored. Returns the bytes newly SACKed.
  template <class F>
  std::uint32_t sacked(Seq left, Seq right, F&& delivered);
  // Marks entry `i` lost (RACK §6.2 step 5, NewReno, RTO); SACKed entries never are.
  // Returns the bytes newly marked.
  std::uint32_t mark_lost(std::size_t i);
  // RFC 6675 §5.1 on a retransmission timeout, RFC 8985 §6.3: every unSACKed entry is lost.
  void mark_all_lost();
  // RFC 2018 §8: the peer may discard SACKed data (reneging); a timeout forgets the blocks.
  void clear_sacks();

  // ---- queries ----
  bool empty() const { return size() == 0; }
  std::size_t size() const { return v_.size() - head_; }
  const SentSegment& operator[](std::size_t i) const { return v_[head_ + i]; }
  const SentSegment& front() const { return v_[head_]; }
  const SentSegment& back() const { return v_.back(); }
  // Index of the entry holding `s`, or size() when none does.
  std::size_t find(Seq s) const;

  std::uint32_t bytes() const { return bytes_; }  // everything recorded
  std::uint32_t sacked_bytes() const { return sacked_; }
  std::uint32_t lost_bytes() const { return lost_; }  // lost and not retransmitted since
  // RFC 6675 §4 SetPipe, with RACK's marks for IsLost (RFC 8985 §9.2): the octets neither
  // SACKed nor lost, a retransmitted one counting as its new copy.
  std::uint32_t pipe() const { return bytes_ - sacked_ - lost_; }
  // The highest SACKed sequence number + 1 (RACK.fack, RFC 6675's "highest SACKed octet"),
  // or `fallback` when nothing is SACKed.
  Seq highest_sacked(Seq fallback) const { return any_sacked_ ? high_sacked_ : fallback; }
  // The first entry that is lost and awaits its retransmission (RFC 6675 NextSeg rule 1),
  // or size().
  std::size_t first_lost() const;

  // Consistency of the totals and the order (for check_invariants); "" when fine.
  std::string check() const;

  friend bool operator==(const Scoreboard& a, const Scoreboard& b);

  // Forgets every entry, as a fresh Scoreboard, keeping the storage (for reuse).
  void reset() {
    std::vector<SentSegment> v = std::move(v_);
    v.clear();
    *this = Scoreboard{};
    v_ = std::move(v);
  }

 private:
  SentSegment& at(std::size_t i) { return v_[head_ + i]; }
  // Splits entry i at `s` (begin < s < end); the second part becomes entry i + 1.
  void split(std::size_t i, Seq s);
  void set(SentSegment& e, std::uint8_t f);
  void clear(SentSegment& e, std::uint8_t f);
  void pop_front();

  std::vector<SentSegment> v_;
  std::size_t head_ = 0;
  std::uint64_t sends_ = 0;  // transmissions recorded (SentSegment::order of the latest)
  std::uint32_t bytes_ = 0, sacked_ = 0, lost_ = 0;
  Seq high_sacked_;
  bool any_sacked_ = false;
};

template <class F>
std::uint32_t Scoreboard::acked(Seq una, F&& delivered) {
  std::uint32_t n = 0;
  while (!empty() && front().begin < una) {
    if (una < front().end) split(0, una);
    SentSegment& e = at(0);
    if (!e.is(SentSegment::sacked)) {
      delivered(static_cast<const SentSegment&>(e));
      n += e.size();
    }
    pop_front();
  }
  if (any_sacked_ && !(una < high_sacked_)) any_sacked_ = false;
  return n;
}

template <class F>
std::uint32_t Scoreboard::sacked(Seq left, Seq right, F&& delivered) {
  if (empty() || !(left < right)) return 0;
  left = seq_max(left, front().begin);
  right = seq_min(right, back().end);
  if (!(left < right)) return 0;
  std::size_t i = find(left);
  if (i == size()) return 0;
  if (at(i).begin < left) split(i++, left);
  std::uint32_t n = 0;
  for (; i < size() && at(i).begin < right; ++i) {
    if (right < at(i).end) split(i, right);
    SentSegment& e = at(i);
    if (e.is(SentSegment::sacked)) continue;
    clear(e, SentSegment::lost);  // delivered after all (a late original, or reordering)
    set(e, SentSegment::sacked);
    n += e.size();
    delivered(static_cast<const SentSegment&>(e));
  }
  if (n > 0 && (!any_sacked_ || high_sacked_ < right)) {
    high_sacked_ = right;
    any_sacked_ = true;
  }
  return n;
}

}  // namespace utcp::detail
