// The C++ core API in an I/O loop of your own: a TCP echo server on 10.0.0.1:7 that is a
// utcp::State value, a UDP socket carrying one IPv4 packet per datagram on 127.0.0.1 (as
// examples/udp_link.c does for the C examples) and poll(2). No host layer, no threads: this
// is what the host layer does for you, in 200 lines. Talk to it with examples/echo_client.
//
//   core_echo [UDP_PORT [CONNECTIONS]]
//
// UDP_PORT 0 (the default) picks a free port; the first line printed names it. With
// CONNECTIONS it exits 0 once it has served that many and they have closed.
//
// Every wakeup, in this order (docs/HOST.md, "Driving a host"):
//   1. now = the clock; if a deadline has passed, `timer` runs it;
//   2. every datagram waiting: the IPv4 header checked and stripped, the TCP bytes to `handle_buf`;
//   3. the application: `recv` what arrived, `send` it back, `close` at the end of the stream;
//   4. every Output the calls returned goes out, framed in an IPv4 header.
// Then it sleeps in poll until a datagram arrives or `next_deadline`.
#include <arpa/inet.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <string>
#include <vector>

#include "utcp/utcp.hpp"

namespace {

using Clock = std::chrono::steady_clock;  // utcp::Instant is its time_point
using Stack = utcp::State<int>;           // int: our notification type (unused: we poll every flow)

const utcp::IpAddr our_ip = utcp::IpAddr::v4(10, 0, 0, 1);
constexpr std::uint16_t echo_port = 7;
using Pending = std::deque<utcp::Payload>;  // a connection's bytes received, not yet sent back

struct Link {
  int udp = -1;
  sockaddr_in peer{};
  bool have_peer = false;
};

// 4. One IPv4 packet per Output: a 20-byte header, then the segment with its checksum.
void send_all(Link& link, const std::vector<utcp::Output>& out) {
  std::array<std::byte, 65536> buf;
  for (const auto& o : out) {
    const std::size_t n = o.segment.encode_into(std::span(buf).subspan(20), o.src, o.dst);
    if (n == 0 || !link.have_peer) continue;
    const std::size_t total = 20 + n;
    auto* h = reinterpret_cast<std::uint8_t*>(buf.data());
    std::memset(h, 0, 20);
    h[0] = 0x45;  // version 4, header length 5 words
    h[2] = static_cast<std::uint8_t>(total >> 8), h[3] = static_cast<std::uint8_t>(total);
    h[6] = 0x40;  // don't fragment
    h[8] = 64;    // TTL
    h[9] = 6;     // TCP
    std::memcpy(h + 12, o.src.data(), 4);
    std::memcpy(h + 16, o.dst.data(), 4);
    const std::uint16_t sum = utcp::internet_checksum(std::span(buf).first(20));
    h[10] = static_cast<std::uint8_t>(sum >> 8), h[11] = static_cast<std::uint8_t>(sum);
    sendto(link.udp, buf.data(), total, 0, reinterpret_cast<const sockaddr*>(&link.peer), sizeof link.peer);
  }
}

// 2. The IPv4 header's checks (RFC 791), then the TCP bytes to the core. Anything else is dropped.
void input(Stack& s, Link& link, utcp::Instant now, std::span<const std::byte> pkt,
           std::map<utcp::Flow, Pending>& conns) {
  const auto* h = reinterpret_cast<const std::uint8_t*>(pkt.data());
  if (pkt.size() < 20 || h[0] >> 4 != 4) return;
  const std::size_t ihl = (h[0] & 0xf) * 4u, total = h[2] << 8 | h[3];
  if (ihl < 20 || total < ihl || total > pkt.size() || h[9] != 6) return;
  if ((h[6] & 0x3f) != 0 || h[7] != 0) return;               // a fragment
  if (utcp::internet_checksum(pkt.first(ihl)) != 0) return;  // bad header checksum
  const auto src = utcp::IpAddr::v4(h[12], h[13], h[14], h[15]);
  const auto dst = utcp::IpAddr::v4(h[16], h[17], h[18], h[19]);
  if (dst != our_ip) return;
  auto r = utcp::handle_buf(std::move(s), now, src, dst, pkt.subspan(ihl, total - ihl));
  s = std::move(r.state);
  send_all(link, r.out);
  // At most one event per segment. A passive open completing is how a server learns of a
  // connection (there is no accept queue in the core: the flow is ours now).
  if (r.event)
    if (const auto* e = std::get_if<utcp::Established<int>>(&*r.event)) conns.emplace(e->flow, Pending());
}

// 3. Echo: everything that arrived goes back, without a copy: recv hands out the receive
// queue's own blocks and send(Payload) queues them as they are. At the end of the stream, close.
int serve(Stack& s, Link& link, utcp::Instant now, std::map<utcp::Flow, Pending>& conns) {
  int closed = 0;
  for (auto it = conns.begin(); it != conns.end();) {
    const utcp::Flow flow = it->first;
    Pending& pending = it->second;
    bool eof = false, gone = false;
    if (auto r = utcp::recv(std::move(s), now, flow)) {
      s = std::move(r->state);
      for (auto& d : r->data) pending.push_back(std::move(d));
      send_all(link, r->out);
    } else {
      eof = r.error().kind == utcp::Error::Kind::eof;  // a failed call left `s` as it was
      gone = !eof;                                     // not_found: reset or timed out
    }
    while (!pending.empty() && !gone) {
      auto w = utcp::send(std::move(s), now, flow, pending.front());
      if (!w) break;
      s = std::move(w->state);
      send_all(link, w->out);
      const utcp::Payload& front = pending.front();
      if (w->enqueued < front.size()) {  // the rest waits for room (the peer's ACKs)
        pending.front() = front.sub(w->enqueued, front.size() - w->enqueued);
        break;
      }
      pending.pop_front();
    }
    if ((eof && pending.empty()) || gone) {
      if (auto c = utcp::close(std::move(s), now, flow)) {  // our FIN, after the echoed bytes
        s = std::move(c->state);
        send_all(link, c->out);
      }
      it = conns.erase(it);
      ++closed;
    } else {
      ++it;
    }
  }
  return closed;
}

}  // namespace

