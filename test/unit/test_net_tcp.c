// unit-srcs: src/net/stack.c src/net/eth_arp.c src/net/ipv4.c src/net/dhcp.c src/net/tcp.c src/net/tcp_in.c src/net/tcp_out.c test/unit/net/sim.c
/*
 * TCP between two stacks over a simulated link (test/unit/net/sim.c) with
 * a controllable clock and deterministic loss, duplication and reordering:
 * handshake, 1 MiB transfers checked byte for byte (clean link, 10% loss
 * each way, duplication and reordering), flow control with a receiver that
 * stops consuming, several connections at once, FIN from either side and
 * both at once, RST from the peer, retransmission give-up, idle timeout,
 * sequence numbers wrapping around 2^32, and the active open on its own:
 * SYNs retransmitted with backoff until answered, a refused connection
 * (RST), a peer that never answers (timeout), closing or aborting while
 * the SYN is out, no address yet.
 *
 * Node 0 is the server (listens on port 80), node 1 the client, which
 * opens with tcp_connect().
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

#define SRV_IP		NET_IP(10, 0, 0, 1)
#define CLI_IP		NET_IP(10, 0, 0, 2)
#define PORT		80
#define MAX_APP		(NET_TCP_MAX_CONNS + 2)	/* test_connect_slots_and_ports fills every slot */
#define MiB		(1024 * 1024)

struct conn;

/* What each end of a connection does. */
struct plan {
	uint64_t to_send;	/* bytes to write */
	bool close_after_send;	/* tcp_close once everything is queued */
	bool close_on_fin;	/* tcp_close when the peer's FIN arrives */
	bool no_recved;		/* never call tcp_recved (flow control test) */
};

struct conn {
	struct tcp_pcb *pcb;
	struct plan plan;
	uint8_t key;		/* pattern key of what this end sends */
	uint8_t peer_key;
	uint64_t queued, received, held;
	uint64_t acked;
	bool established, fin, close_called, closed, mismatch;
	int reason;
	uint64_t closed_at;
};

struct side {
	struct conn conn[MAX_APP];
	int nconn;
	struct plan plan;	/* for accepted connections */
};

struct world {
	struct sim *sim;
	struct net_stack *srv, *cli;
	struct side s, c;
};

static struct world *W;	/* for callbacks that need the clock */

static uint8_t pattern(uint64_t i, uint8_t key)
{
	uint64_t x = (i + 1) * 0x9E3779B97F4A7C15ULL;

	return (uint8_t)((x >> 29) ^ (x >> 47) ^ key);
}

static void pump(struct conn *k)
{
	uint8_t buf[4096];

	while (k->pcb && k->queued < k->plan.to_send) {
		size_t n = k->plan.to_send - k->queued, i, w;

		if (n > sizeof(buf))
			n = sizeof(buf);
		for (i = 0; i < n; i++)
			buf[i] = pattern(k->queued + i, k->key);
		w = tcp_write(k->pcb, buf, n);
		k->queued += w;
		if (w < n)
			break;
	}
	if (k->pcb && k->queued == k->plan.to_send && k->plan.close_after_send &&
	    !k->close_called) {
		k->close_called = true;
		tcp_close(k->pcb);
	}
}

static void cb_received(void *arg, struct tcp_pcb *c, const void *data, size_t len)
{
	struct conn *k = arg;
	const uint8_t *d = data;
	size_t i;

	if (!len) {
		k->fin = true;
		if (k->plan.close_on_fin && !k->close_called) {
			k->close_called = true;
			tcp_close(c);
		}
		return;
	}
	for (i = 0; i < len; i++)
		if (d[i] != pattern(k->received + i, k->peer_key))
			k->mismatch = true;
	k->received += len;
	if (k->plan.no_recved)
		k->held += len;
	else
		tcp_recved(c, len);
}

static void cb_sent(void *arg, struct tcp_pcb *c, size_t acked)
{
	struct conn *k = arg;

	k->acked += acked;
	pump(k);
}

static void cb_closed(void *arg, struct tcp_pcb *c, int reason)
{
	struct conn *k = arg;

	k->closed = true;
	k->reason = reason;
	k->pcb = NULL;
	k->closed_at = sim_now_ms(W->sim);
}

