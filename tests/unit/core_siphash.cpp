// SipHash-2-4 against the reference vectors, and the RFC 6528 / RFC 4987 keyed hashes.
#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <vector>

#include "core/siphash.hpp"

namespace utcp::detail {
namespace {

constexpr std::array<std::uint8_t, 16> kKey = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};

// SipHash-2-4 with key 00 01 .. 0f of the messages 00 01 .. (n-1), n = 0..63: the reference
// vectors (the paper's appendix gives n = 15; the reference implementation's vectors.h all),
// written as the little-endian 64-bit value of the 8 output bytes.
constexpr std::uint64_t kVectors[64] = {
    0x726fdb47dd0e0e31, 0x74f839c593dc67fd, 0x0d6c8009d9a94f5a, 0x85676696d7fb7e2d, 0xcf2794e0277187b7,
    0x18765564cd99a68d, 0xcbc9466e58fee3ce, 0xab0200f58b01d137, 0x93f5f5799a932462, 0x9e0082df0ba9e4b0,
    0x7a5dbbc594ddb9f3, 0xf4b32f46226bada7, 0x751e8fbc860ee5fb, 0x14ea5627c0843d90, 0xf723ca908e7af2ee,
    0xa129ca6149be45e5, 0x3f2acc7f57c29bdb, 0x699ae9f52cbe4794, 0x4bc1b3f0968dd39c, 0xbb6dc91da77961bd,
    0xbed65cf21aa2ee98, 0xd0f2cbb02e3b67c7, 0x93536795e3a33e88, 0xa80c038ccd5ccec8, 0xb8ad50c6f649af94,
    0xbce192de8a85b8ea, 0x17d835b85bbb15f3, 0x2f2e6163076bcfad, 0xde4daaaca71dc9a5, 0xa6a2506687956571,
    0xad87a3535c49ef28, 0x32d892fad841c342, 0x7127512f72f27cce, 0xa7f32346f95978e3, 0x12e0b01abb051238,
    0x15e034d40fa197ae, 0x314dffbe0815a3b4, 0x027990f029623981, 0xcadcd4e59ef40c4d, 0x9abfd8766a33735c,
    0x0e3ea96b5304a7d0, 0xad0c42d6fc585992, 0x187306c89bc215a9, 0xd4a60abcf3792b95, 0xf935451de4f21df2,
    0xa9538f0419755787, 0xdb9acddff56ca510, 0xd06c98cd5c0975eb, 0xe612a3cb9ecba951, 0xc766e62cfcadaf96,
    0xee64435a9752fe72, 0xa192d576b245165a, 0x0a8787bf8ecb74b2, 0x81b3e73d20b49b6f, 0x7fa8220ba3b2ecea,
    0x245731c13ca42499, 0xb78dbfaf3a8d83bd, 0xea1ad565322a1a0b, 0x60e61c23a3795013, 0x6606d7e446282b93,
    0x6ca4ecb15c5f91e1, 0x9f626da15c9625f3, 0xe51b38608ef25f57, 0x958a324ceb064572,
};

TEST(CoreSipHash, ReferenceVectors) {
  std::vector<std::byte> msg;
  for (std::size_t n = 0; n < 64; ++n) {
    EXPECT_EQ(siphash24(kKey, msg), kVectors[n]) << "n = " << n;
    msg.push_back(std::byte(n));
  }
}

TEST(CoreSipHash, PaperAppendixExample) {
  // Appendix A: key 00..0f, the 15-byte message 00..0e.
  std::vector<std::byte> msg;
  for (int i = 0; i < 15; ++i) msg.push_back(std::byte(i));
  EXPECT_EQ(siphash24(kKey, msg), 0xa129ca6149be45e5ull);
}

Flow flow(std::uint16_t lport, std::uint16_t rport) {
  return Flow({IpAddr::v4(10, 0, 0, 1), lport}, {IpAddr::v4(10, 0, 0, 2), rport});
}

TEST(CoreSipHash, InitialSequenceNumberFollowsRfc6528) {
  const std::array<std::uint8_t, 16> secret = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
  const Instant t0{};
  const Seq a = initial_sequence_number(secret, flow(80, 40000), t0);
  // Deterministic: same inputs, same ISN.
  EXPECT_EQ(a, initial_sequence_number(secret, flow(80, 40000), t0));
  // M ticks every 4 microseconds.
  EXPECT_EQ(initial_sequence_number(secret, flow(80, 40000), t0 + std::chrono::microseconds(3)), a);
  EXPECT_EQ(initial_sequence_number(secret, flow(80, 40000), t0 + std::chrono::microseconds(4)), a + 1);
  EXPECT_EQ(initial_sequence_number(secret, flow(80, 40000), t0 + std::chrono::seconds(1)), a + 250'000);
  // F depends on the 4-tuple and the secret.
  EXPECT_NE(initial_sequence_number(secret, flow(80, 40001), t0), a);
  EXPECT_NE(initial_sequence_number(secret, flow(81, 40000), t0), a);
  std::array<std::uint8_t, 16> other = secret;
  other[15] ^= 1;
  EXPECT_NE(initial_sequence_number(other, flow(80, 40000), t0), a);
  const Flow v6({*IpAddr::parse("::1"), 80}, {*IpAddr::parse("::2"), 40000});
  EXPECT_NE(initial_sequence_number(secret, v6, t0), a);
  // Every part of the 4-tuple counts, the remote address and the families included (an IPv4
  // tuple is 12 bytes, an IPv6 one 36: an IPv4-mapped IPv6 address is another tuple).
  EXPECT_NE(initial_sequence_number(secret, Flow({IpAddr::v4(10, 0, 0, 1), 80}, {IpAddr::v4(10, 0, 0, 3), 40000}), t0), a);
  EXPECT_NE(initial_sequence_number(secret, Flow({IpAddr::v4(10, 0, 0, 9), 80}, {IpAddr::v4(10, 0, 0, 2), 40000}), t0), a);
  const Flow mapped({*IpAddr::parse("::ffff:10.0.0.1"), 80}, {*IpAddr::parse("::ffff:10.0.0.2"), 40000});
  EXPECT_NE(initial_sequence_number(secret, mapped, t0), a);
  const Flow v6b({*IpAddr::parse("::1"), 80}, {*IpAddr::parse("::3"), 40000});
  EXPECT_NE(initial_sequence_number(secret, v6b, t0), initial_sequence_number(secret, v6, t0));
  // M is truncated to 32 bits: 2^32 ticks later the ISN repeats.
  EXPECT_EQ(initial_sequence_number(secret, flow(80, 40000), t0 + std::chrono::nanoseconds(4000ll << 32)), a);
}

TEST(CoreSipHash, KeyedHash32DependsOnEveryInput) {
  const std::array<std::uint8_t, 16> key{};
  const std::uint32_t h = keyed_hash32(key, flow(1, 2), 7);
  EXPECT_EQ(h, keyed_hash32(key, flow(1, 2), 7));
  EXPECT_NE(h, keyed_hash32(key, flow(1, 2), 8));
  EXPECT_NE(h, keyed_hash32(key, flow(2, 1), 7));
  std::array<std::uint8_t, 16> k2 = key;
  k2[0] = 1;
  EXPECT_NE(h, keyed_hash32(k2, flow(1, 2), 7));
}

}  // namespace
}  // namespace utcp::detail
