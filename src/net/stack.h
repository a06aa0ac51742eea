/*
 * Internal definitions of the TCP/IP stack (src/net/): struct net_stack,
 * wire-format constants, and the calls between the layers. Only src/net/
 * and its unit tests include this; the kernel sees include/kernel/net.h.
 *
 * No locking: one stack is only ever entered by one thread (net.h).
 * Everything lives inside struct net_stack, so net_init's caller owns all
 * the memory and nothing is allocated afterwards.
 */
#ifndef NET_STACK_H
#define NET_STACK_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <kernel/net.h>

/* --- wire formats -------------------------------------------------------- */
#define ETH_HLEN		14
#define ETH_MIN_FRAME		60	/* without FCS; shorter frames are padded */
#define ETHTYPE_IP		0x0800
#define ETHTYPE_ARP		0x0806
#define ARP_LEN			28	/* Ethernet/IPv4 ARP body */
#define IP_HLEN			20	/* we never send options */
#define IP_PROTO_ICMP		1
#define IP_PROTO_TCP		6
#define IP_PROTO_UDP		17
#define IP_BROADCAST		0xffffffffU
#define UDP_HLEN		8
#define TCP_HLEN		20
#define NET_L4_OFF		(ETH_HLEN + IP_HLEN)	/* transport header in ns->tx */

#define TCP_FIN			0x01
#define TCP_SYN			0x02
#define TCP_RST			0x04
#define TCP_PSH			0x08
#define TCP_ACK			0x10
#define TCP_URG			0x20

#define DHCP_SERVER_PORT	67
#define DHCP_CLIENT_PORT	68

/* --- tunables ------------------------------------------------------------ */
#define ARP_ENTRIES		8
#define ARP_TTL_MS		(5 * 60 * 1000)
#define ARP_RETRY_MS		1000
#define ARP_MAX_TRIES		3

#define DHCP_RETRY_MS		2000	/* first retransmission; doubles */
#define DHCP_RETRY_MAX_MS	64000

#define TCP_RTO_INIT_MS		1000	/* RFC 6298 2.1 */
#define TCP_RTO_MIN_MS		200
#define TCP_RTO_MAX_MS		60000
#define TCP_MAX_RETRIES		8	/* then closed(TCP_CLOSED_TIMEOUT) */
#define TCP_TIME_WAIT_MS	2000	/* shortened 2*MSL */
#define TCP_IDLE_MS		60000	/* synchronized, nothing in flight */
#define TCP_SYN_RCVD_MS		10000	/* half-open connections */
#define TCP_SYN_SENT_MS		20000	/* active open: SYNs at 0, 1, 3, 7, 15 s, then give up */
#define TCP_PERSIST_MAX_MS	(TCP_IDLE_MS / 2)	/* answers keep the peer's idle timer off */
#define TCP_DEFAULT_MSS		536	/* peer sent no MSS option (RFC 9293 3.7.1) */
#define TCP_MIN_MSS		64	/* smaller MSS options are raised to this */
#define TCP_OOO_RANGES		8	/* disjoint out-of-order byte ranges held */
#define TCP_EPHEMERAL_BASE	49152

/* Sequence arithmetic modulo 2^32 (RFC 9293 3.4). */
#define SEQ_LT(a, b)		((int32_t)((uint32_t)(a) - (uint32_t)(b)) < 0)
#define SEQ_LEQ(a, b)		((int32_t)((uint32_t)(a) - (uint32_t)(b)) <= 0)
#define SEQ_GT(a, b)		SEQ_LT(b, a)
#define SEQ_GEQ(a, b)		SEQ_LEQ(b, a)

/* --- ARP ----------------------------------------------------------------- */
enum arp_state { ARP_FREE, ARP_PENDING, ARP_VALID };

struct arp_entry {
	uint32_t ip;
	uint8_t mac[6];
	uint8_t state;
	uint8_t tries;		/* requests sent while pending */
	uint64_t expires;	/* VALID: forget then; PENDING: next request */
	uint16_t pending_len;	/* the one frame waiting for resolution, or 0 */
	uint8_t pending[NET_FRAME_MAX];
};

