// The retransmission timer's estimator, RFC 6298.
#pragma once

#include <algorithm>
#include <bit>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <optional>

#include "utcp/time.hpp"

namespace utcp::detail {

struct RttEstimator {
  // RFC 6298 §2.1: RTO 1 s before any sample. The bounds are not kept here but passed to
  // rto() (the stack's Config holds them, not every connection).
  explicit RttEstimator(Duration initial = std::chrono::seconds(1)) { reset_to(initial); }

  // §2.2 (first sample) and §2.3 (later ones), alpha 1/8, beta 1/4, K = 4, clock granularity
  // G = 1 ms. A new sample ends any backoff (§5.7 note: the backed-off RTO is kept until then).
  // RFC 7323 Appendix G: with a sample on every ACK rather than one per round trip, alpha and
  // beta are divided by the samples expected per round trip, `expected_samples` =
  // ceil(FlightSize / (2 * SMSS)), so the estimate moves as fast as with one sample per RTT.
  void sample(Duration r, std::uint32_t expected_samples = 1);
  // §5.5: double the RTO on each expiry (rto() caps it at max).
  void backoff();
  // The current RTO: the base value doubled once per backoff, clamped to [min, max] (max is
  // raised to min when below it). §2.4: at least 1 s is RECOMMENDED but many stacks use
  // 200 ms; §2.5: a maximum of at least 60 s.
  Duration rto(Duration min = std::chrono::milliseconds(200), Duration max = std::chrono::seconds(60)) const;
  // Before any sample: sets the base RTO, e.g. §5.7: back to 3 s when the SYN was
  // retransmitted and no sample was taken yet. Clears the backoff. (Once there is a sample,
  // the base RTO is SRTT + max(G, K * RTTVAR), computed, not stored: reset_to does nothing
  // then but clear the backoff.)
  void reset_to(Duration d);

  std::optional<Duration> srtt() const { return has_sample_ ? std::optional<Duration>(load_srtt()) : std::nullopt; }
  // The smallest sample so far (RACK.min_RTT, RFC 8985 §5.3: over the connection's lifetime).
  std::optional<Duration> min_rtt() const {
    return has_sample_ ? std::optional<Duration>(load48<kMinRtt>()) : std::nullopt;
  }
  // A sample that only feeds the minimum (RACK's from SACKed segments).
  void sample_min(Duration r) {
    if (has_sample_ && r >= Duration::zero() && r < load48<kMinRtt>()) store48_nonnegative(kMinRtt, r);
  }
  Duration rttvar() const { return load48<kRttvar>(); }
  unsigned backoffs() const { return backoffs_; }

  friend bool operator==(const RttEstimator&, const RttEstimator&) = default;

 private:
  // Byte arrays, so that the estimator is 19 bytes and 1-aligned, not 40 and 8-aligned, in
  // every Tcb (issue 15): RTTVAR and the minimum in 48 bits (6 bytes) of non-negative
  // nanoseconds, SRTT in 48 bits of signed nanoseconds (before the first sample they hold the
  // base RTO less G instead, which may be negative: rto() computes SRTT + max(G, K * RTTVAR),
  // RTTVAR 0 until then). The unsigned range is 2^48 - 1 ns, about 78 hours, the signed one
  // 2^47 - 1 ns, about 39 hours, far above any RTT (RFC 6298 §2.5's maximum RTO is 60 s or
  // more, Config::rto_max): a larger value is stored as that maximum (no wraparound), a
  // negative RTTVAR or minimum as 0, a base below -2^47 ns as that. Every value in range is
  // kept to the nanosecond, as Duration, so the arithmetic is unchanged.
  static constexpr std::int64_t kMax48 = (std::int64_t{1} << 48) - 1;
  static constexpr std::int64_t kMaxS48 = (std::int64_t{1} << 47) - 1;
  static constexpr std::size_t kRttvar = 0, kMinRtt = 6, kSrtt = 13;  // byte offsets in *this
  const unsigned char* at(std::size_t off) const { return reinterpret_cast<const unsigned char*>(this) + off; }
  unsigned char* at(std::size_t off) { return reinterpret_cast<unsigned char*>(this) + off; }
  // The 8 bytes that hold a 48-bit field at Off: from Off - 2 when there are 2 bytes of *this
  // before it (the field in the top 48 bits, little-endian), else from Off (the low 48): one
  // load and a shift or a mask, never a byte past *this.
  template <std::size_t Off>
  std::uint64_t load_word() const {
    static_assert(Off + 6 <= 19);
    constexpr std::size_t from = Off >= 2 ? Off - 2 : Off;
    static_assert(from + 8 <= 19);
    std::uint64_t v;
    std::memcpy(&v, at(from), sizeof v);
    return v;
  }
  template <std::size_t Off>
  Duration load48() const {
    // The field is in the word's top 48 bits when loaded from Off - 2 on a little-endian
    // machine, or from Off on a big-endian one; in its low 48 bits otherwise.
    constexpr bool top = (std::endian::native == std::endian::little) == (Off >= 2);
    const std::uint64_t v = load_word<Off>();
    return Duration(static_cast<std::int64_t>(top ? v >> 16 : v & static_cast<std::uint64_t>(kMax48)));
  }
  // SRTT, read on every segment sent or acknowledged: a load and an arithmetic shift.
  Duration load_srtt() const {
    static_assert(kSrtt >= 2);
    const std::uint64_t v = load_word<kSrtt>();
    const std::uint64_t top = std::endian::native == std::endian::little ? v : v << 16;
    return Duration(static_cast<std::int64_t>(top) >> 16);
  }
  void store6(std::size_t off, std::uint64_t v) {
    unsigned char b[8];
    std::memcpy(b, &v, sizeof v);
    std::memcpy(at(off), std::endian::native == std::endian::little ? b : b + 2, 6);
  }
  void store48_nonnegative(std::size_t off, Duration d) {
    store6(off, static_cast<std::uint64_t>(std::min<std::int64_t>(d.count(), kMax48)));
  }
  void store_srtt(Duration d) {
    store6(kSrtt, static_cast<std::uint64_t>(std::clamp<std::int64_t>(d.count(), -kMaxS48 - 1, kMaxS48)));
  }
  unsigned char v_[12] = {};  // RTTVAR, the minimum (the offsets above)
  std::uint8_t backoffs_ : 7 = 0;  // at most 64
  bool has_sample_ : 1 = false;
  unsigned char srtt_[6] = {};  // SRTT (the base RTO less G before a sample)
};
static_assert(sizeof(RttEstimator) == 19 && alignof(RttEstimator) == 1);

}  // namespace utcp::detail
