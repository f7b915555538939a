// Everything a stack can be tuned by. Config{} gives sane defaults with a fixed rng seed
// and ISN secret: deterministic, fine for tests; the host and io layers fill both from the OS.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "utcp/time.hpp"

namespace utcp {

// The congestion control algorithms (src/core/congestion.hpp). Their names are Linux's
// TCP_CONGESTION names.
enum class CongestionControl : std::uint8_t {
  newreno,  // "reno": RFC 5681 with RFC 6582 fast recovery
  cubic,    // "cubic": RFC 9438 with HyStart++ (RFC 9406)
  bbr,      // "bbr": draft-ietf-ccwg-bbr (BBRv3), always paced
};
std::string_view to_string(CongestionControl);
// "reno" (or "newreno"), "cubic", "bbr"; nullopt for any other name.
std::optional<CongestionControl> congestion_control_from(std::string_view name);

struct Config {
  using ms = std::chrono::milliseconds;
  using s = std::chrono::seconds;

  // Link MTU; the MSS we announce is MTU - 40 (IPv4) or MTU - 60 (IPv6).
  std::uint32_t mtu = 1500;

  // Buffers, per connection, in bytes.
  std::uint32_t send_buffer = 256 * 1024;
  std::uint32_t recv_buffer = 256 * 1024;
  bool window_scaling = true;  // offer RFC 7323 window scaling
  // RFC 7323 timestamps (RTTM, PAWS): off in Config{} (the state tests see bare segments); the
  // host layer turns them on unless told not to (UTCP_HOST_NO_TIMESTAMPS).
  bool timestamps = false;
  // RFC 2018 SACK: offer and accept SACK-permitted, send SACK blocks for held out-of-order
  // data. Off in Config{} and on in the host layer, as timestamps (UTCP_HOST_NO_SACK).
  bool sack = false;
  // Out-of-order ranges kept per connection (each costs overhead, counted against the window).
  std::uint32_t max_ooo_ranges = 64;

  // Congestion control: initial window in segments (RFC 6928), the algorithm of new flows,
  // and pacing (each flow spreads its sends over the round trip at the rate its algorithm
  // reports, a timer releasing what is not yet due). Pacing is off here so that tests see
  // the window's sends at once; BBR flows pace whatever it says.
  std::uint32_t initial_window_segments = 10;
  CongestionControl congestion_control = CongestionControl::cubic;
  bool pacing = false;

  // Retransmission (RFC 6298).
  Duration rto_initial = s(1);
  Duration rto_min = ms(200);  // a deviation from RFC 6298 §2.4's 1 s, as Linux does
  Duration rto_max = s(60);
  std::uint32_t max_retransmits = 15;  // then the connection ends with retransmission_exceeded
  Duration zero_window_probe_max = s(60);

  // Delayed ACKs (RFC 9293 §3.8.6.3, RFC 5681 §4.2).
  Duration delayed_ack = ms(40);
  bool nodelay = false;  // default for new flows: Nagle on

  // Keepalive (RFC 9293 §3.8.4): off by default per flow.
  bool keepalive = false;
  Duration keepalive_idle = std::chrono::hours(2);
  Duration keepalive_interval = s(75);
  std::uint32_t keepalive_count = 9;

  // The seed's timer errors.
  Duration connection_establish_timeout = s(180);  // active open not done within
  Duration fin_wait_2_timeout = s(60);
  Duration msl = s(30);  // TIME-WAIT lasts 2 * msl

  // RFC 5961 challenge ACK rate limits.
  std::uint32_t challenge_acks_per_second_per_flow = 10;
  std::uint32_t challenge_acks_per_second = 1000;  // per stack

  // Limits.
  std::uint32_t listen_backlog = 128;      // embryonic connections per listening port
  // RFC 4987 §3.6 SYN cookies once a listening port's backlog is full (off: such SYNs are
  // dropped and counted). Cookie connections keep window scale and SACK only when the peer
  // offered timestamps (they ride in the TSval); without, they run with shift 0.
  bool syn_cookies = true;
  std::size_t max_connections = 1u << 22;  // every state but CLOSED and LISTEN

  // TEST ONLY: deliberate bugs, for the tests that show `utcp explore` finds them
  // (docs/EXPLORE.md). Nothing else sets them; every one off is the stack as specified.
  struct TestFaults {
    // RFC 6298 §5.3 broken: an ACK of part of the data stops the retransmission timer
    // instead of restarting it.
    bool partial_ack_stops_rto = false;
    // RFC 9293 §3.10.7.4 broken: a FIN beyond a gap is taken as if it were in order.
    bool accept_fin_out_of_order = false;
    friend bool operator==(const TestFaults&, const TestFaults&) = default;
  } test_faults;

  // Header prediction (src/input/synchronized.cpp): in-order text and pure ACKs of new data
  // in ESTABLISHED skip the checks their headers already settle; and output with nothing
  // queued skips the send loop (src/output/output.cpp). The results are the same either way
  // (tests compare the two); off sends every segment through the general rules.
  bool header_prediction = true;

  // Randomness: ephemeral ports and ISNs (RFC 6528) come from these alone.
  std::uint64_t rng_seed = 0x7574637020726e67ull;  // "utcp rng"
  std::array<std::uint8_t, 16> isn_secret = {0x75, 0x74, 0x63, 0x70, 0x20, 0x69, 0x73, 0x6e,
                                             0x20, 0x73, 0x65, 0x63, 0x72, 0x65, 0x74, 0x21};
};

}  // namespace utcp
