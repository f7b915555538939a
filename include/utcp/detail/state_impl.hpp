// The thin template layer: State<N> over the non-template engine (utcp/detail/engine_api.hpp).
//
// State<N> is a shared_ptr to an Engine. A call on an rvalue whose Engine nobody else holds
// updates it in place; otherwise it copies the Engine first (O(1): persistent maps and
// shared configuration) and updates the copy. The engine never mutates on an error, so an
// rvalue argument stays usable when a call fails.
#pragma once

#include <cstring>
#include <memory>
#include <type_traits>
#include <utility>

#include "utcp/detail/engine_api.hpp"

namespace utcp {

namespace detail {
struct StateAccess;
}

template <class N>
class State {
 public:
  State(const State&) = default;
  State(State&&) noexcept = default;
  State& operator=(const State&) = default;
  State& operator=(State&&) noexcept = default;

 private:
  explicit State(std::shared_ptr<detail::Engine> e) : engine_(std::move(e)) {}
  std::shared_ptr<detail::Engine> engine_;
  friend struct detail::StateAccess;
};

namespace detail {

struct StateAccess {
  template <class N>
  static State<N> make(std::shared_ptr<Engine> e) {
    return State<N>(std::move(e));
  }
  template <class N>
  static const Engine& get(const State<N>& s) {
    return *s.engine_;
  }
  // The engine of an rvalue state, unshared first if anyone else holds it.
  template <class N>
  static Engine& own(State<N>& s) {
    if (s.engine_.use_count() != 1) s.engine_ = engine_clone(*s.engine_);
    return *s.engine_;
  }
};

template <class N>
struct NotifyHolder : NotifyBlock {
  std::pair<N, N> pair;
  NotifyHolder(N rcv, N snd) : pair(std::move(rcv), std::move(snd)) {
    destroy = [](const NotifyBlock* b) { delete static_cast<const NotifyHolder*>(b); };
  }
};

// Whether a connection's two notifies are kept inline in its NotifyPair (engine_api.hpp).
template <class N>
inline constexpr bool kInlineNotify = std::is_trivial_v<N> && sizeof(N) <= NotifyPair::kHalf;

template <class N>
NotifyPair make_notify_pair(N rcv, N snd) {
  if constexpr (kInlineNotify<N>) {
    return NotifyPair::inline_bytes(&rcv, &snd, sizeof(N));
  } else {
    return NotifyPair(new NotifyHolder<N>(std::move(rcv), std::move(snd)));
  }
}

// The pair: a copy for the inline form, the holder's own for the held one.
template <class N>
decltype(auto) notifies_of(const NotifyPair& p) {
  if constexpr (kInlineNotify<N>) {
    std::pair<N, N> r;
    std::memcpy(&r.first, p.bytes(), sizeof(N));
    std::memcpy(&r.second, p.bytes() + NotifyPair::kHalf, sizeof(N));
    return r;
  } else {
    return static_cast<const std::pair<N, N>&>(static_cast<const NotifyHolder<N>*>(p.get())->pair);
  }
}

template <class N>
std::optional<Event<N>> to_event(std::optional<EngineEvent>&& e) {
  if (!e) return std::nullopt;
  const auto& [rcv, snd] = notifies_of<N>(e->notifies);
  switch (e->kind) {
    case EngineEvent::Kind::established:
      return Event<N>(Established<N>{e->flow, e->active ? std::optional<N>(rcv) : std::nullopt});
    case EngineEvent::Kind::drop:
      return Event<N>(Drop<N>{e->flow, e->pending ? std::optional<N>(rcv) : std::nullopt, {rcv, snd}});
    case EngineEvent::Kind::signal: {
      Signal<N> sig{e->flow, {}};
      sig.notifies.reserve(std::size_t{e->wake_rcv} + std::size_t{e->wake_snd});  // one allocation
      if (e->wake_rcv) sig.notifies.push_back(rcv);
      if (e->wake_snd) sig.notifies.push_back(snd);
      return Event<N>(std::move(sig));
    }
  }
  return std::nullopt;
}

template <class N>
Notice<N> to_notice(EngineEvent&& e) {
  const auto& [rcv, snd] = notifies_of<N>(e.notifies);
  Notice<N> n;
  n.flow = e.flow;
  switch (e.kind) {
    case EngineEvent::Kind::established:
      n.kind = Notice<N>::Kind::established;
      if (e.active) n.rcv = rcv;
      break;
    case EngineEvent::Kind::drop:
      n.kind = Notice<N>::Kind::drop;
      n.rcv = rcv;
      n.snd = snd;
      n.pending = e.pending;
      break;
    case EngineEvent::Kind::signal:
      n.kind = Notice<N>::Kind::signal;
      if (e.wake_rcv) n.rcv = rcv;
      if (e.wake_snd) n.snd = snd;
      break;
  }
  return n;
}

}  // namespace detail

template <class N>
State<N> empty(std::function<N()> make_notify, std::string id, Config config) {
  detail::NotifyFactory factory = [mk = std::move(make_notify)]() -> detail::NotifyPair {
    N rcv = mk();
    N snd = mk();
    return detail::make_notify_pair<N>(std::move(rcv), std::move(snd));
  };
  return detail::StateAccess::make<N>(detail::engine_new(std::move(factory), std::move(id), config));
}

template <class N>
State<N> start_listen(State<N>&& s, std::uint16_t port, const FlowOptions& opts) {
  detail::engine_start_listen(detail::StateAccess::own(s), port, opts);
  return std::move(s);
}
template <class N>
State<N> start_listen(const State<N>& s, std::uint16_t port, const FlowOptions& opts) {
  return start_listen(State<N>(s), port, opts);
}
template <class N>
State<N> stop_listen(State<N>&& s, std::uint16_t port) {
  detail::engine_stop_listen(detail::StateAccess::own(s), port);
  return std::move(s);
}
template <class N>
State<N> stop_listen(const State<N>& s, std::uint16_t port) {
  return stop_listen(State<N>(s), port);
}

template <class N>
State<N> timer(State<N>&& s, Instant now, std::vector<Output>& out, std::vector<TimerDrop<N>>& drops) {
  // Nothing due: no copy of a shared engine.
  if (auto d = detail::engine_next_deadline(detail::StateAccess::get(s)); d && *d <= now) {
    const detail::TimerDropSink sink{&drops, [](void* ctx, detail::EngineTimerDrop&& r) {
                                       const auto& [rcv, snd] = detail::notifies_of<N>(r.notifies);
                                       static_cast<std::vector<TimerDrop<N>>*>(ctx)->push_back(
                                           TimerDrop<N>{r.flow, r.error, rcv, snd});
                                     }};
    detail::engine_timer(detail::StateAccess::own(s), now, sink, out);
  }
  return std::move(s);
}
template <class N>
Timed<N> timer(State<N>&& s, Instant now, std::vector<Output>& out) {
  std::vector<TimerDrop<N>> drops;
  State<N> st = timer(std::move(s), now, out, drops);
  return Timed<N>{std::move(st), std::move(drops)};
}
template <class N>
TimerResult<N> timer(State<N>&& s, Instant now) {
  std::vector<Output> out;
  auto t = timer(std::move(s), now, out);
  return TimerResult<N>{std::move(t.state), std::move(t.drops), std::move(out)};
}
template <class N>
TimerResult<N> timer(const State<N>& s, Instant now) {
  return timer(State<N>(s), now);
}

template <class N>
State<N> handle_buf(State<N>&& s, Instant now, const IpAddr& src, const IpAddr& dst,
                    std::span<const std::byte> tcp_bytes, std::vector<Output>& out, std::vector<Notice<N>>& notices) {
  auto ev = detail::engine_handle_buf(detail::StateAccess::own(s), now, src, dst, tcp_bytes, out);
  if (ev) notices.push_back(detail::to_notice<N>(std::move(*ev)));
  return std::move(s);
}
template <class N>
Handled<N> handle_buf(State<N>&& s, Instant now, const IpAddr& src, const IpAddr& dst,
                      std::span<const std::byte> tcp_bytes, std::vector<Output>& out, ChecksumCheck check) {
  Handled<N> h{std::move(s), std::nullopt};  // filled in place, as HandleResult below
  if (auto ev = detail::engine_handle_buf(detail::StateAccess::own(h.state), now, src, dst, tcp_bytes, out, check))
    h.event = detail::to_event<N>(std::move(ev));
  return h;
}
template <class N>
Handled<N> handle_buf(State<N>&& s, Instant now, const IpAddr& src, const IpAddr& dst,
                      std::span<const std::byte> tcp_bytes, std::vector<Output>& out) {
  return handle_buf(std::move(s), now, src, dst, tcp_bytes, out, ChecksumCheck::verify);
}
template <class N>
HandleResult<N> handle_buf(State<N>&& s, Instant now, const IpAddr& src, const IpAddr& dst,
                           std::span<const std::byte> tcp_bytes, ChecksumCheck check) {
  // The result built first and filled in place (returned without a move): the segments go
  // straight into its vector, the step into its state, no Handled between.
  HandleResult<N> r{std::move(s), std::nullopt, {}};
  if (auto ev = detail::engine_handle_buf(detail::StateAccess::own(r.state), now, src, dst, tcp_bytes, r.out, check))
    r.event = detail::to_event<N>(std::move(ev));
  return r;
}
template <class N>
HandleResult<N> handle_buf(State<N>&& s, Instant now, const IpAddr& src, const IpAddr& dst,
                           std::span<const std::byte> tcp_bytes) {
  return handle_buf(std::move(s), now, src, dst, tcp_bytes, ChecksumCheck::verify);
}
template <class N>
HandleResult<N> handle_buf(const State<N>& s, Instant now, const IpAddr& src, const IpAddr& dst,
                           std::span<const std::byte> tcp_bytes) {
  return handle_buf(State<N>(s), now, src, dst, tcp_bytes);
}

template <class N>
Result<Opened<N>> connect(State<N>&& s, Instant now, const IpAddr& src, const IpAddr& dst, std::uint16_t dst_port,
                          std::optional<std::uint16_t> src_port, const FlowOptions& opts,
                          std::vector<Output>& out) {
  auto r = detail::engine_connect(detail::StateAccess::own(s), now, src, dst, dst_port, src_port, opts, out);
  if (!r) return std::unexpected(std::move(r.error()));
  return Opened<N>{std::move(s), r->flow, detail::notifies_of<N>(r->notifies).first};
}
template <class N>
Result<Connected<N>> connect(State<N>&& s, Instant now, const IpAddr& src, const IpAddr& dst,
                             std::uint16_t dst_port, std::optional<std::uint16_t> src_port,
                             const FlowOptions& opts) {
  std::vector<Output> out;
  auto r = connect(std::move(s), now, src, dst, dst_port, src_port, opts, out);
  if (!r) return std::unexpected(std::move(r.error()));
  return Connected<N>{std::move(r->state), r->flow, std::move(r->notify), std::move(out.front())};
}
template <class N>
Result<Connected<N>> connect(const State<N>& s, Instant now, const IpAddr& src, const IpAddr& dst,
                             std::uint16_t dst_port, std::optional<std::uint16_t> src_port,
                             const FlowOptions& opts) {
  return connect(State<N>(s), now, src, dst, dst_port, src_port, opts);
}

template <class N>
Result<State<N>> close(State<N>&& s, Instant now, const Flow& flow, std::vector<Output>& out) {
  if (auto err = detail::engine_close(detail::StateAccess::own(s), now, flow, out))
    return std::unexpected(std::move(*err));
  return std::move(s);
}
template <class N>
Result<Step<N>> close(State<N>&& s, Instant now, const Flow& flow) {
  std::vector<Output> out;
  auto r = close(std::move(s), now, flow, out);
  if (!r) return std::unexpected(std::move(r.error()));
  return Step<N>{std::move(*r), std::move(out)};
}
template <class N>
Result<Step<N>> close(const State<N>& s, Instant now, const Flow& flow) {
  return close(State<N>(s), now, flow);
}

template <class N>
Result<State<N>> shutdown(State<N>&& s, Instant now, const Flow& flow, Direction dir, std::vector<Output>& out) {
  if (auto err = detail::engine_shutdown(detail::StateAccess::own(s), now, flow, dir, out))
    return std::unexpected(std::move(*err));
  return std::move(s);
}
template <class N>
Result<Step<N>> shutdown(State<N>&& s, Instant now, const Flow& flow, Direction dir) {
  std::vector<Output> out;
  auto r = shutdown(std::move(s), now, flow, dir, out);
  if (!r) return std::unexpected(std::move(r.error()));
  return Step<N>{std::move(*r), std::move(out)};
}
template <class N>
Result<Step<N>> shutdown(const State<N>& s, Instant now, const Flow& flow, Direction dir) {
  return shutdown(State<N>(s), now, flow, dir);
}

template <class N>
Result<State<N>> abort(State<N>&& s, Instant now, const Flow& flow, std::vector<Output>& out) {
  if (auto err = detail::engine_abort(detail::StateAccess::own(s), now, flow, out))
    return std::unexpected(std::move(*err));
  return std::move(s);
}
template <class N>
Result<Step<N>> abort(State<N>&& s, Instant now, const Flow& flow) {
  std::vector<Output> out;
  auto r = abort(std::move(s), now, flow, out);
  if (!r) return std::unexpected(std::move(r.error()));
  return Step<N>{std::move(*r), std::move(out)};
}
template <class N>
Result<Step<N>> abort(const State<N>& s, Instant now, const Flow& flow) {
  return abort(State<N>(s), now, flow);
}

template <class N>
Result<Step<N>> path_mtu(State<N>&& s, Instant now, const Flow& flow, std::uint32_t mtu, Seq quoted_seq) {
  std::vector<Output> out;
  if (auto err = detail::engine_path_mtu(detail::StateAccess::own(s), now, flow, mtu, quoted_seq, out))
    return std::unexpected(std::move(*err));
  return Step<N>{std::move(s), std::move(out)};
}
template <class N>
Result<Step<N>> path_mtu(const State<N>& s, Instant now, const Flow& flow, std::uint32_t mtu,
                         Seq quoted_seq) {
  return path_mtu(State<N>(s), now, flow, mtu, quoted_seq);
}

template <class N>
Result<Taken<N>> recv(State<N>&& s, Instant now, const Flow& flow, std::vector<Payload>& data,
                      std::vector<Output>& out) {
  const std::size_t pieces = data.size();
  auto r = detail::engine_recv(detail::StateAccess::own(s), now, flow, data, out);
  if (!r) return std::unexpected(std::move(r.error()));
  std::size_t bytes = 0;
  for (std::size_t i = pieces; i < data.size(); ++i) bytes += data[i].size();
  return Taken<N>{std::move(s), bytes, detail::notifies_of<N>(*r).first};
}
template <class N>
Result<Received<N>> recv(State<N>&& s, Instant now, const Flow& flow) {
  std::vector<Payload> data;
  std::vector<Output> out;
  auto r = recv(std::move(s), now, flow, data, out);
  if (!r) return std::unexpected(std::move(r.error()));
  return Received<N>{std::move(r->state), std::move(data), std::move(r->notify), std::move(out)};
}
template <class N>
Result<Taken<N>> recv_into(State<N>&& s, Instant now, const Flow& flow, std::span<std::byte> buf,
                           std::vector<Output>& out) {
  std::size_t taken = 0;
  auto r = detail::engine_recv_into(detail::StateAccess::own(s), now, flow, buf, taken, out);
  if (!r) return std::unexpected(std::move(r.error()));
  return Taken<N>{std::move(s), taken, detail::notifies_of<N>(*r).first};
}
template <class N>
Result<Taken<N>> recv_into(const State<N>& s, Instant now, const Flow& flow, std::span<std::byte> buf,
                           std::vector<Output>& out) {
  return recv_into(State<N>(s), now, flow, buf, out);
}
template <class N>
Result<std::size_t> peek(const State<N>& s, const Flow& flow, std::span<std::byte> buf) {
  return detail::engine_peek(detail::StateAccess::get(s), flow, buf);
}
template <class N>
Result<Received<N>> recv(const State<N>& s, Instant now, const Flow& flow) {
  return recv(State<N>(s), now, flow);
}

namespace detail {
// send's two data kinds: a string_view is copied, a Payload shared.
template <class N, class D>
Result<Enqueued<N>> send_impl(State<N>&& s, Instant now, const Flow& flow, const D& data,
                              std::vector<Output>& out) {
  auto r = engine_send(StateAccess::own(s), now, flow, data, out);
  if (!r) return std::unexpected(std::move(r.error()));
  return Enqueued<N>{std::move(s), r->enqueued, notifies_of<N>(r->notifies).second};
}
template <class N, class D>
Result<Sent<N>> send_impl(State<N>&& s, Instant now, const Flow& flow, const D& data) {
  std::vector<Output> out;
  auto r = send_impl(std::move(s), now, flow, data, out);
  if (!r) return std::unexpected(std::move(r.error()));
  return Sent<N>{std::move(r->state), r->enqueued, std::move(r->notify), std::move(out)};
}
}  // namespace detail

template <class N>
Result<Sent<N>> send(State<N>&& s, Instant now, const Flow& flow, std::string_view data) {
  return detail::send_impl(std::move(s), now, flow, data);
}
template <class N>
Result<Sent<N>> send(const State<N>& s, Instant now, const Flow& flow, std::string_view data) {
  return send(State<N>(s), now, flow, data);
}
template <class N>
Result<Sent<N>> send(State<N>&& s, Instant now, const Flow& flow, const Payload& data) {
  return detail::send_impl(std::move(s), now, flow, data);
}
template <class N>
Result<Sent<N>> send(const State<N>& s, Instant now, const Flow& flow, const Payload& data) {
  return send(State<N>(s), now, flow, data);
}
template <class N>
Result<Enqueued<N>> send(State<N>&& s, Instant now, const Flow& flow, std::string_view data,
                         std::vector<Output>& out) {
  return detail::send_impl(std::move(s), now, flow, data, out);
}
template <class N>
Result<Enqueued<N>> send(State<N>&& s, Instant now, const Flow& flow, const Payload& data,
                         std::vector<Output>& out) {
  return detail::send_impl(std::move(s), now, flow, data, out);
}

template <class N>
Result<State<N>> force_enqueue(State<N>&& s, Instant now, const Flow& flow, std::string_view data) {
  if (auto err = detail::engine_force_enqueue(detail::StateAccess::own(s), now, flow, data))
    return std::unexpected(std::move(*err));
  return std::move(s);
}
template <class N>
Result<State<N>> force_enqueue(const State<N>& s, Instant now, const Flow& flow, std::string_view data) {
  return force_enqueue(State<N>(s), now, flow, data);
}

template <class N>
Result<State<N>> set_options(State<N>&& s, const Flow& flow, const FlowOptions& opts) {
  if (auto err = detail::engine_set_options(detail::StateAccess::own(s), flow, opts))
    return std::unexpected(std::move(*err));
  return std::move(s);
}
template <class N>
Result<State<N>> set_options(const State<N>& s, const Flow& flow, const FlowOptions& opts) {
  return set_options(State<N>(s), flow, opts);
}

template <class N>
std::optional<Instant> next_deadline(const State<N>& s) {
  return detail::engine_next_deadline(detail::StateAccess::get(s));
}
template <class N>
std::size_t num_connections(const State<N>& s) {
  return detail::engine_num_connections(detail::StateAccess::get(s));
}
template <class N>
const Stats& stats(const State<N>& s) {
  return detail::engine_stats(detail::StateAccess::get(s));
}
template <class N>
const Config& config(const State<N>& s) {
  return detail::engine_config(detail::StateAccess::get(s));
}
template <class N>
std::optional<ConnInfo> info(const State<N>& s, const Flow& flow) {
  return detail::engine_info(detail::StateAccess::get(s), flow);
}
template <class N>
std::vector<Flow> flows(const State<N>& s) {
  return detail::engine_flows(detail::StateAccess::get(s));
}
template <class N>
bool listening(const State<N>& s, std::uint16_t port) {
  return detail::engine_listening(detail::StateAccess::get(s), port);
}
template <class N>
std::optional<std::string> check_invariants(const State<N>& s) {
  return detail::engine_check_invariants(detail::StateAccess::get(s));
}

}  // namespace utcp
