// Delivery rate estimation (draft-ietf-ccwg-bbr-03, "Delivery Rate Estimation").
#include "core/delivery_rate.hpp"

#include <algorithm>

namespace utcp::detail {

RateStamp DeliveryRate::on_send(Instant now, std::uint32_t inflight_before, std::uint32_t size) {
  // "Upon sending a packet": a transmission that starts from an empty pipe starts a new
  // sampling interval, so that the idle time before it is not counted as delivery time.
  if (inflight_before == 0) first_send_time_ = delivered_time_ = now;
  RateStamp p;
  p.delivered = delivered_;
  p.lost = lost_;
  p.delivered_time = delivered_time_;
  p.first_send_time = first_send_time_;
  p.tx_in_flight = inflight_before + size;
  p.is_app_limited = app_limited_ != 0;
  return p;
}

void DeliveryRate::delivered(RateSample& rs, const RateStamp& p, Seq end, std::uint32_t size, Instant sent,
                             bool retransmitted, Instant now) {
  // UpdateRateSample(P).
  delivered_ += size;
  delivered_time_ = now;
  rs.newly_acked += size;
  // The newest segment delivered (latest sent; the higher one of two sent at the same time)
  // defines the sample: it covers the longest interval of reliable data.
  const bool newest = !rs.has_data || rs.send_time < sent || (rs.send_time == sent && rs.end_seq < end);
  if (!newest) return;
  rs.has_data = true;
  rs.prior_delivered = p.delivered;
  rs.prior_lost = p.lost;
  rs.prior_time = p.delivered_time;
  rs.is_app_limited = p.is_app_limited;
  rs.tx_in_flight = p.tx_in_flight;
  rs.send_elapsed = sent - p.first_send_time;
  rs.ack_elapsed = delivered_time_ - p.delivered_time;
  rs.send_time = sent;
  rs.end_seq = end;
  // Karn: a retransmitted segment's ACK may answer either copy.
  rs.rtt = retransmitted ? std::nullopt : std::optional<Duration>(now - sent);
  // The next sample's send interval starts at this segment's transmission.
  first_send_time_ = sent;
}

bool DeliveryRate::generate(RateSample& rs, std::optional<Duration> min_rtt) {
  // The application-limited bubble ends once everything sent within it is delivered.
  if (app_limited_ != 0 && delivered_ > app_limited_) app_limited_ = 0;
  rs.valid = false;
  rs.delivery_rate = 0;
  if (!rs.has_data) return false;
  // The longer of the send and ACK intervals: a compressed ACK train (ACK aggregation) or a
  // burst of sends (a shorter send interval) would overestimate the rate.
  rs.interval = std::max(rs.send_elapsed, rs.ack_elapsed);
  rs.delivered = delivered_ - rs.prior_delivered;
  rs.lost = lost_ - rs.prior_lost;
  // An interval shorter than the minimum RTT cannot be a full round of delivery: no sample.
  if (min_rtt && rs.interval < *min_rtt) return false;
  if (rs.interval <= Duration::zero()) return false;
  const double per_second =
      static_cast<double>(rs.delivered) * 1e9 / static_cast<double>(rs.interval.count());
  rs.delivery_rate = static_cast<std::uint64_t>(per_second);
  rs.valid = true;
  last_rate_ = rs.delivery_rate;
  return true;
}

void DeliveryRate::check_app_limited(bool nothing_to_send, std::uint32_t inflight, std::uint32_t cwnd,
                                     bool lost_pending) {
  // "Detecting application-limited phases": no data waiting, the window not full and no lost
  // segment awaiting its retransmission: the sender, not the path, limits the rate.
  if (nothing_to_send && inflight < cwnd && !lost_pending) mark_app_limited(inflight);
}

void DeliveryRate::mark_app_limited(std::uint32_t inflight) {
  // C.app_limited = (C.delivered + C.inflight) ? : 1
  app_limited_ = std::max<std::uint64_t>(delivered_ + inflight, 1);
}

std::ostream& operator<<(std::ostream& os, const RateStamp& p) {
  return os << "{delivered " << p.delivered << " lost " << p.lost << " delivered_time "
            << p.delivered_time.time_since_epoch().count() << " first_send_time "
            << p.first_send_time.time_since_epoch().count() << " tx_in_flight " << p.tx_in_flight
            << (p.is_app_limited ? " app-limited}" : "}");
}

std::ostream& operator<<(std::ostream& os, const RateSample& rs) {
  os << "{delivered " << rs.delivered << " interval " << rs.interval.count() << "ns rate " << rs.delivery_rate
     << " B/s lost " << rs.lost << " newly_acked " << rs.newly_acked << " newly_lost " << rs.newly_lost;
  if (rs.rtt) os << " rtt " << rs.rtt->count() << "ns";
  if (rs.is_app_limited) os << " app-limited";
  return os << (rs.valid ? " valid}" : " invalid}");
}

}  // namespace utcp::detail
