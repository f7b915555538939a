/* The host layer's C ABI: POSIX-shaped sockets over one utcp stack (DESIGN.md, normative).
 *
 * POSIX semantics throughout: calls return -1 and set errno on failure. Thread-safe: any call
 * from any thread. A blocking call (the default) waits until another thread's
 * utcp_host_input, utcp_host_set_time or user call makes it ready; O_NONBLOCK (utcp_fcntl)
 * gives EAGAIN / EINPROGRESS instead. Timeouts (utcp_poll, SO_RCVTIMEO, SO_SNDTIMEO) count
 * host time, the time set by utcp_host_set_time. docs/HOST.md has the details. */
#ifndef UTCP_POSIX_H
#define UTCP_POSIX_H

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct utcp_host utcp_host;

/* Versioned structs. A struct the caller and the library share only ever grows at its end;
 * the caller's compiled size tells the library which version it holds. The calls that take
 * one (utcp_host_new, utcp_host_get_stats) are macros over *_sized functions that pass
 * sizeof the struct as this header declares it, so a program built against an older header
 * keeps working with a newer library and the other way round (docs/HOST.md, "Versioned
 * structs"). UTCP_..._V<n>_SIZE is the size of each version; the sized calls refuse a size
 * below V1 with EINVAL. */

typedef struct utcp_host_config {
  const char *addr; /* this host's IPv4 or IPv6 address as text */
  uint64_t seed;    /* 0: OS entropy; otherwise every random choice derives from it */
  uint32_t mtu;     /* link MTU; 0: 1500 */
  /* V2 */
  uint32_t flags; /* UTCP_HOST_NO_*: options not to negotiate; 0: all. Other bits: EINVAL */
} utcp_host_config;
#define UTCP_HOST_NO_TIMESTAMPS 0x1u /* no RFC 7323 timestamps (RTTM, PAWS) */
#define UTCP_HOST_NO_SACK 0x2u       /* no RFC 2018 selective acknowledgments */
#define UTCP_HOST_CONFIG_V1_SIZE (offsetof(utcp_host_config, mtu) + sizeof(uint32_t))   /* 20 on LP64 */
#define UTCP_HOST_CONFIG_V2_SIZE (offsetof(utcp_host_config, flags) + sizeof(uint32_t)) /* 24 on LP64 */

/* A new host from the first size bytes of *cfg; the fields beyond them are taken as 0. NULL
 * with errno EFAULT for a null cfg; EINVAL when size is below UTCP_HOST_CONFIG_V1_SIZE, addr
 * does not parse, flags has a bit this library does not know, or mtu is below the IP minimum
 * (68 for IPv4, RFC 791; 1280 for IPv6, RFC 8200) or above 65535; E2BIG when size is beyond
 * this library's struct and a byte past it is not zero (a field this library does not have,
 * asked for). */
utcp_host *utcp_host_new_sized(const utcp_host_config *cfg, size_t size);
/* The form programs built before utcp_host_new_sized call: reads UTCP_HOST_CONFIG_V2_SIZE
 * bytes. Code compiled against this header calls utcp_host_new_sized through the macro. */
utcp_host *utcp_host_new(const utcp_host_config *cfg);
#define utcp_host_new(cfg) utcp_host_new_sized((cfg), sizeof(utcp_host_config))
/* Every call on h must have returned. Open sockets are dropped without sending anything. */
void utcp_host_free(utcp_host *h);

/* Host time in nanoseconds; starts at 0, monotonic (an earlier time is ignored). Runs every
 * timer now due and wakes the waiters whose timeouts passed. */
void utcp_host_set_time(utcp_host *h, uint64_t now_ns);
/* Moves host time forward as utcp_host_set_time does, but runs no timer and wakes no waiter:
 * for a driver that stamps each packet it hands in with the time it read it, and runs the
 * timers (utcp_host_set_time) once the packets already waiting are in. */
void utcp_host_set_clock(utcp_host *h, uint64_t now_ns);
/* The earliest armed timer in ns, or -1 when nothing is armed. */
int64_t utcp_host_next_deadline(utcp_host *h);

/* An IPv4 or IPv6 packet in. 0 when it reached TCP or ICMP; -1 with errno EINVAL when the IP
 * layer dropped it (counted by reason in utcp_host_stats). */
int utcp_host_input(utcp_host *h, const void *ip_datagram, size_t len);
/* The next IP packet out (FIFO): its length; -1 with EAGAIN when none is queued, EMSGSIZE
 * when cap is too small for it (it stays queued). */
ssize_t utcp_host_output(utcp_host *h, void *buf, size_t cap);

