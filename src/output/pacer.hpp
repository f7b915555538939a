// The pacer output's loops share (output.cpp's send loop, recovery.cpp's NextSeg loop).
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>

#include "core/tcb.hpp"

namespace utcp::detail {

// Pacing (draft-ietf-ccwg-bbr-03 "Pacing Rate: BBR.pacing_rate" and "Send Quantum"): a paced
// flow sends a segment only when it is due. `next` (TcbRare::pace_next) is when the next one is;
// Timer::pacing holds it while a segment waits for it (only then: a deadline always has work
// to do; a window-limited flow keeps its schedule in pace_next). A flow behind
// its schedule, or starting to send again, may catch up by one send quantum (a burst the
// pacing allows: the host's timer is coarser than the gaps at high rates), no more.
struct Pacer {
  std::uint64_t rate = 0;  // bytes per second; 0: not paced
  Duration credit{};
  Instant next{};
  bool held = false;  // a segment waits for `next`

  Pacer(const Tcb& t, Instant now) : rate(t.pacing_rate()) {
    if (rate == 0) return;
    credit = gap(t.cc.send_quantum(rate, t.smss));
    next = std::max(t.pace_next(), now - credit);
  }
  Duration gap(std::uint64_t bytes) const {
    return std::chrono::duration_cast<Duration>(std::chrono::nanoseconds(bytes * 1'000'000'000u / rate));
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
