// libFuzzer target for the host layer's IP input (utcp_host_input). Each run builds two
// hosts on a virtual wire (IPv4 or IPv6, by the first input byte): a server with a listener
// on port 80 and a connection accepted from the client. Then the input is a list of
// datagrams for the server, each either raw bytes or built from a template the fuzzer
// fills in: an IP header (checksum, total length, fragment bits, addresses and protocol
// right or wrong, as chosen) around fuzzer TCP bytes (ports of the real flow and a repaired
// TCP checksum, when chosen), or an ICMP "fragmentation needed" / ICMPv6 "packet too big"
// quoting the real flow. Between datagrams time advances and the wire is pumped, the server
// reads and writes. Checked: no crash or sanitizer report, and every datagram is accounted
// for: a -1 return adds exactly one IP drop, a 0 return one TCP or ICMP input.
#include <arpa/inet.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <numeric>
#include <vector>

#include "fuzz/fuzz_util.hpp"
#include "utcp/posix.h"

namespace {

using utcp::fuzz::check;
using utcp::fuzz::Reader;

struct Family {
  int af;
  const char* server;
  const char* client;
};
constexpr Family kV4{AF_INET, "10.0.0.2", "10.0.0.1"};
constexpr Family kV6{AF_INET6, "fd00::2", "fd00::1"};

std::uint16_t inet_sum(const std::uint8_t* p, std::size_t n, std::uint32_t acc = 0) {
  for (std::size_t i = 0; i + 1 < n; i += 2) acc += static_cast<std::uint32_t>(p[i] << 8 | p[i + 1]);
  if (n & 1) acc += static_cast<std::uint32_t>(p[n - 1] << 8);
  while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
  return static_cast<std::uint16_t>(~acc);
}

void put16(std::uint8_t* p, std::uint32_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 8);
  p[1] = static_cast<std::uint8_t>(v);
}

socklen_t sockaddr_of(const Family& f, const char* ip, std::uint16_t port, sockaddr_storage& ss) {
  ss = {};
  if (f.af == AF_INET) {
    auto* in = reinterpret_cast<sockaddr_in*>(&ss);
    in->sin_family = AF_INET;
    in->sin_port = htons(port);
    ::inet_pton(AF_INET, ip, &in->sin_addr);
    return sizeof(sockaddr_in);
  }
  auto* in6 = reinterpret_cast<sockaddr_in6*>(&ss);
  in6->sin6_family = AF_INET6;
  in6->sin6_port = htons(port);
  ::inet_pton(AF_INET6, ip, &in6->sin6_addr);
  return sizeof(sockaddr_in6);
}

