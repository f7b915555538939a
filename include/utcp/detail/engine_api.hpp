// The non-template engine behind State<N>: compiled once, notifications type-erased.
//
// State<N> (utcp/detail/state_impl.hpp) holds a shared_ptr<Engine>. Each connection keeps
// an opaque `NotifyPair` made by the factory the template layer installs; the template layer
// casts it back to std::pair<N, N> (receive notify, send notify). Every call that returns an
// Error leaves the Engine unchanged, so the && overloads can mutate a uniquely owned Engine
// in place.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "utcp/config.hpp"
#include "utcp/error.hpp"
#include "utcp/ip.hpp"
#include "utcp/segment.hpp"
#include "utcp/seq.hpp"
#include "utcp/stats.hpp"
#include "utcp/time.hpp"

namespace utcp {

enum class TimerError : std::uint8_t;
enum class Direction : std::uint8_t;
struct FlowOptions;
struct ConnInfo;

namespace detail {

class Engine;  // src/stack/engine.hpp

// A connection's notifications (the receive and the send notify), in one of two forms made
// by the factory the template layer installs (state_impl.hpp):
//  - inline: when each N is trivial and at most 4 bytes (an id, as the host layer's), both are
//    kept in the NotifyPair's own 8 bytes and copied with it: nothing is allocated per
//    connection (issue 15's bytes per idle connection);
//  - held: otherwise a refcounted, immutable NotifyHolder<N> behind one pointer (a connection
//    holds one: src/core/tcb.hpp's layout rule) that starts with this header.
struct NotifyBlock {
  mutable std::atomic<std::uint32_t> refs{1};
  void (*destroy)(const NotifyBlock*) = nullptr;  // deletes the holder
};
class NotifyPair {
 public:
  NotifyPair() = default;
  explicit NotifyPair(const NotifyBlock* b) noexcept { set_block(b); }  // takes the block's first reference
  // The inline form: the bytes of the two notifies, the receive one first.
  static NotifyPair inline_bytes(const void* rcv, const void* snd, std::size_t size) noexcept {
    NotifyPair p;
    p.inline_ = true;
    std::memcpy(p.bytes_, rcv, size);
    std::memcpy(p.bytes_ + kHalf, snd, size);
    return p;
  }
  NotifyPair(const NotifyPair& o) noexcept : inline_(o.inline_) {
    std::memcpy(bytes_, o.bytes_, sizeof bytes_);
    if (const NotifyBlock* b = get()) b->refs.fetch_add(1, std::memory_order_relaxed);
  }
  NotifyPair(NotifyPair&& o) noexcept : inline_(o.inline_) {
    std::memcpy(bytes_, o.bytes_, sizeof bytes_);
    o.clear();
  }
  NotifyPair& operator=(NotifyPair o) noexcept {
    swap(o);
    return *this;
  }
  ~NotifyPair() {
    // As shared_ptr: the last owner must see every write before it frees.
    const NotifyBlock* b = get();
    if (b && b->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) b->destroy(b);
  }
  // The held form's block; nullptr for the inline form or an empty pair.
  const NotifyBlock* get() const noexcept {
    if (inline_) return nullptr;
    const NotifyBlock* b;
    std::memcpy(&b, bytes_, sizeof b);
    return b;
  }
  bool is_inline() const noexcept { return inline_; }
  // The inline form's bytes: the receive notify at 0, the send notify at kHalf.
  const unsigned char* bytes() const noexcept { return bytes_; }
  static constexpr std::size_t kHalf = 4;