static int srv_accepted(void *arg, struct tcp_pcb *c)
{
	struct side *s = arg;
	struct conn *k;

	int i;

	/* Pair with the client end by port: SYNs may arrive in any order. */
	for (i = 0; i < W->c.nconn; i++)
		if (W->c.conn[i].pcb && W->c.conn[i].pcb->lport == tcp_remote_port(c))
			break;
	if (i == W->c.nconn || s->conn[i].pcb)
		return -1;
	k = &s->conn[i];
	k->key = (uint8_t)(0x80 + i);
	k->peer_key = (uint8_t)i;
	s->nconn++;
	k->pcb = c;
	k->plan = s->plan;
	k->established = true;
	tcp_set_arg(c, k);
	pump(k);
	return 0;
}

static int cli_connected(void *arg, struct tcp_pcb *c)
{
	struct conn *k = arg;

	k->established = true;
	pump(k);
	return 0;
}

static const struct tcp_callbacks srv_cb = {
	.accepted = srv_accepted, .received = cb_received, .sent = cb_sent, .closed = cb_closed,
};
static const struct tcp_callbacks cli_cb = {
	.accepted = cli_connected, .received = cb_received, .sent = cb_sent, .closed = cb_closed,
};

static int setup(void **state)
{
	struct world *w = calloc(1, sizeof(*w));

	w->sim = sim_new(2, 0xC0FFEE);
	w->srv = sim_stack(w->sim, 0);
	w->cli = sim_stack(w->sim, 1);
	net_set_static(w->srv, SRV_IP, NET_IP(255, 255, 255, 0), 0);
	net_set_static(w->cli, CLI_IP, NET_IP(255, 255, 255, 0), 0);
	assert_int_equal(tcp_listen(w->srv, PORT, &srv_cb, &w->s), 0);
	W = w;
	*state = w;
	return 0;
}

static int teardown(void **state)
{
	struct world *w = *state;

	sim_free(w->sim);
	free(w);
	W = NULL;
	return 0;
}

/* Opens client connection number @i with @plan; the server uses w->s.plan. */
static struct conn *connect_one(struct world *w, const struct plan *plan)
{
	struct conn *k = &w->c.conn[w->c.nconn];

	k->key = (uint8_t)w->c.nconn;
	k->peer_key = (uint8_t)(0x80 + w->c.nconn);
	w->c.nconn++;
	k->plan = *plan;
	k->pcb = tcp_connect(w->cli, SRV_IP, PORT, &cli_cb, k);
	assert_non_null(k->pcb);
	return k;
}

static bool all_closed(void *arg)
{
	struct world *w = arg;
	int i;

	if (w->s.nconn < w->c.nconn)
		return false;
	for (i = 0; i < w->c.nconn; i++)
		if (!w->c.conn[i].closed || !w->s.conn[i].closed)
			return false;
	return true;
}

static bool established(void *arg)
{
	struct world *w = arg;

	return w->s.nconn == w->c.nconn && w->c.nconn && w->c.conn[w->c.nconn - 1].established;
}

static void check_pair(struct conn *k, struct conn *peer)
{
	assert_false(k->mismatch);
	assert_false(peer->mismatch);
	assert_int_equal(k->received, peer->plan.to_send);
	assert_int_equal(peer->received, k->plan.to_send);
	assert_true(k->fin);
	assert_true(peer->fin);
	assert_int_equal(k->reason, TCP_CLOSED_NORMAL);
	assert_int_equal(peer->reason, TCP_CLOSED_NORMAL);
}

/* Runs one transfer each way over a link with the given faults; checks it all. */
static void transfer(struct world *w, const char *name, uint64_t up, uint64_t down,
		     unsigned loss, unsigned dup, unsigned reorder)
{
	struct plan cp = { .to_send = up, .close_after_send = true };
	uint64_t t0 = sim_now_ms(w->sim);
	const struct net_stats *ss = net_get_stats(w->srv), *cs = net_get_stats(w->cli);

	w->s.plan = (struct plan){ .to_send = down, .close_after_send = true };
	sim_set_link(w->sim, 0, loss, dup, reorder);
	sim_set_link(w->sim, 1, loss, dup, reorder);
	connect_one(w, &cp);
	assert_true(sim_run_while_not(w->sim, all_closed, w, 3600 * 1000));
	check_pair(&w->c.conn[0], &w->s.conn[0]);
	printf("  %s: up %lu down %lu loss %u%% dup %u%% reorder %u%%: %lu ms simulated, "
	       "retransmits client %lu server %lu, segments client %lu server %lu, link drops %lu\n",
	       name, (unsigned long)up, (unsigned long)down, loss, dup, reorder,
	       (unsigned long)(sim_now_ms(w->sim) - t0), (unsigned long)cs->tcp_retransmits,
	       (unsigned long)ss->tcp_retransmits, (unsigned long)cs->tcp_segments_out,
	       (unsigned long)ss->tcp_segments_out, (unsigned long)sim_link_drops(w->sim));
}

