/*
 * DHCP client (RFC 2131, options from RFC 2132): DISCOVER -> OFFER ->
 * REQUEST -> ACK, retransmissions with doubling back-off, renewal at T1
 * (unicast) and rebinding at T2 (broadcast). If no lease arrives within the
 * caller's budget, or a lease runs out, the static address is used.
 *
 * Replies are matched on xid and our MAC and their options are walked with
 * bounds checks. No locking: single-threaded by contract (net.h).
 */
#include <stdio.h>
#include <string.h>
#include "stack.h"

#define DHCP_FIXED_LEN		236
#define DHCP_COOKIE_OFF		236
#define DHCP_OPTS_OFF		240
#define DHCP_MIN_LEN		300	/* BOOTP's minimum, some servers insist */
#define DHCP_COOKIE		0x63825363U
#define DHCP_FLAG_BROADCAST	0x8000

#define DHCP_DISCOVER		1
#define DHCP_OFFER		2
#define DHCP_REQUEST		3
#define DHCP_ACK		5
#define DHCP_NAK		6

#define OPT_PAD			0
#define OPT_MASK		1
#define OPT_ROUTER		3
#define OPT_REQ_IP		50
#define OPT_LEASE		51
#define OPT_MSG_TYPE		53
#define OPT_SERVER_ID		54
#define OPT_PARAMS		55
#define OPT_MAX_SIZE		57
#define OPT_T1			58
#define OPT_T2			59
#define OPT_CLIENT_ID		61
#define OPT_END			255

#define DHCP_DEFAULT_LEASE	3600	/* s, if the server names none */
#define DHCP_RENEW_MIN_MS	60000	/* RFC 2131 4.4.5 */

struct dhcp_reply {
	uint8_t type;
	uint32_t yiaddr, server_id, mask, router;
	uint32_t lease, t1, t2;	/* seconds, 0 if absent */
};

static void ip_str(char *buf, size_t len, uint32_t ip)
{
	snprintf(buf, len, "%u.%u.%u.%u", (unsigned)(ip >> 24), (unsigned)((ip >> 16) & 255),
		 (unsigned)((ip >> 8) & 255), (unsigned)(ip & 255));
}

static uint8_t *dhcp_opt(uint8_t *o, uint8_t code, uint8_t len)
{
	o[0] = code;
	o[1] = len;
	return o + 2;
}

static uint8_t *dhcp_opt32(uint8_t *o, uint8_t code, uint32_t v)
{
	net_put32(dhcp_opt(o, code, 4), v);
	return o + 6;
}

static void dhcp_send(struct net_stack *ns, uint8_t type)
{
	struct dhcp_client *d = &ns->dhcp;
	uint8_t *b = ns->tx + NET_L4_OFF + UDP_HLEN;
	uint8_t *o = b + DHCP_OPTS_OFF, *v;
	bool renewing = d->state == DHCP_RENEWING || d->state == DHCP_REBINDING;
	uint64_t secs = (net_now(ns) - d->started) / 1000;
	size_t len;

	memset(b, 0, DHCP_MIN_LEN);
	b[0] = 1;		/* BOOTREQUEST */
	b[1] = 1;		/* Ethernet */
	b[2] = 6;
	net_put32(b + 4, d->xid);
	net_put16(b + 8, (uint16_t)(secs > 0xffff ? 0xffff : secs));
	/* Without an address we cannot receive unicast replies through ARP. */
	net_put16(b + 10, renewing ? 0 : DHCP_FLAG_BROADCAST);
	if (renewing)
		net_put32(b + 12, ns->ip);
	memcpy(b + 28, ns->mac, 6);
	net_put32(b + DHCP_COOKIE_OFF, DHCP_COOKIE);
	v = dhcp_opt(o, OPT_MSG_TYPE, 1);
	v[0] = type;
	v = dhcp_opt(v + 1, OPT_CLIENT_ID, 7);
	v[0] = 1;		/* hardware type, then the MAC */
	memcpy(v + 1, ns->mac, 6);
	o = v + 7;
	if (type == DHCP_REQUEST && d->state == DHCP_REQUESTING) {
		o = dhcp_opt32(o, OPT_REQ_IP, d->offered_ip);
		o = dhcp_opt32(o, OPT_SERVER_ID, d->server_id);
	}
	v = dhcp_opt(o, OPT_MAX_SIZE, 2);
	net_put16(v, NET_MTU);
	v = dhcp_opt(v + 2, OPT_PARAMS, 5);
	v[0] = OPT_MASK;
	v[1] = OPT_ROUTER;
	v[2] = OPT_LEASE;
	v[3] = OPT_T1;
	v[4] = OPT_T2;
	o = v + 5;
	*o++ = OPT_END;
	len = (size_t)(o - b);
	if (len < DHCP_MIN_LEN)
		len = DHCP_MIN_LEN;
	udp_send(ns, d->state == DHCP_RENEWING ? d->server_id : IP_BROADCAST,
		 DHCP_CLIENT_PORT, DHCP_SERVER_PORT, len);
}

