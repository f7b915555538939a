// Segment::decode on bad input: every truncation, every malformed option shape, bad flags,
// bad checksums; and that it neither writes to nor reads past its input.
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <source_location>
#include <sstream>

#include "utcp/checksum.hpp"
#include "utcp/segment.hpp"
#include "wire_vectors.hpp"

namespace utcp {
namespace {

using namespace test;

const IpAddr kSrc = IpAddr::v4(192, 0, 2, 1), kDst = IpAddr::v4(192, 0, 2, 2);

// A segment 192.0.2.1:1000 -> 192.0.2.2:2000 with the given option area (a multiple of 4
// bytes), flags byte and payload, its checksum right.
std::vector<std::byte> build(const std::vector<std::byte>& options, std::uint8_t flags = 0x10,
                             std::string_view payload = "") {
  std::vector<std::byte> b =
      bytes({0x03, 0xe8, 0x07, 0xd0, 0, 0, 0, 1, 0, 0, 0, 2, 0, flags, 0x10, 0x00, 0, 0, 0, 0});
  b[12] = static_cast<std::byte>(((20 + options.size()) / 4) << 4);
  b.insert(b.end(), options.begin(), options.end());
  for (char c : payload) b.push_back(static_cast<std::byte>(c));
  const std::uint16_t sum = tcp_checksum(kSrc, kDst, b);
  b[16] = static_cast<std::byte>(sum >> 8);
  b[17] = static_cast<std::byte>(sum & 0xff);
  return b;
}

void expect_error(const std::vector<std::byte>& seg, DecodeError want,
                  std::source_location loc = std::source_location::current()) {
  SCOPED_TRACE(testing::Message() << "from line " << loc.line());
  auto r = decode_prefix(kSrc, kDst, seg, seg.size());
  ASSERT_FALSE(r.has_value()) << r->first;
  EXPECT_EQ(r.error().decode, want) << r.error();
  EXPECT_EQ(r.error().kind, Error::Kind::msg);
}

TcpOptions options_of(const std::vector<std::byte>& seg,
                                  std::source_location loc = std::source_location::current()) {
  SCOPED_TRACE(testing::Message() << "from line " << loc.line());
  auto r = decode_prefix(kSrc, kDst, seg, seg.size());
  EXPECT_TRUE(r.has_value()) << r.error();
  return r ? r->first.options : TcpOptions{};
}

TEST(WireDecodeErrors, EveryTruncationPointHasItsReason) {
  for (const Vector& v : kVectors) {
    const auto& seg = *v.bytes;
    const std::size_t header = 4 * (std::to_integer<std::size_t>(seg[12]) >> 4);
    for (std::size_t n = 0; n < seg.size(); ++n) {
      auto r = decode_prefix(v.src, v.dst, seg, n);
      ASSERT_FALSE(r.has_value()) << v.name << " cut at " << n;
      const DecodeError want = n < 20       ? DecodeError::truncated_header
                               : n < header ? DecodeError::data_offset_past_end
                                            : DecodeError::bad_checksum;
      EXPECT_EQ(r.error().decode, want) << v.name << " cut at " << n;
    }
    EXPECT_TRUE(decode_prefix(v.src, v.dst, seg, seg.size()).has_value()) << v.name;
  }
}

TEST(WireDecodeErrors, DataOffsetBelowFive) {
  for (std::uint8_t off = 0; off < 5; ++off) {
    auto seg = build({});
    seg[12] = static_cast<std::byte>(off << 4);
    expect_error(seg, DecodeError::bad_data_offset);
  }
}

TEST(WireDecodeErrors, DataOffsetUpToFifteenIsFine) {
  std::vector<std::byte> forty(40, std::byte{1});  // 40 NOPs: offset 15
  auto seg = build(forty, 0x10, "x");
  EXPECT_EQ(seg[12], std::byte{0xf0});
  EXPECT_TRUE(options_of(seg).empty());
}

TEST(WireDecodeErrors, OptionLengthMissing) {
  expect_error(build(bytes({1, 1, 1, 2})), DecodeError::option_length_missing);
  expect_error(build(bytes({1, 1, 1, 99})), DecodeError::option_length_missing);
  expect_error(build(bytes({2, 4, 5, 0xb4, 1, 1, 1, 8})), DecodeError::option_length_missing);
}

TEST(WireDecodeErrors, OptionLengthBelowTwo) {
  expect_error(build(bytes({2, 0, 0, 0})), DecodeError::option_length_short);
  expect_error(build(bytes({2, 1, 0, 0})), DecodeError::option_length_short);
  expect_error(build(bytes({99, 1, 0, 0})), DecodeError::option_length_short);
  expect_error(build(bytes({1, 1, 8, 0})), DecodeError::option_length_short);
}

TEST(WireDecodeErrors, OptionPastTheHeader) {
  expect_error(build(bytes({2, 5, 0, 0})), DecodeError::option_past_header);
  expect_error(build(bytes({1, 8, 10, 0, 0, 0, 1, 0})), DecodeError::option_past_header);
  expect_error(build(bytes({99, 255, 0, 0})), DecodeError::option_past_header);
  // Past the header even though the payload would hold it.
  expect_error(build(bytes({8, 10, 0, 0}), 0x10, "abcdefgh"), DecodeError::option_past_header);
  // SACK with five blocks cannot fit in 40 bytes.
  std::vector<std::byte> five = bytes({5, 42});
  five.resize(40);
  expect_error(build(five), DecodeError::option_past_header);
}

TEST(WireDecodeErrors, KnownKindsWithTheWrongLengthAreKeptAsUnknown) {
  using U = UnknownOption;
  using V = TcpOptions;
  EXPECT_EQ(options_of(build(bytes({2, 3, 5, 1}))), (V{U{2, bytes({5})}}));
  EXPECT_EQ(options_of(build(bytes({2, 2, 1, 1}))), (V{U{2, {}}}));
  EXPECT_EQ(options_of(build(bytes({2, 6, 0, 1, 2, 3, 1, 1}))), (V{U{2, bytes({0, 1, 2, 3})}}));
  EXPECT_EQ(options_of(build(bytes({3, 2, 1, 1}))), (V{U{3, {}}}));
  EXPECT_EQ(options_of(build(bytes({3, 4, 7, 7}))), (V{U{3, bytes({7, 7})}}));
  EXPECT_EQ(options_of(build(bytes({4, 3, 9, 1}))), (V{U{4, bytes({9})}}));
  EXPECT_EQ(options_of(build(bytes({4, 4, 0, 0}))), (V{U{4, bytes({0, 0})}}));
  EXPECT_EQ(options_of(build(bytes({5, 2, 1, 1}))), (V{U{5, {}}}));
  EXPECT_EQ(options_of(build(bytes({5, 9, 1, 2, 3, 4, 5, 6, 7, 1, 1, 1}))),
            (V{U{5, bytes({1, 2, 3, 4, 5, 6, 7})}}));
  EXPECT_EQ(options_of(build(bytes({5, 11, 1, 2, 3, 4, 5, 6, 7, 8, 9, 1}))),
            (V{U{5, bytes({1, 2, 3, 4, 5, 6, 7, 8, 9})}}));
  EXPECT_EQ(options_of(build(bytes({8, 8, 0, 0, 0, 1, 0, 2}))), (V{U{8, bytes({0, 0, 0, 1, 0, 2})}}));
  EXPECT_EQ(options_of(build(bytes({8, 12, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0}))),
            (V{U{8, bytes({0, 0, 0, 1, 0, 0, 0, 2, 0, 0})}}));
  // Parsing goes on after one.
  EXPECT_EQ(options_of(build(bytes({2, 3, 5, 3, 3, 7, 1, 1}))), (V{U{2, bytes({5})}, WindowScale{7}}));
}

TEST(WireDecodeErrors, WellFormedShapesOfEachKind) {
  using V = TcpOptions;
  EXPECT_EQ(options_of(build(bytes({2, 4, 0xff, 0xff}))), (V{Mss{65535}}));
  EXPECT_EQ(options_of(build(bytes({3, 3, 14, 0}))), (V{WindowScale{14}}));
  EXPECT_EQ(options_of(build(bytes({4, 2, 1, 1}))), (V{SackPermitted{}}));
  EXPECT_EQ(options_of(build(bytes({8, 10, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1, 0, 0}))),
            (V{Timestamps{0xffff'ffff, 1}}));
  for (std::uint8_t n = 1; n <= 4; ++n) {
    std::vector<std::byte> area = bytes({1, 1, 5, static_cast<std::uint8_t>(2 + 8 * n)});
    Sack want;
    for (std::uint8_t k = 0; k < n; ++k) {
      for (auto x : {0, 0, 0, 2 * k + 1, 0, 0, 0, 2 * k + 2}) area.push_back(static_cast<std::byte>(x));
      want.blocks.emplace_back(Seq(2u * k + 1), Seq(2u * k + 2));
    }
    EXPECT_EQ(options_of(build(area)), (V{want})) << int{n};
  }
  EXPECT_EQ(options_of(build(bytes({254, 4, 0xab, 0xcd}))), (V{UnknownOption{254, bytes({0xab, 0xcd})}}));
  EXPECT_EQ(options_of(build(bytes({6, 2, 1, 1}))), (V{UnknownOption{6, {}}}));
}

TEST(WireDecodeErrors, EndOfOptionListEndsParsing) {
  using V = TcpOptions;
  EXPECT_EQ(options_of(build(bytes({0, 2, 0xff, 0xff}))), V{});
  EXPECT_EQ(options_of(build(bytes({0, 0, 0, 0}))), V{});
  EXPECT_EQ(options_of(build(bytes({0, 1, 0, 0}))), V{});  // would be "length short" if parsed
  EXPECT_EQ(options_of(build(bytes({2, 4, 5, 0xb4, 0, 99, 99, 99}))), (V{Mss{1460}}));
  EXPECT_EQ(options_of(build(bytes({1, 1, 1, 0}))), V{});
  EXPECT_EQ(options_of(build(bytes({1, 1, 1, 1}))), V{});
}

TEST(WireDecodeErrors, SynWithFinOrRst) {
  expect_error(build({}, 0x03), DecodeError::syn_and_fin);
  expect_error(build({}, 0x13), DecodeError::syn_and_fin);
  expect_error(build({}, 0x07), DecodeError::syn_and_fin);
  expect_error(build({}, 0x06), DecodeError::syn_and_rst);
  expect_error(build({}, 0x16), DecodeError::syn_and_rst);
}

TEST(WireDecodeErrors, FinWithRstIsRst) {
  auto r = decode_prefix(kSrc, kDst, build({}, 0x05), 20);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->first.flag, Segment::Flag::rst);
  EXPECT_FALSE(r->first.ack.has_value());
  r = decode_prefix(kSrc, kDst, build({}, 0x15), 20);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->first.flag, Segment::Flag::rst);
  EXPECT_EQ(r->first.ack, Seq(2));
}

TEST(WireDecodeErrors, UrgentEcnAndReservedBitsAreIgnored) {
  auto plain = decode_prefix(kSrc, kDst, build({}, 0x18, "hi"), 22);
  ASSERT_TRUE(plain.has_value());
  for (std::uint8_t extra : {0x20, 0x40, 0x80, 0xe0}) {
    auto r = decode_prefix(kSrc, kDst, build({}, static_cast<std::uint8_t>(0x18 | extra), "hi"), 22);
    ASSERT_TRUE(r.has_value()) << int{extra};
    EXPECT_EQ(r->first, plain->first) << int{extra};
  }
  // Reserved bits and the urgent pointer: changed, checksum redone.
  auto seg = build({}, 0x18, "hi");
  seg[12] |= std::byte{0x0f};
  seg[18] = std::byte{0x12};
  seg[19] = std::byte{0x34};
  seg[16] = seg[17] = std::byte{0};
  const std::uint16_t sum = tcp_checksum(kSrc, kDst, seg);
  seg[16] = static_cast<std::byte>(sum >> 8);
  seg[17] = static_cast<std::byte>(sum & 0xff);
  auto r = decode_prefix(kSrc, kDst, seg, seg.size());
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->first, plain->first);
}

TEST(WireDecodeErrors, AckFieldOnlyWithTheAckBit) {
  auto with = decode_prefix(kSrc, kDst, build({}, 0x10), 20);
  ASSERT_TRUE(with.has_value());
  EXPECT_EQ(with->first.ack, Seq(2));
  auto without = decode_prefix(kSrc, kDst, build({}, 0x00), 20);
  ASSERT_TRUE(without.has_value());
  EXPECT_FALSE(without->first.ack.has_value());  // the field holds 2, ignored
}

TEST(WireDecodeErrors, EveryBitFlipIsCaught) {
  for (const Vector& v : kVectors) {
    for (std::size_t i = 0; i < v.bytes->size(); ++i) {
      for (int bit = 0; bit < 8; ++bit) {
        auto seg = *v.bytes;
        seg[i] ^= static_cast<std::byte>(1 << bit);
        auto r = decode_prefix(v.src, v.dst, seg, seg.size());
        ASSERT_FALSE(r.has_value()) << v.name << " byte " << i << " bit " << bit;
        if (i < 20 && i != 12 && i != 13) {  // offset and flags fail their own checks first
          EXPECT_EQ(r.error().decode, DecodeError::bad_checksum) << v.name << " byte " << i << " bit " << bit;
        }
      }
    }
  }
}

TEST(WireDecodeErrors, AddressFamiliesMustMatch) {
  auto r = decode_prefix(kClient4, kServer6, kSyn4, kSyn4.size());
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().decode, DecodeError::address_family_mismatch);
  r = decode_prefix(kClient6, kServer4, kSyn6, kSyn6.size());
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().decode, DecodeError::address_family_mismatch);
  // A v4 segment checked as v6 fails its checksum.
  r = decode_prefix(kClient6, kServer6, kSyn4, kSyn4.size());
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().decode, DecodeError::bad_checksum);
}

