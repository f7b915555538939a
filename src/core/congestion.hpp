// Congestion control behind a small closed interface: a std::variant of algorithms, each
// named after the RFC pseudocode it follows. NewReno (RFC 5681, RFC 6582, RFC 3465, RFC 3042)
// is the only one so far.
#pragma once

#include <cstdint>
#include <variant>

#include "utcp/seq.hpp"

namespace utcp::detail {

// RFC 5681 slow start / congestion avoidance with appropriate byte counting (RFC 3465,
// L = 2*SMSS), fast retransmit and NewReno fast recovery (RFC 6582), limited transmit
// (RFC 3042).
struct NewReno {
  std::uint32_t cwnd = 0;
  std::uint32_t ssthresh = 0x7fff'ffff;  // RFC 5681 §3.1: arbitrarily high
  std::uint32_t bytes_acked = 0;         // RFC 3465 §2.1, in congestion avoidance
  std::uint32_t dupacks = 0;
  bool in_recovery = false;
  Seq recover;  // RFC 6582 §3.2 step 1

  // What the ACK processing needs to do after an event.
  enum class Action : std::uint8_t { none, retransmit_first };

  void init(std::uint32_t iw, Seq snd_max) {
    cwnd = iw;
    recover = snd_max;
  }
  // A cumulative ACK covering `acked` new bytes; `snd_max` the highest sequence sent.
  Action on_new_ack(Seq ack, std::uint32_t acked, std::uint32_t flight_before, std::uint32_t smss);
  // RFC 5681 §3.2 duplicate ACK; `ack` its (unchanged) cumulative value.
  Action on_dup_ack(Seq ack, std::uint32_t flight, std::uint32_t smss, Seq snd_max);
  // RFC 5681 §3.1 equation 4, RFC 6582 §4: after a retransmission timeout.
  void on_rto(std::uint32_t flight, std::uint32_t smss, Seq snd_max);
  // RFC 5681 §4.1: restart window after an idle period longer than the RTO.
  void on_idle_restart(std::uint32_t iw) {
    if (cwnd > iw) cwnd = iw;
  }
  // RFC 3042: segments beyond cwnd that the first two duplicate ACKs allow.
  std::uint32_t limited_transmit_allowance(std::uint32_t smss) const {
    return !in_recovery && dupacks > 0 && dupacks < 3 ? dupacks * smss : 0;
  }
};

class Congestion {
 public:
  using Algorithm = std::variant<NewReno>;
  using Action = NewReno::Action;

  void init(std::uint32_t iw, Seq snd_max) {
    std::visit([&](auto& a) { a.init(iw, snd_max); }, algo_);
  }
  std::uint32_t cwnd() const {
    return std::visit([](const auto& a) { return a.cwnd; }, algo_);
  }
  std::uint32_t ssthresh() const {
    return std::visit([](const auto& a) { return a.ssthresh; }, algo_);
  }
  bool in_recovery() const {
    return std::visit([](const auto& a) { return a.in_recovery; }, algo_);
  }
  std::uint32_t dupacks() const {
    return std::visit([](const auto& a) { return a.dupacks; }, algo_);
  }
  void reset_dupacks() {
    std::visit([](auto& a) { a.dupacks = 0; }, algo_);
  }
  Action on_new_ack(Seq ack, std::uint32_t acked, std::uint32_t flight_before, std::uint32_t smss) {
    return std::visit([&](auto& a) { return a.on_new_ack(ack, acked, flight_before, smss); }, algo_);
  }
  Action on_dup_ack(Seq ack, std::uint32_t flight, std::uint32_t smss, Seq snd_max) {
    return std::visit([&](auto& a) { return a.on_dup_ack(ack, flight, smss, snd_max); }, algo_);
  }
  void on_rto(std::uint32_t flight, std::uint32_t smss, Seq snd_max) {
    std::visit([&](auto& a) { a.on_rto(flight, smss, snd_max); }, algo_);
  }
  void on_idle_restart(std::uint32_t iw) {
    std::visit([&](auto& a) { a.on_idle_restart(iw); }, algo_);
  }
  std::uint32_t limited_transmit_allowance(std::uint32_t smss) const {
    return std::visit([&](const auto& a) { return a.limited_transmit_allowance(smss); }, algo_);
  }
  // After a path MTU change: keep the window in whole segments of the new size.
  void clamp_to(std::uint32_t smss) {
    std::visit([&](auto& a) { a.cwnd = a.cwnd < smss ? smss : a.cwnd; }, algo_);
  }

 private:
  Algorithm algo_;
};

}  // namespace utcp::detail
