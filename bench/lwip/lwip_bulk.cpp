// lwIP's side of the comparison, built only by scripts/bench.sh against Debian's liblwip-dev
// (the library as Debian ships it: lwIP 2.1.3, its lwipopts.h, malloc for every pool). No lwIP
// code is part of utcp; this program only calls its raw TCP API.
//
// The same user pattern as `bench_e2e --only user`, one process, one thread: a client and a
// server endpoint joined by an in-memory wire; each round the client writes as much of the next
// 1 MiB as lwIP takes (TCP_WRITE_FLAG_COPY: lwIP copies, as utcp's send(string_view) does), the
// wire delivers every packet in flight, the server takes everything received in the round,
// checks every byte, and only then tells lwIP it has read them (tcp_recved), as a reader calling
// recv once per round would. lwIP keeps its stack in globals, so both endpoints live in one lwIP
// instance: two netifs, each endpoint's pcb bound to its own (tcp_bind_netif), so every segment
// leaves through one netif's output and enters through the other's input, checksums computed
// and verified (lwIP's defaults; Debian's build sums while it copies, LWIP_CHECKSUM_ON_COPY).
// The wire copies each packet into a fresh pbuf, which lwIP's input takes ownership of (a
// driver's receive buffer).
//
//   lwip_bulk BYTES
// prints "RESULT lwip_gbps_cpu x", "RESULT lwip_gbps_wall x", "RESULT lwip_data_segments n",
// "RESULT lwip_tcp_pcb_bytes n".
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <string>
#include <vector>

extern "C" {
#include "lwip/init.h"
#include "lwip/ip4.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/tcp.h"
}

#include "../byte_stream.hpp"

namespace {

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "lwip_bulk: %s\n", what);
  std::exit(1);
}

constexpr std::size_t kSend = 1u << 20;  // each round offers the next 1 MiB

double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

struct netif g_client, g_server;
std::deque<pbuf*> g_to_client, g_to_server;  // in flight
std::uint64_t g_data_segments = 0;

// Each netif's output: the packet, copied into a fresh pbuf, goes on the other side's queue.
err_t wire_output(struct netif* nif, struct pbuf* p, const ip4_addr_t*) {
  pbuf* copy = pbuf_clone(PBUF_RAW, PBUF_RAM, p);
  if (!copy) return ERR_MEM;
  // IPv4 header length plus TCP data offset: the payload bytes.
  const auto* b = static_cast<const std::uint8_t*>(copy->payload);
  const unsigned ihl = (b[0] & 0x0f) * 4u, doff = (b[ihl + 12] >> 4) * 4u;
  if (copy->tot_len > ihl + doff) ++g_data_segments;
  (nif == &g_client ? g_to_server : g_to_client).push_back(copy);
  return ERR_OK;
}

err_t netif_setup(struct netif* nif) {
  nif->output = wire_output;
  nif->mtu = 1500;
  nif->flags = NETIF_FLAG_UP | NETIF_FLAG_LINK_UP;
  return ERR_OK;
}

std::size_t deliver(std::deque<pbuf*>& q, struct netif* to) {
  std::size_t n = 0;
  while (!q.empty()) {
    pbuf* p = q.front();
    q.pop_front();
    to->input(p, to);  // takes the pbuf
    ++n;
  }
  return n;
}

struct Server {
  tcp_pcb* pcb = nullptr;
  pbuf* pending = nullptr;  // received this round, not yet read
  bool closed = false;
} g_srv;

err_t on_recv(void*, tcp_pcb*, pbuf* p, err_t) {
  if (!p) {
    g_srv.closed = true;
    return ERR_OK;
  }
  if (g_srv.pending)
    pbuf_cat(g_srv.pending, p);
  else
    g_srv.pending = p;
  return ERR_OK;
}

err_t on_accept(void*, tcp_pcb* pcb, err_t err) {
  if (err != ERR_OK || !pcb) return ERR_VAL;
  g_srv.pcb = pcb;
  tcp_recv(pcb, on_recv);
  return ERR_OK;
}