TEST(WireDecodeErrors, ErrorsNameTheirReason) {
  std::ostringstream os;
  os << DecodeError::option_past_header << ' ' << Error::from(DecodeError::bad_checksum);
  EXPECT_EQ(os.str(), "option_past_header msg: bad_checksum");
  EXPECT_EQ(to_string(DecodeError::none), "none");
  EXPECT_LT(static_cast<int>(DecodeError::address_family_mismatch), 16);
}

// The input sits at the very end of a read-only page followed by an inaccessible one: a
// write, or a read one byte past the end, faults.
class GuardedBuffer {
 public:
  GuardedBuffer() : page_(static_cast<std::size_t>(sysconf(_SC_PAGESIZE))) {
    mem_ = static_cast<std::byte*>(
        mmap(nullptr, 2 * page_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    EXPECT_NE(mem_, MAP_FAILED);
    EXPECT_EQ(mprotect(mem_ + page_, page_, PROT_NONE), 0);
  }
  ~GuardedBuffer() { munmap(mem_, 2 * page_); }
  std::span<const std::byte> place(std::span<const std::byte> src) {
    EXPECT_EQ(mprotect(mem_, page_, PROT_READ | PROT_WRITE), 0);
    std::byte* at = mem_ + page_ - src.size();
    if (!src.empty()) std::memcpy(at, src.data(), src.size());
    EXPECT_EQ(mprotect(mem_, page_, PROT_READ), 0);
    return {at, src.size()};
  }

 private:
  std::size_t page_;
  std::byte* mem_ = nullptr;
};

TEST(WireDecodeErrors, NeverWritesToOrReadsPastItsInput) {
  GuardedBuffer guard;
  std::vector<std::vector<std::byte>> inputs;
  for (const Vector& v : kVectors) inputs.push_back(*v.bytes);
  inputs.push_back(build(bytes({1, 1, 1, 2})));
  inputs.push_back(build(bytes({2, 8, 0, 0})));
  inputs.push_back(build(std::vector<std::byte>(40, std::byte{1})));
  for (const auto& in : inputs) {
    for (std::size_t n = 0; n <= in.size(); ++n) {
      auto span = guard.place(std::span(in).first(n));
      const auto r4 = Segment::decode(kSrc, kDst, span);
      const auto r6 = Segment::decode(kClient6, kServer6, span);
      EXPECT_TRUE(std::equal(span.begin(), span.end(), in.begin()));
      (void)r4;
      (void)r6;
    }
  }
}

}  // namespace
}  // namespace utcp
