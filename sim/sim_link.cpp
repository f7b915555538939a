#include "sim_link.hpp"

#include <algorithm>

namespace utcp::sim {

std::ostream& operator<<(std::ostream& os, const LinkStats& s) {
  return os << "offered " << s.offered << " delivered " << s.delivered << " lost " << s.lost << " burst_lost "
            << s.burst_lost << " queue_drops " << s.queue_drops << " mtu_drops " << s.mtu_drops
            << " duplicated " << s.duplicated << " reordered " << s.reordered << " corrupted " << s.corrupted
            << " max_queue " << s.max_queue;
}

double Link::mean_queue(Instant now) const {
  if (!offered_ || !(first_offer_ < now)) return 0;
  // The area up to now: the recorded part, then the departures still pending before now.
  double area = occupancy_area_;
  Instant t = occupancy_at_;
  std::size_t n = in_queue_.size();
  for (const Instant d : in_queue_) {
    if (now < d) break;
    area += static_cast<double>(n) * static_cast<double>((d - t).count());
    t = d;
    --n;
  }
  if (t < now) area += static_cast<double>(n) * static_cast<double>((now - t).count());
  return area / static_cast<double>((now - first_offer_).count());
}

std::optional<Instant> Link::transmit(Instant now, std::size_t ip_size) {
  // The occupancy integral moves to `now` through the departures before it.
  while (!in_queue_.empty() && in_queue_.front() <= now) {
    const Instant d = in_queue_.front();
    occupancy_area_ +=
        static_cast<double>(in_queue_.size()) * static_cast<double>((d - occupancy_at_).count());
    occupancy_at_ = d;
    in_queue_.pop_front();
  }
  occupancy_area_ +=
      static_cast<double>(in_queue_.size()) * static_cast<double>((now - occupancy_at_).count());
  occupancy_at_ = now;
  if (config_.queue_limit != 0 && in_queue_.size() >= config_.queue_limit) return std::nullopt;
  Duration serialise{0};
  if (config_.rate_bps != 0) {
    // Rounded up to whole nanoseconds so a busy link never transmits in zero time.
    const std::uint64_t bits = static_cast<std::uint64_t>(ip_size) * 8;
    serialise = Duration((bits * 1'000'000'000ull + config_.rate_bps - 1) / config_.rate_bps);
  }
  const Instant done = std::max(now, busy_until_) + serialise;
  busy_until_ = done;
  in_queue_.push_back(done);
  stats_.max_queue = std::max<std::uint64_t>(stats_.max_queue, in_queue_.size());
  return done;
}

std::vector<Delivery> Link::offer(Instant now, std::size_t ip_size, std::size_t tcp_size) {
  ++stats_.offered;
  if (!offered_) {
    offered_ = true;
    first_offer_ = occupancy_at_ = now;
  }
  // Every draw, always, in this order.
  bool ge_lost = false;
  if (config_.impair.burst) {
    const GilbertElliott& ge = *config_.impair.burst;
    const double u_move = rng_.uniform();
    bad_state_ = bad_state_ ? !(u_move < ge.r) : (u_move < ge.p);
    ge_lost = rng_.chance(bad_state_ ? ge.loss_bad : ge.loss_good);
  }
  const bool lost = rng_.chance(config_.impair.loss);
  const bool dup = rng_.chance(config_.impair.duplicate);
  const bool reorder = rng_.chance(config_.impair.reorder);
  const bool corrupt = rng_.chance(config_.impair.corrupt);
  const std::uint64_t bit = rng_.below(std::max<std::size_t>(tcp_size, 1) * 8);
  const bool dup_corrupt = rng_.chance(config_.impair.corrupt);
  const std::uint64_t dup_bit = rng_.below(std::max<std::size_t>(tcp_size, 1) * 8);

  std::vector<Delivery> out;
  if (ip_size > config_.mtu) {
    ++stats_.mtu_drops;
    return out;
  }
  if (ge_lost) {
    ++stats_.burst_lost;
    return out;
  }
  if (lost) {
    ++stats_.lost;
    return out;
  }
  const auto first = transmit(now, ip_size);
  if (!first) {
    ++stats_.queue_drops;
    return out;
  }
  Delivery d{*first + config_.delay, std::nullopt};
  if (reorder) {
    d.at += config_.impair.reorder_delay;
    ++stats_.reordered;
  }
  if (corrupt && tcp_size > 0) {
    d.flip_bit = bit;
    ++stats_.corrupted;
  }
  out.push_back(d);
  if (dup) {
    ++stats_.duplicated;
    if (const auto second = transmit(now, ip_size)) {
      Delivery c{*second + config_.delay, std::nullopt};
      if (dup_corrupt && tcp_size > 0) {
        c.flip_bit = dup_bit;
        ++stats_.corrupted;
      }
      out.push_back(c);
    } else {
      ++stats_.queue_drops;
    }
  }
  stats_.delivered += out.size();
  stats_.bytes_delivered += out.size() * ip_size;
  return out;
}

}  // namespace utcp::sim