static void test_handshake(void **state)
{
	struct world *w = *state;
	struct plan p = { 0 };
	struct conn *k;

	k = connect_one(w, &p);
	assert_true(sim_run_while_not(w->sim, established, w, 5000));
	assert_int_equal(net_get_stats(w->srv)->tcp_accepted, 1);
	assert_int_equal(tcp_remote_ip(w->s.conn[0].pcb), CLI_IP);
	assert_int_equal(tcp_remote_port(w->s.conn[0].pcb), tcp_remote_port(w->s.conn[0].pcb));
	assert_int_equal(tcp_remote_ip(k->pcb), SRV_IP);
	assert_int_equal(tcp_remote_port(k->pcb), PORT);
	assert_int_equal(tcp_send_space(k->pcb), NET_TCP_SNDBUF);
	/* Both learnt each other's MAC from the ARP exchange. */
	assert_int_equal(net_get_stats(w->cli)->arp_requests, 1);
	assert_int_equal(net_get_stats(w->srv)->arp_requests, 0);
	assert_int_equal(net_get_stats(w->cli)->tcp_retransmits, 0);
}

static void test_transfer_clean(void **state)
{
	transfer(*state, "clean", MiB, MiB, 0, 0, 0);
	assert_int_equal(net_get_stats(((struct world *)*state)->cli)->tcp_retransmits, 0);
	assert_int_equal(net_get_stats(((struct world *)*state)->srv)->tcp_retransmits, 0);
}

static void test_transfer_loss_up(void **state)
{
	struct world *w = *state;

	transfer(w, "10% loss, client to server", MiB, 0, 10, 0, 0);
	assert_true(net_get_stats(w->cli)->tcp_retransmits > 0);
}

static void test_transfer_loss_down(void **state)
{
	struct world *w = *state;

	transfer(w, "10% loss, server to client", 0, MiB, 10, 0, 0);
	assert_true(net_get_stats(w->srv)->tcp_retransmits > 0);
}

static void test_transfer_loss_both(void **state)
{
	struct world *w = *state;

	transfer(w, "10% loss, both ways at once", MiB, MiB, 10, 0, 0);
	assert_true(net_get_stats(w->srv)->tcp_retransmits > 0);
	assert_true(net_get_stats(w->cli)->tcp_retransmits > 0);
}

static void test_transfer_dup_reorder(void **state)
{
	transfer(*state, "duplication and reordering", MiB, MiB, 2, 10, 10);
}

static void test_flow_control(void **state)
{
	struct world *w = *state;
	struct plan cp = { .to_send = 100000, .close_after_send = true };
	struct conn *k, *s;
	uint64_t segs;

	w->s.plan = (struct plan){ .no_recved = true, .close_on_fin = true };
	k = connect_one(w, &cp);
	sim_run_until(w->sim, sim_now_ms(w->sim) + 5000);
	s = &w->s.conn[0];
	/* The sender stopped exactly at the advertised window. */
	assert_int_equal(s->received, NET_TCP_RCVWND);
	assert_int_equal(s->held, NET_TCP_RCVWND);
	assert_int_equal(k->acked, NET_TCP_RCVWND);
	assert_int_equal(k->queued, NET_TCP_RCVWND + NET_TCP_SNDBUF);
	assert_int_equal(k->pcb->snd_wnd, 0);
	assert_int_equal(tcp_send_space(k->pcb), 0);
	/* Zero-window probes go on, answered, and nothing times out. */
	segs = net_get_stats(w->cli)->tcp_segments_out;
	sim_run_until(w->sim, sim_now_ms(w->sim) + 150000);
	assert_true(net_get_stats(w->cli)->tcp_segments_out >= segs + 5);
	assert_false(k->closed);
	assert_false(s->closed);
	assert_int_equal(s->received, NET_TCP_RCVWND);
	/* Consuming reopens the window and the transfer finishes. */
	s->plan.no_recved = false;
	tcp_recved(s->pcb, s->held);
	s->held = 0;
	assert_true(sim_run_while_not(w->sim, all_closed, w, 60000));
	assert_int_equal(s->received, 100000);
	assert_false(s->mismatch);
	assert_int_equal(k->reason, TCP_CLOSED_NORMAL);
}

