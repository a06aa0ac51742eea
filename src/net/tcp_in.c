/*
 * TCP input (RFC 9293 3.10.7): segment validation, demultiplexing, the
 * passive and active handshakes, the acceptability test, RST and SYN
 * handling hardened as in RFC 5961, ACK processing (RTT, congestion
 * window, fast retransmit), in-order delivery with an out-of-order store,
 * and FIN handling.
 *
 * Nothing from the wire is trusted: header and option lengths are checked
 * before use and malformed segments are dropped and counted. No locking:
 * single-threaded by contract (net.h).
 */
#include <string.h>
#include "stack.h"

#define TCP_OPT_END	0
#define TCP_OPT_NOP	1
#define TCP_OPT_MSS	2
#define TCP_CWND_MAX	(16u * 65535u)

struct tcp_seg {
	uint32_t src;
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	uint16_t wnd;
	uint16_t mss;		/* 0: no option */
	const uint8_t *data;
	uint32_t dlen;
};

static uint32_t seg_len(const struct tcp_seg *s)
{
	return s->dlen + !!(s->flags & TCP_SYN) + !!(s->flags & TCP_FIN);
}

static bool tcp_parse_options(const uint8_t *o, size_t len, struct tcp_seg *s)
{
	size_t i = 0;

	while (i < len) {
		size_t olen;

		if (o[i] == TCP_OPT_END)
			break;
		if (o[i] == TCP_OPT_NOP) {
			i++;
			continue;
		}
		if (i + 1 >= len)
			return false;
		olen = o[i + 1];
		if (olen < 2 || olen > len - i)
			return false;
		if (o[i] == TCP_OPT_MSS) {
			if (olen != 4)
				return false;
			s->mss = net_get16(o + i + 2);
		}
		i += olen;	/* window scale, SACK, timestamps: ignored */
	}
	return true;
}

static bool tcp_parse(struct net_stack *ns, uint32_t src, const uint8_t *p, size_t len,
		      struct tcp_seg *s)
{
	size_t hl;

	if (len < TCP_HLEN)
		return false;
	hl = (size_t)(p[12] >> 4) * 4;
	if (hl < TCP_HLEN || hl > len)
		return false;
	if (ip_csum_fold(ip_csum_add(ip_pseudo_sum(src, ns->ip, IP_PROTO_TCP, len), p, len))) {
		ns->stats.bad_checksum++;
		return false;
	}
	memset(s, 0, sizeof(*s));
	s->src = src;
	s->sport = net_get16(p);
	s->dport = net_get16(p + 2);
	s->seq = net_get32(p + 4);
	s->ack = net_get32(p + 8);
	s->flags = p[13] & 0x3f;
	s->wnd = net_get16(p + 14);
	s->data = p + hl;
	s->dlen = (uint32_t)(len - hl);
	if (!s->sport || !s->dport)
		return false;
	/* SYN+FIN, SYN+RST and flagless probes have no legitimate use. */
	if ((s->flags & TCP_SYN) && (s->flags & (TCP_FIN | TCP_RST)))
		return false;
	if (!(s->flags & (TCP_SYN | TCP_RST | TCP_ACK)))
		return false;
	return tcp_parse_options(p + TCP_HLEN, hl - TCP_HLEN, s);
}

static uint16_t tcp_peer_mss(const struct tcp_seg *s)
{
	uint16_t mss = s->mss ? s->mss : TCP_DEFAULT_MSS;

	if (mss > NET_TCP_MSS)
		mss = NET_TCP_MSS;
	return mss < TCP_MIN_MSS ? TCP_MIN_MSS : mss;
}

/* RFC 5681 3.1 initial window, and the window fields of the handshake. */
static void tcp_init_send(struct tcp_pcb *c, const struct tcp_seg *s)
{
	uint32_t iw = 4380;

	c->mss = tcp_peer_mss(s);
	if (iw < 2u * c->mss)
		iw = 2u * c->mss;
	if (iw > 4u * c->mss)
		iw = 4u * c->mss;
	c->cwnd = iw;
	c->ssthresh = 0xffff;
	c->snd_wnd = s->wnd;
	c->max_sndwnd = s->wnd;
	c->snd_wl1 = s->seq;
	c->snd_wl2 = s->ack;
	c->recover = c->iss;
}

