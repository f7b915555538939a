// The host's IP input: refused datagrams are counted by reason, ICMP "fragmentation
// needed" / "packet too big" lower a flow's MSS only when they quote an outstanding segment.
#include <fcntl.h>

#include "ip_packet.hpp"
#include "net.hpp"
#include "utcp/checksum.hpp"

namespace utcp::host::test {
namespace {

using Bytes = std::vector<std::byte>;

void put16(Bytes& b, std::size_t at, std::uint16_t v) {
  b[at] = static_cast<std::byte>(v >> 8);
  b[at + 1] = static_cast<std::byte>(v & 0xff);
}
void put32(Bytes& b, std::size_t at, std::uint32_t v) {
  put16(b, at, static_cast<std::uint16_t>(v >> 16));
  put16(b, at + 2, static_cast<std::uint16_t>(v));
}
void put_addr(Bytes& b, std::size_t at, const IpAddr& ip) {
  for (std::size_t i = 0; i < ip.size(); ++i) b[at + i] = static_cast<std::byte>(ip.data()[i]);
}

// An IPv4 header for `payload` from src to dst with protocol `proto`, checksum filled in.
Bytes ipv4(const IpAddr& src, const IpAddr& dst, std::uint8_t proto, const Bytes& payload) {
  Bytes b(20);
  b[0] = std::byte{0x45};
  put16(b, 2, static_cast<std::uint16_t>(20 + payload.size()));
  put16(b, 6, 0x4000);
  b[8] = std::byte{64};
  b[9] = std::byte{proto};
  put_addr(b, 12, src);
  put_addr(b, 16, dst);
  put16(b, 10, internet_checksum(b));
  b.insert(b.end(), payload.begin(), payload.end());
  return b;
}

Bytes ipv6(const IpAddr& src, const IpAddr& dst, std::uint8_t next, const Bytes& payload) {
  Bytes b(40);
  b[0] = std::byte{0x60};
  put16(b, 4, static_cast<std::uint16_t>(payload.size()));
  b[6] = std::byte{next};
  b[7] = std::byte{64};
  put_addr(b, 8, src);
  put_addr(b, 24, dst);
  b.insert(b.end(), payload.begin(), payload.end());
  return b;
}

const IpAddr a4 = IpAddr::v4(10, 0, 0, 1);
const IpAddr b4 = IpAddr::v4(10, 0, 0, 2);
const IpAddr router4 = IpAddr::v4(10, 0, 0, 254);

// A valid TCP SYN from b to a, port 80, as bytes.
Bytes syn_bytes(const IpAddr& src, const IpAddr& dst) {
  Segment s;
  s.src_port = 1234;
  s.dst_port = 80;
  s.seq = Seq(1);
  s.flag = Segment::Flag::syn;
  s.window = 1000;
  return s.encode(src, dst);
}

std::uint64_t drops(utcp_host* h, int reason) {
  utcp_host_stats st{};
  EXPECT_EQ(utcp_host_get_stats(h, &st), 0);
  return st.ip_drops[reason];
}

void expect_dropped(utcp_host* h, const Bytes& packet, int reason) {
  const std::uint64_t before = drops(h, reason);
  errno = 0;
  EXPECT_EQ(utcp_host_input(h, packet.data(), packet.size()), -1);
  EXPECT_EQ(errno, EINVAL);
  EXPECT_EQ(drops(h, reason), before + 1) << utcp_ip_drop_name(reason);
}

TEST(Input, DropCountersByReason) {
  Net net;
  const Bytes good = ipv4(b4, a4, ip_proto_tcp, syn_bytes(b4, a4));
  EXPECT_EQ(utcp_host_input(net.a, good.data(), good.size()), 0);

  expect_dropped(net.a, {}, UTCP_IP_TOO_SHORT);
  expect_dropped(net.a, Bytes(good.begin(), good.begin() + 10), UTCP_IP_TOO_SHORT);
  Bytes v = good;
  v[0] = std::byte{0x55};
  expect_dropped(net.a, v, UTCP_IP_BAD_VERSION);
  Bytes ihl = good;
  ihl[0] = std::byte{0x44};
  expect_dropped(net.a, ihl, UTCP_IP_BAD_HEADER_LENGTH);
  Bytes total = good;
  put16(total, 2, static_cast<std::uint16_t>(good.size() + 1));
  put16(total, 10, 0);
  put16(total, 10, internet_checksum(std::span(total).first(20)));
  expect_dropped(net.a, total, UTCP_IP_BAD_TOTAL_LENGTH);
  Bytes sum = good;
  sum[10] ^= std::byte{0xff};
  expect_dropped(net.a, sum, UTCP_IP_BAD_HEADER_CHECKSUM);
  Bytes frag = good;
  put16(frag, 6, 0x2000);
  put16(frag, 10, 0);
  put16(frag, 10, internet_checksum(std::span(frag).first(20)));
  expect_dropped(net.a, frag, UTCP_IP_FRAGMENT);
  expect_dropped(net.a, ipv4(b4, a4, 17, Bytes(8)), UTCP_IP_NOT_TCP);
  expect_dropped(net.a, ipv4(b4, router4, ip_proto_tcp, syn_bytes(b4, router4)), UTCP_IP_WRONG_DESTINATION);
  const IpAddr v6a = IpAddr::parse("2001:db8::1").value(), v6b = IpAddr::parse("2001:db8::2").value();
  expect_dropped(net.a, ipv6(v6b, v6a, ip_proto_tcp, syn_bytes(v6b, v6a)), UTCP_IP_WRONG_DESTINATION);
  expect_dropped(net.a,
                 ipv4(IpAddr::v4(224, 0, 0, 1), a4, ip_proto_tcp, syn_bytes(IpAddr::v4(224, 0, 0, 1), a4)),
                 UTCP_IP_BAD_SOURCE);
  expect_dropped(net.a, ipv4(IpAddr{}, a4, ip_proto_tcp, syn_bytes(IpAddr{}, a4)), UTCP_IP_BAD_SOURCE);
  Bytes icmp(8);
  icmp[0] = std::byte{3};
  expect_dropped(net.a, ipv4(router4, a4, ip_proto_icmp, icmp), UTCP_IP_BAD_ICMP);  // checksum wrong
  expect_dropped(net.a, ipv4(router4, a4, ip_proto_icmp, Bytes(4)), UTCP_IP_BAD_ICMP);

  utcp_host_stats st{};
  ASSERT_EQ(utcp_host_get_stats(net.a, &st), 0);
  EXPECT_EQ(st.tcp_in, 1u);
  std::uint64_t sum_drops = 0;
  for (int i = 0; i < UTCP_IP_DROP_REASONS; ++i) sum_drops += st.ip_drops[i];
  EXPECT_EQ(st.ip_in, sum_drops + 1);
  EXPECT_STREQ(utcp_ip_drop_name(UTCP_IP_FRAGMENT), "fragment");
  EXPECT_EQ(utcp_ip_drop_name(UTCP_IP_DROP_REASONS), nullptr);
}

// The core's counters in full through the ABI: a SYN to a port nobody listens on is dropped
// and counted by reason, a TCP segment with a bad checksum by decode error; the text is cut
// as snprintf cuts and its whole length returned.
TEST(Input, TcpCountersByReasonAsText) {
  Net net;
  const Bytes syn = ipv4(b4, a4, ip_proto_tcp, syn_bytes(b4, a4));
  EXPECT_EQ(utcp_host_input(net.a, syn.data(), syn.size()), 0);  // port 80: nobody listens
  Bytes bad_tcp = syn_bytes(b4, a4);
  bad_tcp[16] ^= std::byte{0x55};  // the TCP checksum
  const Bytes bad = ipv4(b4, a4, ip_proto_tcp, bad_tcp);
  utcp_host_input(net.a, bad.data(), bad.size());
  std::string text(4096, '\0');
  const ssize_t n = utcp_host_tcp_counters(net.a, text.data(), text.size());
  ASSERT_GT(n, 0);
  ASSERT_LT(n, static_cast<ssize_t>(text.size()));
  text.resize(static_cast<std::size_t>(n));
  EXPECT_NE(text.find("drop.no_connection 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("drop.decode 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("decode_error."), std::string::npos) << text;
  EXPECT_NE(text.find("resets_sent 1\n"), std::string::npos) << text;

  char small[8];
  EXPECT_EQ(utcp_host_tcp_counters(net.a, small, sizeof small), n);
  EXPECT_EQ(std::string(small), text.substr(0, 7));
  EXPECT_EQ(utcp_host_tcp_counters(net.a, nullptr, 0), n);
  errno = 0;
  EXPECT_EQ(utcp_host_tcp_counters(net.a, nullptr, 10), -1);
  EXPECT_EQ(errno, EFAULT);
}

TEST(Input, Ipv6ExtensionHeaderCutShortCounted) {
  Net net("2001:db8::1", "2001:db8::2");
  const IpAddr v6a = IpAddr::parse("2001:db8::1").value(), v6b = IpAddr::parse("2001:db8::2").value();
  expect_dropped(net.a, ipv6(v6b, v6a, 0, Bytes(4)), UTCP_IP_BAD_EXTENSION_HEADER);
  Bytes frag = {std::byte{6}, std::byte{0}, std::byte{0}, std::byte{1},
                std::byte{0}, std::byte{0}, std::byte{0}, std::byte{1}};
  expect_dropped(net.a, ipv6(v6b, v6a, 44, frag), UTCP_IP_FRAGMENT);
}

// ---- path MTU discovery ----

struct PmtuSetup {
  Net net;
  int c = -1, s = -1;
  Bytes first_data;  // the first data packet a sent (dropped on the wire)

  explicit PmtuSetup(const char* a_addr = "10.0.0.1", const char* b_addr = "10.0.0.2") : net(a_addr, b_addr) {
    const bool v6 = std::strchr(a_addr, ':') != nullptr;
    const int l = utcp_socket(net.b, v6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
    socklen_t len = 0;
    sockaddr_storage any = sockaddr_of(v6 ? "::" : "0.0.0.0", 80, &len);
    EXPECT_EQ(utcp_bind(net.b, l, reinterpret_cast<sockaddr*>(&any), len), 0);
    EXPECT_EQ(utcp_listen(net.b, l, 4), 0);
    c = utcp_socket(net.a, v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    sockaddr_storage dst = net.addr_b(80, &len);
    EXPECT_EQ(utcp_connect(net.a, c, reinterpret_cast<sockaddr*>(&dst), len), -1);
    net.pump();
    s = utcp_accept(net.b, l, nullptr, nullptr);
    EXPECT_GE(s, 0);
    // A router with a 1000-byte link drops a's full-sized segments.
    net.filter = [this](const Packet& p) {
      if (!p.from_a || p.bytes.size() <= 1000) return true;
      if (first_data.empty()) first_data = p.bytes;
      return false;
    };
  }

  void send(std::size_t n) {
    const std::vector<char> data(n, 'd');
    EXPECT_EQ(utcp_write(net.a, c, data.data(), data.size()), static_cast<ssize_t>(n));
    net.pump();
  }
  std::uint64_t pmtu_updates() {
    utcp_host_stats st{};
    EXPECT_EQ(utcp_host_get_stats(net.a, &st), 0);
    return st.pmtu_updates;
  }
  std::uint64_t icmp_ignored() {
    utcp_host_stats st{};
    EXPECT_EQ(utcp_host_get_stats(net.a, &st), 0);
    return st.icmp_ignored;
  }
  std::size_t receive_all() {
    std::vector<char> buf(1 << 16);
    std::size_t got = 0;
    for (int i = 0; i < 100; ++i) {
      net.run_for(50 * ms);
      for (;;) {
        const ssize_t n = utcp_recv(net.b, s, buf.data(), buf.size(), MSG_DONTWAIT);
        if (n <= 0) break;
        got += static_cast<std::size_t>(n);
      }
    }
    return got;
  }
};

// RFC 792 destination unreachable, fragmentation needed (RFC 1191): the IP header and the
// first 8 bytes of `original`.
Bytes frag_needed(const Bytes& original, std::uint16_t mtu, const IpAddr& router = router4) {
  Bytes icmp(8);
  icmp[0] = std::byte{3};
  icmp[1] = std::byte{4};
  put16(icmp, 6, mtu);
  icmp.insert(icmp.end(), original.begin(), original.begin() + 28);
  put16(icmp, 2, internet_checksum(icmp));
  const IpAddr dst =
      IpAddr::v4(std::to_integer<std::uint8_t>(original[12]), std::to_integer<std::uint8_t>(original[13]),
                 std::to_integer<std::uint8_t>(original[14]), std::to_integer<std::uint8_t>(original[15]));
  return ipv4(router, dst, ip_proto_icmp, icmp);
}

TEST(PathMtu, FragmentationNeededLowersMss) {
  PmtuSetup t;
  t.send(20000);
  ASSERT_FALSE(t.first_data.empty());
  const Bytes icmp = frag_needed(t.first_data, 1000);
  EXPECT_EQ(utcp_host_input(t.net.a, icmp.data(), icmp.size()), 0);
  EXPECT_EQ(t.pmtu_updates(), 1u);
  int mss = 0;
  socklen_t len = sizeof mss;
  ASSERT_EQ(utcp_getsockopt(t.net.a, t.c, IPPROTO_TCP, TCP_MAXSEG, &mss, &len), 0);
  EXPECT_EQ(mss, 960);
  EXPECT_EQ(t.receive_all(), 20000u);
}

TEST(PathMtu, NeverBelowIpv4Minimum) {
  PmtuSetup t;
  t.net.filter = [&t](const Packet& p) {
    if (p.from_a && p.bytes.size() > 576) {
      if (t.first_data.empty()) t.first_data = p.bytes;
      return false;
    }
    return true;
  };
  t.send(5000);
  const Bytes icmp = frag_needed(t.first_data, 300);
  EXPECT_EQ(utcp_host_input(t.net.a, icmp.data(), icmp.size()), 0);
  int mss = 0;
  socklen_t len = sizeof mss;
  ASSERT_EQ(utcp_getsockopt(t.net.a, t.c, IPPROTO_TCP, TCP_MAXSEG, &mss, &len), 0);
  EXPECT_EQ(mss, 536);
  EXPECT_EQ(t.receive_all(), 5000u);
}

TEST(PathMtu, IgnoredUnlessItQuotesAnOutstandingSegmentOfOurs) {
  PmtuSetup t;
  t.send(20000);
  ASSERT_FALSE(t.first_data.empty());
  // Another flow (different port).
  Bytes other = t.first_data;
  put16(other, 20, 1);
  Bytes icmp = frag_needed(other, 1000);
  EXPECT_EQ(utcp_host_input(t.net.a, icmp.data(), icmp.size()), 0);
  EXPECT_EQ(t.pmtu_updates(), 0u) << "other flow accepted";
  // A sequence number outside the outstanding data.
  Bytes stale = t.first_data;
  put32(stale, 24, 12345);
  icmp = frag_needed(stale, 1000);
  EXPECT_EQ(utcp_host_input(t.net.a, icmp.data(), icmp.size()), 0);
  EXPECT_EQ(t.pmtu_updates(), 0u) << "stale sequence number accepted";
  // An MTU that is not smaller than ours.
  icmp = frag_needed(t.first_data, 1500);
  EXPECT_EQ(utcp_host_input(t.net.a, icmp.data(), icmp.size()), 0);
  // Another ICMP type (port unreachable).
  icmp = frag_needed(t.first_data, 1000);
  icmp[21] = std::byte{3};
  put16(icmp, 22, 0);
  put16(icmp, 22, internet_checksum(std::span(icmp).subspan(20)));
  EXPECT_EQ(utcp_host_input(t.net.a, icmp.data(), icmp.size()), 0);
  EXPECT_EQ(t.pmtu_updates(), 0u);
  EXPECT_EQ(t.icmp_ignored(), 4u);
}

TEST(PathMtu, Ipv6PacketTooBig) {
  PmtuSetup t("2001:db8::1", "2001:db8::2");
  t.net.filter = [&t](const Packet& p) {
    if (!p.from_a || p.bytes.size() <= 1300) return true;
    if (t.first_data.empty()) t.first_data = p.bytes;
    return false;
  };
  t.send(20000);
  ASSERT_FALSE(t.first_data.empty());
  const IpAddr a6 = IpAddr::parse("2001:db8::1").value(), router = IpAddr::parse("2001:db8::fe").value();
  // RFC 4443 §3.2: type 2, code 0, MTU, as much of the packet as fits.
  Bytes icmp(8);
  icmp[0] = std::byte{2};
  put32(icmp, 4, 1300);
  icmp.insert(icmp.end(), t.first_data.begin(), t.first_data.begin() + 200);
  Bytes pseudo(40);
  put_addr(pseudo, 0, router);
  put_addr(pseudo, 16, a6);
  put32(pseudo, 32, static_cast<std::uint32_t>(icmp.size()));
  pseudo[39] = std::byte{ip_proto_icmpv6};
  put16(icmp, 2, static_cast<std::uint16_t>(~ones_sum(icmp, ones_sum(pseudo))));
  const Bytes packet = ipv6(router, a6, ip_proto_icmpv6, icmp);
  EXPECT_EQ(utcp_host_input(t.net.a, packet.data(), packet.size()), 0);
  EXPECT_EQ(t.pmtu_updates(), 1u);
  int mss = 0;
  socklen_t len = sizeof mss;
  ASSERT_EQ(utcp_getsockopt(t.net.a, t.c, IPPROTO_TCP, TCP_MAXSEG, &mss, &len), 0);
  EXPECT_EQ(mss, 1240);
  EXPECT_EQ(t.receive_all(), 20000u);
}

}  // namespace
}  // namespace utcp::host::test
