#include "tcp_view.hpp"

#include "utcp/checksum.hpp"

namespace utcp::script {
namespace {

unsigned byte(std::span<const std::byte> b, std::size_t i) {
  return std::to_integer<unsigned>(b[i]);
}
std::uint32_t be32(std::span<const std::byte> b, std::size_t i) {
  return (std::uint32_t{byte(b, i)} << 24) | (std::uint32_t{byte(b, i + 1)} << 16) |
         (std::uint32_t{byte(b, i + 2)} << 8) | std::uint32_t{byte(b, i + 3)};
}

void put16(std::vector<std::byte>& b, std::uint16_t v) {
  b.push_back(static_cast<std::byte>(v >> 8));
  b.push_back(static_cast<std::byte>(v));
}
void put32(std::vector<std::byte>& b, std::uint32_t v) {
  put16(b, static_cast<std::uint16_t>(v >> 16));
  put16(b, static_cast<std::uint16_t>(v));
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

namespace utcp::script {

std::vector<std::byte> build_tcp(const TcpHeader& h, std::uint32_t payload, const IpAddr& src,
                                 const IpAddr& dst) {
  std::vector<std::byte> b;
  b.reserve(60 + payload);
  put16(b, h.src_port);
  put16(b, h.dst_port);
  put32(b, h.seq);
  put32(b, h.ack_field);
  const std::size_t words = 5 + (wire_length(h.options) + 3) / 4;
  b.push_back(static_cast<std::byte>(words << 4));
  b.push_back(static_cast<std::byte>(h.flags));
  put16(b, h.window);
  put16(b, 0);  // checksum, below
  put16(b, 0);  // urgent pointer
  for (const Option& o : h.options) {
    std::visit(
        [&b](const auto& v) {
          using T = std::decay_t<decltype(v)>;
          const auto kind = [&b](unsigned k, unsigned len) {
            b.push_back(static_cast<std::byte>(k));
            if (len > 1) b.push_back(static_cast<std::byte>(len));
          };
          if constexpr (std::is_same_v<T, OptNop>) {
            kind(1, 1);
          } else if constexpr (std::is_same_v<T, OptEol>) {
            kind(0, 1);
          } else if constexpr (std::is_same_v<T, OptMss>) {
            kind(2, 4);
            put16(b, v.value);
          } else if constexpr (std::is_same_v<T, OptWscale>) {
            kind(3, 3);
            b.push_back(static_cast<std::byte>(v.shift));
          } else if constexpr (std::is_same_v<T, OptSackOk>) {
            kind(4, 2);
          } else if constexpr (std::is_same_v<T, OptSack>) {
            kind(5, static_cast<unsigned>(2 + 8 * v.blocks.size()));
            for (const auto& [l, r] : v.blocks) {
              put32(b, l);
              put32(b, r);
            }
          } else if constexpr (std::is_same_v<T, OptTimestamp>) {
            kind(8, 10);
            put32(b, v.value);
            put32(b, v.echo);
          } else {
            kind(v.kind, v.length);
            for (unsigned i = 2; i < v.length; ++i) b.push_back(std::byte{0});
          }
        },
        o);
  }
  while (b.size() < words * 4) b.push_back(std::byte{0});  // EOL padding (never, once checked)
  b.resize(b.size() + payload);
  const std::uint16_t sum = tcp_checksum(src, dst, b);
  b[16] = static_cast<std::byte>(sum >> 8);
  b[17] = static_cast<std::byte>(sum);
  return b;
}

}  // namespace utcp::script
