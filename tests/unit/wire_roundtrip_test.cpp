// decode(encode(s)) == s over many generated segments, IPv4 and IPv6.
#include <gtest/gtest.h>

#include <random>

#include "utcp/checksum.hpp"
#include "utcp/segment.hpp"
#include "wire_test_util.hpp"

namespace utcp {
namespace {

class Generator {
 public:
  explicit Generator(std::uint64_t seed) : rng_(seed) {}

  std::uint32_t u32() { return static_cast<std::uint32_t>(rng_()); }
  std::uint32_t below(std::uint32_t n) { return static_cast<std::uint32_t>(rng_() % n); }
  bool coin() { return below(2) == 0; }

  IpAddr address(bool v6) {
    if (!v6)
      return IpAddr::v4(static_cast<std::uint8_t>(u32()), static_cast<std::uint8_t>(u32()),
                        static_cast<std::uint8_t>(u32()), static_cast<std::uint8_t>(u32()));
    std::array<std::uint8_t, 16> b;
    for (auto& x : b) x = static_cast<std::uint8_t>(u32());
    return IpAddr::v6(b);
  }

  TcpOption option() {
    switch (below(7)) {
      case 0:
        return Mss{static_cast<std::uint16_t>(u32())};
      case 1:
        return WindowScale{static_cast<std::uint8_t>(u32())};
      case 2:
        return SackPermitted{};
      case 3: {
        Sack s;
        for (std::uint32_t n = 1 + below(4); n > 0; --n) s.blocks.emplace_back(Seq(u32()), Seq(u32()));
        return s;
      }
      case 4:
        return Timestamps{u32(), u32()};
      case 5: {
        // An unknown kind (never 0, 1 or a known one).
        static constexpr std::uint8_t kKinds[] = {6, 7, 9, 14, 19, 28, 29, 30, 34, 253, 254, 255};
        UnknownOption u{kKinds[below(sizeof kKinds)], {}};
        for (std::uint32_t n = below(12); n > 0; --n) u.data.push_back(static_cast<std::byte>(u32()));
        return u;
      }
      default: {
        // A known kind with a length wrong for it, as decode keeps it.
        struct Wrong {
          std::uint8_t kind, len;
        };
        static constexpr Wrong kWrong[] = {{2, 2}, {2, 3}, {2, 5},  {3, 2}, {3, 4}, {4, 3}, {4, 6},
                                           {5, 2}, {5, 9}, {5, 12}, {8, 2}, {8, 9}, {8, 11}};
        const Wrong w = kWrong[below(sizeof kWrong / sizeof kWrong[0])];
        UnknownOption u{w.kind, {}};
        for (int n = w.len - 2; n > 0; --n) u.data.push_back(static_cast<std::byte>(u32()));
        return u;
      }
    }
  }

  Segment segment() {
    Segment s;
    s.src_port = static_cast<std::uint16_t>(u32());
    s.dst_port = static_cast<std::uint16_t>(u32());
    s.seq = Seq(u32());
    if (coin()) s.ack = Seq(u32());
    s.flag = static_cast<Segment::Flag>(below(4));
    s.push = coin();
    s.window = static_cast<std::uint16_t>(u32());
    for (std::uint32_t n = below(7); n > 0; --n) {
      s.options.push_back(option());
      if (!s.valid()) s.options.pop_back();
    }
    const std::uint32_t size = below(4) == 0 ? 0 : below(2000);
    std::vector<std::byte> bytes(size);
    for (auto& b : bytes) b = static_cast<std::byte>(u32());
    if (size > 1 && coin()) {
      // Two blocks, so encoding walks both slices.
      const std::size_t cut = below(size);
      s.payload = Payload(std::span(bytes).first(cut)).concat(Payload(std::span(bytes).subspan(cut)));
    } else {
      s.payload = Payload(std::span<const std::byte>(bytes));
    }
    return s;
  }

 private:
  std::mt19937_64 rng_;
};

TEST(WireRoundTrip, DecodeOfEncodeIsIdentity) {
  Generator gen(20261127);
  std::vector<std::byte> scratch(2100);
  for (int i = 0; i < 10000; ++i) {
    const bool v6 = gen.coin();
    const IpAddr src = gen.address(v6), dst = gen.address(v6);
    const Segment s = gen.segment();
    ASSERT_TRUE(s.valid());
    const auto wire = s.encode(src, dst);
    ASSERT_EQ(wire.size(), s.encoded_size());
    ASSERT_EQ(tcp_checksum(src, dst, wire), 0) << s;
    ASSERT_EQ(s.encode_into(scratch, src, dst), wire.size());
    ASSERT_TRUE(std::equal(wire.begin(), wire.end(), scratch.begin()));

    test::ExactBuffer exact(wire);
    auto r = Segment::decode(src, dst, exact.span());
    ASSERT_TRUE(r.has_value()) << i << ": " << s << ": " << r.error();
    ASSERT_EQ(r->first, s) << i << ": " << s << " came back as " << r->first;
    ASSERT_EQ(r->second, Flow(Endpoint{dst, s.dst_port}, Endpoint{src, s.src_port}));
  }
}

}  // namespace
}  // namespace utcp
