// libFuzzer target: two stacks over a link the fuzzer impairs. The input's first bytes pick
// the buffers, the MTU and how much data each side sends (a pattern, seeded from the input);
// every further byte decides the fate of one packet on the link: deliver after a fuzzer-chosen
// delay (so packets overtake each other), drop, duplicate, or corrupt a byte. Once the
// decision bytes run out the link is perfect (1 ms, in order), so a transfer must then
// complete unless a connection was already dropped (retransmission_exceeded after too many
// losses in a row, which the fuzzer may well arrange). When it completes, what each side
// read must equal what the other sent; the stacks' invariants hold after every step.
// Every run ends: virtual time and the number of steps are capped.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "fuzz/fuzz_util.hpp"
#include "utcp/utcp.hpp"

namespace {

using namespace std::chrono_literals;
using utcp::fuzz::check;
using utcp::fuzz::Reader;

const utcp::IpAddr kA = utcp::IpAddr::v4(10, 0, 0, 1);
const utcp::IpAddr kB = utcp::IpAddr::v4(10, 0, 0, 2);
constexpr std::uint16_t kPort = 80;

std::string pattern(std::size_t n, std::uint32_t seed) {
  std::string s(n, '\0');
  std::uint32_t x = seed * 2654435761u + 1;
  for (auto& c : s) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    c = static_cast<char>(x);
  }
  return s;
}

struct Side {
  utcp::State<int> s;
  utcp::IpAddr ip;
  std::optional<utcp::Flow> flow;
  std::string to_send, received;
  std::size_t sent = 0;
  bool up = false, shut = false, eof = false, dropped = false;
};

struct Packet {
  bool to_b;
  std::vector<std::byte> bytes;
};

class Link {
 public:
  Link(utcp::Config ca, utcp::Config cb, Reader& in)
      : a_{utcp::empty<int>([n = 0]() mutable { return n++; }, "a", ca),
           kA,
           {},
           {},
           {},
           0,
           false,
           false,
           false,
           false},
        b_{utcp::empty<int>([n = 0]() mutable { return n++; }, "b", cb),
           kB,
           {},
           {},
           {},
           0,
           false,
           false,
           false,
           false},
        in_(in) {}

  Side& a() { return a_; }
  Side& b() { return b_; }
  utcp::Instant now() const { return now_; }
  bool decisions_left() const { return !in_.empty(); }
  std::uint64_t delivered() const { return delivered_; }

  // Puts a side's outputs on the wire, each by the fuzzer's decision.
  void transmit(const Side& from, const std::vector<utcp::Output>& out) {
    for (const auto& o : out) {
      check(o.segment.valid());
      Packet p{&from == &a_, o.segment.encode(o.src, o.dst)};
      const std::uint8_t d = in_.u8();  // 0 once the input is used up: perfect delivery
      switch (d >> 6) {
        case 0:
          put(now_ + 1ms + std::chrono::milliseconds(d), std::move(p));
          break;
        case 1:  // dropped, unless d says "delay long" instead
          if (d & 0x20) put(now_ + std::chrono::milliseconds(64 * (d & 0x1f)), std::move(p));
          break;
        case 2:  // duplicated, the copy later
          put(now_ + 1ms, p);
          put(now_ + std::chrono::milliseconds(1 + (d & 0x3f) * 4), std::move(p));
          break;
        default:  // one byte flipped (the checksum catches it; the segment is lost)
          if (!p.bytes.empty())
            p.bytes[in_.u8() % p.bytes.size()] ^= std::byte{static_cast<std::uint8_t>(1 + (d & 0x3f))};
          put(now_ + 1ms, std::move(p));
          break;
      }
    }
  }

  // The next event time: a packet's arrival or a stack's deadline.
  std::optional<utcp::Instant> next() const {
    std::optional<utcp::Instant> t;
    auto consider = [&](std::optional<utcp::Instant> x) {
      if (x && (!t || *x < *t)) t = x;
    };
    if (!wire_.empty()) consider(std::get<0>(wire_.begin()->first));
    consider(utcp::next_deadline(a_.s));
    consider(utcp::next_deadline(b_.s));
    return t;
  }

