// libFuzzer target for what io/netlink parses from outside the process:
//   - Cidr::parse, the `--kernel-ip` argument of serve, connect and get (user input);
//   - parse_netlink_ack, the kernel's rtnetlink replies read by add_address and set_link_up.
// The input's first byte picks the mode, the rest is the input:
//   0  text for Cidr::parse. Accepted text must name an address inet_pton reads the same
//      (no leading zeros, embedded NULs or other forms only we accept), a decimal prefix
//      within the family's bits; to_string() must parse back to the same Cidr; contains()
//      must agree with a bitwise reference on the address with each single bit flipped, and
//      refuse the other family.
//   1  raw bytes as a netlink reply (seq from the next four bytes);
//   2  a chain of netlink messages built from the input (types NLMSG_ERROR, NLMSG_DONE,
//      NLMSG_NOOP, RTM_NEWADDR or any; our sequence number or another; errors 0, -errno or
//      any; lengths right or off by a little), so every run gets deep into the parser.
//   For 1 and 2, parse_netlink_ack must agree with a reference walk over an aligned copy with
//   the kernel's own NLMSG_OK / NLMSG_NEXT macros, an acknowledged errno must be in
//   [0, 4095], and the parser reads only the input (an exact-size heap copy under ASan).
#include <arpa/inet.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/fuzz_util.hpp"
#include "io/netlink.hpp"

