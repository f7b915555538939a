// The pacer's catch-up rule (output/pacer.hpp): a flow behind its schedule may send at once the
// send quantum's whole segments, or while the peer reports no hole the larger of that and 250 us
// at the rate, at most four quanta; then each segment waits for its slot.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>

#include "output/pacer.hpp"

namespace utcp::detail {
namespace {

using namespace std::chrono_literals;

constexpr std::uint32_t S = 1448;

// BBRSetSendQuantum's rule (and Congestion::send_quantum's for the others): 1 ms at the rate,
// between 2 SMSS and 64 KiB.
std::uint32_t quantum_at(std::uint64_t rate) {
  return static_cast<std::uint32_t>(std::clamp<std::uint64_t>(rate / 1000, 2ull * S, 64ull * 1024));
}

Pacer pacer(std::uint64_t rate, bool no_holes, Instant pace_next, Instant now) {
  return Pacer(rate, S, no_holes, pace_next, now, quantum_at);
}

// Full segments sent at `now` until the pacer holds one, the schedule carried in `next` as
// TcbRare::pace_next carries it from one output call to the next.
std::uint32_t burst(std::uint64_t rate, bool no_holes, Instant& next, Instant now) {
  Pacer p = pacer(rate, no_holes, next, now);
  std::uint32_t n = 0;
  while (n < 10'000 && !p.waits(now)) {
    p.sent(now, S);
    ++n;
  }
  next = p.next;
  return n;
}

const Instant t0 = Instant{} + 10s;

// At 1 GB/s a 64 KiB quantum (45 whole segments) takes 65 us, under the host's lateness: a
// flow without holes that starts to send, or was idle, may send 250 us at the rate (250 kB, 172
// segments); 500 MB/s: 125 kB, 86 segments; at 2 GB/s four quanta (180 segments) cap it. The
// rule before allowed the quantum in bytes and a segment (46) at all three.
TEST(OutputPacer, WithoutHolesAFastFlowCatchesUpByTheHostsLateness) {
  Instant next{};
  EXPECT_EQ(burst(1'000'000'000, true, next, t0), 172u);
  next = t0 - 1s;
  EXPECT_EQ(burst(1'000'000'000, true, next, t0), 172u) << "idle for a second: no more";
  next = Instant{};
  EXPECT_EQ(burst(500'000'000, true, next, t0), 86u);
  next = Instant{};
  EXPECT_EQ(burst(2'000'000'000, true, next, t0), 180u);
  // Then each segment waits for its slot: one due now goes, nothing before it is due.
  next = t0;
  EXPECT_EQ(burst(1'000'000'000, true, next, t0), 1u);
  EXPECT_EQ(burst(1'000'000'000, true, next, t0), 0u);
  // Behind by 10 segments' time: those and the one due now.
  const Pacer p = pacer(1'000'000'000, true, Instant{}, t0);
  next = t0 - p.segments(10);
  EXPECT_EQ(burst(1'000'000'000, true, next, t0), 11u);
}

// With holes (SACKed or lost data in flight) the catch-up is one quantum of whole segments,
// at any rate: 45 at 1 GB/s.
TEST(OutputPacer, WithHolesTheCatchUpIsOneQuantum) {
  Instant next{};
  EXPECT_EQ(burst(1'000'000'000, false, next, t0), 45u);
  next = t0 - 1s;
  EXPECT_EQ(burst(1'000'000'000, false, next, t0), 45u);
}

// Where the quantum takes longer than 250 us (125 MB/s, a 1 Gbit/s path: 64 KiB take 524 us)
// the catch-up is the quantum with or without holes; at 10 Mbit/s it is 2 segments (the
// quantum's floor), so the flow still paces.
TEST(OutputPacer, SlowerFlowsCatchUpByOneQuantum) {
  Instant next{};
  EXPECT_EQ(burst(125'000'000, true, next, t0), 45u);
  next = Instant{};
  EXPECT_EQ(burst(1'250'000, true, next, t0), 2u);
  // Two segments' time later, two more; each deadline after that one.
  const Pacer p = pacer(1'250'000, true, next, t0);
  EXPECT_EQ(burst(1'250'000, true, next, t0 + p.segments(2)), 2u);
  EXPECT_EQ(burst(1'250'000, true, next, t0 + p.segments(2)), 0u);
}

// Not paced (rate 0): nothing waits.
TEST(OutputPacer, UnpacedNeverWaits) {
  Pacer p = pacer(0, true, t0 + 1s, t0);
  EXPECT_FALSE(p.waits(t0));
  p.sent(t0, S);
  EXPECT_FALSE(p.waits(t0));
}

// Pacer::due (output.cpp's reservation for a paced flow) counts what the send loop's own
// waits and sends let out at the same instant: the burst, for a flow on time, behind its
// schedule by a little or by a lot, and before its next slot; an unpaced flow is unbounded.
TEST(OutputPacer, DueIsWhatTheLoopSends) {
  for (const std::uint64_t rate : {10'000'000ull, 300'000'000ull, 1'000'000'000ull}) {
    for (const bool no_holes : {true, false}) {
      for (const Duration behind : {Duration{-1ms}, Duration{0}, Duration{20us}, Duration{1ms}, Duration{1s}}) {
        Instant next = t0 - behind;
        const std::uint64_t due = pacer(rate, no_holes, next, t0).due(t0);
        EXPECT_EQ(due, burst(rate, no_holes, next, t0)) << rate << " B/s, holes " << !no_holes;
      }
    }
  }
  EXPECT_EQ(pacer(0, true, t0, t0).due(t0), ~std::uint64_t{0});
}

}  // namespace
}  // namespace utcp::detail