static struct tcp_pcb *tcp_lookup(struct net_stack *ns, const struct tcp_seg *s)
{
	size_t i;

	for (i = 0; i < NET_TCP_MAX_CONNS; i++) {
		struct tcp_pcb *c = &ns->pcbs[i];

		if (c->state != TCPS_CLOSED && c->rip == s->src && c->rport == s->sport &&
		    c->lport == s->dport)
			return c;
	}
	return NULL;
}

static struct tcp_listener *tcp_find_listener(struct net_stack *ns, uint16_t port)
{
	size_t i;

	for (i = 0; i < NET_TCP_MAX_LISTEN; i++)
		if (ns->listeners[i].port == port)
			return &ns->listeners[i];
	return NULL;
}

/* RFC 9293 3.10.7.1: the reset for a segment that has no connection. */
static void tcp_reply_rst(struct net_stack *ns, const struct tcp_seg *s)
{
	if (s->flags & TCP_RST)
		return;
	if (s->flags & TCP_ACK)
		tcp_send_reset(ns, s->src, s->dport, s->sport, s->ack, 0, TCP_RST);
	else
		tcp_send_reset(ns, s->src, s->dport, s->sport, 0, s->seq + seg_len(s),
			       TCP_RST | TCP_ACK);
}

static void tcp_listen_input(struct net_stack *ns, const struct tcp_listener *l,
			     const struct tcp_seg *s)
{
	struct tcp_pcb *c;

	if (s->flags & TCP_RST)
		return;
	if (s->flags & TCP_ACK) {
		tcp_reply_rst(ns, s);
		return;
	}
	c = tcp_alloc(ns);
	if (!c) {
		net_drop(ns);	/* backlog full: the client retries its SYN */
		return;
	}
	c->state = TCPS_SYN_RCVD;
	c->cb = l->cb;
	c->arg = l->arg;
	c->rip = s->src;
	c->rport = s->sport;
	c->lport = s->dport;
	c->irs = s->seq;
	c->rcv_nxt = s->seq + 1;
	c->rcv_adv = c->rcv_nxt;
	c->iss = ns->env.random(ns->env.ctx);
	c->snd_una = c->iss;
	c->snd_nxt = c->iss;
	c->snd_max = c->iss;
	c->rto = TCP_RTO_INIT_MS;
	c->last_rx = net_now(ns);
	tcp_init_send(c, s);
	tcp_send_syn(c);
}

/* The SYN is acknowledged: both handshakes end here. */
static void tcp_syn_acked(struct tcp_pcb *c, const struct tcp_seg *s)
{
	if (c->rtt_active && c->retries == 0)
		tcp_rtt_sample(c, (uint32_t)(net_now(c->ns) - c->rtt_start));
	c->rtt_active = false;
	c->retries = 0;
	c->snd_una = c->iss + 1;
	if (SEQ_LT(c->snd_nxt, c->snd_una))
		c->snd_nxt = c->snd_una;
	c->rto_at = 0;
	c->snd_wnd = s->wnd;
	c->max_sndwnd = s->wnd;
	c->snd_wl1 = s->seq;
	c->snd_wl2 = s->ack;
	c->state = TCPS_ESTABLISHED;
	c->poll_at = net_now(c->ns) + NET_TCP_POLL_MS;
}

static void tcp_synsent_input(struct tcp_pcb *c, const struct tcp_seg *s)
{
	struct net_stack *ns = c->ns;

	if ((s->flags & TCP_ACK) && s->ack != c->iss + 1) {
		tcp_reply_rst(ns, s);
		return;
	}
	if (s->flags & TCP_RST) {
		if (s->flags & TCP_ACK) {
			ns->stats.tcp_rst_received++;
			tcp_free(c, TCP_CLOSED_RESET, true);
		}
		return;
	}
	if (!(s->flags & TCP_SYN) || !(s->flags & TCP_ACK))
		return;		/* simultaneous open is not supported */
	c->irs = s->seq;
	c->rcv_nxt = s->seq + 1;
	c->rcv_adv = c->rcv_nxt;
	tcp_init_send(c, s);
	tcp_syn_acked(c, s);
	tcp_send_ctl(c, c->snd_max, TCP_ACK);
	if (c->cb && c->cb->accepted)
		c->cb->accepted(c->arg, c);
	if (c->state != TCPS_CLOSED)
		tcp_output(c);
}

