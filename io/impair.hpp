// Seeded network impairment inside the driver (this kernel has no netem): loss,
// duplication, reordering and delay, the same packets affected for the same seed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <random>
#include <span>
#include <vector>

namespace utcp::io {

struct Impairment {
  double loss = 0;                             // probability a packet is dropped
  double duplicate = 0;                        // probability a packet is delivered twice
  double reorder = 0;                          // probability a packet is held back so later ones overtake it
  std::uint64_t delay_ns = 0;                  // one-way delay added to every packet
  std::uint64_t reorder_delay_ns = 3'000'000;  // how long a reordered packet is held
  std::uint64_t seed = 1;
  bool any() const { return loss > 0 || duplicate > 0 || reorder > 0 || delay_ns > 0; }
};

// One direction of a link. Packets go in with push(); they come out through the sink at
// once or, when delayed or reordered, from release() once their time has come.
class Impairer {
 public:
  using Sink = std::function<void(std::span<const std::byte>)>;
  struct Counters {
    std::uint64_t lost = 0, duplicated = 0, reordered = 0;
  };

  // `stream` tells the directions apart: each has its own random sequence from one seed.
  Impairer(const Impairment& config, std::uint64_t stream);

  void push(std::span<const std::byte> packet, std::uint64_t now_ns, const Sink& sink);
  void release(std::uint64_t now_ns, const Sink& sink);
  std::optional<std::uint64_t> next_release() const;
  const Counters& counters() const { return counters_; }

 private:
  struct Held {
    std::uint64_t due_ns;
    std::uint64_t order;  // first in, first out among packets due at the same time
    std::vector<std::byte> bytes;
    bool operator>(const Held& o) const { return due_ns != o.due_ns ? due_ns > o.due_ns : order > o.order; }
  };
  bool chance(double p);
  void hold(std::span<const std::byte> packet, std::uint64_t due_ns);

  Impairment config_;
  std::mt19937_64 rng_;
  std::uint64_t next_order_ = 0;
  std::vector<Held> held_;  // a min-heap on (due_ns, order)
  Counters counters_;
};

}  // namespace utcp::io
