/* The versioned structs of the C ABI from C (posix.h, "Versioned structs"): utcp_host_config
 * and utcp_host_stats passed at each version's size, as programs built against older and
 * newer headers pass them, and through the unsized symbols that programs built before the
 * sized calls link to. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "utcp/posix.h"

static int failures;

#define CHECK(cond)                                                     \
  do {                                                                  \
    if (!(cond)) {                                                      \
      fprintf(stderr, "%s:%d: CHECK(%s)\n", __FILE__, __LINE__, #cond); \
      ++failures;                                                       \
    }                                                                   \
  } while (0)

#define CANARY 0xA5

/* Every byte of p[from, to) is c. */
static int all_bytes(const unsigned char* p, size_t from, size_t to, unsigned char c) {
  for (size_t i = from; i < to; ++i)
    if (p[i] != c) return 0;
  return 1;
}

static void config_versions(void) {
  /* Room for a struct larger than this library's, as a newer header would declare it. */
  unsigned char buf[sizeof(utcp_host_config) + 16];
  utcp_host_config* cfg = (utcp_host_config*)(void*)buf;
  utcp_host* h;

  /* A V1 caller: its struct ends after mtu; whatever lies beyond (here 0xFF, which as flags
   * would be refused) is not read. */
  memset(buf, 0xFF, sizeof buf);
  cfg->addr = "10.0.0.1";
  cfg->seed = 1;
  cfg->mtu = 1500;
  h = utcp_host_new_sized(cfg, UTCP_HOST_CONFIG_V1_SIZE);
  CHECK(h != NULL);
  utcp_host_free(h);
  /* The same bytes read as V2: flags 0xFFFFFFFF has unknown bits. */
  errno = 0;
  CHECK(utcp_host_new_sized(cfg, UTCP_HOST_CONFIG_V2_SIZE) == NULL && errno == EINVAL);
  cfg->flags = UTCP_HOST_NO_SACK | UTCP_HOST_NO_TIMESTAMPS;
  h = utcp_host_new_sized(cfg, UTCP_HOST_CONFIG_V2_SIZE);
  CHECK(h != NULL);
  utcp_host_free(h);

  /* A newer caller: fields past this library's struct must be unset. */
  memset(buf + sizeof(utcp_host_config), 0, sizeof buf - sizeof(utcp_host_config));
  h = utcp_host_new_sized(cfg, sizeof buf);
  CHECK(h != NULL);
  utcp_host_free(h);
  buf[sizeof buf - 1] = 1;
  errno = 0;
  CHECK(utcp_host_new_sized(cfg, sizeof buf) == NULL && errno == E2BIG);

  /* Too small, null. */
  errno = 0;
  CHECK(utcp_host_new_sized(cfg, UTCP_HOST_CONFIG_V1_SIZE - 1) == NULL && errno == EINVAL);
  errno = 0;
  CHECK(utcp_host_new_sized(NULL, sizeof(utcp_host_config)) == NULL && errno == EFAULT);
  errno = 0;
  CHECK(utcp_host_new(NULL) == NULL && errno == EFAULT);

  /* The macro (this header's size) and the unsized symbol an older program links to. */
  {
    utcp_host_config c = {"10.0.0.1", 1, 0, 0};
    h = utcp_host_new(&c);
    CHECK(h != NULL);
    utcp_host_free(h);
    h = (utcp_host_new)(&c);
    CHECK(h != NULL);
    utcp_host_free(h);
    c.flags = 0x80000000u;
    errno = 0;
    CHECK((utcp_host_new)(&c) == NULL && errno == EINVAL);
  }
}

static void pump(utcp_host* from, utcp_host* to) {
  unsigned char pkt[65536];
  ssize_t n;
  while ((n = utcp_host_output(from, pkt, sizeof pkt)) >= 0) utcp_host_input(to, pkt, (size_t)n);
}

/* Two hosts with a connection between them and one packet dropped, so that V1 counters are
 * not all zero. Returns the client host; *server set. */
