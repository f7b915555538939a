// SipHash-2-4 (Aumasson and Bernstein, "SipHash: a fast short-input PRF", 2012) and the keyed
// hashes built on it: RFC 6528 initial sequence numbers and a 32-bit hash for SYN cookies.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "utcp/ip.hpp"
#include "utcp/seq.hpp"
#include "utcp/time.hpp"

namespace utcp::detail {

// The 64-bit SipHash-2-4 of msg under a 128-bit key (key bytes read little-endian, as the paper).
std::uint64_t siphash24(const std::array<std::uint8_t, 16>& key, std::span<const std::byte> msg);

// RFC 6528 §3: ISN = M + F(localip, localport, remoteip, remoteport, secretkey), where M is a
// 4 µs timer (nanoseconds since the steady_clock epoch / 4000, truncated to 32 bits) and F the
// low 32 bits of SipHash-2-4 of the 4-tuple under the secret.
Seq initial_sequence_number(const std::array<std::uint8_t, 16>& secret, const Flow& flow, Instant now);

// The low 32 bits of SipHash-2-4 of the 4-tuple and `extra` (RFC 4987 §3.6 SYN cookies: e.g.
// a time counter), under key.
std::uint32_t keyed_hash32(const std::array<std::uint8_t, 16>& key, const Flow& flow, std::uint32_t extra);

}  // namespace utcp::detail
