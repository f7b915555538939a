// The segmentation offload of the host layer (host/gso.hpp): the coalescer that merges runs of
// the output queue into TSO super-segments, the splitter that cuts GSO super-segments back
// into the segments they carry, and both through the C ABI on a virtual wire.
#include "gso.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "host.hpp"
#include "ip_packet.hpp"
#include "net.hpp"
#include "utcp/checksum.hpp"

namespace utcp::host {
namespace {

const IpAddr v4a = IpAddr::v4(10, 0, 0, 1);
const IpAddr v4b = IpAddr::v4(10, 0, 0, 2);
const IpAddr v6a = *IpAddr::parse("fd00::1");
const IpAddr v6b = *IpAddr::parse("fd00::2");

std::vector<std::byte> bytes_for(std::uint32_t seq, std::size_t n) {
  std::vector<std::byte> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::byte>((seq + i) * 7u + 3u);
  return v;
}

// A data segment of `len` bytes at `seq` from a to b (payload bytes depend on the sequence
// number, so a cut in the wrong place shows).
Output data(std::uint32_t seq, std::size_t len, bool v4 = true) {
  Output o{v4 ? v4a : v6a, v4 ? v4b : v6b, {}};
  o.segment.src_port = 80;
  o.segment.dst_port = 40000;
  o.segment.seq = Seq(seq);
  o.segment.ack = Seq(777);
  o.segment.window = 512;
  const auto b = bytes_for(seq, len);
  o.segment.payload = Payload(std::span<const std::byte>(b));
  return o;
}

// n full segments of `mss` from `seq` on, then one of `tail` bytes (none when 0).
std::vector<Output> run(std::uint32_t seq, std::size_t n, std::size_t mss, std::size_t tail = 0,
                        bool v4 = true) {
  std::vector<Output> v;
  for (std::size_t i = 0; i < n; ++i) v.push_back(data(seq + static_cast<std::uint32_t>(i * mss), mss, v4));
  if (tail > 0) v.push_back(data(seq + static_cast<std::uint32_t>(n * mss), tail, v4));
  return v;
}

std::vector<std::byte> super(std::span<const Output> outs) {
  std::vector<std::byte> buf(super_framed_size(outs));
  EXPECT_EQ(frame_super_into(buf, outs), buf.size());
  return buf;
}

std::vector<std::vector<std::byte>> split_all(std::span<const std::byte> frame) {
  Splitter s;
  std::vector<std::vector<std::byte>> got;
  auto n = s.split(frame, [&](std::span<const std::byte> p) { got.emplace_back(p.begin(), p.end()); });
  EXPECT_TRUE(n.has_value());
  if (n) {
    EXPECT_EQ(*n, got.size());
  }
  return got;
}

std::uint16_t be16(std::span<const std::byte> b, std::size_t at) {
  return static_cast<std::uint16_t>(std::to_integer<unsigned>(b[at]) << 8 |
                                    std::to_integer<unsigned>(b[at + 1]));
}
void put16(std::span<std::byte> b, std::size_t at, std::uint16_t v) {
  b[at] = static_cast<std::byte>(v >> 8);
  b[at + 1] = static_cast<std::byte>(v);
}

// The IPv4 identification set to `id`, the header checksum redone.
std::vector<std::byte> with_id(std::vector<std::byte> p, std::uint16_t id) {
  put16(p, 4, id);
  put16(p, 10, 0);
  put16(p, 10, internet_checksum(std::span<const std::byte>(p).first(20)));
  return p;
}

// ---- the coalescer ----

TEST(Coalescer, MergesARunOfFullSegmentsAndAShortLastOne) {
  auto outs = run(1000, 5, 1460, 300);
  outs.back().segment.push = true;
  EXPECT_EQ(coalescible(outs), 6u);
}

TEST(Coalescer, SingleAndEmpty) {
  EXPECT_EQ(coalescible({}), 0u);
  const auto outs = run(1000, 1, 1460);
  EXPECT_EQ(coalescible(outs), 1u);
}

TEST(Coalescer, PshOrFinEndsTheRunAndGoesOnTheLast) {
  auto outs = run(1000, 6, 1460);
  outs[2].segment.push = true;
  EXPECT_EQ(coalescible(outs), 3u);
  outs[2].segment.push = false;
  outs[3].segment.flag = Segment::Flag::fin;
  EXPECT_EQ(coalescible(outs), 4u);
  // The first with PSH or FIN is its own packet: the kernel would move its flag to the last.
  outs[0].segment.push = true;
  EXPECT_EQ(coalescible(outs), 1u);
}

TEST(Coalescer, NoSynRstEmptyOrAckless) {
  auto outs = run(1000, 4, 1460);
  outs[1].segment.flag = Segment::Flag::rst;
  EXPECT_EQ(coalescible(outs), 1u);
  outs = run(1000, 4, 1460);
  outs[0].segment.ack.reset();
  EXPECT_EQ(coalescible(outs), 1u);
  // A bare FIN (no data) cannot ride on a TSO packet: the kernel never makes an empty segment.
  outs = run(1000, 2, 1460);
  Output fin = data(1000 + 2 * 1460, 0);
  fin.segment.flag = Segment::Flag::fin;
  outs.push_back(fin);
  EXPECT_EQ(coalescible(outs), 2u);
}

TEST(Coalescer, OneFlowConsecutiveSameHeaders) {
  auto base = run(1000, 4, 1460);
  auto outs = base;
  outs[2].segment.seq = outs[2].segment.seq + 1;  // a gap
  EXPECT_EQ(coalescible(outs), 2u);
  outs = base;
  outs[2].segment.dst_port = 40001;  // another flow
  EXPECT_EQ(coalescible(outs), 2u);
  outs = base;
  outs[2].dst = IpAddr::v4(10, 0, 0, 3);
  EXPECT_EQ(coalescible(outs), 2u);
  outs = base;
  outs[2].segment.ack = Seq(778);
  EXPECT_EQ(coalescible(outs), 2u);
  outs = base;
  outs[2].segment.window = 511;
  EXPECT_EQ(coalescible(outs), 2u);
  outs = base;
  outs[2].segment.options.push_back(Timestamps{1, 2});
  EXPECT_EQ(coalescible(outs), 2u);
  // Same options on all: merged.
  outs = base;
  for (auto& o : outs) o.segment.options.push_back(Timestamps{1, 2});
  EXPECT_EQ(coalescible(outs), 4u);
}

TEST(Coalescer, EveryPayloadButTheLastIsTheFirstsSize) {
  auto outs = run(1000, 2, 1460, 700);
  outs.push_back(data(1000 + 2 * 1460 + 700, 1460));  // after a short one: a new run
  EXPECT_EQ(coalescible(outs), 3u);
  outs = run(1000, 1, 1000);
  outs.push_back(data(2000, 1460));  // larger than the first: the kernel would cut it
  EXPECT_EQ(coalescible(outs), 1u);
}

TEST(Coalescer, StaysWithin64KiB) {
  // IPv4: 20 + 20 + 44 * 1460 = 64,280; a 45th segment would make 65,740 > 65,535.
  auto outs = run(1000, 60, 1460);
  EXPECT_EQ(coalescible(outs), 44u);
  EXPECT_LE(super_framed_size(std::span<const Output>(outs).first(44)) - VnetHeader::size, max_super_packet);
  // IPv6: the payload length (TCP bytes) is what is limited: 20 + 45 * 1440 = 64,820.
  auto outs6 = run(1000, 60, 1440, 0, false);
  EXPECT_EQ(coalescible(outs6), 45u);
  // A smaller buffer: fewer segments.
  EXPECT_EQ(coalescible(outs, 40 + 3 * 1460), 3u);
}

TEST(Coalescer, SuperSegmentHeaders) {
  auto outs = run(0xfffff000u, 3, 1460, 100);  // the sequence numbers wrap inside the run
  outs.back().segment.push = true;
  ASSERT_EQ(coalescible(outs), 4u);
  const auto f = super(outs);
  const VnetHeader h = VnetHeader::read(f);
  EXPECT_EQ(h.flags, VnetHeader::needs_csum);
  EXPECT_EQ(h.gso_type, VnetHeader::gso_tcpv4);
  EXPECT_EQ(h.gso_size, 1460);
  EXPECT_EQ(h.csum_start, 20);
  EXPECT_EQ(h.csum_offset, 16);
  EXPECT_EQ(h.hdr_len, 40);
  const std::span<const std::byte> p = std::span<const std::byte>(f).subspan(VnetHeader::size);
  const std::size_t tcp_len = 20 + 3 * 1460 + 100;
  ASSERT_EQ(p.size(), 20 + tcp_len);
  EXPECT_EQ(be16(p, 2), p.size());                          // total length
  EXPECT_EQ(internet_checksum(p.first(20)), 0);             // header checksum redone
  EXPECT_EQ(std::to_integer<unsigned>(p[20 + 13]), 0x18u);  // ACK | PSH, from the last
  // The partial checksum: the pseudo-header's sum for the whole length, so that adding the
  // TCP bytes (with the field as it is) and complementing gives the full checksum.
  EXPECT_EQ(be16(p, 20 + 16), pseudo_header_sum(v4a, v4b, static_cast<std::uint32_t>(tcp_len)));
  std::vector<std::byte> tcp(p.begin() + 20, p.end());
  const std::uint16_t full = static_cast<std::uint16_t>(~ones_sum(tcp));
  put16(tcp, 16, 0);
  EXPECT_EQ(full, tcp_checksum(v4a, v4b, tcp));
  // The payload is the run's bytes in order.
  const auto want = bytes_for(0xfffff000u, 3 * 1460 + 100);
  EXPECT_TRUE(std::equal(want.begin(), want.end(), p.begin() + 40));
}

TEST(Coalescer, OneOutputIsAPlainPacket) {
  const auto outs = run(5, 1, 100);
  const auto f = super(outs);
  EXPECT_EQ(VnetHeader::read(f), VnetHeader{});
  EXPECT_EQ(std::vector<std::byte>(f.begin() + VnetHeader::size, f.end()), frame(outs[0]));
}

TEST(Coalescer, TooSmallABufferWritesNothing) {
  const auto outs = run(5, 3, 1000);
  std::vector<std::byte> buf(super_framed_size(outs) - 1);
  EXPECT_EQ(frame_super_into(buf, outs), 0u);
}

// ---- the same frame from its headers and the payloads where they lie ----

// A byte stream cut into blocks of `block` bytes, as the send queue holds it; the stream's
// byte at offset i is bytes_for(seq, ...)[i].
struct Blocks {
  Blocks(std::uint32_t seq, std::size_t total, std::size_t block) : size(block) {
    const auto all = bytes_for(seq, total);
    for (std::size_t at = 0; at < total; at += block) {
      auto b = PayloadBlock::make(block);
      const std::size_t n = std::min(block, total - at);
      EXPECT_TRUE(b->try_append(0, std::span<const std::byte>(all).subspan(at, n)));
      blocks.push_back(std::move(b));
    }
  }
  // [off, off + len) of the stream, sharing the blocks: two slices when it crosses a boundary.
  Payload slice(std::size_t off, std::size_t len) const {
    const std::size_t i = off / size, in = off % size;
    if (in + len <= size) return Payload(blocks[i], in, len);
    return Payload(blocks[i], in, size - in).concat(Payload(blocks[i + 1], 0, len - (size - in)));
  }
  std::size_t size;
  std::vector<std::shared_ptr<PayloadBlock>> blocks;
};

// frame_super_headers_into and for_each_payload_range: the headers followed by the ranges.
std::vector<std::byte> gathered(std::span<const Output> outs, std::size_t* ranges = nullptr) {
  std::vector<std::byte> f(max_super_headers);
  f.resize(frame_super_headers_into(f, outs));
  std::size_t n = 0;
  for_each_payload_range(outs, [&](std::span<const std::byte> r) {
    f.insert(f.end(), r.begin(), r.end());
    ++n;
  });
  if (ranges != nullptr) *ranges = n;
  return f;
}

// Runs of 2..44 segments cut from 16 KiB blocks (so some payloads span two), IPv4 and IPv6,
// with and without timestamps, the last segment full or short, plain, PSH or FIN: the headers
// and the payload ranges are byte for byte what frame_super_into writes, and the ranges are
// one per block the run touches.
TEST(GatherFrame, HeadersAndRangesAreTheSuperSegment) {
  const std::size_t mss = 1448;
  const std::uint32_t seq0 = 0xffff0000u;  // the sequence numbers wrap in the longer runs
  for (const bool v4 : {true, false}) {
    for (const bool ts : {false, true}) {
      for (std::size_t n = 2; n <= 44; ++n) {
        for (int last = 0; last < 3; ++last) {
          const std::size_t skew = 1000 + 37 * n;  // where in the first block the run starts
          const std::size_t tail = n % 3 == 0 ? mss : 700;
          const std::size_t total = (n - 1) * mss + tail;
          const Blocks blocks(seq0, skew + total, 16384);
          std::vector<Output> outs;
          for (std::size_t i = 0; i < n; ++i) {
            const std::size_t len = i + 1 == n ? tail : mss;
            Output o = data(seq0 + static_cast<std::uint32_t>(skew + i * mss), 0, v4);
            o.segment.payload = blocks.slice(skew + i * mss, len);
            if (ts) o.segment.options.push_back(TcpOption{Timestamps{12345, 678}});
            outs.push_back(std::move(o));
          }
          if (last == 1) outs.back().segment.push = true;
          if (last == 2) outs.back().segment.flag = Segment::Flag::fin;
          SCOPED_TRACE(::testing::Message()
                       << (v4 ? "v4" : "v6") << " ts " << ts << " n " << n << " last " << last);
          ASSERT_EQ(coalescible(outs), n);
          std::size_t ranges = 0;
          EXPECT_EQ(gathered(outs, &ranges), super(outs));
          EXPECT_EQ(ranges, (skew + total - 1) / 16384 - skew / 16384 + 1);
        }
      }
    }
  }
}

TEST(GatherFrame, OneOutputOrTooSmallABufferHasNoHeaders) {
  std::vector<std::byte> buf(max_super_headers);
  EXPECT_EQ(frame_super_headers_into(buf, run(5, 1, 100)), 0u);
  EXPECT_EQ(frame_super_headers_into(buf, {}), 0u);
  const auto outs = run(5, 3, 1000);
  EXPECT_EQ(frame_super_headers_into(buf, outs), VnetHeader::size + 40);
  EXPECT_EQ(frame_super_headers_into(std::span(buf).first(VnetHeader::size + 39), outs), 0u);
}

// Payloads that are not adjacent in memory (each its own block) stay separate ranges.
TEST(GatherFrame, RangesMergeOnlyWhatContinues) {
  const auto outs = run(5, 3, 1000);  // data() copies each payload into a block of its own
  std::size_t ranges = 0;
  EXPECT_EQ(gathered(outs, &ranges), super(outs));
  EXPECT_EQ(ranges, 3u);
}

// ---- cut back: what the kernel's segmentation makes of a super-segment ----

// split(frame_super(run)) is the run framed one by one, but for IPv4 identifications that
// count up from the first's (0) as Linux's GSO numbers them.
void expect_round_trip(const std::vector<Output>& outs) {
  ASSERT_EQ(coalescible(outs), outs.size());
  const auto got = split_all(super(outs));
  ASSERT_EQ(got.size(), outs.size());
  for (std::size_t i = 0; i < outs.size(); ++i) {
    auto want = frame(outs[i]);
    if (outs[i].src.is_v4()) want = with_id(want, static_cast<std::uint16_t>(i));
    EXPECT_EQ(got[i], want) << "segment " << i;
  }
}

TEST(Splitter, UndoesTheCoalescerV4) {
  auto outs = run(123456, 43, 1460, 1);
  outs.back().segment.push = true;
  outs.back().segment.flag = Segment::Flag::fin;
  expect_round_trip(outs);
}

TEST(Splitter, UndoesTheCoalescerV6AcrossTheWrap) {
  auto outs = run(0xffffff00u, 10, 1440, 0, false);
  outs.back().segment.push = true;
  expect_round_trip(outs);
}

TEST(Splitter, UndoesTheCoalescerWithOptionsAndTinySegments) {
  auto outs = run(9, 20, 1);
  for (auto& o : outs) o.segment.options.push_back(Timestamps{0x01020304, 0x05060708});
  expect_round_trip(outs);
}

// A super-segment as the kernel hands one over: PSH, FIN and CWR set on the template.
std::vector<std::byte> kernel_gso(bool v4, std::uint16_t id, std::uint8_t tcp_flags, std::size_t payload,
                                  std::uint16_t gso_size, std::uint8_t gso_type_extra = 0) {
  Output o = data(1000, payload, v4);
  std::vector<std::byte> p = frame(o);
  const std::size_t ip = v4 ? 20 : 40;
  if (v4) p = with_id(p, id);
  p[ip + 13] = static_cast<std::byte>(tcp_flags);
  put16(p, ip + 16, pseudo_header_sum(o.src, o.dst, static_cast<std::uint32_t>(p.size() - ip)));
  VnetHeader h;
  h.flags = VnetHeader::needs_csum;
  h.gso_type =
      static_cast<std::uint8_t>((v4 ? VnetHeader::gso_tcpv4 : VnetHeader::gso_tcpv6) | gso_type_extra);
  h.gso_size = gso_size;
  h.hdr_len = static_cast<std::uint16_t>(ip + 20);
  h.csum_start = static_cast<std::uint16_t>(ip);
  h.csum_offset = 16;
  std::vector<std::byte> f(VnetHeader::size);
  h.write(f);
  f.insert(f.end(), p.begin(), p.end());
  return f;
}

TEST(Splitter, FlagsIdsSequenceAndChecksumsPerSegment) {
  // ACK PSH FIN CWR ECE on the template; ECN marks the type (CWR on the first only).
  const std::uint8_t flags = 0x10 | 0x08 | 0x01 | 0x80 | 0x40;
  const auto f = kernel_gso(true, 65534, flags, 2500, 1000, VnetHeader::gso_ecn);
  const auto got = split_all(f);
  ASSERT_EQ(got.size(), 3u);
  const std::size_t sizes[] = {1000, 1000, 500};
  for (std::size_t i = 0; i < 3; ++i) {
    const std::span<const std::byte> p(got[i]);
    ASSERT_EQ(p.size(), 40 + sizes[i]);
    EXPECT_EQ(be16(p, 2), p.size());
    EXPECT_EQ(be16(p, 4), static_cast<std::uint16_t>(65534 + i));  // wraps: 65534, 65535, 0
    EXPECT_EQ(internet_checksum(p.first(20)), 0);
    EXPECT_EQ(tcp_checksum(v4a, v4b, p.subspan(20)), 0) << "segment " << i;
    const std::uint32_t seq = static_cast<std::uint32_t>(be16(p, 24)) << 16 | be16(p, 26);
    EXPECT_EQ(seq, 1000 + 1000 * i);
    unsigned want = 0x10 | 0x40;
    if (i == 0) want |= 0x80;
    if (i == 2) want |= 0x08 | 0x01;
    EXPECT_EQ(std::to_integer<unsigned>(p[33]), want) << "segment " << i;
    const auto bytes = bytes_for(static_cast<std::uint32_t>(1000 + 1000 * i), sizes[i]);
    EXPECT_TRUE(std::equal(bytes.begin(), bytes.end(), p.begin() + 40));
  }
}

TEST(Splitter, V6SegmentsCarryTheirPayloadLength) {
  const auto got = split_all(kernel_gso(false, 0, 0x10, 3000, 1440));
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(be16(got[0], 4), 20 + 1440);
  EXPECT_EQ(be16(got[2], 4), 20 + 120);
  for (const auto& p : got) EXPECT_EQ(tcp_checksum(v6a, v6b, std::span<const std::byte>(p).subspan(40)), 0);
}

TEST(Splitter, PayloadWithinOneSegmentIsNotCut) {
  const auto f = kernel_gso(true, 9, 0x18, 1000, 1000);
  const auto got = split_all(f);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(tcp_checksum(v4a, v4b, std::span<const std::byte>(got[0]).subspan(20)), 0);
  EXPECT_EQ(be16(got[0], 4), 9);
}

TEST(Splitter, CompletesAPartialChecksum) {
  Output o = data(1, 333);
  std::vector<std::byte> p = frame(o);
  put16(p, 36, pseudo_header_sum(o.src, o.dst, static_cast<std::uint32_t>(p.size() - 20)));
  VnetHeader h;
  h.flags = VnetHeader::needs_csum;
  h.csum_start = 20;
  h.csum_offset = 16;
  std::vector<std::byte> f(VnetHeader::size);
  h.write(f);
  f.insert(f.end(), p.begin(), p.end());
  const auto got = split_all(f);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], frame(o));
}

