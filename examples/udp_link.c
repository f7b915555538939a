/* See udp_link.h. */
#define _GNU_SOURCE
#include "udp_link.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct udp_link {
  utcp_host* host;
  int udp;
  int kick[2]; /* a pipe: the application writes a byte, the pump wakes */
  atomic_int kicked, stop;
  struct sockaddr_in peer; /* guarded by the pump: only it reads or writes after open */
  int have_peer;
  uint64_t t0; /* CLOCK_MONOTONIC at open: host time 0 */
  pthread_t thread;
};

static uint64_t monotonic_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* One pass: time, packets in, packets out. */
static void pump_once(udp_link* l) {
  unsigned char buf[65536];
  utcp_host_set_time(l->host, monotonic_ns() - l->t0);
  for (;;) {
    struct sockaddr_in from;
    socklen_t flen = sizeof from;
    ssize_t n = recvfrom(l->udp, buf, sizeof buf, MSG_DONTWAIT, (struct sockaddr*)&from, &flen);
    if (n < 0) break;
    if (!l->have_peer) {
      l->peer = from;
      l->have_peer = 1;
    }
    utcp_host_input(l->host, buf, (size_t)n); /* -1: the host dropped it and counted why */
  }
  for (;;) {
    ssize_t n = utcp_host_output(l->host, buf, sizeof buf);
    if (n < 0) break;
    if (l->have_peer) sendto(l->udp, buf, (size_t)n, 0, (struct sockaddr*)&l->peer, sizeof l->peer);
  }
}

static void* pump(void* arg) {
  udp_link* l = arg;
  while (!atomic_load(&l->stop)) {
    /* Sleep until the next timer (rounded up to a whole ms), a datagram or a kick; at most
     * 10 ms, for packets queued by a blocking call that could not kick (udp_link.h). */
    int timeout_ms = 10;
    int64_t deadline = utcp_host_next_deadline(l->host);
    if (deadline >= 0) {
      int64_t wait = deadline - (int64_t)(monotonic_ns() - l->t0);
      if (wait <= 0)
        timeout_ms = 0;
      else if (wait < 10000000)
        timeout_ms = (int)((wait + 999999) / 1000000);
    }
    struct pollfd p[2] = {{l->udp, POLLIN, 0}, {l->kick[0], POLLIN, 0}};
    if (poll(p, 2, timeout_ms) < 0 && errno != EINTR) break;
    if (p[1].revents & POLLIN) {
      char drain[64];
      atomic_store(&l->kicked, 0);
      while (read(l->kick[0], drain, sizeof drain) > 0) {
      }
    }
    pump_once(l);
  }
  pump_once(l); /* what the last calls queued (a FIN, an RST) still goes out */
  return NULL;
}

udp_link* udp_link_open(utcp_host* h, uint16_t local_port, uint16_t peer_port) {
  udp_link* l = calloc(1, sizeof *l);
  if (!l) return NULL;
  l->host = h;
  l->t0 = monotonic_ns();
  l->udp = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in me = {.sin_family = AF_INET, .sin_port = htons(local_port)};
  me.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (l->udp < 0 || bind(l->udp, (struct sockaddr*)&me, sizeof me) < 0 ||
      pipe2(l->kick, O_NONBLOCK | O_CLOEXEC) < 0) {
    int e = errno;
    if (l->udp >= 0) close(l->udp);
    free(l);
    errno = e;
    return NULL;
  }
  if (peer_port) {
    l->peer = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons(peer_port)};
    l->peer.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    l->have_peer = 1;
  }
  int e = pthread_create(&l->thread, NULL, pump, l);
  if (e) {
    close(l->udp);
    close(l->kick[0]);
    close(l->kick[1]);
    free(l);
    errno = e;
    return NULL;
  }
  return l;
}

uint16_t udp_link_port(const udp_link* l) {
  struct sockaddr_in me;
  socklen_t len = sizeof me;
  if (getsockname(l->udp, (struct sockaddr*)&me, &len) < 0) return 0;
  return ntohs(me.sin_port);
}

void udp_link_kick(udp_link* l) {
  if (atomic_exchange(&l->kicked, 1)) return; /* already woken, not yet run */
  char one = 1;
  if (write(l->kick[1], &one, 1) < 0) { /* the pipe is full: the pump is awake anyway */
  }
}

void udp_link_close(udp_link* l) {
  char one = 1;
  atomic_store(&l->stop, 1);
  if (write(l->kick[1], &one, 1) < 0) { /* full: the pump is awake anyway */
  }
  pthread_join(l->thread, NULL);
  close(l->udp);
  close(l->kick[0]);
  close(l->kick[1]);
  free(l);
}
