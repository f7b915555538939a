// Segment decode and encode over real segments, option layout, and printing.
#include <gtest/gtest.h>

#include <sstream>

#include "utcp/checksum.hpp"
#include "utcp/segment.hpp"
#include "wire/options.hpp"
#include "wire_vectors.hpp"

namespace utcp {
namespace {

using namespace test;

template <class T>
std::string str(const T& v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

Segment must_decode(const IpAddr& src, const IpAddr& dst, const std::vector<std::byte>& b,
                    Flow* flow = nullptr) {
  auto r = decode_prefix(src, dst, b, b.size());
  EXPECT_TRUE(r.has_value()) << (r ? "" : str(r.error()));
  if (!r) return {};
  if (flow) *flow = r->second;
  return r->first;
}

TEST(WireSegment, DecodesALinuxSyn) {
  Flow flow;
  const Segment s = must_decode(kClient4, kServer4, kSyn4, &flow);
  EXPECT_EQ(s.src_port, 40000);
  EXPECT_EQ(s.dst_port, 80);
  EXPECT_EQ(s.seq, Seq(0x12345678));
  EXPECT_FALSE(s.ack.has_value());
  EXPECT_EQ(s.flag, Segment::Flag::syn);
  EXPECT_FALSE(s.push);
  EXPECT_EQ(s.window, 64240);
  EXPECT_EQ(s.options, (TcpOptions{Mss{1460}, SackPermitted{}, Timestamps{1000, 0}, WindowScale{7}}));
  EXPECT_TRUE(s.payload.empty());
  EXPECT_EQ(s.length(), 1u);
  // The receiver's view: local is the destination.
  EXPECT_EQ(flow, Flow(Endpoint{kServer4, 80}, Endpoint{kClient4, 40000}));
}

TEST(WireSegment, DecodesALinuxSynAck) {
  const Segment s = must_decode(kServer4, kClient4, kSynAck4);
  EXPECT_EQ(s.flag, Segment::Flag::syn);
  EXPECT_EQ(s.ack, Seq(0x12345679));
  EXPECT_EQ(s.seq, Seq(0xabcdef00));
  EXPECT_EQ(s.window, 65160);
  EXPECT_EQ(s.options, (TcpOptions{Mss{1460}, SackPermitted{}, Timestamps{2000, 1000}, WindowScale{7}}));
  EXPECT_EQ(
      str(s),
      "S. 2882400000:2882400000(0) ack 305419897 win 65160 <mss 1460,sackOK,TS val 2000 ecr 1000,wscale 7>");
}

TEST(WireSegment, DecodesDataWithPush) {
  const Segment s = must_decode(kClient4, kServer4, kData4);
  EXPECT_EQ(s.flag, Segment::Flag::none);
  EXPECT_TRUE(s.push);
  EXPECT_EQ(s.ack, Seq(0xabcdef01));
  EXPECT_EQ(s.window, 502);
  EXPECT_EQ(s.options, (TcpOptions{Timestamps{1010, 2000}}));
  EXPECT_EQ(s.payload.to_string(), "GET / HTTP/1.0\r\n\r\n");
  EXPECT_EQ(s.length(), 18u);
}

TEST(WireSegment, DecodeViewPointsIntoTheInputAndDecodeCopies) {
  auto view = Segment::decode_view(kClient4, kServer4, kData4);
  auto copy = Segment::decode(kClient4, kServer4, kData4);
  ASSERT_TRUE(view.has_value());
  ASSERT_TRUE(copy.has_value());
  EXPECT_EQ(view->first, copy->first);
  EXPECT_FALSE(view->first.payload.is_owned());
  EXPECT_TRUE(copy->first.payload.is_owned());
  const std::byte* at = nullptr;
  view->first.payload.for_each_slice([&](std::span<const std::byte> s) { at = s.data(); });
  EXPECT_EQ(at, kData4.data() + (kData4.size() - view->first.payload.size()));
  // Errors are the same as decode's.
  std::vector<std::byte> bad = kData4;
  bad.back() ^= std::byte{1};
  EXPECT_EQ(Segment::decode_view(kClient4, kServer4, bad).error().decode, DecodeError::bad_checksum);
}

TEST(WireSegment, DecodesFinAndRst) {
  const Segment fin = must_decode(kClient4, kServer4, kFin4);
  EXPECT_EQ(fin.flag, Segment::Flag::fin);
  EXPECT_EQ(fin.length(), 1u);
  EXPECT_EQ(fin.ack, Seq(0xabcdef01));
  EXPECT_EQ(str(fin), "F. 305419915:305419915(0) ack 2882400001 win 502 <TS val 1020 ecr 2000>");
  const Segment rst = must_decode(kServer4, kClient4, kRst4);
  EXPECT_EQ(rst.flag, Segment::Flag::rst);
  EXPECT_FALSE(rst.ack.has_value());
  EXPECT_TRUE(rst.options.empty());
  EXPECT_EQ(rst.length(), 0u);
  EXPECT_EQ(str(rst), "R 2882400001:2882400001(0) win 0");
}

TEST(WireSegment, DecodesIpv6) {
  Flow flow;
  const Segment syn = must_decode(kClient6, kServer6, kSyn6, &flow);
  EXPECT_EQ(syn.flag, Segment::Flag::syn);
  EXPECT_EQ(syn.options, (TcpOptions{Mss{1440}, SackPermitted{}, Timestamps{3000, 0}, WindowScale{7}}));
  EXPECT_EQ(to_string(flow), "[2001:db8::2]:443 -> [2001:db8::1]:50000");
  const Segment data = must_decode(kServer6, kClient6, kData6);
  EXPECT_EQ(data.payload.to_string(), "hello, world\n");
  EXPECT_TRUE(data.push);
  EXPECT_EQ(data.ack, Seq(0x01020305));
}

TEST(WireSegment, TheChecksumDependsOnTheAddresses) {
  auto r = decode_prefix(kClient4, IpAddr::v4(10, 0, 0, 3), kSyn4, kSyn4.size());
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().decode, DecodeError::bad_checksum);
  // Swapped addresses sum the same: the pseudo-header is symmetric in them.
  EXPECT_TRUE(decode_prefix(kServer4, kClient4, kSyn4, kSyn4.size()).has_value());
}

TEST(WireSegment, ReencodesLinuxDataSegmentsByteForByte) {
  // NOP,NOP,TS is also our layout, so these come back identical.
  for (const Vector& v : kVectors) {
    const Segment s = must_decode(v.src, v.dst, *v.bytes);
    const auto out = s.encode(v.src, v.dst);
    if (std::string_view(v.name).starts_with("syn")) {
      // Linux puts the NOP before wscale; ours pads at the end: same bytes otherwise.
      ASSERT_EQ(out.size(), v.bytes->size());
      EXPECT_EQ(std::vector(out.begin() + 20, out.begin() + 36),
                std::vector(v.bytes->begin() + 20, v.bytes->begin() + 36));
      EXPECT_EQ(std::vector(out.begin() + 36, out.end()), bytes({0x03, 0x03, 0x07, 0x01})) << v.name;
      EXPECT_EQ(tcp_checksum(v.src, v.dst, out), 0) << v.name;
    } else {
      EXPECT_EQ(out, *v.bytes) << v.name;
    }
  }
}

// Timestamps alone take a shorter path through encode and decode (wire/options.cpp); any
// other layout of the same 12 bytes reads the same through the general one.
TEST(WireSegment, TimestampsAloneReadTheSameInEveryLayout) {
  Segment s;
  s.options = {Timestamps{0x01020304, 0x05060708}};
  EXPECT_EQ(s.options_size(), 12u);
  const auto out = s.encode(kClient4, kServer4);
  EXPECT_EQ(std::vector(out.begin() + 20, out.end()), bytes({1, 1, 8, 10, 1, 2, 3, 4, 5, 6, 7, 8}));
  for (const auto& area :
       {bytes({1, 1, 8, 10, 1, 2, 3, 4, 5, 6, 7, 8}), bytes({8, 10, 1, 2, 3, 4, 5, 6, 7, 8, 1, 1}),
        bytes({8, 10, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0}), bytes({1, 8, 10, 1, 2, 3, 4, 5, 6, 7, 8, 1})}) {
    TcpOptions got;
    EXPECT_EQ(wire::parse_options(area, got), DecodeError::none);
    EXPECT_EQ(got, s.options);
  }
  // Not timestamps alone: NOP, NOP and a 10-byte unknown option of kind 9.
  TcpOptions got;
  EXPECT_EQ(wire::parse_options(bytes({1, 1, 9, 10, 1, 2, 3, 4, 5, 6, 7, 8}), got), DecodeError::none);
  EXPECT_EQ(got, (TcpOptions{UnknownOption{9, bytes({1, 2, 3, 4, 5, 6, 7, 8})}}));
}

TEST(WireSegment, EncodeAlignsTimestampsAndSackLikeLinux) {
  Segment s;
  s.options = {Timestamps{1, 2}, Sack{{{Seq(100), Seq(200)}}}};
  EXPECT_EQ(s.options_size(), 24u);
  const auto out = s.encode(kClient4, kServer4);
  EXPECT_EQ(std::vector(out.begin() + 20, out.end()),
            bytes({1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2, 1, 1, 5, 10, 0, 0, 0, 100, 0, 0, 0, 200}));
  EXPECT_EQ(out[12], std::byte{0xb0});  // 44 bytes of header
}

TEST(WireSegment, EncodePacksWhenAlignedWouldNotFit) {
  Segment s;
  s.options = {Timestamps{1, 1}, Timestamps{2, 2}, Timestamps{3, 3}, WindowScale{1}, WindowScale{2}};
  EXPECT_EQ(s.options_size(), 36u);  // aligned would need 44
  EXPECT_TRUE(s.valid());
  const auto out = s.encode(kClient4, kServer4);
  EXPECT_EQ(out[20], std::byte{8});  // no leading NOPs
  auto back = Segment::decode(kClient4, kServer4, out);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->first, s);
}

TEST(WireSegment, EncodeZeroesUrgentAndReservedAndSetsFlags) {
  Segment s;
  s.src_port = 1;
  s.dst_port = 2;
  s.seq = Seq(3);
  s.ack = Seq(4);
  s.flag = Segment::Flag::fin;
  s.push = true;
  s.window = 0xabcd;
  s.payload = Payload("xyz");
  const auto out = s.encode(kClient4, kServer4);
  ASSERT_EQ(out.size(), 23u);
  EXPECT_EQ(out[12], std::byte{0x50});
  EXPECT_EQ(out[13], std::byte{0x19});  // ACK, PSH, FIN
  EXPECT_EQ(out[14], std::byte{0xab});
  EXPECT_EQ(out[15], std::byte{0xcd});
  EXPECT_EQ(out[18], std::byte{0});
  EXPECT_EQ(out[19], std::byte{0});
  EXPECT_EQ(tcp_checksum(kClient4, kServer4, out), 0);
  s.ack.reset();
  EXPECT_EQ(s.encode(kClient4, kServer4)[8], std::byte{0});  // no ACK: the field is zero
}

TEST(WireSegment, EncodeIntoChecksTheRoom) {
  const Segment s = must_decode(kClient4, kServer4, kData4);
  EXPECT_EQ(s.encoded_size(), kData4.size());
  std::vector<std::byte> out(kData4.size() + 10, std::byte{0xee});
  EXPECT_EQ(s.encode_into(std::span(out).first(kData4.size() - 1), kClient4, kServer4), 0u);
  EXPECT_EQ(out[0], std::byte{0xee});  // nothing written
  EXPECT_EQ(s.encode_into(out, kClient4, kServer4), kData4.size());
  EXPECT_EQ(std::vector(out.begin(), out.begin() + kData4.size()), kData4);
  EXPECT_EQ(out[kData4.size()], std::byte{0xee});
}

TEST(WireSegment, EncodesAWindowScaleShiftAsGiven) {
  Segment s;
  s.options = {WindowScale{200}};
  const auto out = s.encode(kClient6, kServer6);
  EXPECT_EQ(std::vector(out.begin() + 20, out.end()), bytes({3, 3, 200, 1}));
  EXPECT_EQ(Segment::decode(kClient6, kServer6, out)->first, s);
}

TEST(WireSegment, OptionSizes) {
  EXPECT_EQ(encoded_size(TcpOption{Mss{1}}), 4u);
  EXPECT_EQ(encoded_size(TcpOption{WindowScale{1}}), 3u);
  EXPECT_EQ(encoded_size(TcpOption{SackPermitted{}}), 2u);
  EXPECT_EQ(encoded_size(TcpOption{Sack{{{Seq(1), Seq(2)}, {Seq(3), Seq(4)}}}}), 18u);
  EXPECT_EQ(encoded_size(TcpOption{Timestamps{}}), 10u);
  EXPECT_EQ(encoded_size(TcpOption{UnknownOption{99, bytes({1, 2, 3})}}), 5u);
  Segment s;
  EXPECT_EQ(s.options_size(), 0u);
  EXPECT_EQ(s.encoded_size(), 20u);
  s.options = {UnknownOption{99, std::vector<std::byte>(39)}};
  EXPECT_FALSE(s.valid());
}

TEST(WireSegment, PrintsLikePacketdrill) {
  Segment s;
  s.seq = Seq(1000);
  s.flag = Segment::Flag::syn;
  s.window = 65535;
  s.options = {Mss{1460}, WindowScale{7}};
  EXPECT_EQ(str(s), "S 1000:1000(0) win 65535 <mss 1460,wscale 7>");
  Segment d;
  d.seq = Seq(1);
  d.ack = Seq(1);
  d.push = true;
  d.window = 512;
  d.payload = Payload("0123456789");
  EXPECT_EQ(str(d), "P. 1:11(10) ack 1 win 512");
  Segment bare;
  EXPECT_EQ(str(bare), "- 0:0(0) win 0");
  d.options = {Sack{{{Seq(5), Seq(9)}}}, UnknownOption{254, bytes({0xab, 0x01})}, SackPermitted{}};
  EXPECT_EQ(str(d), "P. 1:11(10) ack 1 win 512 <sack 5:9,opt 254 len 4 ab01,sackOK>");
  Output o{kClient4, kServer4, bare};
  EXPECT_EQ(str(o), "10.0.0.1:0 > 10.0.0.2:0: - 0:0(0) win 0");
  EXPECT_EQ(to_string(Segment::Flag::rst), "rst");
}

}  // namespace
}  // namespace utcp
