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
#include <optional>
#include <sstream>
#include <string>

#include "fuzz/fuzz_util.hpp"
#include "sim/two_stacks.hpp"
#include "utcp/utcp.hpp"

namespace {

using namespace std::chrono_literals;
using utcp::fuzz::check;
using utcp::fuzz::Reader;
using utcp::sim::TwoStacks;

// Each packet's fate by the next decision byte d (0 once the input is used up: perfect
// delivery after 1 ms): d >> 6 == 0 delivered after 1 + d ms (so packets overtake each
// other); 1 dropped, unless d & 0x20 says "delay long" instead; 2 duplicated, the copy later;
// 3 one byte flipped (the checksum catches it; the segment is lost).
TwoStacks::Fate decide(TwoStacks& net, Reader& in, bool trace, const utcp::Output& o, TwoStacks::Packet& p) {
  check(o.segment.valid());
  const utcp::Instant now = net.now;
  const std::uint8_t d = in.u8();
  TwoStacks::Fate f;
  switch (d >> 6) {
    case 0:
      f.at = now + 1ms + std::chrono::milliseconds(d);
      break;
    case 1:
      if (d & 0x20)
        f.at = now + std::chrono::milliseconds(64 * (d & 0x1f));
      else
        f.drop = true;
      break;
    case 2:
      f.at = now + 1ms;
      f.again = now + std::chrono::milliseconds(1 + (d & 0x3f) * 4);
      break;
    default:
      if (p.len > 0) p.data()[in.u8() % p.len] ^= std::byte{static_cast<std::uint8_t>(1 + (d & 0x3f))};
      f.at = now + 1ms;
      break;
  }
  // DIFF_TRACE=1 in the environment prints every packet sent and its fate, for reading a
  // reproducer.
  if (trace) {
    std::ostringstream os;
    os << std::chrono::duration<double>(now.time_since_epoch()).count()
       << (o.dst == net.b.ip ? " a>b " : " b>a ") << o.segment << " fate " << int{d >> 6};
    std::fprintf(stderr, "%s\n", os.str().c_str());
  }
  return f;
}

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

  TwoStacks net(ca, cb);
  const bool trace = std::getenv("DIFF_TRACE") != nullptr;
  net.fate = [&](const utcp::Output& o, TwoStacks::Packet& p) { return decide(net, in, trace, o, p); };
  // The applications write what is left in one call, read what arrived, and shut the write
  // side after the last byte (close() would reset on data still arriving).
  for (TwoStacks::Side* sd : {&net.a, &net.b}) {
    sd->chunk = std::string::npos;
    sd->close_at_eof = false;
  }
  net.a.to_send = utcp::sim::pattern(a_bytes, seed);
  net.b.to_send = utcp::sim::pattern(b_bytes, seed + 1);
  net.connect();

  // Bounded: at most 20,000 steps (a step is one instant with something to do), 30,000
  // packets and 2 hours of virtual time (a
  // connection whose retransmissions all fail gives up after ~15 minutes).
  const utcp::Instant start = net.now, end = start + 2h;
  bool done = false;
  int steps = 0;
  for (; steps < 20000; ++steps) {
    for (TwoStacks::Side* sd : {&net.a, &net.b}) {
      if (auto e = net.app(*sd)) {
        std::fprintf(stderr, "a call failed before end of stream, with no drop reported: %s\n",
                     e->message.c_str());
        std::abort();
      }
      if (auto v = utcp::check_invariants(sd->s)) {
        std::fprintf(stderr, "invariant broken: %s\n", v->c_str());
        std::abort();
      }
    }
    if (net.a.eof && net.b.eof) {
      done = true;
      break;
    }
    if (net.a.dropped || net.b.dropped || net.delivered > 30000) break;
    const auto t = net.next_event();
    if (!t || *t > end) break;
    net.advance_to(*t);
    for (const TwoStacks::Side* sd : {&net.a, &net.b}) {
      const auto nd = utcp::next_deadline(sd->s);
      check(!nd || *nd > net.now);
    }
  }
  const TwoStacks::Side &a = net.a, &b = net.b;
  if (done) {
    check(b.received == a.to_send);
    check(a.received == b.to_send);
  } else if (!a.dropped && !b.dropped) {
    // Nothing was lost for good, so the transfer had to finish.
    std::fprintf(stderr, "transfer stalled: a sent %zu/%zu read %zu eof %d, b sent %zu/%zu read %zu eof %d\n",
                 a.sent, a.to_send.size(), a.received.size(), a.eof, b.sent, b.to_send.size(),
                 b.received.size(), b.eof);
    std::fprintf(stderr, "after %d steps, %.3f s of virtual time\n", steps,
                 std::chrono::duration<double>(net.now - start).count());
    for (const TwoStacks::Side* sd : {&a, &b}) {
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
