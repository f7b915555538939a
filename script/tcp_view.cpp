#include "tcp_view.hpp"

namespace utcp::script {
namespace {

unsigned byte(std::span<const std::byte> b, std::size_t i) {
  return std::to_integer<unsigned>(b[i]);
}
std::uint32_t be32(std::span<const std::byte> b, std::size_t i) {
  return (std::uint32_t{byte(b, i)} << 24) | (std::uint32_t{byte(b, i + 1)} << 16) |
         (std::uint32_t{byte(b, i + 2)} << 8) | std::uint32_t{byte(b, i + 3)};
}

}  // namespace

std::optional<TcpView> view_tcp(std::span<const std::byte> tcp) {
  if (tcp.size() < 20) return std::nullopt;
  const std::size_t header = (byte(tcp, 12) >> 4) * 4u;
  if (header < 20 || header > tcp.size()) return std::nullopt;
  TcpView v;
  v.flags = static_cast<std::uint8_t>(byte(tcp, 13));
  v.ack_field = be32(tcp, 8);
  const std::span<const std::byte> area = tcp.subspan(20, header - 20);
  std::size_t i = 0;
  while (i < area.size()) {
    const unsigned kind = byte(area, i);
    if (kind == 0) {  // EOL: the rest is padding
      v.options.emplace_back(OptEol{});
      break;
    }
    if (kind == 1) {
      v.options.emplace_back(OptNop{});
      ++i;
      continue;
    }
    if (i + 1 >= area.size()) return std::nullopt;
    const unsigned len = byte(area, i + 1);
    if (len < 2 || len > area.size() - i) return std::nullopt;
    const std::span<const std::byte> f = area.subspan(i + 2, len - 2);
    if (kind == 2 && len == 4) {
      v.options.emplace_back(OptMss{static_cast<std::uint16_t>((byte(f, 0) << 8) | byte(f, 1))});
    } else if (kind == 3 && len == 3) {
      v.options.emplace_back(OptWscale{static_cast<std::uint8_t>(byte(f, 0))});
    } else if (kind == 4 && len == 2) {
      v.options.emplace_back(OptSackOk{});
    } else if (kind == 5 && len >= 10 && (len - 2) % 8 == 0) {
      OptSack s;
      for (std::size_t k = 0; k + 8 <= f.size(); k += 8) s.blocks.emplace_back(be32(f, k), be32(f, k + 4));
      v.options.emplace_back(std::move(s));
    } else if (kind == 8 && len == 10) {
      v.options.emplace_back(OptTimestamp{be32(f, 0), be32(f, 4)});
    } else {
      v.options.emplace_back(OptOther{static_cast<std::uint8_t>(kind), static_cast<std::uint8_t>(len)});
    }
    i += len;
  }
  return v;
}

std::uint8_t flag_bits(const Packet& p) {
  return static_cast<std::uint8_t>((p.fin ? kFin : 0) | (p.syn ? kSyn : 0) | (p.rst ? kRst : 0) |
                                   (p.psh ? kPsh : 0) | (p.ack_flag ? kAck : 0) | (p.urg ? kUrg : 0) |
                                   (p.ece ? kEce : 0) | (p.cwr ? kCwr : 0));
}

}  // namespace utcp::script