static bool seq_in_window(uint32_t x, uint32_t start, uint32_t wnd)
{
	return SEQ_GEQ(x, start) && SEQ_LT(x, start + wnd);
}

/*
 * RFC 9293 3.10.7.4 acceptability, against the space we can buffer. With
 * a zero window a segment at rcv_nxt still counts, so its ACK and RST are
 * processed (its data is trimmed away later).
 */
static bool tcp_acceptable(const struct tcp_pcb *c, const struct tcp_seg *s)
{
	uint32_t wnd = NET_TCP_RCVWND - c->held;
	uint32_t len = seg_len(s);

	if (!wnd)
		return s->seq == c->rcv_nxt;
	if (!len)
		return seq_in_window(s->seq, c->rcv_nxt, wnd);
	return seq_in_window(s->seq, c->rcv_nxt, wnd) ||
	       seq_in_window(s->seq + len - 1, c->rcv_nxt, wnd);
}

/* The peer's window, if this segment is newer than the last that set it. */
static void tcp_update_window(struct tcp_pcb *c, const struct tcp_seg *s)
{
	if (SEQ_LT(c->snd_wl1, s->seq) ||
	    (c->snd_wl1 == s->seq && SEQ_LEQ(c->snd_wl2, s->ack))) {
		c->snd_wnd = s->wnd;
		c->snd_wl1 = s->seq;
		c->snd_wl2 = s->ack;
		if (s->wnd > c->max_sndwnd)
			c->max_sndwnd = s->wnd;
		if (s->wnd)
			c->persist_at = 0;
	}
}

/* RFC 5681 3.2 / RFC 6582: three duplicate ACKs mean a lost segment. */
static void tcp_dupack(struct tcp_pcb *c)
{
	if (++c->dupacks == 3 && !c->in_recovery && SEQ_GT(c->snd_una, c->recover)) {
		uint32_t half = tcp_flight(c) / 2;

		c->ssthresh = half > 2u * c->mss ? half : 2u * c->mss;
		c->recover = c->snd_max;
		c->in_recovery = true;
		c->cwnd = c->ssthresh + 3u * c->mss;
		tcp_retransmit_first(c);
	} else if (c->in_recovery && c->cwnd < TCP_CWND_MAX) {
		c->cwnd += c->mss;	/* each dup ACK: one segment left the net */
	}
	tcp_output(c);
}

static void tcp_grow_cwnd(struct tcp_pcb *c, uint32_t acked)
{
	if (c->in_recovery) {
		if (SEQ_GEQ(c->snd_una, c->recover)) {
			c->in_recovery = false;
			c->cwnd = c->ssthresh;
		} else {
			/* Partial ACK: the next hole is lost too; deflate. */
			c->cwnd = c->cwnd > acked ? c->cwnd - acked + c->mss : c->mss;
			tcp_retransmit_first(c);
		}
	} else if (c->cwnd < c->ssthresh) {
		c->cwnd += acked < c->mss ? acked : c->mss;
	} else {
		uint32_t inc = (uint32_t)c->mss * c->mss / c->cwnd;

		c->cwnd += inc ? inc : 1;
	}
	if (c->cwnd > TCP_CWND_MAX)
		c->cwnd = TCP_CWND_MAX;
}