static void dhcp_discover(struct net_stack *ns)
{
	struct dhcp_client *d = &ns->dhcp;

	d->state = DHCP_SELECTING;
	d->xid = ns->env.random(ns->env.ctx);
	d->backoff_ms = DHCP_RETRY_MS;
	d->next_tx = net_now(ns) + d->backoff_ms;
	dhcp_send(ns, DHCP_DISCOVER);
}

void net_dhcp_start(struct net_stack *ns, uint32_t timeout_ms)
{
	struct dhcp_client *d = &ns->dhcp;
	uint64_t now = net_now(ns);

	ns->ip = 0;
	ns->mask = 0;
	ns->gw = 0;
	ns->from_dhcp = false;
	memset(d, 0, sizeof(*d));
	d->timeout_ms = timeout_ms;
	d->started = now;
	d->deadline = now + timeout_ms;
	dhcp_discover(ns);
}

static void dhcp_use_static(struct net_stack *ns, const char *why)
{
	char msg[112], ip[16];

	ns->dhcp.state = DHCP_FALLBACK;
	ns->ip = ns->static_ip;
	ns->mask = ns->static_mask;
	ns->gw = ns->static_gw;
	ns->from_dhcp = false;
	ip_str(ip, sizeof(ip), ns->ip);
	snprintf(msg, sizeof(msg), "dhcp %s, static ip=%s", why, ip);
	net_log(ns, msg);
}

/* Walks the options with bounds checks; false if they are malformed. */
static bool dhcp_parse_options(const uint8_t *o, size_t len, struct dhcp_reply *r)
{
	size_t i = 0;

	while (i < len) {
		uint8_t code = o[i], olen;
		const uint8_t *v;

		if (code == OPT_END)
			return true;
		if (code == OPT_PAD) {
			i++;
			continue;
		}
		if (i + 1 >= len || o[i + 1] > len - i - 2)
			return false;
		olen = o[i + 1];
		v = o + i + 2;
		if (code == OPT_MSG_TYPE && olen == 1)
			r->type = v[0];
		else if (olen == 4) {
			uint32_t x = net_get32(v);

			if (code == OPT_SERVER_ID)
				r->server_id = x;
			else if (code == OPT_MASK)
				r->mask = x;
			else if (code == OPT_LEASE)
				r->lease = x;
			else if (code == OPT_T1)
				r->t1 = x;
			else if (code == OPT_T2)
				r->t2 = x;
		}
		if (code == OPT_ROUTER && olen >= 4 && olen % 4 == 0)
			r->router = net_get32(v);
		i += 2u + olen;
	}
	return true;
}

static bool dhcp_parse(struct net_stack *ns, const uint8_t *p, size_t len, struct dhcp_reply *r)
{
	memset(r, 0, sizeof(*r));
	if (len < DHCP_OPTS_OFF || p[0] != 2 || p[1] != 1 || p[2] != 6 ||
	    net_get32(p + 4) != ns->dhcp.xid || memcmp(p + 28, ns->mac, 6) != 0 ||
	    net_get32(p + DHCP_COOKIE_OFF) != DHCP_COOKIE)
		return false;
	r->yiaddr = net_get32(p + 16);
	return dhcp_parse_options(p + DHCP_OPTS_OFF, len - DHCP_OPTS_OFF, r) && r->type;
}

static uint64_t secs_ms(uint32_t s)
{
	return (uint64_t)s * 1000;
}

static void dhcp_bind(struct net_stack *ns, const struct dhcp_reply *r)
{
	struct dhcp_client *d = &ns->dhcp;
	uint64_t now = net_now(ns);
	uint32_t lease = r->lease ? r->lease : DHCP_DEFAULT_LEASE;
	char msg[128], ip[16], mask[16], gw[16];

	ns->ip = r->yiaddr;
	ns->mask = r->mask ? r->mask : NET_IP(255, 255, 255, 0);
	ns->gw = r->router;
	ns->from_dhcp = true;
	d->state = DHCP_BOUND;
	if (lease == 0xffffffffU) {
		d->t1 = d->t2 = d->expiry = UINT64_MAX;	/* infinite lease */
	} else {
		d->t1 = now + (r->t1 && r->t1 < lease ? secs_ms(r->t1) : secs_ms(lease) / 2);
		d->t2 = now + (r->t2 && r->t2 < lease ? secs_ms(r->t2) : secs_ms(lease) * 7 / 8);
		d->expiry = now + secs_ms(lease);
	}
	ip_str(ip, sizeof(ip), ns->ip);
	ip_str(mask, sizeof(mask), ns->mask);
	ip_str(gw, sizeof(gw), ns->gw);
	snprintf(msg, sizeof(msg), "dhcp bound ip=%s mask=%s gw=%s lease=%lus", ip, mask, gw,
		 (unsigned long)lease);
	net_log(ns, msg);
}