namespace {

using utcp::fuzz::check;
using utcp::io::Cidr;
using utcp::io::NetlinkAck;
using Status = NetlinkAck::Status;

void fuzz_cidr(std::string_view text) {
  const auto c = Cidr::parse(text);
  if (!c) return;
  const auto slash = text.find('/');
  check(slash != std::string_view::npos);
  const std::string addr(text.substr(0, slash));
  check(addr.find('\0') == std::string::npos);
  unsigned char os[16] = {};
  const int family = c->addr.is_v4() ? AF_INET : AF_INET6;
  check(inet_pton(family, addr.c_str(), os) == 1);
  check(std::memcmp(os, c->addr.data(), c->addr.size()) == 0);
  const auto digits = text.substr(slash + 1);
  check(!digits.empty());
  for (char ch : digits) check(ch >= '0' && ch <= '9');
  const unsigned bits = static_cast<unsigned>(c->addr.size()) * 8;
  check(c->prefix <= bits);

  const auto again = Cidr::parse(c->to_string());
  check(again.has_value() && again->addr == c->addr && again->prefix == c->prefix);

  check(c->contains(c->addr));
  for (unsigned k = 0; k < bits; ++k) {
    std::array<std::uint8_t, 16> b{};
    std::memcpy(b.data(), c->addr.data(), c->addr.size());
    b[k / 8] ^= static_cast<std::uint8_t>(0x80u >> (k % 8));
    const utcp::IpAddr flipped =
        c->addr.is_v4() ? utcp::IpAddr::v4(b[0], b[1], b[2], b[3]) : utcp::IpAddr::v6(b);
    check(c->contains(flipped) == (k >= c->prefix));
  }
  const utcp::IpAddr other = c->addr.is_v4() ? utcp::IpAddr::v6({}) : utcp::IpAddr::v4(0, 0, 0, 0);
  check(!c->contains(other));
}

// The same question answered the way the kernel's headers walk a buffer (their NLMSG_OK
// compares the u32 length with an int).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wsign-compare"
NetlinkAck reference(const std::vector<std::byte>& in, std::uint32_t seq) {
  std::vector<std::uint64_t> storage(in.size() / 8 + 2, 0);  // aligned, with slack for NLMSG_NEXT
  if (!in.empty()) std::memcpy(storage.data(), in.data(), in.size());
  int len = static_cast<int>(in.size());
  for (auto* h = reinterpret_cast<nlmsghdr*>(storage.data()); NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
    if (h->nlmsg_seq != seq || h->nlmsg_type != NLMSG_ERROR) continue;
    if (h->nlmsg_len < NLMSG_LENGTH(sizeof(nlmsgerr))) return {Status::malformed, 0};
    const int e = static_cast<const nlmsgerr*>(NLMSG_DATA(h))->error;
    if (e > 0 || e < -4095) return {Status::malformed, 0};
    return {Status::acked, -e};
  }
  return {len >= static_cast<int>(sizeof(nlmsghdr)) ? Status::malformed : Status::pending, 0};
}
#pragma GCC diagnostic pop

void fuzz_reply(const std::vector<std::byte>& msg, std::uint32_t seq) {
  // An exact-size heap copy: ASan reports any read past the end.
  auto* heap = new std::byte[msg.size() == 0 ? 1 : msg.size()];
  if (!msg.empty()) std::memcpy(heap, msg.data(), msg.size());
  const NetlinkAck got = utcp::io::parse_netlink_ack(std::span<const std::byte>(heap, msg.size()), seq);
  check(msg.empty() || std::memcmp(heap, msg.data(), msg.size()) == 0);
  delete[] heap;
  const NetlinkAck want = reference(msg, seq);
  check(got.status == want.status);
  if (got.status == Status::acked) {
    check(got.error == want.error);
    check(got.error >= 0 && got.error <= 4095);
  }
}

void append(std::vector<std::byte>& out, const void* p, std::size_t n) {
  const auto* b = static_cast<const std::byte*>(p);
  out.insert(out.end(), b, b + n);
}

std::vector<std::byte> build_chain(utcp::fuzz::Reader& r, std::uint32_t seq) {
  std::vector<std::byte> out;
  while (!r.empty() && out.size() < 4096) {
    const std::uint8_t shape = r.u8();
    nlmsghdr h{};
    switch (shape & 3) {
      case 0:
        h.nlmsg_type = NLMSG_ERROR;
        break;
      case 1:
        h.nlmsg_type = NLMSG_DONE;
        break;
      case 2:
        h.nlmsg_type = (shape & 4) ? RTM_NEWADDR : NLMSG_NOOP;
        break;
      default:
        h.nlmsg_type = r.u16();
    }
    h.nlmsg_seq = (shape & 8) ? r.u32() : seq;
    std::vector<std::byte> body;
    if (h.nlmsg_type == NLMSG_ERROR && !(shape & 16)) {
      nlmsgerr e{};
      switch ((shape >> 5) & 3) {
        case 0:
          e.error = 0;
          break;
        case 1:
          e.error = -static_cast<int>(r.u8() % 140);
          break;
        case 2:
          e.error = -17;  // EEXIST
          break;
        default:
          e.error = static_cast<int>(r.u32());
      }
      append(body, &e, sizeof e);
    } else {
      const auto extra = r.bytes(r.u8() % 64);
      append(body, extra.data(), extra.size());
    }
    std::uint32_t len = static_cast<std::uint32_t>(NLMSG_HDRLEN + body.size());
    if (shape & 128) len += static_cast<std::uint32_t>(static_cast<std::int8_t>(r.u8()));  // off a little
    h.nlmsg_len = len;
    append(out, &h, sizeof h);
    out.insert(out.end(), body.begin(), body.end());
    while (out.size() % NLMSG_ALIGNTO != 0 && !(shape & 64)) out.push_back(std::byte{0});
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t mode = data[0] % 3;
  ++data;
  --size;
  if (mode == 0) {
    fuzz_cidr(std::string_view(reinterpret_cast<const char*>(data), size));
    return 0;
  }
  utcp::fuzz::Reader r(data, size);
  const std::uint32_t seq = r.u32();
  std::vector<std::byte> msg;
  if (mode == 1) {
    const auto rest = r.bytes(r.left());
    append(msg, rest.data(), rest.size());
  } else {
    msg = build_chain(r, seq);
  }
  fuzz_reply(msg, seq);
  return 0;
}
