// IP framing: every malformed header shape is refused with its reason; IPv4 and IPv6
// packets framed from an Output parse back to the same segment.
#include "ip_packet.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <initializer_list>
#include <vector>

#include "utcp/checksum.hpp"

namespace utcp::host {
namespace {

using Bytes = std::vector<std::byte>;

Bytes bytes(std::initializer_list<unsigned> v) {
  Bytes b;
  for (unsigned x : v) b.push_back(static_cast<std::byte>(x));
  return b;
}

void put16(Bytes& b, std::size_t at, std::uint16_t v) {
  b[at] = static_cast<std::byte>(v >> 8);
  b[at + 1] = static_cast<std::byte>(v & 0xff);
}

// A valid IPv4 header (with `options` 32-bit words of options) followed by `payload_len`
// bytes of payload, checksum filled in.
Bytes ipv4(std::size_t payload_len, std::uint8_t protocol = ip_proto_tcp, std::size_t options = 0) {
  const std::size_t header = 20 + options * 4;
  Bytes b(header + payload_len, std::byte{0xab});
  b[0] = static_cast<std::byte>(0x40 | (header / 4));
  b[1] = std::byte{0};
  put16(b, 2, static_cast<std::uint16_t>(header + payload_len));
  put16(b, 4, 0x1234);
  put16(b, 6, 0x4000);
  b[8] = std::byte{64};
  b[9] = std::byte{protocol};
  put16(b, 10, 0);
  for (std::size_t i = 0; i < 4; ++i) {
    b[12 + i] = static_cast<std::byte>(10 + i);
    b[16 + i] = static_cast<std::byte>(20 + i);
  }
  for (std::size_t i = 20; i < header; ++i) b[i] = std::byte{1};  // NOP options
  put16(b, 10, internet_checksum(std::span(b).first(header)));
  return b;
}

void refresh_checksum(Bytes& b) {
  const std::size_t header = std::size_t{std::to_integer<unsigned>(b[0]) & 0xfu} * 4;
  put16(b, 10, 0);
  put16(b, 10, internet_checksum(std::span(b).first(header)));
}

// A valid IPv6 header followed by `ext` (extension headers) and `payload_len` bytes.
Bytes ipv6(std::uint8_t next, const Bytes& ext, std::size_t payload_len) {
  Bytes b(40, std::byte{0});
  b[0] = std::byte{0x60};
  put16(b, 4, static_cast<std::uint16_t>(ext.size() + payload_len));
  b[6] = std::byte{next};
  b[7] = std::byte{64};
  b[8] = std::byte{0x20};
  b[9] = std::byte{0x01};
  b[23] = std::byte{1};
  b[24] = std::byte{0x20};
  b[25] = std::byte{0x01};
  b[39] = std::byte{2};
  b.insert(b.end(), ext.begin(), ext.end());
  b.insert(b.end(), payload_len, std::byte{0xcd});
  return b;
}

IpError error_of(const Bytes& b) {
  auto r = parse_ip(b);
  EXPECT_FALSE(r.has_value());
  return r.has_value() ? IpError::count_ : r.error();
}

TEST(ParseIp, Ipv4Valid) {
  const Bytes b = ipv4(24);
  auto r = parse_ip(b);
  ASSERT_TRUE(r.has_value()) << r.error();
  EXPECT_EQ(r->src, IpAddr::v4(10, 11, 12, 13));
  EXPECT_EQ(r->dst, IpAddr::v4(20, 21, 22, 23));
  EXPECT_EQ(r->protocol, ip_proto_tcp);
  EXPECT_EQ(r->payload.size(), 24u);
  EXPECT_EQ(r->payload.data(), b.data() + 20);
}

TEST(ParseIp, Ipv4OptionsSkipped) {
  const Bytes b = ipv4(24, ip_proto_tcp, 2);
  auto r = parse_ip(b);
  ASSERT_TRUE(r.has_value()) << r.error();
  EXPECT_EQ(r->payload.data(), b.data() + 28);
  EXPECT_EQ(r->payload.size(), 24u);
}

TEST(ParseIp, Ipv4LinkPaddingIgnored) {
  Bytes b = ipv4(20);
  b.insert(b.end(), 6, std::byte{0});  // Ethernet minimum-frame padding
  auto r = parse_ip(b);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->payload.size(), 20u);
}

TEST(ParseIp, Ipv4IcmpAccepted) {
  auto r = parse_ip(ipv4(8, ip_proto_icmp));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->protocol, ip_proto_icmp);
}

TEST(ParseIp, Empty) {
  EXPECT_EQ(error_of({}), IpError::too_short);
}

TEST(ParseIp, BadVersion) {
  for (unsigned v : {0u, 1u, 5u, 7u, 15u}) {
    Bytes b = ipv4(20);
    b[0] = static_cast<std::byte>((v << 4) | 5);
    EXPECT_EQ(error_of(b), IpError::bad_version) << v;
  }
}

