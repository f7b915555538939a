// A host-layer socket: what a file descriptor stands for. Internal to host/.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>

#include "host.hpp"
#include "utcp/ip.hpp"
#include "utcp/state.hpp"

namespace utcp::host {

struct Host::Socket {
  enum class Phase : std::uint8_t {
    fresh,       // socket()
    bound,       // bind()
    listening,   // listen()
    connecting,  // connect() sent a SYN
    connected,   // handshake done (active or accepted)
    gone,        // the connection ended: reset, timed out, or closed by both sides
  };

  int domain = AF_INET;
  Phase phase = Phase::fresh;
  bool closed = false;  // the fd was closed: waiters on it return EBADF
  bool nonblocking = false;
  bool reuseaddr = false;
  std::optional<std::uint16_t> port;  // local port once bound or connected
  bool port_strong = false;           // held by bind()/listen(): conflicts even with SO_REUSEADDR

  FlowOptions options;  // what setsockopt asked for; passed to the core
  bool linger = false;
  int linger_seconds = 0;
  std::chrono::nanoseconds rcvtimeo{0}, sndtimeo{0};  // 0: forever
  int error = 0;                                      // pending SO_ERROR
  // The calls waiting on this socket alone (recv, send, connect, accept, a poll of this one
  // fd): Host::wake_socket wakes them for what concerns this socket, Host::wake with all.
  std::condition_variable cv;
  int waiters = 0;

  // Connection.
  Flow flow;
  bool connect_unreported = false;  // a non-blocking connect completed; the next connect() says 0
  std::string rbuf;                 // received bytes the user has not read yet
  std::size_t rbuf_off = 0;
  std::uint32_t core_recv_buffer = 0;  // the receive buffer the core has for this flow
  bool eof = false;                    // the core reported end of stream
  bool read_shut = false, write_shut = false;

  // Listener.
  int backlog = 0;
  std::deque<Flow> accept_queue;

  std::size_t buffered() const { return rbuf.size() - rbuf_off; }
  void consume(std::size_t n) {
    rbuf_off += n;
    if (rbuf_off == rbuf.size()) {
      rbuf.clear();
      rbuf_off = 0;
    } else if (rbuf_off > 65536 && rbuf_off * 2 > rbuf.size()) {
      rbuf.erase(0, rbuf_off);
      rbuf_off = 0;
    }
  }
  bool has_flow() const { return phase == Phase::connecting || phase == Phase::connected; }
};

// sockaddr <-> Endpoint.
SysResult<Endpoint> endpoint_from(int domain, const sockaddr* addr, socklen_t len);
// Writes `e` into `addr` (truncated to *len), sets *len to the full size.
SysResult<void> endpoint_to(const Endpoint& e, sockaddr* addr, socklen_t* len);

}  // namespace utcp::host
