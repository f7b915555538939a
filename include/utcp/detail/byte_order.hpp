// Big-endian (network byte order) loads and stores, written once for wire/, host/, io/ and
// apps/. Pointer forms for parsers that have checked the length already; span forms index
// through the span (checked where the standard library checks operator[]).
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

namespace utcp::detail {

// The pointer forms run once per header field of every segment: at run time one unaligned
// load or store and a byte swap (GCC 12 wrote the stores byte by byte, a shift and a store
// each); in constant evaluation the byte-wise form.
namespace byte_order_impl {
template <class T>
T to_big(T v) {
  if constexpr (std::endian::native == std::endian::little) return std::byteswap(v);
  return v;
}
}  // namespace byte_order_impl

constexpr std::uint16_t load_be16(const std::byte* p) {
  if consteval {
    return static_cast<std::uint16_t>((std::to_integer<unsigned>(p[0]) << 8) | std::to_integer<unsigned>(p[1]));
  } else {
    std::uint16_t v;
    std::memcpy(&v, p, sizeof v);
    return byte_order_impl::to_big(v);
  }
}
constexpr std::uint32_t load_be32(const std::byte* p) {
  if consteval {
    return (std::uint32_t{load_be16(p)} << 16) | load_be16(p + 2);
  } else {
    std::uint32_t v;
    std::memcpy(&v, p, sizeof v);
    return byte_order_impl::to_big(v);
  }
}
constexpr std::byte* store_be16(std::byte* p, std::uint16_t v) {
  if consteval {
    p[0] = static_cast<std::byte>(v >> 8);
    p[1] = static_cast<std::byte>(v & 0xff);
  } else {
    const std::uint16_t b = byte_order_impl::to_big(v);
    std::memcpy(p, &b, sizeof b);
  }
  return p + 2;
}
constexpr std::byte* store_be32(std::byte* p, std::uint32_t v) {
  if consteval {
    return store_be16(store_be16(p, static_cast<std::uint16_t>(v >> 16)), static_cast<std::uint16_t>(v & 0xffff));
  } else {
    const std::uint32_t b = byte_order_impl::to_big(v);
    std::memcpy(p, &b, sizeof b);
    return p + 4;
  }
}

constexpr std::uint16_t load_be16(std::span<const std::byte> b, std::size_t at) {
  return static_cast<std::uint16_t>((std::to_integer<unsigned>(b[at]) << 8) |
                                    std::to_integer<unsigned>(b[at + 1]));
}
constexpr std::uint32_t load_be32(std::span<const std::byte> b, std::size_t at) {
  return (std::uint32_t{load_be16(b, at)} << 16) | load_be16(b, at + 2);
}
constexpr void store_be16(std::span<std::byte> b, std::size_t at, std::uint16_t v) {
  b[at] = static_cast<std::byte>(v >> 8);
  b[at + 1] = static_cast<std::byte>(v & 0xff);
}
constexpr void store_be32(std::span<std::byte> b, std::size_t at, std::uint32_t v) {
  store_be16(b, at, static_cast<std::uint16_t>(v >> 16));
  store_be16(b, at + 2, static_cast<std::uint16_t>(v & 0xffff));
}

}  // namespace utcp::detail
