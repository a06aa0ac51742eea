// unit-srcs: src/net/stack.c src/net/eth_arp.c src/net/ipv4.c src/net/dhcp.c src/net/tcp.c src/net/tcp_in.c src/net/tcp_out.c test/unit/net/sim.c test/unit/net/frames.c
/*
 * The stack against hand-built frames: ARP replies, ICMP echo, UDP to a
 * closed port, IPv4 validation (checksum, lengths, fragments), TCP resets
 * for closed ports and bad ACKs, a hand-driven handshake, malformed TCP
 * options, the half-open timeout, which closing slot a SYN takes when all
 * are busy (never a half-open one before a finished closer), FINs that
 * cross, the application's poll, and a fuzz loop over mutated frames
 * (run under ASan/UBSan by make unit).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <kernel/net.h>
#include "../../src/net/stack.h"
#include "net/sim.h"
#include "net/frames.h"

#define OUR_IP		NET_IP(10, 0, 0, 1)
#define PEER_IP		NET_IP(10, 0, 0, 2)
#define OTHER_IP	NET_IP(10, 0, 0, 3)

static const uint8_t peer_mac[6] = { 0x02, 0, 0, 0, 0, 0x02 };
static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
static const uint8_t zero_mac[6];

struct fx {
	struct sim *sim;
	struct net_stack *ns;
	const uint8_t *mac;
	uint8_t f[FB_MAX];
	/* TCP application state */
	struct tcp_pcb *conn;
	int accepted, closed, closed_reason;
	uint8_t rx[4096];
	size_t rx_len;
	bool fin;
};

static int setup(void **state)
{
	struct fx *x = calloc(1, sizeof(*x));

	x->sim = sim_new(1, 42);
	x->ns = sim_stack(x->sim, 0);
	x->mac = sim_mac(x->sim, 0);
	net_set_static(x->ns, OUR_IP, NET_IP(255, 255, 255, 0), NET_IP(10, 0, 0, 254));
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fx *x = *state;

	sim_free(x->sim);
	free(x);
	return 0;
}

static void input(struct fx *x, size_t len)
{
	net_input(x->ns, x->f, len);
}

static const struct net_stats *stats(struct fx *x)
{
	return net_get_stats(x->ns);
}

/* Lets the stack learn the peer's MAC, so replies go out at once. */
static void teach_arp(struct fx *x)
{
	input(x, fb_arp(x->f, bcast, peer_mac, 1, peer_mac, PEER_IP, zero_mac, OUR_IP));
	sim_clear_capture(x->sim, 0);
}

static const uint8_t *only_frame(struct fx *x, size_t *len)
{
	assert_int_equal(sim_captured(x->sim, 0), 1);
	return sim_capture(x->sim, 0, 0, len);
}

static void test_arp_reply(void **state)
{
	struct fx *x = *state;
	const uint8_t *r;
	size_t len;

	input(x, fb_arp(x->f, bcast, peer_mac, 1, peer_mac, PEER_IP, zero_mac, OUR_IP));
	r = only_frame(x, &len);
	assert_int_equal(len, 60);
	assert_memory_equal(r, peer_mac, 6);
	assert_memory_equal(r + 6, x->mac, 6);
	assert_int_equal(fb_get16(r + 12), 0x0806);
	assert_int_equal(fb_get16(r + 14), 1);
	assert_int_equal(fb_get16(r + 16), 0x0800);
	assert_int_equal(r[18], 6);
	assert_int_equal(r[19], 4);
	assert_int_equal(fb_get16(r + 20), 2);
	assert_memory_equal(r + 22, x->mac, 6);
	assert_int_equal(fb_get32(r + 28), OUR_IP);
	assert_memory_equal(r + 32, peer_mac, 6);
	assert_int_equal(fb_get32(r + 38), PEER_IP);
	assert_int_equal(stats(x)->arp_replies, 1);

	/* A request for another host: no reply, not an error either. */
	sim_clear_capture(x->sim, 0);
	input(x, fb_arp(x->f, bcast, peer_mac, 1, peer_mac, PEER_IP, zero_mac, OTHER_IP));
	assert_int_equal(sim_captured(x->sim, 0), 0);
	/* Truncated and wrong-type ARP are dropped. */
	input(x, 14 + 20);
	x->f[14 + 4] = 8;	/* hlen */
	input(x, 60);
	assert_int_equal(sim_captured(x->sim, 0), 0);
	assert_int_equal(stats(x)->dropped, 2);
}

static void check_echo_reply(struct fx *x, const uint8_t *r, size_t len, uint16_t id,
			     uint16_t seq, const uint8_t *payload, size_t plen)
{
	const uint8_t *l4;
	size_t l4len;
	uint32_t sip, dip;

	assert_int_equal(fb_parse_ip(r, len, &l4, &l4len, &sip, &dip), 1);
	assert_memory_equal(r, peer_mac, 6);
	assert_int_equal(sip, OUR_IP);
	assert_int_equal(dip, PEER_IP);
	assert_int_equal(l4len, 8 + plen);
	assert_int_equal(l4[0], 0);
	assert_int_equal(l4[1], 0);
	assert_int_equal(fb_get16(l4 + 4), id);
	assert_int_equal(fb_get16(l4 + 6), seq);
	assert_memory_equal(l4 + 8, payload, plen);
	assert_int_equal(fb_csum(0, l4, l4len), 0);
}

static void test_icmp_echo(void **state)
{
	struct fx *x = *state;
	uint8_t payload[56];
	const uint8_t *r;
	size_t i, len;

	for (i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)(i * 7 + 1);
	teach_arp(x);
	input(x, fb_icmp_echo(x->f, x->mac, peer_mac, PEER_IP, OUR_IP, 0x1234, 7, payload,
			      sizeof(payload)));
	r = only_frame(x, &len);
	check_echo_reply(x, r, len, 0x1234, 7, payload, sizeof(payload));
	assert_int_equal(stats(x)->icmp_echo, 1);

	/* Odd payload length exercises the checksum's last byte. */
	sim_clear_capture(x->sim, 0);
	input(x, fb_icmp_echo(x->f, x->mac, peer_mac, PEER_IP, OUR_IP, 1, 2, payload, 13));
	r = only_frame(x, &len);
	check_echo_reply(x, r, len, 1, 2, payload, 13);

	/* Echo to a broadcast address: no reply. */
	sim_clear_capture(x->sim, 0);
	input(x, fb_icmp_echo(x->f, bcast, peer_mac, PEER_IP, NET_IP(10, 0, 0, 255), 1, 2,
			      payload, 8));
	assert_int_equal(sim_captured(x->sim, 0), 0);
}

