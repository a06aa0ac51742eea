// unit-srcs: src/net/stack.c src/net/eth_arp.c src/net/ipv4.c src/net/dhcp.c src/net/tcp.c src/net/tcp_in.c src/net/tcp_out.c test/unit/net/sim.c test/unit/net/frames.c
/*
 * The DHCP client against a scripted server: DISCOVER/OFFER/REQUEST/ACK
 * sets the address, renewal at T1 is unicast, replies that are not ours
 * or are malformed are ignored, a NAK starts over, and without a server
 * (or when a lease runs out) the static address takes over.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <kernel/net.h>
#include "../../src/net/stack.h"
#include "net/sim.h"
#include "net/frames.h"

#define SERVER_IP	NET_IP(10, 0, 2, 2)
#define LEASE_IP	NET_IP(10, 0, 2, 15)
#define STATIC_IP	NET_IP(192, 168, 7, 2)

static const uint8_t server_mac[6] = { 0x52, 0x55, 0x0a, 0x00, 0x02, 0x02 };
static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

struct fx {
	struct sim *sim;
	struct net_stack *ns;
	const uint8_t *mac;
	uint8_t f[FB_MAX];
};

/* What the client sent, parsed. */
struct dmsg {
	uint32_t sip, dip, xid, ciaddr;
	uint8_t type;
	uint32_t req_ip, server_id;
	uint16_t flags;
};

