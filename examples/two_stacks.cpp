// Two utcp stacks in one process: a handshake, 16 MiB each way through in-memory packet
// passing with virtual time, a close, and a summary.
//
//   two_stacks [bytes] [loss]     e.g. two_stacks 16777216 0.01
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "utcp/utcp.hpp"

namespace {

using namespace std::chrono_literals;
using utcp::Instant;

struct Packet {
  Instant at;
  bool to_b;
  utcp::IpAddr src, dst;
  std::vector<std::byte> bytes;
};

struct Host {
  utcp::State<int> s;
  utcp::IpAddr ip;
  std::optional<utcp::Flow> flow;
  std::string out_data;
  std::size_t sent = 0, received = 0;
  std::uint64_t checksum = 1469598103934665603ull;  // FNV-1a of what arrived
  bool eof = false, shut = false, closed = false;
};

std::uint64_t fnv(std::uint64_t h, const std::string& s) {
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}
// The bytes recv returns are the receive queue's own blocks, shared (no copy).
std::uint64_t fnv(std::uint64_t h, const utcp::Payload& p) {
  p.for_each_slice([&](std::span<const std::byte> s) {
    for (std::byte c : s) h = (h ^ std::to_integer<unsigned>(c)) * 1099511628211ull;
  });
  return h;
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t bytes = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 16u << 20;
  const double loss = argc > 2 ? std::atof(argv[2]) : 0.0;
  const utcp::Duration latency = 1ms;  // one way

  Host a{utcp::empty<int>([n = 0]() mutable { return n++; }, "a"), utcp::IpAddr::v4(10, 0, 0, 1), {}, {}};
  Host b{utcp::empty<int>([n = 0]() mutable { return n++; }, "b"), utcp::IpAddr::v4(10, 0, 0, 2), {}, {}};
  a.out_data.assign(bytes, 'a');
  b.out_data.assign(bytes, 'b');
  for (std::size_t i = 0; i < bytes; ++i) {
    a.out_data[i] = static_cast<char>('a' + i % 23);
    b.out_data[i] = static_cast<char>('A' + i % 19);
  }
  const std::uint64_t want_at_a = fnv(1469598103934665603ull, b.out_data);
  const std::uint64_t want_at_b = fnv(1469598103934665603ull, a.out_data);

  Instant now = Instant{} + 1h;
  const Instant start = now;
  std::deque<Packet> wire;
  std::uint64_t segments = 0, lost = 0, rng = 0x2545F4914F6CDD1Dull;
  auto put = [&](bool from_a, std::vector<utcp::Output>&& outs) {
    for (auto& o : outs) {
      ++segments;
      rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
      if (loss > 0 && static_cast<double>(rng >> 11) / 9007199254740992.0 < loss) {
        ++lost;
        continue;
      }
      wire.push_back(Packet{now + latency, from_a, o.src, o.dst, o.segment.encode(o.src, o.dst)});
    }
  };

  b.s = utcp::start_listen(std::move(b.s), 80);
  auto c = utcp::connect(std::move(a.s), now, a.ip, b.ip, 80);
  if (!c) {
    std::fprintf(stderr, "connect: %s\n", c.error().message.c_str());
    return 1;
  }
  a.s = std::move(c->state);
  a.flow = c->flow;
  put(true, {c->syn});

  auto app = [&](Host& h, bool is_a) {
    if (!h.flow) return;
    if (!h.eof) {
      auto r = utcp::recv(std::move(h.s), now, *h.flow);
      if (r) {
        h.s = std::move(r->state);
        for (auto& d : r->data) {
          h.received += d.size();
          h.checksum = fnv(h.checksum, d);
        }
        put(is_a, std::move(r->out));
      } else if (r.error().kind == utcp::Error::Kind::eof) {
        h.eof = true;
      }
    }
    while (h.sent < h.out_data.size()) {
      auto r =
          utcp::send(std::move(h.s), now, *h.flow, std::string_view(h.out_data).substr(h.sent, 256 * 1024));
      if (!r) break;
      h.s = std::move(r->state);
      h.sent += r->enqueued;
      put(is_a, std::move(r->out));
      if (r->enqueued == 0) break;
    }
    if (!h.shut && h.sent == h.out_data.size()) {
      if (auto r = utcp::shutdown(std::move(h.s), now, *h.flow, utcp::Direction::write)) {
        h.s = std::move(r->state);
        put(is_a, std::move(r->out));
      }
      h.shut = true;
    }
    if (h.shut && h.eof && !h.closed) {
      if (auto r = utcp::close(std::move(h.s), now, *h.flow)) {
        h.s = std::move(r->state);
        put(is_a, std::move(r->out));
      }
      h.closed = true;
    }
  };

  const auto wall0 = std::chrono::steady_clock::now();
  for (;;) {
    app(a, true);
    app(b, false);
    std::optional<Instant> next;
    auto consider = [&](std::optional<Instant> t) {
      if (t && (!next || *t < *next)) next = t;
    };
    if (!wire.empty()) consider(wire.front().at);
    consider(utcp::next_deadline(a.s));
    consider(utcp::next_deadline(b.s));
    if (!next) break;
    if (std::getenv("TWO_STACKS_TRACE") && *next - now > 1s)
      std::fprintf(stderr, "jump %.3f -> %.3f a got %zu b got %zu\n",
                   std::chrono::duration<double>(now - start).count(),
                   std::chrono::duration<double>(*next - start).count(), a.received, b.received);
    now = std::max(now, *next);
    while (!wire.empty() && wire.front().at <= now) {
      Packet p = std::move(wire.front());
      wire.pop_front();
      Host& h = p.to_b ? b : a;
      auto r = utcp::handle_buf(std::move(h.s), now, p.src, p.dst, p.bytes);
      h.s = std::move(r.state);
      if (r.event && !h.flow)
        if (auto* e = std::get_if<utcp::Established<int>>(&*r.event)) h.flow = e->flow;
      put(!p.to_b, std::move(r.out));
    }
    for (Host* h : {&a, &b}) {
      if (auto d = utcp::next_deadline(h->s); d && *d <= now) {
        auto r = utcp::timer(std::move(h->s), now);
        h->s = std::move(r.state);
        put(h == &a, std::move(r.out));
      }
    }
  }
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
  const double virt = std::chrono::duration<double>(now - start).count();
  const bool ok = a.received == bytes && b.received == bytes && a.checksum == want_at_a &&
                  b.checksum == want_at_b && utcp::num_connections(a.s) == 0 &&
                  utcp::num_connections(b.s) == 0;
  std::printf("two_stacks: %zu bytes each way, loss %.2f%%\n", bytes, loss * 100);
  std::printf("  delivered   a->b %zu, b->a %zu bytes, %s\n", b.received, a.received,
              ok ? "byte-identical, both closed" : "MISMATCH");
  std::printf(
      "  segments    %llu (%llu lost), retransmissions a %llu b %llu\n",
      static_cast<unsigned long long>(segments), static_cast<unsigned long long>(lost),
      static_cast<unsigned long long>(utcp::stats(a.s).retransmits_fast + utcp::stats(a.s).retransmits_rto),
      static_cast<unsigned long long>(utcp::stats(b.s).retransmits_fast + utcp::stats(b.s).retransmits_rto));
  std::printf("  virtual     %.3f s (1 ms one-way latency, TIME-WAIT included)\n", virt);
  std::printf("  wall clock  %.3f s, %.1f MB/s both directions together\n", wall,
              wall > 0 ? 2.0 * static_cast<double>(bytes) / wall / 1e6 : 0.0);
  return ok ? 0 : 1;
}
