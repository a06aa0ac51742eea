/*
 * The TCP/IP stack (src/net/): Ethernet, ARP, IPv4, ICMP echo, UDP (for
 * DHCP), a DHCP client with a static fallback, and TCP with a callback API
 * (in the manner of lwIP's raw API, written from the RFCs).
 *
 * Pure logic: no CSR access, no locks, no allocation after net_init. The
 * kernel runs one stack in one thread (src/net/netif.c), so the stack is
 * never entered concurrently; host unit tests drive it directly, e.g. two
 * stacks wired together through a lossy simulated link.
 *
 * Everything arriving from the wire is checked (lengths, checksums,
 * header fields) before use; a bad frame is dropped and counted, never
 * trusted.
 */
#ifndef KERNEL_NET_H
#define KERNEL_NET_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#define NET_MTU			1500
#define NET_FRAME_MAX		1514	/* Ethernet header + MTU, no FCS */
#define NET_TCP_MSS		1460
#ifndef NET_TCP_MAX_CONNS	/* the TCP fuzzer builds with 8: every slot fills fast */
#define NET_TCP_MAX_CONNS	56	/* slots; closing ones are reclaimed under pressure */
#endif
#define NET_TCP_MAX_LISTEN	4
#define NET_TCP_SNDBUF		16384	/* per connection */
#define NET_TCP_RCVWND		16384	/* advertised window when nothing is held */
#define NET_TCP_POLL_MS		250	/* period of tcp_callbacks.poll */