int main(int argc, char** argv) {
  const unsigned udp_port = argc > 1 ? static_cast<unsigned>(std::strtoul(argv[1], nullptr, 10)) : 0;
  const long to_serve = argc > 2 ? std::strtol(argv[2], nullptr, 10) : -1;

  Link link;
  link.udp = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_in me{};
  me.sin_family = AF_INET;
  me.sin_port = htons(static_cast<std::uint16_t>(udp_port));
  me.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t mlen = sizeof me;
  if (link.udp < 0 || bind(link.udp, reinterpret_cast<sockaddr*>(&me), sizeof me) < 0 ||
      getsockname(link.udp, reinterpret_cast<sockaddr*>(&me), &mlen) < 0) {
    std::perror("core_echo: udp socket");
    return 1;
  }

  // Config{} has a fixed rng seed and ISN secret, right for tests and simulations; a stack on
  // a network takes both from the OS (RFC 6528: ISNs an off-path attacker cannot guess).
  utcp::Config config;
  config.rng_seed = static_cast<std::uint64_t>(Clock::now().time_since_epoch().count()) ^ getpid();
  if (getentropy(config.isn_secret.data(), config.isn_secret.size()) != 0) {
    std::perror("core_echo: getentropy");
    return 1;
  }
  Stack s = utcp::empty<int>([n = 0]() mutable { return n++; }, "core_echo", config);
  s = utcp::start_listen(std::move(s), echo_port);
  std::printf("core_echo: tcp 10.0.0.1:%u over udp 127.0.0.1:%u\n", echo_port, ntohs(me.sin_port));
  std::fflush(stdout);

  std::map<utcp::Flow, Pending> conns;  // each connection's bytes not yet sent back
  long served = 0;
  for (;;) {
    if (to_serve >= 0 && served >= to_serve && utcp::num_connections(s) == 0) break;
    // Sleep until a datagram or the next deadline (at most 1 s: nothing else can happen).
    int timeout_ms = 1000;
    if (auto d = utcp::next_deadline(s)) {
      const auto wait = std::chrono::ceil<std::chrono::milliseconds>(*d - Clock::now()).count();
      timeout_ms = static_cast<int>(std::clamp<long long>(wait, 0, 1000));
    }
    pollfd p{link.udp, POLLIN, 0};
    poll(&p, 1, timeout_ms);

    const utcp::Instant now = Clock::now();  // 1. the clock, and the timers it has passed
    if (auto d = utcp::next_deadline(s); d && *d <= now) {
      auto t = utcp::timer(std::move(s), now);
      s = std::move(t.state);
      send_all(link, t.out);
      for (const auto& drop : t.drops) served += conns.erase(drop.flow);  // gave up on a peer
    }
    std::array<std::byte, 65536> buf;  // 2. packets in
    for (;;) {
      sockaddr_in from{};
      socklen_t flen = sizeof from;
      const ssize_t n =
          recvfrom(link.udp, buf.data(), buf.size(), MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&from), &flen);
      if (n < 0) break;
      link.peer = from, link.have_peer = true;
      input(s, link, now, std::span(buf).first(static_cast<std::size_t>(n)), conns);
    }
    served += serve(s, link, now, conns);  // 3. the application (4. inside each step)
  }
  const auto& st = utcp::stats(s);
  std::printf("core_echo: served %ld connection(s), %llu segments in, %llu out\n", served,
              static_cast<unsigned long long>(st.segments_in),
              static_cast<unsigned long long>(st.segments_out));
  close(link.udp);
  return 0;
}
