// The pacer output's loops share (output.cpp's send loop, recovery.cpp's NextSeg loop).
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>

#include "core/tcb.hpp"

namespace utcp::detail {

// Pacing (draft-ietf-ccwg-bbr-03 "Pacing Rate: BBR.pacing_rate" and "Send Quantum"): a paced
// flow sends a segment only when it is due. `next` (TcbRare::pace_next) is when the next one is;
// each segment sent moves it on by the segment's time at the rate. Timer::pacing holds it while
// a segment waits for it (only then: a deadline always has work to do; a window-limited flow
// keeps its schedule in pace_next).
//
// A flow behind its schedule, or starting to send again, may catch up at once (a burst the
// pacing allows: the host's timer is coarser than the gaps at high rates) by the send quantum
// in whole segments (BBR's, else 1 ms of the rate, in [2 SMSS, 64 KiB]; a 64 KiB quantum is 45
// segments of 1448 B, one super-segment of the host). While the peer reports no hole (pipe ==
// flight: nothing SACKed or marked lost) the catch-up is the larger of that and kLateness at
// the rate, at most four quanta: at rates where a quantum takes less than kLateness (above
// 262 MB/s at 64 KiB) the host's wakeups, not the pacer, would otherwise set the rate, each
// timer wakeup of a sleeping I/O thread costing more than the segments it sends. With holes a
// quantum: the repairs and the new data that lets RACK see the next loss go as each falls due.
// Deviation: docs/deviations.md, "pacing granularity".
struct Pacer {
  static constexpr auto kLateness = std::chrono::microseconds(250);
  static constexpr std::uint32_t kMaxQuanta = 4;

  std::uint64_t rate = 0;  // bytes per second; 0: not paced
  std::uint32_t smss = 1;
  Duration credit{};  // how far behind its schedule it may be: the catch-up less one segment
  Instant next{};
  bool held = false;  // a segment waits for `next`

  Pacer(const Tcb& t, Instant now)
      : Pacer(t.pacing_rate(), t.smss, t.pipe() == t.flight(), t.pace_next(), now,
              [&t](std::uint64_t r) { return t.cc.send_quantum(r, t.smss); }) {}
  // `no_holes`: pipe == flight. `quantum_bytes(rate)`: the send quantum at the rate (called
  // only when rate > 0).
  template <class Quantum>
  Pacer(std::uint64_t rate_, std::uint32_t smss_, bool no_holes, Instant pace_next, Instant now,
        Quantum quantum_bytes)
      : rate(rate_), smss(std::max<std::uint32_t>(smss_, 1)) {
    if (rate == 0) return;
    const std::uint32_t quantum = std::max<std::uint32_t>(quantum_bytes(rate) / smss, 1);
    std::uint32_t catch_up = quantum;  // segments a flow behind its schedule may send at once
    if (no_holes) {
      const std::uint64_t late = rate * static_cast<std::uint64_t>(kLateness.count()) / 1'000'000u / smss;
      catch_up = static_cast<std::uint32_t>(std::clamp<std::uint64_t>(late, quantum, kMaxQuanta * quantum));
    }
    credit = segments(catch_up - 1);
    next = std::max(pace_next, now - credit);
  }
  Duration gap(std::uint64_t bytes) const {
    return std::chrono::duration_cast<Duration>(std::chrono::nanoseconds(bytes * 1'000'000'000u / rate));
  }
  Duration segments(std::uint32_t n) const { return gap(smss) * n; }
  // How many SMSS segments may go at `now`: none before `next`, then one and one more for each
  // segment's time past it (the catch-up is already in `next`); not paced: no bound.
  std::uint64_t due(Instant now) const {
    constexpr std::uint64_t kAll = ~std::uint64_t{0};
    if (rate == 0) return kAll;
    if (now < next) return 0;
    const Duration one = segments(1);
    return one > Duration::zero() ? static_cast<std::uint64_t>((now - next) / one) + 1 : kAll;
  }
  bool waits(Instant now) {
    held = rate > 0 && next > now;
    return held;
  }
  void sent(Instant now, std::uint32_t bytes) {
    if (rate > 0) next = std::max(next, now - credit) + gap(bytes);
  }
  void finish(Tcb& t) const {
    if (rate > 0) t.rare.make().pace_next = next;
    if (held)
      t.arm(Timer::pacing, next);
    else
      t.disarm(Timer::pacing);
  }
};

}  // namespace utcp::detail
