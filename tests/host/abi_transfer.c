/* The C ABI from C: two hosts, a pump thread moving packets and virtual time, a server
 * thread blocking in accept and read, a client writing 10 MiB; both close; data verified. */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "utcp/posix.h"

#define TOTAL (10u << 20)
#define PORT 7000

static utcp_host *a, *b;
static atomic_int stop;
static atomic_uint_fast64_t now_ns;
static unsigned char *sent_data, *recv_data;
static size_t received;
static int server_errno;
static int listener;

static unsigned char byte_at(size_t i) {
  return (unsigned char)((i * 2654435761u) >> 13);
}

static int move_packets(utcp_host* from, utcp_host* to) {
  static unsigned char buf[65536];
  int moved = 0;
  for (;;) {
    ssize_t n = utcp_host_output(from, buf, sizeof buf);
    if (n < 0) return moved;
    utcp_host_input(to, buf, (size_t)n);
    ++moved;
  }
}

static void* pump(void* arg) {
  (void)arg;
  int idle = 0;
  while (!atomic_load(&stop)) {
    int moved = move_packets(a, b) + move_packets(b, a);
    if (moved > 0) {
      idle = 0;
      continue;
    }
    if (++idle < 4) {
      struct timespec ts = {0, 20000};
      nanosleep(&ts, NULL);
      continue;
    }
    uint64_t next = atomic_load(&now_ns) + 1000000;
    int64_t da = utcp_host_next_deadline(a), db = utcp_host_next_deadline(b);
    if (da >= 0 && (uint64_t)da < next) next = (uint64_t)da;
    if (db >= 0 && (uint64_t)db < next) next = (uint64_t)db;
    if (next < atomic_load(&now_ns)) next = atomic_load(&now_ns);
    atomic_store(&now_ns, next);
    utcp_host_set_time(a, next);
    utcp_host_set_time(b, next);
    idle = 0;
  }
  return NULL;
}

static void* server(void* arg) {
  (void)arg;
  struct sockaddr_in peer;
  socklen_t plen = sizeof peer;
  int fd = utcp_accept(b, listener, (struct sockaddr*)&peer, &plen);
  if (fd < 0) {
    server_errno = errno;
    return NULL;
  }
  for (;;) {
    ssize_t n =
        utcp_read(b, fd, recv_data + received, TOTAL - received < 65536 ? TOTAL - received + 1 : 65536);
    if (n < 0) {
      server_errno = errno;
      break;
    }
    if (n == 0) break;
    received += (size_t)n;
  }
  utcp_close(b, fd);
  return NULL;
}

#define CHECK(cond)                                                                                     \
  do {                                                                                                  \
    if (!(cond)) {                                                                                      \
      fprintf(stderr, "%s:%d: %s (errno %d: %s)\n", __FILE__, __LINE__, #cond, errno, strerror(errno)); \
      return 1;                                                                                         \
    }                                                                                                   \
  } while (0)

int main(void) {
  utcp_host_config ca = {"192.168.1.1", 11, 0, 0};
  utcp_host_config cb = {"192.168.1.2", 12, 0, 0};
  a = utcp_host_new(&ca);
  b = utcp_host_new(&cb);
  CHECK(a != NULL && b != NULL);
  sent_data = malloc(TOTAL);
  recv_data = malloc(TOTAL + 1);
  CHECK(sent_data != NULL && recv_data != NULL);
  for (size_t i = 0; i < TOTAL; ++i) sent_data[i] = byte_at(i);

  listener = utcp_socket(b, AF_INET, SOCK_STREAM, IPPROTO_TCP);
  CHECK(listener == 3);
  struct sockaddr_in addr;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_port = htons(PORT);
  addr.sin_addr.s_addr = htonl(INADDR_ANY);
  CHECK(utcp_bind(b, listener, (struct sockaddr*)&addr, sizeof addr) == 0);
  CHECK(utcp_listen(b, listener, 4) == 0);

  pthread_t pump_thread, server_thread;
  CHECK(pthread_create(&server_thread, NULL, server, NULL) == 0);
  CHECK(pthread_create(&pump_thread, NULL, pump, NULL) == 0);

  int c = utcp_socket(a, AF_INET, SOCK_STREAM, 0);
  CHECK(c == 3);
  CHECK(inet_pton(AF_INET, "192.168.1.2", &addr.sin_addr) == 1);
  CHECK(utcp_connect(a, c, (struct sockaddr*)&addr, sizeof addr) == 0);
  size_t off = 0;
  while (off < TOTAL) {
    size_t chunk = TOTAL - off < 123457 ? TOTAL - off : 123457;
    ssize_t n = utcp_write(a, c, sent_data + off, chunk);
    CHECK(n > 0);
    off += (size_t)n;
  }
  CHECK(utcp_close(a, c) == 0);
  CHECK(pthread_join(server_thread, NULL) == 0);
  CHECK(server_errno == 0);
  CHECK(received == TOTAL);
  CHECK(memcmp(sent_data, recv_data, TOTAL) == 0);
  CHECK(utcp_close(b, listener) == 0);

  utcp_host_stats st;
  CHECK(utcp_host_get_stats(b, &st) == 0);
  CHECK(st.ip_in > 0 && st.tcp_in == st.ip_in);
  atomic_store(&stop, 1);
  CHECK(pthread_join(pump_thread, NULL) == 0);
  utcp_host_free(a);
  utcp_host_free(b);
  free(sent_data);
  free(recv_data);
  printf("abi_transfer: %u bytes verified\n", TOTAL);
  return 0;
}