/* Partial consumption: the window update waits for an MSS worth of room. */
static void test_window_update_threshold(void **state)
{
	struct world *w = *state;
	struct plan cp = { .to_send = NET_TCP_RCVWND + 5000 };
	struct conn *s;
	uint64_t segs;

	w->s.plan = (struct plan){ .no_recved = true };
	connect_one(w, &cp);
	sim_run_until(w->sim, sim_now_ms(w->sim) + 2000);
	s = &w->s.conn[0];
	assert_int_equal(s->received, NET_TCP_RCVWND);
	segs = net_get_stats(w->srv)->tcp_segments_out;
	tcp_recved(s->pcb, 1000);	/* less than an MSS: no update */
	assert_int_equal(net_get_stats(w->srv)->tcp_segments_out, segs);
	tcp_recved(s->pcb, 1000);	/* now 2000 bytes: announce */
	assert_int_equal(net_get_stats(w->srv)->tcp_segments_out, segs + 1);
	sim_run_until(w->sim, sim_now_ms(w->sim) + 1000);
	assert_int_equal(s->received, NET_TCP_RCVWND + 2000);
}

static void test_many_connections(void **state)
{
	struct world *w = *state;
	struct plan cp = { .to_send = 200000, .close_after_send = true };
	int i;

	w->s.plan = (struct plan){ .to_send = 150000, .close_after_send = true };
	sim_set_link(w->sim, 0, 3, 1, 2);
	sim_set_link(w->sim, 1, 3, 1, 2);
	for (i = 0; i < 6; i++)
		connect_one(w, &cp);
	assert_true(sim_run_while_not(w->sim, all_closed, w, 600000));
	assert_int_equal(w->s.nconn, 6);
	for (i = 0; i < 6; i++)
		check_pair(&w->c.conn[i], &w->s.conn[i]);
}

static void test_close_server_first(void **state)
{
	struct world *w = *state;
	struct plan cp = { .close_on_fin = true };
	struct conn *k;

	w->s.plan = (struct plan){ .to_send = 3000, .close_after_send = true };
	k = connect_one(w, &cp);
	assert_true(sim_run_while_not(w->sim, all_closed, w, 10000));
	check_pair(k, &w->s.conn[0]);
	/* The server closed first: its slot lingers in TIME_WAIT, then frees. */
	assert_int_equal(w->srv->pcbs[0].state, TCPS_TIME_WAIT);
	assert_int_equal(w->cli->pcbs[0].state, TCPS_CLOSED);
	sim_run_until(w->sim, sim_now_ms(w->sim) + TCP_TIME_WAIT_MS + 10);
	assert_int_equal(w->srv->pcbs[0].state, TCPS_CLOSED);
}

static void test_close_client_first(void **state)
{
	struct world *w = *state;
	struct plan cp = { .to_send = 5000, .close_after_send = true };
	struct conn *k;

	w->s.plan = (struct plan){ .to_send = 7000, .close_on_fin = true };
	k = connect_one(w, &cp);
	assert_true(sim_run_while_not(w->sim, all_closed, w, 10000));
	check_pair(k, &w->s.conn[0]);
	assert_int_equal(w->cli->pcbs[0].state, TCPS_TIME_WAIT);
	assert_int_equal(w->srv->pcbs[0].state, TCPS_CLOSED);
}

static void test_close_simultaneous(void **state)
{
	struct world *w = *state;
	struct plan p = { 0 };
	struct conn *k;

	k = connect_one(w, &p);
	assert_true(sim_run_while_not(w->sim, established, w, 5000));
	k->close_called = w->s.conn[0].close_called = true;
	tcp_close(k->pcb);
	tcp_close(w->s.conn[0].pcb);
	assert_true(sim_run_while_not(w->sim, all_closed, w, 10000));
	check_pair(k, &w->s.conn[0]);
	assert_int_equal(w->cli->pcbs[0].state, TCPS_TIME_WAIT);
	assert_int_equal(w->srv->pcbs[0].state, TCPS_TIME_WAIT);
}