TEST(ParseIp, Ipv4TooShortAtEveryCut) {
  const Bytes b = ipv4(20);
  for (std::size_t n = 1; n < 20; ++n) {
    EXPECT_EQ(error_of(Bytes(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(n))), IpError::too_short)
        << n;
  }
}

TEST(ParseIp, Ipv4CutAnywhereIsRefused) {
  const Bytes b = ipv4(20, ip_proto_tcp, 3);
  for (std::size_t n = 0; n < b.size(); ++n) {
    EXPECT_FALSE(parse_ip(std::span(b).first(n)).has_value()) << n;
  }
}

TEST(ParseIp, Ipv4HeaderLengthBelowFive) {
  for (unsigned ihl = 0; ihl < 5; ++ihl) {
    Bytes b = ipv4(20);
    b[0] = static_cast<std::byte>(0x40 | ihl);
    EXPECT_EQ(error_of(b), IpError::bad_header_length) << ihl;
  }
}

TEST(ParseIp, Ipv4HeaderLengthPastBuffer) {
  Bytes b = ipv4(0);
  b[0] = std::byte{0x46};  // 24-byte header in a 20-byte buffer
  EXPECT_EQ(error_of(b), IpError::bad_header_length);
}

TEST(ParseIp, Ipv4TotalLengthBeyondBuffer) {
  Bytes b = ipv4(20);
  put16(b, 2, 41);
  refresh_checksum(b);
  EXPECT_EQ(error_of(b), IpError::bad_total_length);
}

TEST(ParseIp, Ipv4TotalLengthBelowHeader) {
  Bytes b = ipv4(20);
  put16(b, 2, 19);
  refresh_checksum(b);
  EXPECT_EQ(error_of(b), IpError::bad_total_length);
}

TEST(ParseIp, Ipv4HeaderChecksum) {
  Bytes b = ipv4(20);
  b[10] ^= std::byte{1};
  EXPECT_EQ(error_of(b), IpError::bad_header_checksum);
  Bytes c = ipv4(20);
  c[8] = std::byte{63};  // TTL changed, checksum not
  EXPECT_EQ(error_of(c), IpError::bad_header_checksum);
}

TEST(ParseIp, Ipv4MoreFragments) {
  Bytes b = ipv4(20);
  put16(b, 6, 0x2000);
  refresh_checksum(b);
  EXPECT_EQ(error_of(b), IpError::fragment);
}

TEST(ParseIp, Ipv4FragmentOffset) {
  for (std::uint16_t off : {std::uint16_t{1}, std::uint16_t{0x1fff}}) {
    Bytes b = ipv4(20);
    put16(b, 6, static_cast<std::uint16_t>(0x4000 | off));
    refresh_checksum(b);
    EXPECT_EQ(error_of(b), IpError::fragment) << off;
  }
}

TEST(ParseIp, Ipv4OtherProtocol) {
  for (std::uint8_t p :
       {std::uint8_t{17}, std::uint8_t{ip_proto_icmpv6}, std::uint8_t{0}, std::uint8_t{255}}) {
    EXPECT_EQ(error_of(ipv4(20, p)), IpError::not_tcp) << int{p};
  }
}

TEST(ParseIp, Ipv6Valid) {
  const Bytes b = ipv6(ip_proto_tcp, {}, 20);
  auto r = parse_ip(b);
  ASSERT_TRUE(r.has_value()) << r.error();
  EXPECT_EQ(r->src, IpAddr::parse("2001::1").value());
  EXPECT_EQ(r->dst, IpAddr::parse("2001::2").value());
  EXPECT_EQ(r->protocol, ip_proto_tcp);
  EXPECT_EQ(r->payload.data(), b.data() + 40);
  EXPECT_EQ(r->payload.size(), 20u);
}

TEST(ParseIp, Ipv6TooShort) {
  const Bytes b = ipv6(ip_proto_tcp, {}, 0);
  for (std::size_t n = 1; n < 40; ++n)
    EXPECT_EQ(error_of(Bytes(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(n))), IpError::too_short);
}

TEST(ParseIp, Ipv6PayloadLengthBeyondBuffer) {
  Bytes b = ipv6(ip_proto_tcp, {}, 20);
  put16(b, 4, 21);
  EXPECT_EQ(error_of(b), IpError::bad_total_length);
}

TEST(ParseIp, Ipv6ExtensionHeadersSkipped) {
  // hop-by-hop (8 bytes) -> destination options (16 bytes) -> routing (8 bytes) -> TCP
  Bytes ext = bytes({60, 0, 1, 4, 0, 0, 0, 0});
  Bytes dest = bytes({43, 1, 1, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0});
  Bytes routing = bytes({6, 0, 0, 0, 0, 0, 0, 0});
  ext.insert(ext.end(), dest.begin(), dest.end());
  ext.insert(ext.end(), routing.begin(), routing.end());
  const Bytes b = ipv6(0, ext, 20);
  auto r = parse_ip(b);
  ASSERT_TRUE(r.has_value()) << r.error();
  EXPECT_EQ(r->protocol, ip_proto_tcp);
  EXPECT_EQ(r->payload.data(), b.data() + 40 + 32);
  EXPECT_EQ(r->payload.size(), 20u);
}

