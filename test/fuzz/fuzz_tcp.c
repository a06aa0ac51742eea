// fuzz-srcs: src/net/stack.c src/net/eth_arp.c src/net/ipv4.c src/net/dhcp.c src/net/tcp.c src/net/tcp_in.c src/net/tcp_out.c
// fuzz-options: -max_len=8192
// fuzz-cflags: -DNET_TCP_MAX_CONNS=8
/*
 * libFuzzer target: the TCP/IP stack (src/net/) fed frames from the wire,
 * with a fake clock and a fake NIC that checks every frame the stack sends.
 *
 * Each input starts from a fixed state built the way a board gets there:
 * the address (static, or a DHCP lease won through DISCOVER/OFFER/REQUEST/
 * ACK, or DHCP still selecting), listeners on 8080 (accepts, like the OTA
 * agent) and 8081 (refuses), the peer's MAC learned through ARP, and one
 * connection 10.0.2.2:40000 -> 8080 established by a real handshake. The
 * input then is a script of operations:
 *
 *   [mode][policy] then records, each [op][operands...]. mode & 3 picks the
 *   starting state above; mode & 4 makes the stack's random numbers (its
 *   initial sequence numbers) sit just below 2^32. op & 15 says what:
 *   0 CLOCK  advance the clock (u16 << (op >> 4 & 7) ms, or to the next
 *            timer when op >> 4 == 15) and run net_poll()
 *   1 RAW    u16 length, then that many bytes: one Ethernet frame as is
 *   2 TCP    a segment built by the harness from the fields the input picks
 *            (4-tuple of a connection or of a chosen port, sequence and ack
 *            numbers raw or relative to what the stack expects, flags,
 *            window, options, payload from the input or a pattern keyed by
 *            sequence number), with correct checksums unless asked not to
 *   3 APP    what the application does: write, recved, close, abort,
 *            connect, change its policy
 *   4 DHCP   a server reply to the client's current xid (type, address,
 *            lease times, extra raw options)
 *   5 ICMP   an echo request of a chosen size
 *   6 ARP    a request or reply with chosen addresses
 *   7 IP     an IPv4 packet: header made by the harness, protocol, flags
 *            and payload from the input
 * At the end the clock runs through the pending timers (retransmissions,
 * persist, TIME_WAIT, idle, ARP, DHCP), at most 64 of them.
 *
 * Checked beyond ASan/UBSan:
 *   - every frame sent: 60..1514 bytes, our MAC, IPv4 header and TCP, UDP,
 *     ICMP checksums right (computed here independently), lengths
 *     consistent, no RST carrying data;
 *   - callbacks: accepted once, nothing after closed(), no data after FIN,
 *     bytes delivered exactly once and in order (rcv_nxt == irs + 1 +
 *     delivered + FIN) and, while the peer only sent pattern payloads,
 *     equal to what was sent at that sequence number; acknowledged bytes
 *     never exceed written ones and written - acked == bytes buffered;
 *   - every connection slot: valid state, buffers and out-of-order ranges
 *     within their arrays, sequence numbers ordered, window, MSS,
 *     congestion window and RTO within their bounds;
 *   - nothing writes past ns->tx (the frame being built) into ns->arp_tx,
 *     which ASan cannot see inside one struct: arp_tx is compared with a
 *     copy taken each time an ARP frame is sent.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <kernel/net.h>
#include "../../src/net/stack.h"

#define CHECK(cond)								\
	do {									\
		if (!(cond)) {							\
			fprintf(stderr, "fuzz_tcp: check failed: %s (line %d)\n",	\
				#cond, __LINE__);				\
			abort();						\
		}								\
	} while (0)

#define STACK_IP	NET_IP(10, 0, 2, 15)
#define MASK		NET_IP(255, 255, 255, 0)
#define GW_IP		NET_IP(10, 0, 2, 2)
#define PEER_IP		NET_IP(10, 0, 2, 2)	/* slirp: the host is the gateway */
#define PEER2_IP	NET_IP(10, 0, 2, 3)
#define PORT_OPEN	8080
#define PORT_REFUSE	8081
#define PEER_PORT	40000
#define PEER_ISS	0x10000000u
#define MAX_OPS		256
#define MAX_DRAIN	64
#define TCP_CWND_LIMIT	(16u * 65535u)

enum { MODE_STATIC, MODE_CONN, MODE_DHCP_CONN, MODE_DHCP_SELECTING };