/* --- DHCP ---------------------------------------------------------------- */
enum dhcp_state {
	DHCP_OFF, DHCP_SELECTING, DHCP_REQUESTING, DHCP_BOUND,
	DHCP_RENEWING, DHCP_REBINDING, DHCP_FALLBACK,
};

struct dhcp_client {
	uint8_t state;
	uint8_t tries;		/* REQUESTs sent in REQUESTING */
	uint32_t xid;
	uint32_t timeout_ms;	/* net_dhcp_start's budget */
	uint32_t offered_ip, server_id;
	uint32_t backoff_ms;
	uint64_t started;	/* for the secs field */
	uint64_t deadline;	/* SELECTING/REQUESTING: static fallback then */
	uint64_t next_tx;	/* next retransmission */
	uint64_t t1, t2, expiry;	/* absolute times of the bound lease */
};

/* --- TCP ----------------------------------------------------------------- */
enum tcp_state {
	TCPS_CLOSED,		/* free slot */
	TCPS_SYN_SENT, TCPS_SYN_RCVD, TCPS_ESTABLISHED,
	TCPS_FIN_WAIT_1, TCPS_FIN_WAIT_2, TCPS_CLOSE_WAIT,
	TCPS_CLOSING, TCPS_LAST_ACK, TCPS_TIME_WAIT,
};

struct tcp_listener {
	uint16_t port;		/* 0: free */
	const struct tcp_callbacks *cb;
	void *arg;
};

struct tcp_range {
	uint32_t seq, len;
};

struct tcp_pcb {
	struct net_stack *ns;
	uint8_t state;
	uint8_t retries;	/* consecutive RTO expiries */
	uint8_t dupacks;
	bool fin_queued;	/* tcp_close: FIN goes after the buffered data */
	bool ack_now;		/* an ACK is owed to the peer */
	bool rtt_active;	/* timing the segment ending at rtt_seq */
	bool in_recovery;	/* fast recovery until snd_una reaches recover */
	bool ooo_fin;		/* a FIN arrived out of order at ooo_fin_seq */
	uint16_t lport, rport;
	uint32_t rip;
	const struct tcp_callbacks *cb;	/* NULL once closed() was called */
	void *arg;

	/* Send side; sndbuf holds the bytes from snd_una on (ring). */
	uint32_t iss, snd_una, snd_nxt, snd_max;
	uint32_t snd_wnd, snd_wl1, snd_wl2, max_sndwnd;
	uint32_t cwnd, ssthresh, recover;
	uint16_t mss;		/* what we may send: peer's MSS option */
	uint32_t rtt_seq;
	uint64_t rtt_start;
	uint32_t srtt, rttvar, rto;	/* ms; srtt == 0: no sample yet */
	uint32_t persist_ms;
	uint64_t rto_at, persist_at;	/* 0: timer off */
	uint64_t tw_at;		/* TIME_WAIT ends */
	uint64_t last_rx;	/* last acceptable segment (idle timers) */
	uint64_t poll_at;	/* next cb->poll (0: not synchronized yet) */
	size_t sb_head, sb_len;

	/* Receive side. */
	uint32_t irs, rcv_nxt;
	uint32_t rcv_adv;	/* right edge of the window last advertised */
	uint32_t held;		/* delivered but not yet tcp_recved() */
	uint32_t ooo_fin_seq;
	uint8_t n_ooo;
	struct tcp_range ooo[TCP_OOO_RANGES];	/* sorted, disjoint */

	uint8_t sndbuf[NET_TCP_SNDBUF];
	uint8_t ooobuf[NET_TCP_RCVWND];	/* indexed by seq % NET_TCP_RCVWND */
};