TEST(ParseIp, Ipv6FragmentHeader) {
  EXPECT_EQ(error_of(ipv6(44, bytes({6, 0, 0, 1, 0, 0, 0, 1}), 20)), IpError::fragment);
  // behind a hop-by-hop header too
  Bytes ext = bytes({44, 0, 1, 4, 0, 0, 0, 0, 6, 0, 0, 1, 0, 0, 0, 1});
  EXPECT_EQ(error_of(ipv6(0, ext, 20)), IpError::fragment);
}

TEST(ParseIp, Ipv6ExtensionHeaderCutShort) {
  EXPECT_EQ(error_of(ipv6(0, bytes({6, 0, 1, 4}), 0)), IpError::bad_extension_header);
  EXPECT_EQ(error_of(ipv6(60, bytes({6, 1, 1, 4, 0, 0, 0, 0}), 0)), IpError::bad_extension_header);
}

TEST(ParseIp, Ipv6OtherProtocol) {
  EXPECT_EQ(error_of(ipv6(17, {}, 8)), IpError::not_tcp);
  EXPECT_EQ(error_of(ipv6(ip_proto_icmp, {}, 8)), IpError::not_tcp);
  EXPECT_EQ(error_of(ipv6(59, {}, 0)), IpError::not_tcp);  // no next header
  auto r = parse_ip(ipv6(ip_proto_icmpv6, {}, 8));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->protocol, ip_proto_icmpv6);
}

TEST(ParseIp, ErrorNames) {
  EXPECT_EQ(to_string(IpError::bad_header_checksum), "bad_header_checksum");
  for (std::size_t i = 0; i < static_cast<std::size_t>(IpError::count_); ++i) {
    EXPECT_NE(to_string(static_cast<IpError>(i)), "unknown");
  }
}

Output sample_output(const IpAddr& src, const IpAddr& dst) {
  Segment s;
  s.src_port = 4242;
  s.dst_port = 80;
  s.seq = Seq(1000);
  s.ack = Seq(77);
  s.push = true;
  s.window = 512;
  s.options.push_back(Timestamps{1, 2});
  s.payload = Payload(std::string_view("hello, world"));
  return Output{src, dst, s};
}

void expect_round_trip(const Output& o, std::size_t header) {
  const std::vector<std::byte> b = frame(o);
  ASSERT_EQ(b.size(), header + o.segment.encoded_size());
  auto r = parse_ip(b);
  ASSERT_TRUE(r.has_value()) << r.error();
  EXPECT_EQ(r->src, o.src);
  EXPECT_EQ(r->dst, o.dst);
  EXPECT_EQ(r->protocol, ip_proto_tcp);
  auto d = Segment::decode(r->src, r->dst, r->payload);
  ASSERT_TRUE(d.has_value()) << d.error();
  EXPECT_EQ(d->first, o.segment);
  EXPECT_EQ(d->second.local(), (Endpoint{o.dst, 80}));
  EXPECT_EQ(d->second.remote(), (Endpoint{o.src, 4242}));
}

TEST(Frame, Ipv4RoundTrip) {
  const Output o = sample_output(IpAddr::v4(10, 0, 0, 1), IpAddr::v4(10, 0, 0, 2));
  expect_round_trip(o, 20);
  const std::vector<std::byte> b = frame(o);
  EXPECT_EQ(b[0], std::byte{0x45});
  EXPECT_EQ(b[6], std::byte{0x40});  // DF
  EXPECT_EQ(b[8], std::byte{64});    // TTL
  EXPECT_EQ(internet_checksum(std::span(b).first(20)), 0);
}

TEST(Frame, Ipv6RoundTrip) {
  const Output o = sample_output(IpAddr::parse("fe80::1").value(), IpAddr::parse("2001:db8::7").value());
  expect_round_trip(o, 40);
  const std::vector<std::byte> b = frame(o);
  EXPECT_EQ(b[0], std::byte{0x60});
  EXPECT_EQ(b[6], std::byte{ip_proto_tcp});
  EXPECT_EQ(b[7], std::byte{64});  // hop limit
}

TEST(Frame, TooSmallWritesNothing) {
  const Output o = sample_output(IpAddr::v4(10, 0, 0, 1), IpAddr::v4(10, 0, 0, 2));
  const std::size_t need = 20 + o.segment.encoded_size();
  std::vector<std::byte> buf(need + 5);
  for (std::size_t n = 0; n < need; ++n) EXPECT_EQ(frame_into(std::span(buf).first(n), o), 0u) << n;
  EXPECT_EQ(frame_into(buf, o), need);
}

TEST(Frame, MixedFamiliesRefused) {
  const Output o = sample_output(IpAddr::v4(10, 0, 0, 1), IpAddr::parse("::1").value());
  std::vector<std::byte> buf(200);
  EXPECT_EQ(frame_into(buf, o), 0u);
  EXPECT_TRUE(frame(o).empty());
}

}  // namespace
}  // namespace utcp::host