static const uint8_t stack_mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
static const uint8_t peer_mac[6] = { 0x52, 0x55, 0x0a, 0x00, 0x02, 0x02 };
static const uint8_t peer2_mac[6] = { 0x52, 0x55, 0x0a, 0x00, 0x02, 0x03 };
static const uint8_t bcast_mac[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

/* What the application knows of each connection slot. */
struct app {
	bool open;		/* accepted (or connecting) and not yet closed */
	bool connecting;	/* tcp_connect() made it, not yet established */
	bool fin;		/* the peer's FIN was delivered */
	uint32_t irs;		/* first sequence number of the data */
	uint64_t rx, written, acked;
};

/* Policy bits: what the application does in its callbacks. */
#define POL_RECVED	0x01	/* tcp_recved() what arrives at once */
#define POL_ECHO	0x02	/* write back what arrives */
#define POL_CLOSE_FIN	0x04	/* tcp_close() on the peer's FIN */
#define POL_ABORT_FIN	0x08	/* tcp_abort() on the peer's FIN */
#define POL_REFILL	0x10	/* write more whenever bytes are acked */
#define POL_CLOSE_DATA	0x20	/* tcp_close() when data arrives */
#define POL_GREET	0x40	/* write a greeting when accepted */
#define POL_ABORT_ACC	0x80	/* tcp_abort() from accepted() */
/* Second policy byte (APP op 6). */
#define POL2_ABORT_DATA	0x01	/* tcp_abort() when data arrives */
#define POL2_ABORT_SENT	0x02	/* tcp_abort() when bytes are acked */
#define POL2_CLOSE_SENT	0x04	/* tcp_close() when bytes are acked */
#define POL2_RECVED_ALL	0x08	/* tcp_recved() everything held, in sent() */

static struct {
	struct net_stack *ns;
	uint64_t now;
	uint64_t rng;
	uint8_t policy, policy2;
	uint32_t wrap;		/* non-zero: random() counts up from 2^32 - 16 KiB */
	bool raw_data;		/* the peer may have sent non-pattern bytes */
	uint8_t arp_shadow[ETH_MIN_FRAME];
	uint32_t peer_iss[4];	/* per peer port: its SYN's sequence number */
	struct app app[NET_TCP_MAX_CONNS];
	const uint8_t *in;
	size_t len, pos;
	unsigned long sends;
} fz;

static uint8_t stack_mem[512 * 1024] __attribute__((aligned(64)));

/* FUZZ_TCP_TRACE=1: what each operation did (to check what a seed reaches). */
static bool tracing(void)
{
	static int on = -1;

	if (on < 0)
		on = getenv("FUZZ_TCP_TRACE") != NULL;
	return on;
}

/* --- input ---------------------------------------------------------------- */

static bool more(void)
{
	return fz.pos < fz.len;
}

static uint8_t get8(void)
{
	return fz.pos < fz.len ? fz.in[fz.pos++] : 0;
}

/* Little-endian; each byte read in its own statement (call order matters). */
static uint16_t get16(void)
{
	uint16_t lo = get8();

	return (uint16_t)(lo | get8() << 8);
}

static uint32_t get32(void)
{
	uint32_t lo = get16();

	return lo | (uint32_t)get16() << 16;
}

/* Up to @n input bytes into @out; returns how many there were. */
static size_t get_bytes(uint8_t *out, size_t n)
{
	size_t k = fz.len - fz.pos < n ? fz.len - fz.pos : n;

	memcpy(out, fz.in + fz.pos, k);
	fz.pos += k;
	return k;
}

/* The byte the peer sends at sequence number @seq (pattern payloads). */
static uint8_t pattern(uint32_t seq)
{
	uint32_t x = seq * 2654435761u;

	return (uint8_t)(x >> 24 ^ x >> 11);
}

/* --- checksums, independent of the stack's ------------------------------- */

static uint32_t sum16(uint32_t s, const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	return s;
}

static uint16_t fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static uint32_t pseudo(uint32_t src, uint32_t dst, uint8_t proto, size_t len)
{
	return (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) + proto +
	       (uint32_t)len;
}

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

/* --- the fake NIC: every frame the stack sends is checked ----------------- */

static bool from_arp_queue(const uint8_t *f)
{
	unsigned int i;

	for (i = 0; i < ARP_ENTRIES; i++)
		if (f == fz.ns->arp[i].pending)
			return true;
	return false;
}

static void check_sent_ip(const uint8_t *f, size_t len)
{
	const uint8_t *ip = f + ETH_HLEN, *l4;
	size_t tot, l4len, hl;
	uint32_t src, dst;

	CHECK(len >= ETH_HLEN + IP_HLEN);
	CHECK(ip[0] == 0x45);		/* the stack never sends IP options */
	tot = be16(ip + 2);
	CHECK(tot >= IP_HLEN && tot <= len - ETH_HLEN && tot <= NET_MTU);
	CHECK(len == ETH_MIN_FRAME || len == ETH_HLEN + tot);
	CHECK(fold(sum16(0, ip, IP_HLEN)) == 0);
	src = be32(ip + 12);
	dst = be32(ip + 16);
	/* a frame that waited for ARP left with the address it was built with */
	CHECK(src == fz.ns->ip || (src == 0 && ip[9] == IP_PROTO_UDP) || from_arp_queue(f));
	l4 = ip + IP_HLEN;
	l4len = tot - IP_HLEN;
	switch (ip[9]) {
	case IP_PROTO_TCP:
		CHECK(l4len >= TCP_HLEN);
		hl = (size_t)(l4[12] >> 4) * 4;
		CHECK(hl >= TCP_HLEN && hl <= l4len);
		CHECK(fold(sum16(pseudo(src, dst, IP_PROTO_TCP, l4len), l4, l4len)) == 0);
		CHECK(!(l4[13] & TCP_RST) || l4len == hl);
		CHECK(!((l4[13] & TCP_SYN) && (l4[13] & (TCP_FIN | TCP_RST))));
		CHECK(be16(l4) != 0 && be16(l4 + 2) != 0);
		break;
	case IP_PROTO_UDP:
		CHECK(l4len >= UDP_HLEN && be16(l4 + 4) == l4len);
		CHECK(be16(l4 + 6) != 0);
		CHECK(fold(sum16(pseudo(src, dst, IP_PROTO_UDP, l4len), l4, l4len)) == 0);
		break;
	case IP_PROTO_ICMP:
		CHECK(l4len >= 8 && l4[0] == 0);	/* only echo replies */
		CHECK(fold(sum16(0, l4, l4len)) == 0);
		break;
	default:
		CHECK(!"the stack sent an unknown protocol");
	}
}

static int nic_send(void *ctx, const void *frame, size_t len)
{
	const uint8_t *f = frame;

	fz.sends++;
	CHECK(len >= ETH_MIN_FRAME && len <= NET_FRAME_MAX);
	CHECK(!memcmp(f + 6, stack_mac, 6));
	if (frame == fz.ns->arp_tx) {
		CHECK(len == ETH_MIN_FRAME);
		memcpy(fz.arp_shadow, frame, ETH_MIN_FRAME);
	}
	switch (be16(f + 12)) {
	case ETHTYPE_ARP:
		CHECK(be16(f + 14 + 6) == 1 || be16(f + 14 + 6) == 2);
		break;
	case ETHTYPE_IP:
		check_sent_ip(f, len);
		break;
	default:
		CHECK(!"the stack sent an unknown ethertype");
	}
	return 0;
}

static uint64_t clock_now(void *ctx)
{
	return fz.now;
}

static uint32_t rng(void *ctx)
{
	uint64_t x = fz.rng;

	/* mode bit 2: values just below 2^32, so our sequence numbers wrap soon */
	if (fz.wrap)
		return 0xffffc000u + (fz.wrap++ - 1) * 0x100u;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	fz.rng = x;
	return (uint32_t)((x * 0x2545F4914F6CDD1DULL) >> 32);
}

static void stack_log(void *ctx, const char *msg)
{
	CHECK(memchr(msg, '\0', 256));
}

/* --- the application --------------------------------------------------- */

static struct app *app_of(struct tcp_pcb *c)
{
	size_t i = (size_t)(c - fz.ns->pcbs);

	CHECK(c >= fz.ns->pcbs && i < NET_TCP_MAX_CONNS);
	return &fz.app[i];
}

static void app_write(struct tcp_pcb *c, size_t n)
{
	static uint8_t buf[NET_TCP_SNDBUF + 100];
	struct app *a = app_of(c);
	size_t space = tcp_send_space(c), w, i;

	if (n > sizeof(buf))
		n = sizeof(buf);
	for (i = 0; i < n; i++)
		buf[i] = (uint8_t)(a->written + i);
	w = tcp_write(c, buf, n);
	CHECK(w <= n && w <= space);
	/* tcp_write may have sent, been answered... never by a callback of ours here */
	a->written += w;
}

static int cb_accepted(void *arg, struct tcp_pcb *c)
{
	struct app *a = app_of(c);

	CHECK(a->open == a->connecting);
	CHECK(c->state == TCPS_ESTABLISHED);
	if (arg == (void *)(uintptr_t)PORT_REFUSE)
		return 1;
	memset(a, 0, sizeof(*a));
	a->open = true;
	a->irs = c->irs + 1;
	if (fz.policy & POL_ABORT_ACC) {
		tcp_abort(c);
		CHECK(!a->open);
		return 0;
	}
	if (fz.policy & POL_GREET)
		app_write(c, 100);
	return 0;
}

static void cb_received(void *arg, struct tcp_pcb *c, const void *data, size_t len)
{
	struct app *a = app_of(c);
	const uint8_t *d = data;
	size_t i;

	CHECK(a->open && !a->connecting && !a->fin);
	CHECK(c->state != TCPS_CLOSED);
	if (!len) {
		a->fin = true;
		if (fz.policy & POL_ABORT_FIN)
			tcp_abort(c);
		else if (fz.policy & POL_CLOSE_FIN)
			tcp_close(c);
		return;
	}
	CHECK(data);
	if (!fz.raw_data) {
		for (i = 0; i < len; i++)
			CHECK(d[i] == pattern(a->irs + (uint32_t)(a->rx + i)));
	}
	a->rx += len;
	if (fz.policy & POL_RECVED)
		tcp_recved(c, len);
	if (a->open && (fz.policy & POL_ECHO))
		app_write(c, len);
	if (a->open && (fz.policy & POL_CLOSE_DATA))
		tcp_close(c);
	if (a->open && (fz.policy2 & POL2_ABORT_DATA))
		tcp_abort(c);
}

static void cb_sent(void *arg, struct tcp_pcb *c, size_t acked)
{
	struct app *a = app_of(c);

	CHECK(a->open && !a->connecting);
	CHECK(acked > 0);
	a->acked += acked;
	CHECK(a->acked <= a->written);
	if (fz.policy & POL_REFILL)
		app_write(c, 1000);
	if (fz.policy2 & POL2_RECVED_ALL)
		tcp_recved(c, c->held);
	if (fz.policy2 & POL2_CLOSE_SENT)
		tcp_close(c);
	if (fz.policy2 & POL2_ABORT_SENT)
		tcp_abort(c);
}

static void cb_closed(void *arg, struct tcp_pcb *c, int reason)
{
	struct app *a = app_of(c);

	CHECK(a->open);
	CHECK(reason >= TCP_CLOSED_NORMAL && reason <= TCP_CLOSED_ABORTED);
	a->open = false;
	a->connecting = false;
}

static const struct tcp_callbacks app_cb = {
	.accepted = cb_accepted, .received = cb_received,
	.sent = cb_sent, .closed = cb_closed,
};

/* --- invariants of the stack's state -------------------------------------- */

static void check_pcb(const struct tcp_pcb *c, const struct app *a)
{
	unsigned int i;

	if (tracing())
		for (i = 0; i < c->n_ooo; i++)
			fprintf(stderr, "  ooo[%u] %08x+%u (rcv_nxt %08x)\n", i, c->ooo[i].seq,
				c->ooo[i].len, c->rcv_nxt);

	CHECK(c->ns == fz.ns);	/* the slot before did not overflow into this one */
	CHECK(c->state <= TCPS_TIME_WAIT);
	if (c->state == TCPS_CLOSED) {
		CHECK(!a->open);
		return;
	}
	CHECK(c->sb_len <= NET_TCP_SNDBUF && c->sb_head < NET_TCP_SNDBUF);
	CHECK(c->held <= NET_TCP_RCVWND);
	CHECK(c->n_ooo <= TCP_OOO_RANGES);
	/*
	 * Out-of-order ranges: sorted, disjoint, inside the window. Ahead of
	 * rcv_nxt only while data is still taken: a FIN at rcv_nxt ends the
	 * stream and leaves bytes a confused peer sent beyond it in the store,
	 * where nothing reads them again (CLOSE_WAIT and later take no data).
	 */
	for (i = 0; i < c->n_ooo; i++) {
		CHECK(c->ooo[i].len > 0 && c->ooo[i].len <= NET_TCP_RCVWND);
		if (c->state == TCPS_ESTABLISHED || c->state == TCPS_FIN_WAIT_1 ||
		    c->state == TCPS_FIN_WAIT_2) {
			CHECK(SEQ_GT(c->ooo[i].seq, c->rcv_nxt));
			CHECK(SEQ_LEQ(c->ooo[i].seq + c->ooo[i].len,
				      c->rcv_nxt + NET_TCP_RCVWND));
		}
		if (i)
			CHECK(SEQ_LT(c->ooo[i - 1].seq + c->ooo[i - 1].len, c->ooo[i].seq));
	}
	CHECK(c->mss >= TCP_MIN_MSS && c->mss <= NET_TCP_MSS);
	CHECK(c->rto >= TCP_RTO_MIN_MS && c->rto <= TCP_RTO_MAX_MS);
	CHECK(SEQ_LEQ(c->snd_una, c->snd_nxt) && SEQ_LEQ(c->snd_nxt, c->snd_max));
	if (c->state >= TCPS_ESTABLISHED && c->state != TCPS_TIME_WAIT) {
		CHECK(c->cwnd >= 1 && c->cwnd <= TCP_CWND_LIMIT);
		/* in flight: buffered bytes, plus the FIN once queued */
		CHECK(c->snd_max - c->snd_una <= c->sb_len + (c->fin_queued ? 1 : 0));
	}
	if (a->connecting) {
		CHECK(a->open && c->state == TCPS_SYN_SENT);
	} else if (a->open) {
		CHECK(c->state >= TCPS_ESTABLISHED && c->state != TCPS_TIME_WAIT);
		CHECK(c->rcv_nxt == a->irs + (uint32_t)a->rx + (a->fin ? 1 : 0));
		CHECK(a->written - a->acked == c->sb_len);
	}
}

static void check_stack(void)
{
	unsigned int i;

	CHECK(!memcmp(fz.ns->arp_tx, fz.arp_shadow, ETH_MIN_FRAME));
	for (i = 0; i < NET_TCP_MAX_CONNS; i++)
		check_pcb(&fz.ns->pcbs[i], &fz.app[i]);
	for (i = 0; i < ARP_ENTRIES; i++) {
		CHECK(fz.ns->arp[i].state <= ARP_VALID);
		CHECK(fz.ns->arp[i].pending_len <= NET_FRAME_MAX);
	}
}

/* --- frames from the peer --------------------------------------------------- */

/* Hands @len bytes to net_input() from a heap block of exactly that size. */
static void deliver(const uint8_t *frame, size_t len)
{
	uint8_t *b = malloc(len ? len : 1);

	CHECK(b);
	memcpy(b, frame, len);
	net_input(fz.ns, b, len);
	free(b);
	check_stack();
}

static size_t eth(uint8_t *f, const uint8_t *src, const uint8_t *dst, uint16_t type)
{
	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	put16(f + 12, type);
	return ETH_HLEN;
}

/* IPv4 header at @ip with @optlen bytes of NOP options; returns its length. */
static size_t ipv4(uint8_t *ip, uint32_t src, uint32_t dst, uint8_t proto, size_t l4len,
		   size_t optlen, uint16_t frag)
{
	size_t hl = IP_HLEN + optlen;

	ip[0] = (uint8_t)(0x40 | hl / 4);
	ip[1] = 0;
	put16(ip + 2, (uint16_t)(hl + l4len));
	put16(ip + 4, 0x1234);
	put16(ip + 6, frag);
	ip[8] = 64;
	ip[9] = proto;
	put16(ip + 10, 0);
	put32(ip + 12, src);
	put32(ip + 16, dst);
	memset(ip + IP_HLEN, 1, optlen);
	put16(ip + 10, fold(sum16(0, ip, hl)));
	return hl;
}

static const uint8_t *mac_of(uint32_t ip)
{
	return ip == PEER2_IP ? peer2_mac : peer_mac;
}

struct seg {
	uint32_t src;
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	uint16_t wnd;
	const uint8_t *opts;
	size_t optlen;		/* a multiple of 4, at most 40 */
	const uint8_t *data;
	size_t dlen;
	bool bad_sum;
	size_t ipopt;
};

static void send_seg(const struct seg *s)
{
	static uint8_t f[NET_FRAME_MAX + 4];
	size_t hl = TCP_HLEN + s->optlen, off, l4len = hl + s->dlen;
	uint8_t *t;

	off = eth(f, mac_of(s->src), stack_mac, ETHTYPE_IP);
	if (off + IP_HLEN + s->ipopt + l4len > sizeof(f))
		return;
	off += ipv4(f + off, s->src, fz.ns->ip ? fz.ns->ip : STACK_IP, IP_PROTO_TCP, l4len,
		    s->ipopt, 0x4000);
	t = f + off;
	put16(t, s->sport);
	put16(t + 2, s->dport);
	put32(t + 4, s->seq);
	put32(t + 8, s->ack);
	t[12] = (uint8_t)(hl / 4 << 4);
	t[13] = s->flags;
	put16(t + 14, s->wnd);
	put32(t + 16, 0);
	if (s->optlen)
		memcpy(t + TCP_HLEN, s->opts, s->optlen);
	if (s->dlen)
		memcpy(t + hl, s->data, s->dlen);
	put16(t + 16, fold(sum16(pseudo(s->src, fz.ns->ip ? fz.ns->ip : STACK_IP,
					 IP_PROTO_TCP, l4len), t, l4len)));
	if (s->bad_sum)
		t[17] ^= 0x40;
	if (tracing())
		fprintf(stderr, "  seg %u->%u seq=%08x ack=%08x flags=%02x wnd=%u len=%zu%s\n",
			s->sport, s->dport, s->seq, s->ack, s->flags, s->wnd, s->dlen,
			s->bad_sum ? " bad-sum" : "");
	deliver(f, off + l4len);
}

static struct tcp_pcb *find_pcb(uint32_t rip, uint16_t rport, uint16_t lport)
{
	unsigned int i;

	for (i = 0; i < NET_TCP_MAX_CONNS; i++) {
		struct tcp_pcb *c = &fz.ns->pcbs[i];

		if (c->state != TCPS_CLOSED && c->rip == rip && c->rport == rport &&
		    c->lport == lport)
			return c;
	}
	return NULL;
}

static void send_arp(uint16_t op, const uint8_t *sha, uint32_t spa, const uint8_t *tha,
		     uint32_t tpa, const uint8_t *dst)
{
	uint8_t f[ETH_MIN_FRAME] = { 0 };
	uint8_t *a = f + eth(f, sha, dst, ETHTYPE_ARP);

	put16(a, 1);
	put16(a + 2, ETHTYPE_IP);
	a[4] = 6;
	a[5] = 4;
	put16(a + 6, op);
	memcpy(a + 8, sha, 6);
	put32(a + 14, spa);
	memcpy(a + 18, tha, 6);
	put32(a + 24, tpa);
	deliver(f, sizeof(f));
}

/* --- DHCP server replies ---------------------------------------------------- */

#define DHCP_OFFER	2
#define DHCP_ACK	5
#define DHCP_NAK	6

struct dhcp_msg {
	uint8_t type;		/* 0: no message-type option */
	uint32_t xid, yiaddr, server_id, lease, t1, t2, mask, router;
	uint32_t dst;
	const uint8_t *extra;	/* raw options after ours */
	size_t extra_len;
	bool no_end, zero_sum, bad_sum;
};

static void send_dhcp(const struct dhcp_msg *m)
{
	static uint8_t f[NET_FRAME_MAX];
	uint8_t *ip = f + ETH_HLEN, *u = ip + IP_HLEN, *b = u + UDP_HLEN, *o;
	size_t blen, ulen;

	memset(f, 0, sizeof(f));
	eth(f, peer_mac, m->dst == IP_BROADCAST ? bcast_mac : stack_mac, ETHTYPE_IP);
	b[0] = 2;
	b[1] = 1;
	b[2] = 6;
	put32(b + 4, m->xid);
	put32(b + 16, m->yiaddr);
	memcpy(b + 28, stack_mac, 6);
	put32(b + 236, 0x63825363);
	o = b + 240;
	if (m->type) {
		o[0] = 53, o[1] = 1, o[2] = m->type;
		o += 3;
	}
#define OPT32(code, v) do { if (v) { o[0] = code; o[1] = 4; put32(o + 2, v); o += 6; } } while (0)
	OPT32(54, m->server_id);
	OPT32(51, m->lease);
	OPT32(58, m->t1);
	OPT32(59, m->t2);
	OPT32(1, m->mask);
	OPT32(3, m->router);
#undef OPT32
	if (m->extra_len > 200)
		return;
	if (m->extra_len)
		memcpy(o, m->extra, m->extra_len);
	o += m->extra_len;
	if (!m->no_end)
		*o++ = 255;
	blen = (size_t)(o - b);
	if (blen < 300)
		blen = 300;
	ulen = UDP_HLEN + blen;
	put16(u, 67);
	put16(u + 2, 68);
	put16(u + 4, (uint16_t)ulen);
	put16(u + 6, 0);
	ipv4(ip, GW_IP, m->dst, IP_PROTO_UDP, ulen, 0, 0);
	if (!m->zero_sum) {
		uint16_t s = fold(sum16(pseudo(GW_IP, m->dst, IP_PROTO_UDP, ulen), u, ulen));

		put16(u + 6, s ? s : 0xffff);
		if (m->bad_sum)
			u[7] ^= 0x10;
	}
	deliver(f, ETH_HLEN + IP_HLEN + ulen);
}

/* --- set-up ------------------------------------------------------------------ */

static void handshake(void)
{
	static const uint8_t mss[4] = { 2, 4, 0x05, 0xb4 };
	struct seg s = { .src = PEER_IP, .sport = PEER_PORT, .dport = PORT_OPEN,
			 .seq = PEER_ISS, .flags = TCP_SYN, .wnd = 65535,
			 .opts = mss, .optlen = 4 };
	struct tcp_pcb *c;

	send_seg(&s);
	c = find_pcb(PEER_IP, PEER_PORT, PORT_OPEN);
	CHECK(c && c->state == TCPS_SYN_RCVD);
	s.seq = PEER_ISS + 1;
	s.ack = c->iss + 1;
	s.flags = TCP_ACK;
	s.optlen = 0;
	send_seg(&s);
	CHECK(c->state == TCPS_ESTABLISHED && fz.app[c - fz.ns->pcbs].open);
}

static void dhcp_lease(void)
{
	struct dhcp_msg m = { .type = DHCP_OFFER, .yiaddr = STACK_IP, .server_id = GW_IP,
			      .lease = 3600, .mask = MASK, .router = GW_IP,
			      .dst = IP_BROADCAST };

	m.xid = fz.ns->dhcp.xid;
	send_dhcp(&m);
	CHECK(fz.ns->dhcp.state == DHCP_REQUESTING);
	m.type = DHCP_ACK;
	send_dhcp(&m);
	CHECK(fz.ns->dhcp.state == DHCP_BOUND && fz.ns->ip == STACK_IP);
}

static void setup(unsigned int mode, bool wrap)
{
	memset(&fz.app, 0, sizeof(fz.app));
	memset(fz.arp_shadow, 0, sizeof(fz.arp_shadow));
	memset(fz.peer_iss, 0, sizeof(fz.peer_iss));
	fz.now = 1000000;	/* not 0: "0 means unset" slips show */
	fz.rng = 0x9E3779B97F4A7C15ULL;
	fz.wrap = wrap;
	fz.raw_data = false;
	fz.sends = 0;
	{
		struct net_env env = { .ctx = NULL, .send = nic_send, .now_ms = clock_now,
				       .random = rng, .log = stack_log };

		CHECK(net_stack_size() <= sizeof(stack_mem));
		memset(stack_mem, 0xa5, net_stack_size());
		fz.ns = net_init(stack_mem, &env, stack_mac);
		CHECK(fz.ns);
	}
	net_set_static(fz.ns, STACK_IP, MASK, GW_IP);
	CHECK(tcp_listen(fz.ns, PORT_OPEN, &app_cb, (void *)(uintptr_t)PORT_OPEN) == 0);
	CHECK(tcp_listen(fz.ns, PORT_REFUSE, &app_cb, (void *)(uintptr_t)PORT_REFUSE) == 0);
	if (mode == MODE_DHCP_CONN || mode == MODE_DHCP_SELECTING) {
		net_dhcp_start(fz.ns, 30000);
		if (mode == MODE_DHCP_SELECTING)
			return;
		dhcp_lease();
	}
	/* the peer asks who we are: the stack learns its MAC */
	send_arp(1, peer_mac, PEER_IP, bcast_mac, STACK_IP, bcast_mac);
	if (mode == MODE_CONN || mode == MODE_DHCP_CONN) {
		fz.peer_iss[0] = PEER_ISS;
		handshake();
	}
}

/* --- operations ------------------------------------------------------------- */

/*
 * net_poll() handles whatever is due. After a long sleep a few polls may
 * be needed to catch up (a DHCP lease goes BOUND -> RENEWING -> expired
 * one step per poll), but a timer that stays due would make the network
 * thread, which sleeps until net_next_timer(), spin.
 */
static void poll_checked(void)
{
	unsigned int i;

	for (i = 0; i < 8; i++) {
		net_poll(fz.ns);
		check_stack();
		if (net_next_timer(fz.ns) > fz.now)
			return;
	}
	CHECK(!"a timer stays due however often net_poll() runs");
}

static void op_clock(uint8_t op)
{
	unsigned int shift = (op >> 4) & 7;
	uint64_t t;

	if ((op >> 4) == 15) {
		t = net_next_timer(fz.ns);
		if (t != UINT64_MAX && t > fz.now)
			fz.now = t;
	} else {
		fz.now += (uint64_t)get16() << shift;
	}
	poll_checked();
}

static void op_raw(void)
{
	static uint8_t f[NET_FRAME_MAX + 4];
	size_t n = get16() % (sizeof(f) + 1);

	n = get_bytes(f, n);
	fz.raw_data = true;
	deliver(f, n);
}

/* A sequence number relative to what the stack holds for the connection. */
static uint32_t pick_seq(uint8_t mode, const struct tcp_pcb *c, unsigned int port)
{
	uint32_t rcv = c ? c->rcv_nxt : fz.peer_iss[port] + 1;
	int16_t d = (int16_t)get16();

	switch (mode & 3) {
	case 0: return rcv + (uint32_t)(int32_t)d;
	case 1: return get32() ^ (uint32_t)d;
	case 2: return (c ? c->irs : fz.peer_iss[port]) + (uint32_t)(int32_t)d;
	default: return rcv + (uint32_t)(int32_t)d * 16u;
	}
}

static uint32_t pick_ack(uint8_t mode, const struct tcp_pcb *c)
{
	int8_t d = (int8_t)get8();
	uint32_t base;

	if (mode & 4)
		return get32();
	if (!c)
		return (uint32_t)(int32_t)d;
	switch ((mode >> 3) & 3) {
	case 0: base = c->snd_una; break;
	case 1: base = c->snd_nxt; break;
	case 2: base = c->snd_max; break;
	default: base = c->iss; break;
	}
	return base + (uint32_t)(int32_t)d * (mode & 0x20 ? 64u : 1u);
}

static void op_tcp(uint8_t op)
{
	static const uint16_t dports[4] = { PORT_OPEN, PORT_REFUSE, 7, 0 };
	static uint8_t data[NET_MTU], opts[40];
	uint8_t sel = get8(), mode = get8();
	unsigned int port = sel & 3, i;
	struct tcp_pcb *c = NULL, *k = &fz.ns->pcbs[sel & 7];
	struct seg s = { .src = (sel & 0x40) ? PEER2_IP : PEER_IP,
			 .sport = (uint16_t)(PEER_PORT + port),
			 .dport = dports[(sel >> 4) & 3] };

	if ((sel & 0x08) && k->state != TCPS_CLOSED) {
		/* the exact 4-tuple of connection slot k (an active open, too) */
		s.src = k->rip;
		s.sport = k->rport;
		s.dport = k->lport;
		port = 0;
	} else if (s.dport == 0) {
		s.dport = get16();
	}
	c = find_pcb(s.src, s.sport, s.dport);
	s.seq = pick_seq(mode, c, port);
	s.ack = pick_ack((uint8_t)(mode >> 2), c);
	s.flags = get8();
	s.wnd = get16();
	s.optlen = (size_t)(get8() % 11) * 4;
	memset(opts, 0, sizeof(opts));
	get_bytes(opts, s.optlen);
	s.opts = opts;
	s.dlen = get16() % (NET_MTU - IP_HLEN - TCP_HLEN - s.optlen + 1);
	if (op & 0x10) {
		s.dlen = get_bytes(data, s.dlen);
		fz.raw_data = true;
	} else {
		for (i = 0; i < s.dlen; i++)
			data[i] = pattern(s.seq + i);
	}
	s.data = data;
	s.bad_sum = op & 0x20;
	s.ipopt = (op & 0x40) ? 4 : 0;
	if (s.ipopt && s.dlen > NET_MTU - IP_HLEN - TCP_HLEN - s.optlen - 4)
		s.dlen = NET_MTU - IP_HLEN - TCP_HLEN - s.optlen - 4;
	if ((s.flags & TCP_SYN) && !c && s.sport >= PEER_PORT && s.sport < PEER_PORT + 4)
		fz.peer_iss[s.sport - PEER_PORT] = s.seq;
	send_seg(&s);
}

static void op_app(void)
{
	uint8_t k = get8();
	struct tcp_pcb *c = &fz.ns->pcbs[k & 7];
	struct app *a = &fz.app[k & 7];

	switch (k >> 3 & 7) {
	case 0:
		if (a->open)
			app_write(c, get16());
		break;
	case 1:
		if (a->open) {
			uint32_t held = c->held, n = get16();

			tcp_recved(c, n);
			if (c->state != TCPS_CLOSED)
				CHECK(c->held == (n < held ? held - n : 0));
		}
		break;
	case 2:
		if (a->open)
			tcp_close(c);
		break;
	case 3:
		if (a->open) {
			tcp_abort(c);
			CHECK(!a->open);
		}
		break;
	case 4:
		fz.policy = get8();
		break;
	case 6:
		fz.policy2 = get8();
		break;
	case 5: {
		/* an active open (the kernel only listens; the tests connect) */
		uint16_t port = get16();
		struct tcp_pcb *n;

		n = tcp_connect(fz.ns, (k & 0x40) ? PEER2_IP : PEER_IP, port ? port : 1, &app_cb,
				(void *)(uintptr_t)1);
		if (n) {
			struct app *na = app_of(n);

			CHECK(n->state == TCPS_SYN_SENT && !na->open);
			memset(na, 0, sizeof(*na));
			na->open = na->connecting = true;
		}
		break;
	}
	default:
		if (a->open)
			CHECK(tcp_send_space(c) <= NET_TCP_SNDBUF - c->sb_len);
		break;
	}
	check_stack();
}

static void op_dhcp(uint8_t op)
{
	static const uint8_t types[8] = { DHCP_OFFER, DHCP_ACK, DHCP_NAK, 0, 1, 3, 4, 7 };
	static uint8_t extra[200];
	uint8_t f = get8();
	struct dhcp_msg m = { .type = types[f & 7], .no_end = op & 0x10, .zero_sum = op & 0x20,
			      .bad_sum = op & 0x40 };

	/* one after the other: the input is read in this order */
	m.xid = (f & 0x08) ? get32() : fz.ns->dhcp.xid;
	m.yiaddr = (f & 0x10) ? get32() : STACK_IP;
	m.server_id = (f & 0x20) ? get32() : GW_IP;
	m.dst = (f & 0x40) ? STACK_IP : IP_BROADCAST;
	if (f & 0x80) {
		m.lease = get32();
		m.t1 = get32();
		m.t2 = get32();
		m.mask = get32();
		m.router = get32();
	} else {
		m.lease = 3600;
		m.mask = MASK;
		m.router = GW_IP;
	}
	m.extra_len = get_bytes(extra, get8() % sizeof(extra));
	m.extra = extra;
	send_dhcp(&m);
}

static void op_icmp(uint8_t op)
{
	static uint8_t f[NET_FRAME_MAX + 4];
	uint8_t *ip = f + ETH_HLEN, *icmp;
	/* up to the largest frame net_input() takes (an FCS may be left on) */
	size_t n = get16() % (sizeof(f) - ETH_HLEN - IP_HLEN + 1), i;
	uint32_t dst = (op & 0x10) ? IP_BROADCAST : STACK_IP;

	if (n < 8)
		n = 8;
	eth(f, peer_mac, stack_mac, ETHTYPE_IP);
	icmp = ip + ipv4(ip, PEER_IP, dst, IP_PROTO_ICMP, n, 0, 0);
	icmp[0] = (op & 0x20) ? 13 : 8;
	icmp[1] = 0;
	put16(icmp + 2, 0);
	for (i = 4; i < n; i++)
		icmp[i] = (uint8_t)i;
	put16(icmp + 2, fold(sum16(0, icmp, n)));
	deliver(f, (size_t)(icmp - f) + n);
}

static void op_arp(uint8_t op)
{
	static const uint32_t ips[4] = { PEER_IP, PEER2_IP, 0, NET_IP(10, 0, 2, 99) };
	uint8_t f = get8(), mac[6];
	uint32_t spa = (f & 4) ? get32() : ips[f & 3];
	uint32_t tpa = (f & 8) ? get32() : STACK_IP;

	if (f & 0x10)
		get_bytes(mac, 6);
	else
		memcpy(mac, spa == PEER2_IP ? peer2_mac : peer_mac, 6);
	send_arp((f & 0x20) ? 2 : 1, mac, spa, (f & 0x20) ? stack_mac : bcast_mac, tpa,
		 (f & 0x40) ? stack_mac : bcast_mac);
}

static void op_ip(uint8_t op)
{
	static uint8_t f[NET_FRAME_MAX + 4];
	uint8_t *ip = f + ETH_HLEN;
	uint8_t proto = get8(), fl = get8();
	uint16_t frag = (fl & 1) ? get16() : 0x4000;
	size_t optlen = (size_t)((fl >> 1) & 7) * 4;
	uint32_t src = (fl & 0x10) ? get32() : PEER_IP;
	uint32_t dst = (fl & 0x20) ? get32() : ((fl & 0x40) ? IP_BROADCAST : STACK_IP);
	size_t room = sizeof(f) - ETH_HLEN - IP_HLEN - optlen;
	size_t n = get16() % (room + 1);
	size_t hl;

	eth(f, peer_mac, stack_mac, ETHTYPE_IP);
	n = get_bytes(ip + IP_HLEN + optlen, n);
	hl = ipv4(ip, src, dst, proto, 0, optlen, frag);
	put16(ip + 2, (uint16_t)(hl + n));
	put16(ip + 10, 0);
	put16(ip + 10, fold(sum16(0, ip, hl)));
	fz.raw_data = true;
	deliver(f, ETH_HLEN + hl + n + ((op & 0x10) ? 4 : 0));	/* maybe an FCS-like tail */
}

/* One line per operation, when tracing. */
static void trace(const char *what)
{
	const struct net_stats *st = net_get_stats(fz.ns);
	unsigned int i;

	if (!tracing())
		return;
	fprintf(stderr, "%-6s t=%llu ip=%08x dhcp=%u sends=%lu drop=%llu in=%llu:",
		what, (unsigned long long)fz.now, (unsigned)fz.ns->ip, fz.ns->dhcp.state,
		fz.sends, (unsigned long long)st->dropped,
		(unsigned long long)st->tcp_segments_in);
	for (i = 0; i < NET_TCP_MAX_CONNS; i++) {
		const struct tcp_pcb *c = &fz.ns->pcbs[i];

		if (c->state != TCPS_CLOSED)
			fprintf(stderr, " [%u %u:%u st=%u rcv=%08x rx=%llu sb=%zu una=%08x fl=%u "
				"wnd=%u ooo=%u%s]", i, c->rport, c->lport, c->state, c->rcv_nxt,
				(unsigned long long)fz.app[i].rx, c->sb_len, c->snd_una,
				c->snd_max - c->snd_una, c->snd_wnd, c->n_ooo,
				fz.app[i].open ? " open" : "");
	}
	fprintf(stderr, "\n");
}

static const char *const names[8] = { "clock", "raw", "tcp", "app", "dhcp", "icmp", "arp", "ip" };

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t n);

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t n)
{
	unsigned int ops = 0, i;
	uint8_t mode, policy;
	uint64_t t;

	fz.in = in;
	fz.len = n;
	fz.pos = 0;
	mode = get8();
	policy = get8();
	fz.policy = policy & ~POL_ABORT_ACC;	/* the set-up's connection stays */
	setup(mode & 3, mode & 4);
	fz.policy = policy;
	fz.policy2 = 0;
	check_stack();
	trace("setup");
	while (more() && ops++ < MAX_OPS) {
		uint8_t op = get8();

		switch (op & 15) {
		case 0: op_clock(op); break;
		case 1: op_raw(); break;
		case 2: op_tcp(op); break;
		case 3: op_app(); break;
		case 4: op_dhcp(op); break;
		case 5: op_icmp(op); break;
		case 6: op_arp(op); break;
		case 7: op_ip(op); break;
		default: op_clock(0xf0); break;
		}
		trace((op & 15) < 8 ? names[op & 15] : "timer");
	}
	/* let the timers run out: retransmissions, persist, TIME_WAIT, leases */
	for (i = 0; i < MAX_DRAIN; i++) {
		t = net_next_timer(fz.ns);
		if (t == UINT64_MAX)
			break;
		if (t > fz.now)
			fz.now = t;
		poll_checked();
	}
	return 0;
}
