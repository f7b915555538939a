#include "property_util.hpp"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <sstream>

namespace utcp::sim::test {
namespace {

// Log-uniform in [lo, hi]: small and large sizes equally likely per decade.
std::uint64_t log_uniform(Rng& rng, std::uint64_t lo, std::uint64_t hi) {
  const double a = std::log(static_cast<double>(lo)), b = std::log(static_cast<double>(hi));
  const auto v = static_cast<std::uint64_t>(std::exp(a + (b - a) * rng.uniform()));
  return std::clamp(v, lo, hi);
}

double maybe(Rng& rng, double p_on, double max) {
  const bool on = rng.chance(p_on);
  const double v = rng.uniform() * max;
  return on ? v : 0.0;
}

LinkConfig random_link(Rng& rng, std::uint32_t mtu) {
  LinkConfig l;
  l.delay = std::chrono::microseconds(rng.between(100, 50'000));
  l.rate_bps = rng.chance(0.3) ? 0 : log_uniform(rng, 1'000'000, 1'000'000'000);
  l.queue_limit = static_cast<std::size_t>(log_uniform(rng, 8, 1000));
  l.mtu = mtu;
  l.impair.loss = maybe(rng, 0.7, 0.20);
  if (rng.chance(0.2)) {
    // Bad-state runs end with probability r per datagram; r >= 0.5 keeps 15 losses in a row
    // of one retransmission (max_retransmits) below 1 in 30,000.
    l.impair.burst = GilbertElliott{0.001 + rng.uniform() * 0.05, 0.5 + rng.uniform() * 0.4, 1.0, 0.0};
  }
  l.impair.duplicate = maybe(rng, 0.3, 0.05);
  l.impair.reorder = maybe(rng, 0.3, 0.10);
  l.impair.reorder_delay = std::chrono::microseconds(rng.between(100, 30'000));
  l.impair.corrupt = maybe(rng, 0.3, 0.05);
  return l;
}

}  // namespace

bool soak() {
  const char* v = std::getenv("UTCP_SOAK");
  return v && *v && std::string(v) != "0";
}

std::optional<std::uint64_t> env_number(const char* name) {
  const char* v = std::getenv(name);
  if (!v || !*v) return std::nullopt;
  return std::strtoull(v, nullptr, 0);
}

TransferSpec random_spec(std::uint64_t seed, std::uint64_t max_bytes) {
  Rng rng(mix(seed, 0x9e0be57));
  TransferSpec spec;
  spec.seed = seed;
  auto size = [&] { return rng.chance(0.1) ? 0 : log_uniform(rng, 1, max_bytes); };
  spec.client_bytes = size();
  spec.server_bytes = size();
  spec.ipv6 = rng.chance(0.3);
  const std::uint32_t header = spec.ipv6 ? 60 : 40;
  // One MTU for the path; the MSS 536 .. 9000 (IPv6 needs an MTU of 1280 at least).
  const std::uint32_t min_mss = spec.ipv6 ? 1220 : 536;
  const std::uint32_t mss = rng.chance(0.3) ? (rng.chance(0.5) ? min_mss : 9000)
                                            : static_cast<std::uint32_t>(rng.between(min_mss, 9000));
  for (Config* c : {&spec.client_config, &spec.server_config}) {
    c->mtu = mss + header;
    c->send_buffer = static_cast<std::uint32_t>(log_uniform(rng, 4096, 4 << 20));
    c->recv_buffer = static_cast<std::uint32_t>(log_uniform(rng, 4096, 4 << 20));
    c->window_scaling = rng.chance(0.7);
    c->nodelay = rng.chance(0.5);
  }
  spec.forward = random_link(rng, mss + header);
  spec.backward = random_link(rng, mss + header);
  // Slow readers, drawn from their own stream so the draws above stay as they were.
  Rng slow(mix(seed, 0x5101e7));
  for (Duration* d : {&spec.client_read_interval, &spec.server_read_interval}) {
    const bool on = slow.chance(0.15);
    const auto ms = slow.between(1, 1000);
    if (on) *d = std::chrono::milliseconds(ms);
  }
  // A bound on the work, far above what a healthy run needs (a few steps per segment), so a
  // run that livelocks (an ACK loop, say) ends as a failure instead of running for minutes.
  const std::uint64_t segments = (spec.client_bytes + spec.server_bytes) / 536 + 1;
  spec.step_limit = 100 * segments + 100'000;
  return spec;
}

std::string describe(const TransferSpec& s) {
  std::ostringstream os;
  os << "seed " << s.seed << ": " << s.client_bytes << " B client->server, " << s.server_bytes
     << " B server->client, " << (s.ipv6 ? "IPv6" : "IPv4") << "\n";
  for (const auto& [who, c] :
       {std::pair{"client", &s.client_config}, std::pair{"server", &s.server_config}}) {
    os << "  " << who << ": mtu " << c->mtu << " send_buffer " << c->send_buffer << " recv_buffer "
       << c->recv_buffer << " wscale " << c->window_scaling << " nodelay " << c->nodelay << "\n";
  }
  os << "  read intervals: client "
     << std::chrono::duration_cast<std::chrono::milliseconds>(s.client_read_interval).count() << "ms server "
     << std::chrono::duration_cast<std::chrono::milliseconds>(s.server_read_interval).count() << "ms\n";
  for (const auto& [who, l] :
       {std::pair{"client->server", &s.forward}, std::pair{"server->client", &s.backward}}) {
    os << "  " << who << ": delay " << std::chrono::duration_cast<std::chrono::microseconds>(l->delay).count()
       << "us rate " << l->rate_bps << " queue " << l->queue_limit << " mtu " << l->mtu << " loss "
       << l->impair.loss;
    if (l->impair.burst) os << " burst p " << l->impair.burst->p << " r " << l->impair.burst->r;
    os << " dup " << l->impair.duplicate << " reorder " << l->impair.reorder << " (+"
       << std::chrono::duration_cast<std::chrono::microseconds>(l->impair.reorder_delay).count()
       << "us) corrupt " << l->impair.corrupt << "\n";
  }
  return os.str();
}

std::string self_path() {
  char buf[4096];
  const ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return "utcp_sim_tests";
  return std::string(buf, static_cast<std::size_t>(n));
}

}  // namespace utcp::sim::test
