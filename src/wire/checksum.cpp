// The Internet checksum (RFC 1071) and the TCP pseudo-headers (RFC 9293 §3.1, RFC 8200 §8.1).
//
// The sum is computed in the machine's byte order and swapped once at the end (RFC 1071 §2(B):
// the one's-complement sum is byte-order independent). On the fast path, 32-bit words are
// added into 64-bit accumulators, so carries pile up in the top half and are folded back
// once per block instead of once per add; unaligned loads go through memcpy, which compilers
// turn into plain loads (and the loop into vector code at -O3).
#include "utcp/checksum.hpp"

#include <bit>
#include <cstring>

namespace utcp {
namespace {

constexpr bool kLittle = std::endian::native == std::endian::little;
constexpr bool kBig = std::endian::native == std::endian::big;

// Folds a 64-bit one's-complement partial sum to 16 bits: the two 32-bit halves added with
// their end-around carry, then the two 16-bit halves of that, whose sum with its carry is the
// high half of x + rotr(x, 16) (the carry out of the low half lands in it). 0 only for 0.
constexpr std::uint16_t fold(std::uint64_t s) {
  const auto hi = static_cast<std::uint32_t>(s >> 32);
  std::uint32_t x = static_cast<std::uint32_t>(s) + hi;
  x += x < hi ? 1 : 0;
  return static_cast<std::uint16_t>((x + std::rotr(x, 16)) >> 16);
}

std::uint64_t load64(const std::byte* p) {
  std::uint64_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
std::uint32_t load32(const std::byte* p) {
  std::uint32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
std::uint16_t load16(const std::byte* p) {
  std::uint16_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

#if defined(__x86_64__) && defined(__GNUC__)
// The one's-complement sum of the first 64 * (n / 64) bytes at p as native 64-bit words, with
// the carry of each add fed into the next (adc), as Linux's csum_partial does: one instruction
// per 8 bytes, with any x86-64 (no SIMD needed). The loop takes 128 bytes a turn (its three
// instructions of overhead per 128, not per 64; a 1,460-byte payload is 11 turns and one
// straight 64-byte chain). The carry out of the last add is added back twice: the first add
// can itself carry only when it leaves 0, and 2^64 is 1 in one's complement. The result is the
// sum modulo 2^64 - 1, which folds to the same 16-bit sum (2^16 - 1 divides 2^64 - 1).
std::uint64_t adc_sum_blocks(const std::byte* p, std::size_t n) {
  std::uint64_t s = 0;
  std::size_t turns = n / 128;
  if (turns > 0) {
    asm("clc\n"
        "1:\n\t"
        "adcq 0(%[p]), %[s]\n\t"
        "adcq 8(%[p]), %[s]\n\t"
        "adcq 16(%[p]), %[s]\n\t"
        "adcq 24(%[p]), %[s]\n\t"
        "adcq 32(%[p]), %[s]\n\t"
        "adcq 40(%[p]), %[s]\n\t"
        "adcq 48(%[p]), %[s]\n\t"
        "adcq 56(%[p]), %[s]\n\t"
        "adcq 64(%[p]), %[s]\n\t"
        "adcq 72(%[p]), %[s]\n\t"
        "adcq 80(%[p]), %[s]\n\t"
        "adcq 88(%[p]), %[s]\n\t"
        "adcq 96(%[p]), %[s]\n\t"
        "adcq 104(%[p]), %[s]\n\t"
        "adcq 112(%[p]), %[s]\n\t"
        "adcq 120(%[p]), %[s]\n\t"
        "leaq 128(%[p]), %[p]\n\t"  // lea and dec keep the carry flag (dec leaves CF alone)
        "decq %[b]\n\t"
        "jnz 1b\n\t"
        "adcq $0, %[s]\n\t"
        "adcq $0, %[s]"
        : [s] "+r"(s), [p] "+r"(p), [b] "+r"(turns)
        :
        : "cc", "memory");  // reads the blocks
  }
  if (n & 64) {
    asm("addq 0(%[p]), %[s]\n\t"
        "adcq 8(%[p]), %[s]\n\t"
        "adcq 16(%[p]), %[s]\n\t"
        "adcq 24(%[p]), %[s]\n\t"
        "adcq 32(%[p]), %[s]\n\t"
        "adcq 40(%[p]), %[s]\n\t"
        "adcq 48(%[p]), %[s]\n\t"
        "adcq 56(%[p]), %[s]\n\t"
        "adcq $0, %[s]\n\t"
        "adcq $0, %[s]"
        : [s] "+r"(s)
        : [p] "r"(p)
        : "cc", "memory");  // reads the block
  }
  return s;
}
#endif

// The native-order sum of the even-length prefix of [p, p + n), continuing the partial sum
// `start`, as a 64-bit partial sum (modulo 2^64 - 1, to be folded by the caller).
// Each 64-bit accumulator takes at most kBlock / 16 32-bit adds between folds, far from
// overflowing.
std::uint64_t native_sum_even(const std::byte* p, std::size_t n, std::uint64_t start) {
  constexpr std::size_t kBlock = std::size_t{1} << 20;
  // The rest (all of a header-sized buffer): 64-bit words with end-around carry, then one
  // fold, instead of four accumulators each folded on their own.
  std::uint64_t tail = start;
  const auto add = [&tail](std::uint64_t x) {
    tail += x;
    tail += tail < x ? 1 : 0;
  };
#if defined(__x86_64__) && defined(__GNUC__)
  if (n >= 64) {
    add(adc_sum_blocks(p, n));  // modulo 2^64 - 1: the end-around adds continue it
    p += n & ~std::size_t{63};
    n %= 64;
  }
#endif
  while (n >= 64) {
    std::size_t chunk = n < kBlock ? n : kBlock;
    chunk &= ~std::size_t{31};
    std::uint64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    const std::byte* end = p + chunk;
    for (; p != end; p += 32) {
      a0 += std::uint64_t{load32(p)} + load32(p + 16);
      a1 += std::uint64_t{load32(p + 4)} + load32(p + 20);
      a2 += std::uint64_t{load32(p + 8)} + load32(p + 24);
      a3 += std::uint64_t{load32(p + 12)} + load32(p + 28);
    }
    n -= chunk;
    add(fold(a0) + fold(a1) + fold(a2) + fold(a3));
  }
  for (; n >= 8; n -= 8, p += 8) add(load64(p));
  if (n >= 4) {
    add(load32(p));
    p += 4;
    n -= 4;
  }
  if (n >= 2) add(load16(p));
  return tail;
}

// The native-order sum of a buffer shorter than 64 bytes (a segment without payload, or with
// a few bytes of it: every segment of a handshake and a close), added to `s` (below 2^40):
// its 32-bit words each added once into 64 bits, which cannot carry out (at most 15 of
// them), straight through from the count of words, without a loop, then the last 2 and 1
// bytes. Issue 15: half the instructions of native_sum_even's 64-bit words with end-around
// carries and its tail tests for a 20-40 byte header.
std::uint64_t short_sum(const std::byte* p, std::size_t n, std::uint64_t s) {
  const std::byte* w = p + (n & ~std::size_t{3});  // past the last whole word
  // clang-format off
  switch (n / 4) {
    case 15: s += load32(w - 60); [[fallthrough]];
    case 14: s += load32(w - 56); [[fallthrough]];
    case 13: s += load32(w - 52); [[fallthrough]];
    case 12: s += load32(w - 48); [[fallthrough]];
    case 11: s += load32(w - 44); [[fallthrough]];
    case 10: s += load32(w - 40); [[fallthrough]];
    case 9: s += load32(w - 36); [[fallthrough]];
    case 8: s += load32(w - 32); [[fallthrough]];
    case 7: s += load32(w - 28); [[fallthrough]];
    case 6: s += load32(w - 24); [[fallthrough]];
    case 5: s += load32(w - 20); [[fallthrough]];
    case 4: s += load32(w - 16); [[fallthrough]];
    case 3: s += load32(w - 12); [[fallthrough]];
    case 2: s += load32(w - 8); [[fallthrough]];
    case 1: s += load32(w - 4); [[fallthrough]];
    default: break;
  }
  // clang-format on
  if (n & 2) s += load16(w);
  return s;
}

// The native-order value of the 16-bit big-endian word `w` (network order is big-endian).
constexpr std::uint32_t native16(std::uint32_t w) {
  return kLittle ? ((w & 0xffu) << 8) | (w >> 8) : w;
}

// The odd last byte as the native value of the word it starts (padded with a zero byte).
std::uint32_t native_odd_byte(std::span<const std::byte> bytes) {
  return bytes.size() % 2 ? native16(std::to_integer<std::uint32_t>(bytes.back()) << 8) : 0;
}

// Byte by byte, as RFC 1071 states it: for a machine that is neither big- nor little-endian.
[[maybe_unused]] std::uint16_t portable_sum(std::span<const std::byte> bytes) {
  std::uint64_t s = 0;
  std::size_t i = 0;
  for (; i + 1 < bytes.size(); i += 2) {
    s += (std::to_integer<std::uint64_t>(bytes[i]) << 8) | std::to_integer<std::uint64_t>(bytes[i + 1]);
  }
  if (i < bytes.size()) s += std::to_integer<std::uint64_t>(bytes[i]) << 8;
  return fold(s);
}

}  // namespace

std::uint16_t ones_sum(std::span<const std::byte> bytes, std::uint32_t initial) {
  std::uint64_t s = initial;
  if constexpr (kLittle || kBig) {
    const std::uint16_t native = fold(native_sum_even(bytes.data(), bytes.size(), native_odd_byte(bytes)));
    s += kLittle ? std::byteswap(native) : native;
  } else {
    s += portable_sum(bytes);
  }
  return fold(s);
}

std::uint16_t pseudo_header_sum(const IpAddr& src, const IpAddr& dst, std::uint32_t tcp_length) {
  // IPv4 (RFC 9293 §3.1): src, dst, zero, protocol 6, 16-bit TCP length.
  // IPv6 (RFC 8200 §8.1): src, dst, 32-bit upper-layer length, 3 zero bytes, next header 6.
  // Both sum to the same words apart from the addresses: the length (its high and low 16
  // bits) and the protocol number.
  std::uint64_t s = 6;
  s += tcp_length >> 16;
  s += tcp_length & 0xffffu;
  // The addresses as big-endian 32-bit words: a sum of 32-bit words folds to the same 16-bit
  // sum as one of their halves (2^16 is 1 modulo 2^16 - 1), in a quarter of the adds.
  auto add_addr = [&s](const IpAddr& ip) {
    const std::uint8_t* p = ip.data();
    const auto word = [p](std::size_t i) {
      return std::uint32_t{p[i]} << 24 | std::uint32_t{p[i + 1]} << 16 | std::uint32_t{p[i + 2]} << 8 |
             p[i + 3];
    };
    s += word(0);
    if (ip.is_v6()) s += std::uint64_t{word(4)} + word(8) + word(12);
  };
  add_addr(src);
  add_addr(dst);
  return fold(s);
}

std::uint16_t tcp_checksum(const IpAddr& src, const IpAddr& dst, std::span<const std::byte> tcp_bytes) {
  if constexpr (kLittle || kBig) {
    // One sum in the machine's byte order, folded and swapped once (RFC 1071 §2(B)): the
    // pseudo-header's addresses as native 32-bit words (byte strings, like the segment), its
    // length and protocol words converted to native order, then the segment's bytes. One
    // fold instead of three (pseudo_header_sum's, the segment's, and their sum's).
    const auto len = static_cast<std::uint32_t>(tcp_bytes.size());
    std::uint64_t s = std::uint64_t{native16(6)} + native16(len >> 16) + native16(len & 0xffffu);
    const auto* a = reinterpret_cast<const std::byte*>(src.data());
    const auto* b = reinterpret_cast<const std::byte*>(dst.data());
    s += std::uint64_t{load32(a)} + load32(b);
    if (src.is_v6()) s += std::uint64_t{load32(a + 4)} + load32(a + 8) + load32(a + 12);
    if (dst.is_v6()) s += std::uint64_t{load32(b + 4)} + load32(b + 8) + load32(b + 12);
    s += native_odd_byte(tcp_bytes);  // s stays far below 2^64: no carry to fold back
    const std::size_t n = tcp_bytes.size();
    const std::uint16_t native =
        fold(n < 64 ? short_sum(tcp_bytes.data(), n, s) : native_sum_even(tcp_bytes.data(), n, s));
    return static_cast<std::uint16_t>(~(kLittle ? std::byteswap(native) : native));
  } else {
    const std::uint16_t ph = pseudo_header_sum(src, dst, static_cast<std::uint32_t>(tcp_bytes.size()));
    return static_cast<std::uint16_t>(~ones_sum(tcp_bytes, ph));
  }
}

std::uint16_t internet_checksum(std::span<const std::byte> bytes) {
  return static_cast<std::uint16_t>(~ones_sum(bytes));
}

}  // namespace utcp
