#include "steering.hpp"

#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

namespace utcp::io {

namespace {

std::uint32_t load_be32(std::span<const std::byte> p, std::size_t at) {
  return (std::to_integer<std::uint32_t>(p[at]) << 24) | (std::to_integer<std::uint32_t>(p[at + 1]) << 16) |
         (std::to_integer<std::uint32_t>(p[at + 2]) << 8) | std::to_integer<std::uint32_t>(p[at + 3]);
}

// A few lines of assembler: instructions, and jumps to labels resolved at the end.
class Assembler {
 public:
  int label() {
    labels_.push_back(-1);
    return static_cast<int>(labels_.size()) - 1;
  }
  void bind(int l) { labels_[static_cast<std::size_t>(l)] = static_cast<int>(code_.size()); }

  void emit(std::uint8_t code, std::uint8_t dst, std::uint8_t src, std::int16_t off, std::int32_t imm) {
    bpf_insn i{};
    i.code = code;
    i.dst_reg = dst & 0xf;
    i.src_reg = src & 0xf;
    i.off = off;
    i.imm = imm;
    code_.push_back(i);
  }
  // dst = src (64 bits); dst = imm; 32-bit ALU with an immediate or a register.
  void mov(std::uint8_t dst, std::uint8_t src) { emit(BPF_ALU64 | BPF_MOV | BPF_X, dst, src, 0, 0); }
  void mov_imm(std::uint8_t dst, std::int32_t imm) { emit(BPF_ALU64 | BPF_MOV | BPF_K, dst, 0, 0, imm); }
  void add64_imm(std::uint8_t dst, std::int32_t imm) { emit(BPF_ALU64 | BPF_ADD | BPF_K, dst, 0, 0, imm); }
  void alu32_imm(std::uint8_t op, std::uint8_t dst, std::int32_t imm) {
    emit(BPF_ALU | op | BPF_K, dst, 0, 0, imm);
  }
  void alu32(std::uint8_t op, std::uint8_t dst, std::uint8_t src) {
    emit(BPF_ALU | op | BPF_X, dst, src, 0, 0);
  }
  // r0 = the packet's bytes at `off` (BPF_W/H/B), in host order; the program ends returning
  // 0 when they are beyond the packet. Both need r6 = the skb, and clobber r1-r5.
  void ld_abs(std::uint8_t size, std::int32_t off) { emit(BPF_LD | BPF_ABS | size, 0, 0, 0, off); }
  void ld_ind(std::uint8_t size, std::uint8_t reg, std::int32_t off) {
    emit(BPF_LD | BPF_IND | size, 0, reg, 0, off);
  }
  void store(std::uint8_t size, std::uint8_t base, std::int16_t off, std::uint8_t src) {
    emit(BPF_STX | BPF_MEM | size, base, src, off, 0);
  }
  void store_imm(std::uint8_t size, std::uint8_t base, std::int16_t off, std::int32_t imm) {
    emit(BPF_ST | BPF_MEM | size, base, 0, off, imm);
  }
  void load(std::uint8_t size, std::uint8_t dst, std::uint8_t base, std::int16_t off) {
    emit(BPF_LDX | BPF_MEM | size, dst, base, off, 0);
  }
  void atomic_add32(std::uint8_t base, std::uint8_t src) {
    emit(BPF_STX | BPF_ATOMIC | BPF_W, base, src, 0, BPF_ADD);
  }
  // dst = the map of descriptor `fd` (a 16-byte instruction: two slots).
  void ld_map(std::uint8_t dst, int fd) {
    emit(BPF_LD | BPF_DW | BPF_IMM, dst, BPF_PSEUDO_MAP_FD, 0, fd);
    emit(0, 0, 0, 0, 0);
  }
  // dst = the frame pointer (r10) + off: the address of a slot on the program's stack.
  void frame_addr(std::uint8_t dst, std::int16_t off) {
    mov(dst, BPF_REG_10);
    add64_imm(dst, off);
  }
  // A map helper's first two arguments: r1 = the map of descriptor `fd`, r2 = the key's slot.
  void map_args(int fd, std::int16_t key) {
    ld_map(BPF_REG_1, fd);
    frame_addr(BPF_REG_2, key);
  }
  void call(std::int32_t helper) { emit(BPF_JMP | BPF_CALL, 0, 0, 0, helper); }
  void exit() { emit(BPF_JMP | BPF_EXIT, 0, 0, 0, 0); }
  void jump(int l) { jump_if(BPF_JA, 0, 0, l); }
  // if (dst OP imm) goto l (64-bit compare).
  void jump_if(std::uint8_t op, std::uint8_t dst, std::int32_t imm, int l) {
    fixups_.emplace_back(code_.size(), l);
    emit(BPF_JMP | op | BPF_K, dst, 0, 0, imm);
  }

