/*
 * TCP (RFC 9293): the application interface, connection slots (and which
 * closing one gives way when a SYN finds none free) and timers
 * (retransmission, persist, TIME_WAIT, idle and half-open limits, the
 * application's poll). The
 * segment arrival rules are in tcp_in.c, segment building and sending in
 * tcp_out.c.
 *
 * Callbacks may call back into the API (tcp_write, tcp_close, tcp_abort)
 * for the connection they are about; code running a callback rechecks
 * c->state afterwards, as the slot may have been freed. No locking:
 * single-threaded by contract (net.h).
 */
#include <string.h>
#include <kernel/errno.h>
#include "stack.h"

int tcp_listen(struct net_stack *ns, uint16_t port, const struct tcp_callbacks *cb, void *arg)
{
	struct tcp_listener *free_slot = NULL;
	size_t i;

	if (!ns || !port || !cb)
		return -KE_INVAL;
	for (i = 0; i < NET_TCP_MAX_LISTEN; i++) {
		if (ns->listeners[i].port == port)
			return -KE_EXIST;
		if (!ns->listeners[i].port && !free_slot)
			free_slot = &ns->listeners[i];
	}
	if (!free_slot)
		return -KE_NOSPC;
	free_slot->port = port;
	free_slot->cb = cb;
	free_slot->arg = arg;
	return 0;
}

void tcp_set_arg(struct tcp_pcb *c, void *arg)
{
	if (c)
		c->arg = arg;
}

static bool tcp_can_write(const struct tcp_pcb *c)
{
	return c && (c->state == TCPS_ESTABLISHED || c->state == TCPS_CLOSE_WAIT) &&
	       !c->fin_queued;
}

size_t tcp_send_space(const struct tcp_pcb *c)
{
	return tcp_can_write(c) ? NET_TCP_SNDBUF - c->sb_len : 0;
}

size_t tcp_write(struct tcp_pcb *c, const void *data, size_t len)
{
	size_t n, tail, first;

	if (!tcp_can_write(c) || !data)
		return 0;
	n = NET_TCP_SNDBUF - c->sb_len;
	if (len < n)
		n = len;
	if (!n)
		return 0;
	tail = (c->sb_head + c->sb_len) % NET_TCP_SNDBUF;
	first = NET_TCP_SNDBUF - tail;
	if (first > n)
		first = n;
	memcpy(c->sndbuf + tail, data, first);
	memcpy(c->sndbuf, (const uint8_t *)data + first, n - first);
	c->sb_len += n;
	tcp_output(c);
	return n;
}

void tcp_recved(struct tcp_pcb *c, size_t len)
{
	uint32_t before, after;

	if (!c || c->state == TCPS_CLOSED)
		return;
	before = c->rcv_adv - c->rcv_nxt;
	c->held -= len < c->held ? (uint32_t)len : c->held;
	after = tcp_rcv_window(c);
	/* tcp_rcv_window() already holds back updates too small to announce. */
	if (after != before && c->state >= TCPS_ESTABLISHED && c->state <= TCPS_FIN_WAIT_2)
		tcp_send_ctl(c, c->snd_max, TCP_ACK);
}

void tcp_close(struct tcp_pcb *c)
{
	if (!c)
		return;
	if (c->state == TCPS_ESTABLISHED)
		c->state = TCPS_FIN_WAIT_1;
	else if (c->state == TCPS_CLOSE_WAIT)
		c->state = TCPS_LAST_ACK;
	else if (c->state == TCPS_SYN_SENT) {
		tcp_free(c, TCP_CLOSED_NORMAL, true);
		return;
	} else
		return;
	c->fin_queued = true;
	tcp_output(c);
}

void tcp_abort(struct tcp_pcb *c)
{
	if (!c || c->state == TCPS_CLOSED)
		return;
	if (c->state != TCPS_TIME_WAIT && c->state != TCPS_SYN_SENT)
		tcp_send_ctl(c, c->snd_max, TCP_RST | TCP_ACK);
	tcp_free(c, TCP_CLOSED_ABORTED, true);
}

uint32_t tcp_remote_ip(const struct tcp_pcb *c)
{
	return c ? c->rip : 0;
}

uint16_t tcp_remote_port(const struct tcp_pcb *c)
{
	return c ? c->rport : 0;
}

/*
 * How readily a busy slot is given up for a new connection: 0 never (the
 * application holds it open), then lower first. TIME_WAIT only absorbs
 * strays; FIN_WAIT_2 had everything acknowledged and only waits for the
 * peer's FIN, and CLOSING or LAST_ACK with every byte acknowledged only
 * wait for the ACK of ours (the peer has finished); a half-open one never
 * completed, but a client may be completing it right now; the other
 * closing states still hold unacknowledged data for a peer that may be
 * gone.
 */
