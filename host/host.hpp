// The host layer: a mutable, thread-safe, socket-shaped façade over one core State.
//
// One Host owns one stack and one IP address. Every public call takes the host's mutex;
// blocking calls wait on a condition variable (their socket's, or the host's for a poll of
// several fds) that a change which may end the wait notifies (not every segment: see wake_due_).
// Results follow POSIX: a value, or an errno (std::unexpected(E...)); the C ABI in
// utcp/posix.h turns the errno into `return -1` with errno set. docs/HOST.md describes it.
#pragma once

#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <array>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <expected>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "gso.hpp"
#include "ip_packet.hpp"
#include "utcp/posix.h"
#include "utcp/state.hpp"

namespace utcp::host {

// The core's notification type: an id per notify. The host wakes waiters from what it sees
// change (events, segments of a socket's flow), so it only needs the events, not the notifies.
using Notify = std::uint32_t;
using Stack = State<Notify>;

// Whether poll reports a connection writable, as Linux's tcp_poll (sk_stream_is_writeable):
// when the free space is at least half of what is queued, so a writer that filled its buffer
// wakes once about a third of it is free again, not for every ACK.
inline bool writable(const ConnInfo& i) {
  return i.send_space > 0 && 2 * i.send_space >= i.send_queued;
}

// A value or an errno.
template <class T>
using SysResult = std::expected<T, int>;

struct HostConfig {
  IpAddr addr;
  std::uint64_t seed = 0;  // 0: OS entropy
  std::uint32_t mtu = 0;   // 0: 1500
  bool timestamps = true;  // offer RFC 7323 timestamps
  bool sack = true;        // offer RFC 2018 SACK
  // TEST ONLY (Config::TestFaults): the script runner's --test_fault header; off for every host.
  Config::TestFaults test_faults{};
};

// The Config a host gives its stack: MTU, and rng seed and ISN secret from `seed` (or from
// the OS when it is 0). Also the seed of the host's own choices (ephemeral ports).
struct DerivedConfig {
  Config config;
  std::uint64_t port_seed = 0;
};
DerivedConfig derive_config(const HostConfig&);

class Host {
 public:
  // EINVAL for an MTU below the IP minimum of the address family or above 65535.
  static SysResult<std::unique_ptr<Host>> create(const HostConfig&);
  ~Host();
  Host(const Host&) = delete;
  Host& operator=(const Host&) = delete;

  const IpAddr& address() const { return addr_; }

  // ---- the network side ----
  void set_time(std::uint64_t now_ns);
  void set_clock(std::uint64_t now_ns);  // set_time without running timers or waking waiters
  std::optional<std::uint64_t> next_deadline();
  std::uint64_t now();
  SysResult<void> input(std::span<const std::byte> datagram);  // EINVAL: dropped by the IP layer
  SysResult<std::size_t> output(std::span<std::byte> buf);     // EAGAIN: none; EMSGSIZE: too small
  // With a virtio_net_hdr (gso.hpp): input cuts a GSO super-segment into its segments and
  // returns how many reached TCP or ICMP (EINVAL: none did, or the header is malformed);
  // output merges the run of queued segments coalescible() accepts into one packet.
  SysResult<std::size_t> input_vnet(std::span<const std::byte> frame);
  SysResult<std::size_t> output_vnet(std::span<std::byte> buf);
  // output_vnet's packets without framing them: moves every waiting Output to the end of
  // `outs` and appends to `runs` how many of them each packet carries (the runs coalescible
  // accepts, in order, as output_vnet would frame them one call at a time). The caller frames
  // each run (frame_super_headers_into and the payloads where they lie, or frame_super_into)
  // and keeps the Outputs, and so the send queue's blocks their payloads share, until the
  // frame is written. Returns how many Outputs it moved (0: none waited).
  std::size_t take_output_runs(std::vector<Output>& outs, std::vector<std::uint32_t>& runs);

  // ---- the socket calls ----
  SysResult<int> socket(int domain, int type, int protocol);
  SysResult<void> bind(int fd, const sockaddr* addr, socklen_t len);
  SysResult<void> listen(int fd, int backlog);
  SysResult<int> accept(int fd, sockaddr* addr, socklen_t* len);
  SysResult<void> connect(int fd, const sockaddr* addr, socklen_t len);
  SysResult<std::size_t> recv(int fd, void* buf, std::size_t n, int flags);
  SysResult<std::size_t> recv(int fd, std::span<const iovec> iov, int flags);  // readv, recvmsg
  SysResult<std::size_t> send(int fd, const void* buf, std::size_t n, int flags);
  // send that shares `data`'s storage with the send queue instead of copying it (the core's
  // send(const Payload&)): nobody may change those bytes while the host holds them (until they
  // are acknowledged). Returns how many bytes it queued, as send.
  SysResult<std::size_t> send(int fd, const Payload& data, int flags);
  SysResult<void> shutdown(int fd, int how);
  SysResult<void> close(int fd);
  SysResult<int> fcntl(int fd, int cmd, int arg);
  SysResult<void> getsockopt(int fd, int level, int name, void* val, socklen_t* len);
  SysResult<void> setsockopt(int fd, int level, int name, const void* val, socklen_t len);
  SysResult<int> poll(pollfd* fds, nfds_t n, int timeout_ms);
  SysResult<void> getsockname(int fd, sockaddr* addr, socklen_t* len);
  SysResult<void> getpeername(int fd, sockaddr* addr, socklen_t* len);