  void run_until(utcp::Instant t) {
    now_ = t;
    while (!wire_.empty() && std::get<0>(wire_.begin()->first) <= now_) {
      Packet p = std::move(wire_.begin()->second);
      wire_.erase(wire_.begin());
      Side& to = p.to_b ? b_ : a_;
      const utcp::IpAddr src = p.to_b ? kA : kB;
      ++delivered_;
      if (trace_) print(p, src, to.ip);
      auto r = utcp::handle_buf(std::move(to.s), now_, src, to.ip, p.bytes);
      to.s = std::move(r.state);
      if (r.event) {
        if (auto* e = std::get_if<utcp::Established<int>>(&*r.event);
            e && (!to.flow || e->flow == *to.flow)) {
          to.flow = e->flow;
          to.up = true;
        }
        if (auto* d = std::get_if<utcp::Drop<int>>(&*r.event); d && to.flow && d->flow == *to.flow)
          to.dropped = true;
      }
      transmit(to, r.out);
    }
    for (Side* sd : {&a_, &b_}) {
      auto r = utcp::timer(std::move(sd->s), now_);
      sd->s = std::move(r.state);
      for (const auto& d : r.drops)
        if (sd->flow && d.flow == *sd->flow) sd->dropped = true;
      transmit(*sd, r.out);
      const auto nd = utcp::next_deadline(sd->s);
      check(!nd || *nd > now_);
    }
  }

  // The applications, once connected: write what is left, read what arrived, shut the
  // write side after the last byte (close() would reset on data still arriving).
  void apps() {
    for (Side* sd : {&a_, &b_}) {
      if (!sd->up || sd->dropped) continue;
      if (sd->sent < sd->to_send.size()) {
        auto r =
            utcp::send(std::move(sd->s), now_, *sd->flow, std::string_view(sd->to_send).substr(sd->sent));
        check(r.has_value());
        sd->s = std::move(r->state);
        sd->sent += r->enqueued;
        transmit(*sd, r->out);
      }
      if (sd->sent == sd->to_send.size() && !sd->shut) {
        auto r = utcp::shutdown(std::move(sd->s), now_, *sd->flow, utcp::Direction::write);
        check(r.has_value());
        sd->s = std::move(r->state);
        sd->shut = true;
        transmit(*sd, r->out);
      }
      if (!sd->eof) {
        auto r = utcp::recv(std::move(sd->s), now_, *sd->flow);
        if (r) {
          sd->s = std::move(r->state);
          for (const auto& chunk : r->data) chunk.append_to(sd->received);
          transmit(*sd, r->out);
        } else if (r.error().kind == utcp::Error::Kind::eof) {
          sd->eof = true;
        } else {
          std::fprintf(stderr, "recv failed before end of stream, with no drop reported: %s\n",
                       r.error().message.c_str());
          std::abort();
        }
      }
    }
    for (Side* sd : {&a_, &b_}) {
      if (auto v = utcp::check_invariants(sd->s)) {
        std::fprintf(stderr, "invariant broken: %s\n", v->c_str());
        std::abort();
      }
    }
  }

 private:
  // DIFF_TRACE=1 in the environment prints every packet delivered, for reading a reproducer.
  void print(const Packet& p, const utcp::IpAddr& src, const utcp::IpAddr& dst) const {
    std::ostringstream os;
    os << std::chrono::duration<double>(now_.time_since_epoch()).count() << (p.to_b ? " a>b " : " b>a ");
    if (auto d = utcp::Segment::decode(src, dst, p.bytes))
      os << d->first;
    else
      os << "(corrupt)";
    std::fprintf(stderr, "%s\n", os.str().c_str());
  }

