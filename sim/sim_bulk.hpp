// A bulk-transfer application for simulated stacks: each side pushes a fixed number of
// pseudo-random bytes through send() as the window allows, reads with recv(), checks every
// byte and its order, half-closes when its data is queued and closes once it has read the
// peer's end of stream.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "sim_network.hpp"

namespace utcp::sim {

// Byte `offset` of the deterministic stream `stream`.
std::uint8_t content_byte(std::uint64_t stream, std::uint64_t offset);
// Appends bytes [offset, offset + n) of `stream` to `out`.
void append_content(std::string& out, std::uint64_t stream, std::uint64_t offset, std::size_t n);

class BulkEndpoint {
 public:
  // Sends `to_send` bytes of stream `tx_stream` and expects `to_receive` of `rx_stream`.
  BulkEndpoint(NodeId node, std::string role, std::uint64_t tx_stream, std::uint64_t to_send,
               std::uint64_t rx_stream, std::uint64_t to_receive)
      : node_(node),
        role_(std::move(role)),
        tx_stream_(tx_stream),
        to_send_(to_send),
        rx_stream_(rx_stream),
        to_receive_(to_receive) {}

  // A slow reader: ignore read wake-ups and read only every `interval` (0: read at once).
  void set_read_interval(Duration interval) { read_interval_ = interval; }

  // The connection this side drives (from connect, or from a passive Established).
  void attach(const Flow& flow) { flow_ = flow; }
  const std::optional<Flow>& flow() const { return flow_; }
  NodeId node() const { return node_; }

  // Reads everything there is, checks it, sends what the window takes, and half-closes or
  // closes when its turn comes. Failures go to net.fail().
  void pump(Network& net);

  std::uint64_t sent() const { return sent_; }
  std::uint64_t received() const { return received_; }
  bool eof() const { return eof_; }
  bool write_shut() const { return write_shut_; }
  bool closed() const { return closed_; }
  // Everything expected has been read and the stream has ended.
  bool done_reading() const { return eof_ && received_ == to_receive_; }
  bool done() const { return done_reading() && sent_ == to_send_ && closed_; }
  // When the last expected byte was read (the start time while none are expected).
  std::optional<Instant> last_byte_at() const { return last_byte_at_; }

 private:
  void read(Network& net);
  void tick(Network& net);
  void step(Network& net, bool may_read);
  void write(Network& net);
  void fail(Network& net, std::string_view why);

  NodeId node_;
  std::string role_;
  std::optional<Flow> flow_;
  std::uint64_t tx_stream_, to_send_, sent_ = 0;
  std::uint64_t rx_stream_, to_receive_, received_ = 0;
  bool eof_ = false, write_shut_ = false, closed_ = false, failed_ = false;
  std::optional<Instant> last_byte_at_;
  std::string chunk_;
  Duration read_interval_{0};
  bool ticking_ = false;
};

}  // namespace utcp::sim
