// Delivery rate estimation, as draft-ietf-ccwg-bbr-03 describes it in its section "Delivery
// Rate Estimation" (the former draft-cheng-iccrg-delivery-rate-estimation). Section names
// below are that section's subsections (the draft's numbering moves between revisions): every transmission is
// stamped with the connection's delivery counters (a RateStamp, kept with the segment in the scoreboard);
// when a segment is delivered (cumulatively ACKed or SACKed) its stamp gives the data
// delivered and the time elapsed since it was sent, and the newest segment delivered by one
// ACK yields that ACK's rate sample. Application-limited periods are marked so that BBR's
// bandwidth filter can tell a slow sender from a slow path.
//
// Time is the caller's; nothing here reads a clock.
#pragma once

#include <cstdint>
#include <optional>
#include <ostream>

#include "utcp/seq.hpp"
#include "utcp/time.hpp"

namespace utcp::detail {

// "Per-packet state" (P.delivered, P.delivered_time, P.first_send_time, P.is_app_limited),
// with the two values BBR reads at transmission (P.tx_in_flight and P.lost, for the loss-rate
// check of "Probing for Bandwidth: inflight_hi").
struct RateStamp {
  std::uint64_t delivered = 0;     // C.delivered when sent
  std::uint64_t lost = 0;          // C.lost when sent
  Instant delivered_time{};        // C.delivered_time when sent
  Instant first_send_time{};       // C.first_send_time when sent
  std::uint32_t tx_in_flight = 0;  // bytes in flight just after this transmission
  bool is_app_limited = false;     // sent in an application-limited period
  friend bool operator==(const RateStamp&, const RateStamp&) = default;
};
std::ostream& operator<<(std::ostream&, const RateStamp&);

// "Rate sample": the sample of one ACK (rs.*). Built by DeliveryRate::delivered() for each
// segment the ACK delivers and finished by DeliveryRate::generate().
struct RateSample {
  std::uint64_t delivered = 0;        // rs.delivered: bytes delivered over the interval
  std::uint64_t prior_delivered = 0;  // rs.prior_delivered: C.delivered when the newest was sent
  std::uint64_t prior_lost = 0;       // C.lost when the newest was sent
  std::uint64_t lost = 0;             // C.lost - P.lost of the newest segment delivered
  std::uint64_t newly_acked = 0;      // bytes this ACK delivered
  std::uint64_t newly_lost = 0;       // bytes this ACK's processing marked lost
  Instant prior_time{};               // rs.prior_time: P.delivered_time of the newest
  Instant send_time{};                // the newest segment's transmission time
  Seq end_seq;                        // and its end
  Duration send_elapsed{}, ack_elapsed{};
  Duration interval{};              // rs.interval: max(send_elapsed, ack_elapsed)
  std::optional<Duration> rtt;      // rs.rtt: now - send_time of the newest (never retransmitted)
  std::uint64_t delivery_rate = 0;  // rs.delivery_rate, bytes per second (0: no sample)
  std::uint32_t tx_in_flight = 0;   // P.tx_in_flight of the newest
  bool is_app_limited = false;      // rs.is_app_limited
  bool has_data = false;            // some segment was delivered
  bool valid = false;               // generate() produced a rate
  friend bool operator==(const RateSample&, const RateSample&) = default;
};
std::ostream& operator<<(std::ostream&, const RateSample&);

// "Per-connection (C) state": the connection's delivery state (C.delivered, C.delivered_time,
// C.first_send_time, C.app_limited, C.lost).
class DeliveryRate {
 public:
  // "Upon sending a packet": the stamp for a segment sent at `now` with
  // `inflight_before` bytes already in flight; `size` is its length (for tx_in_flight).
  RateStamp on_send(Instant now, std::uint32_t inflight_before, std::uint32_t size);

  // "Upon receiving an ACK", UpdateRateSample(P): a segment [begin, end), sent
  // (last) at `sent` with stamp `p`, delivered now. `retransmitted`: its RTT is ambiguous
  // (Karn), so it gives no rs.rtt. Each segment must be reported once.
  void delivered(RateSample& rs, const RateStamp& p, Seq end, std::uint32_t size, Instant sent,
                 bool retransmitted, Instant now);
  // Bytes newly deemed lost (RACK, NewReno, RTO): C.lost grows.
  void lost(RateSample& rs, std::uint32_t bytes) {
    lost_ += bytes;
    rs.newly_lost += bytes;
  }
  // "Upon receiving an ACK", GenerateRateSample: after every delivered() of one ACK. `min_rtt` the
  // connection's minimum RTT so far (none yet: no floor). Returns rs.valid.
  bool generate(RateSample& rs, std::optional<Duration> min_rtt);

  // "Detecting application-limited phases": called when the sender has no new data
  // to send (and no loss to repair) while cwnd would allow more. Marks the data from here to
  // the current flight as app-limited.
  void check_app_limited(bool nothing_to_send, std::uint32_t inflight, std::uint32_t cwnd, bool lost_pending);
  // BBR's MarkConnectionAppLimited ("ProbeRTT").
  void mark_app_limited(std::uint32_t inflight);

  std::uint64_t total_delivered() const { return delivered_; }
  std::uint64_t total_lost() const { return lost_; }
  Instant delivered_time() const { return delivered_time_; }
  bool app_limited() const { return app_limited_ != 0; }
  // The last valid sample's rate (bytes per second), for info and traces; 0 before one.
  std::uint64_t last_rate() const { return last_rate_; }

  friend bool operator==(const DeliveryRate&, const DeliveryRate&) = default;

 private:
  std::uint64_t delivered_ = 0;    // C.delivered
  std::uint64_t lost_ = 0;         // C.lost
  std::uint64_t app_limited_ = 0;  // C.app_limited: end of the app-limited bubble, 0 = none
  std::uint64_t last_rate_ = 0;
  Instant delivered_time_{};   // C.delivered_time
  Instant first_send_time_{};  // C.first_send_time
};

}  // namespace utcp::detail