TEST(Splitter, PassesAPacketWithoutOffloadAsItIs) {
  Output o = data(1, 50);
  const auto p = frame(o);
  for (std::uint8_t flags : {std::uint8_t{0}, VnetHeader::data_valid}) {
    VnetHeader h;
    h.flags = flags;
    std::vector<std::byte> f(VnetHeader::size);
    h.write(f);
    f.insert(f.end(), p.begin(), p.end());
    const auto got = split_all(f);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0], p);
  }
}

TEST(Splitter, RefusesMalformedHeaders) {
  Splitter s;
  auto none = [](std::span<const std::byte>) { ADD_FAILURE() << "nothing may reach the sink"; };
  auto err = [&](std::vector<std::byte> f) {
    auto r = s.split(f, none);
    return r ? VnetError::count_ : r.error();
  };
  EXPECT_EQ(err(std::vector<std::byte>(9)), VnetError::too_short);
  auto f = kernel_gso(true, 0, 0x10, 3000, 1000);
  auto g = f;
  g[1] = std::byte{VnetHeader::gso_udp};
  EXPECT_EQ(err(g), VnetError::bad_gso);
  g = f;
  g[1] = std::byte{VnetHeader::gso_tcpv6};  // an IPv4 packet
  EXPECT_EQ(err(g), VnetError::bad_gso);
  g = f;
  g[4] = g[5] = std::byte{0};  // gso_size 0
  EXPECT_EQ(err(g), VnetError::bad_gso);
  g = f;
  g[VnetHeader::size + 9] = std::byte{17};  // UDP
  EXPECT_EQ(err(g), VnetError::bad_packet);
  g = f;
  g.resize(VnetHeader::size + 30);  // cut inside: the total length runs past the end
  EXPECT_EQ(err(g), VnetError::bad_packet);
  g = f;
  g[VnetHeader::size + 32] = std::byte{0x40};  // TCP data offset 4 words
  EXPECT_EQ(err(g), VnetError::bad_packet);
  // NEEDS_CSUM pointing past the packet.
  Output o = data(1, 10);
  auto p = frame(o);
  VnetHeader h;
  h.flags = VnetHeader::needs_csum;
  h.csum_start = static_cast<std::uint16_t>(p.size());
  h.csum_offset = 16;
  std::vector<std::byte> c(VnetHeader::size);
  h.write(c);
  c.insert(c.end(), p.begin(), p.end());
  EXPECT_EQ(err(c), VnetError::bad_csum_offsets);
}
TEST(Splitter, LeavesTheTcpChecksumsWhenAsked) {
  const auto f = kernel_gso(true, 7, 0x18, 5000, 1448);
  Splitter fill, leave;
  std::vector<std::vector<std::byte>> full, left;
  ASSERT_TRUE(fill.split(f, [&](std::span<const std::byte> p) { full.emplace_back(p.begin(), p.end()); }));
  ASSERT_TRUE(leave.split(
      f, [&](std::span<const std::byte> p) { left.emplace_back(p.begin(), p.end()); },
      SegmentChecksums::leave));
  ASSERT_EQ(full.size(), 4u);
  ASSERT_EQ(left.size(), full.size());
  for (std::size_t i = 0; i < left.size(); ++i) {
    const std::span<const std::byte> p(left[i]);
    EXPECT_EQ(internet_checksum(p.first(20)), 0) << "the IP header's checksum is still done";
    EXPECT_EQ(be16(p, 36), be16(f, VnetHeader::size + 36))
        << "the super-segment's (partial) field, as it was";
    auto a = full[i], b = left[i];
    put16(a, 36, 0);
    put16(b, 36, 0);
    EXPECT_EQ(a, b) << "segment " << i << ": everything else as when filled";
  }
}

