// OPEN, active (RFC 9293 §3.10.1): pick a port, choose the ISN (RFC 6528), send the SYN.
#include "core/siphash.hpp"
#include "stack/engine.hpp"

namespace utcp::detail {

namespace {

constexpr std::uint16_t ephemeral_first = 49152;  // RFC 6335 §6: 49152-65535
constexpr std::uint32_t ephemeral_count = 65536 - ephemeral_first;

// A random ephemeral port not in use towards this remote endpoint (RFC 6056 §3.3.1 style).
std::optional<std::uint16_t> pick_port(Engine& e, const IpAddr& src, const Endpoint& remote) {
  auto free = [&](std::uint32_t p) {
    return e.tcbs.find(Flow({src, static_cast<std::uint16_t>(p)}, remote)) == nullptr;
  };
  for (int tries = 0; tries < 32; ++tries) {
    const std::uint32_t p = ephemeral_first + e.rng.uniform(ephemeral_count);
    if (free(p)) return static_cast<std::uint16_t>(p);
  }
  const std::uint32_t start = e.rng.uniform(ephemeral_count);
  for (std::uint32_t i = 0; i < ephemeral_count; ++i) {
    const std::uint32_t p = ephemeral_first + (start + i) % ephemeral_count;
    if (free(p)) return static_cast<std::uint16_t>(p);
  }
  return std::nullopt;
}

}  // namespace

Result<EngineConnected> engine_connect(Engine& e, Instant now, const IpAddr& src, const IpAddr& dst,
                                       std::uint16_t dst_port, std::optional<std::uint16_t> src_port,
                                       const FlowOptions& opts, std::vector<Output>& out) {
  if (src.is_v4() != dst.is_v4())
    return std::unexpected(Error::refused(CallError::address_family, "connect: source and destination differ in address family"));
  if (dst_port == 0) return std::unexpected(Error::refused(CallError::port_zero, "connect: destination port 0"));
  if (src_port && *src_port == 0) return std::unexpected(Error::refused(CallError::port_zero, "connect: source port 0"));
  if (e.tcbs.size() >= e.cfg().max_connections)
    return std::unexpected(Error::refused(CallError::table_full, "connect: connection table full (Config::max_connections)"));
  const Endpoint remote{dst, dst_port};
  std::uint16_t port = 0;
  std::optional<std::uint64_t> hash;  // FlowTable::hash of the flow, when already computed
  if (src_port) {
    port = *src_port;
    const Flow wanted({src, port}, remote);
    hash = e.flow_hash(wanted);
    if (e.tcbs.find(*hash, wanted))
      return std::unexpected(Error::refused(CallError::address_in_use, "connect: " + to_string(wanted) + " is already in use"));
  } else {
    const Rng saved = e.rng;  // an error leaves the engine as it was
    const auto p = pick_port(e, src, remote);
    if (!p) {
      e.rng = saved;
      return std::unexpected(Error::refused(CallError::no_ephemeral_port, "connect: no free ephemeral port towards " + dst.to_string()));
    }
    port = *p;
  }
  const Flow flow({src, port}, remote);
  Tcb t = new_tcb(e, flow, opts, now);
  t.open.active = true;
  t.open.user_knows = true;
  t.iss = initial_sequence_number(e.cfg().isn_secret, flow, now);
  t.snd_una = t.snd_nxt = t.snd_max = t.iss;
  t.snd_wl2 = t.iss;
  e.enter(t, TcpState::syn_sent);
  ++e.stats.connections_opened_active;
  t.arm(Timer::lifetime, now + e.cfg().connection_establish_timeout);
  Ctx c(e, now, flow, out);
  send_syn(c, t);
  EngineConnected r{flow, t.notifies};
  e.tcbs.insert(hash ? *hash : e.flow_hash(flow), flow, std::move(t));
  return r;
}

}  // namespace utcp::detail
