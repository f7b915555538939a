// libFuzzer target for the TCP options area (RFC 9293 §3.1, RFC 7323, RFC 2018). The input's
// first byte picks the address family and the flags; up to 40 further bytes are the options
// area (padded with EOL to a multiple of 4), the rest the payload. The header is built around
// them with a valid checksum, so every input reaches the option parser. An independent
// reference parser here says what Segment::decode must do:
//   - NOP is skipped, EOL ends the list;
//   - a kind byte with no length byte after it: option_length_missing;
//   - a length below 2: option_length_short; past the end of the area: option_past_header;
//   - MSS/4, WS/3, SACK-permitted/2, SACK/10,18,26,34, Timestamps/10 are parsed;
//   - any other kind, or a known kind with another length, is kept as UnknownOption.
// Wherever decode succeeds, encode then decode gives the same segment again.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "utcp/checksum.hpp"
#include "utcp/segment.hpp"

namespace {

const utcp::IpAddr kSrc4 = utcp::IpAddr::v4(10, 0, 0, 1);
const utcp::IpAddr kDst4 = utcp::IpAddr::v4(10, 0, 0, 2);
const utcp::IpAddr kSrc6 = utcp::IpAddr::v6({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1});
const utcp::IpAddr kDst6 = utcp::IpAddr::v6({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2});

void check(bool ok) {
  if (!ok) std::abort();
}

std::uint32_t be32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
}

struct Expected {
  utcp::DecodeError error = utcp::DecodeError::none;
  utcp::TcpOptions options;
};

// The reference: written from the RFCs' rules, not from src/wire.
Expected reference(const std::vector<std::uint8_t>& area) {
  Expected r;
  std::size_t i = 0;
  while (i < area.size()) {
    const std::uint8_t kind = area[i];
    if (kind == 0) break;
    if (kind == 1) {
      ++i;
      continue;
    }
    if (i + 1 == area.size()) return {utcp::DecodeError::option_length_missing, {}};
    const std::size_t len = area[i + 1];
    if (len < 2) return {utcp::DecodeError::option_length_short, {}};
    if (i + len > area.size()) return {utcp::DecodeError::option_past_header, {}};
    const std::uint8_t* f = area.data() + i + 2;
    if (kind == 2 && len == 4) {
      r.options.emplace_back(utcp::Mss{static_cast<std::uint16_t>((f[0] << 8) | f[1])});
    } else if (kind == 3 && len == 3) {
      r.options.emplace_back(utcp::WindowScale{f[0]});
    } else if (kind == 4 && len == 2) {
      r.options.emplace_back(utcp::SackPermitted{});
    } else if (kind == 5 && (len == 10 || len == 18 || len == 26 || len == 34)) {
      utcp::Sack s;
      for (std::size_t k = 0; k < len - 2; k += 8)
        s.blocks.emplace_back(utcp::Seq(be32(f + k)), utcp::Seq(be32(f + k + 4)));
      r.options.emplace_back(std::move(s));
    } else if (kind == 8 && len == 10) {
      r.options.emplace_back(utcp::Timestamps{be32(f), be32(f + 4)});
    } else {
      utcp::UnknownOption u{kind, {}};
      for (std::size_t k = 0; k < len - 2; ++k) u.data.push_back(static_cast<std::byte>(f[k]));
      r.options.emplace_back(std::move(u));
    }
    i += len;
  }
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t ctl = data[0];
  const bool v6 = ctl & 0x80;
  const utcp::IpAddr& src = v6 ? kSrc6 : kSrc4;
  const utcp::IpAddr& dst = v6 ? kDst6 : kDst4;
  const std::size_t n_opt = std::min<std::size_t>(size - 1, 40);
  std::vector<std::uint8_t> area(data + 1, data + 1 + n_opt);
  while (area.size() % 4 != 0) area.push_back(0);
  const std::size_t payload = size - 1 - n_opt;

  // Header: ports, seq, ack, data offset, flags (SYN, FIN, RST or none; ACK and PSH from ctl).
  const std::size_t hlen = 20 + area.size();
  std::vector<std::byte> tcp(hlen + payload);
  auto put = [&](std::size_t at, unsigned v) { tcp[at] = static_cast<std::byte>(v & 0xff); };
  put(0, 0x30), put(1, 0x39), put(2, 0), put(3, 80);
  for (int k = 4; k < 12; ++k) put(k, 0x11u * k);
  put(12, static_cast<unsigned>(hlen / 4) << 4);
  static constexpr unsigned kFlag[4] = {0x00, 0x02, 0x01, 0x04};  // none, SYN, FIN, RST
  put(13, kFlag[ctl & 3] | (ctl & 4 ? 0x10u : 0) | (ctl & 8 ? 0x08u : 0));
  put(14, 0xff), put(15, ctl);
  for (std::size_t k = 0; k < area.size(); ++k) put(20 + k, area[k]);
  for (std::size_t k = 0; k < payload; ++k) put(hlen + k, data[1 + n_opt + k]);
  const std::uint16_t sum = utcp::tcp_checksum(src, dst, tcp);
  put(16, sum >> 8), put(17, sum);

  const Expected want = reference(area);
  auto r = utcp::Segment::decode(src, dst, std::span<const std::byte>(tcp));
  if (want.error != utcp::DecodeError::none) {
    check(!r.has_value());
    check(r.error().decode == want.error);
    return 0;
  }
  check(r.has_value());
  const utcp::Segment& seg = r->first;
  check(seg.options == want.options);
  check(seg.payload.size() == payload);
  check(seg.valid());  // without NOPs the list never needs more room than the area had
  const std::vector<std::byte> again = seg.encode(src, dst);
  check(again.size() == seg.encoded_size());
  check(utcp::tcp_checksum(src, dst, again) == 0);
  auto r2 = utcp::Segment::decode(src, dst, again);
  check(r2.has_value());
  check(r2->first == seg);
  return 0;
}
