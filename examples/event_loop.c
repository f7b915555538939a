/* A single-threaded event loop over utcp's C ABI: no threads, no blocking, virtual time.
 * Two hosts in one process (client 10.0.0.2, server 10.0.0.1) joined by an in-memory link
 * that drops every DROP_EVERY-th packet; the client sends BYTES to an echo server and checks
 * every byte that comes back; both close. Deterministic: the same output on every run.
 *
 *   event_loop [BYTES [DROP_EVERY]]        defaults 1048576 and 50 (0: no loss)
 *
 * The loop's order is the point of the example (docs/HOST.md, "Driving a host"):
 *   1. move packets until none is queued on either side,
 *   2. run the application until it can make no progress,
 *   3. only when both are idle, advance time, to the earliest deadline of either host.
 * Advancing time while packets wait or the application could act lets timers fire that the
 * waiting work would have cancelled: a retransmission for a segment whose ACK is queued, a
 * zero-window probe for a window the reader was about to open. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "utcp/posix.h"

static unsigned char pattern(size_t i) {
  return (unsigned char)((i * 2654435761u) >> 13);
}

static void check(int ok, const char* what) {
  if (!ok) {
    fprintf(stderr, "event_loop: %s: %s\n", what, strerror(errno));
    exit(1);
  }
}

/* ---- the link: every packet `from` has queued goes to `to`, except every drop_every-th ---- */
static unsigned long packets, dropped, drop_every;

static int move_packets(utcp_host* from, utcp_host* to) {
  unsigned char buf[65536];
  int moved = 0;
  ssize_t n;
  while ((n = utcp_host_output(from, buf, sizeof buf)) >= 0) {
    ++moved;
    ++packets;
    if (drop_every && packets % drop_every == 0) {
      ++dropped;
      continue;
    }
    utcp_host_input(to, buf, (size_t)n);
  }
  return moved;
}

/* ---- the application: non-blocking calls; each step returns whether it made progress ---- */
static struct {
  size_t total;
  int listener, server_fd, client_fd; /* -1: none (yet, or any more) */
  int connected, client_shut;
  size_t sent, echoed;          /* client: bytes written, bytes read back */
  unsigned char pending[65536]; /* server: read but not yet written back */
  size_t pending_len;
  int server_eof;
} app = {.listener = -1, .server_fd = -1, .client_fd = -1};

static int client_step(utcp_host* c) {
  int progress = 0;
  if (app.client_fd < 0) return 0;
  if (!app.connected) {
    struct pollfd p = {.fd = app.client_fd, .events = POLLOUT};
    if (utcp_poll(c, &p, 1, 0) == 0) return 0; /* still in the handshake */
    int err = 0;
    socklen_t len = sizeof err;
    utcp_getsockopt(c, app.client_fd, SOL_SOCKET, SO_ERROR, &err, &len);
    errno = err;
    check(err == 0, "connect");
    app.connected = 1;
    progress = 1;
  }
  while (app.sent < app.total) { /* write what fits */
    unsigned char chunk[16384];
    size_t n = app.total - app.sent < sizeof chunk ? app.total - app.sent : sizeof chunk;
    for (size_t i = 0; i < n; ++i) chunk[i] = pattern(app.sent + i);
    ssize_t w = utcp_write(c, app.client_fd, chunk, n);
    if (w < 0 && errno == EAGAIN) break;
    check(w > 0, "client write");
    app.sent += (size_t)w;
    progress = 1;
  }
  if (app.sent == app.total && !app.client_shut) {
    check(utcp_shutdown(c, app.client_fd, SHUT_WR) == 0, "shutdown");
    app.client_shut = progress = 1;
  }
  for (;;) { /* read the echo and check it */
    unsigned char buf[16384];
    ssize_t r = utcp_read(c, app.client_fd, buf, sizeof buf);
    if (r < 0 && errno == EAGAIN) break;
    check(r >= 0, "client read");
    progress = 1;
    if (r == 0) { /* the server closed after echoing everything */
      if (app.echoed != app.total) {
        fprintf(stderr, "event_loop: end of stream after %zu of %zu bytes\n", app.echoed, app.total);
        exit(1);
      }
      utcp_close(c, app.client_fd);
      app.client_fd = -1;
      break;
    }
    for (ssize_t i = 0; i < r; ++i) {
      if (buf[i] != pattern(app.echoed + (size_t)i)) {
        fprintf(stderr, "event_loop: byte %zu of the echo differs\n", app.echoed + (size_t)i);
        exit(1);
      }
    }
    app.echoed += (size_t)r;
  }
  return progress;
}

