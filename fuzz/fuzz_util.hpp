// Helpers the fuzz targets share: a reader over the fuzzer's bytes that yields zeros once
// they run out (so every input is a complete program), and a raw TCP segment builder that
// can put any bytes in the options area and still compute a correct checksum.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include "utcp/checksum.hpp"
#include "utcp/ip.hpp"

namespace utcp::fuzz {

// Fails the run: libFuzzer reports the abort with the input that caused it.
inline void check(bool ok) {
  if (!ok) std::abort();
}

class Reader {
 public:
  Reader(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}
  bool empty() const { return pos_ >= size_; }
  std::size_t left() const { return empty() ? 0 : size_ - pos_; }
  std::uint8_t u8() { return empty() ? 0 : data_[pos_++]; }
  std::uint16_t u16() { return static_cast<std::uint16_t>((u8() << 8) | u8()); }
  std::uint32_t u32() { return (std::uint32_t{u16()} << 16) | u16(); }
  // Up to `n` bytes (fewer when the input ends).
  std::span<const std::uint8_t> bytes(std::size_t n) {
    const std::size_t k = n < left() ? n : left();
    std::span<const std::uint8_t> s(data_ + pos_, k);
    pos_ += k;
    return s;
  }

 private:
  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t pos_ = 0;
};

// A TCP header with arbitrary option bytes (padded with EOL to a multiple of 4, at most 40)
// and payload; `flags` is the raw flags byte. The checksum is correct unless `corrupt`.
struct RawTcp {
  std::uint16_t src_port = 0, dst_port = 0;
  std::uint32_t seq = 0, ack = 0;
  std::uint8_t flags = 0;
  std::uint16_t window = 0;
  std::vector<std::uint8_t> options;
  std::vector<std::uint8_t> payload;
  bool corrupt = false;

  std::vector<std::byte> build(const IpAddr& src, const IpAddr& dst) const {
    std::vector<std::uint8_t> opts(options.begin(),
                                   options.begin() + (options.size() < 40 ? options.size() : 40));
    while (opts.size() % 4 != 0) opts.push_back(0);
    const std::size_t hlen = 20 + opts.size();
    std::vector<std::byte> b(hlen + payload.size());
    auto put = [&](std::size_t at, std::uint32_t v) { b[at] = static_cast<std::byte>(v & 0xff); };
    put(0, src_port >> 8), put(1, src_port), put(2, dst_port >> 8), put(3, dst_port);
    for (int k = 0; k < 4; ++k) put(4 + k, seq >> (24 - 8 * k)), put(8 + k, ack >> (24 - 8 * k));
    put(12, static_cast<std::uint32_t>(hlen / 4) << 4);
    put(13, flags);
    put(14, window >> 8), put(15, window);
    for (std::size_t k = 0; k < opts.size(); ++k) put(20 + k, opts[k]);
    for (std::size_t k = 0; k < payload.size(); ++k) put(hlen + k, payload[k]);
    const std::uint16_t sum = tcp_checksum(src, dst, b);
    put(16, sum >> 8), put(17, corrupt ? sum + 1 : sum);
    return b;
  }
};

inline constexpr std::uint8_t kFin = 0x01, kSyn = 0x02, kRst = 0x04, kPsh = 0x08, kAck = 0x10;

}  // namespace utcp::fuzz
