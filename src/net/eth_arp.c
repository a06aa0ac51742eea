/*
 * ARP (RFC 826) for IPv4 over Ethernet: a small cache with a lifetime,
 * replies to requests for our address, and resolution of next hops with
 * at most one frame queued per unresolved address (a newer frame replaces
 * it: the latest retransmission or ACK is worth more than an older one).
 *
 * No locking: single-threaded by contract (net.h).
 */
#include <string.h>
#include "stack.h"

#define ARP_OP_REQUEST	1
#define ARP_OP_REPLY	2

static const uint8_t mac_bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

static struct arp_entry *arp_find(struct net_stack *ns, uint32_t ip)
{
	size_t i;

	for (i = 0; i < ARP_ENTRIES; i++)
		if (ns->arp[i].state != ARP_FREE && ns->arp[i].ip == ip)
			return &ns->arp[i];
	return NULL;
}

/* A free entry, else the valid one closest to expiry, else the oldest pending. */
static struct arp_entry *arp_alloc(struct net_stack *ns, uint32_t ip)
{
	struct arp_entry *best = NULL;
	size_t i;

	for (i = 0; i < ARP_ENTRIES; i++) {
		struct arp_entry *e = &ns->arp[i];

		if (e->state == ARP_FREE) {
			best = e;
			break;
		}
		if (!best || (e->state == ARP_VALID && best->state != ARP_VALID) ||
		    (e->state == best->state && e->expires < best->expires))
			best = e;
	}
	if (best->state == ARP_PENDING && best->pending_len)
		ns->stats.tx_errors++;
	best->state = ARP_FREE;
	best->ip = ip;
	best->pending_len = 0;
	best->tries = 0;
	return best;
}

static void arp_send(struct net_stack *ns, uint16_t op, const uint8_t *tha, uint32_t tpa)
{
	uint8_t *f = ns->arp_tx;
	uint8_t *a = f + ETH_HLEN;

	memcpy(f, op == ARP_OP_REQUEST ? mac_bcast : tha, 6);
	memcpy(f + 6, ns->mac, 6);
	net_put16(f + 12, ETHTYPE_ARP);
	net_put16(a, 1);
	net_put16(a + 2, ETHTYPE_IP);
	a[4] = 6;
	a[5] = 4;
	net_put16(a + 6, op);
	memcpy(a + 8, ns->mac, 6);
	net_put32(a + 14, ns->ip);
	if (op == ARP_OP_REQUEST)
		memset(a + 18, 0, 6);
	else
		memcpy(a + 18, tha, 6);
	net_put32(a + 24, tpa);
	if (op == ARP_OP_REQUEST)
		ns->stats.arp_requests++;
	else
		ns->stats.arp_replies++;
	net_tx(ns, f, ETH_HLEN + ARP_LEN);
}

/* The entry is now known: learn the MAC and release the queued frame. */
static void arp_learn(struct net_stack *ns, struct arp_entry *e, const uint8_t *mac)
{
	memcpy(e->mac, mac, 6);
	e->state = ARP_VALID;
	e->expires = net_now(ns) + ARP_TTL_MS;
	if (e->pending_len) {
		size_t len = e->pending_len;

		e->pending_len = 0;
		memcpy(e->pending, mac, 6);
		net_tx(ns, e->pending, len);
	}
}

void arp_input(struct net_stack *ns, const uint8_t *p, size_t len)
{
	const uint8_t *sha = p + 8;
	uint32_t spa, tpa;
	uint16_t op;
	struct arp_entry *e;
	bool for_us;

	if (len < ARP_LEN || net_get16(p) != 1 || net_get16(p + 2) != ETHTYPE_IP ||
	    p[4] != 6 || p[5] != 4) {
		net_drop(ns);
		return;
	}
	op = net_get16(p + 6);
	spa = net_get32(p + 14);
	tpa = net_get32(p + 24);
	/* A group sender address would poison the cache. */
	if ((op != ARP_OP_REQUEST && op != ARP_OP_REPLY) || (sha[0] & 1) ||
	    spa == IP_BROADCAST || spa >= 0xe0000000U) {
		net_drop(ns);
		return;
	}
	for_us = ns->ip && tpa == ns->ip;
	/* RFC 826 merge: refresh known senders, add those talking to us. */
	e = spa ? arp_find(ns, spa) : NULL;
	if (!e && spa && for_us && spa != ns->ip)
		e = arp_alloc(ns, spa);
	if (e)
		arp_learn(ns, e, sha);
	if (op == ARP_OP_REQUEST && for_us)
		arp_send(ns, ARP_OP_REPLY, sha, spa);
}

int arp_output(struct net_stack *ns, uint32_t nexthop, uint8_t *frame, size_t len)
{
	uint64_t now = net_now(ns);
	struct arp_entry *e;

	if (net_is_broadcast(ns, nexthop)) {
		memcpy(frame, mac_bcast, 6);
		return net_tx(ns, frame, len);
	}
	e = arp_find(ns, nexthop);
	if (e && e->state == ARP_VALID && now < e->expires) {
		memcpy(frame, e->mac, 6);
		return net_tx(ns, frame, len);
	}
	if (!e || e->state == ARP_VALID) {
		if (!e)
			e = arp_alloc(ns, nexthop);
		e->state = ARP_PENDING;
		e->tries = 1;
		e->expires = now + ARP_RETRY_MS;
		e->pending_len = 0;
		arp_send(ns, ARP_OP_REQUEST, NULL, nexthop);
	}
	if (e->pending_len)
		ns->stats.tx_errors++;
	memcpy(e->pending, frame, len);
	e->pending_len = (uint16_t)len;
	return 0;
}

void arp_poll(struct net_stack *ns, uint64_t now)
{
	size_t i;

	for (i = 0; i < ARP_ENTRIES; i++) {
		struct arp_entry *e = &ns->arp[i];

		if (e->state == ARP_VALID && now >= e->expires) {
			e->state = ARP_FREE;
		} else if (e->state == ARP_PENDING && now >= e->expires) {
			if (e->tries >= ARP_MAX_TRIES) {
				if (e->pending_len)
					ns->stats.tx_errors++;
				e->pending_len = 0;
				e->state = ARP_FREE;
				continue;
			}
			e->tries++;
			e->expires = now + ARP_RETRY_MS;
			arp_send(ns, ARP_OP_REQUEST, NULL, e->ip);
		}
	}
}

uint64_t arp_next_timer(const struct net_stack *ns)
{
	uint64_t t = UINT64_MAX;
	size_t i;

	/* Valid entries expire lazily (checked on use), so only retries count. */
	for (i = 0; i < ARP_ENTRIES; i++)
		if (ns->arp[i].state == ARP_PENDING && ns->arp[i].expires < t)
			t = ns->arp[i].expires;
	return t;
}
