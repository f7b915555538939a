/* A TCP echo client over utcp's C ABI: one utcp host (10.0.0.2) whose IP packets travel as
 * UDP datagrams to an echo server's UDP port on 127.0.0.1 (udp_link.h). It connects to
 * 10.0.0.1:7, sends its arguments as one line, shuts down its sending side and prints what
 * comes back until the server closes. Blocking calls throughout, as with BSD sockets.
 *
 *   echo_client UDP_PORT WORD...
 *
 * Exits 0 when the echo is exactly what it sent. Try it against examples/echo_server or
 * examples/core_echo. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "udp_link.h"
#include "utcp/posix.h"

static void die(const char* what) {
  fprintf(stderr, "echo_client: %s: %s\n", what, strerror(errno));
  exit(1);
}

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: echo_client UDP_PORT WORD...\n");
    return 2;
  }
  unsigned long udp_port = strtoul(argv[1], NULL, 10);
  if (udp_port == 0 || udp_port > 65535) {
    fprintf(stderr, "echo_client: bad UDP port '%s'\n", argv[1]);
    return 2;
  }
  size_t len = 0;
  for (int i = 2; i < argc; ++i) len += strlen(argv[i]) + 1;
  char *line = malloc(len + 1), *back = malloc(len + 1);
  if (!line || !back) die("malloc");
  line[0] = '\0';
  for (int i = 2; i < argc; ++i) {
    strcat(line, argv[i]);
    strcat(line, i + 1 < argc ? " " : "\n");
  }

  utcp_host_config cfg = {.addr = "10.0.0.2", .seed = 0, .mtu = 1500};
  utcp_host* h = utcp_host_new(&cfg);
  if (!h) die("utcp_host_new");
  udp_link* link = udp_link_open(h, 0, (uint16_t)udp_port);
  if (!link) die("udp link");

  int fd = utcp_socket(h, AF_INET, SOCK_STREAM, 0);
  if (fd < 0) die("utcp_socket");
  /* A write that waits more than 5 s for room fails (host time: the pump keeps it at real time). */
  struct timeval five = {5, 0};
  utcp_setsockopt(h, fd, SOL_SOCKET, SO_SNDTIMEO, &five, sizeof five);
  struct sockaddr_in server = {.sin_family = AF_INET, .sin_port = htons(7)};
  inet_pton(AF_INET, "10.0.0.1", &server.sin_addr);
  /* A blocking utcp_connect would queue the SYN and wait before we could kick the pump to
   * send it: connect without blocking, kick, then wait in utcp_poll (5 s of host time). */
  int fl = utcp_fcntl(h, fd, F_GETFL, 0);
  utcp_fcntl(h, fd, F_SETFL, fl | O_NONBLOCK);
  if (utcp_connect(h, fd, (struct sockaddr*)&server, sizeof server) < 0 && errno != EINPROGRESS)
    die("connect");
  udp_link_kick(link);
  struct pollfd p = {.fd = fd, .events = POLLOUT};
  int err = 0;
  socklen_t elen = sizeof err;
  if (utcp_poll(h, &p, 1, 5000) != 1 || utcp_getsockopt(h, fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0 ||
      err) {
    errno = err ? err : ETIMEDOUT;
    die("connect to 10.0.0.1:7");
  }
  utcp_fcntl(h, fd, F_SETFL, fl); /* blocking again */

  if (utcp_write(h, fd, line, len) != (ssize_t)len) die("write");
  utcp_shutdown(h, fd, SHUT_WR); /* our FIN: the server closes after echoing everything */
  udp_link_kick(link);

  size_t got = 0;
  for (;;) {
    ssize_t n = utcp_read(h, fd, back + got, len + 1 - got);
    udp_link_kick(link); /* a read may open the window: tell the server */
    if (n < 0) die("read");
    if (n == 0) break;
    got += (size_t)n;
    if (got > len) break; /* more than we sent: not an echo */
  }
  fwrite(back, 1, got, stdout);
  utcp_close(h, fd);
  udp_link_close(link); /* sends what close queued */
  utcp_host_free(h);
  int ok = got == len && memcmp(line, back, len) == 0;
  if (!ok) fprintf(stderr, "echo_client: the echo differs from what was sent (%zu of %zu bytes)\n", got, len);
  free(line);
  free(back);
  return ok ? 0 : 1;
}