/* --- the stack ----------------------------------------------------------- */
struct net_stack {
	struct net_env env;
	uint8_t mac[6];
	bool from_dhcp;
	uint16_t ip_id;
	uint16_t next_port;	/* ephemeral ports for tcp_connect */
	uint32_t ip, mask, gw;	/* in use; ip == 0 while none */
	uint32_t static_ip, static_mask, static_gw;
	struct net_stats stats;
	struct dhcp_client dhcp;
	struct arp_entry arp[ARP_ENTRIES];
	struct tcp_listener listeners[NET_TCP_MAX_LISTEN];
	struct tcp_pcb pcbs[NET_TCP_MAX_CONNS];
	uint8_t tx[NET_FRAME_MAX];	/* the frame being built */
	uint8_t arp_tx[ETH_MIN_FRAME];	/* ARP frames, built while tx is queued */
};

/* --- byte order ---------------------------------------------------------- */
static inline uint16_t net_get16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static inline uint32_t net_get32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
	       ((uint32_t)p[2] << 8) | p[3];
}

static inline void net_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void net_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* --- stack.c ------------------------------------------------------------- */
uint64_t net_now(struct net_stack *ns);
void net_log(struct net_stack *ns, const char *msg);
/* Pads @frame (room for ETH_MIN_FRAME bytes) and hands it to env->send. */
int net_tx(struct net_stack *ns, uint8_t *frame, size_t len);
void net_drop(struct net_stack *ns);
bool net_is_broadcast(const struct net_stack *ns, uint32_t ip);

/* --- eth_arp.c ----------------------------------------------------------- */
void arp_input(struct net_stack *ns, const uint8_t *p, size_t len);
/* Sends an IPv4 frame (Ethernet header space included) towards @nexthop. */
int arp_output(struct net_stack *ns, uint32_t nexthop, uint8_t *frame, size_t len);
void arp_poll(struct net_stack *ns, uint64_t now);
uint64_t arp_next_timer(const struct net_stack *ns);

/* --- ipv4.c -------------------------------------------------------------- */
uint32_t ip_csum_add(uint32_t sum, const void *data, size_t len);
uint16_t ip_csum_fold(uint32_t sum);
uint32_t ip_pseudo_sum(uint32_t src, uint32_t dst, uint8_t proto, size_t len);
void ip_input(struct net_stack *ns, const uint8_t *p, size_t len);
/* Sends the @l4len bytes at ns->tx + NET_L4_OFF to @dst. */
int ip_send(struct net_stack *ns, uint32_t dst, uint8_t proto, size_t l4len);
/* Sends the @len payload bytes at ns->tx + NET_L4_OFF + UDP_HLEN. */
int udp_send(struct net_stack *ns, uint32_t dst, uint16_t sport, uint16_t dport, size_t len);

/* --- dhcp.c -------------------------------------------------------------- */
void dhcp_input(struct net_stack *ns, uint32_t src, const uint8_t *p, size_t len);
void dhcp_poll(struct net_stack *ns, uint64_t now);
uint64_t dhcp_next_timer(const struct net_stack *ns);

/* --- tcp*.c -------------------------------------------------------------- */
void tcp_input(struct net_stack *ns, uint32_t src, const uint8_t *p, size_t len);
void tcp_poll(struct net_stack *ns, uint64_t now);
uint64_t tcp_next_timer(const struct net_stack *ns);
/* Internal to tcp*.c. */
struct tcp_pcb *tcp_alloc(struct net_stack *ns);
void tcp_free(struct tcp_pcb *c, int reason, bool notify);
void tcp_enter_time_wait(struct tcp_pcb *c);
bool tcp_check_connect(struct tcp_pcb *c, uint64_t now);
void tcp_output(struct tcp_pcb *c);
int tcp_send_ctl(struct tcp_pcb *c, uint32_t seq, uint8_t flags);
int tcp_send_syn(struct tcp_pcb *c);
int tcp_send_reset(struct net_stack *ns, uint32_t rip, uint16_t lport, uint16_t rport,
		   uint32_t seq, uint32_t ack, uint8_t flags);
void tcp_retransmit_first(struct tcp_pcb *c);
void tcp_rto_expired(struct tcp_pcb *c);
void tcp_persist_expired(struct tcp_pcb *c);
void tcp_rtt_sample(struct tcp_pcb *c, uint32_t ms);
uint32_t tcp_rcv_window(const struct tcp_pcb *c);
uint32_t tcp_flight(const struct tcp_pcb *c);

#endif