  std::vector<bpf_insn> finish() {
    for (auto [at, l] : fixups_)
      code_[at].off =
          static_cast<std::int16_t>(labels_[static_cast<std::size_t>(l)] - static_cast<int>(at) - 1);
    return std::move(code_);
  }

 private:
  std::vector<bpf_insn> code_;
  std::vector<int> labels_;
  std::vector<std::pair<std::size_t, int>> fixups_;
};

// The key's place on the program's stack (r10 is the frame pointer): addr[0..3] at -20, -16,
// -12, -8, ports at -4; then the counter map's key and the new flow's queue.
constexpr std::int16_t key_at = -20;
constexpr std::int16_t ports_at = -4;
constexpr std::int16_t counter_key_at = -24;
constexpr std::int16_t queue_at = -28;

constexpr std::int32_t tcp_syn = 0x02, tcp_ack = 0x10;

long bpf(int cmd, bpf_attr& attr) {
  return syscall(__NR_bpf, cmd, &attr, sizeof attr);
}

std::string refusal(const char* what, int code) {
  std::string why = std::strerror(code);
  if (code == EPERM || code == EACCES) why += " (needs CAP_BPF, or CAP_SYS_ADMIN on older kernels)";
  if (code == ENOSYS) why += " (a kernel without bpf(2))";
  return std::string(what) + " refused: " + why;
}

}  // namespace

std::optional<SteeringKey> outbound_syn_key(std::span<const std::byte> p) {
  if (p.empty()) return std::nullopt;
  const unsigned version = std::to_integer<unsigned>(p[0]) >> 4;
  SteeringKey key;
  std::size_t tcp = 0;
  if (version == 4) {
    if (p.size() < 20) return std::nullopt;
    const std::size_t ihl = (std::to_integer<std::size_t>(p[0]) & 0xf) * 4;
    if (std::to_integer<unsigned>(p[9]) != 6 || ihl < 20) return std::nullopt;
    key.addr[0] = load_be32(p, 16);  // the destination: the peer
    tcp = ihl;
  } else if (version == 6) {
    if (p.size() < 40 || std::to_integer<unsigned>(p[6]) != 6) return std::nullopt;
    for (std::size_t w = 0; w < 4; ++w) key.addr[w] = load_be32(p, 24 + 4 * w);
    tcp = 40;
  } else {
    return std::nullopt;
  }
  if (p.size() < tcp + 14) return std::nullopt;
  const unsigned flags = std::to_integer<unsigned>(p[tcp + 13]);
  if ((flags & (tcp_syn | tcp_ack)) != tcp_syn) return std::nullopt;
  const std::uint32_t ports = load_be32(p, tcp);  // local port << 16 | peer port
  key.ports = (ports << 16) | (ports >> 16);
  return key;
}

std::vector<bpf_insn> steering_program(int flows_map_fd, int counter_map_fd, std::uint32_t queues) {
  if (queues == 0) queues = 1;
  const auto n = static_cast<std::int32_t>(queues);
  Assembler a;
  const int v6 = a.label(), v4_tcp = a.label(), v4_icmp = a.label(), v6_icmp = a.label();
  const int v4_key = a.label(), flow = a.label(), miss = a.label(), hash = a.label(), zero = a.label();

  a.mov(BPF_REG_6, BPF_REG_1);  // the skb, for the loads
  a.mov_imm(BPF_REG_8, 0);      // TCP flags: none unless the packet is TCP
  a.ld_abs(BPF_B, 0);
  a.alu32_imm(BPF_RSH, BPF_REG_0, 4);
  a.jump_if(BPF_JEQ, BPF_REG_0, 6, v6);
  a.jump_if(BPF_JNE, BPF_REG_0, 4, zero);

  // IPv4. A fragment (MF or an offset) has no TCP header to read where we would look.
  a.ld_abs(BPF_H, 6);
  a.alu32_imm(BPF_AND, BPF_REG_0, 0x3fff);
  a.jump_if(BPF_JNE, BPF_REG_0, 0, zero);
  a.ld_abs(BPF_B, 0);
  a.alu32_imm(BPF_AND, BPF_REG_0, 0xf);
  a.alu32_imm(BPF_LSH, BPF_REG_0, 2);
  a.mov(BPF_REG_7, BPF_REG_0);  // r7: the header length, where TCP (or ICMP) starts
  a.ld_abs(BPF_B, 9);
  a.jump_if(BPF_JEQ, BPF_REG_0, 6, v4_tcp);
  a.jump_if(BPF_JEQ, BPF_REG_0, 1, v4_icmp);
  a.jump(zero);

  a.bind(v4_tcp);
  a.ld_abs(BPF_W, 12);  // the source: the peer
  a.jump(v4_key);

  // ICMP: the quoted header is of a packet we sent (source us, destination the peer), 8
  // bytes into the message. Only TCP quotes are steered by their flow.
  a.bind(v4_icmp);
  a.ld_ind(BPF_B, BPF_REG_7, 8 + 9);
  a.jump_if(BPF_JNE, BPF_REG_0, 6, zero);
  a.ld_ind(BPF_W, BPF_REG_7, 8 + 16);  // the quoted destination: the peer
  a.store(BPF_W, BPF_REG_10, key_at, BPF_REG_0);
  a.ld_ind(BPF_B, BPF_REG_7, 8);
  a.alu32_imm(BPF_AND, BPF_REG_0, 0xf);
  a.alu32_imm(BPF_LSH, BPF_REG_0, 2);
  a.alu32(BPF_ADD, BPF_REG_7, BPF_REG_0);
  a.ld_ind(BPF_W, BPF_REG_7, 8);  // the quoted ports: local << 16 | peer; swapped below
  a.mov(BPF_REG_1, BPF_REG_0);
  a.alu32_imm(BPF_LSH, BPF_REG_0, 16);
  a.alu32_imm(BPF_RSH, BPF_REG_1, 16);
  a.alu32(BPF_OR, BPF_REG_0, BPF_REG_1);
  a.store(BPF_W, BPF_REG_10, ports_at, BPF_REG_0);
  a.store_imm(BPF_W, BPF_REG_10, key_at + 4, 0);
  a.store_imm(BPF_W, BPF_REG_10, key_at + 8, 0);
  a.store_imm(BPF_W, BPF_REG_10, key_at + 12, 0);
  a.jump(flow);

  a.bind(v4_key);
  a.store(BPF_W, BPF_REG_10, key_at, BPF_REG_0);
  a.store_imm(BPF_W, BPF_REG_10, key_at + 4, 0);
  a.store_imm(BPF_W, BPF_REG_10, key_at + 8, 0);
  a.store_imm(BPF_W, BPF_REG_10, key_at + 12, 0);
  a.ld_ind(BPF_W, BPF_REG_7, 0);  // peer port << 16 | local port
  a.store(BPF_W, BPF_REG_10, ports_at, BPF_REG_0);
  a.ld_ind(BPF_B, BPF_REG_7, 13);
  a.mov(BPF_REG_8, BPF_REG_0);
  a.jump(flow);

  // IPv6: TCP (or ICMPv6) as the first header after the fixed one; extension headers are not
  // walked (such packets take queue 0).
  a.bind(v6);
  a.ld_abs(BPF_B, 6);
  a.jump_if(BPF_JEQ, BPF_REG_0, 58, v6_icmp);
  a.jump_if(BPF_JNE, BPF_REG_0, 6, zero);
  for (std::int32_t w = 0; w < 4; ++w) {
    a.ld_abs(BPF_W, 8 + 4 * w);  // the source: the peer
    a.store(BPF_W, BPF_REG_10, static_cast<std::int16_t>(key_at + 4 * w), BPF_REG_0);
  }
  a.ld_abs(BPF_W, 40);
  a.store(BPF_W, BPF_REG_10, ports_at, BPF_REG_0);
  a.ld_abs(BPF_B, 40 + 13);
  a.mov(BPF_REG_8, BPF_REG_0);
  a.jump(flow);

  // ICMPv6: the quoted IPv6 header at 48, its destination (the peer) at 72, TCP at 88.
  a.bind(v6_icmp);
  a.ld_abs(BPF_B, 48 + 6);
  a.jump_if(BPF_JNE, BPF_REG_0, 6, zero);
  for (std::int32_t w = 0; w < 4; ++w) {
    a.ld_abs(BPF_W, 72 + 4 * w);
    a.store(BPF_W, BPF_REG_10, static_cast<std::int16_t>(key_at + 4 * w), BPF_REG_0);
  }
  a.ld_abs(BPF_W, 88);
  a.mov(BPF_REG_1, BPF_REG_0);
  a.alu32_imm(BPF_LSH, BPF_REG_0, 16);
  a.alu32_imm(BPF_RSH, BPF_REG_1, 16);
  a.alu32(BPF_OR, BPF_REG_0, BPF_REG_1);
  a.store(BPF_W, BPF_REG_10, ports_at, BPF_REG_0);

  // The flow table: a flow it has goes where it went before.
  a.bind(flow);
  a.map_args(flows_map_fd, key_at);
  a.call(BPF_FUNC_map_lookup_elem);
  a.jump_if(BPF_JEQ, BPF_REG_0, 0, miss);
  a.load(BPF_W, BPF_REG_0, BPF_REG_0, 0);
  a.exit();

  // A new flow's SYN takes the next turn: queue = counter++ % n. Two SYNs on two CPUs at once
  // may read the same turn; they then share a queue, nothing worse.
  a.bind(miss);
  a.alu32_imm(BPF_AND, BPF_REG_8, tcp_syn | tcp_ack);
  a.jump_if(BPF_JNE, BPF_REG_8, tcp_syn, hash);
  a.store_imm(BPF_W, BPF_REG_10, counter_key_at, 0);
  a.map_args(counter_map_fd, counter_key_at);
  a.call(BPF_FUNC_map_lookup_elem);
  a.jump_if(BPF_JEQ, BPF_REG_0, 0, hash);
  a.load(BPF_W, BPF_REG_9, BPF_REG_0, 0);
  a.mov_imm(BPF_REG_1, 1);
  a.atomic_add32(BPF_REG_0, BPF_REG_1);
  a.alu32_imm(BPF_MOD, BPF_REG_9, n);
  a.store(BPF_W, BPF_REG_10, queue_at, BPF_REG_9);
  a.map_args(flows_map_fd, key_at);
  a.frame_addr(BPF_REG_3, queue_at);
  a.mov_imm(BPF_REG_4, BPF_ANY);
  a.call(BPF_FUNC_map_update_elem);
  a.mov(BPF_REG_0, BPF_REG_9);
  a.exit();

  // Not in the table and not a new connection: a hash of the key, the same for every packet
  // of the flow.
  a.bind(hash);
  a.load(BPF_W, BPF_REG_0, BPF_REG_10, key_at);
  for (std::int16_t off = key_at + 4; off <= ports_at; off = static_cast<std::int16_t>(off + 4)) {
    a.load(BPF_W, BPF_REG_1, BPF_REG_10, off);
    a.alu32(BPF_XOR, BPF_REG_0, BPF_REG_1);
  }
  for (std::int32_t shift : {16, 8}) {
    a.emit(BPF_ALU | BPF_MOV | BPF_X, BPF_REG_1, BPF_REG_0, 0, 0);
    a.alu32_imm(BPF_RSH, BPF_REG_1, shift);
    a.alu32(BPF_XOR, BPF_REG_0, BPF_REG_1);
  }
  a.alu32_imm(BPF_MOD, BPF_REG_0, n);
  a.exit();

  a.bind(zero);
  a.mov_imm(BPF_REG_0, 0);
  a.exit();
  return a.finish();
}

IoResult<TunSteering> TunSteering::load(std::uint32_t queues, std::uint32_t max_flows) {
  TunSteering s;
  bpf_attr attr{};
  attr.map_type = BPF_MAP_TYPE_LRU_HASH;
  attr.key_size = sizeof(SteeringKey);
  attr.value_size = sizeof(std::uint32_t);
  attr.max_entries = max_flows;
  std::strncpy(attr.map_name, "utcp_flows", sizeof attr.map_name - 1);
  s.flows_fd_ = static_cast<int>(bpf(BPF_MAP_CREATE, attr));
  if (s.flows_fd_ < 0)
    return std::unexpected(IoError{errno, refusal("bpf(BPF_MAP_CREATE) of an LRU hash map", errno)});

  attr = bpf_attr{};
  attr.map_type = BPF_MAP_TYPE_ARRAY;
  attr.key_size = sizeof(std::uint32_t);
  attr.value_size = sizeof(std::uint32_t);
  attr.max_entries = 1;
  std::strncpy(attr.map_name, "utcp_turn", sizeof attr.map_name - 1);
  s.counter_fd_ = static_cast<int>(bpf(BPF_MAP_CREATE, attr));
  if (s.counter_fd_ < 0)
    return std::unexpected(IoError{errno, refusal("bpf(BPF_MAP_CREATE) of an array map", errno)});

  const std::vector<bpf_insn> code = steering_program(s.flows_fd_, s.counter_fd_, queues);
  static const char license[] = "GPL";  // the helpers used are not GPL-only; any string would do
  auto load_prog = [&](char* log, std::uint32_t log_size) {
    attr = bpf_attr{};
    attr.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
    attr.insns = reinterpret_cast<std::uint64_t>(code.data());
    attr.insn_cnt = static_cast<std::uint32_t>(code.size());
    attr.license = reinterpret_cast<std::uint64_t>(license);
    attr.log_buf = reinterpret_cast<std::uint64_t>(log);
    attr.log_size = log_size;
    attr.log_level = log != nullptr ? 1 : 0;
    std::strncpy(attr.prog_name, "utcp_steer", sizeof attr.prog_name - 1);
    return static_cast<int>(bpf(BPF_PROG_LOAD, attr));
  };
  s.prog_fd_ = load_prog(nullptr, 0);
  if (s.prog_fd_ < 0) {
    const int code_errno = errno;
    std::string msg = refusal("bpf(BPF_PROG_LOAD) of the steering program", code_errno);
    if (code_errno == EINVAL || code_errno == EACCES) {
      // The verifier's reason: the last line of its log.
      std::vector<char> log(1 << 16);
      const int again = load_prog(log.data(), static_cast<std::uint32_t>(log.size()));
      if (again >= 0) {
        ::close(again);
      } else {
        std::string text(log.data(), strnlen(log.data(), log.size()));
        while (!text.empty() && text.back() == '\n') text.pop_back();
        if (auto nl = text.rfind('\n'); nl != std::string::npos) text = text.substr(nl + 1);
        if (!text.empty()) msg += " (verifier: " + text + ")";
      }
    }
    return std::unexpected(IoError{code_errno, msg});
  }
  return s;
}

TunSteering::TunSteering(TunSteering&& other) noexcept
    : flows_fd_(std::exchange(other.flows_fd_, -1)),
      counter_fd_(std::exchange(other.counter_fd_, -1)),
      prog_fd_(std::exchange(other.prog_fd_, -1)),
      attached_fd_(std::exchange(other.attached_fd_, -1)) {}

TunSteering& TunSteering::operator=(TunSteering&& other) noexcept {
  if (this != &other) {
    close_all();
    flows_fd_ = std::exchange(other.flows_fd_, -1);
    counter_fd_ = std::exchange(other.counter_fd_, -1);
    prog_fd_ = std::exchange(other.prog_fd_, -1);
    attached_fd_ = std::exchange(other.attached_fd_, -1);
  }
  return *this;
}

TunSteering::~TunSteering() {
  close_all();
}

void TunSteering::close_all() {
  detach();
  for (int* fd : {&prog_fd_, &flows_fd_, &counter_fd_})
    if (*fd >= 0) ::close(std::exchange(*fd, -1));
}

IoResult<void> TunSteering::attach(int tun_fd) {
  int fd = prog_fd_;
  if (ioctl(tun_fd, TUNSETSTEERINGEBPF, &fd) < 0) {
    const int code = errno;
    std::string why = std::strerror(code);
    if (code == EINVAL || code == ENOTTY) why += " (a kernel before 4.16 has no TUNSETSTEERINGEBPF)";
    return std::unexpected(IoError{code, "ioctl(TUNSETSTEERINGEBPF) refused: " + why});
  }
  attached_fd_ = tun_fd;
  return {};
}

void TunSteering::detach() {
  if (attached_fd_ < 0) return;
  int none = -1;
  // The descriptor may already be closed (then the device went with it, or another
  // descriptor keeps it and the kernel refuses): nothing more to do either way.
  (void)ioctl(std::exchange(attached_fd_, -1), TUNSETSTEERINGEBPF, &none);
}

void TunSteering::claim_outbound(std::span<const std::byte> packet, std::uint32_t queue) const {
  const auto key = outbound_syn_key(packet);
  if (!key || flows_fd_ < 0) return;
  bpf_attr attr{};
  attr.map_fd = static_cast<std::uint32_t>(flows_fd_);
  attr.key = reinterpret_cast<std::uint64_t>(&*key);
  attr.value = reinterpret_cast<std::uint64_t>(&queue);
  attr.flags = BPF_ANY;
  (void)bpf(BPF_MAP_UPDATE_ELEM, attr);  // a full table evicts its least recently used flow
}

std::optional<std::uint32_t> TunSteering::lookup(const SteeringKey& key) const {
  std::uint32_t queue = 0;
  bpf_attr attr{};
  attr.map_fd = static_cast<std::uint32_t>(flows_fd_);
  attr.key = reinterpret_cast<std::uint64_t>(&key);
  attr.value = reinterpret_cast<std::uint64_t>(&queue);
  if (bpf(BPF_MAP_LOOKUP_ELEM, attr) < 0) return std::nullopt;
  return queue;
}

}  // namespace utcp::io