static void test_reset_from_peer(void **state)
{
	struct world *w = *state;
	struct plan p = { .to_send = 100000 };
	struct conn *k;

	w->s.plan = (struct plan){ 0 };
	k = connect_one(w, &p);
	sim_run_until(w->sim, sim_now_ms(w->sim) + 20);
	assert_true(w->s.conn[0].received > 0);
	tcp_abort(k->pcb);
	assert_true(k->closed);
	assert_int_equal(k->reason, TCP_CLOSED_ABORTED);
	sim_run_until(w->sim, sim_now_ms(w->sim) + 100);
	assert_true(w->s.conn[0].closed);
	assert_int_equal(w->s.conn[0].reason, TCP_CLOSED_RESET);
	assert_int_equal(net_get_stats(w->srv)->tcp_rst_received, 1);
	/* Late segments from the old connection draw RSTs, not confusion. */
	assert_int_equal(w->srv->pcbs[0].state, TCPS_CLOSED);
}

static bool drop_all(void *arg, int from, const uint8_t *f, size_t len)
{
	return true;
}

static void test_retransmission_timeout(void **state)
{
	struct world *w = *state;
	struct plan p = { 0 };
	struct conn *k;
	uint64_t t0;

	k = connect_one(w, &p);
	assert_true(sim_run_while_not(w->sim, established, w, 5000));
	sim_set_filter(w->sim, drop_all, NULL);
	t0 = sim_now_ms(w->sim);
	assert_int_equal(tcp_write(k->pcb, "lost in the void", 16), 16);
	assert_true(sim_run_while_not(w->sim, all_closed, w, 300000));
	assert_int_equal(k->reason, TCP_CLOSED_TIMEOUT);
	assert_int_equal(net_get_stats(w->cli)->tcp_retransmits, TCP_MAX_RETRIES);
	assert_int_equal(net_get_stats(w->cli)->tcp_timeouts, 1);
	/* 200 ms RTO doubling: 0.2 + 0.4 + ... + 51.2 s = 102.2 s. */
	printf("  retransmission give-up after %lu ms\n", (unsigned long)(k->closed_at - t0));
	assert_true(k->closed_at - t0 >= 100000 && k->closed_at - t0 <= 105000);
	/* The server saw nothing and gave up through its idle timer. */
	assert_int_equal(w->s.conn[0].reason, TCP_CLOSED_TIMEOUT);
	printf("  server idle give-up after %lu ms\n", (unsigned long)(w->s.conn[0].closed_at - t0));
	assert_true(w->s.conn[0].closed_at - t0 >= TCP_IDLE_MS - 10);
}

static void test_idle_timeout(void **state)
{
	struct world *w = *state;
	struct plan p = { .to_send = 1000 };
	struct conn *k;
	uint64_t t0;

	k = connect_one(w, &p);
	assert_true(sim_run_while_not(w->sim, established, w, 5000));
	sim_run_until(w->sim, sim_now_ms(w->sim) + 100);
	t0 = sim_now_ms(w->sim);
	sim_run_until(w->sim, t0 + TCP_IDLE_MS - 1000);
	assert_false(k->closed);
	assert_false(w->s.conn[0].closed);
	assert_true(sim_run_while_not(w->sim, all_closed, w, 5000));
	assert_int_equal(k->reason, TCP_CLOSED_TIMEOUT);
	assert_int_equal(w->s.conn[0].reason, TCP_CLOSED_TIMEOUT);
	assert_int_equal(net_get_stats(w->srv)->tcp_timeouts, 1);
	assert_int_equal(net_get_stats(w->cli)->tcp_timeouts, 1);
	/* Nothing left: no timers pending at all. */
	assert_int_equal(net_next_timer(w->srv), UINT64_MAX);
}

static void test_wraparound(void **state)
{
	struct world *w = *state;

	sim_force_random(w->sim, 1, 0xffffff00U);	/* client ISN */
	sim_force_random(w->sim, 0, 0xfffff000U);	/* server ISN */
	transfer(w, "ISN near 2^32, 5% loss", 300000, 300000, 5, 1, 1);
	assert_true(SEQ_LT(0xffffff00U, w->cli->pcbs[0].snd_una) ||
		    w->cli->pcbs[0].state == TCPS_CLOSED);
}

/* --- active open --------------------------------------------------------- */

struct syn_watch {
	int syns;		/* SYNs the client sent */
	uint64_t at[16];	/* when */
	int answer_at_syn;	/* SYN-ACKs pass once the client sent this many SYNs */
	bool drop_all_syns;
};

