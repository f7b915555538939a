#include "run_config.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <optional>

#include "parser.hpp"

namespace utcp::script {
namespace {

std::optional<std::uint64_t> unsigned_value(const std::string& s, std::uint64_t max) {
  const auto v = parse_integer(s);
  if (!v || *v < 0 || static_cast<std::uint64_t>(*v) > max) return std::nullopt;
  return static_cast<std::uint64_t>(*v);
}

}  // namespace

Micros RunConfig::tolerance(Micros expected, Micros previous) const {
  const double gap = static_cast<double>(std::max<Micros>(0, expected - previous));
  return std::max(tolerance_usecs, static_cast<Micros>(std::llround(gap * tolerance_percent / 100.0)));
}

std::expected<RunConfig, ParseError> make_config(const std::vector<HeaderOption>& options) {
  RunConfig c;
  std::optional<IpAddr> local, remote;
  std::optional<std::uint32_t> mss;
  for (const HeaderOption& o : options) {
    const auto bad = [&o](std::string why) {
      return std::unexpected(ParseError{o.line, "--" + o.name + "=" + o.value + ": " + std::move(why)});
    };
    if (o.name == "ip_version") {
      if (o.value == "ipv4") {
        c.ipv6 = false;
      } else if (o.value == "ipv6") {
        c.ipv6 = true;
      } else {
        return bad("expected ipv4 or ipv6");
      }
    } else if (o.name == "local_ip" || o.name == "remote_ip") {
      const auto ip = IpAddr::parse(o.value);
      if (!ip) return bad("not an IPv4 or IPv6 address");
      (o.name == "local_ip" ? local : remote) = *ip;
    } else if (o.name == "tolerance_usecs") {
      const auto v = unsigned_value(o.value, 3'600'000'000ull);
      if (!v) return bad("expected microseconds");
      c.tolerance_usecs = static_cast<Micros>(*v);
    } else if (o.name == "tolerance_percent") {
      double v = 0;
      const auto [end, ec] = std::from_chars(o.value.data(), o.value.data() + o.value.size(), v);
      if (ec != std::errc{} || end != o.value.data() + o.value.size() || v < 0 || v > 1000)
        return bad("expected a percentage");
      c.tolerance_percent = v;
    } else if (o.name == "mtu") {
      const auto v = unsigned_value(o.value, 65535);
      if (!v) return bad("expected an MTU up to 65535");
      c.mtu = static_cast<std::uint32_t>(*v);
    } else if (o.name == "mss") {
      const auto v = unsigned_value(o.value, 65535 - 60);
      if (!v) return bad("expected an MSS");
      mss = static_cast<std::uint32_t>(*v);
    } else if (o.name == "bind_port" || o.name == "connect_port" || o.name == "remote_port") {
      const auto v = unsigned_value(o.value, 65535);
      if (!v || *v == 0) return bad("expected a port");
      (o.name == "bind_port"      ? c.bind_port
       : o.name == "connect_port" ? c.connect_port
                                  : c.remote_port) = static_cast<std::uint16_t>(*v);
    } else if (o.name == "tcp_timestamps" || o.name == "tcp_sack") {
      if (o.value != "0" && o.value != "1") return bad("expected 0 or 1");
      (o.name == "tcp_sack" ? c.tcp_sack : c.tcp_timestamps) = o.value == "1";
    } else if (o.name == "test_fault") {
      if (o.value == "partial_ack_stops_rto") {
        c.test_faults.partial_ack_stops_rto = true;
      } else if (o.value == "accept_fin_out_of_order") {
        c.test_faults.accept_fin_out_of_order = true;
      } else {
        return bad("expected partial_ack_stops_rto or accept_fin_out_of_order (test only)");
      }
    } else if (o.name == "seed") {
      const auto v = unsigned_value(o.value, UINT64_MAX);
      if (!v || *v == 0) return bad("expected a non-zero seed");
      c.seed = *v;
    } else {
      return bad("unknown header option");
    }
  }
  if (c.ipv6) {
    c.local_ip = *IpAddr::parse("fd3d:fa7b:d17d::1");
    c.remote_ip = *IpAddr::parse("2001:db8::1");
  }
  if (local) c.local_ip = *local;
  if (remote) c.remote_ip = *remote;
  if (c.local_ip.is_v6() != c.ipv6 || c.remote_ip.is_v6() != c.ipv6)
    return std::unexpected(ParseError{0, "--local_ip and --remote_ip must be of the --ip_version family"});
  if (mss) c.mtu = *mss + (c.ipv6 ? 60 : 40);
  return c;
}

}  // namespace utcp::script
