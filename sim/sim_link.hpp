// One direction of a simulated wire: propagation delay, a serialising transmitter behind a
// drop-tail queue, an MTU, and seeded impairments (netem's vocabulary). A Link decides the
// fate of each datagram the moment it is offered; the Network turns fates into arrivals.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <ostream>
#include <vector>

#include "sim_rng.hpp"
#include "utcp/time.hpp"

namespace utcp::sim {

// Two-state Markov loss (Gilbert 1960, Elliott 1963): per datagram, the state moves
// good -> bad with probability p and bad -> good with probability r, then the datagram is
// lost with the probability of the state it is in.
struct GilbertElliott {
  double p = 0.0;         // good -> bad
  double r = 1.0;         // bad -> good
  double loss_bad = 1.0;  // loss in the bad state
  double loss_good = 0.0;
  friend bool operator==(const GilbertElliott&, const GilbertElliott&) = default;
};

struct Impairments {
  double loss = 0.0;  // uniform, independent per datagram
  std::optional<GilbertElliott> burst;
  double duplicate = 0.0;  // a second copy follows the first through the queue
  double reorder = 0.0;    // held back by reorder_delay on top of the path delay
  Duration reorder_delay = std::chrono::milliseconds(5);
  double corrupt = 0.0;  // one bit flipped in the TCP header or payload (the checksum's job)
  friend bool operator==(const Impairments&, const Impairments&) = default;
};

struct LinkConfig {
  Duration delay = std::chrono::milliseconds(10);  // one-way propagation
  std::uint64_t rate_bps = 0;                      // 0: no serialisation time
  std::size_t queue_limit = 1000;                  // datagrams queued or in service (drop-tail)
  std::uint32_t mtu = 65535;                       // largest IP datagram carried
  Impairments impair;
  friend bool operator==(const LinkConfig&, const LinkConfig&) = default;
};

struct LinkStats {
  std::uint64_t offered = 0;     // datagrams handed to the link
  std::uint64_t delivered = 0;   // arrivals scheduled (copies included)
  std::uint64_t lost = 0;        // uniform loss
  std::uint64_t burst_lost = 0;  // Gilbert-Elliott loss
  std::uint64_t queue_drops = 0;
  std::uint64_t mtu_drops = 0;  // larger than the MTU
  std::uint64_t duplicated = 0;
  std::uint64_t reordered = 0;
  std::uint64_t corrupted = 0;
  std::uint64_t bytes_delivered = 0;
  std::uint64_t max_queue = 0;  // the most datagrams queued or in service at once
  friend bool operator==(const LinkStats&, const LinkStats&) = default;
};
std::ostream& operator<<(std::ostream&, const LinkStats&);

// What becomes of one copy of a datagram.
struct Delivery {
  Instant at;                           // arrival at the far end
  std::optional<std::size_t> flip_bit;  // corrupt: the bit to flip, counted from the TCP header
};

class Link {
 public:
  Link(LinkConfig config, std::uint64_t seed) : config_(config), rng_(seed) {}

  // Offers a datagram of `ip_size` bytes (IP header included) whose TCP part is `tcp_size`
  // bytes; returns its copies' arrivals (none when it was dropped). The random draws per
  // datagram are the same whatever the outcome, so one impairment's setting does not shift
  // another's stream.
  std::vector<Delivery> offer(Instant now, std::size_t ip_size, std::size_t tcp_size);

  const LinkConfig& config() const { return config_; }
  const LinkStats& stats() const { return stats_; }
  // The queue's time-weighted mean occupancy, in datagrams queued or in service, from the
  // first offer to `now` (0 before any); with the rate, how long a datagram waits on average.
  double mean_queue(Instant now) const;

 private:
  // Enqueues one copy at the transmitter; the time its last bit leaves, or nothing if the
  // queue is full.
  std::optional<Instant> transmit(Instant now, std::size_t ip_size);

  LinkConfig config_;
  Rng rng_;
  LinkStats stats_;
  bool bad_state_ = false;
  Instant busy_until_{};
  std::deque<Instant> in_queue_;  // departure times of datagrams not yet fully sent
  // The integral of the occupancy over time (datagram-nanoseconds) up to occupancy_at_.
  double occupancy_area_ = 0;
  Instant occupancy_at_{}, first_offer_{};
  bool offered_ = false;
};

}  // namespace utcp::sim
