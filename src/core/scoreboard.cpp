// The sender's scoreboard (RFC 6675 §3, RFC 8985 §5.2).
#include "core/scoreboard.hpp"

#include <algorithm>
#include <sstream>
#include <string>

namespace utcp::detail {

std::ostream& operator<<(std::ostream& os, const SentSegment& s) {
  os << '[' << s.begin << ',' << s.end << ')';
  if (s.is(SentSegment::sacked)) os << " sacked";
  if (s.is(SentSegment::lost)) os << " lost";
  if (s.is(SentSegment::retransmitted)) os << " retransmitted";
  return os;
}

void Scoreboard::set(SentSegment& e, std::uint8_t f) {
  if (e.is(f)) return;
  e.flags |= f;
  if (f == SentSegment::sacked) sacked_ += e.size();
  if (f == SentSegment::lost) lost_ += e.size();
}

void Scoreboard::clear(SentSegment& e, std::uint8_t f) {
  if (!e.is(f)) return;
  e.flags &= static_cast<std::uint8_t>(~f);
  if (f == SentSegment::sacked) sacked_ -= e.size();
  if (f == SentSegment::lost) lost_ -= e.size();
}

void Scoreboard::sent_new(Seq begin, Seq end, Instant now, const RateStamp& rate) {
  if (!(begin < end)) return;
  if (head_ > 0 && head_ == v_.size()) {
    v_.clear();
    head_ = 0;
  }
  v_.push_back(SentSegment{begin, end, now, 0, rate, ++sends_});
  bytes_ += end - begin;
}

std::uint32_t Scoreboard::resent(Seq begin, Seq end, Instant now, const RateStamp& rate) {
  std::size_t i = find(begin);
  if (i == size()) return 0;
  if (at(i).begin < begin) split(i++, begin);
  std::uint32_t was_lost = 0;
  const std::uint64_t order = ++sends_;
  for (; i < size() && at(i).begin < end; ++i) {
    if (end < at(i).end) split(i, end);
    SentSegment& e = at(i);
    if (e.is(SentSegment::lost)) was_lost += e.size();
    clear(e, SentSegment::lost);
    e.flags |= SentSegment::retransmitted;
    e.sent = now;
    e.rate = rate;
    e.order = order;
  }
  return was_lost;
}

std::uint32_t Scoreboard::mark_lost(std::size_t i) {
  SentSegment& e = at(i);
  if (e.is(SentSegment::sacked) || e.is(SentSegment::lost)) return 0;
  set(e, SentSegment::lost);
  return e.size();
}

void Scoreboard::mark_all_lost() {
  for (std::size_t i = 0; i < size(); ++i) mark_lost(i);
}

void Scoreboard::clear_sacks() {
  for (std::size_t i = 0; i < size(); ++i) clear(at(i), SentSegment::sacked);
  any_sacked_ = false;
}

std::size_t Scoreboard::find(Seq s) const {
  // Binary search: entries are contiguous and in order.
  std::size_t lo = 0, hi = size();
  if (hi == 0 || s < front().begin || !(s < back().end)) return size();
  while (hi - lo > 1) {
    const std::size_t mid = lo + (hi - lo) / 2;
    if (s < (*this)[mid].begin)
      hi = mid;
    else
      lo = mid;
  }
  return lo;
}

std::size_t Scoreboard::first_lost() const {
  if (lost_ == 0) return size();
  for (std::size_t i = 0; i < size(); ++i)
    if ((*this)[i].is(SentSegment::lost)) return i;
  return size();
}

void Scoreboard::split(std::size_t i, Seq s) {
  SentSegment second = at(i);
  second.begin = s;
  at(i).end = s;
  v_.insert(v_.begin() + static_cast<std::ptrdiff_t>(head_ + i + 1), second);
}

void Scoreboard::pop_front() {
  const SentSegment& e = at(0);
  bytes_ -= e.size();
  if (e.is(SentSegment::sacked)) sacked_ -= e.size();
  if (e.is(SentSegment::lost)) lost_ -= e.size();
  ++head_;
  if (head_ == v_.size()) {
    v_.clear();
    head_ = 0;
  } else if (head_ >= 64 && head_ * 2 >= v_.size()) {
    // Compact: the live entries move to the front (no allocation).
    v_.erase(v_.begin(), v_.begin() + static_cast<std::ptrdiff_t>(head_));
    head_ = 0;
  }
}

std::string Scoreboard::check() const {
  std::uint32_t b = 0, s = 0, l = 0;
  for (std::size_t i = 0; i < size(); ++i) {
    const SentSegment& e = (*this)[i];
    std::ostringstream why;
    if (!(e.begin < e.end)) why << "empty or reversed entry " << e;
    if (i > 0 && (*this)[i - 1].end != e.begin) why << "gap or overlap before " << e;
    if (e.is(SentSegment::sacked) && e.is(SentSegment::lost)) why << "entry both sacked and lost " << e;
    if (!why.str().empty()) return "scoreboard: " + why.str();
    b += e.size();
    if (e.is(SentSegment::sacked)) s += e.size();
    if (e.is(SentSegment::lost)) l += e.size();
  }
  if (b != bytes_ || s != sacked_ || l != lost_) {
    std::ostringstream why;
    why << "scoreboard totals " << bytes_ << '/' << sacked_ << '/' << lost_ << " but entries hold " << b
        << '/' << s << '/' << l;
    return why.str();
  }
  return "";
}

bool operator==(const Scoreboard& a, const Scoreboard& b) {
  if (a.size() != b.size() || a.bytes_ != b.bytes_ || a.sacked_ != b.sacked_ || a.lost_ != b.lost_)
    return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (!(a[i] == b[i])) return false;
  return true;
}

}  // namespace utcp::detail