static uint8_t frame_tcp_flags(const uint8_t *f, size_t len)
{
	if (len < NET_L4_OFF + TCP_HLEN || net_get16(f + 12) != ETHTYPE_IP || f[23] != IP_PROTO_TCP)
		return 0;
	return f[NET_L4_OFF + 13];
}

static bool watch_syns(void *arg, int from, const uint8_t *f, size_t len)
{
	struct syn_watch *sw = arg;
	uint8_t fl = frame_tcp_flags(f, len);

	if (from == 1 && (fl & TCP_SYN) && !(fl & TCP_ACK)) {
		if (sw->syns < 16)
			sw->at[sw->syns] = sim_now_ms(W->sim);
		sw->syns++;
		return sw->drop_all_syns;
	}
	/* The server's own SYN-ACK retransmissions are lost too. */
	return from == 0 && (fl & TCP_SYN) && (fl & TCP_ACK) && sw->syns < sw->answer_at_syn;
}

/* Lost SYN-ACKs: the SYN goes again after 1 s, then 2 s more, and the connection opens. */
static void test_connect_syn_backoff(void **state)
{
	struct world *w = *state;
	struct syn_watch sw = { .answer_at_syn = 3 };
	struct plan p = { .to_send = 20000, .close_after_send = true };
	struct conn *k;

	/* (close_on_fin closes at once: the server's data must fit its send buffer) */
	w->s.plan = (struct plan){ .to_send = 12000, .close_on_fin = true };
	sim_set_filter(w->sim, watch_syns, &sw);
	k = connect_one(w, &p);
	assert_true(sim_run_while_not(w->sim, established, w, 10000));
	assert_int_equal(sw.syns, 3);
	assert_in_range(sw.at[1] - sw.at[0], 990, 1010);	/* the first waited for ARP */
	assert_in_range(sw.at[2] - sw.at[1], 2000, 2010);
	assert_int_equal(net_get_stats(w->cli)->tcp_retransmits, 2);
	/* An actively opened connection carries data both ways like any other. */
	assert_true(sim_run_while_not(w->sim, all_closed, w, 20000));
	check_pair(k, &w->s.conn[0]);
}

static struct conn *connect_plain(struct world *w, uint16_t port)
{
	struct conn *k = &w->c.conn[w->c.nconn++];

	k->pcb = tcp_connect(w->cli, SRV_IP, port, &cli_cb, k);
	assert_non_null(k->pcb);
	return k;
}

/* No listener on the port: the peer's RST closes the attempt at once. */
static void test_connect_refused(void **state)
{
	struct world *w = *state;
	struct conn *k = connect_plain(w, 81);

	sim_run_until(w->sim, sim_now_ms(w->sim) + 100);
	assert_true(k->closed);
	assert_false(k->established);
	assert_int_equal(k->reason, TCP_CLOSED_RESET);
	assert_null(k->pcb);
	assert_int_equal(net_get_stats(w->cli)->tcp_rst_received, 1);
	assert_int_equal(net_get_stats(w->srv)->tcp_rst_sent, 1);
	assert_int_equal(w->cli->pcbs[0].state, TCPS_CLOSED);
}

/* Nobody answers: SYNs at 0, 1, 3, 7, 15 s, then closed(TIMEOUT) at 20 s. */
static void test_connect_timeout(void **state)
{
	struct world *w = *state;
	struct syn_watch sw = { .drop_all_syns = true };
	struct conn *k;
	uint64_t t0 = sim_now_ms(w->sim);

	sim_set_filter(w->sim, watch_syns, &sw);
	k = connect_plain(w, PORT);
	assert_true(sim_run_while_not(w->sim, all_closed, w, 60000) || k->closed);
	assert_true(k->closed);
	assert_int_equal(k->reason, TCP_CLOSED_TIMEOUT);
	assert_in_range(k->closed_at - t0, TCP_SYN_SENT_MS, TCP_SYN_SENT_MS + 20);
	assert_int_equal(sw.syns, 5);
	assert_in_range(sw.at[4] - sw.at[0], 14990, 15050);
	assert_int_equal(net_get_stats(w->cli)->tcp_timeouts, 1);
	assert_int_equal(w->s.nconn, 0);
	/* Nothing left behind. */
	assert_int_equal(w->cli->pcbs[0].state, TCPS_CLOSED);
	assert_true(net_next_timer(w->cli) == UINT64_MAX || net_next_timer(w->cli) > sim_now_ms(w->sim) + 1000);
}

