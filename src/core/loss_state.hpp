// The sender's SACK loss-recovery state, kept beside the Tcb while data is in flight on a
// connection that negotiated SACK (tcb.hpp's layout rule: an idle connection pays one null
// pointer for it): the scoreboard (RFC 6675 §3, RFC 8985 §5.2), RACK and TLP (RFC 8985), PRR
// (RFC 6937) and the RFC 6675 recovery episode.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>

#include "core/boxed.hpp"
#include "core/congestion.hpp"
#include "core/prr.hpp"
#include "core/rack.hpp"
#include "core/scoreboard.hpp"
#include "utcp/seq.hpp"

namespace utcp::detail {

// A recovery episode that may yet prove spurious: RFC 3708's DSACK detection (every octet the
// episode retransmitted is reported duplicate) or RFC 3522's timestamps (the ACK that ends the
// episode echoes a TSval older than its first retransmission: an original filled the last
// hole). Either, once the episode is over, undoes its congestion response (RFC 4015 §3).
struct Undo {
  Seq marker;                    // SND.UNA when the episode began: DSACKs above it count
  std::uint32_t retransmitted = 0;  // octets the episode sent again
  std::uint32_t unproven = 0;       // ... not yet reported duplicate by a DSACK
  std::optional<std::uint32_t> first_rtx_tsval;  // the TSval of its first retransmission
  Congestion::Algorithm prior;   // the congestion state before the episode's response

  // The episode's retransmissions were all unnecessary. `tsecr`: the TSecr of the ACK that
  // ended it, if any.
  bool spurious(std::optional<std::uint32_t> tsecr) const {
    if (retransmitted == 0) return false;
    if (unproven == 0) return true;
    return tsecr && first_rtx_tsval && static_cast<std::int32_t>(*tsecr - *first_rtx_tsval) < 0;
  }
};

struct LossState {
  Scoreboard board;  // covers [SND.UNA, SND.MAX) exactly (check_invariants)
  Rack rack;
  Tlp tlp;
  Prr prr;
  // Bytes PRR allows to send now (RFC 6937 sndcnt, set per ACK in recovery, spent by output).
  std::uint32_t sndcnt = 0;
  // The loss_probe timer's meaning: RACK's reordering timeout (RFC 8985 §6.2 step 5) when set,
  // else the TLP's probe timeout (§7.2).
  bool reo_timer = false;
  bool probing = false;  // a TLP retransmission is going out (for Stats::retransmits_fast)
  // The inputs of the last probe timeout armed (arm_probe_timeout, output/recovery.cpp) and
  // its deadline: the same inputs give the same deadline, so a send that finds them unchanged
  // and the timer still at `at` has nothing to re-arm (issue 15).
  struct PtoMemo {
    Instant now{};                     // when it was armed
    Instant rtx{};                     // the retransmit timer's deadline then
    std::optional<Duration> srtt;      // SRTT then
    bool single = false;               // one segment in flight (the delayed-ACK allowance)
    Instant at = Instant::max();       // the deadline armed (max: none)
  } pto_memo;
  // The last recovery episode, until it is undone, proven needed, or replaced (input/sack.cpp).
  // Kept past the end of the flight for the DSACKs that may still come.
  std::optional<Undo> undo;
};

// A flow's LossState lives while data is in flight, so an application-limited flow (or a
// bulk one whose flight drains between writes) makes and drops one per flight. They are
// recycled through a small cache per thread, scoreboard storage included, so a steady
// stream allocates nothing for them (issue 15): take() hands out a cached one reset to a
// fresh LossState{} but for its scoreboard's capacity.
template <>
struct BoxPool<LossState> {
  static std::unique_ptr<LossState> take();
  static std::unique_ptr<LossState> copy(const LossState& l) { return std::make_unique<LossState>(l); }
  static void give(std::unique_ptr<LossState> l);
};

}  // namespace utcp::detail
