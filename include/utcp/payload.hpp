// Immutable bytes that are cheap to copy: a Payload is at most two slices of refcounted
// storage. The send queue hands out slices of its own blocks, so a segment's payload shares
// the queued bytes instead of copying them; recv hands out the receive queue's blocks.
//
// A slice is an aliasing std::shared_ptr: it points at its first byte and shares the
// ownership of whatever holds the bytes (a PayloadBlock, or any object of the caller's, see
// the owner constructor), so copying a slice is one reference count increment and nothing
// else. A *view* (Payload::view) owns nothing: the stack decodes each arriving segment into a
// view of the caller's bytes and copies it exactly once, into the receive queue's block;
// whatever keeps a Payload beyond the call that made the view calls owned() first.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <ostream>
#include <span>
#include <string>
#include <string_view>

namespace utcp {

namespace detail {
class ByteQueue;
}

// Refcounted storage that only ever grows at its end. The bytes below fill() never change
// once written, so any number of Payloads may share them. The single writer appends with
// try_append(end, bytes): it succeeds only when `end` is the current fill (the writer's view
// of the block is still the latest) and there is room. Two snapshots of a State that share a
// block therefore never both append to it: the second one sees a newer fill and must start a
// new block.
//
// make() takes one allocation: the shared_ptr's control block, the header and, behind them,
// the bytes.
class PayloadBlock {
  struct Key {};  // only make() builds a block with trailing bytes

 public:
  // make() recycles blocks of this capacity (a busy queue's) through a small per-thread cache.
  static constexpr std::size_t kPooledCapacity = 16 * 1024;
  static std::shared_ptr<PayloadBlock> make(std::size_t capacity);
  std::size_t capacity() const { return capacity_; }
  std::size_t fill() const { return fill_.load(std::memory_order_acquire); }
  const std::byte* data() const { return bytes_; }
  // Appends bytes at `end` if end == fill() and they fit; returns whether it did.
  bool try_append(std::size_t end, std::span<const std::byte> bytes);

  // A block that owns a separate array of `capacity` bytes (make() is the cheaper way).
  explicit PayloadBlock(std::size_t capacity);
  // make()'s: `bytes` is storage of `capacity` bytes that outlives the block.
  PayloadBlock(Key, std::byte* bytes, std::size_t capacity) : bytes_(bytes), capacity_(capacity) {}

 private:
  std::unique_ptr<std::byte[]> owned_;  // empty when the bytes trail the block (make())
  std::byte* bytes_;
  std::size_t capacity_;
  std::atomic<std::size_t> fill_{0};
};

class Payload {
 public:
  Payload() = default;
  explicit Payload(std::string_view bytes);            // copies into a new block
  explicit Payload(std::span<const std::byte> bytes);  // copies into a new block
  // Shares [off, off + len) of a block; the range must lie below block->fill().
  Payload(std::shared_ptr<const PayloadBlock> block, std::size_t off, std::size_t len);
  // Shares `bytes`, which `owner` keeps alive and nobody changes while any copy lives (no
  // copy: send(const Payload&) then queues the caller's own bytes). E.g. a std::string held
  // by a shared_ptr: Payload(s, std::as_bytes(std::span(*s))).
  Payload(std::shared_ptr<const void> owner, std::span<const std::byte> bytes);
  // A view of bytes it does not own: valid only while they live unchanged. Inline: handle_buf
  // decodes every segment's payload as one, and assigning it then costs no call and no
  // destructor of a temporary the compiler cannot see is empty.
  static Payload view(std::span<const std::byte> bytes) {
    Payload p;
    // The aliasing constructor with an empty owner: a pointer with no control block.
    if (!bytes.empty())
      p.first_ = {std::shared_ptr<const std::byte>(std::shared_ptr<const void>(), bytes.data()),
                  static_cast<std::uint32_t>(bytes.size())};
    return p;
  }

  // False for a view (or a payload with a view in it).
  bool is_owned() const { return first_.owned() && second_.owned(); }
  // This payload when it owns its bytes; otherwise a copy of them in a new block.
  Payload owned() const;

  std::size_t size() const { return first_.len + second_.len; }
  bool empty() const { return size() == 0; }
  std::string to_string() const;
  // Appends the bytes to `out`.
  void append_to(std::string& out) const;
  // Copies min(size(), out.size()) bytes from the start; returns how many.
  std::size_t copy_to(std::span<std::byte> out) const;
  std::byte at(std::size_t i) const;
  // The bytes [off, off + len) (clamped), sharing the blocks.
  Payload sub(std::size_t off, std::size_t len) const;
  // This payload followed by `next`. Shares both when the result fits in two slices (always
  // when the two are adjacent in one block, or each is one slice); copies otherwise.
  Payload concat(const Payload& next) const;

  // Calls f(std::span<const std::byte>) for each non-empty slice, in order.
  template <class F>
  void for_each_slice(F&& f) const {
    if (first_.len) f(std::span<const std::byte>(first_.bytes.get(), first_.len));
    if (second_.len) f(std::span<const std::byte>(second_.bytes.get(), second_.len));
  }

  friend bool operator==(const Payload& a, const Payload& b);      // by content
  friend std::ostream& operator<<(std::ostream&, const Payload&);  // size and a short hex prefix

 private:
  friend class detail::ByteQueue;  // grows its last piece in place (ByteQueue::append)
  struct Slice {
    std::shared_ptr<const std::byte> bytes;  // the first byte, sharing its owner (none: a view)
    std::uint32_t len = 0;
    // An owner, or nothing to own. A view's pointer has no control block (use_count 0).
    bool owned() const { return len == 0 || bytes.use_count() != 0; }
    // Both point into storage with one owner and `next` continues this one.
    bool continued_by(const Slice& next) const {
      return !bytes.owner_before(next.bytes) && !next.bytes.owner_before(bytes) && owned() &&
             bytes.get() + len == next.bytes.get();
    }
  };
  Slice first_, second_;  // second_ is used only when the bytes span two blocks
};

}  // namespace utcp
