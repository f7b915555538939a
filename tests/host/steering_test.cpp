// The TUN steering program (io/steering.hpp): its outbound key without a kernel, and the
// program itself run by the kernel on hand-built packets (BPF_PROG_TEST_RUN), which is the
// same code the device runs. The kernel tests skip where bpf(2) is refused (not root, no
// CAP_BPF).
#include "steering.hpp"

#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <map>
#include <optional>
#include <vector>

namespace utcp::io {
namespace {

constexpr std::uint8_t kSyn = 0x02, kAck = 0x10, kPsh = 0x08;

void put16(std::vector<std::byte>& p, std::size_t at, std::uint32_t v) {
  p[at] = std::byte(v >> 8);
  p[at + 1] = std::byte(v);
}
void put32(std::vector<std::byte>& p, std::size_t at, std::uint32_t v) {
  put16(p, at, v >> 16);
  put16(p, at + 2, v);
}

// An IPv4 TCP segment from `src` to `dst` (host-order addresses) with `payload` bytes.
std::vector<std::byte> tcp4(std::uint32_t src, std::uint16_t sport, std::uint32_t dst, std::uint16_t dport,
                            std::uint8_t flags, std::size_t payload = 0) {
  std::vector<std::byte> p(40 + payload);
  p[0] = std::byte{0x45};
  put16(p, 2, static_cast<std::uint32_t>(p.size()));
  p[6] = std::byte{0x40};  // DF
  p[8] = std::byte{64};
  p[9] = std::byte{6};
  put32(p, 12, src);
  put32(p, 16, dst);
  put16(p, 20, sport);
  put16(p, 22, dport);
  p[32] = std::byte{0x50};
  p[33] = std::byte{flags};
  return p;
}

using Addr6 = std::array<std::uint32_t, 4>;
std::vector<std::byte> tcp6(const Addr6& src, std::uint16_t sport, const Addr6& dst, std::uint16_t dport,
                            std::uint8_t flags, std::size_t payload = 0) {
  std::vector<std::byte> p(60 + payload);
  p[0] = std::byte{0x60};
  put16(p, 4, static_cast<std::uint32_t>(20 + payload));
  p[6] = std::byte{6};
  p[7] = std::byte{64};
  for (std::size_t w = 0; w < 4; ++w) {
    put32(p, 8 + 4 * w, src[w]);
    put32(p, 24 + 4 * w, dst[w]);
  }
  put16(p, 40, sport);
  put16(p, 42, dport);
  p[52] = std::byte{0x50};
  p[53] = std::byte{flags};
  return p;
}

// ICMP fragmentation needed from a router, quoting `quoted` (a packet we sent).
std::vector<std::byte> icmp4_frag_needed(std::uint32_t router, std::uint32_t us,
                                         const std::vector<std::byte>& quoted) {
  std::vector<std::byte> p(20 + 8 + 28);
  p[0] = std::byte{0x45};
  put16(p, 2, static_cast<std::uint32_t>(p.size()));
  p[8] = std::byte{64};
  p[9] = std::byte{1};
  put32(p, 12, router);
  put32(p, 16, us);
  p[20] = std::byte{3};
  p[21] = std::byte{4};
  put16(p, 26, 1400);
  std::memcpy(p.data() + 28, quoted.data(), 28);
  return p;
}

std::vector<std::byte> icmp6_too_big(const Addr6& router, const Addr6& us,
                                     const std::vector<std::byte>& quoted) {
  std::vector<std::byte> p(40 + 8 + 60);
  p[0] = std::byte{0x60};
  put16(p, 4, 8 + 60);
  p[6] = std::byte{58};
  p[7] = std::byte{64};
  for (std::size_t w = 0; w < 4; ++w) {
    put32(p, 8 + 4 * w, router[w]);
    put32(p, 24 + 4 * w, us[w]);
  }
  p[40] = std::byte{2};
  put32(p, 44, 1280);
  std::memcpy(p.data() + 48, quoted.data(), 60);
  return p;
}

constexpr std::uint32_t kUs = 0x0a4d0002;    // 10.77.0.2, utcp
constexpr std::uint32_t kPeer = 0x0a4d0001;  // 10.77.0.1, Linux
constexpr Addr6 kUs6{0xfd000077, 0, 0, 2};
constexpr Addr6 kPeer6{0xfd000077, 0, 0, 1};

TEST(SteeringKey, OutboundSynOnly) {
  auto key = outbound_syn_key(tcp4(kUs, 40000, kPeer, 80, kSyn));
  ASSERT_TRUE(key.has_value());
  EXPECT_EQ(key->addr[0], kPeer);
  EXPECT_EQ(key->addr[1] | key->addr[2] | key->addr[3], 0u);
  EXPECT_EQ(key->ports, (80u << 16) | 40000u);  // the peer's port first, as inbound packets have it
  EXPECT_FALSE(outbound_syn_key(tcp4(kUs, 40000, kPeer, 80, kSyn | kAck)));
  EXPECT_FALSE(outbound_syn_key(tcp4(kUs, 40000, kPeer, 80, kAck)));
  auto v6 = outbound_syn_key(tcp6(kUs6, 40000, kPeer6, 443, kSyn));
  ASSERT_TRUE(v6.has_value());
  EXPECT_EQ(v6->addr[0], kPeer6[0]);
  EXPECT_EQ(v6->addr[3], kPeer6[3]);
  EXPECT_EQ(v6->ports, (443u << 16) | 40000u);
  // Cut anywhere before the flags: no key, no read past the end.
  const auto whole = tcp4(kUs, 40000, kPeer, 80, kSyn);
  for (std::size_t n = 0; n < 34; ++n) EXPECT_FALSE(outbound_syn_key(std::span(whole).first(n))) << n;
  auto udp = whole;
  udp[9] = std::byte{17};
  EXPECT_FALSE(outbound_syn_key(udp));
}

TEST(SteeringProgram, JumpsLandInsideAndTheMapsArePatchedIn) {
  const auto code = steering_program(7, 9, 2);
  ASSERT_FALSE(code.empty());
  EXPECT_EQ(code.back().code, BPF_JMP | BPF_EXIT);
  int maps7 = 0, maps9 = 0;
  for (std::size_t i = 0; i < code.size(); ++i) {
    const bpf_insn& in = code[i];
    if (in.code == (BPF_LD | BPF_DW | BPF_IMM)) {
      EXPECT_EQ(in.src_reg, BPF_PSEUDO_MAP_FD);
      (in.imm == 7 ? maps7 : maps9) += 1;
      ++i;  // the second half of the 16-byte instruction
      continue;
    }
    if (BPF_CLASS(in.code) == BPF_JMP && BPF_OP(in.code) != BPF_CALL && BPF_OP(in.code) != BPF_EXIT) {
      const long target = static_cast<long>(i) + 1 + in.off;
      EXPECT_GT(target, static_cast<long>(i)) << "instruction " << i << " jumps back";
      EXPECT_LT(target, static_cast<long>(code.size())) << "instruction " << i;
    }
  }
  EXPECT_EQ(maps7, 2);  // lookup and update of the flow table
  EXPECT_EQ(maps9, 1);  // the turn counter
}

// The loaded program, run by the kernel.
class Kernel : public ::testing::Test {
 protected:
  void load(std::uint32_t queues) {
    auto s = TunSteering::load(queues);
    if (!s) GTEST_SKIP() << s.error().message;
    steering_.emplace(std::move(*s));
  }
  // The program's return value for `packet` (an Ethernet header in front, as the test run
  // wants; the kernel strips it, so the program sees the IP header first, as on the device).
  std::uint32_t run(const std::vector<std::byte>& packet) {
    std::vector<std::byte> frame(14);
    frame[12] = std::byte{0x08};
    if (!packet.empty() && (std::to_integer<unsigned>(packet[0]) >> 4) == 6) {
      frame[12] = std::byte{0x86};
      frame[13] = std::byte{0xdd};
    }
    frame.insert(frame.end(), packet.begin(), packet.end());
    bpf_attr attr{};
    attr.test.prog_fd = static_cast<std::uint32_t>(steering_->program_fd());
    attr.test.data_in = reinterpret_cast<std::uint64_t>(frame.data());
    attr.test.data_size_in = static_cast<std::uint32_t>(frame.size());
    attr.test.repeat = 1;
    EXPECT_EQ(syscall(__NR_bpf, BPF_PROG_TEST_RUN, &attr, sizeof attr), 0) << std::strerror(errno);
    return attr.test.retval;
  }
  std::optional<TunSteering> steering_;
};

TEST_F(Kernel, NewConnectionsTakeTurnsAndEveryPacketFollowsItsSyn) {
  load(2);
  if (!steering_) return;
  std::map<std::uint32_t, int> per_queue;
  std::vector<std::uint32_t> queue_of;
  for (std::uint16_t i = 0; i < 16; ++i) {
    // Ports as Linux hands them out: even ones, a random-looking step.
    const std::uint16_t port = static_cast<std::uint16_t>(40000 + 2 * (i * 7 % 16));
    const std::uint32_t q = run(tcp4(kPeer, port, kUs, 80, kSyn));
    EXPECT_LT(q, 2u);
    queue_of.push_back(q);
    ++per_queue[q];
    if (i > 0) {
      EXPECT_NE(q, queue_of[i - 1u]) << "connection " << i;
    }
  }
  EXPECT_EQ(per_queue[0], 8);
  EXPECT_EQ(per_queue[1], 8);
  for (std::uint16_t i = 0; i < 16; ++i) {
    const std::uint16_t port = static_cast<std::uint16_t>(40000 + 2 * (i * 7 % 16));
    EXPECT_EQ(run(tcp4(kPeer, port, kUs, 80, kSyn)), queue_of[i]) << "a retransmitted SYN moved";
    EXPECT_EQ(run(tcp4(kPeer, port, kUs, 80, kAck)), queue_of[i]);
    EXPECT_EQ(run(tcp4(kPeer, port, kUs, 80, kAck | kPsh, 100)), queue_of[i]);
    // An ICMP error about a segment we sent on this flow goes to the same shard.
    EXPECT_EQ(run(icmp4_frag_needed(0x0a4d00fe, kUs, tcp4(kUs, 80, kPeer, port, kAck, 1460))), queue_of[i]);
    EXPECT_EQ(steering_->lookup(*outbound_syn_key(tcp4(kUs, 80, kPeer, port, kSyn))), queue_of[i]);
  }
}

TEST_F(Kernel, ThreeQueuesShareNineConnections) {
  load(3);
  if (!steering_) return;
  std::map<std::uint32_t, int> per_queue;
  for (std::uint16_t i = 0; i < 9; ++i) ++per_queue[run(tcp4(kPeer + i, 50000, kUs, 80, kSyn))];
  EXPECT_EQ(per_queue[0], 3);
  EXPECT_EQ(per_queue[1], 3);
  EXPECT_EQ(per_queue[2], 3);
}

TEST_F(Kernel, Ipv6AndIcmpv6) {
  load(2);
  if (!steering_) return;
  std::vector<std::uint32_t> queue_of;
  for (std::uint16_t i = 0; i < 4; ++i) queue_of.push_back(run(tcp6(kPeer6, 41000 + i, kUs6, 80, kSyn)));
  EXPECT_EQ(queue_of,
            (std::vector<std::uint32_t>{queue_of[0], 1 - queue_of[0], queue_of[0], 1 - queue_of[0]}));
  for (std::uint16_t i = 0; i < 4; ++i) {
    EXPECT_EQ(run(tcp6(kPeer6, 41000 + i, kUs6, 80, kAck, 1000)), queue_of[i]);
    EXPECT_EQ(run(icmp6_too_big(Addr6{0xfd000077, 0, 0, 0xfe}, kUs6,
                                tcp6(kUs6, 80, kPeer6, 41000 + i, kAck, 1440))),
              queue_of[i]);
  }
}

TEST_F(Kernel, ConnectionsAShardOpensComeBackToIt) {
  load(2);
  if (!steering_) return;
  for (std::uint32_t q : {1u, 0u, 1u}) {
    const std::uint16_t port = static_cast<std::uint16_t>(50000 + q * 7 + 3);
    steering_->claim_outbound(tcp4(kUs, port, kPeer, 443, kSyn), q);
    EXPECT_EQ(run(tcp4(kPeer, 443, kUs, port, kSyn | kAck)), q);
    EXPECT_EQ(run(tcp4(kPeer, 443, kUs, port, kAck, 500)), q);
  }
  // A SYN-ACK or data are not claims.
  steering_->claim_outbound(tcp4(kUs, 50100, kPeer, 443, kSyn | kAck), 1);
  steering_->claim_outbound(tcp4(kUs, 50101, kPeer, 443, kAck), 1);
  EXPECT_FALSE(steering_->lookup(*outbound_syn_key(tcp4(kUs, 50100, kPeer, 443, kSyn))));
  EXPECT_FALSE(steering_->lookup(*outbound_syn_key(tcp4(kUs, 50101, kPeer, 443, kSyn))));
}

TEST_F(Kernel, StraysHashAndGarbageGoesToQueueZero) {
  load(2);
  if (!steering_) return;
  // Segments of flows the table never saw: one queue per flow, always the same, and no entry.
  std::map<std::uint32_t, int> per_queue;
  for (std::uint16_t i = 0; i < 64; ++i) {
    const auto ack = tcp4(kPeer, static_cast<std::uint16_t>(30000 + i), kUs, 80, kAck);
    const std::uint32_t q = run(ack);
    EXPECT_LT(q, 2u);
    EXPECT_EQ(run(ack), q);
    ++per_queue[q];
    EXPECT_FALSE(steering_->lookup(
        *outbound_syn_key(tcp4(kUs, 80, kPeer, static_cast<std::uint16_t>(30000 + i), kSyn))));
  }
  EXPECT_GT(per_queue[0], 0);  // the hash spreads them
  EXPECT_GT(per_queue[1], 0);
  // Too short for the TCP header, a fragment, UDP, not IP: queue 0.
  auto syn = tcp4(kPeer, 30000, kUs, 80, kSyn);
  EXPECT_EQ(run(std::vector<std::byte>(syn.begin(), syn.begin() + 30)), 0u);
  auto frag = syn;
  frag[7] = std::byte{8};  // offset 64
  EXPECT_EQ(run(frag), 0u);
  auto udp = syn;
  udp[9] = std::byte{17};
  EXPECT_EQ(run(udp), 0u);
  EXPECT_EQ(run(std::vector<std::byte>(40, std::byte{0x20})), 0u);
}

}  // namespace
}  // namespace utcp::io