static int server_step(utcp_host* s) {
  int progress = 0;
  if (app.server_fd < 0 && app.listener >= 0) {
    int fd = utcp_accept(s, app.listener, NULL, NULL);
    if (fd < 0 && errno == EAGAIN) return 0;
    check(fd >= 0, "accept");
    utcp_fcntl(s, fd, F_SETFL, O_NONBLOCK); /* accept does not inherit O_NONBLOCK */
    utcp_close(s, app.listener);
    app.listener = -1;
    app.server_fd = fd;
    progress = 1;
  }
  if (app.server_fd < 0) return progress;
  for (;;) {
    if (app.pending_len > 0) { /* write back what was read */
      ssize_t w = utcp_write(s, app.server_fd, app.pending, app.pending_len);
      if (w < 0 && errno == EAGAIN) break;
      check(w > 0, "server write");
      memmove(app.pending, app.pending + w, app.pending_len - (size_t)w);
      app.pending_len -= (size_t)w;
      progress = 1;
      continue;
    }
    if (app.server_eof) { /* everything echoed: close (our FIN) */
      utcp_close(s, app.server_fd);
      app.server_fd = -1;
      return 1;
    }
    ssize_t r = utcp_read(s, app.server_fd, app.pending, sizeof app.pending);
    if (r < 0 && errno == EAGAIN) break;
    check(r >= 0, "server read");
    if (r == 0) app.server_eof = 1;
    app.pending_len = (size_t)r;
    progress = 1;
  }
  return progress;
}

static uint64_t connections(utcp_host* h) {
  utcp_host_stats st;
  utcp_host_get_stats(h, &st);
  return st.connections;
}

int main(int argc, char** argv) {
  app.total = argc > 1 ? (size_t)strtoull(argv[1], NULL, 10) : 1u << 20;
  drop_every = argc > 2 ? strtoul(argv[2], NULL, 10) : 50;

  /* Fixed seeds: the same ISNs and ports, so the same packets, on every run. */
  utcp_host_config cc = {.addr = "10.0.0.2", .seed = 1}, sc = {.addr = "10.0.0.1", .seed = 2};
  utcp_host *client = utcp_host_new(&cc), *server = utcp_host_new(&sc);
  check(client && server, "utcp_host_new");

  app.listener = utcp_socket(server, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(7)};
  check(utcp_bind(server, app.listener, (struct sockaddr*)&addr, sizeof addr) == 0, "bind");
  check(utcp_listen(server, app.listener, 1) == 0, "listen");
  app.client_fd = utcp_socket(client, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  addr.sin_addr.s_addr = htonl(0x0a000001); /* 10.0.0.1 */
  check(utcp_connect(client, app.client_fd, (struct sockaddr*)&addr, sizeof addr) < 0 && errno == EINPROGRESS,
        "connect");

  uint64_t now = 0, jumps = 0;
  for (;;) {
    /* 1. packets */
    int moved = 0;
    while (move_packets(client, server) + move_packets(server, client) > 0) moved = 1;
    /* 2. the application */
    int worked = client_step(client) | server_step(server);
    if (moved || worked) continue;
    /* 3. idle: time moves on, to the earliest deadline. A real-time loop sleeps in poll(2)
     * until then (or until a packet arrives) and sets the clock it reads. */
    int64_t dc = utcp_host_next_deadline(client), ds = utcp_host_next_deadline(server);
    if (dc < 0 && ds < 0) break; /* nothing will ever happen again */
    uint64_t next = dc < 0 ? (uint64_t)ds : ds < 0 ? (uint64_t)dc : (uint64_t)(dc < ds ? dc : ds);
    if (next > now) now = next;
    utcp_host_set_time(client, now); /* runs every timer now due */
    utcp_host_set_time(server, now);
    ++jumps;
  }

  int ok = app.echoed == app.total && app.client_fd < 0 && app.server_fd < 0 && connections(client) == 0 &&
           connections(server) == 0;
  utcp_host_stats st;
  utcp_host_get_stats(client, &st);
  printf("event_loop: %zu bytes echoed and checked, %s\n", app.echoed, ok ? "both sides closed" : "NOT DONE");
  printf("  packets %lu, %lu dropped by the link; client retransmissions %llu\n", packets, dropped,
         (unsigned long long)st.tcp_retransmits);
  printf("  virtual time %.3f s (TIME-WAIT included), %llu idle jumps\n", (double)now / 1e9,
         (unsigned long long)jumps);
  utcp_host_free(client);
  utcp_host_free(server);
  return ok ? 0 : 1;
}