static bool dhcp_valid_addr(uint32_t ip)
{
	return ip && ip != IP_BROADCAST && ip < 0xe0000000U && (ip >> 24) != 127;
}

void dhcp_input(struct net_stack *ns, uint32_t src, const uint8_t *p, size_t len)
{
	struct dhcp_client *d = &ns->dhcp;
	struct dhcp_reply r;

	if (d->state == DHCP_OFF || d->state == DHCP_BOUND || d->state == DHCP_FALLBACK ||
	    !dhcp_parse(ns, p, len, &r)) {
		net_drop(ns);
		return;
	}
	if (d->state == DHCP_SELECTING && r.type == DHCP_OFFER && dhcp_valid_addr(r.yiaddr)) {
		d->offered_ip = r.yiaddr;
		d->server_id = r.server_id ? r.server_id : src;
		d->state = DHCP_REQUESTING;
		d->tries = 1;
		d->backoff_ms = DHCP_RETRY_MS;
		d->next_tx = net_now(ns) + d->backoff_ms;
		dhcp_send(ns, DHCP_REQUEST);
	} else if (d->state != DHCP_SELECTING && r.type == DHCP_ACK &&
		   dhcp_valid_addr(r.yiaddr) &&
		   (d->state != DHCP_REQUESTING || !r.server_id || r.server_id == d->server_id)) {
		if (r.server_id)
			d->server_id = r.server_id;
		dhcp_bind(ns, &r);
	} else if (d->state != DHCP_SELECTING && r.type == DHCP_NAK) {
		net_log(ns, "dhcp nak, restarting");
		ns->ip = 0;
		ns->from_dhcp = false;
		d->deadline = net_now(ns) + d->timeout_ms;
		dhcp_discover(ns);
	}
}

/* Retransmission in SELECTING/REQUESTING: back off, or start over. */
static void dhcp_retry(struct net_stack *ns, uint64_t now)
{
	struct dhcp_client *d = &ns->dhcp;

	d->backoff_ms *= 2;
	if (d->backoff_ms > DHCP_RETRY_MAX_MS)
		d->backoff_ms = DHCP_RETRY_MAX_MS;
	/* RFC 2131 4.1: randomise by up to a second so clients do not sync up. */
	d->next_tx = now + d->backoff_ms + ns->env.random(ns->env.ctx) % 1000;
	if (d->state == DHCP_REQUESTING && ++d->tries > 4) {
		dhcp_discover(ns);
		return;
	}
	dhcp_send(ns, d->state == DHCP_SELECTING ? DHCP_DISCOVER : DHCP_REQUEST);
}

/* RENEWING/REBINDING: half the time left, at least a minute (RFC 2131 4.4.5). */
static void dhcp_renew_tx(struct net_stack *ns, uint64_t now, uint64_t until)
{
	uint64_t wait = until > now ? (until - now) / 2 : 0;

	ns->dhcp.next_tx = now + (wait > DHCP_RENEW_MIN_MS ? wait : DHCP_RENEW_MIN_MS);
	dhcp_send(ns, DHCP_REQUEST);
}

void dhcp_poll(struct net_stack *ns, uint64_t now)
{
	struct dhcp_client *d = &ns->dhcp;

	switch (d->state) {
	case DHCP_SELECTING:
	case DHCP_REQUESTING:
		if (now >= d->deadline)
			dhcp_use_static(ns, "no lease");
		else if (now >= d->next_tx)
			dhcp_retry(ns, now);
		break;
	case DHCP_BOUND:
		if (now >= d->t1) {
			d->state = DHCP_RENEWING;
			d->xid = ns->env.random(ns->env.ctx);
			dhcp_renew_tx(ns, now, d->t2);
		}
		break;
	case DHCP_RENEWING:
	case DHCP_REBINDING:
		if (now >= d->expiry) {
			dhcp_use_static(ns, "lease expired");
		} else if (d->state == DHCP_RENEWING && now >= d->t2) {
			d->state = DHCP_REBINDING;
			dhcp_renew_tx(ns, now, d->expiry);
		} else if (now >= d->next_tx) {
			dhcp_renew_tx(ns, now, d->state == DHCP_RENEWING ? d->t2 : d->expiry);
		}
		break;
	default:
		break;
	}
}

uint64_t dhcp_next_timer(const struct net_stack *ns)
{
	const struct dhcp_client *d = &ns->dhcp;
	uint64_t t;

	switch (d->state) {
	case DHCP_SELECTING:
	case DHCP_REQUESTING:
		return d->next_tx < d->deadline ? d->next_tx : d->deadline;
	case DHCP_BOUND:
		return d->t1;
	case DHCP_RENEWING:
		t = d->next_tx < d->t2 ? d->next_tx : d->t2;
		return t < d->expiry ? t : d->expiry;
	case DHCP_REBINDING:
		return d->next_tx < d->expiry ? d->next_tx : d->expiry;
	default:
		return UINT64_MAX;
	}
}
