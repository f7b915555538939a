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

  std::optional<Duration> srtt() const { return has_sample_ ? std::optional<Duration>(load64(kSrtt)) : std::nullopt; }
  // The smallest sample so far (RACK.min_RTT, RFC 8985 §5.3: over the connection's lifetime).
  std::optional<Duration> min_rtt() const {
    return has_sample_ ? std::optional<Duration>(load48(kMinRtt)) : std::nullopt;
  }
  // A sample that only feeds the minimum (RACK's from SACKed segments).
  void sample_min(Duration r) {
    if (has_sample_ && r >= Duration::zero() && r < load48(kMinRtt)) store48_nonnegative(kMinRtt, r);
  }
  Duration rttvar() const { return load48(kRttvar); }
  unsigned backoffs() const { return backoffs_; }

  friend bool operator==(const RttEstimator&, const RttEstimator&) = default;

 private:
  // Byte arrays, so that the estimator is 21 bytes and 1-aligned, not 40 and 8-aligned, in
  // every Tcb (issue 15): SRTT, read on every segment sent or acknowledged, in 8 bytes (one
  // load or store, unaligned), which before the first sample hold the base RTO less G
  // instead (rto() computes SRTT + max(G, K * RTTVAR), RTTVAR 0 until then); RTTVAR and the
  // minimum in 48 bits (6 bytes) of non-negative nanoseconds. The 48-bit range is 2^48 - 1 ns, about 78
  // hours, far above any RTT (RFC 6298 §2.5's maximum RTO is 60 s or more,
  // Config::rto_max): a larger value is stored as that maximum (no wraparound), a negative one
  // as 0. Every value in range is kept to the nanosecond, as Duration, so the arithmetic is
  // unchanged.
  static constexpr std::int64_t kMax48 = (std::int64_t{1} << 48) - 1;
  static constexpr std::size_t kSrtt = 1, kRttvar = 9, kMinRtt = 15;  // byte offsets in *this
  const unsigned char* at(std::size_t off) const { return reinterpret_cast<const unsigned char*>(this) + off; }
  unsigned char* at(std::size_t off) { return reinterpret_cast<unsigned char*>(this) + off; }
  Duration load64(std::size_t off) const {
    std::int64_t v;
    std::memcpy(&v, at(off), sizeof v);
    return Duration(v);
  }
  void store64(std::size_t off, Duration d) {
    const std::int64_t v = d.count();
    std::memcpy(at(off), &v, sizeof v);
  }
  // A 48-bit field has at least 2 bytes of *this before it: one 8-byte load from off - 2 has it
  // in its top 48 bits (little-endian), so a load is a load and a shift.
  Duration load48(std::size_t off) const {
    std::uint64_t v;
    std::memcpy(&v, at(off - 2), sizeof v);
    if constexpr (std::endian::native == std::endian::little) {
      v >>= 16;
    } else {
      v &= static_cast<std::uint64_t>(kMax48);
    }
    return Duration(static_cast<std::int64_t>(v));
  }
  void store48(std::size_t off, Duration d) { store48_nonnegative(off, std::max(d, Duration::zero())); }
  void store48_nonnegative(std::size_t off, Duration d) {
    const std::uint64_t v = static_cast<std::uint64_t>(std::min<std::int64_t>(d.count(), kMax48));
    unsigned char b[8];
    std::memcpy(b, &v, sizeof v);
    std::memcpy(at(off), std::endian::native == std::endian::little ? b : b + 2, 6);
  }
  std::uint8_t backoffs_ : 7 = 0;  // at most 64
  bool has_sample_ : 1 = false;
  unsigned char v_[20] = {};  // SRTT (the base RTO before a sample), RTTVAR, the minimum (the offsets above)
};
static_assert(sizeof(RttEstimator) == 21 && alignof(RttEstimator) == 1);

}  // namespace utcp::detail