/*
 * The largest echo that fits in a reply is answered; a longer one (the
 * frame net_input() takes may be 4 bytes over NET_FRAME_MAX) is dropped
 * without its copy running past ns->tx into the next field, arp_tx (found
 * by fuzzing; ASan cannot see inside one struct).
 */
static void test_icmp_echo_too_long(void **state)
{
	struct fx *x = *state;
	static uint8_t payload[NET_MTU];
	uint8_t arp_before[ETH_MIN_FRAME];
	const uint8_t *r;
	size_t i, len, room = NET_MTU - IP_HLEN - 8;

	for (i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)(i * 13 + 5);
	teach_arp(x);
	input(x, fb_icmp_echo(x->f, x->mac, peer_mac, PEER_IP, OUR_IP, 3, 1, payload, room));
	r = only_frame(x, &len);
	assert_int_equal(len, NET_FRAME_MAX);
	check_echo_reply(x, r, len, 3, 1, payload, room);

	sim_clear_capture(x->sim, 0);
	memcpy(arp_before, x->ns->arp_tx, sizeof(arp_before));
	assert_int_equal(fb_icmp_echo(x->f, x->mac, peer_mac, PEER_IP, OUR_IP, 3, 2, payload,
				      room + 4), NET_FRAME_MAX + 4);
	input(x, NET_FRAME_MAX + 4);
	assert_int_equal(sim_captured(x->sim, 0), 0);
	assert_memory_equal(x->ns->arp_tx, arp_before, sizeof(arp_before));
	assert_int_equal(stats(x)->icmp_echo, 1);
}