int utcp_socket(utcp_host *h, int domain, int type, int protocol);
int utcp_bind(utcp_host *h, int fd, const struct sockaddr *addr, socklen_t len);
int utcp_listen(utcp_host *h, int fd, int backlog);
int utcp_accept(utcp_host *h, int fd, struct sockaddr *addr, socklen_t *len);
int utcp_connect(utcp_host *h, int fd, const struct sockaddr *addr, socklen_t len);
ssize_t utcp_read(utcp_host *h, int fd, void *buf, size_t n);
ssize_t utcp_write(utcp_host *h, int fd, const void *buf, size_t n);
ssize_t utcp_recv(utcp_host *h, int fd, void *buf, size_t n, int flags);
/* The other read paths, with recv's semantics: every read returns min(asked, available).
 * As Linux does for TCP, recvfrom and recvmsg report no source address (*addrlen and
 * msg_namelen are set to 0), recvmsg no control data and msg_flags 0. */
ssize_t utcp_readv(utcp_host *h, int fd, const struct iovec *iov, int iovcnt);
ssize_t utcp_recvfrom(utcp_host *h, int fd, void *buf, size_t n, int flags, struct sockaddr *addr,
                      socklen_t *addrlen);
ssize_t utcp_recvmsg(utcp_host *h, int fd, struct msghdr *msg, int flags);
ssize_t utcp_send(utcp_host *h, int fd, const void *buf, size_t n, int flags);
int utcp_shutdown(utcp_host *h, int fd, int how);
int utcp_close(utcp_host *h, int fd);
/* F_GETFL: O_RDWR, | O_NONBLOCK when set; F_SETFL: O_NONBLOCK honoured, access bits ignored. */
int utcp_fcntl(utcp_host *h, int fd, int cmd, int arg);
int utcp_getsockopt(utcp_host *h, int fd, int level, int name, void *val, socklen_t *len);
int utcp_setsockopt(utcp_host *h, int fd, int level, int name, const void *val, socklen_t len);
int utcp_poll(utcp_host *h, struct pollfd *fds, nfds_t n, int timeout_ms);

/* ---- additions beyond DESIGN.md ---- */

int utcp_getsockname(utcp_host *h, int fd, struct sockaddr *addr, socklen_t *len);
int utcp_getpeername(utcp_host *h, int fd, struct sockaddr *addr, socklen_t *len);

/* Why the IP layer dropped an incoming packet: indexes of utcp_host_stats.ip_drops. */
enum utcp_ip_drop {
  UTCP_IP_TOO_SHORT,
  UTCP_IP_BAD_VERSION,
  UTCP_IP_BAD_HEADER_LENGTH,
  UTCP_IP_BAD_TOTAL_LENGTH,
  UTCP_IP_BAD_HEADER_CHECKSUM,
  UTCP_IP_FRAGMENT,
  UTCP_IP_BAD_EXTENSION_HEADER,
  UTCP_IP_NOT_TCP,
  UTCP_IP_WRONG_DESTINATION,
  UTCP_IP_BAD_SOURCE,
  UTCP_IP_BAD_ICMP,
  UTCP_IP_DROP_REASONS
};
/* "too_short", ...; NULL for an index out of range. */
const char *utcp_ip_drop_name(int reason);

typedef struct utcp_host_stats {
  uint64_t ip_in;                             /* packets given to utcp_host_input */
  uint64_t ip_out;                            /* packets queued for utcp_host_output */
  uint64_t ip_drops[UTCP_IP_DROP_REASONS];    /* by enum utcp_ip_drop */
  uint64_t tcp_in;                            /* passed to TCP */
  uint64_t icmp_in;                           /* ICMP / ICMPv6 messages that parsed */
  uint64_t icmp_ignored;                      /* of those: not about PMTU, or not about a flow of ours */
  uint64_t pmtu_updates;                      /* accepted by the core's path_mtu */
  uint64_t output_overflow;                   /* packets dropped because the output queue was full */
  uint64_t accept_overflow;                   /* handshakes aborted because an accept queue was full */
  uint64_t tcp_segments_in, tcp_segments_out; /* the core's counters */
  uint64_t tcp_retransmits, tcp_resets_sent, tcp_resets_received, tcp_drops;
  uint64_t connections; /* flows in the core in any state but CLOSED and LISTEN */
  /* V2: segmentation offload (utcp_host_input_vnet, utcp_host_output_vnet). */
  uint64_t vnet_errors;      /* frames whose virtio_net_hdr was malformed (dropped whole) */
  uint64_t gso_in;           /* GSO super-segments cut */
  uint64_t gso_segments_in;  /* the segments they carried */
  uint64_t gso_out;          /* TSO super-segments written */
  uint64_t gso_segments_out; /* the segments they carry */
  /* V3: loss recovery on SACK connections (the core's Stats, docs/rules.md). */
  uint64_t tcp_tail_loss_probes;    /* RFC 8985 §7.3 probes sent */
  uint64_t tcp_dsacks_received;     /* ACKs whose first SACK block was a DSACK (RFC 2883) */
  uint64_t tcp_dsacks_sent;         /* ACKs sent with a DSACK block */
  uint64_t tcp_sack_blocks_ignored; /* SACK blocks outside [SND.UNA, SND.MAX] (RFC 2018) */
  uint64_t tcp_recoveries_undone;   /* recoveries undone as spurious (RFC 3708/3522, RFC 4015) */
} utcp_host_stats;
/* The versions, as each was on main: V1 up to connections, V2 adds segmentation offload, V3
 * loss recovery. A counter added later is appended and makes a V4. */
