/* A TCP echo server over utcp's C ABI: one utcp host (10.0.0.1) whose IP packets travel as
 * UDP datagrams on 127.0.0.1 (udp_link.h), a listening socket on port 7, and utcp_poll over
 * the listener and every connection, as a program written for BSD sockets would do.
 *
 *   echo_server [UDP_PORT [CONNECTIONS]]
 *
 * UDP_PORT 0 (the default) picks a free port; the first line printed names it. With
 * CONNECTIONS the server exits 0 once it has served that many and they have closed.
 * Try it with examples/echo_client. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "udp_link.h"
#include "utcp/posix.h"

#define MAX_CONNS 64
#define ECHO_PORT 7

static void die(const char* what) {
  fprintf(stderr, "echo_server: %s: %s\n", what, strerror(errno));
  exit(1);
}

int main(int argc, char** argv) {
  unsigned udp_port = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 0;
  long to_serve = argc > 2 ? strtol(argv[2], NULL, 10) : -1;

  utcp_host_config cfg = {.addr = "10.0.0.1", .seed = 0, .mtu = 1500}; /* seed 0: OS entropy */
  utcp_host* h = utcp_host_new(&cfg);
  if (!h) die("utcp_host_new");
  udp_link* link = udp_link_open(h, (uint16_t)udp_port, 0);
  if (!link) die("udp link");

  int lfd = utcp_socket(h, AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in me = {.sin_family = AF_INET, .sin_port = htons(ECHO_PORT)};
  if (lfd < 0 || utcp_bind(h, lfd, (struct sockaddr*)&me, sizeof me) < 0 || utcp_listen(h, lfd, 16) < 0)
    die("listen");
  printf("echo_server: tcp 10.0.0.1:%d over udp 127.0.0.1:%u\n", ECHO_PORT, (unsigned)udp_link_port(link));
  fflush(stdout);

  struct pollfd fds[1 + MAX_CONNS];
  int nconn = 0;
  long served = 0;
  char buf[16384];
  while (to_serve < 0 || served < to_serve) {
    fds[0] = (struct pollfd){.fd = lfd, .events = POLLIN};
    for (int i = 0; i < nconn; ++i) fds[1 + i].events = POLLIN, fds[1 + i].revents = 0;
    /* Blocks until the pump thread delivers a packet or moves the clock that makes one ready. */
    if (utcp_poll(h, fds, (nfds_t)(1 + nconn), -1) < 0) die("utcp_poll");

    if ((fds[0].revents & POLLIN) && nconn < MAX_CONNS) {
      int c = utcp_accept(h, lfd, NULL, NULL);
      udp_link_kick(link);
      if (c >= 0) fds[1 + nconn++] = (struct pollfd){.fd = c, .events = POLLIN};
    }
    for (int i = 0; i < nconn; ++i) {
      if (!(fds[1 + i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      int fd = fds[1 + i].fd;
      ssize_t n = utcp_recv(h, fd, buf, sizeof buf, MSG_DONTWAIT);
      if (n < 0 && errno == EAGAIN) continue;
      /* Blocking write: waits for room if the client reads slowly. (A client that writes
       * everything before it reads anything must keep its message below the buffers.) */
      if (n > 0 && utcp_write(h, fd, buf, (size_t)n) == n) {
        udp_link_kick(link); /* the data (and the window update of the read) go out now */
        continue;
      }
      /* n == 0: the client finished sending; an error: the connection is gone. Either way,
       * close (a FIN after everything written) and forget the fd. */
      utcp_close(h, fd);
      udp_link_kick(link);
      fds[1 + i] = fds[nconn--];
      --i;
      ++served;
    }
  }

  /* Let the last FINs be acknowledged (the connections leave LAST-ACK), at most 5 s. */
  for (int i = 0; i < 500; ++i) {
    utcp_host_stats st;
    if (utcp_host_get_stats(h, &st) == 0 && st.connections == 0) break;
    nanosleep(&(struct timespec){0, 10000000}, NULL);
  }
  utcp_close(h, lfd);
  udp_link_close(link);
  utcp_host_free(h);
  printf("echo_server: served %ld connection(s)\n", served);
  return 0;
}