 private:
  void set_block(const NotifyBlock* b) noexcept {
    static_assert(sizeof(const NotifyBlock*) <= sizeof bytes_);
    std::memcpy(bytes_, &b, sizeof b);
  }
  void clear() noexcept {
    inline_ = false;
    set_block(nullptr);
  }
  void swap(NotifyPair& o) noexcept {
    unsigned char t[sizeof bytes_];
    std::memcpy(t, bytes_, sizeof t);
    std::memcpy(bytes_, o.bytes_, sizeof t);
    std::memcpy(o.bytes_, t, sizeof t);
    std::swap(inline_, o.inline_);
  }
  // 1-aligned (every access is a memcpy), so that a Tcb places the 9 bytes among its narrow
  // fields (issue 15: 3 bytes less than a 4-aligned 12).
  unsigned char bytes_[8] = {};
  bool inline_ = false;
};
static_assert(sizeof(NotifyPair) == 9 && alignof(NotifyPair) == 1);
using NotifyFactory = std::function<NotifyPair()>;

struct EngineEvent {
  enum class Kind : std::uint8_t { established, drop, signal };
  Kind kind = Kind::signal;
  Flow flow;
  NotifyPair notifies;
  bool active = false;    // established: an active open (report the receive notify)
  bool pending = false;   // drop: unread data remains
  bool wake_rcv = false;  // signal: data or end of stream to read
  bool wake_snd = false;  // signal: room to send
};

struct EngineTimerDrop {
  Flow flow;
  TimerError error;
  NotifyPair notifies;
};

std::shared_ptr<Engine> engine_new(NotifyFactory make, std::string id, const Config& config);
std::shared_ptr<Engine> engine_clone(const Engine&);

void engine_start_listen(Engine&, std::uint16_t port, const FlowOptions&);
void engine_stop_listen(Engine&, std::uint16_t port);

// Where engine_timer reports each connection it ends: put(ctx, drop), in order.
struct TimerDropSink {
  void* ctx = nullptr;
  void (*put)(void* ctx, EngineTimerDrop&& drop) = nullptr;
};
void engine_timer(Engine&, Instant now, TimerDropSink drops, std::vector<Output>& out);
std::optional<EngineEvent> engine_handle_buf(Engine&, Instant now, const IpAddr& src, const IpAddr& dst,
                                             std::span<const std::byte> tcp_bytes, std::vector<Output>& out,
                                             ChecksumCheck check = ChecksumCheck::verify);

struct EngineConnected {
  Flow flow;
  NotifyPair notifies;
};
// On success the SYN is appended to `out`; on an error `out` is left as it was.
Result<EngineConnected> engine_connect(Engine&, Instant now, const IpAddr& src, const IpAddr& dst,
                                       std::uint16_t dst_port, std::optional<std::uint16_t> src_port,
                                       const FlowOptions&, std::vector<Output>& out);
std::optional<Error> engine_close(Engine&, Instant now, const Flow&, std::vector<Output>& out);
std::optional<Error> engine_shutdown(Engine&, Instant now, const Flow&, Direction, std::vector<Output>& out);
std::optional<Error> engine_abort(Engine&, Instant now, const Flow&, std::vector<Output>& out);
// On success: the receive notify; `data` gets everything queued, the queue's own blocks.
Result<NotifyPair> engine_recv(Engine&, Instant now, const Flow&, std::vector<Payload>& data,
                               std::vector<Output>& out);
// As engine_recv, but copies at most buf.size() bytes from the front into `buf` and leaves the
// rest queued; `taken` gets the count.
Result<NotifyPair> engine_recv_into(Engine&, Instant now, const Flow&, std::span<std::byte> buf,
                                    std::size_t& taken, std::vector<Output>& out);
// Copies at most buf.size() queued bytes without consuming them.
Result<std::size_t> engine_peek(const Engine&, const Flow&, std::span<std::byte> buf);
struct EngineSent {
  std::size_t enqueued = 0;
  NotifyPair notifies;
};
Result<EngineSent> engine_send(Engine&, Instant now, const Flow&, std::string_view data,
                               std::vector<Output>& out);
Result<EngineSent> engine_send(Engine&, Instant now, const Flow&, const Payload& data,
                               std::vector<Output>& out);
std::optional<Error> engine_force_enqueue(Engine&, Instant now, const Flow&, std::string_view data);
std::optional<Error> engine_set_options(Engine&, const Flow&, const FlowOptions&);
std::optional<Error> engine_path_mtu(Engine&, Instant now, const Flow&, std::uint32_t mtu, Seq quoted_seq,
                                     std::vector<Output>& out);

std::optional<Instant> engine_next_deadline(const Engine&);
std::size_t engine_num_connections(const Engine&);
const Stats& engine_stats(const Engine&);
const Config& engine_config(const Engine&);
std::optional<ConnInfo> engine_info(const Engine&, const Flow&);
std::vector<Flow> engine_flows(const Engine&);
bool engine_listening(const Engine&, std::uint16_t port);
std::optional<std::string> engine_check_invariants(const Engine&);
const std::string& engine_id(const Engine&);

}  // namespace detail
}  // namespace utcp