  bool trace_ = std::getenv("DIFF_TRACE") != nullptr;
  void put(utcp::Instant at, Packet p) { wire_.emplace(std::tuple{at, seq_++}, std::move(p)); }

  Side a_, b_;
  Reader& in_;
  utcp::Instant now_ = utcp::Instant{} + 1h;
  std::uint64_t seq_ = 0;
  std::uint64_t delivered_ = 0;
  std::map<std::tuple<utcp::Instant, std::uint64_t>, Packet> wire_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Reader in(data, size);
  const std::uint8_t shape = in.u8();
  utcp::Config ca, cb;
  ca.mtu = cb.mtu = shape & 1 ? 576 : 1500;
  ca.recv_buffer = 1024u << (shape >> 1 & 7);  // 1 KiB .. 128 KiB
  cb.recv_buffer = 1024u << (shape >> 4 & 7);
  ca.send_buffer = cb.send_buffer = 64 * 1024;
  ca.rng_seed ^= in.u8();
  const std::size_t a_bytes = in.u16() % 65536, b_bytes = (in.u8() & 0x3f) * 256u;
  const std::uint32_t seed = in.u8();

  Link link(ca, cb, in);
  link.a().to_send = pattern(a_bytes, seed);
  link.b().to_send = pattern(b_bytes, seed + 1);
  link.b().s = utcp::start_listen(std::move(link.b().s), kPort);
  auto c = utcp::connect(std::move(link.a().s), link.now(), kA, kB, kPort);
  check(c.has_value());
  link.a().s = std::move(c->state);
  link.a().flow = c->flow;
  link.transmit(link.a(), {c->syn});

  // Bounded: at most 20,000 steps (a step is one instant with something to do), 30,000
  // packets and 2 hours of virtual time (a
  // connection whose retransmissions all fail gives up after ~15 minutes).
  const utcp::Instant start = link.now(), end = start + 2h;
  bool done = false;
  int steps = 0;
  for (; steps < 20000; ++steps) {
    link.apps();
    const Side &a = link.a(), &b = link.b();
    if (a.eof && b.eof) {
      done = true;
      break;
    }
    if (a.dropped || b.dropped || link.delivered() > 30000) break;
    const auto t = link.next();
    if (!t || *t > end) break;
    link.run_until(*t);
  }
  const Side &a = link.a(), &b = link.b();
  if (done) {
    check(b.received == a.to_send);
    check(a.received == b.to_send);
  } else if (!a.dropped && !b.dropped) {
    // Nothing was lost for good, so the transfer had to finish.
    std::fprintf(stderr, "transfer stalled: a sent %zu/%zu read %zu eof %d, b sent %zu/%zu read %zu eof %d\n",
                 a.sent, a.to_send.size(), a.received.size(), a.eof, b.sent, b.to_send.size(),
                 b.received.size(), b.eof);
    std::fprintf(stderr, "after %d steps, %.3f s of virtual time\n", steps,
                 std::chrono::duration<double>(link.now() - start).count());
    for (const Side* sd : {&a, &b}) {
      const auto i = sd->flow ? utcp::info(sd->s, *sd->flow) : std::nullopt;
      if (!i) continue;
      std::fprintf(stderr,
                   "  %s: %s snd_una %u snd_nxt %u snd_max %u snd_wnd %u cwnd %u rcv_nxt %u rcv_wnd %u "
                   "queued %zu/%zu ooo %zu retransmits %u rto %.3f\n",
                   sd == &a ? "a" : "b", std::string(utcp::to_string(i->state)).c_str(), i->snd_una - i->iss,
                   i->snd_nxt - i->iss, i->snd_max - i->iss, i->snd_wnd, i->cwnd, i->rcv_nxt - i->irs,
                   i->rcv_wnd, i->send_queued, i->recv_queued, i->ooo_bytes, i->retransmits,
                   std::chrono::duration<double>(i->rto).count());
    }
    std::abort();
  }
  return 0;
}