static int tcp_reclaim_rank(const struct tcp_pcb *c)
{
	switch (c->state) {
	case TCPS_TIME_WAIT:
		return 1;
	case TCPS_FIN_WAIT_2:
		return 2;
	case TCPS_SYN_RCVD:
		return 3;
	case TCPS_CLOSING:
	case TCPS_LAST_ACK:
		/* The peer's FIN is in; with all our data acknowledged, it is done. */
		return c->sb_len ? 4 : 2;
	case TCPS_FIN_WAIT_1:
		return 4;
	default:
		return 0;
	}
}

static uint64_t tcp_age_key(const struct tcp_pcb *c)
{
	return c->state == TCPS_TIME_WAIT ? c->tw_at : c->last_rx;
}

/*
 * A free slot; else the busy one tcp_reclaim_rank() gives up first (the
 * oldest of its rank), so neither a burst of SYNs that never complete nor
 * peers that never finish closing can lock new clients out.
 */
struct tcp_pcb *tcp_alloc(struct net_stack *ns)
{
	struct tcp_pcb *best = NULL;
	int best_rank = 0;
	size_t i;

	for (i = 0; i < NET_TCP_MAX_CONNS; i++) {
		struct tcp_pcb *c = &ns->pcbs[i];
		int rank;

		if (c->state == TCPS_CLOSED)
			return c;
		rank = tcp_reclaim_rank(c);
		if (rank && (!best || rank < best_rank ||
			     (rank == best_rank && tcp_age_key(c) < tcp_age_key(best)))) {
			best = c;
			best_rank = rank;
		}
	}
	if (!best)
		return NULL;
	if (best_rank == 2) {
		/*
		 * Everything was acknowledged: no RST, which could make the peer
		 * drop data it still buffers (slirp does); its FIN will get one.
		 */
		ns->stats.tcp_reclaimed++;
		tcp_free(best, TCP_CLOSED_ABORTED, true);
	} else if (best_rank == 4) {
		/* Unacknowledged data is given up: tell the peer. */
		ns->stats.tcp_reclaimed++;
		tcp_send_ctl(best, best->snd_max, TCP_RST | TCP_ACK);
		tcp_free(best, TCP_CLOSED_ABORTED, true);
	} else {
		tcp_free(best, TCP_CLOSED_NORMAL, false);
	}
	return best;
}

/* Resets the slot except its buffers' contents, which nothing reads stale. */
static void tcp_reset_slot(struct tcp_pcb *c)
{
	struct net_stack *ns = c->ns;

	memset(c, 0, offsetof(struct tcp_pcb, sndbuf));
	c->ns = ns;
}

void tcp_free(struct tcp_pcb *c, int reason, bool notify)
{
	const struct tcp_callbacks *cb = c->cb;
	void *arg = c->arg;

	tcp_reset_slot(c);
	if (notify && cb && cb->closed)
		cb->closed(arg, c, reason);
}

void tcp_enter_time_wait(struct tcp_pcb *c)
{
	const struct tcp_callbacks *cb = c->cb;

	c->state = TCPS_TIME_WAIT;
	c->tw_at = net_now(c->ns) + TCP_TIME_WAIT_MS;
	c->rto_at = 0;
	c->persist_at = 0;
	/* The application is done with it; the slot only absorbs stray segments. */
	c->cb = NULL;
	if (cb && cb->closed)
		cb->closed(c->arg, c, TCP_CLOSED_NORMAL);
}

static bool tcp_port_used(struct net_stack *ns, uint16_t port)
{
	size_t i;

	for (i = 0; i < NET_TCP_MAX_CONNS; i++)
		if (ns->pcbs[i].state != TCPS_CLOSED && ns->pcbs[i].lport == port)
			return true;
	for (i = 0; i < NET_TCP_MAX_LISTEN; i++)
		if (ns->listeners[i].port == port)
			return true;
	return false;
}

static uint16_t tcp_ephemeral_port(struct net_stack *ns)
{
	uint16_t port;

	do {
		port = ns->next_port++;
		if (ns->next_port < TCP_EPHEMERAL_BASE)
			ns->next_port = TCP_EPHEMERAL_BASE;
	} while (tcp_port_used(ns, port));
	return port;
}

struct tcp_pcb *tcp_connect(struct net_stack *ns, uint32_t ip, uint16_t port,
			    const struct tcp_callbacks *cb, void *arg)
{
	struct tcp_pcb *c;

	if (!ns || !ip || !port || !ns->ip)
		return NULL;
	c = tcp_alloc(ns);
	if (!c)
		return NULL;
	c->state = TCPS_SYN_SENT;
	c->cb = cb;
	c->arg = arg;
	c->rip = ip;
	c->rport = port;
	c->lport = tcp_ephemeral_port(ns);
	c->mss = TCP_DEFAULT_MSS;
	c->rto = TCP_RTO_INIT_MS;
	c->iss = ns->env.random(ns->env.ctx);
	c->snd_una = c->iss;
	c->snd_nxt = c->iss;
	c->snd_max = c->iss;
	c->last_rx = net_now(ns);
	tcp_send_syn(c);
	return c;
}