TEST(Splitter, KernelCheckedMeansDataValidOrNeedsCsum) {
  VnetHeader h;
  EXPECT_FALSE(kernel_checked(h));
  h.flags = VnetHeader::data_valid;
  EXPECT_TRUE(kernel_checked(h));
  h.flags = VnetHeader::needs_csum;
  EXPECT_TRUE(kernel_checked(h));
  h.flags = 0x04;  // VIRTIO_NET_HDR_F_RSC_INFO: says nothing of the checksum
  EXPECT_FALSE(kernel_checked(h));
}

// ---- through the C ABI: two hosts, super-segments on the wire ----

// A SYN whose TCP checksum is wrong, behind a header with `flags`: the host's core drops it
// as bad_checksum unless the kernel vouched for it (DATA_VALID), and then it answers it.
TEST(VnetHosts, TrustsTheKernelsChecksumVerdictOnly) {
  for (std::uint8_t flags : {std::uint8_t{0}, VnetHeader::data_valid}) {
    test::Net net;
    const int ls = utcp_socket(net.a, AF_INET, SOCK_STREAM, 0);
    socklen_t len = 0;
    auto addr = net.addr_a(5000, &len);
    ASSERT_EQ(utcp_bind(net.a, ls, reinterpret_cast<sockaddr*>(&addr), len), 0);
    ASSERT_EQ(utcp_listen(net.a, ls, 4), 0);
    Output o{v4b, v4a, {}};
    o.segment.src_port = 40000;
    o.segment.dst_port = 5000;
    o.segment.seq = Seq(1);
    o.segment.flag = Segment::Flag::syn;
    o.segment.window = 1000;
    std::vector<std::byte> p = frame(o);
    put16(p, 36, static_cast<std::uint16_t>(be16(p, 36) ^ 0x0101));
    VnetHeader h;
    h.flags = flags;
    std::vector<std::byte> f(VnetHeader::size);
    h.write(f);
    f.insert(f.end(), p.begin(), p.end());
    EXPECT_EQ(utcp_host_input_vnet(net.a, f.data(), f.size()), 1);
    char counters[4096];
    const ssize_t n = utcp_host_tcp_counters(net.a, counters, sizeof counters);
    ASSERT_GT(n, 0);
    const std::string text(counters, static_cast<std::size_t>(n));
    unsigned char out[2048];
    const ssize_t synack = utcp_host_output(net.a, out, sizeof out);
    if (flags == 0) {
      EXPECT_NE(text.find("decode_error.bad_checksum 1"), std::string::npos) << text;
      EXPECT_EQ(synack, -1);
    } else {
      EXPECT_EQ(text.find("bad_checksum"), std::string::npos) << text;
      ASSERT_GT(synack, 40);
      EXPECT_EQ(out[33] & 0x12u, 0x12u) << "a SYN-ACK";
    }
  }
}