  // ---- observation ----
  utcp_host_stats stats();
  std::string tcp_counters();  // the core's Stats as text
  std::uint64_t ip_drops(IpError);
  // The control block behind a connected socket, when the core still has it.
  std::optional<ConnInfo> conn_info(int fd);
  std::size_t open_sockets();

  struct Socket;  // host.cpp

 private:
  using Lock = std::unique_lock<std::mutex>;
  using SocketPtr = std::shared_ptr<Socket>;

  Host(const HostConfig&, const DerivedConfig&);

  SysResult<SocketPtr> lookup(int fd) const;
  Instant instant() const;
  // Queues the core's outputs in the outbox, unframed: utcp_host_output frames each straight
  // into the caller's buffer.
  void emit(std::vector<Output>&& out);
  void emit_one(Output&& o);
  // Every waiting call.
  void wake();
  // The calls waiting on `s` alone, and those waiting on several sockets (polls).
  void wake_socket(Socket& s);
  void wake_if_due() {
    if (wake_due_) wake();
    wake_due_ = false;
  }
  // Waits for a change (on `on`, when the call waits on that one socket); false once host time
  // reached `deadline` (then it does not wait).
  bool wait(Lock& lk, std::optional<std::uint64_t> deadline, Socket* on = nullptr);
  std::optional<std::uint64_t> deadline_after(std::chrono::nanoseconds timeout) const;

  // Core results.
  void on_event(const Event<Notify>& ev, bool reset_seen);
  void on_timer_drop(const TimerDrop<Notify>& d);
  void connection_gone(Socket& s, int error);
  void run_timers();

  // Ports.
  bool port_free(std::uint16_t port, bool reuse) const;
  std::optional<std::uint16_t> ephemeral_port();
  void release_port(Socket& s);

  // Receiving.
  // Takes the core's queued bytes for a read that wants `want` of them at once.
  void keep_after_fin(const Flow& flow);
  void pull(Socket& s, std::size_t want);
  // Sets the core's receive buffer to R minus the `held` bytes the host keeps.
  void resize(Socket& s, std::size_t held);
  std::uint32_t recv_buffer_of(const Socket& s) const;
  short revents(Socket& s);

  // Input paths.
  // false: the IP layer dropped it. `check`: whether the core verifies a TCP checksum.
  bool input_locked(std::span<const std::byte> datagram, ChecksumCheck check = ChecksumCheck::verify);
  void pop_outputs(std::size_t n);
  void input_tcp(const IpPacket& p, ChecksumCheck check);
  void input_icmp(const IpPacket& p);
  void apply_path_mtu(const Flow& flow, std::uint32_t mtu, Seq seq);
  void count_drop(IpError e) { ++ip_drops_[static_cast<std::size_t>(e)]; }

  SysResult<void> start_connect(Socket& s, const Endpoint& remote);
  // Both sends: `n` bytes, of which core_send(done) queues what fits from offset `done` on.
  template <class CoreSend>
  SysResult<std::size_t> send_with(int fd, std::size_t n, int flags, CoreSend&& core_send);

  IpAddr addr_;
  std::uint32_t mtu_;
  std::mutex mu_;
  std::condition_variable cv_;  // the waits on several sockets (or none)
  int cv_waiters_ = 0;
  std::vector<Socket*> waiting_;  // the sockets with waiters (Socket::cv)
  Stack stack_;
  std::uint64_t now_ns_ = 0;
  // Set by what may end waits on any socket (a core event, ICMP, a connection dropped by a
  // timer); input and set_time broadcast only then. A segment without an event wakes only its
  // own socket's waiters, and a pure ACK only when it made the socket writable (revents), so
  // a stream of ACKs does not wake a writer per ACK, nor every connection's thread.
  bool wake_due_ = false;
  // The earliest deadline of a wait (poll's timeout, SO_RCVTIMEO ...): set_time wakes the
  // waiters once host time reaches it. UINT64_MAX: none.
  std::uint64_t wait_deadline_ = UINT64_MAX;
  std::uint64_t port_rng_;
  std::vector<SocketPtr> fds_;  // index = fd; 0..2 never used
  std::unordered_map<Flow, SocketPtr> by_flow_;
  std::unordered_map<std::uint16_t, SocketPtr> listeners_;
  std::unordered_map<std::uint16_t, std::uint32_t> strong_ports_, weak_ports_;  // holders per port
  // Segments waiting for utcp_host_output, oldest at outbox_head_; the vector keeps its
  // capacity, so queueing allocates nothing once it has grown.
  std::vector<Output> outbox_;
  std::size_t outbox_head_ = 0;
  Splitter splitter_;
  std::array<std::uint64_t, static_cast<std::size_t>(IpError::count_)> ip_drops_{};
  utcp_host_stats counters_{};
};

// The Host behind a C ABI handle, for C++ tools that also want its observers (conn_info).
Host& unwrap(utcp_host* h);
// A C ABI handle owning `h`: for C++ tools that make a Host from a HostConfig the C ABI cannot
// express (the script runner's test faults); free it with utcp_host_free.
utcp_host* wrap(std::unique_ptr<Host> h);

}  // namespace utcp::host
