// Helpers shared by the wire tests: byte arrays and exact-size copies of them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <span>
#include <vector>

#include "utcp/ip.hpp"
#include "utcp/segment.hpp"

namespace utcp::test {

inline std::vector<std::byte> bytes(std::initializer_list<std::uint8_t> list) {
  std::vector<std::byte> v;
  v.reserve(list.size());
  for (auto b : list) v.push_back(static_cast<std::byte>(b));
  return v;
}

// A heap copy of exactly n bytes, so AddressSanitizer flags any read past the end.
class ExactBuffer {
 public:
  explicit ExactBuffer(std::span<const std::byte> src)
      : size_(src.size()), data_(std::make_unique<std::byte[]>(src.size() ? src.size() : 1)) {
    for (std::size_t i = 0; i < size_; ++i) data_[i] = src[i];
  }
  std::span<const std::byte> span() const { return {data_.get(), size_}; }
  std::span<std::byte> mutable_span() { return {data_.get(), size_}; }

 private:
  std::size_t size_;
  std::unique_ptr<std::byte[]> data_;
};

// Decodes a copy of exactly `n` bytes of `seg`.
inline Result<std::pair<Segment, Flow>> decode_prefix(const IpAddr& src, const IpAddr& dst,
                                                      std::span<const std::byte> seg, std::size_t n) {
  ExactBuffer copy(seg.first(n));
  return Segment::decode(src, dst, copy.span());
}

}  // namespace utcp::test