/* Closing or aborting while the SYN is out frees the slot and says so; a late SYN-ACK draws a RST. */
static void test_connect_close_and_abort_in_syn_sent(void **state)
{
	struct world *w = *state;
	struct conn *a = connect_plain(w, PORT), *b = connect_plain(w, PORT);

	assert_int_equal(tcp_send_space(a->pcb), 0);	/* nothing may be written yet */
	assert_int_equal(tcp_write(a->pcb, "x", 1), 0);
	tcp_close(a->pcb);
	assert_true(a->closed);
	assert_int_equal(a->reason, TCP_CLOSED_NORMAL);
	tcp_abort(b->pcb);
	assert_true(b->closed);
	assert_int_equal(b->reason, TCP_CLOSED_ABORTED);
	sim_run_until(w->sim, sim_now_ms(w->sim) + 3000);
	/* The server saw the SYNs, answered, got RSTs for its SYN-ACKs: nothing is established. */
	assert_int_equal(w->s.nconn, 0);
	assert_int_equal(net_get_stats(w->srv)->tcp_accepted, 0);
	for (int i = 0; i < NET_TCP_MAX_CONNS; i++)
		assert_int_equal(w->cli->pcbs[i].state, TCPS_CLOSED);
}

static void test_connect_needs_an_address(void **state)
{
	struct world *w = *state;
	struct sim *s = sim_new(1, 1);
	struct net_stack *alone = sim_stack(s, 0);
	struct conn k = { 0 };

	assert_null(tcp_connect(alone, SRV_IP, PORT, &cli_cb, &k));	/* no address */
	assert_int_equal(sim_captured(s, 0), 0);
	assert_null(tcp_connect(w->cli, 0, PORT, &cli_cb, &k));
	assert_null(tcp_connect(w->cli, SRV_IP, 0, &cli_cb, &k));
	assert_false(k.closed);
	sim_free(s);
}

/* Every slot busy with an attempt: the next one gets NULL, not someone else's slot. */
static void test_connect_slots_and_ports(void **state)
{
	struct world *w = *state;
	struct syn_watch sw = { .drop_all_syns = true };
	struct conn k = { 0 };
	int i, j;

	sim_set_filter(w->sim, watch_syns, &sw);
	for (i = 0; i < NET_TCP_MAX_CONNS; i++)
		connect_plain(w, PORT);
	assert_null(tcp_connect(w->cli, SRV_IP, PORT, &cli_cb, &k));
	for (i = 0; i < NET_TCP_MAX_CONNS; i++)
		for (j = i + 1; j < NET_TCP_MAX_CONNS; j++)
			assert_int_not_equal(w->cli->pcbs[i].lport, w->cli->pcbs[j].lport);
	for (i = 0; i < NET_TCP_MAX_CONNS; i++)
		assert_true(w->cli->pcbs[i].lport >= TCP_EPHEMERAL_BASE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_handshake, setup, teardown),
		cmocka_unit_test_setup_teardown(test_transfer_clean, setup, teardown),
		cmocka_unit_test_setup_teardown(test_transfer_loss_up, setup, teardown),
		cmocka_unit_test_setup_teardown(test_transfer_loss_down, setup, teardown),
		cmocka_unit_test_setup_teardown(test_transfer_loss_both, setup, teardown),
		cmocka_unit_test_setup_teardown(test_transfer_dup_reorder, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flow_control, setup, teardown),
		cmocka_unit_test_setup_teardown(test_window_update_threshold, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_connections, setup, teardown),
		cmocka_unit_test_setup_teardown(test_close_server_first, setup, teardown),
		cmocka_unit_test_setup_teardown(test_close_client_first, setup, teardown),
		cmocka_unit_test_setup_teardown(test_close_simultaneous, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset_from_peer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retransmission_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_idle_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wraparound, setup, teardown),
		cmocka_unit_test_setup_teardown(test_connect_syn_backoff, setup, teardown),
		cmocka_unit_test_setup_teardown(test_connect_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_connect_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_connect_close_and_abort_in_syn_sent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_connect_needs_an_address, setup, teardown),
		cmocka_unit_test_setup_teardown(test_connect_slots_and_ports, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
