// libFuzzer target for the frames of a TUN device with offloads (host/gso.hpp): what the
// kernel hands over and what the host writes. The input's first byte picks the mode:
//   even  the rest is a frame as read from the device (virtio_net_hdr, IP packet): the
//         splitter cuts it or refuses it without reading out of bounds; when it cuts a GSO
//         super-segment, the pieces carry the payload in order, gso_size bytes each but the
//         last, sequence numbers advancing by gso_size, and checksums (IPv4 header, TCP)
//         that verify. With bit 1 of the first byte set, the same frame is also cut with
//         the TCP checksums left unfilled (SegmentChecksums::leave, for frames the kernel
//         checked): the pieces are the filled ones byte for byte but the TCP checksum
//         field, which keeps the super-segment's value;
//   odd   the rest describes a queue of outputs (family, sequence numbers, payload sizes,
//         flags, headers that differ): the coalescer cuts it into runs, each framed as one
//         super-segment of at most 64 KiB, and the splitter gives back exactly the outputs
//         framed one by one (IPv4 identifications counting up within a run, as Linux's GSO
//         numbers them).
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "fuzz/fuzz_util.hpp"
#include "host/gso.hpp"
#include "host/ip_packet.hpp"
#include "utcp/checksum.hpp"

namespace {

using utcp::fuzz::check;
using utcp::fuzz::Reader;
using namespace utcp;
using namespace utcp::host;

std::uint16_t be16(std::span<const std::byte> b, std::size_t at) {
  return static_cast<std::uint16_t>(std::to_integer<unsigned>(b[at]) << 8 |
                                    std::to_integer<unsigned>(b[at + 1]));
}
std::uint32_t be32(std::span<const std::byte> b, std::size_t at) {
  return std::uint32_t{be16(b, at)} << 16 | be16(b, at + 2);
}

IpAddr addr_in(std::span<const std::byte> p, std::size_t at, bool v4) {
  std::array<std::uint8_t, 16> a{};
  for (std::size_t i = 0; i < (v4 ? 4u : 16u); ++i) a[i] = std::to_integer<std::uint8_t>(p[at + i]);
  return v4 ? IpAddr::v4(a[0], a[1], a[2], a[3]) : IpAddr::v6(a);
}

// The same frame cut with TCP checksums left as they are: refused for the same reason, or
// cut into the same pieces but for each piece's TCP checksum field, which holds the
// super-segment's. A packet passed whole is the same packet in both modes.
void check_left_unfilled(std::span<const std::byte> frame,
                         const std::expected<std::size_t, VnetError>& filled_n,
                         const std::vector<std::vector<std::byte>>& filled) {
  Splitter s;
  std::vector<std::vector<std::byte>> left;
  const auto n = s.split(frame, [&](std::span<const std::byte> p) { left.emplace_back(p.begin(), p.end()); },
                         SegmentChecksums::leave);
  check(n.has_value() == filled_n.has_value());
  if (!n) {
    check(n.error() == filled_n.error());
    return;
  }
  check(*n == *filled_n && left.size() == filled.size());
  if (*n == 1) {
    check(left[0] == filled[0]);
    return;
  }
  const auto packet = frame.subspan(VnetHeader::size);
  const bool v4 = (std::to_integer<unsigned>(packet[0]) >> 4) == 4;
  const std::size_t ip_len = v4 ? (std::to_integer<unsigned>(packet[0]) & 0xfu) * 4u : 40u;
  const std::size_t sum_at = ip_len + 16;
  for (std::size_t i = 0; i < left.size(); ++i) {
    check(left[i].size() == filled[i].size() && left[i].size() > sum_at + 1);
    for (std::size_t k = 0; k < left[i].size(); ++k)
      check(k == sum_at || k == sum_at + 1 ? left[i][k] == packet[k] : left[i][k] == filled[i][k]);
  }
}

void split_device_frame(std::span<const std::byte> frame, bool also_leave) {
  Splitter s;
  std::vector<std::vector<std::byte>> got;
  const auto n = s.split(frame, [&](std::span<const std::byte> p) { got.emplace_back(p.begin(), p.end()); });
  if (also_leave) check_left_unfilled(frame, n, got);
  if (!n) return;
  check(*n == got.size() && *n >= 1);
  if (*n == 1) return;  // passed whole (a checksum completed at most)
  // A super-segment was cut: the original's headers tell what each piece must be.
  const auto h = VnetHeader::read(frame);
  const auto packet = frame.subspan(VnetHeader::size);
  const bool v4 = (std::to_integer<unsigned>(packet[0]) >> 4) == 4;
  const std::size_t ip_len = v4 ? (std::to_integer<unsigned>(packet[0]) & 0xfu) * 4u : 40u;
  const std::size_t total = v4 ? be16(packet, 2) : 40u + be16(packet, 4);
  const std::size_t tcp_len = (std::to_integer<unsigned>(packet[ip_len + 12]) >> 4) * 4u;
  const std::size_t headers = ip_len + tcp_len;
  const IpAddr src = addr_in(packet, v4 ? 12 : 8, v4), dst = addr_in(packet, v4 ? 16 : 24, v4);
  check(got.size() == (total - headers + h.gso_size - 1) / h.gso_size);
  std::size_t off = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const std::span<const std::byte> p(got[i]);
    const std::size_t len = p.size() - headers;
    check(p.size() > headers && (i + 1 == got.size() ? len <= h.gso_size : len == h.gso_size));
    check(std::equal(p.begin() + static_cast<std::ptrdiff_t>(headers), p.end(),
                     packet.begin() + static_cast<std::ptrdiff_t>(headers + off)));
    if (v4) check(internet_checksum(p.first(ip_len)) == 0);
    check(tcp_checksum(src, dst, p.subspan(ip_len)) == 0);
    check(be32(p, ip_len + 4) == be32(packet, ip_len + 4) + static_cast<std::uint32_t>(off));
    off += len;
  }
  check(off == total - headers);
}