/* 208, 248, 288 bytes */
#define UTCP_HOST_STATS_V1_SIZE (offsetof(utcp_host_stats, connections) + sizeof(uint64_t))
#define UTCP_HOST_STATS_V2_SIZE (offsetof(utcp_host_stats, gso_segments_out) + sizeof(uint64_t))
#define UTCP_HOST_STATS_V3_SIZE (offsetof(utcp_host_stats, tcp_recoveries_undone) + sizeof(uint64_t))
/* Writes the first min(size, sizeof(utcp_host_stats)) bytes of the host's counters to out and
 * zeroes the rest of size (counters this library does not have read 0); returns the number
 * of bytes written with counters. -1 with EFAULT for a null out, EINVAL for a size below
 * UTCP_HOST_STATS_V1_SIZE. Never writes past out + size. */
ssize_t utcp_host_get_stats_sized(const utcp_host *h, utcp_host_stats *out, size_t size);
/* The form programs built before utcp_host_get_stats_sized call: writes the V1 counters only
 * (UTCP_HOST_STATS_V1_SIZE bytes), the one size every such program has room for. Code
 * compiled against this header calls utcp_host_get_stats_sized through the macro: 0 or -1. */
int utcp_host_get_stats(utcp_host *h, utcp_host_stats *out);
static inline int utcp_host_get_stats_at_header_size(const utcp_host *h, utcp_host_stats *out) {
  return utcp_host_get_stats_sized(h, out, sizeof(utcp_host_stats)) < 0 ? -1 : 0;
}
#define utcp_host_get_stats(h, out) utcp_host_get_stats_at_header_size((h), (out))

/* ---- segmentation offload: a TUN device opened with IFF_VNET_HDR (docs/HOST.md) ---- */

/* The virtio_net_hdr in front of each packet: 10 bytes, little-endian (struct virtio_net_hdr,
 * the TUN device's default size; on big-endian machines ask the device for TUNSETVNETLE). */
#define UTCP_VNET_HDR_LEN 10
/* The largest frame utcp_host_output_vnet writes: the header and a 65535-byte IP packet. */
#define UTCP_VNET_FRAME_MAX (UTCP_VNET_HDR_LEN + 65535)
/* What a TUN device with IFF_VNET_HDR read: a virtio_net_hdr and an IP packet. A GSO
 * super-segment (gso_type TCPV4 or TCPV6) is cut into the segments it carries, exactly as
 * Linux's segmentation cuts it, and each goes in as utcp_host_input would take it; a partial
 * checksum (NEEDS_CSUM) is completed first. Returns how many packets reached TCP or ICMP (>= 1);
 * -1 with EINVAL when none did or the header is malformed (counted in vnet_errors). */
int utcp_host_input_vnet(utcp_host *h, const void *frame, size_t len);
/* The next frame for a TUN device with IFF_VNET_HDR (enable TUN_F_CSUM | TUN_F_TSO4 |
 * TUN_F_TSO6 with TUNSETOFFLOAD): consecutive queued data segments of one flow, each but the
 * last a full MSS, in one TSO super-segment of up to 64 KiB with a partial checksum (the kernel
 * cuts it back into those segments and completes their checksums); any other segment alone
 * with its checksum done and a header without flags. Its length; -1 with EAGAIN when nothing
 * is queued, EMSGSIZE when cap cannot hold even the next segment (cap >= UTCP_VNET_FRAME_MAX
 * never is too small; a smaller cap gets fewer segments per frame). */
ssize_t utcp_host_output_vnet(utcp_host *h, void *buf, size_t cap);
/* The core's counters in full, as text: one "name value" line for each that is not zero
 * (segments, retransmissions by cause, challenge ACKs, SYN cookies, "drop.<reason>",
 * "decode_error.<reason>", "state.<STATE>" for the connections in each state). Writes at most
 * len bytes including the terminating NUL and returns the length of the whole text, as
 * snprintf does: a return >= len means it was cut. -1 with EFAULT for a null buf with len > 0. */
ssize_t utcp_host_tcp_counters(utcp_host *h, char *buf, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* UTCP_POSIX_H */
