// The stack as a value: the seed's API (DESIGN.md, normative) and utcp's additions.
//
// Every call that takes a state has two overloads: `const State<N>&` leaves the caller's
// state as it was (a snapshot), `State<N>&&` may reuse its storage and update in place. A
// call that returns an Error leaves an rvalue argument untouched.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "utcp/config.hpp"
#include "utcp/error.hpp"
#include "utcp/ip.hpp"
#include "utcp/segment.hpp"
#include "utcp/seq.hpp"
#include "utcp/stats.hpp"
#include "utcp/time.hpp"

namespace utcp {

template <class N>
class State;  // defined in utcp/detail/state_impl.hpp

// ---- results and events (the seed's tuples and polymorphic variants) ----

enum class TimerError : std::uint8_t {
  retransmission_exceeded,
  timer_2msl,
  timer_connection_established,
  timer_fin_wait_2
};
std::string_view to_string(TimerError);
std::ostream& operator<<(std::ostream&, TimerError);

template <class N>
struct TimerDrop {
  Flow flow;
  TimerError error;
  N rcv_notify;
  N snd_notify;
};
template <class N>
struct TimerResult {
  State<N> state;
  std::vector<TimerDrop<N>> drops;
  std::vector<Output> out;
};

template <class N>
struct Established {  // a handshake completed
  Flow flow;
  std::optional<N> notify;  // the notify connect returned, for an active open
};
template <class N>
struct Drop {  // a connection is gone
  Flow flow;
  std::optional<N> pending;  // the receive notify when unread data remains
  std::vector<N> notifies;   // waiters to wake with an error
};
template <class N>
// Wake these: data or end of stream to read, room to send. On edges only: the receive queue
// went from empty to non-empty (or the end of stream was reached), the send space rose
// across one segment (half a smaller send buffer); so a reader waits after a recv that found
// nothing, a writer after a send that filled the buffer, and no wake-up is missed.
struct Signal {
  Flow flow;
  std::vector<N> notifies;
};
template <class N>
using Event = std::variant<Established<N>, Drop<N>, Signal<N>>;

template <class N>
struct HandleResult {
  State<N> state;
  std::optional<Event<N>> event;  // at most one, by precedence Drop > Established > Signal
  std::vector<Output> out;
};

template <class N>
struct Connected {
  State<N> state;
  Flow flow;
  N notify;  // the flow's receive notify
  Output syn;
};
template <class N>
struct Step {
  State<N> state;
  std::vector<Output> out;
};
enum class Direction : std::uint8_t { read, write, read_write };
template <class N>
struct Received {
  State<N> state;
  std::vector<Payload> data;  // everything queued, possibly empty: the queue's own blocks, shared
  N notify;                   // the receive notify, to wait on when data is empty
  std::vector<Output> out;    // e.g. a window update
};
template <class N>
struct Sent {
  State<N> state;
  std::size_t enqueued;
  N notify;  // the send notify
  std::vector<Output> out;
};

// ---- additions beyond the seed ----

// The allocation-free variants (below): the outputs go to the end of the caller's vector, which
// it clears and reuses, so a steady stream of calls allocates nothing for them.
template <class N>
struct Handled {
  State<N> state;
  std::optional<Event<N>> event;
};
template <class N>
struct Timed {
  State<N> state;
  std::vector<TimerDrop<N>> drops;  // empty (no allocation) unless a connection ended
};
template <class N>
struct Enqueued {
  State<N> state;
  std::size_t enqueued;
  N notify;  // the send notify
};
// An event in fixed fields, without Signal's and Drop's vectors: what Event<N> says, for the
// sink variant of handle_buf below (a reused vector of them allocates nothing).
template <class N>
struct Notice {
  enum class Kind : std::uint8_t { established, drop, signal };
  Kind kind = Kind::signal;
  Flow flow;
  // established: the notify connect returned, for an active open (empty for a passive one);
  // signal: the receive notify, when there is data or end of stream to read;
  // drop: the receive notify (Drop::notifies' first), to wake with an error.
  std::optional<N> rcv;
  // signal: the send notify, when there is room to send; drop: the send notify (the second).
  std::optional<N> snd;
  bool pending = false;  // drop: unread data remains (Drop::pending is then rcv)
  friend bool operator==(const Notice&, const Notice&) = default;
};
template <class N>
struct Opened {  // connect's: the SYN went to the caller's vector
  State<N> state;
  Flow flow;
  N notify;  // the flow's receive notify
};
template <class N>
struct Taken {
  State<N> state;
  std::size_t bytes;  // bytes taken (recv: appended to the caller's vector; recv_into: copied)
  N notify;           // the receive notify, to wait on when nothing was taken
};

// Per-flow settings. Unset fields keep the stack's Config. Listeners pass theirs on to the
// flows they accept.
struct FlowOptions {
  std::optional<std::uint32_t> send_buffer;
  std::optional<std::uint32_t> recv_buffer;  // before the SYN: also decides the window scale
  std::optional<bool> nodelay;
  std::optional<bool> keepalive;
  std::optional<Duration> keepalive_idle;
  std::optional<Duration> keepalive_interval;
  std::optional<std::uint32_t> keepalive_count;
  std::optional<std::uint16_t> max_segment;  // TCP_MAXSEG: clamps the MSS we send with
  // TCP_CONGESTION: a change on a live flow keeps cwnd and ssthresh and starts the new
  // algorithm's own state afresh (as Linux does).
  std::optional<CongestionControl> congestion_control;
  std::optional<bool> pacing;
  friend bool operator==(const FlowOptions&, const FlowOptions&) = default;
};

// A snapshot of one connection's control block, for tools, tests and the host layer.
struct ConnInfo {
  TcpState state = TcpState::closed;
  Seq iss, irs;
  Seq snd_una, snd_nxt, snd_max;  // snd_max: the highest sequence number sent so far
  std::uint32_t snd_wnd = 0;      // scaled, in bytes
  Seq rcv_nxt;
  std::uint32_t rcv_wnd = 0;                    // what we advertise, scaled, in bytes
  std::uint8_t snd_wscale = 0, rcv_wscale = 0;  // shifts in use (0 when not negotiated)
  std::uint32_t mss = 0;                        // effective send MSS
  std::uint32_t cwnd = 0, ssthresh = 0;
  CongestionControl congestion_control = CongestionControl::cubic;
  std::uint64_t pacing_rate = 0;  // bytes per second; 0: not pacing
  // Model-based congestion control (BBR): its state ("Startup", "Drain", "ProbeBW_UP" ...),
  // bandwidth estimate and latest delivery-rate sample (bytes per second); empty and 0 otherwise.
  std::string_view cc_state;
  std::uint64_t bottleneck_bw = 0, delivery_rate = 0;
  // Bytes delivered so far as delivery-rate estimation counts them (C.delivered: cumulatively
  // ACKed or SACKed, each once); BBR only, 0 otherwise.
  std::uint64_t delivered = 0;
  Duration srtt{}, rttvar{}, rto{};
  std::uint32_t retransmits = 0;  // consecutive, of the current timeout
  std::size_t send_queued = 0;    // bytes in the send queue, sent or not
  std::size_t send_space = 0;     // bytes send() would take now
  std::size_t recv_queued = 0;    // in-order bytes waiting for recv()
  std::size_t ooo_bytes = 0;      // out-of-order bytes held
  std::size_t ooo_ranges = 0;
  bool fin_received = false;  // the peer's FIN has been reached in sequence
  bool read_shut = false, write_shut = false;
  std::optional<Instant> deadline;  // this flow's earliest timer
  bool nodelay = false, keepalive = false;
};

// ---- the API ----

template <class N>
State<N> empty(std::function<N()> make_notify, std::string id, Config config = {});

template <class N>
State<N> start_listen(const State<N>&, std::uint16_t port, const FlowOptions& = {});
template <class N>
State<N> start_listen(State<N>&&, std::uint16_t port, const FlowOptions& = {});
template <class N>
State<N> stop_listen(const State<N>&, std::uint16_t port);
template <class N>
State<N> stop_listen(State<N>&&, std::uint16_t port);

template <class N>
TimerResult<N> timer(const State<N>&, Instant now);
template <class N>
TimerResult<N> timer(State<N>&&, Instant now);

template <class N>
HandleResult<N> handle_buf(const State<N>&, Instant now, const IpAddr& src, const IpAddr& dst,
                           std::span<const std::byte> tcp_bytes);
template <class N>
HandleResult<N> handle_buf(State<N>&&, Instant now, const IpAddr& src, const IpAddr& dst,
                           std::span<const std::byte> tcp_bytes);

template <class N>
Result<Connected<N>> connect(const State<N>&, Instant now, const IpAddr& src, const IpAddr& dst,
                             std::uint16_t dst_port, std::optional<std::uint16_t> src_port = {},
                             const FlowOptions& = {});
template <class N>
Result<Connected<N>> connect(State<N>&&, Instant now, const IpAddr& src, const IpAddr& dst,
                             std::uint16_t dst_port, std::optional<std::uint16_t> src_port = {},
                             const FlowOptions& = {});

template <class N>
Result<Step<N>> close(const State<N>&, Instant now, const Flow&);
template <class N>
Result<Step<N>> close(State<N>&&, Instant now, const Flow&);
template <class N>
Result<Step<N>> shutdown(const State<N>&, Instant now, const Flow&, Direction);
template <class N>
Result<Step<N>> shutdown(State<N>&&, Instant now, const Flow&, Direction);
template <class N>
Result<Received<N>> recv(const State<N>&, Instant now, const Flow&);
template <class N>
Result<Received<N>> recv(State<N>&&, Instant now, const Flow&);
template <class N>
Result<Sent<N>> send(const State<N>&, Instant now, const Flow&, std::string_view data);
template <class N>
Result<Sent<N>> send(State<N>&&, Instant now, const Flow&, std::string_view data);
template <class N>
Result<State<N>> force_enqueue(const State<N>&, Instant now, const Flow&, std::string_view data);
template <class N>
Result<State<N>> force_enqueue(State<N>&&, Instant now, const Flow&, std::string_view data);

template <class N>
std::optional<Instant> next_deadline(const State<N>&);
template <class N>
std::size_t num_connections(const State<N>&);

// send that shares `data`'s blocks instead of copying (a Payload built once over the
// caller's bytes, e.g. Payload(owner, bytes), is queued as it is).
template <class N>
Result<Sent<N>> send(const State<N>&, Instant now, const Flow&, const Payload& data);
template <class N>
Result<Sent<N>> send(State<N>&&, Instant now, const Flow&, const Payload& data);

// Sink variants: as the calls above, with their segments appended to `out`.
template <class N>
Handled<N> handle_buf(State<N>&&, Instant now, const IpAddr& src, const IpAddr& dst,
                      std::span<const std::byte> tcp_bytes, std::vector<Output>& out);
// handle_buf for a segment whose checksum a lower layer has verified: ChecksumCheck::trusted
// skips the core's own check (every other check stays); verify is the calls above.
template <class N>
Handled<N> handle_buf(State<N>&&, Instant now, const IpAddr& src, const IpAddr& dst,
                      std::span<const std::byte> tcp_bytes, std::vector<Output>& out, ChecksumCheck);
template <class N>
HandleResult<N> handle_buf(State<N>&&, Instant now, const IpAddr& src, const IpAddr& dst,
                           std::span<const std::byte> tcp_bytes, ChecksumCheck);
template <class N>
Timed<N> timer(State<N>&&, Instant now, std::vector<Output>& out);
template <class N>
Result<Enqueued<N>> send(State<N>&&, Instant now, const Flow&, std::string_view data,
                         std::vector<Output>& out);
template <class N>
Result<Enqueued<N>> send(State<N>&&, Instant now, const Flow&, const Payload& data, std::vector<Output>& out);
// handle_buf appending its event, if any, to `notices` (at most one per call, as a Notice);
// timer appending the connections it ends to `drops`. With vectors the caller clears and
// reuses, neither allocates for what it reports.
template <class N>
State<N> handle_buf(State<N>&&, Instant now, const IpAddr& src, const IpAddr& dst,
                    std::span<const std::byte> tcp_bytes, std::vector<Output>& out, std::vector<Notice<N>>& notices);
template <class N>
State<N> timer(State<N>&&, Instant now, std::vector<Output>& out, std::vector<TimerDrop<N>>& drops);
// connect, close, shutdown and abort: on success their segments are appended to `out`; on an
// error `out` is left as it was (and an rvalue state untouched), as the calls above.
template <class N>
Result<Opened<N>> connect(State<N>&&, Instant now, const IpAddr& src, const IpAddr& dst, std::uint16_t dst_port,
                          std::optional<std::uint16_t> src_port, const FlowOptions&, std::vector<Output>& out);
template <class N>
Result<State<N>> close(State<N>&&, Instant now, const Flow&, std::vector<Output>& out);
template <class N>
Result<State<N>> shutdown(State<N>&&, Instant now, const Flow&, Direction, std::vector<Output>& out);
template <class N>
Result<State<N>> abort(State<N>&&, Instant now, const Flow&, std::vector<Output>& out);
// recv appending the queued blocks to `data` (the caller's reused vector).
template <class N>
Result<Taken<N>> recv(State<N>&&, Instant now, const Flow&, std::vector<Payload>& data,
                      std::vector<Output>& out);
// Bounded recv: copies min(buf.size(), queued) bytes into `buf` and consumes only those (a
// socket's read); errors as recv. With nothing queued it takes 0 bytes and succeeds.
template <class N>
Result<Taken<N>> recv_into(State<N>&&, Instant now, const Flow&, std::span<std::byte> buf,
                           std::vector<Output>& out);
// Copies min(buf.size(), queued) bytes without consuming them (MSG_PEEK); errors as recv.
template <class N>
Result<std::size_t> peek(const State<N>&, const Flow&, std::span<std::byte> buf);

// Abortive close: send an RST (when synchronized) and forget the flow (SO_LINGER 0).
template <class N>
Result<Step<N>> abort(const State<N>&, Instant now, const Flow&);
template <class N>
Result<Step<N>> abort(State<N>&&, Instant now, const Flow&);
template <class N>
Result<State<N>> set_options(const State<N>&, const Flow&, const FlowOptions&);
template <class N>
Result<State<N>> set_options(State<N>&&, const Flow&, const FlowOptions&);
// Path MTU discovery (RFC 1191, RFC 8201): an ICMP error quoting `quoted_seq` says the path
// takes at most `mtu` bytes. Applied only when `quoted_seq` is unacknowledged data of the
// flow (RFC 5927 §4.1); never below 576 (IPv4) or 1280 (IPv6). Retransmits at the new size.
template <class N>
Result<Step<N>> path_mtu(const State<N>&, Instant now, const Flow&, std::uint32_t mtu, Seq quoted_seq);
template <class N>
Result<Step<N>> path_mtu(State<N>&&, Instant now, const Flow&, std::uint32_t mtu, Seq quoted_seq);

template <class N>
const Stats& stats(const State<N>&);
template <class N>
const Config& config(const State<N>&);
template <class N>
std::optional<ConnInfo> info(const State<N>&, const Flow&);
template <class N>
std::vector<Flow> flows(const State<N>&);  // in no particular order
template <class N>
bool listening(const State<N>&, std::uint16_t port);
// The control-block invariants (SND.UNA <= SND.NXT <= SND.MAX, queues within bounds, timers
// consistent, ...) checked over every flow; a description of the first broken one.
template <class N>
std::optional<std::string> check_invariants(const State<N>&);

}  // namespace utcp

#include "utcp/detail/state_impl.hpp"
