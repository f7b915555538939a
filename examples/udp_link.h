/* The link the echo examples use: IP packets between a utcp host and one peer process, one
 * packet per UDP datagram (the shape of a user-space VPN's tunnel), with a thread that keeps
 * the host's clock. Copy it, or replace the UDP socket with your TUN device or NIC queue.
 *
 * The pump thread sleeps in poll(2) until a datagram arrives, the host's next timer is due or
 * the application kicks it. On every wakeup it sets the host's time from CLOCK_MONOTONIC
 * first (so the packets that woke it are stamped with the time they arrived), then feeds the
 * host every datagram waiting, then sends every packet the host has queued.
 *
 * The application's socket calls (utcp_write, utcp_close, ...) queue packets too, from the
 * application's thread: call udp_link_kick after each so the pump sends them at once. A
 * blocking call that queues packets and then waits (utcp_connect, a utcp_write larger than
 * the free send buffer) cannot kick in between: the C ABI has no "output ready" callback, so
 * the pump also wakes every 10 ms. Prefer the non-blocking form for connect (echo_client.c). */
#ifndef UTCP_EXAMPLES_UDP_LINK_H
#define UTCP_EXAMPLES_UDP_LINK_H

#include <stdint.h>

#include "utcp/posix.h"

typedef struct udp_link udp_link;

/* Binds a UDP socket to 127.0.0.1:local_port (0: any free port) and starts the pump for h.
 * peer_port 0: the peer is whoever sends the first datagram (a server). NULL with errno set
 * on failure. */
udp_link* udp_link_open(utcp_host* h, uint16_t local_port, uint16_t peer_port);
/* The UDP port the link is bound to. */
uint16_t udp_link_port(const udp_link* l);
/* Wakes the pump to send what the host has queued. Cheap; safe from any thread. */
void udp_link_kick(udp_link* l);
/* Sends what is still queued, stops the pump and frees the link (not the host). */
void udp_link_close(udp_link* l);

#endif