/* Unknown next hop: ARP request, one frame held, released by the reply. */
static void test_arp_pending(void **state)
{
	struct fx *x = *state;
	uint8_t payload[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	const uint8_t *r;
	size_t len;

	input(x, fb_icmp_echo(x->f, x->mac, peer_mac, PEER_IP, OUR_IP, 5, 1, payload, 8));
	r = only_frame(x, &len);
	assert_memory_equal(r, bcast, 6);
	assert_int_equal(fb_get16(r + 12), 0x0806);
	assert_int_equal(fb_get16(r + 20), 1);
	assert_int_equal(fb_get32(r + 38), PEER_IP);
	assert_int_equal(stats(x)->arp_requests, 1);
	/* A second packet replaces the queued one; no second request. */
	input(x, fb_icmp_echo(x->f, x->mac, peer_mac, PEER_IP, OUR_IP, 5, 2, payload, 8));
	assert_int_equal(sim_captured(x->sim, 0), 1);
	sim_clear_capture(x->sim, 0);
	input(x, fb_arp(x->f, x->mac, peer_mac, 2, peer_mac, PEER_IP, x->mac, OUR_IP));
	r = only_frame(x, &len);
	check_echo_reply(x, r, len, 5, 2, payload, 8);

	/* No answer at all: three requests a second apart, then give up. */
	sim_clear_capture(x->sim, 0);
	net_set_static(x->ns, OUR_IP, NET_IP(255, 255, 255, 0), 0);
	input(x, fb_icmp_echo(x->f, x->mac, peer_mac, OTHER_IP, OUR_IP, 5, 3, payload, 8));
	for (len = 0; len < 10; len++) {
		sim_set_time_ms(x->sim, sim_now_ms(x->sim) + 500);
		net_poll(x->ns);
	}
	assert_int_equal(sim_captured(x->sim, 0), 3);
	assert_int_equal(net_next_timer(x->ns), UINT64_MAX);
}

/* Cache entries age out: after ARP_TTL_MS the peer is asked again. */
static void test_arp_expiry(void **state)
{
	struct fx *x = *state;
	uint8_t payload[8] = { 0 };
	const uint8_t *r;
	size_t len;

	teach_arp(x);
	sim_set_time_ms(x->sim, sim_now_ms(x->sim) + ARP_TTL_MS - 1000);
	net_poll(x->ns);
	input(x, fb_icmp_echo(x->f, x->mac, peer_mac, PEER_IP, OUR_IP, 5, 1, payload, 8));
	r = only_frame(x, &len);
	assert_int_equal(fb_get16(r + 12), 0x0800);
	sim_clear_capture(x->sim, 0);
	sim_set_time_ms(x->sim, sim_now_ms(x->sim) + 2000);
	net_poll(x->ns);
	input(x, fb_icmp_echo(x->f, x->mac, peer_mac, PEER_IP, OUR_IP, 5, 2, payload, 8));
	r = only_frame(x, &len);
	assert_int_equal(fb_get16(r + 12), 0x0806);
	assert_int_equal(fb_get16(r + 20), 1);
}

static void test_udp_closed_port(void **state)
{
	struct fx *x = *state;
	uint8_t data[10] = "hello";
	uint64_t dropped = stats(x)->dropped;
	size_t len;

	teach_arp(x);
	input(x, fb_udp(x->f, x->mac, peer_mac, PEER_IP, OUR_IP, 1234, 9999, data, sizeof(data)));
	assert_int_equal(sim_captured(x->sim, 0), 0);
	assert_int_equal(stats(x)->dropped, dropped + 1);
	/* Bad UDP checksum and a UDP length beyond the packet. */
	len = fb_udp(x->f, x->mac, peer_mac, PEER_IP, OUR_IP, 67, 68, data, sizeof(data));
	x->f[34 + 6] ^= 0x55;
	input(x, len);
	assert_int_equal(stats(x)->bad_checksum, 1);
	len = fb_udp(x->f, x->mac, peer_mac, PEER_IP, OUR_IP, 67, 68, data, sizeof(data));
	x->f[34 + 5] = 200;
	input(x, len);
	assert_int_equal(stats(x)->dropped, dropped + 3);
	assert_int_equal(sim_captured(x->sim, 0), 0);
}

static void test_ip_bad(void **state)
{
	struct fx *x = *state;
	uint8_t payload[16] = { 0 };
	size_t len;

	teach_arp(x);
#define ECHO() fb_icmp_echo(x->f, x->mac, peer_mac, PEER_IP, OUR_IP, 9, 9, payload, 16)
	len = ECHO();
	x->f[24] ^= 1;				/* bad header checksum */
	input(x, len);
	assert_int_equal(stats(x)->bad_checksum, 1);
	assert_int_equal(stats(x)->dropped, 1);

	len = ECHO();
	x->f[16] = 0x05;			/* total length beyond the frame */
	fb_fix_ip_csum(x->f);
	input(x, len);
	len = ECHO();
	x->f[16] = 0;
	x->f[17] = 19;				/* total length below the header */
	fb_fix_ip_csum(x->f);
	input(x, len);
	len = ECHO();
	x->f[14] = 0x44;			/* IHL 4 */
	input(x, len);
	len = ECHO();
	x->f[14] = 0x4f;			/* IHL 15: 60 bytes > packet */
	input(x, 14 + 40);
	len = ECHO();
	x->f[14] = 0x65;			/* version 6 */
	fb_fix_ip_csum(x->f);
	input(x, len);
	len = ECHO();
	x->f[20] = 0x20;			/* MF: first fragment */
	fb_fix_ip_csum(x->f);
	input(x, len);
	len = ECHO();
	x->f[20] = 0x40;
	x->f[21] = 0x10;			/* fragment offset 16 */
	fb_fix_ip_csum(x->f);
	input(x, len);
	input(x, 14 + 10);			/* truncated header */
	input(x, 10);				/* truncated Ethernet */
	len = ECHO();
	x->f[14 + 2 + 22] ^= 0xff;		/* ICMP checksum */
	input(x, len);
	len = ECHO();
	x->f[14 + 9] = 99;			/* unknown protocol */
	fb_fix_ip_csum(x->f);
	input(x, len);
	len = ECHO();
	x->f[33] = 0x05;			/* not our address */
	fb_fix_ip_csum(x->f);
	input(x, len);
	assert_int_equal(stats(x)->bad_checksum, 2);
	assert_int_equal(stats(x)->dropped, 13);
	assert_int_equal(sim_captured(x->sim, 0), 0);
	assert_int_equal(stats(x)->icmp_echo, 0);
	/* IP options are skipped; Ethernet padding after the packet is ignored. */
	len = ECHO();
	memmove(x->f + 38, x->f + 34, len - 34);
	memset(x->f + 34, 1, 4);		/* four NOP options */
	x->f[14] = 0x46;
	x->f[17] += 4;
	fb_fix_ip_csum(x->f);
	input(x, len + 4 + 20);
	assert_int_equal(stats(x)->icmp_echo, 1);
#undef ECHO
}

static size_t tcp_frame(struct fx *x, uint16_t dport, uint32_t seq, uint32_t ack,
			uint8_t flags, const uint8_t *opts, size_t optlen,
			const void *data, size_t dlen)
{
	struct fb_tcp t = {
		.sport = 40000, .dport = dport, .seq = seq, .ack = ack, .flags = flags,
		.wnd = 8192, .opts = opts, .optlen = optlen, .data = data, .dlen = dlen,
	};

	return fb_tcp(x->f, x->mac, peer_mac, PEER_IP, OUR_IP, &t);
}

static void only_tcp(struct fx *x, struct fb_tcp_view *v)
{
	size_t len;
	const uint8_t *r = only_frame(x, &len);

	assert_true(fb_parse_tcp(r, len, v));
	assert_memory_equal(r, peer_mac, 6);
	assert_int_equal(v->sip, OUR_IP);
	assert_int_equal(v->dip, PEER_IP);
	sim_clear_capture(x->sim, 0);
}

static void test_tcp_closed_port(void **state)
{
	struct fx *x = *state;
	struct fb_tcp_view v;

	teach_arp(x);
	input(x, tcp_frame(x, 81, 1000, 0, TCP_SYN, NULL, 0, NULL, 0));
	only_tcp(x, &v);
	assert_int_equal(v.flags, TCP_RST | TCP_ACK);
	assert_int_equal(v.seq, 0);
	assert_int_equal(v.ack, 1001);
	assert_int_equal(v.sport, 81);
	assert_int_equal(v.dport, 40000);
	/* With an ACK, the RST takes its sequence number from it. */
	input(x, tcp_frame(x, 81, 1000, 777, TCP_ACK, NULL, 0, "abc", 3));
	only_tcp(x, &v);
	assert_int_equal(v.flags, TCP_RST);
	assert_int_equal(v.seq, 777);
	/* A RST is never answered. */
	input(x, tcp_frame(x, 81, 1000, 777, TCP_RST | TCP_ACK, NULL, 0, NULL, 0));
	assert_int_equal(sim_captured(x->sim, 0), 0);
	assert_int_equal(stats(x)->tcp_rst_sent, 2);
}

static int app_accepted(void *arg, struct tcp_pcb *c)
{
	struct fx *x = arg;

	x->conn = c;
	x->accepted++;
	return 0;
}

static void app_received(void *arg, struct tcp_pcb *c, const void *data, size_t len)
{
	struct fx *x = arg;

	if (!len) {
		x->fin = true;
		return;
	}
	if (x->rx_len + len <= sizeof(x->rx))
		memcpy(x->rx + x->rx_len, data, len);
	x->rx_len += len;
}

static void app_closed(void *arg, struct tcp_pcb *c, int reason)
{
	struct fx *x = arg;

	x->closed++;
	x->closed_reason = reason;
	x->conn = NULL;
}

static const struct tcp_callbacks app_cb = {
	.accepted = app_accepted, .received = app_received, .closed = app_closed,
};

static const uint8_t mss_opt[4] = { 2, 4, 0x03, 0xe8 };	/* MSS 1000 */

/* SYN, SYN-ACK, ACK by hand; returns the stack's ISN. */
static uint32_t handshake(struct fx *x, uint32_t iss)
{
	struct fb_tcp_view v;

	input(x, tcp_frame(x, 80, iss, 0, TCP_SYN, mss_opt, 4, NULL, 0));
	only_tcp(x, &v);
	assert_int_equal(v.flags, TCP_SYN | TCP_ACK);
	assert_int_equal(v.ack, iss + 1);
	assert_int_equal(v.mss, 1460);
	assert_int_equal(v.wnd, NET_TCP_RCVWND);
	input(x, tcp_frame(x, 80, iss + 1, v.seq + 1, TCP_ACK, NULL, 0, NULL, 0));
	assert_int_equal(sim_captured(x->sim, 0), 0);
	return v.seq;
}

static void test_tcp_handshake_by_hand(void **state)
{
	struct fx *x = *state;
	struct fb_tcp_view v;
	uint32_t isn;

	teach_arp(x);
	assert_int_equal(tcp_listen(x->ns, 80, &app_cb, x), 0);
	assert_int_equal(tcp_listen(x->ns, 80, &app_cb, x), -17);
	/* A bare ACK to a listener gets a RST. */
	input(x, tcp_frame(x, 80, 5, 12345, TCP_ACK, NULL, 0, NULL, 0));
	only_tcp(x, &v);
	assert_int_equal(v.flags, TCP_RST);
	assert_int_equal(v.seq, 12345);

	isn = handshake(x, 0xfffffff0U);
	assert_int_equal(x->accepted, 1);
	assert_non_null(x->conn);
	assert_int_equal(tcp_remote_ip(x->conn), PEER_IP);
	assert_int_equal(tcp_remote_port(x->conn), 40000);
	/* Data across the sequence wrap is delivered and acknowledged. */
	input(x, tcp_frame(x, 80, 0xfffffff1U, isn + 1, TCP_ACK | TCP_PSH, NULL, 0,
			   "hello, world, wrap", 18));
	only_tcp(x, &v);
	assert_int_equal(x->rx_len, 18);
	assert_memory_equal(x->rx, "hello, world, wrap", 18);
	assert_int_equal(v.ack, 0xfffffff1U + 18);
	assert_int_equal(v.wnd, NET_TCP_RCVWND - 18);
	/* Our data respects the peer's MSS option (1000). */
	{
		static uint8_t big[3000];

		assert_int_equal(tcp_write(x->conn, big, sizeof(big)), sizeof(big));
		assert_true(sim_captured(x->sim, 0) >= 2);
		size_t len;
		const uint8_t *r = sim_capture(x->sim, 0, 0, &len);

		assert_true(fb_parse_tcp(r, len, &v));
		assert_int_equal(v.dlen, 1000);
		assert_int_equal(v.seq, isn + 1);
		sim_clear_capture(x->sim, 0);
	}
	/* An in-window RST with the wrong sequence gets a challenge ACK. */
	input(x, tcp_frame(x, 80, 0xfffffff1U + 100, 0, TCP_RST, NULL, 0, NULL, 0));
	only_tcp(x, &v);
	assert_int_equal(v.flags, TCP_ACK);
	assert_int_equal(x->closed, 0);
	/* SYN on an established connection: challenge ACK too. */
	input(x, tcp_frame(x, 80, 0xfffffff1U + 18, 0, TCP_SYN, NULL, 0, NULL, 0));
	only_tcp(x, &v);
	assert_int_equal(v.flags, TCP_ACK);
	/* The exact RST resets. */
	input(x, tcp_frame(x, 80, 0xfffffff1U + 18, 0, TCP_RST, NULL, 0, NULL, 0));
	assert_int_equal(x->closed, 1);
	assert_int_equal(x->closed_reason, TCP_CLOSED_RESET);
	assert_int_equal(stats(x)->tcp_rst_received, 1);
	assert_int_equal(stats(x)->tcp_accepted, 1);
}

static void test_tcp_bad_options(void **state)
{
	struct fx *x = *state;
	static const struct {
		uint8_t opts[8];
		size_t len;
	} bad[] = {
		{ { 3, 0, 0, 0 }, 4 },		/* zero-length option */
		{ { 3, 1, 0, 0 }, 4 },		/* length 1 */
		{ { 1, 1, 1, 8 }, 4 },		/* kind with no length byte */
		{ { 2, 12, 5, 0 }, 4 },		/* length beyond the header */
		{ { 2, 3, 5, 0 }, 4 },		/* MSS of the wrong size */
		{ { 1, 1, 8, 10, 0, 0, 0, 0 }, 8 },	/* timestamps cut short */
	};
	uint64_t dropped = stats(x)->dropped;
	size_t i, len;

	teach_arp(x);
	assert_int_equal(tcp_listen(x->ns, 80, &app_cb, x), 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		input(x, tcp_frame(x, 80, 1, 0, TCP_SYN, bad[i].opts, bad[i].len, NULL, 0));
	/* Data offset < 5, and beyond the segment. */
	len = tcp_frame(x, 80, 1, 0, TCP_SYN, NULL, 0, NULL, 0);
	x->f[34 + 12] = 0x40;
	input(x, len);
	x->f[34 + 12] = 0xf0;
	input(x, len);
	/* SYN+FIN, SYN+RST and no flags at all. */
	input(x, tcp_frame(x, 80, 1, 0, TCP_SYN | TCP_FIN, NULL, 0, NULL, 0));
	input(x, tcp_frame(x, 80, 1, 0, TCP_SYN | TCP_RST, NULL, 0, NULL, 0));
	input(x, tcp_frame(x, 80, 1, 0, 0, NULL, 0, NULL, 0));
	/* Bad TCP checksum; a segment shorter than a header. */
	len = tcp_frame(x, 80, 1, 0, TCP_SYN, NULL, 0, NULL, 0);
	x->f[34 + 17] ^= 1;
	input(x, len);
	len = tcp_frame(x, 80, 1, 0, TCP_SYN, NULL, 0, NULL, 0);
	x->f[17] = 20 + 12;
	fb_fix_ip_csum(x->f);
	input(x, len);
	assert_int_equal(stats(x)->dropped, dropped + 13);
	assert_int_equal(stats(x)->bad_checksum, 1);
	assert_int_equal(sim_captured(x->sim, 0), 0);
	/* Unknown options (window scale, SACK-permitted, timestamps) are skipped. */
	{
		static const uint8_t ok[20] = { 2, 4, 5, 0xb4, 1, 3, 3, 7, 4, 2, 8, 10,
						1, 2, 3, 4, 0, 0, 0, 0 };
		struct fb_tcp_view v;

		input(x, tcp_frame(x, 80, 1, 0, TCP_SYN, ok, sizeof(ok), NULL, 0));
		only_tcp(x, &v);
		assert_int_equal(v.flags, TCP_SYN | TCP_ACK);
	}
}

static void advance(struct fx *x, uint64_t ms)
{
	uint64_t end = sim_now_ms(x->sim) + ms;

	while (sim_now_ms(x->sim) < end) {
		sim_set_time_ms(x->sim, sim_now_ms(x->sim) + 10);
		net_poll(x->ns);
	}
}

static void test_tcp_half_open_timeout(void **state)
{
	struct fx *x = *state;
	struct fb_tcp_view v;

	teach_arp(x);
	assert_int_equal(tcp_listen(x->ns, 80, &app_cb, x), 0);
	input(x, tcp_frame(x, 80, 100, 0, TCP_SYN, NULL, 0, NULL, 0));
	only_tcp(x, &v);
	/* A repeated SYN gets the same SYN-ACK again. */
	input(x, tcp_frame(x, 80, 100, 0, TCP_SYN, NULL, 0, NULL, 0));
	only_tcp(x, &v);
	assert_int_equal(v.flags, TCP_SYN | TCP_ACK);
	advance(x, 9900);
	/* SYN-ACK retransmitted at 1, 3 and 7 s (RTO 1 s doubling). */
	assert_int_equal(sim_captured(x->sim, 0), 3);
	assert_int_equal(stats(x)->tcp_timeouts, 0);
	advance(x, 200);
	assert_int_equal(stats(x)->tcp_timeouts, 1);
	assert_int_equal(x->accepted, 0);
	assert_int_equal(x->closed, 0);
	sim_clear_capture(x->sim, 0);
	input(x, tcp_frame(x, 80, 101, v.seq + 1, TCP_ACK, NULL, 0, NULL, 0));
	only_tcp(x, &v);
	assert_int_equal(v.flags, TCP_RST);
	/* A wrong ACK for the SYN-ACK gets a RST and keeps the half-open slot. */
	input(x, tcp_frame(x, 80, 500, 0, TCP_SYN, NULL, 0, NULL, 0));
	only_tcp(x, &v);
	input(x, tcp_frame(x, 80, 501, v.seq + 7, TCP_ACK, NULL, 0, NULL, 0));
	only_tcp(x, &v);
	assert_int_equal(v.flags, TCP_RST);
	assert_int_equal(x->accepted, 0);
}

static void test_tcp_out_of_order(void **state)
{
	struct fx *x = *state;
	struct fb_tcp_view v;
	uint32_t isn, s0 = 7000 + 1;

	teach_arp(x);
	assert_int_equal(tcp_listen(x->ns, 80, &app_cb, x), 0);
	isn = handshake(x, 7000);
	/* A later segment is held and answered with a duplicate ACK. */
	input(x, tcp_frame(x, 80, s0 + 10, isn + 1, TCP_ACK, NULL, 0, "WORLD", 5));
	only_tcp(x, &v);
	assert_int_equal(v.ack, s0);
	assert_int_equal(x->rx_len, 0);
	/* An overlapping one merges with it. */
	input(x, tcp_frame(x, 80, s0 + 12, isn + 1, TCP_ACK, NULL, 0, "RLD!!", 5));
	only_tcp(x, &v);
	/* The FIN, out of order too. */
	input(x, tcp_frame(x, 80, s0 + 17, isn + 1, TCP_ACK | TCP_FIN, NULL, 0, NULL, 0));
	only_tcp(x, &v);
	assert_false(x->fin);
	/* The gap fills: everything comes out in order, then the FIN. */
	input(x, tcp_frame(x, 80, s0, isn + 1, TCP_ACK, NULL, 0, "hello, wo", 10));
	only_tcp(x, &v);
	assert_int_equal(x->rx_len, 17);
	assert_memory_equal(x->rx, "hello, wo\0WORLD!!", 17);
	assert_true(x->fin);
	assert_int_equal(v.ack, s0 + 18);
	/* Old duplicates change nothing. */
	input(x, tcp_frame(x, 80, s0, isn + 1, TCP_ACK, NULL, 0, "hello, wo", 10));
	only_tcp(x, &v);
	assert_int_equal(v.ack, s0 + 18);
	assert_int_equal(x->rx_len, 17);
	/* Our side closes: FIN, and the peer's ACK ends it (LAST_ACK). */
	tcp_close(x->conn);
	only_tcp(x, &v);
	assert_true(v.flags & TCP_FIN);
	input(x, tcp_frame(x, 80, s0 + 18, v.seq + 1, TCP_ACK, NULL, 0, NULL, 0));
	assert_int_equal(x->closed, 1);
	assert_int_equal(x->closed_reason, TCP_CLOSED_NORMAL);
}

/* Data beyond the window is cut at the window's edge. */
static void test_tcp_window_edge(void **state)
{
	struct fx *x = *state;
	static uint8_t data[1400];
	struct fb_tcp_view v;
	uint32_t isn, seq = 100 + 1;
	int i;

	teach_arp(x);
	assert_int_equal(tcp_listen(x->ns, 80, &app_cb, x), 0);
	isn = handshake(x, 100);
	for (i = 0; i < 12; i++) {
		input(x, tcp_frame(x, 80, seq, isn + 1, TCP_ACK, NULL, 0, data, sizeof(data)));
		only_tcp(x, &v);
		seq += sizeof(data);
	}
	/* 16800 sent, 16384 fit; the app has not consumed any of it. */
	assert_int_equal(v.ack, 101 + NET_TCP_RCVWND);
	assert_int_equal(v.wnd, 0);
	assert_int_equal(x->rx_len, NET_TCP_RCVWND);
	/* A zero-window probe gets the same answer. */
	input(x, tcp_frame(x, 80, 101 + NET_TCP_RCVWND, isn + 1, TCP_ACK, NULL, 0, data, 1));
	only_tcp(x, &v);
	assert_int_equal(v.wnd, 0);
	assert_int_equal(v.ack, 101 + NET_TCP_RCVWND);
	/* Consuming reopens it with a window update. */
	tcp_recved(x->conn, NET_TCP_RCVWND);
	only_tcp(x, &v);
	assert_int_equal(v.wnd, NET_TCP_RCVWND);
}

/*
 * More SYNs than slots: half-open connections give way to new SYNs (oldest
 * first), established ones never do; with all slots established, extra
 * SYNs are dropped, not reset, so the client retries.
 */
static void test_tcp_backlog(void **state)
{
	struct fx *x = *state;
	struct fb_tcp t = { .dport = 80, .seq = 1, .flags = TCP_SYN, .wnd = 1000 };
	struct fb_tcp_view v;
	int i;

	teach_arp(x);
	assert_int_equal(tcp_listen(x->ns, 80, &app_cb, x), 0);
	for (i = 0; i < NET_TCP_MAX_CONNS + 2; i++) {
		t.sport = (uint16_t)(30000 + i);
		input(x, fb_tcp(x->f, x->mac, peer_mac, PEER_IP, OUR_IP, &t));
	}
	assert_int_equal(sim_captured(x->sim, 0), NET_TCP_MAX_CONNS + 2);
	sim_clear_capture(x->sim, 0);
	for (i = 0; i < NET_TCP_MAX_CONNS; i++) {
		t.sport = (uint16_t)(31000 + i);
		t.flags = TCP_SYN;
		t.ack = 0;
		input(x, fb_tcp(x->f, x->mac, peer_mac, PEER_IP, OUR_IP, &t));
		only_tcp(x, &v);
		t.flags = TCP_ACK;
		t.seq = 2;
		t.ack = v.seq + 1;
		input(x, fb_tcp(x->f, x->mac, peer_mac, PEER_IP, OUR_IP, &t));
		t.seq = 1;
	}
	assert_int_equal(stats(x)->tcp_accepted, NET_TCP_MAX_CONNS);
	t.sport = 32000;
	t.flags = TCP_SYN;
	t.ack = 0;
	input(x, fb_tcp(x->f, x->mac, peer_mac, PEER_IP, OUR_IP, &t));
	assert_int_equal(sim_captured(x->sim, 0), 0);
	assert_int_equal(stats(x)->dropped, 1);
	assert_int_equal(tcp_listen(x->ns, 81, &app_cb, x), 0);
	assert_int_equal(tcp_listen(x->ns, 82, &app_cb, x), 0);
	assert_int_equal(tcp_listen(x->ns, 83, &app_cb, x), 0);
	assert_int_equal(tcp_listen(x->ns, 84, &app_cb, x), -28);
}

/* --- slots under pressure, the application's poll --------------------------- */

/* An application that keeps every connection it is given, by peer port. */
struct many {
	struct tcp_pcb *pcb[NET_TCP_MAX_CONNS + 8];
	uint16_t port[NET_TCP_MAX_CONNS + 8];
	int n, closed, closed_reason, polls;
	struct tcp_pcb *closed_pcb;	/* its fields are reset by then */
};

static int many_accepted(void *arg, struct tcp_pcb *c)
{
	struct many *m = arg;

	m->pcb[m->n] = c;
	m->port[m->n++] = tcp_remote_port(c);
	return 0;
}

static void many_received(void *arg, struct tcp_pcb *c, const void *data, size_t len)
{
	if (len)
		tcp_recved(c, len);
}

static void many_closed(void *arg, struct tcp_pcb *c, int reason)
{
	struct many *m = arg;

	m->closed++;
	m->closed_reason = reason;
	m->closed_pcb = c;
}

static void many_poll(void *arg, struct tcp_pcb *c)
{
	struct many *m = arg;

	m->polls++;
}

static const struct tcp_callbacks many_cb = {
	.accepted = many_accepted, .received = many_received, .closed = many_closed,
	.poll = many_poll,
};

static void syn_from(struct fx *x, uint16_t sport, struct fb_tcp_view *v)
{
	struct fb_tcp t = { .sport = sport, .dport = 80, .seq = 1, .flags = TCP_SYN,
			    .wnd = 8192 };

	sim_set_time_ms(x->sim, sim_now_ms(x->sim) + 1);	/* "oldest" is well defined */
	input(x, fb_tcp(x->f, x->mac, peer_mac, PEER_IP, OUR_IP, &t));
	if (v)
		only_tcp(x, v);
}

static void ack_from(struct fx *x, uint16_t sport, uint32_t seq, uint32_t ack, uint8_t flags)
{
	struct fb_tcp t = { .sport = sport, .dport = 80, .seq = seq, .ack = ack,
			    .flags = (uint8_t)(TCP_ACK | flags), .wnd = 8192 };

	input(x, fb_tcp(x->f, x->mac, peer_mac, PEER_IP, OUR_IP, &t));
}

/* Opens a connection from @sport; returns the stack's ISN. */
static uint32_t open_from(struct fx *x, uint16_t sport)
{
	struct fb_tcp_view v;

	syn_from(x, sport, &v);
	assert_int_equal(v.flags, TCP_SYN | TCP_ACK);
	ack_from(x, sport, 2, v.seq + 1, 0);
	return v.seq;
}

/* Every slot holds an open connection, from ports 20000 + i, one ms apart. */
static void fill_slots(struct fx *x, struct many *m, uint32_t isn[NET_TCP_MAX_CONNS])
{
	teach_arp(x);
	assert_int_equal(tcp_listen(x->ns, 80, &many_cb, m), 0);
	for (int i = 0; i < NET_TCP_MAX_CONNS; i++) {
		sim_set_time_ms(x->sim, sim_now_ms(x->sim) + 1);
		isn[i] = open_from(x, (uint16_t)(20000 + i));
	}
}

/*
 * With every slot taken, a SYN takes a closing connection's slot, in the
 * order tcp_close() documents: TIME_WAIT (silently), then FIN_WAIT_2
 * (silently, the application gets closed(ABORTED)), then a half-open one,
 * then FIN_WAIT_1 (the peer gets a RST); open connections are never
 * taken, and once only they are left the SYN is dropped.
 */
static void test_tcp_reclaim_closing_slots(void **state)
{
	struct fx *x = *state;
	struct many m = { 0 };
	struct fb_tcp_view v;
	uint32_t isn[NET_TCP_MAX_CONNS];
	int i;

	fill_slots(x, &m, isn);
	assert_int_equal(m.n, NET_TCP_MAX_CONNS);
	/* 5: FIN_WAIT_1 (our FIN never acknowledged); 7: FIN_WAIT_2; 9: TIME_WAIT. */
	tcp_close(m.pcb[5]);
	tcp_close(m.pcb[7]);
	tcp_close(m.pcb[9]);
	sim_clear_capture(x->sim, 0);
	ack_from(x, 20007, 2, isn[7] + 2, 0);
	ack_from(x, 20009, 2, isn[9] + 2, TCP_FIN);
	assert_int_equal(x->ns->pcbs[9].state, TCPS_TIME_WAIT);
	assert_int_equal(x->ns->pcbs[7].state, TCPS_FIN_WAIT_2);
	assert_int_equal(x->ns->pcbs[5].state, TCPS_FIN_WAIT_1);
	assert_int_equal(m.closed, 1);		/* 9, entering TIME_WAIT */
	sim_clear_capture(x->sim, 0);

	/* TIME_WAIT goes first and quietly. */
	syn_from(x, 30000, &v);
	assert_int_equal(v.flags, TCP_SYN | TCP_ACK);
	assert_int_equal(x->ns->pcbs[9].state, TCPS_SYN_RCVD);
	assert_int_equal(x->ns->pcbs[9].rport, 30000);
	assert_int_equal(m.closed, 1);
	/* Then FIN_WAIT_2 (no RST: all was acknowledged), before the SYN_RCVD just made. */
	syn_from(x, 30001, &v);
	assert_int_equal(v.flags, TCP_SYN | TCP_ACK);
	assert_int_equal(x->ns->pcbs[7].rport, 30001);
	assert_int_equal(m.closed, 2);
	assert_ptr_equal(m.closed_pcb, m.pcb[7]);
	assert_int_equal(m.closed_reason, TCP_CLOSED_ABORTED);
	assert_int_equal(stats(x)->tcp_reclaimed, 1);
	/* Then the oldest half-open one (30000), silently. */
	syn_from(x, 30002, &v);
	assert_int_equal(v.flags, TCP_SYN | TCP_ACK);
	assert_int_equal(x->ns->pcbs[9].rport, 30002);
	assert_int_equal(m.closed, 2);
	/* Complete both half-open ones: now FIN_WAIT_1 is the only closing slot. */
	ack_from(x, 30001, 2, x->ns->pcbs[7].iss + 1, 0);
	ack_from(x, 30002, 2, x->ns->pcbs[9].iss + 1, 0);
	assert_int_equal(m.n, NET_TCP_MAX_CONNS + 2);
	sim_clear_capture(x->sim, 0);
	syn_from(x, 30003, NULL);
	assert_int_equal(sim_captured(x->sim, 0), 2);	/* RST to 20005, SYN-ACK */
	{
		size_t len;
		const uint8_t *r = sim_capture(x->sim, 0, 0, &len);

		assert_true(fb_parse_tcp(r, len, &v));
		assert_int_equal(v.flags, TCP_RST | TCP_ACK);
		assert_int_equal(v.dport, 20005);
	}
	assert_ptr_equal(m.closed_pcb, m.pcb[5]);
	assert_int_equal(stats(x)->tcp_reclaimed, 2);
	ack_from(x, 30003, 2, x->ns->pcbs[5].iss + 1, 0);
	sim_clear_capture(x->sim, 0);
	/* Only open connections left: the SYN is dropped, not reset. */
	syn_from(x, 30004, NULL);
	assert_int_equal(sim_captured(x->sim, 0), 0);
	for (i = 0; i < NET_TCP_MAX_CONNS; i++)
		assert_int_equal(x->ns->pcbs[i].state, TCPS_ESTABLISHED);
}

/*
 * Both FINs cross: our answer and FIN go out, the peer's FIN acknowledges
 * the data only (CLOSING), then the peer sends its FIN again with the ACK
 * of ours, as slirp does. That segment is old (its FIN is in already) but
 * its ACK counts: TIME_WAIT now, not after our FIN's retransmission. The
 * old segment still gets the ACK that resynchronises the peer.
 */
static void test_tcp_crossing_fins(void **state)
{
	struct fx *x = *state;
	struct fb_tcp_view v;
	uint32_t isn;

	teach_arp(x);
	assert_int_equal(tcp_listen(x->ns, 80, &app_cb, x), 0);
	isn = handshake(x, 1000);
	assert_int_equal(tcp_write(x->conn, "abc", 3), 3);
	tcp_close(x->conn);
	sim_clear_capture(x->sim, 0);
	input(x, tcp_frame(x, 80, 1001, isn + 4, TCP_ACK, NULL, 0, NULL, 0));
	assert_int_equal(x->ns->pcbs[0].state, TCPS_FIN_WAIT_1);	/* our FIN is out */
	sim_clear_capture(x->sim, 0);
	input(x, tcp_frame(x, 80, 1001, isn + 4, TCP_ACK | TCP_FIN, NULL, 0, NULL, 0));
	assert_int_equal(x->ns->pcbs[0].state, TCPS_CLOSING);
	only_tcp(x, &v);
	assert_int_equal(v.ack, 1002);
	/* The peer's FIN again, now with the ACK of ours. */
	input(x, tcp_frame(x, 80, 1001, isn + 5, TCP_ACK | TCP_FIN, NULL, 0, NULL, 0));
	assert_int_equal(x->ns->pcbs[0].state, TCPS_TIME_WAIT);
	only_tcp(x, &v);
	assert_int_equal(v.flags, TCP_ACK);
	assert_int_equal(v.ack, 1002);
	assert_int_equal(v.seq, isn + 5);
	/* An old segment acknowledging nothing new changes nothing. */
	input(x, tcp_frame(x, 80, 1001, isn + 5, TCP_ACK | TCP_FIN, NULL, 0, NULL, 0));
	assert_int_equal(x->ns->pcbs[0].state, TCPS_TIME_WAIT);
}

/*
 * A CLOSING connection whose data were all acknowledged (the peer is done)
 * gives its slot before a half-open one, which a client may be completing
 * at that very moment (a SYN burst took such slots, and the client that
 * sent the ACK got a RST: curl's "Empty reply from server").
 */
static void test_tcp_reclaim_spares_half_open(void **state)
{
	struct fx *x = *state;
	struct many m = { 0 };
	struct fb_tcp_view v;
	uint32_t isn[NET_TCP_MAX_CONNS];

	fill_slots(x, &m, isn);
	/* 3: CLOSING, every byte acknowledged (the FINs crossed); 4: TIME_WAIT. */
	tcp_close(m.pcb[3]);
	tcp_close(m.pcb[4]);
	ack_from(x, 20003, 2, isn[3] + 1, TCP_FIN);
	ack_from(x, 20004, 2, isn[4] + 2, TCP_FIN);
	assert_int_equal(x->ns->pcbs[3].state, TCPS_CLOSING);
	assert_int_equal(x->ns->pcbs[4].state, TCPS_TIME_WAIT);
	sim_clear_capture(x->sim, 0);
	syn_from(x, 30000, &v);				/* takes the TIME_WAIT slot */
	assert_int_equal(x->ns->pcbs[4].state, TCPS_SYN_RCVD);
	syn_from(x, 30001, &v);				/* only a SYN-ACK: no RST */
	assert_int_equal(v.flags, TCP_SYN | TCP_ACK);
	assert_int_equal(x->ns->pcbs[3].rport, 30001);
	assert_int_equal(x->ns->pcbs[4].rport, 30000);
	assert_int_equal(x->ns->pcbs[4].state, TCPS_SYN_RCVD);
	/* 30000's handshake completes. */
	ack_from(x, 30000, 2, x->ns->pcbs[4].iss + 1, 0);
	assert_int_equal(x->ns->pcbs[4].state, TCPS_ESTABLISHED);
	assert_int_equal(sim_captured(x->sim, 0), 0);
}

/* poll() comes every NET_TCP_POLL_MS while synchronized, and the timer says when. */
static void test_tcp_app_poll(void **state)
{
	struct fx *x = *state;
	struct many m = { 0 };
	uint64_t t0;
	uint32_t isn;

	teach_arp(x);
	assert_int_equal(tcp_listen(x->ns, 80, &many_cb, &m), 0);
	syn_from(x, 20000, NULL);
	advance(x, 2 * NET_TCP_POLL_MS);
	assert_int_equal(m.polls, 0);		/* half-open: not yet */
	sim_clear_capture(x->sim, 0);
	ack_from(x, 20000, 2, x->ns->pcbs[0].iss + 1, 0);
	isn = x->ns->pcbs[0].iss;
	t0 = sim_now_ms(x->sim);
	assert_true(net_next_timer(x->ns) <= t0 + NET_TCP_POLL_MS);
	advance(x, 10 * NET_TCP_POLL_MS);
	assert_true(m.polls >= 9 && m.polls <= 10);
	/* Closing: still polled until TIME_WAIT, never after. */
	tcp_close(m.pcb[0]);
	ack_from(x, 20000, 2, isn + 2, TCP_FIN);
	assert_int_equal(x->ns->pcbs[0].state, TCPS_TIME_WAIT);
	m.polls = 0;
	advance(x, 4 * NET_TCP_POLL_MS);
	assert_int_equal(m.polls, 0);
}

/* --- fuzz ------------------------------------------------------------------ */

/* Every frame the stack sends must be sane. */
static void check_sent(struct fx *x)
{
	size_t i, len;

	for (i = 0; i < sim_captured(x->sim, 0); i++) {
		const uint8_t *r = sim_capture(x->sim, 0, i, &len);
		const uint8_t *l4;
		size_t l4len;
		uint32_t sip, dip;

		assert_true(len >= 60 && len <= NET_FRAME_MAX);
		if (fb_get16(r + 12) == 0x0800)
			assert_true(fb_parse_ip(r, len, &l4, &l4len, &sip, &dip) > 0);
	}
	sim_clear_capture(x->sim, 0);
}

#define FUZZ_ISN	0x10000000U
#define FUZZ_ITERS	200000

/* Brings the fuzzed connection back (same ISNs, so the seeds stay valid). */
static void fuzz_reconnect(struct fx *x)
{
	sim_force_random(x->sim, 0, FUZZ_ISN);
	input(x, tcp_frame(x, 80, 5000, 0, TCP_SYN, NULL, 0, NULL, 0));
	input(x, tcp_frame(x, 80, 5001, FUZZ_ISN + 1, TCP_ACK, NULL, 0, NULL, 0));
	x->fin = false;
}

static void test_fuzz(void **state)
{
	struct fx *x = *state;
	uint8_t seeds[8][FB_MAX];
	size_t seed_len[8], n = 0, i;
	uint64_t rng = 0x1234567 ^ (getenv("SIM_SEED") ? strtoull(getenv("SIM_SEED"), NULL, 0) : 0);
	uint8_t dhcp[300] = { 2, 1, 6 };
	static const uint8_t opts[12] = { 2, 4, 5, 0xb4, 1, 3, 3, 7, 4, 2, 0, 0 };
	uint32_t isn;

	teach_arp(x);
	assert_int_equal(tcp_listen(x->ns, 80, &app_cb, x), 0);
	sim_force_random(x->sim, 0, FUZZ_ISN);
	isn = handshake(x, 5000);
	sim_clear_capture(x->sim, 0);

#define SEED(expr) do { seed_len[n] = (expr); memcpy(seeds[n], x->f, seed_len[n]); n++; } while (0)
	SEED(fb_arp(x->f, bcast, peer_mac, 1, peer_mac, PEER_IP, zero_mac, OUR_IP));
	SEED(fb_icmp_echo(x->f, x->mac, peer_mac, PEER_IP, OUR_IP, 1, 1, dhcp, 40));
	SEED(fb_udp(x->f, x->mac, peer_mac, PEER_IP, OUR_IP, 67, 68, dhcp, sizeof(dhcp)));
	{
		struct fb_tcp t = { .sport = 40001, .dport = 80, .seq = 9000, .flags = TCP_SYN,
				    .wnd = 1000, .opts = opts, .optlen = sizeof(opts) };

		SEED(fb_tcp(x->f, x->mac, peer_mac, PEER_IP, OUR_IP, &t));
	}
	SEED(tcp_frame(x, 80, 5001, isn + 1, TCP_ACK | TCP_PSH, NULL, 0, "fuzzdata", 8));
	SEED(tcp_frame(x, 80, 5001, isn + 1, TCP_ACK | TCP_FIN, NULL, 0, NULL, 0));
	SEED(tcp_frame(x, 80, 5101, 0, TCP_RST, NULL, 0, NULL, 0));
	SEED(tcp_frame(x, 81, 1, 0, TCP_SYN, opts, sizeof(opts), "x", 1));
#undef SEED

	for (i = 0; i < FUZZ_ITERS; i++) {
		size_t k = sim_rand(&rng) % n, len = seed_len[k], m, j;
		uint64_t r = sim_rand(&rng);

		memcpy(x->f, seeds[k], len);
		m = 1 + r % 6;
		for (j = 0; j < m; j++) {
			size_t pos = sim_rand(&rng) % len;

			/* Headers are where the parsing happens: hit them more often. */
			if (r & 0x100)
				pos %= len < 74 ? len : 74;
			x->f[pos] = (uint8_t)sim_rand(&rng);
		}
		if (r & 0x200)
			len = sim_rand(&rng) % (len + 1);
		else if (r & 0x400) {
			size_t extra = sim_rand(&rng) % 64;

			for (j = 0; j < extra && len < FB_MAX; j++)
				x->f[len++] = (uint8_t)sim_rand(&rng);
		}
		if (r & 0x800)
			fb_fix_checksums(x->f, len);
		if (r & 0x1000)
			memcpy(x->f, x->mac, 6);
		net_input(x->ns, x->f, len);
		if (x->rx_len > 2048)
			x->rx_len = 0;
		if (x->conn && (r & 0xf0000) == 0)
			tcp_recved(x->conn, 1000);
		/* Seeds carry fixed sequence numbers: start afresh now and then. */
		if (x->conn && (x->fin || i % 256 == 0))
			tcp_abort(x->conn);
		if (!x->conn && (r & 0xf00000) == 0)
			fuzz_reconnect(x);
		if ((i & 63) == 0) {
			sim_set_time_ms(x->sim, sim_now_ms(x->sim) + 50);
			net_poll(x->ns);
		}
		check_sent(x);
	}
	printf("  fuzz: dropped %lu bad_checksum %lu tcp_in %lu tcp_out %lu rst_sent %lu "
	       "accepted %lu icmp %lu arp_replies %lu\n", (unsigned long)stats(x)->dropped,
	       (unsigned long)stats(x)->bad_checksum, (unsigned long)stats(x)->tcp_segments_in,
	       (unsigned long)stats(x)->tcp_segments_out, (unsigned long)stats(x)->tcp_rst_sent,
	       (unsigned long)stats(x)->tcp_accepted, (unsigned long)stats(x)->icmp_echo,
	       (unsigned long)stats(x)->arp_replies);
	assert_true(stats(x)->dropped > 10000);
	assert_true(stats(x)->rx_frames >= FUZZ_ITERS + 3);
	assert_true(stats(x)->tcp_accepted > 20);	/* the data path was reached */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_arp_reply, setup, teardown),
		cmocka_unit_test_setup_teardown(test_icmp_echo, setup, teardown),
		cmocka_unit_test_setup_teardown(test_icmp_echo_too_long, setup, teardown),
		cmocka_unit_test_setup_teardown(test_arp_pending, setup, teardown),
		cmocka_unit_test_setup_teardown(test_arp_expiry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_udp_closed_port, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ip_bad, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tcp_closed_port, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tcp_handshake_by_hand, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tcp_bad_options, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tcp_half_open_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tcp_out_of_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tcp_window_edge, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tcp_backlog, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tcp_reclaim_closing_slots, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tcp_crossing_fins, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tcp_reclaim_spares_half_open, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tcp_app_poll, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fuzz, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