// A queue of outputs the fuzzer shapes: mostly one flow's consecutive data segments, with
// now and then a short one, PSH, FIN, a gap, another ACK, window, option or flow.
std::vector<Output> outputs(Reader& r) {
  const bool v4 = (r.u8() & 1) != 0;
  const IpAddr a = v4 ? IpAddr::v4(10, 0, 0, 1) : *IpAddr::parse("fd00::1");
  const IpAddr b = v4 ? IpAddr::v4(10, 0, 0, 2) : *IpAddr::parse("fd00::2");
  const std::size_t mss = 1 + r.u16() % 1460;
  std::uint32_t seq = r.u32();
  const std::size_t count = 1 + r.u8() % 64;
  std::vector<Output> v;
  for (std::size_t i = 0; i < count && !r.empty(); ++i) {
    const std::uint8_t shape = r.u8();
    Output o{a, b, {}};
    Segment& s = o.segment;
    s.src_port = 80;
    s.dst_port = 40000;
    s.ack = Seq(777);
    s.window = 512;
    std::size_t len = mss;
    if ((shape & 0x03) == 0) len = r.u16() % (mss + 1);
    if ((shape & 0x0c) == 0x04) s.push = true;
    if ((shape & 0x30) == 0x10) s.flag = Segment::Flag::fin;
    if ((shape & 0xc0) == 0x40) {
      switch (r.u8() % 5) {
        case 0:
          s.ack = Seq(778);
          break;
        case 1:
          s.window = 513;
          break;
        case 2:
          s.options.push_back(Timestamps{r.u32(), r.u32()});
          break;
        case 3:
          s.dst_port = 40001;
          break;
        default:
          seq += 1 + r.u8();
          break;
      }
    }
    s.seq = Seq(seq);
    std::vector<std::byte> bytes(len);
    for (std::size_t k = 0; k < len; ++k) bytes[k] = static_cast<std::byte>((seq + k) * 7u + 3u);
    s.payload = Payload(std::span<const std::byte>(bytes));
    seq += static_cast<std::uint32_t>(len) + (s.flag == Segment::Flag::fin ? 1u : 0u);
    v.push_back(std::move(o));
  }
  return v;
}

void coalesce_and_split(Reader& r) {
  const std::vector<Output> outs = outputs(r);
  std::span<const Output> rest(outs);
  Splitter s;
  std::vector<std::byte> frame;
  while (!rest.empty()) {
    const std::size_t n = coalescible(rest);
    check(n >= 1 && n <= rest.size());
    const auto run = rest.first(n);
    frame.assign(super_framed_size(run), std::byte{0});
    check(frame.size() <= VnetHeader::size + max_super_packet + 40);
    check(frame_super_into(frame, run) == frame.size());
    std::size_t i = 0;
    const auto got = s.split(frame, [&](std::span<const std::byte> p) {
      check(i < n);
      std::vector<std::byte> want = host::frame(run[i]);
      if (run[i].src.is_v4() && i > 0) {  // the identification counts up from the first's
        want[4] = static_cast<std::byte>(i >> 8);
        want[5] = static_cast<std::byte>(i);
        want[10] = want[11] = std::byte{0};
        const std::uint16_t c = internet_checksum(std::span<const std::byte>(want).first(20));
        want[10] = static_cast<std::byte>(c >> 8);
        want[11] = static_cast<std::byte>(c);
      }
      check(std::ranges::equal(p, want));
      ++i;
    });
    check(got.has_value() && *got == n && i == n);
    rest = rest.subspan(n);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  if ((data[0] & 1) == 0) {
    split_device_frame(std::as_bytes(std::span<const std::uint8_t>(data + 1, size - 1)), (data[0] & 2) != 0);
  } else {
    Reader r(data + 1, size - 1);
    coalesce_and_split(r);
  }
  return 0;
}