// A connection from net.a to net.b's port 5000, both ends non-blocking: c on a, s (accepted)
// on b.
void connect_pair(test::Net& net, int& c, int& s) {
  const int ls = utcp_socket(net.b, AF_INET, SOCK_STREAM, 0);
  socklen_t len = 0;
  auto addr = net.addr_b(5000, &len);
  ASSERT_EQ(utcp_bind(net.b, ls, reinterpret_cast<sockaddr*>(&addr), len), 0);
  ASSERT_EQ(utcp_listen(net.b, ls, 4), 0);
  utcp_fcntl(net.b, ls, F_SETFL, O_NONBLOCK);
  c = utcp_socket(net.a, AF_INET, SOCK_STREAM, 0);
  utcp_fcntl(net.a, c, F_SETFL, O_NONBLOCK);
  utcp_connect(net.a, c, reinterpret_cast<sockaddr*>(&addr), len);
  net.run_for(10 * test::ms);
  s = utcp_accept(net.b, ls, nullptr, nullptr);
  ASSERT_GE(s, 0);
  utcp_fcntl(net.b, s, F_SETFL, O_NONBLOCK);
}

TEST(VnetHosts, TransferUsesSuperSegmentsAndDeliversEveryByte) {
  test::Net net;
  net.vnet = true;
  int c = -1, s = -1;
  ASSERT_NO_FATAL_FAILURE(connect_pair(net, c, s));

  const auto data = bytes_for(0, 1 << 20);
  std::vector<std::byte> got;
  std::size_t sent = 0;
  std::vector<std::byte> buf(1 << 16);
  for (int round = 0; round < 10000 && got.size() < data.size(); ++round) {
    if (sent < data.size()) {
      const ssize_t w = utcp_send(net.a, c, data.data() + sent, data.size() - sent, 0);
      if (w > 0) sent += static_cast<std::size_t>(w);
    }
    net.run_for(test::ms);
    for (ssize_t r; (r = utcp_recv(net.b, s, buf.data(), buf.size(), 0)) > 0;)
      got.insert(got.end(), buf.begin(), buf.begin() + r);
  }
  ASSERT_EQ(got.size(), data.size());
  EXPECT_TRUE(got == data);
  utcp_host_stats sa{}, sb{};
  utcp_host_get_stats(net.a, &sa);
  utcp_host_get_stats(net.b, &sb);
  EXPECT_GT(sa.gso_out, 0u);
  EXPECT_EQ(sa.gso_out, sb.gso_in);
  EXPECT_EQ(sa.gso_segments_out, sb.gso_segments_in);
  EXPECT_GT(sa.gso_segments_out, 2 * sa.gso_out);  // more than two segments per packet on average
  EXPECT_EQ(sb.vnet_errors, 0u);
  EXPECT_EQ(sb.tcp_drops, 0u);
  // The receiver saw every segment one by one: as many TCP segments in as the sender sent.
  EXPECT_EQ(sb.tcp_segments_in, sa.tcp_segments_out);
}