/*
 * An active open that got no answer within TCP_SYN_SENT_MS of tcp_connect
 * (last_rx is the start) gives up, long before the RTO's retry limit
 * would: a client would rather try again later, or elsewhere. false if
 * the connection was dropped.
 */
bool tcp_check_connect(struct tcp_pcb *c, uint64_t now)
{
	if (c->state != TCPS_SYN_SENT || now - c->last_rx < TCP_SYN_SENT_MS)
		return true;
	c->ns->stats.tcp_timeouts++;
	tcp_free(c, TCP_CLOSED_TIMEOUT, true);
	return false;
}

/*
 * With data in flight the retransmission limit decides instead; with our
 * window closed the application is what stalls, not the peer.
 */
static bool tcp_idle_applies(const struct tcp_pcb *c)
{
	return c->state >= TCPS_ESTABLISHED && c->state != TCPS_TIME_WAIT &&
	       c->snd_una == c->snd_max && tcp_rcv_window(c) != 0;
}

/* Idle and half-open limits; false if the connection was dropped. */
static bool tcp_check_idle(struct tcp_pcb *c, uint64_t now)
{
	struct net_stack *ns = c->ns;

	if (c->state == TCPS_TIME_WAIT) {
		if (now >= c->tw_at) {
			tcp_free(c, TCP_CLOSED_NORMAL, false);
			return false;
		}
		return true;
	}
	if (!tcp_check_connect(c, now))
		return false;
	if (c->state == TCPS_SYN_RCVD && now - c->last_rx >= TCP_SYN_RCVD_MS) {
		ns->stats.tcp_timeouts++;
		tcp_free(c, TCP_CLOSED_TIMEOUT, false);
		return false;
	}
	if (tcp_idle_applies(c) && now - c->last_rx >= TCP_IDLE_MS) {
		ns->stats.tcp_timeouts++;
		tcp_send_ctl(c, c->snd_max, TCP_RST | TCP_ACK);
		tcp_free(c, TCP_CLOSED_TIMEOUT, true);
		return false;
	}
	return true;
}

static bool tcp_app_polled(const struct tcp_pcb *c)
{
	return c->poll_at && c->cb && c->cb->poll && c->state != TCPS_TIME_WAIT;
}

/* The application's own timers (tcp_callbacks.poll). */
static void tcp_app_poll(struct tcp_pcb *c, uint64_t now)
{
	if (!tcp_app_polled(c) || now < c->poll_at)
		return;
	c->poll_at = now + NET_TCP_POLL_MS;
	c->cb->poll(c->arg, c);
}

void tcp_poll(struct net_stack *ns, uint64_t now)
{
	size_t i;

	for (i = 0; i < NET_TCP_MAX_CONNS; i++) {
		struct tcp_pcb *c = &ns->pcbs[i];

		if (c->state == TCPS_CLOSED || !tcp_check_idle(c, now))
			continue;
		if (c->rto_at && now >= c->rto_at)
			tcp_rto_expired(c);
		if (c->state != TCPS_CLOSED && c->persist_at && now >= c->persist_at)
			tcp_persist_expired(c);
		if (c->state != TCPS_CLOSED)
			tcp_app_poll(c, now);
	}
}

static uint64_t tcp_pcb_next_timer(const struct tcp_pcb *c)
{
	uint64_t t = UINT64_MAX;

	if (c->state == TCPS_TIME_WAIT)
		return c->tw_at;
	if (c->rto_at && c->rto_at < t)
		t = c->rto_at;
	if (c->persist_at && c->persist_at < t)
		t = c->persist_at;
	if (c->state == TCPS_SYN_RCVD && c->last_rx + TCP_SYN_RCVD_MS < t)
		t = c->last_rx + TCP_SYN_RCVD_MS;
	if (c->state == TCPS_SYN_SENT && c->last_rx + TCP_SYN_SENT_MS < t)
		t = c->last_rx + TCP_SYN_SENT_MS;
	if (tcp_idle_applies(c) && c->last_rx + TCP_IDLE_MS < t)
		t = c->last_rx + TCP_IDLE_MS;
	if (tcp_app_polled(c) && c->poll_at < t)
		t = c->poll_at;
	return t;
}

uint64_t tcp_next_timer(const struct net_stack *ns)
{
	uint64_t t = UINT64_MAX;
	size_t i;

	for (i = 0; i < NET_TCP_MAX_CONNS; i++) {
		uint64_t p;

		if (ns->pcbs[i].state == TCPS_CLOSED)
			continue;
		p = tcp_pcb_next_timer(&ns->pcbs[i]);
		if (p < t)
			t = p;
	}
	return t;
}