static int setup(void **state)
{
	struct fx *x = calloc(1, sizeof(*x));

	x->sim = sim_new(1, 7);
	x->ns = sim_stack(x->sim, 0);
	x->mac = sim_mac(x->sim, 0);
	net_set_static(x->ns, STATIC_IP, NET_IP(255, 255, 255, 0), NET_IP(192, 168, 7, 1));
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

/* Parses captured frame @i as a DHCP client message; false if it is not one. */
static bool parse_dhcp(struct fx *x, size_t i, struct dmsg *m)
{
	size_t len, l4len, o;
	const uint8_t *f = sim_capture(x->sim, 0, i, &len), *u, *b;

	memset(m, 0, sizeof(*m));
	if (!f || fb_parse_ip(f, len, &u, &l4len, &m->sip, &m->dip) != 17)
		return false;
	assert_int_equal(fb_get16(u), 68);
	assert_int_equal(fb_get16(u + 2), 67);
	assert_int_equal(fb_get16(u + 4), l4len);
	/* UDP checksum over the pseudo header must verify. */
	assert_int_equal(fb_csum((m->sip >> 16) + (m->sip & 0xffff) + (m->dip >> 16) +
				 (m->dip & 0xffff) + 17 + (uint32_t)l4len, u, l4len), 0);
	b = u + 8;
	assert_true(l4len - 8 >= 300);
	assert_int_equal(b[0], 1);
	assert_memory_equal(b + 28, x->mac, 6);
	assert_int_equal(fb_get32(b + 236), 0x63825363);
	m->xid = fb_get32(b + 4);
	m->flags = fb_get16(b + 10);
	m->ciaddr = fb_get32(b + 12);
	for (o = 240; o < l4len - 8 && b[o] != 255;) {
		if (b[o] == 0) {
			o++;
			continue;
		}
		if (b[o] == 53)
			m->type = b[o + 2];
		if (b[o] == 50)
			m->req_ip = fb_get32(b + o + 2);
		if (b[o] == 54)
			m->server_id = fb_get32(b + o + 2);
		o += 2 + b[o + 1];
	}
	return true;
}

/* The last captured frame as DHCP; fails the test if it is not. */
static void last_dhcp(struct fx *x, struct dmsg *m)
{
	size_t n = sim_captured(x->sim, 0);

	assert_true(n > 0);
	assert_true(parse_dhcp(x, n - 1, m));
}

/* A server reply; @extra options are appended before the end option. */
static size_t reply(struct fx *x, uint8_t type, uint32_t xid, uint32_t lease,
		    const uint8_t *extra, size_t extra_len, uint32_t dst)
{
	uint8_t b[400];
	size_t o = 240;

	memset(b, 0, sizeof(b));
	b[0] = 2;
	b[1] = 1;
	b[2] = 6;
	b[4] = xid >> 24;
	b[5] = xid >> 16;
	b[6] = xid >> 8;
	b[7] = xid;
	if (type != 6) {
		b[16] = LEASE_IP >> 24;
		b[17] = (LEASE_IP >> 16) & 255;
		b[18] = (LEASE_IP >> 8) & 255;
		b[19] = LEASE_IP & 255;
	}
	memcpy(b + 28, x->mac, 6);
	b[236] = 0x63;
	b[237] = 0x82;
	b[238] = 0x53;
	b[239] = 0x63;
	b[o++] = 53, b[o++] = 1, b[o++] = type;
	b[o++] = 54, b[o++] = 4, b[o++] = 10, b[o++] = 0, b[o++] = 2, b[o++] = 2;
	b[o++] = 1, b[o++] = 4, b[o++] = 255, b[o++] = 255, b[o++] = 255, b[o++] = 0;
	b[o++] = 3, b[o++] = 4, b[o++] = 10, b[o++] = 0, b[o++] = 2, b[o++] = 2;
	b[o++] = 51, b[o++] = 4;
	b[o++] = lease >> 24, b[o++] = lease >> 16, b[o++] = lease >> 8, b[o++] = lease;
	if (extra_len)
		memcpy(b + o, extra, extra_len);
	o += extra_len;
	b[o++] = 255;
	return fb_udp(x->f, dst == 0xffffffffU ? bcast : x->mac, server_mac, SERVER_IP, dst,
		      67, 68, b, o < 300 ? 300 : o);
}

static void advance(struct fx *x, uint64_t ms)
{
	uint64_t end = sim_now_ms(x->sim) + ms;

	while (sim_now_ms(x->sim) < end) {
		sim_set_time_ms(x->sim, sim_now_ms(x->sim) + 50);
		net_poll(x->ns);
	}
}

/* DISCOVER, OFFER, REQUEST, ACK with a @lease second lease; returns the xid. */
static uint32_t get_lease(struct fx *x, uint32_t lease)
{
	struct dmsg m;
	uint32_t xid;

	net_dhcp_start(x->ns, 10000);
	assert_int_equal(net_ip(x->ns), 0);
	last_dhcp(x, &m);
	assert_int_equal(m.type, 1);
	assert_int_equal(m.sip, 0);
	assert_int_equal(m.dip, 0xffffffffU);
	assert_int_equal(m.flags, 0x8000);
	xid = m.xid;
	sim_clear_capture(x->sim, 0);
	net_input(x->ns, x->f, reply(x, 2, xid, lease, NULL, 0, 0xffffffffU));
	last_dhcp(x, &m);
	assert_int_equal(m.type, 3);
	assert_int_equal(m.xid, xid);
	assert_int_equal(m.req_ip, LEASE_IP);
	assert_int_equal(m.server_id, SERVER_IP);
	sim_clear_capture(x->sim, 0);
	/* A unicast ACK (no broadcast) is taken too, before we have the address. */
	net_input(x->ns, x->f, reply(x, 5, xid, lease, NULL, 0, LEASE_IP));
	assert_int_equal(net_ip(x->ns), LEASE_IP);
	assert_true(net_ip_from_dhcp(x->ns));
	return xid;
}

static void test_dhcp_lease(void **state)
{
	struct fx *x = *state;

	get_lease(x, 3600);
	assert_true(sim_logged(x->sim, 0,
			       "dhcp bound ip=10.0.2.15 mask=255.255.255.0 gw=10.0.2.2 lease=3600s"));
	/* The address works: an ARP request for it is answered. */
	sim_clear_capture(x->sim, 0);
	net_input(x->ns, x->f, fb_arp(x->f, bcast, server_mac, 1, server_mac, SERVER_IP,
				      bcast, LEASE_IP));
	assert_int_equal(sim_captured(x->sim, 0), 1);
	/* No static fallback later. */
	advance(x, 20000);
	assert_int_equal(net_ip(x->ns), LEASE_IP);
}

static void test_dhcp_renew(void **state)
{
	struct fx *x = *state;
	struct dmsg m;

	get_lease(x, 100);
	sim_clear_capture(x->sim, 0);
	advance(x, 49000);
	assert_int_equal(sim_captured(x->sim, 0), 0);
	/* T1 = 50 s: a unicast REQUEST to the server (ARP for it first). */
	advance(x, 1100);
	assert_int_equal(sim_captured(x->sim, 0), 1);
	net_input(x->ns, x->f, fb_arp(x->f, x->mac, server_mac, 2, server_mac, SERVER_IP,
				      x->mac, LEASE_IP));
	last_dhcp(x, &m);
	assert_int_equal(m.type, 3);
	assert_int_equal(m.dip, SERVER_IP);
	assert_int_equal(m.sip, LEASE_IP);
	assert_int_equal(m.ciaddr, LEASE_IP);
	assert_int_equal(m.req_ip, 0);	/* RFC 2131 4.3.2: not in RENEWING */
	net_input(x->ns, x->f, reply(x, 5, m.xid, 100, NULL, 0, LEASE_IP));
	assert_int_equal(net_ip(x->ns), LEASE_IP);
	assert_true(net_ip_from_dhcp(x->ns));
	/* Renewed: nothing more for another ~50 s. */
	sim_clear_capture(x->sim, 0);
	advance(x, 45000);
	assert_int_equal(sim_captured(x->sim, 0), 0);
}

static void test_dhcp_lease_expiry(void **state)
{
	struct fx *x = *state;

	get_lease(x, 20);
	/* The server is gone: renewing and rebinding fail, the lease ends. */
	advance(x, 21000);
	assert_int_equal(net_ip(x->ns), STATIC_IP);
	assert_false(net_ip_from_dhcp(x->ns));
	assert_true(sim_logged(x->sim, 0, "dhcp lease expired, static ip=192.168.7.2"));
}

static void test_dhcp_no_server(void **state)
{
	struct fx *x = *state;
	struct dmsg m;
	size_t i, n;
	uint32_t xid;

	net_dhcp_start(x->ns, 10000);
	last_dhcp(x, &m);
	xid = m.xid;
	advance(x, 9900);
	assert_int_equal(net_ip(x->ns), 0);
	/* Retransmissions back off: 0, ~2, ~6 s (the next would be at ~14 s). */
	n = sim_captured(x->sim, 0);
	assert_int_equal(n, 3);
	for (i = 0; i < n; i++) {
		assert_true(parse_dhcp(x, i, &m));
		assert_int_equal(m.type, 1);
		assert_int_equal(m.xid, xid);
	}
	advance(x, 200);
	assert_int_equal(net_ip(x->ns), STATIC_IP);
	assert_false(net_ip_from_dhcp(x->ns));
	assert_true(sim_logged(x->sim, 0, "dhcp no lease, static ip=192.168.7.2"));
	/* Quiet afterwards, and a late OFFER changes nothing. */
	sim_clear_capture(x->sim, 0);
	advance(x, 60000);
	net_input(x->ns, x->f, reply(x, 2, xid, 3600, NULL, 0, 0xffffffffU));
	assert_int_equal(sim_captured(x->sim, 0), 0);
	assert_int_equal(net_ip(x->ns), STATIC_IP);
	assert_int_equal(net_next_timer(x->ns), UINT64_MAX);
}

static void test_dhcp_bad_replies(void **state)
{
	struct fx *x = *state;
	static const uint8_t overrun[] = { 12, 200, 'a' };	/* length past the end */
	struct dmsg m;
	uint64_t dropped;
	size_t len;

	net_dhcp_start(x->ns, 10000);
	last_dhcp(x, &m);
	sim_clear_capture(x->sim, 0);
	dropped = net_get_stats(x->ns)->dropped;
	net_input(x->ns, x->f, reply(x, 2, m.xid + 1, 3600, NULL, 0, 0xffffffffU));
	len = reply(x, 2, m.xid, 3600, NULL, 0, 0xffffffffU);
	x->f[42 + 28] ^= 1;				/* someone else's MAC */
	net_input(x->ns, x->f, len);
	len = reply(x, 2, m.xid, 3600, NULL, 0, 0xffffffffU);
	x->f[42 + 236] = 0;				/* no magic cookie */
	net_input(x->ns, x->f, len);
	/* The option walk must stop at the end of the packet. */
	net_input(x->ns, x->f, reply(x, 2, m.xid, 3600, overrun, sizeof(overrun), 0xffffffffU));
	/* A message type option of length 0 leaves no type. */
	len = reply(x, 2, m.xid, 3600, NULL, 0, 0xffffffffU);
	x->f[42 + 241] = 0;
	x->f[40] = x->f[41] = 0;			/* UDP checksum: none */
	net_input(x->ns, x->f, len);
	/* UDP length shorter than the fixed BOOTP part. */
	len = reply(x, 2, m.xid, 3600, NULL, 0, 0xffffffffU);
	x->f[38] = 0;
	x->f[39] = 8 + 200;
	x->f[40] = x->f[41] = 0;
	net_input(x->ns, x->f, len);
	assert_int_equal(sim_captured(x->sim, 0), 0);
	assert_int_equal(net_ip(x->ns), 0);
	assert_int_equal(net_get_stats(x->ns)->dropped, dropped + 6);

	/* An OFFER, then a NAK: start over with a new xid. */
	net_input(x->ns, x->f, reply(x, 2, m.xid, 3600, NULL, 0, 0xffffffffU));
	last_dhcp(x, &m);
	assert_int_equal(m.type, 3);
	sim_clear_capture(x->sim, 0);
	net_input(x->ns, x->f, reply(x, 6, m.xid, 0, NULL, 0, 0xffffffffU));
	{
		uint32_t old = m.xid;

		last_dhcp(x, &m);
		assert_int_equal(m.type, 1);
		assert_true(m.xid != old);
	}
	assert_true(sim_logged(x->sim, 0, "dhcp nak"));
	/* A lost REQUEST is sent again with the same xid. */
	net_input(x->ns, x->f, reply(x, 2, m.xid, 3600, NULL, 0, 0xffffffffU));
	sim_clear_capture(x->sim, 0);
	advance(x, 2500);
	{
		struct dmsg r;

		last_dhcp(x, &r);
		assert_int_equal(r.type, 3);
		assert_int_equal(r.xid, m.xid);
	}
	net_input(x->ns, x->f, reply(x, 5, m.xid, 3600, NULL, 0, 0xffffffffU));
	assert_int_equal(net_ip(x->ns), LEASE_IP);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_dhcp_lease, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dhcp_renew, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dhcp_lease_expiry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dhcp_no_server, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dhcp_bad_replies, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
