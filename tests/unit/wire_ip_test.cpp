// IpAddr (RFC 4291 §2.2 text in, RFC 5952 text out), Endpoint and Flow.
#include <gtest/gtest.h>

#include <set>
#include <sstream>
#include <unordered_set>

#include "utcp/ip.hpp"

namespace utcp {
namespace {

std::string round_trip(std::string_view text) {
  auto ip = IpAddr::parse(text);
  return ip ? ip->to_string() : "<invalid>";
}

TEST(WireIp, ParsesDottedQuads) {
  EXPECT_EQ(IpAddr::parse("1.2.3.4"), IpAddr::v4(1, 2, 3, 4));
  EXPECT_EQ(IpAddr::parse("255.255.255.255"), IpAddr::v4(255, 255, 255, 255));
  EXPECT_EQ(IpAddr::parse("0.0.0.0"), IpAddr());
  EXPECT_EQ(IpAddr::parse("10.0.0.1"), IpAddr::v4(10, 0, 0, 1));
  EXPECT_EQ(IpAddr::parse("192.168.100.200"), IpAddr::v4(192, 168, 100, 200));
  EXPECT_TRUE(IpAddr::parse("1.2.3.4")->is_v4());
  EXPECT_EQ(IpAddr::parse("1.2.3.4")->size(), 4u);
}

TEST(WireIp, RejectsBadDottedQuads) {
  for (const char* bad :
       {"",          "01.2.3.4",   "1.02.3.4", "1.2.3.00",   "1.2.3",     "1.2.3.4.5", "256.1.1.1",
        "1.2.3.256", "1.2.3.1000", "1..3.4",   ".1.2.3",     "1.2.3.",    "1.2.3.4 ",  " 1.2.3.4",
        "a.b.c.d",   "1.2.3.-4",   "+1.2.3.4", "1.2.3.4/24", "0x1.2.3.4", "1,2,3,4"}) {
    EXPECT_FALSE(IpAddr::parse(bad).has_value()) << '"' << bad << '"';
  }
}

TEST(WireIp, ParsesIpv6Forms) {
  EXPECT_EQ(IpAddr::parse("::"), IpAddr::v6({}));
  EXPECT_EQ(IpAddr::parse("::1"), IpAddr::v6({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}));
  EXPECT_EQ(IpAddr::parse("2001:db8::1"),
            IpAddr::v6({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}));
  EXPECT_EQ(IpAddr::parse("::ffff:1.2.3.4"),
            IpAddr::v6({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, 4}));
  EXPECT_EQ(IpAddr::parse("1:2:3:4:5:6:7:8"), IpAddr::v6({0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0, 8}));
  EXPECT_EQ(IpAddr::parse("1::"), IpAddr::v6({0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(IpAddr::parse("1:2:3:4:5:6:7::"), IpAddr::parse("1:2:3:4:5:6:7:0"));
  EXPECT_EQ(IpAddr::parse("::2:3:4:5:6:7:8"), IpAddr::parse("0:2:3:4:5:6:7:8"));
  EXPECT_EQ(IpAddr::parse("1:2:3:4:5:6:1.2.3.4"), IpAddr::parse("1:2:3:4:5:6:102:304"));
  EXPECT_EQ(IpAddr::parse("::1.2.3.4"), IpAddr::parse("::102:304"));
  EXPECT_EQ(IpAddr::parse("FE80::ABCD"), IpAddr::parse("fe80::abcd"));
  EXPECT_EQ(IpAddr::parse("0000:0000:0000:0000:0000:0000:0000:0001"), IpAddr::parse("::1"));
  EXPECT_TRUE(IpAddr::parse("::")->is_v6());
  EXPECT_EQ(IpAddr::parse("::")->size(), 16u);
}

TEST(WireIp, RejectsBadIpv6) {
  for (const char* bad : {"1::2::3",
                          ":::",
                          "1:2:3:4:5:6:7:8:9",
                          "g::1",
                          "1:2:3:4:5:6:7",
                          ":1:2:3:4:5:6:7:8",
                          "1:2:3:4:5:6:7:8:",
                          "12345::",
                          "::12345",
                          "1::2:3:4:5:6:7:8",
                          "1:2:3:4:5:6:7:8::",
                          "::1.2.3.4:5",
                          "1.2.3.4::",
                          "::ffff:01.2.3.4",
                          "::ffff:1.2.3",
                          "1:2:3:4:5:6:7:1.2.3.4",
                          "fe80::1%eth0",
                          "[::1]",
                          " ::1",
                          "::1 ",
                          ":",
                          "1:",
                          ":1",
                          "::-1",
                          "1:::2"}) {
    EXPECT_FALSE(IpAddr::parse(bad).has_value()) << '"' << bad << '"';
  }
}

TEST(WireIp, PrintsRfc5952) {
  EXPECT_EQ(round_trip("::"), "::");
  EXPECT_EQ(round_trip("::1"), "::1");
  EXPECT_EQ(round_trip("2001:DB8::1"), "2001:db8::1");
  EXPECT_EQ(round_trip("2001:0db8:0000:0000:0000:0000:0000:0001"), "2001:db8::1");
  // §4.2.2: a single zero group is not compressed.
  EXPECT_EQ(round_trip("2001:db8:0:1:1:1:1:1"), "2001:db8:0:1:1:1:1:1");
  // §4.2.1: the longest run is compressed.
  EXPECT_EQ(round_trip("2001:0:0:1:0:0:0:1"), "2001:0:0:1::1");
  // §4.2.3: on a tie, the first run.
  EXPECT_EQ(round_trip("2001:db8:0:0:1:0:0:1"), "2001:db8::1:0:0:1");
  EXPECT_EQ(round_trip("1:2:3:4:5:6:7:8"), "1:2:3:4:5:6:7:8");
  EXPECT_EQ(round_trip("1:0:0:0:0:0:0:0"), "1::");
  EXPECT_EQ(round_trip("0:0:0:0:0:0:0:1"), "::1");
  EXPECT_EQ(round_trip("1:2:3:4:5:6:7:0"), "1:2:3:4:5:6:7:0");
  EXPECT_EQ(round_trip("0:1:0:1:0:1:0:1"), "0:1:0:1:0:1:0:1");
  EXPECT_EQ(round_trip("fe80::0abc:0"), "fe80::abc:0");
  // §5: IPv4-mapped addresses keep the dotted quad.
  EXPECT_EQ(round_trip("::ffff:1.2.3.4"), "::ffff:1.2.3.4");
  EXPECT_EQ(round_trip("::ffff:102:304"), "::ffff:1.2.3.4");
  EXPECT_EQ(round_trip("1.2.3.4"), "1.2.3.4");
  EXPECT_EQ(round_trip("0.0.0.0"), "0.0.0.0");
}

TEST(WireIp, PrintThenParseIsIdentity) {
  std::uint64_t x = 0x9e3779b97f4a7c15ull;
  for (int i = 0; i < 2000; ++i) {
    std::array<std::uint8_t, 16> b{};
    for (auto& v : b) {
      x = x * 6364136223846793005ull + 1442695040888963407ull;
      // Many zero groups, to exercise the compression.
      v = (x >> 60) < 8 ? 0 : static_cast<std::uint8_t>(x >> 33);
    }
    const IpAddr ip = IpAddr::v6(b);
    EXPECT_EQ(IpAddr::parse(ip.to_string()), ip) << ip;
  }
}

TEST(WireIp, OrdersV4BeforeV6AndBytewise) {
  const auto a = IpAddr::v4(1, 2, 3, 4), b = IpAddr::v4(1, 2, 3, 5), c = *IpAddr::parse("::");
  const auto d = *IpAddr::parse("::1");
  EXPECT_LT(a, b);
  EXPECT_LT(b, c);
  EXPECT_LT(c, d);
  EXPECT_LT(IpAddr::v4(255, 255, 255, 255), c);
  EXPECT_NE(IpAddr::v4(0, 0, 0, 0), c);
  std::set<IpAddr> set{d, c, b, a};
  EXPECT_EQ(*set.begin(), a);
}

TEST(WireIp, HashesEqualValuesEqually) {
  std::unordered_set<IpAddr> set;
  for (const char* t : {"1.2.3.4", "::1", "1.2.3.4", "::0001", "0.0.0.0", "::"})
    set.insert(*IpAddr::parse(t));
  EXPECT_EQ(set.size(), 4u);
  EXPECT_NE(IpAddr::v4(0, 0, 0, 0).hash(), IpAddr::v6({}).hash());
  EXPECT_NE(IpAddr::v4(1, 2, 3, 4).hash(), IpAddr::v4(4, 3, 2, 1).hash());
}

TEST(WireIp, EndpointsPrintWithBracketsForV6) {
  std::ostringstream os;
  os << Endpoint{IpAddr::v4(1, 2, 3, 4), 80} << ' ' << Endpoint{*IpAddr::parse("::1"), 80};
  EXPECT_EQ(os.str(), "1.2.3.4:80 [::1]:80");
  EXPECT_LT((Endpoint{IpAddr::v4(1, 2, 3, 4), 80}), (Endpoint{IpAddr::v4(1, 2, 3, 4), 81}));
}

TEST(WireIp, FlowsPrintLocalThenRemote) {
  const Flow f(Endpoint{IpAddr::v4(10, 0, 0, 1), 1234}, Endpoint{IpAddr::v4(10, 0, 0, 2), 80});
  std::ostringstream os;
  os << f;
  EXPECT_EQ(os.str(), "10.0.0.1:1234 -> 10.0.0.2:80");
  EXPECT_EQ(to_string(f), "10.0.0.1:1234 -> 10.0.0.2:80");
  EXPECT_EQ(peers(f).first, f.local());
  EXPECT_EQ(peers(f).second, f.remote());
  const Flow f6(Endpoint{*IpAddr::parse("2001:db8::1"), 443}, Endpoint{*IpAddr::parse("2001:db8::2"), 5000});
  EXPECT_EQ(to_string(f6), "[2001:db8::1]:443 -> [2001:db8::2]:5000");
}

TEST(WireIp, FlowsAreRegularAndHashable) {
  const Endpoint a{IpAddr::v4(10, 0, 0, 1), 1234}, b{IpAddr::v4(10, 0, 0, 2), 80};
  EXPECT_EQ(Flow(a, b), Flow(a, b));
  EXPECT_NE(Flow(a, b), Flow(b, a));
  EXPECT_EQ(Flow(), Flow());
  std::unordered_set<Flow> set;
  for (std::uint16_t p = 0; p < 1000; ++p) {
    set.insert(Flow(Endpoint{a.ip, p}, b));
    set.insert(Flow(b, Endpoint{a.ip, p}));
  }
  set.insert(Flow(Endpoint{a.ip, 5}, b));  // already there
  EXPECT_EQ(set.size(), 2000u);
  EXPECT_NE(Flow(a, b).hash(), Flow(b, a).hash());
  std::unordered_set<Endpoint> eps{a, b, a};
  EXPECT_EQ(eps.size(), 2u);
}

}  // namespace
}  // namespace utcp