/* Addresses are host-order uint32_t: 10.0.2.15 is 0x0a00020f. */
#define NET_IP(a, b, c, d) \
	(((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | ((uint32_t)(c) << 8) | (uint32_t)(d))

/* What the stack needs from whoever runs it. */
struct net_env {
	void *ctx;
	/* Sends one Ethernet frame (no FCS). 0, or negative if it was not sent. */
	int (*send)(void *ctx, const void *frame, size_t len);
	/* Milliseconds since some fixed point; never goes back. */
	uint64_t (*now_ms)(void *ctx);
	/* Unpredictable 32-bit values (TCP initial sequence numbers, DHCP xid). */
	uint32_t (*random)(void *ctx);
	/* Optional: one log line for state changes (DHCP lease, ...). */
	void (*log)(void *ctx, const char *msg);
};

struct net_stats {
	uint64_t rx_frames, tx_frames, tx_errors;
	uint64_t dropped;		/* malformed, truncated, bad checksum, not for us */
	uint64_t bad_checksum;
	uint64_t arp_requests, arp_replies;
	uint64_t icmp_echo;
	uint64_t tcp_segments_in, tcp_segments_out;
	uint64_t tcp_retransmits, tcp_rst_sent, tcp_rst_received;
	uint64_t tcp_accepted, tcp_timeouts;
	uint64_t tcp_reclaimed;		/* closing connections dropped to make room for a SYN */
};

struct tcp_pcb;

/* Callbacks of one listener; @arg is what tcp_listen was given (or tcp_set_arg set). */
struct tcp_callbacks {
	/* A connection completed its handshake. Return 0 to keep it, or non-zero to refuse (RST). */
	int (*accepted)(void *arg, struct tcp_pcb *c);
	/*
	 * In-order data. The window shrinks by @len until the application calls
	 * tcp_recved(); that is the flow control. @len == 0 means the peer sent FIN.
	 */
	void (*received)(void *arg, struct tcp_pcb *c, const void *data, size_t len);
	/* @acked bytes left the send buffer (room for more tcp_write). */
	void (*sent)(void *arg, struct tcp_pcb *c, size_t acked);
	/* The connection is gone (closed, reset, timed out); @c is invalid afterwards. */
	void (*closed)(void *arg, struct tcp_pcb *c, int reason);
	/*
	 * Optional: called about every NET_TCP_POLL_MS while the connection
	 * is synchronized and not yet in TIME_WAIT, so the application can
	 * run its own timeouts (it may write, close or abort from here).
	 */
	void (*poll)(void *arg, struct tcp_pcb *c);
};

/* Reasons given to closed(). */
#define TCP_CLOSED_NORMAL	0
#define TCP_CLOSED_RESET	1	/* the peer sent RST */
#define TCP_CLOSED_TIMEOUT	2	/* retransmissions or idle timer gave up */
#define TCP_CLOSED_ABORTED	3	/* tcp_abort() */

struct net_stack;	/* defined in src/net/stack.h; allocate with net_stack_size() */

size_t net_stack_size(void);
/* Sets the stack up on @mem (net_stack_size() bytes, 8-aligned). */
struct net_stack *net_init(void *mem, const struct net_env *env, const uint8_t mac[6]);

/* Static address (also the fallback if DHCP gets no lease). */
void net_set_static(struct net_stack *ns, uint32_t ip, uint32_t mask, uint32_t gw);
/* Starts DHCP; if no lease within @timeout_ms, the static address is used. */
void net_dhcp_start(struct net_stack *ns, uint32_t timeout_ms);
/* The address in use (0 while none), and whether it came from DHCP. */
uint32_t net_ip(const struct net_stack *ns);
bool net_ip_from_dhcp(const struct net_stack *ns);

/* One received Ethernet frame. */
void net_input(struct net_stack *ns, const void *frame, size_t len);
/* Timers (retransmission, DHCP, TIME_WAIT, idle): call every few ms. */
void net_poll(struct net_stack *ns);
/* When net_poll next has work, in now_ms() terms (for sleeping until then). */
uint64_t net_next_timer(const struct net_stack *ns);

const struct net_stats *net_get_stats(const struct net_stack *ns);

int tcp_listen(struct net_stack *ns, uint16_t port, const struct tcp_callbacks *cb, void *arg);
/*
 * Active open to @ip:@port from an ephemeral port, with the same callbacks
 * as an accepted connection: accepted() once established (its return value
 * is ignored: tcp_abort() refuses), then received/sent/closed. The SYN is
 * retransmitted with exponential backoff (RTO from 1 s); closed() reports
 * TCP_CLOSED_RESET if the peer refuses (RST) and TCP_CLOSED_TIMEOUT after
 * about 20 s without an answer. NULL when there is no address yet (DHCP),
 * no free slot, or bad arguments; nothing is called back then.
 */
struct tcp_pcb *tcp_connect(struct net_stack *ns, uint32_t ip, uint16_t port,
			    const struct tcp_callbacks *cb, void *arg);
void tcp_set_arg(struct tcp_pcb *c, void *arg);
/* Queues up to @len bytes; returns how many fit in the send buffer. */
size_t tcp_write(struct tcp_pcb *c, const void *data, size_t len);
size_t tcp_send_space(const struct tcp_pcb *c);
/* The application consumed @len received bytes: reopen the window. */
void tcp_recved(struct tcp_pcb *c, size_t len);
/*
 * Sends FIN after the queued data; closed() follows when it is done. A
 * closed connection whose slot is needed for a new one may be dropped:
 * oldest TIME_WAIT first, then the oldest FIN_WAIT_2, CLOSING or
 * LAST_ACK with all its data acknowledged (the peer is done; dropped
 * without a RST), then the oldest half-open one,
 * then the closing one that heard nothing from its peer for the longest
 * (RST: its data never went out whole).
 * Open connections (ESTABLISHED, CLOSE_WAIT) are never taken.
 */
void tcp_close(struct tcp_pcb *c);
/* Sends RST and frees the connection at once (closed() is called). */
void tcp_abort(struct tcp_pcb *c);
/* Peer address and port (for logs). */
uint32_t tcp_remote_ip(const struct tcp_pcb *c);
uint16_t tcp_remote_port(const struct tcp_pcb *c);

#endif