// Host::take_output_runs hands over what utcp_host_output_vnet frames one call at a time: two
// hosts seeded alike send 1 MB (timestamps and SACK on: payloads from the send queue's blocks)
// over a wire the test moves by hand; one sender drained by output_vnet, the other by
// take_output_runs framed from the headers and the payloads where they lie (frame_super_into
// for single segments). Every frame is the same, in the same order.
TEST(VnetHosts, TakenRunsAreTheFramesOutputVnetWrites) {
  std::vector<std::vector<std::byte>> frames[2];
  utcp_host_stats stats[2]{};
  for (int k = 0; k < 2; ++k) {
    test::Net net("10.0.0.1", "10.0.0.2", 7, 0, 0);
    net.vnet = true;
    int c = -1, s = -1;
    ASSERT_NO_FATAL_FAILURE(connect_pair(net, c, s));

    const auto data = bytes_for(0, 1 << 20);
    std::size_t sent = 0, got = 0;
    std::vector<std::byte> buf(UTCP_VNET_FRAME_MAX);
    std::vector<Output> outs;
    std::vector<std::uint32_t> runs;
    for (int round = 0; round < 2000 && got < data.size(); ++round) {
      if (sent < data.size()) {
        const ssize_t w = utcp_send(net.a, c, data.data() + sent, data.size() - sent, 0);
        if (w > 0) sent += static_cast<std::size_t>(w);
      }
      std::vector<std::vector<std::byte>> out;
      if (k == 0) {
        for (ssize_t n; (n = utcp_host_output_vnet(net.a, buf.data(), buf.size())) >= 0;)
          out.emplace_back(buf.begin(), buf.begin() + n);
      } else {
        outs.clear();
        runs.clear();
        const std::size_t taken = unwrap(net.a).take_output_runs(outs, runs);
        EXPECT_EQ(taken, outs.size());
        std::span<const Output> rest(outs);
        for (const std::uint32_t n : runs) {
          const auto r = rest.first(n);
          out.push_back(n > 1 ? gathered(r) : super(r));
          rest = rest.subspan(n);
        }
        EXPECT_TRUE(rest.empty());
        EXPECT_EQ(unwrap(net.a).take_output_runs(outs, runs), 0u);  // nothing left
      }
      for (const auto& f : out) utcp_host_input_vnet(net.b, f.data(), f.size());
      frames[k].insert(frames[k].end(), out.begin(), out.end());
      for (ssize_t r; (r = utcp_recv(net.b, s, buf.data(), buf.size(), 0)) > 0;)
        got += static_cast<std::size_t>(r);
      for (ssize_t n; (n = utcp_host_output_vnet(net.b, buf.data(), buf.size())) >= 0;)
        utcp_host_input_vnet(net.a, buf.data(), static_cast<std::size_t>(n));
      net.set_time(net.now() + test::ms / 10);
    }
    EXPECT_EQ(got, data.size());
    utcp_host_get_stats(net.a, &stats[k]);
  }
  EXPECT_GT(stats[0].gso_out, 10u);
  EXPECT_GT(stats[0].gso_segments_out, 500u);
  ASSERT_EQ(frames[1].size(), frames[0].size());
  for (std::size_t i = 0; i < frames[0].size(); ++i) ASSERT_EQ(frames[1][i], frames[0][i]) << "frame " << i;
  EXPECT_EQ(stats[1].gso_out, stats[0].gso_out);
  EXPECT_EQ(stats[1].gso_segments_out, stats[0].gso_segments_out);
}

TEST(VnetHosts, MalformedFramesAreCountedAndRefused) {
  test::Net net;
  const unsigned char junk[12] = {0, 3, 0, 0, 100, 0};  // gso_type UDP
  errno = 0;
  EXPECT_EQ(utcp_host_input_vnet(net.a, junk, sizeof junk), -1);
  EXPECT_EQ(errno, EINVAL);
  EXPECT_EQ(utcp_host_input_vnet(net.a, junk, 4), -1);
  utcp_host_stats st{};
  utcp_host_get_stats(net.a, &st);
  EXPECT_EQ(st.vnet_errors, 2u);
  EXPECT_EQ(st.ip_in, 0u);
  // Nothing queued: EAGAIN; a buffer that cannot hold the header: EMSGSIZE once something is.
  unsigned char out[64];
  EXPECT_EQ(utcp_host_output_vnet(net.a, out, sizeof out), -1);
  EXPECT_EQ(errno, EAGAIN);
}

}  // namespace
}  // namespace utcp::host
