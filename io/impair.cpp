#include "impair.hpp"

#include <algorithm>
#include <functional>

namespace utcp::io {

Impairer::Impairer(const Impairment& config, std::uint64_t stream)
    : config_(config), rng_(config.seed * 0x9E3779B97F4A7C15ull + stream) {}

bool Impairer::chance(double p) {
  if (p <= 0) return false;
  // 53 random bits as a double in [0, 1): the same on every platform for a seed.
  double u = static_cast<double>(rng_() >> 11) * 0x1.0p-53;
  return u < p;
}

void Impairer::hold(std::span<const std::byte> packet, std::uint64_t due_ns) {
  held_.push_back(Held{due_ns, next_order_++, std::vector<std::byte>(packet.begin(), packet.end())});
  std::push_heap(held_.begin(), held_.end(), std::greater<>{});
}

void Impairer::push(std::span<const std::byte> packet, std::uint64_t now_ns, const Sink& sink) {
  if (chance(config_.loss)) {
    ++counters_.lost;
    return;
  }
  std::uint64_t due = now_ns + config_.delay_ns;
  bool reordered = chance(config_.reorder);
  bool duplicated = chance(config_.duplicate);
  if (reordered) {
    ++counters_.reordered;
    hold(packet, due + config_.reorder_delay_ns);  // later packets pass it
  } else if (due <= now_ns) {
    sink(packet);
  } else {
    hold(packet, due);
  }
  if (duplicated) {
    ++counters_.duplicated;
    if (due <= now_ns) {
      sink(packet);
    } else {
      hold(packet, due);
    }
  }
}

void Impairer::release(std::uint64_t now_ns, const Sink& sink) {
  while (!held_.empty() && held_.front().due_ns <= now_ns) {
    std::pop_heap(held_.begin(), held_.end(), std::greater<>{});
    Held h = std::move(held_.back());
    held_.pop_back();
    sink(h.bytes);
  }
}

std::optional<std::uint64_t> Impairer::next_release() const {
  if (held_.empty()) return std::nullopt;
  return held_.front().due_ns;
}

}  // namespace utcp::io