static utcp_host* connected_pair(utcp_host** server) {
  utcp_host_config ca = {"192.168.1.1", 21, 0, 0}, cb = {"192.168.1.2", 22, 0, 0};
  utcp_host *a = utcp_host_new(&ca), *b = utcp_host_new(&cb);
  struct sockaddr_in sin;
  int l, c;
  const unsigned char junk[3] = {0x45, 0, 0};
  CHECK(a != NULL && b != NULL);
  memset(&sin, 0, sizeof sin);
  sin.sin_family = AF_INET;
  sin.sin_port = htons(7001);
  l = utcp_socket(b, AF_INET, SOCK_STREAM, 0);
  CHECK(utcp_bind(b, l, (struct sockaddr*)&sin, sizeof sin) == 0);
  CHECK(utcp_listen(b, l, 4) == 0);
  inet_pton(AF_INET, "192.168.1.2", &sin.sin_addr);
  c = utcp_socket(a, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  CHECK(utcp_connect(a, c, (struct sockaddr*)&sin, sizeof sin) == -1 && errno == EINPROGRESS);
  for (int i = 0; i < 3; ++i) {
    pump(a, b);
    pump(b, a);
  }
  CHECK(utcp_host_input(a, junk, sizeof junk) == -1);
  *server = b;
  return a;
}

static void stats_versions(void) {
  utcp_host* b;
  utcp_host* a = connected_pair(&b);
  utcp_host_stats full;
  unsigned char buf[sizeof(utcp_host_stats) + 32];
  utcp_host_stats* st = (utcp_host_stats*)(void*)buf;

  /* This header's size through the macro: every counter. */
  memset(&full, CANARY, sizeof full);
  CHECK(utcp_host_get_stats(a, &full) == 0);
  CHECK(full.connections == 1 && full.tcp_segments_out >= 2 && full.ip_in >= 2);
  CHECK(full.ip_drops[UTCP_IP_TOO_SHORT] == 1);
  CHECK(full.tcp_recoveries_undone == 0 && full.gso_out == 0); /* written: not the canary */

  /* Each older version: its counters, and not a byte past its size. */
  {
    const size_t sizes[] = {UTCP_HOST_STATS_V1_SIZE, UTCP_HOST_STATS_V2_SIZE, UTCP_HOST_STATS_V3_SIZE};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; ++i) {
      memset(buf, CANARY, sizeof buf);
      CHECK(utcp_host_get_stats_sized(a, st, sizes[i]) == (ssize_t)sizes[i]);
      CHECK(memcmp(buf, &full, sizes[i]) == 0);
      CHECK(all_bytes(buf, sizes[i], sizeof buf, CANARY));
    }
  }

  /* The unsized symbol a program built before the sized call links to: V1 only. */
  memset(buf, CANARY, sizeof buf);
  CHECK((utcp_host_get_stats)(a, st) == 0);
  CHECK(memcmp(buf, &full, UTCP_HOST_STATS_V1_SIZE) == 0);
  CHECK(all_bytes(buf, UTCP_HOST_STATS_V1_SIZE, sizeof buf, CANARY));

  /* A newer caller's larger struct: this library's counters, the rest zeroed, and the return
   * says how much was counters. */
  memset(buf, CANARY, sizeof buf);
  CHECK(utcp_host_get_stats_sized(a, st, sizeof buf - 8) == (ssize_t)sizeof(utcp_host_stats));
  CHECK(memcmp(buf, &full, sizeof full) == 0);
  CHECK(all_bytes(buf, sizeof(utcp_host_stats), sizeof buf - 8, 0));
  CHECK(all_bytes(buf, sizeof buf - 8, sizeof buf, CANARY));

  /* Too small, null. */
  memset(buf, CANARY, sizeof buf);
  errno = 0;
  CHECK(utcp_host_get_stats_sized(a, st, UTCP_HOST_STATS_V1_SIZE - 1) == -1 && errno == EINVAL);
  CHECK(all_bytes(buf, 0, sizeof buf, CANARY));
  errno = 0;
  CHECK(utcp_host_get_stats_sized(a, NULL, sizeof(utcp_host_stats)) == -1 && errno == EFAULT);
  errno = 0;
  CHECK(utcp_host_get_stats(a, NULL) == -1 && errno == EFAULT);

  utcp_host_free(a);
  utcp_host_free(b);
}

int main(void) {
  config_versions();
  stats_versions();
  if (failures != 0) {
    fprintf(stderr, "%d checks failed\n", failures);
    return 1;
  }
  printf("abi_versions: all checks passed\n");
  return 0;
}