/* New data acknowledged; false if the connection is gone. */
static bool tcp_new_ack(struct tcp_pcb *c, uint32_t ack)
{
	uint32_t acked = ack - c->snd_una;
	size_t data = acked < c->sb_len ? acked : c->sb_len;
	bool fin_acked = acked > c->sb_len;

	if (c->rtt_active && SEQ_GEQ(ack, c->rtt_seq)) {
		tcp_rtt_sample(c, (uint32_t)(net_now(c->ns) - c->rtt_start));
		c->rtt_active = false;
	}
	c->retries = 0;
	c->dupacks = 0;
	c->sb_head = (c->sb_head + data) % NET_TCP_SNDBUF;
	c->sb_len -= data;
	c->snd_una = ack;
	if (SEQ_LT(c->snd_nxt, c->snd_una))
		c->snd_nxt = c->snd_una;
	c->rto_at = 0;
	tcp_grow_cwnd(c, acked);
	if (c->snd_una != c->snd_max && !c->rto_at)
		c->rto_at = net_now(c->ns) + c->rto;
	if (data && c->cb && c->cb->sent) {
		c->cb->sent(c->arg, c, data);
		if (c->state == TCPS_CLOSED)
			return false;
	}
	if (!fin_acked)
		return true;
	if (c->state == TCPS_FIN_WAIT_1) {
		c->state = TCPS_FIN_WAIT_2;
	} else if (c->state == TCPS_CLOSING) {
		tcp_enter_time_wait(c);
		return false;
	} else if (c->state == TCPS_LAST_ACK) {
		tcp_free(c, TCP_CLOSED_NORMAL, true);
		return false;
	}
	return true;
}

/* ACK field of a synchronized connection; false to stop processing. */
static bool tcp_ack_input(struct tcp_pcb *c, const struct tcp_seg *s)
{
	uint32_t old_wnd = c->snd_wnd;

	if (SEQ_GT(s->ack, c->snd_max)) {
		c->ack_now = true;	/* acks what we never sent */
		return false;
	}
	if (SEQ_LT(s->ack, c->snd_una))
		return true;		/* old duplicate: its data may still be new */
	tcp_update_window(c, s);
	if (s->ack == c->snd_una) {
		if (!s->dlen && !(s->flags & (TCP_SYN | TCP_FIN)) && s->wnd == old_wnd &&
		    tcp_flight(c))
			tcp_dupack(c);
		return true;
	}
	return tcp_new_ack(c, s->ack);
}

/* Hands in-order bytes to the application; false if it dropped the connection. */
static bool tcp_deliver(struct tcp_pcb *c, const uint8_t *d, uint32_t n)
{
	c->rcv_nxt += n;
	if (!n || !c->cb || !c->cb->received)
		return true;
	c->held += n;
	c->cb->received(c->arg, c, d, n);
	return c->state != TCPS_CLOSED;
}

static void tcp_ooo_store(struct tcp_pcb *c, uint32_t seq, const uint8_t *d, uint32_t n)
{
	struct tcp_range out[TCP_OOO_RANGES + 1];
	uint32_t s0 = seq, e0 = seq + n, pos = seq % NET_TCP_RCVWND;
	uint32_t first = NET_TCP_RCVWND - pos;
	size_t i, k = 0;
	bool placed = false;

	if (first > n)
		first = n;
	memcpy(c->ooobuf + pos, d, first);
	memcpy(c->ooobuf, d + first, n - first);
	for (i = 0; i < c->n_ooo; i++) {
		uint32_t rs = c->ooo[i].seq, re = rs + c->ooo[i].len;

		if (SEQ_LT(re, s0)) {
			out[k++] = c->ooo[i];
		} else if (SEQ_GT(rs, e0)) {
			if (!placed) {
				out[k++] = (struct tcp_range){ s0, e0 - s0 };
				placed = true;
			}
			out[k++] = c->ooo[i];
		} else {
			s0 = SEQ_LT(rs, s0) ? rs : s0;
			e0 = SEQ_GT(re, e0) ? re : e0;
		}
	}
	if (!placed)
		out[k++] = (struct tcp_range){ s0, e0 - s0 };
	if (k > TCP_OOO_RANGES)
		return;		/* too fragmented: the peer will resend this */
	memcpy(c->ooo, out, k * sizeof(out[0]));
	c->n_ooo = (uint8_t)k;
}

/* Delivers what the out-of-order store now continues; false if gone. */
static bool tcp_ooo_drain(struct tcp_pcb *c)
{
	while (c->n_ooo && SEQ_LEQ(c->ooo[0].seq, c->rcv_nxt)) {
		uint32_t end = c->ooo[0].seq + c->ooo[0].len;

		c->n_ooo--;
		memmove(c->ooo, c->ooo + 1, c->n_ooo * sizeof(c->ooo[0]));
		while (SEQ_LT(c->rcv_nxt, end)) {
			uint32_t pos = c->rcv_nxt % NET_TCP_RCVWND;
			uint32_t n = end - c->rcv_nxt;

			if (n > NET_TCP_RCVWND - pos)
				n = NET_TCP_RCVWND - pos;
			if (!tcp_deliver(c, c->ooobuf + pos, n))
				return false;
		}
	}
	return true;
}

