/*
 * TCP output: building segments, sending new data within the peer's
 * window and our congestion window (RFC 5681, with NewReno recovery from
 * RFC 6582), retransmission with the RFC 6298 timer and Karn's rule, and
 * zero-window probes.
 *
 * No locking: single-threaded by contract (net.h).
 */
#include <string.h>
#include "stack.h"

#define TCP_OPT_MSS_LEN	4

static uint32_t min_u32(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

static uint32_t max_u32(uint32_t a, uint32_t b)
{
	return a > b ? a : b;
}

/*
 * RFC 1122 4.2.3.3 (receiver side silly-window avoidance): the right edge
 * only moves once it can move by an MSS or half the buffer.
 */
uint32_t tcp_rcv_window(const struct tcp_pcb *c)
{
	uint32_t avail = NET_TCP_RCVWND - min_u32(c->held, NET_TCP_RCVWND);
	int32_t adv = (int32_t)(c->rcv_adv - c->rcv_nxt);
	uint32_t step = min_u32(NET_TCP_MSS, NET_TCP_RCVWND / 2);

	if (adv < 0)
		adv = 0;
	if (avail <= (uint32_t)adv || avail - (uint32_t)adv < step)
		return (uint32_t)adv;
	return avail;
}

uint32_t tcp_flight(const struct tcp_pcb *c)
{
	return c->snd_max - c->snd_una;
}

/* Fills the TCP header at ns->tx + NET_L4_OFF; returns its length. */
static size_t tcp_build_header(struct net_stack *ns, uint16_t lport, uint16_t rport,
			       uint32_t seq, uint32_t ack, uint8_t flags, uint16_t wnd)
{
	uint8_t *h = ns->tx + NET_L4_OFF;
	size_t hl = TCP_HLEN + ((flags & TCP_SYN) ? TCP_OPT_MSS_LEN : 0);

	net_put16(h, lport);
	net_put16(h + 2, rport);
	net_put32(h + 4, seq);
	net_put32(h + 8, (flags & TCP_ACK) ? ack : 0);
	h[12] = (uint8_t)((hl / 4) << 4);
	h[13] = flags;
	net_put16(h + 14, wnd);
	net_put32(h + 16, 0);	/* checksum, urgent pointer */
	if (flags & TCP_SYN) {
		h[20] = 2;
		h[21] = TCP_OPT_MSS_LEN;
		net_put16(h + 22, NET_TCP_MSS);
	}
	return hl;
}

static int tcp_finish(struct net_stack *ns, uint32_t rip, size_t seglen)
{
	uint8_t *h = ns->tx + NET_L4_OFF;
	uint32_t sum = ip_pseudo_sum(ns->ip, rip, IP_PROTO_TCP, seglen);

	net_put16(h + 16, ip_csum_fold(ip_csum_add(sum, h, seglen)));
	ns->stats.tcp_segments_out++;
	return ip_send(ns, rip, IP_PROTO_TCP, seglen);
}

int tcp_send_reset(struct net_stack *ns, uint32_t rip, uint16_t lport, uint16_t rport,
		   uint32_t seq, uint32_t ack, uint8_t flags)
{
	size_t hl = tcp_build_header(ns, lport, rport, seq, ack, flags, 0);

	ns->stats.tcp_rst_sent++;
	return tcp_finish(ns, rip, hl);
}

/* One segment of the connection: header, then @len bytes from send-buffer offset @off. */
static int tcp_xmit(struct tcp_pcb *c, uint32_t seq, uint8_t flags, size_t off, size_t len)
{
	struct net_stack *ns = c->ns;
	uint32_t wnd = (flags & TCP_RST) ? 0 : tcp_rcv_window(c);
	size_t hl = tcp_build_header(ns, c->lport, c->rport, seq, c->rcv_nxt, flags,
				     (uint16_t)min_u32(wnd, 0xffff));
	uint8_t *d = ns->tx + NET_L4_OFF + hl;
	size_t pos = (c->sb_head + off) % NET_TCP_SNDBUF;
	size_t first = NET_TCP_SNDBUF - pos;

	if (first > len)
		first = len;
	memcpy(d, c->sndbuf + pos, first);
	memcpy(d + first, c->sndbuf, len - first);
	if (flags & TCP_ACK) {
		c->rcv_adv = c->rcv_nxt + wnd;
		c->ack_now = false;
	}
	if (flags & TCP_RST)
		ns->stats.tcp_rst_sent++;
	return tcp_finish(ns, c->rip, hl + len);
}

/*
 * A segment without data. Callers pass snd_max for ACKs and RSTs, not
 * snd_nxt: after going back N the peer may hold everything up to snd_max
 * already, and would drop a segment with an older sequence number as
 * unacceptable without reading its ACK (both ends can deadlock so).
 */
int tcp_send_ctl(struct tcp_pcb *c, uint32_t seq, uint8_t flags)
{
	return tcp_xmit(c, seq, flags, 0, 0);
}

static void tcp_arm_rto(struct tcp_pcb *c)
{
	c->rto_at = net_now(c->ns) + c->rto;
}

/* SYN (active open) or SYN-ACK, first time or again. */
int tcp_send_syn(struct tcp_pcb *c)
{
	uint8_t flags = c->state == TCPS_SYN_SENT ? TCP_SYN : TCP_SYN | TCP_ACK;

	if (c->snd_max == c->iss) {
		c->snd_max = c->iss + 1;
		c->rtt_active = true;
		c->rtt_seq = c->iss + 1;
		c->rtt_start = net_now(c->ns);
	} else {
		c->ns->stats.tcp_retransmits++;
		c->rtt_active = false;
	}
	c->snd_nxt = c->iss + 1;
	tcp_arm_rto(c);
	return tcp_xmit(c, c->iss, flags, 0, 0);
}

/*
 * Sends the segment starting at @seq (data from the buffer, FIN if it is
 * due and fits) and advances snd_nxt/snd_max. Returns its sequence length.
 */
static uint32_t tcp_send_at(struct tcp_pcb *c, uint32_t seq, uint32_t len)
{
	struct net_stack *ns = c->ns;
	uint32_t off = seq - c->snd_una;
	uint8_t flags = TCP_ACK;
	uint32_t seqlen = len;

	if (c->fin_queued && off + len == c->sb_len) {
		flags |= TCP_FIN;
		seqlen++;
	}
	if (len)
		flags |= TCP_PSH;
	if (SEQ_LT(seq, c->snd_max)) {
		ns->stats.tcp_retransmits++;
		c->rtt_active = false;	/* Karn: an ambiguous ACK times nothing */
	} else if (!c->rtt_active) {
		c->rtt_active = true;
		c->rtt_seq = seq + seqlen;
		c->rtt_start = net_now(ns);
	}
	if (!c->rto_at)
		tcp_arm_rto(c);
	tcp_xmit(c, seq, flags, off, len);
	if (SEQ_GT(seq + seqlen, c->snd_nxt))
		c->snd_nxt = seq + seqlen;
	if (SEQ_GT(c->snd_nxt, c->snd_max))
		c->snd_max = c->snd_nxt;
	return seqlen;
}

static bool tcp_can_send_data(const struct tcp_pcb *c)
{
	return c->state == TCPS_ESTABLISHED || c->state == TCPS_CLOSE_WAIT ||
	       c->state == TCPS_FIN_WAIT_1 || c->state == TCPS_CLOSING ||
	       c->state == TCPS_LAST_ACK;
}

/* Sender-side silly-window avoidance (RFC 1122 4.2.3.4), without Nagle. */
static bool tcp_worth_sending(const struct tcp_pcb *c, uint32_t n, uint32_t unsent)
{
	return n == c->mss || n == unsent || n >= c->max_sndwnd / 2 ||
	       c->snd_nxt == c->snd_una;
}

/* RFC 3042: each of the first two duplicate ACKs lets one new segment out. */
static uint32_t tcp_limited_transmit(const struct tcp_pcb *c)
{
	return c->in_recovery ? 0 : (uint32_t)min_u32(c->dupacks, 2) * c->mss;
}

void tcp_output(struct tcp_pcb *c)
{
	if (c->state == TCPS_CLOSED || c->state == TCPS_SYN_SENT)
		return;
	while (tcp_can_send_data(c)) {
		uint32_t sent = c->snd_nxt - c->snd_una;
		uint32_t unsent = sent < c->sb_len ? (uint32_t)c->sb_len - sent : 0;
		uint32_t wnd = min_u32(c->snd_wnd, c->cwnd + tcp_limited_transmit(c));
		uint32_t usable = SEQ_LT(c->snd_nxt, c->snd_una + wnd) ?
				  c->snd_una + wnd - c->snd_nxt : 0;
		uint32_t n = min_u32(min_u32(unsent, usable), c->mss);

		if (n && tcp_worth_sending(c, n, unsent)) {
			tcp_send_at(c, c->snd_nxt, n);
			continue;
		}
		/* A FIN takes no buffer space: it goes once the data has. */
		if (!unsent && c->fin_queued && sent == c->sb_len) {
			tcp_send_at(c, c->snd_nxt, 0);
			continue;
		}
		break;
	}
	if (c->ack_now)
		tcp_send_ctl(c, c->snd_max, TCP_ACK);
	/* Data waits behind a zero window with nothing in flight: probe it. */
	if (!c->snd_wnd && c->sb_len > (size_t)(c->snd_nxt - c->snd_una) &&
	    c->snd_una == c->snd_max && !c->persist_at) {
		c->persist_ms = c->rto;
		c->persist_at = net_now(c->ns) + c->persist_ms;
	}
}

/* Resends the oldest unacknowledged segment (fast retransmit, partial ACKs). */
void tcp_retransmit_first(struct tcp_pcb *c)
{
	uint32_t len;

	if (c->state == TCPS_SYN_SENT || c->state == TCPS_SYN_RCVD) {
		tcp_send_syn(c);
		return;
	}
	len = min_u32(min_u32((uint32_t)c->sb_len, c->mss), tcp_flight(c));
	if (len || tcp_flight(c))
		tcp_send_at(c, c->snd_una, len);
	tcp_arm_rto(c);
}

void tcp_rto_expired(struct tcp_pcb *c)
{
	struct net_stack *ns = c->ns;

	c->rto_at = 0;
	if (c->snd_una == c->snd_max)
		return;
	if (++c->retries > TCP_MAX_RETRIES) {
		ns->stats.tcp_timeouts++;
		if (c->state == TCPS_SYN_RCVD) {
			tcp_free(c, TCP_CLOSED_TIMEOUT, false);
			return;
		}
		if (c->state != TCPS_SYN_SENT)
			tcp_send_ctl(c, c->snd_max, TCP_RST | TCP_ACK);
		tcp_free(c, TCP_CLOSED_TIMEOUT, true);
		return;
	}
	c->rto = min_u32(c->rto * 2, TCP_RTO_MAX_MS);
	c->ssthresh = max_u32(tcp_flight(c) / 2, 2u * c->mss);
	c->cwnd = c->mss;
	c->in_recovery = false;
	c->dupacks = 0;
	c->rtt_active = false;
	/* RFC 6582: duplicate ACKs for what went before the timeout are no signal. */
	c->recover = c->snd_max;
	if (c->state == TCPS_SYN_SENT || c->state == TCPS_SYN_RCVD) {
		tcp_send_syn(c);
		return;
	}
	/*
	 * Go back N: the oldest segment now, even into a window the peer has
	 * shrunk to zero, the rest as the congestion window reopens.
	 */
	c->snd_nxt = c->snd_una;
	tcp_retransmit_first(c);
	tcp_output(c);
}

void tcp_persist_expired(struct tcp_pcb *c)
{
	c->persist_at = 0;
	if (c->snd_wnd || c->snd_una != c->snd_max)
		return;
	/* An old sequence number: the peer must answer with its window (RFC 9293 3.10.7.4). */
	tcp_send_ctl(c, c->snd_una - 1, TCP_ACK);
	c->persist_ms = min_u32(c->persist_ms * 2, TCP_PERSIST_MAX_MS);
	c->persist_at = net_now(c->ns) + c->persist_ms;
}

void tcp_rtt_sample(struct tcp_pcb *c, uint32_t r)
{
	uint32_t var;

	if (!c->srtt) {
		c->srtt = r ? r : 1;
		c->rttvar = r / 2;
	} else {
		uint32_t d = c->srtt > r ? c->srtt - r : r - c->srtt;

		c->rttvar = (3 * c->rttvar + d) / 4;
		c->srtt = (7 * c->srtt + r) / 8;
		if (!c->srtt)
			c->srtt = 1;
	}
	var = max_u32(1, 4 * c->rttvar);
	c->rto = min_u32(max_u32(c->srtt + var, TCP_RTO_MIN_MS), TCP_RTO_MAX_MS);
}
