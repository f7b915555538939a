// The Internet checksum (RFC 1071) and the TCP pseudo-headers.
#include <gtest/gtest.h>

#include <vector>

#include "utcp/checksum.hpp"
#include "wire_test_util.hpp"

namespace utcp {
namespace {

using test::bytes;

// RFC 1071 §4.1, word by word, as the reference.
std::uint16_t reference_sum(std::span<const std::byte> b, std::uint32_t initial = 0) {
  std::uint64_t s = initial;
  for (std::size_t i = 0; i < b.size(); i += 2) {
    std::uint32_t w = std::to_integer<std::uint32_t>(b[i]) << 8;
    if (i + 1 < b.size()) w |= std::to_integer<std::uint32_t>(b[i + 1]);
    s += w;
  }
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return static_cast<std::uint16_t>(s);
}

std::vector<std::byte> random_bytes(std::size_t n, std::uint64_t seed) {
  std::vector<std::byte> v(n);
  for (auto& b : v) {
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    b = static_cast<std::byte>(seed >> 56);
  }
  return v;
}

TEST(WireChecksum, Rfc1071Example) {
  // RFC 1071 §3: the sum of 0001 f203 f4f5 f6f7 is ddf2.
  EXPECT_EQ(ones_sum(bytes({0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7})), 0xddf2);
}

TEST(WireChecksum, EmptyAndOddLengths) {
  EXPECT_EQ(ones_sum({}), 0);
  EXPECT_EQ(ones_sum({}, 0x1234), 0x1234);
  EXPECT_EQ(ones_sum(bytes({0xab})), 0xab00);  // padded with a zero byte
  EXPECT_EQ(ones_sum(bytes({0x12, 0x34, 0x56})), 0x1234 + 0x5600);
}

TEST(WireChecksum, CarriesFoldBack) {
  EXPECT_EQ(ones_sum(bytes({0xff, 0xff, 0x00, 0x01})), 0x0001);
  EXPECT_EQ(ones_sum(bytes({0xff, 0xff}), 0xffff), 0xffff);
  EXPECT_EQ(ones_sum(bytes({0x80, 0x00, 0x80, 0x00})), 0x0001);
  std::vector<std::byte> ff(4096, std::byte{0xff});
  EXPECT_EQ(ones_sum(ff), 0xffff);
}

TEST(WireChecksum, MatchesReferenceAtEveryLengthAndAlignment) {
  const auto data = random_bytes(1600, 42);
  for (std::size_t off = 0; off < 8; ++off) {
    for (std::size_t len = 0; off + len <= data.size(); ++len) {
      const auto s = std::span(data).subspan(off, len);
      ASSERT_EQ(ones_sum(s), reference_sum(s)) << "off " << off << " len " << len;
      ASSERT_EQ(ones_sum(s, 0xfedc), reference_sum(s, 0xfedc)) << "off " << off << " len " << len;
    }
  }
}

TEST(WireChecksum, LargeBuffersFoldWithoutOverflow) {
  // More than one fold block (1 MiB) and all-ones words, the worst case for carries.
  std::vector<std::byte> big(3 * 1024 * 1024 + 6, std::byte{0xff});
  EXPECT_EQ(ones_sum(big), reference_sum(big));
  const auto rnd = random_bytes(2 * 1024 * 1024 + 77, 7);
  EXPECT_EQ(ones_sum(rnd), reference_sum(rnd));
}

TEST(WireChecksum, ChainsOverEvenChunks) {
  const auto data = random_bytes(1000, 3);
  const auto all = ones_sum(data);
  for (std::size_t cut = 0; cut <= data.size(); cut += 2) {
    const auto first = ones_sum(std::span(data).first(cut));
    EXPECT_EQ(ones_sum(std::span(data).subspan(cut), first), all) << cut;
  }
  // The last chunk may be odd.
  const auto odd = random_bytes(999, 4);
  EXPECT_EQ(ones_sum(std::span(odd).subspan(500), ones_sum(std::span(odd).first(500))), ones_sum(odd));
}

TEST(WireChecksum, Ipv4HeaderChecksum) {
  // An IPv4 header (UDP, 192.168.0.1 -> 192.168.0.199) whose checksum field is b861.
  auto h = bytes({0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
                  0xb8, 0x61, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7});
  EXPECT_EQ(internet_checksum(h), 0);
  h[10] = h[11] = std::byte{0};
  EXPECT_EQ(internet_checksum(h), 0xb861);
}

TEST(WireChecksum, PseudoHeaderSums) {
  // IPv4: 10.0.0.1, 10.0.0.2, zero, 6, length 40.
  EXPECT_EQ(pseudo_header_sum(IpAddr::v4(10, 0, 0, 1), IpAddr::v4(10, 0, 0, 2), 40),
            reference_sum(bytes({10, 0, 0, 1, 10, 0, 0, 2, 0, 6, 0, 40})));
  // IPv6: the 32-bit length and next header 6 (RFC 8200 §8.1), with a length above 2^16.
  const auto a = *IpAddr::parse("2001:db8::1"), b = *IpAddr::parse("fe80::1234:5678");
  std::vector<std::byte> ph;
  for (auto ip : {a, b}) {
    for (std::size_t i = 0; i < 16; ++i) ph.push_back(static_cast<std::byte>(ip.data()[i]));
  }
  for (auto x : {0x00, 0x01, 0x23, 0x45, 0, 0, 0, 6}) ph.push_back(static_cast<std::byte>(x));
  EXPECT_EQ(pseudo_header_sum(a, b, 0x0001'2345), reference_sum(ph));
}

// tcp_checksum sums the pseudo-header in native byte order and folds once: against the
// byte-wise reference over the pseudo-header's bytes (RFC 9293 §3.1, RFC 8200 §8.1) written
// out in front of the segment, for both families, every length to 1,600 (odd ones too) at
// every alignment, and an IPv6 length above 16 bits.
TEST(WireChecksum, TcpChecksumMatchesReferenceOverPseudoHeaderAndSegment) {
  const auto data = random_bytes(70'000 + 8, 11);
  const IpAddr v4a = IpAddr::v4(192, 0, 2, 255), v4b = IpAddr::v4(255, 254, 1, 7);
  const IpAddr v6a = *IpAddr::parse("2001:db8:ffff::ff01"), v6b = *IpAddr::parse("fe80::ffff:1234:5678");
  const auto expected = [](const IpAddr& a, const IpAddr& b, std::span<const std::byte> seg) {
    std::vector<std::byte> all;
    for (const IpAddr* ip : {&a, &b})
      for (std::size_t i = 0; i < ip->size(); ++i) all.push_back(static_cast<std::byte>(ip->data()[i]));
    const auto n = static_cast<std::uint32_t>(seg.size());
    const std::vector<unsigned> tail =
        a.is_v4() ? std::vector<unsigned>{0, 6, (n >> 8) & 0xff, n & 0xff}
                  : std::vector<unsigned>{n >> 24, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff, 0, 0, 0, 6};
    for (unsigned x : tail) all.push_back(static_cast<std::byte>(x));
    all.insert(all.end(), seg.begin(), seg.end());
    return static_cast<std::uint16_t>(~reference_sum(all));
  };
  for (std::size_t off = 0; off < 8; ++off) {
    for (std::size_t len = 0; len <= 1600; ++len) {
      const auto s = std::span(data).subspan(off, len);
      ASSERT_EQ(tcp_checksum(v4a, v4b, s), expected(v4a, v4b, s)) << "v4 off " << off << " len " << len;
      ASSERT_EQ(tcp_checksum(v6a, v6b, s), expected(v6a, v6b, s)) << "v6 off " << off << " len " << len;
    }
  }
  const auto big = std::span(data).subspan(3, 70'001);
  EXPECT_EQ(tcp_checksum(v6a, v6b, big), expected(v6a, v6b, big));
}

TEST(WireChecksum, TcpChecksumIsZeroOverACorrectSegment) {
  // A bare IPv4 RST (see wire_segment_test.cpp): 10.0.0.2:80 -> 10.0.0.1:40000.
  auto seg = bytes({0x00, 0x50, 0x9c, 0x40, 0xab, 0xcd, 0xef, 0x01, 0x00, 0x00,
                    0x00, 0x00, 0x50, 0x04, 0x00, 0x00, 0x64, 0x7e, 0x00, 0x00});
  const auto src = IpAddr::v4(10, 0, 0, 2), dst = IpAddr::v4(10, 0, 0, 1);
  EXPECT_EQ(tcp_checksum(src, dst, seg), 0);
  seg[16] = seg[17] = std::byte{0};
  EXPECT_EQ(tcp_checksum(src, dst, seg), 0x647e);
}

}  // namespace
}  // namespace utcp