/* The peer's FIN, in order. false if the connection is gone. */
static bool tcp_fin_input(struct tcp_pcb *c)
{
	uint8_t prev = c->state;

	c->rcv_nxt++;
	c->ooo_fin = false;
	c->ack_now = true;
	if (prev == TCPS_ESTABLISHED)
		c->state = TCPS_CLOSE_WAIT;
	else if (prev == TCPS_FIN_WAIT_1)
		c->state = TCPS_CLOSING;
	if (c->cb && c->cb->received) {
		c->cb->received(c->arg, c, NULL, 0);
		if (c->state == TCPS_CLOSED)
			return false;
	}
	if (prev == TCPS_FIN_WAIT_2 && c->state == TCPS_FIN_WAIT_2)
		tcp_enter_time_wait(c);
	return true;
}

/* Segment text and FIN (RFC 9293 3.10.7.4, seventh and eighth). */
static bool tcp_data_input(struct tcp_pcb *c, const struct tcp_seg *s)
{
	uint32_t seq = s->seq, n = s->dlen;
	uint32_t wnd = NET_TCP_RCVWND - c->held;
	const uint8_t *d = s->data;
	bool fin = s->flags & TCP_FIN;

	c->ack_now = true;
	if (SEQ_LT(seq, c->rcv_nxt)) {
		uint32_t skip = c->rcv_nxt - seq;

		if (skip > n) {
			n = 0;
			fin = false;
		} else {
			n -= skip;
			d += skip;
		}
		seq = c->rcv_nxt;
	}
	if (SEQ_GT(seq + n, c->rcv_nxt + wnd)) {
		n = SEQ_GT(seq, c->rcv_nxt + wnd) ? 0 : c->rcv_nxt + wnd - seq;
		fin = false;
	}
	if (seq != c->rcv_nxt) {
		if (n)
			tcp_ooo_store(c, seq, d, n);
		if (fin) {
			c->ooo_fin = true;
			c->ooo_fin_seq = seq + n;
		}
		return true;
	}
	if (!tcp_deliver(c, d, n) || !tcp_ooo_drain(c))
		return false;
	if (fin || (c->ooo_fin && c->ooo_fin_seq == c->rcv_nxt))
		return tcp_fin_input(c);
	return true;
}

/* SYN_RCVD: the ACK that completes the handshake. */
static bool tcp_handshake_done(struct tcp_pcb *c, const struct tcp_seg *s)
{
	struct net_stack *ns = c->ns;

	if (!SEQ_GT(s->ack, c->snd_una) || SEQ_GT(s->ack, c->snd_max)) {
		tcp_send_reset(ns, c->rip, c->lport, c->rport, s->ack, 0, TCP_RST);
		return false;
	}
	tcp_syn_acked(c, s);
	ns->stats.tcp_accepted++;
	if (c->cb && c->cb->accepted && c->cb->accepted(c->arg, c) != 0) {
		if (c->state != TCPS_CLOSED) {
			tcp_send_ctl(c, c->snd_max, TCP_RST | TCP_ACK);
			tcp_free(c, TCP_CLOSED_ABORTED, false);
		}
		return false;
	}
	return c->state != TCPS_CLOSED;
}

/* RFC 5961 3.2: only an exact RST resets; an in-window one gets a challenge ACK. */
static void tcp_rst_input(struct tcp_pcb *c, const struct tcp_seg *s)
{
	if (s->seq != c->rcv_nxt) {
		tcp_send_ctl(c, c->snd_max, TCP_ACK);
		return;
	}
	c->ns->stats.tcp_rst_received++;
	tcp_free(c, TCP_CLOSED_RESET, c->state != TCPS_SYN_RCVD && c->state != TCPS_TIME_WAIT);
}

