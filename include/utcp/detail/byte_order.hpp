// Big-endian (network byte order) loads and stores, written once for wire/, host/, io/ and
// apps/. Pointer forms for parsers that have checked the length already; span forms index
// through the span (checked where the standard library checks operator[]).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace utcp::detail {

constexpr std::uint16_t load_be16(const std::byte* p) {
  return static_cast<std::uint16_t>((std::to_integer<unsigned>(p[0]) << 8) | std::to_integer<unsigned>(p[1]));
}
constexpr std::uint32_t load_be32(const std::byte* p) {
  return (std::uint32_t{load_be16(p)} << 16) | load_be16(p + 2);
}
// Each store returns the byte after what it wrote.
constexpr std::byte* store_be16(std::byte* p, std::uint16_t v) {
  p[0] = static_cast<std::byte>(v >> 8);
  p[1] = static_cast<std::byte>(v & 0xff);
  return p + 2;
}
constexpr std::byte* store_be32(std::byte* p, std::uint32_t v) {
  return store_be16(store_be16(p, static_cast<std::uint16_t>(v >> 16)),
                    static_cast<std::uint16_t>(v & 0xffff));
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
