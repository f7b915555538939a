// What a script runs with: the header options (`--tolerance_usecs=...`) and the defaults of
// docs/SCRIPTS.md, resolved into one value.
#pragma once

#include <cstdint>
#include <expected>
#include <string>
#include <vector>

#include "ast.hpp"
#include "parser.hpp"
#include "utcp/config.hpp"
#include "utcp/ip.hpp"

namespace utcp::script {

struct RunConfig {
  bool ipv6 = false;
  IpAddr local_ip = IpAddr::v4(192, 168, 0, 1);  // the stack under test
  IpAddr remote_ip = IpAddr::v4(192, 0, 2, 1);   // the script's side
  std::uint16_t bind_port = 8080;                // `bind(fd, ..., ...)` binds to it
  std::uint16_t connect_port = 8080;             // `connect(fd, ..., ...)` connects to it
  std::uint16_t remote_port = 40000;             // the script's port for inbound packets to a listener
  Micros tolerance_usecs = 4000;
  double tolerance_percent = 12.5;
  std::uint32_t mtu = 1500;  // the host's MTU; `--mss=N` sets it to N + 40 (IPv4) or N + 60 (IPv6)
  std::uint64_t seed = 1;    // the host's seed: the same script runs the same way every time
  // Linux's sysctl of the same name: whether the stack negotiates RFC 7323 timestamps. Off
  // unless a script asks, so scripts written without options keep their SYNs.
  bool tcp_timestamps = false;
  bool tcp_sack = false;  // the same for RFC 2018 SACK (sysctl net.ipv4.tcp_sack)
  // TEST ONLY: `--test_fault=NAME` (repeatable) plants a deliberate bug in the stack
  // (Config::TestFaults), for the reproducers `utcp explore --repro` writes (docs/EXPLORE.md).
  Config::TestFaults test_faults{};

  // The timing tolerance for an event expected at `expected`, the previous event having
  // been at `previous` (script times): max(tolerance_usecs, tolerance_percent of the gap).
  Micros tolerance(Micros expected, Micros previous) const;
};

// Applies the options in order over the defaults (an `--ip_version=ipv6` switches the
// default addresses; `--local_ip`/`--remote_ip` given anywhere win over them). The error
// names the offending option and its line.
std::expected<RunConfig, ParseError> make_config(const std::vector<HeaderOption>& options);

}  // namespace utcp::script