/*
 * A segment wholly before rcv_nxt is answered with an ACK and dropped, but
 * its ACK field still counts (as BSD does). This is how a simultaneous
 * close ends: our FIN crossed the peer's, so the peer sends its FIN again
 * with the ACK of ours (slirp does). Dropping that ACK left us in CLOSING
 * until our FIN's retransmission timer, holding a slot the whole time.
 * Only an ACK that acknowledges something new is taken: an old duplicate
 * is no evidence of loss (never a duplicate ACK for fast retransmit).
 */
static void tcp_old_segment_ack(struct tcp_pcb *c, const struct tcp_seg *s)
{
	struct tcp_seg a;

	if ((s->flags & (TCP_RST | TCP_SYN)) || !(s->flags & TCP_ACK) ||
	    c->state == TCPS_SYN_RCVD || c->state == TCPS_TIME_WAIT ||
	    !SEQ_LEQ(s->seq + seg_len(s), c->rcv_nxt) || !SEQ_GT(s->ack, c->snd_una))
		return;
	a = *s;
	a.dlen = 0;
	a.flags &= (uint8_t)~TCP_FIN;
	if (tcp_ack_input(c, &a) && c->state != TCPS_CLOSED)
		tcp_output(c);
}

static void tcp_process(struct tcp_pcb *c, const struct tcp_seg *s)
{
	if (c->state == TCPS_SYN_SENT) {
		tcp_synsent_input(c, s);
		return;
	}
	/* The peer did not hear our SYN-ACK and sent its SYN again. */
	if (c->state == TCPS_SYN_RCVD && (s->flags & TCP_SYN) && s->seq == c->irs) {
		tcp_send_syn(c);
		return;
	}
	if (!(s->flags & TCP_RST))
		c->last_rx = net_now(c->ns);
	if (!tcp_acceptable(c, s)) {
		if (!(s->flags & TCP_RST))
			tcp_send_ctl(c, c->snd_max, TCP_ACK);
		tcp_old_segment_ack(c, s);
		return;
	}
	if (s->flags & TCP_RST) {
		tcp_rst_input(c, s);
		return;
	}
	if ((s->flags & TCP_SYN) || !(s->flags & TCP_ACK)) {
		if (s->flags & TCP_SYN)
			tcp_send_ctl(c, c->snd_max, TCP_ACK);	/* RFC 5961 4.2 */
		return;
	}
	if (c->state == TCPS_TIME_WAIT) {
		if (seg_len(s))
			tcp_send_ctl(c, c->snd_max, TCP_ACK);
		return;
	}
	/* The handshake's ACK already set the window; it is no duplicate either. */
	if (c->state == TCPS_SYN_RCVD) {
		if (!tcp_handshake_done(c, s))
			return;
	} else if (!tcp_ack_input(c, s)) {
		if (c->state != TCPS_CLOSED)
			tcp_output(c);
		return;
	}
	if ((s->dlen || (s->flags & TCP_FIN)) &&
	    (c->state == TCPS_ESTABLISHED || c->state == TCPS_FIN_WAIT_1 ||
	     c->state == TCPS_FIN_WAIT_2) && !tcp_data_input(c, s))
		return;
	if (c->state != TCPS_CLOSED)
		tcp_output(c);
}

void tcp_input(struct net_stack *ns, uint32_t src, const uint8_t *p, size_t len)
{
	struct tcp_seg s;
	struct tcp_pcb *c;
	const struct tcp_listener *l;

	if (!tcp_parse(ns, src, p, len, &s)) {
		net_drop(ns);
		return;
	}
	ns->stats.tcp_segments_in++;
	c = tcp_lookup(ns, &s);
	/* RFC 1122 4.2.2.13: a new SYN may take over a TIME_WAIT pair. */
	if (c && c->state == TCPS_TIME_WAIT && (s.flags & TCP_SYN) &&
	    SEQ_GT(s.seq, c->rcv_nxt)) {
		tcp_free(c, TCP_CLOSED_NORMAL, false);
		c = NULL;
	}
	if (c) {
		tcp_process(c, &s);
		return;
	}
	l = tcp_find_listener(ns, s.dport);
	if (l && (s.flags & TCP_SYN))
		tcp_listen_input(ns, l, &s);
	else if (l && (s.flags & TCP_ACK) && !(s.flags & TCP_RST))
		tcp_reply_rst(ns, &s);	/* bad ACK in LISTEN */
	else if (!l)
		tcp_reply_rst(ns, &s);
}
