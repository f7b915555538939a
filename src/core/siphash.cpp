// SipHash-c-d from the paper's description (Aumasson and Bernstein, 2012, §2): SipHash-2-4,
// the keyed hashes of RFC 6528 and RFC 4987 built on it.
#include "core/siphash.hpp"

#include <bit>
#include <cstring>

namespace utcp::detail {

namespace {

std::uint64_t load_le64(const std::byte* p) {
  std::uint64_t v = 0;
  if constexpr (std::endian::native == std::endian::little) {
    std::memcpy(&v, p, sizeof v);  // one load (the byte loop below was not merged into one at -O2)
  } else {
    for (int i = 7; i >= 0; --i) v = (v << 8) | std::to_integer<std::uint64_t>(p[i]);
  }
  return v;
}

struct SipState {
  std::uint64_t v0, v1, v2, v3;

  // One SipRound (§2, "SipRound").
  void round() {
    v0 += v1;
    v1 = std::rotl(v1, 13);
    v1 ^= v0;
    v0 = std::rotl(v0, 32);
    v2 += v3;
    v3 = std::rotl(v3, 16);
    v3 ^= v2;
    v0 += v3;
    v3 = std::rotl(v3, 21);
    v3 ^= v0;
    v2 += v1;
    v1 = std::rotl(v1, 17);
    v1 ^= v2;
    v2 = std::rotl(v2, 32);
  }
  // Compression (§2): C rounds per message word.
  template <int C>
  void compress(std::uint64_t m) {
    v3 ^= m;
    for (int i = 0; i < C; ++i) round();
    v0 ^= m;
  }
};

// SipHash-C-D (§2): C rounds per message word, D rounds of finalization.
template <int C, int D>
std::uint64_t siphash_cd(const std::array<std::uint8_t, 16>& key, std::span<const std::byte> msg) {
  const std::byte* kb = reinterpret_cast<const std::byte*>(key.data());
  const std::uint64_t k0 = load_le64(kb), k1 = load_le64(kb + 8);
  // Initialization (§2): the constants spell "somepseudorandomlygeneratedbytes".
  SipState s{k0 ^ 0x736f6d6570736575ull, k1 ^ 0x646f72616e646f6dull, k0 ^ 0x6c7967656e657261ull,
             k1 ^ 0x7465646279746573ull};
  const std::size_t whole = msg.size() / 8 * 8;
  for (std::size_t i = 0; i < whole; i += 8) s.compress<C>(load_le64(msg.data() + i));
  // The last word holds the remaining bytes and, in its top byte, the length mod 256.
  std::uint64_t last = static_cast<std::uint64_t>(msg.size() & 0xff) << 56;
  for (std::size_t i = whole; i < msg.size(); ++i) {
    last |= std::to_integer<std::uint64_t>(msg[i]) << (8 * (i - whole));
  }
  s.compress<C>(last);
  // Finalization (§2).
  s.v2 ^= 0xff;
  for (int i = 0; i < D; ++i) s.round();
  return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

// The 4-tuple as bytes: address family, local address and port, remote address and port.
// Ports big-endian; IPv4 addresses occupy the first 4 of the 16 raw bytes, the rest zero.
constexpr std::size_t kFlowBytes = 1 + 16 + 2 + 16 + 2;
std::size_t put_flow(const Flow& flow, std::byte* out) {
  out[0] = std::byte{flow.local().ip.is_v6() ? std::uint8_t{6} : std::uint8_t{4}};
  const auto put = [](const Endpoint& e, std::byte* p) {
    std::memcpy(p, e.ip.raw().data(), 16);  // one copy of the raw array, not 16 byte stores
    p[16] = std::byte(e.port >> 8);
    p[17] = std::byte(e.port & 0xff);
  };
  put(flow.local(), out + 1);
  put(flow.remote(), out + 19);
  return kFlowBytes;
}

}  // namespace

std::uint64_t siphash24(const std::array<std::uint8_t, 16>& key, std::span<const std::byte> msg) {
  return siphash_cd<2, 4>(key, msg);
}

Seq initial_sequence_number(const std::array<std::uint8_t, 16>& secret, const Flow& flow, Instant now) {
  // The 4-tuple as few bytes as it takes: local address and port, remote address and port
  // (ports big-endian), 12 bytes for IPv4 and 36 for IPv6. The length, which SipHash mixes
  // into its last word, tells the families apart. 12 bytes are two compressions.
  std::byte buf[36];
  // Address length A a constant in each branch, so the copies are plain moves.
  const auto put = [&buf]<std::size_t A>(const Flow& fl) {
    const auto one = [](const Endpoint& e, std::byte* p) {
      std::memcpy(p, e.ip.raw().data(), A);
      p[A] = std::byte(e.port >> 8);
      p[A + 1] = std::byte(e.port & 0xff);
    };
    one(fl.local(), buf);
    one(fl.remote(), buf + A + 2);
    return 2 * (A + 2);
  };
  const std::size_t n = flow.local().ip.is_v4() ? put.template operator()<4>(flow) : put.template operator()<16>(flow);
  const auto f = static_cast<std::uint32_t>(siphash24(secret, std::span(buf, n)));
  // M: a timer that ticks every 4 microseconds (RFC 6528 §3, after RFC 793's ISN clock).
  const auto m =
      static_cast<std::uint32_t>(static_cast<std::uint64_t>(now.time_since_epoch().count()) / 4000u);
  return Seq(m + f);
}

std::uint32_t keyed_hash32(const std::array<std::uint8_t, 16>& key, const Flow& flow, std::uint32_t extra) {
  std::byte buf[kFlowBytes + 4];
  std::size_t n = put_flow(flow, buf);
  for (int i = 0; i < 4; ++i) buf[n++] = std::byte((extra >> (8 * i)) & 0xff);
  return static_cast<std::uint32_t>(siphash24(key, std::span(buf, n)));
}

}  // namespace utcp::detail