class World {
 public:
  explicit World(const Family& f) : f_(f) {
    const utcp_host_config cs{f.server, 1, 0, 0}, cc{f.client, 2, 0, 0};
    server_ = utcp_host_new(&cs);
    client_ = utcp_host_new(&cc);
    check(server_ && client_);
    ::inet_pton(f.af, f.server, server_ip_);
    ::inet_pton(f.af, f.client, client_ip_);
    sockaddr_storage ss;
    listener_ = utcp_socket(server_, f.af, SOCK_STREAM | SOCK_NONBLOCK, 0);
    check(listener_ >= 0);
    check(utcp_bind(server_, listener_, reinterpret_cast<sockaddr*>(&ss), sockaddr_of(f, f.server, 80, ss)) ==
          0);
    check(utcp_listen(server_, listener_, 8) == 0);
    const int c = utcp_socket(client_, f.af, SOCK_STREAM | SOCK_NONBLOCK, 0);
    check(c >= 0);
    utcp_connect(client_, c, reinterpret_cast<sockaddr*>(&ss), sockaddr_of(f, f.server, 80, ss));
    pump();
    conn_ = utcp_accept(server_, listener_, nullptr, nullptr);
    check(conn_ >= 0);
    socklen_t len = sizeof ss;
    check(utcp_getsockname(client_, c, reinterpret_cast<sockaddr*>(&ss), &len) == 0);
    client_port_ = f.af == AF_INET ? ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port)
                                   : ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
    utcp_write(client_, c, "hello", 5);
    pump();
  }
  ~World() {
    utcp_host_free(server_);
    utcp_host_free(client_);
  }
  World(const World&) = delete;
  World& operator=(const World&) = delete;

  void pump() {
    std::vector<std::uint8_t> buf(65536);
    for (int round = 0; round < 1000; ++round) {
      bool moved = false;
      for (auto [from, to] : {std::pair{server_, client_}, std::pair{client_, server_}}) {
        const ssize_t n = utcp_host_output(from, buf.data(), buf.size());
        if (n > 0) {
          utcp_host_input(to, buf.data(), static_cast<std::size_t>(n));
          moved = true;
        }
      }
      if (!moved) break;
    }
  }

  void advance(std::uint64_t ns) {
    now_ += ns;
    utcp_host_set_time(server_, now_);
    utcp_host_set_time(client_, now_);
  }

  // The server's application: read what is there, sometimes write.
  void app(std::uint8_t b) {
    char buf[2048];
    while (utcp_recv(server_, conn_, buf, sizeof buf, MSG_DONTWAIT) > 0) {
    }
    if (b & 1) utcp_send(server_, conn_, buf, 1 + b * 4u, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (b == 0xff) utcp_shutdown(server_, conn_, SHUT_WR);
  }

  // One datagram into the server, checking it is accounted for.
  void input(const std::vector<std::uint8_t>& dgram) {
    utcp_host_stats before{}, after{};
    check(utcp_host_get_stats(server_, &before) == 0);
    const int rc = utcp_host_input(server_, dgram.data(), dgram.size());
    check(utcp_host_get_stats(server_, &after) == 0);
    check(after.ip_in == before.ip_in + 1);
    const auto drops = [](const utcp_host_stats& s) {
      return std::accumulate(std::begin(s.ip_drops), std::end(s.ip_drops), std::uint64_t{0});
    };
    if (rc == 0) {
      check(drops(after) == drops(before));
      check(after.tcp_in + after.icmp_in == before.tcp_in + before.icmp_in + 1);
    } else {
      check(rc == -1);
      check(drops(after) == drops(before) + 1);
    }
  }

  // An IP packet around `l4` with protocol `proto`, broken as `ctl` asks.
  std::vector<std::uint8_t> ip(std::uint8_t ctl, std::uint8_t proto, const std::vector<std::uint8_t>& l4,
                               Reader& in) {
    const bool v4 = f_.af == AF_INET;
    const std::size_t alen = v4 ? 4 : 16, hlen = v4 ? 20 : 40;
    std::vector<std::uint8_t> p(hlen);
    std::uint8_t* src = p.data() + (v4 ? 12 : 8);
    std::uint8_t* dst = src + alen;
    std::memcpy(src, client_ip_, alen);
    std::memcpy(dst, server_ip_, alen);
    if (ctl & 0x80) {  // a wrong source or destination
      std::uint8_t* a = in.u8() & 1 ? src : dst;
      for (std::size_t k = 0; k < alen; ++k) a[k] = in.u8();
    }
    if (v4) {
      p[0] = 0x45;
      put16(p.data() + 2, static_cast<std::uint32_t>(hlen + l4.size()) + (ctl & 0x10 ? in.u8() - 128u : 0));
      if (ctl & 0x20) put16(p.data() + 6, in.u16());  // fragment bits and offset
      p[8] = 64;
      p[9] = proto;
      put16(p.data() + 10, inet_sum(p.data(), 20) + (ctl & 0x08 ? 1u : 0u));
    } else {
      p[0] = 0x60;
      put16(p.data() + 4, static_cast<std::uint32_t>(l4.size()) + (ctl & 0x10 ? in.u8() - 128u : 0));
      p[6] = ctl & 0x20 ? 44 : proto;  // 44: a fragment header follows (here: garbage)
      p[7] = 64;
    }
    p.insert(p.end(), l4.begin(), l4.end());
    return p;
  }

  std::vector<std::uint8_t> tcp(std::uint8_t ctl, Reader& in) {
    const auto body = in.bytes(in.u16() % 1600);
    std::vector<std::uint8_t> t(body.begin(), body.end());
    if (ctl & 0x04 && t.size() >= 4) {  // the real flow's ports
      put16(t.data(), client_port_);
      put16(t.data() + 2, 80);
    }
    if (ctl & 0x40 && t.size() >= 20) {  // a correct TCP checksum
      t[16] = t[17] = 0;
      const utcp::IpAddr s = addr(client_ip_), d = addr(server_ip_);
      const std::uint16_t sum = utcp::tcp_checksum(s, d, std::as_bytes(std::span(t)));
      put16(t.data() + 16, sum);
    }
    return t;
  }

  // ICMP type 3 code 4 (or ICMPv6 type 2) quoting a TCP header of the real flow.
  std::vector<std::uint8_t> icmp(Reader& in) {
    const bool v4 = f_.af == AF_INET;
    std::vector<std::uint8_t> quoted_tcp(8);
    put16(quoted_tcp.data(), 80);
    put16(quoted_tcp.data() + 2, client_port_);
    for (int k = 4; k < 8; ++k) quoted_tcp[k] = in.u8();
    // The quoted packet went from the server to the client.
    World& w = *this;
    std::swap(w.server_ip_, w.client_ip_);
    std::vector<std::uint8_t> quoted = ip(0, 6, quoted_tcp, in);
    std::swap(w.server_ip_, w.client_ip_);
    std::vector<std::uint8_t> m(8);
    m[0] = v4 ? 3 : 2;
    m[1] = v4 ? 4 : 0;
    const std::uint16_t mtu = in.u16();
    if (v4)
      put16(m.data() + 6, mtu);
    else
      put16(m.data() + 4, 0), put16(m.data() + 6, mtu);
    m.insert(m.end(), quoted.begin(), quoted.end());
    std::uint32_t acc = 0;
    if (!v4) {  // the ICMPv6 pseudo-header: source, destination, length, next header 58
      for (std::size_t k = 0; k < 16; k += 2)
        acc += static_cast<std::uint32_t>(client_ip_[k] << 8 | client_ip_[k + 1]);
      for (std::size_t k = 0; k < 16; k += 2)
        acc += static_cast<std::uint32_t>(server_ip_[k] << 8 | server_ip_[k + 1]);
      acc += static_cast<std::uint32_t>(m.size()) + 58;
    }
    put16(m.data() + 2, inet_sum(m.data(), m.size(), acc));
    return m;
  }

  utcp::IpAddr addr(const std::uint8_t* b) const {
    if (f_.af == AF_INET) return utcp::IpAddr::v4(b[0], b[1], b[2], b[3]);
    std::array<std::uint8_t, 16> a{};
    std::memcpy(a.data(), b, 16);
    return utcp::IpAddr::v6(a);
  }

  const Family& family() const { return f_; }

 private:
  const Family& f_;
  utcp_host* server_ = nullptr;
  utcp_host* client_ = nullptr;
  int listener_ = -1, conn_ = -1;
  std::uint16_t client_port_ = 0;
  std::uint8_t server_ip_[16]{}, client_ip_[16]{};
  std::uint64_t now_ = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Reader in(data, size);
  World w(in.u8() & 1 ? kV6 : kV4);
  for (int k = 0; k < 64 && !in.empty(); ++k) {
    const std::uint8_t ctl = in.u8();
    std::vector<std::uint8_t> dgram;
    switch (ctl & 3) {
      case 0: {
        const auto raw = in.bytes(in.u16() % 1600);
        dgram.assign(raw.begin(), raw.end());
        break;
      }
      case 1:
        dgram = w.ip(ctl, 6, w.tcp(ctl, in), in);
        break;
      case 2:
        dgram = w.ip(ctl & 0x88, w.family().af == AF_INET ? 1 : 58, w.icmp(in), in);
        break;
      default: {
        const std::uint8_t proto = in.u8();
        const auto raw = in.bytes(in.u8());
        dgram = w.ip(ctl, proto, std::vector<std::uint8_t>(raw.begin(), raw.end()), in);
        break;
      }
    }
    w.input(dgram);
    w.app(in.u8());
    w.advance(std::uint64_t{in.u8()} * 1000000);
    w.pump();
  }
  return 0;
}