bool g_connected = false;
err_t on_connected(void*, tcp_pcb*, err_t err) {
  g_connected = err == ERR_OK;
  return ERR_OK;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) fail("usage: lwip_bulk BYTES");
  const std::uint64_t total = std::strtoull(argv[1], nullptr, 10);
  const std::string pattern = make_byte_stream();
  lwip_init();

  ip_addr_t ca, sa;
  IP_ADDR4(&ca, 10, 0, 0, 1);
  IP_ADDR4(&sa, 10, 0, 0, 2);
  ip4_addr_t mask, gw;
  IP4_ADDR(&mask, 255, 255, 255, 0);
  IP4_ADDR(&gw, 0, 0, 0, 0);
  if (!netif_add(&g_client, ip_2_ip4(&ca), &mask, &gw, nullptr, netif_setup, ip4_input)) fail("netif_add");
  if (!netif_add(&g_server, ip_2_ip4(&sa), &mask, &gw, nullptr, netif_setup, ip4_input)) fail("netif_add");
  netif_set_up(&g_client);
  netif_set_up(&g_server);

  tcp_pcb* l = tcp_new();
  tcp_bind_netif(l, &g_server);
  if (tcp_bind(l, &sa, 80) != ERR_OK) fail("tcp_bind");
  l = tcp_listen(l);
  if (!l) fail("tcp_listen");
  tcp_accept(l, on_accept);

  tcp_pcb* c = tcp_new();
  tcp_bind_netif(c, &g_client);
  if (tcp_bind(c, &ca, 40000) != ERR_OK) fail("tcp_bind client");
  if (tcp_connect(c, &sa, 80, on_connected) != ERR_OK) fail("tcp_connect");
  for (int i = 0; i < 10 && !(g_connected && g_srv.pcb); ++i) {
    deliver(g_to_server, &g_server);
    deliver(g_to_client, &g_client);
  }
  if (!g_connected || !g_srv.pcb) fail("handshake did not complete");

  std::uint64_t sent = 0, got = 0;
  bool bad = false;
  const std::uint64_t segs0 = g_data_segments;
  const double c0 = cpu_seconds();
  const auto w0 = std::chrono::steady_clock::now();
  while (got < total) {
    bool progress = false;
    if (sent < total) {
      // As much of the next 1 MiB as lwIP takes: its send buffer, then its segment queue
      // (ERR_MEM: offer half as much).
      std::size_t n = static_cast<std::size_t>(
          std::min<std::uint64_t>({kSend, total - sent, std::uint64_t{tcp_sndbuf(c)}}));
      while (n > 0 &&
             tcp_write(c, pattern.data() + sent % kStreamPeriod,
                       static_cast<u16_t>(std::min<std::size_t>(n, 0xffff)), TCP_WRITE_FLAG_COPY) != ERR_OK)
        n /= 2;
      n = std::min<std::size_t>(n, 0xffff);
      if (n > 0) {
        sent += n;
        progress = true;
      }
      tcp_output(c);
    }
    progress |= deliver(g_to_server, &g_server) > 0;
    if (g_srv.pending) {
      // The reader: every byte received this round, checked, then handed back as window.
      pbuf* p = g_srv.pending;
      g_srv.pending = nullptr;
      const u16_t len = p->tot_len;
      for (pbuf* q = p; q; q = q->next) {
        if (std::memcmp(q->payload, pattern.data() + got % kStreamPeriod, q->len) != 0) bad = true;
        got += q->len;
      }
      pbuf_free(p);
      tcp_recved(g_srv.pcb, len);
      progress = true;
    }
    progress |= deliver(g_to_client, &g_client) > 0;
    if (!progress) tcp_tmr();  // a delayed ACK is due: let lwIP's timers run
  }
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - w0).count();
  const double cpu = cpu_seconds() - c0;
  if (bad || got != total) fail("received bytes differ from those sent");
  const double bits = static_cast<double>(total) * 8;
  std::printf("RESULT lwip_gbps_cpu %.6g\n", bits / cpu / 1e9);
  std::printf("RESULT lwip_gbps_wall %.6g\n", bits / wall / 1e9);
  std::printf("RESULT lwip_data_segments %llu\n", static_cast<unsigned long long>(g_data_segments - segs0));
  std::printf("RESULT lwip_tcp_pcb_bytes %zu\n", sizeof(struct tcp_pcb));
  return 0;
}
