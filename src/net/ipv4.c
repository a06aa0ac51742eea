/*
 * IPv4 (RFC 791, host requirements of RFC 1122): header validation and
 * demultiplexing, output with next-hop choice, the Internet checksum,
 * ICMP echo replies (RFC 792) and UDP (only DHCP's client port is open).
 *
 * Fragments are dropped: nothing we serve needs them and reassembly would
 * need buffers that an attacker could pin. No locking: single-threaded by
 * contract (net.h).
 */
#include <string.h>
#include "stack.h"

#define IP_FLAG_DF	0x4000
#define IP_FRAG_MASK	0x3fff	/* MF and the fragment offset */
#define IP_TTL		64
#define ICMP_ECHO_REPLY	0
#define ICMP_ECHO	8

uint32_t ip_csum_add(uint32_t sum, const void *data, size_t len)
{
	const uint8_t *p = data;
	uint64_t acc = sum;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		acc += (uint32_t)((p[i] << 8) | p[i + 1]);
	if (len & 1)
		acc += (uint32_t)p[len - 1] << 8;
	while (acc >> 32)
		acc = (acc & 0xffffffffU) + (acc >> 32);
	return (uint32_t)acc;
}

uint16_t ip_csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

uint32_t ip_pseudo_sum(uint32_t src, uint32_t dst, uint8_t proto, size_t len)
{
	uint64_t s = (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) +
		     proto + (uint32_t)len;

	return (uint32_t)((s & 0xffffffffU) + (s >> 32));
}

int ip_send(struct net_stack *ns, uint32_t dst, uint8_t proto, size_t l4len)
{
	uint8_t *f = ns->tx;
	uint8_t *h = f + ETH_HLEN;
	uint32_t nexthop = dst;

	/* Without an address only DHCP's broadcasts may leave. */
	if (l4len > NET_MTU - IP_HLEN || (!ns->ip && dst != IP_BROADCAST)) {
		ns->stats.tx_errors++;
		return -1;
	}
	memcpy(f + 6, ns->mac, 6);
	net_put16(f + 12, ETHTYPE_IP);
	h[0] = 0x45;
	h[1] = 0;
	net_put16(h + 2, (uint16_t)(IP_HLEN + l4len));
	net_put16(h + 4, ns->ip_id++);
	net_put16(h + 6, IP_FLAG_DF);
	h[8] = IP_TTL;
	h[9] = proto;
	net_put16(h + 10, 0);
	net_put32(h + 12, ns->ip);
	net_put32(h + 16, dst);
	net_put16(h + 10, ip_csum_fold(ip_csum_add(0, h, IP_HLEN)));
	if (!net_is_broadcast(ns, dst) && ns->gw && ((dst ^ ns->ip) & ns->mask))
		nexthop = ns->gw;
	return arp_output(ns, nexthop, f, ETH_HLEN + IP_HLEN + l4len);
}

int udp_send(struct net_stack *ns, uint32_t dst, uint16_t sport, uint16_t dport, size_t len)
{
	uint8_t *u = ns->tx + NET_L4_OFF;
	size_t ulen = UDP_HLEN + len;
	uint16_t sum;

	if (ulen > NET_MTU - IP_HLEN) {
		ns->stats.tx_errors++;
		return -1;
	}
	net_put16(u, sport);
	net_put16(u + 2, dport);
	net_put16(u + 4, (uint16_t)ulen);
	net_put16(u + 6, 0);
	sum = ip_csum_fold(ip_csum_add(ip_pseudo_sum(ns->ip, dst, IP_PROTO_UDP, ulen), u, ulen));
	/* Zero means "no checksum" in UDP; send its other representation. */
	net_put16(u + 6, sum ? sum : 0xffff);
	return ip_send(ns, dst, IP_PROTO_UDP, ulen);
}

static void icmp_input(struct net_stack *ns, uint32_t src, const uint8_t *p, size_t len)
{
	uint8_t *r = ns->tx + NET_L4_OFF;

	if (len < 8) {
		net_drop(ns);
		return;
	}
	if (ip_csum_fold(ip_csum_add(0, p, len)) != 0) {
		ns->stats.bad_checksum++;
		net_drop(ns);
		return;
	}
	if (p[0] != ICMP_ECHO || p[1] != 0)
		return;		/* other messages are legal, just not ours to act on */
	/*
	 * The reply goes after our 20-byte header in ns->tx. A request in a
	 * frame with a trailing FCS (net_input takes NET_FRAME_MAX + 4 bytes)
	 * carries up to 4 bytes more than that room: copying it overran ns->tx
	 * (found by test/fuzz). Such a reply could not be sent anyway.
	 */
	if (len > NET_MTU - IP_HLEN) {
		net_drop(ns);
		return;
	}
	memcpy(r, p, len);
	r[0] = ICMP_ECHO_REPLY;
	net_put16(r + 2, 0);
	net_put16(r + 2, ip_csum_fold(ip_csum_add(0, r, len)));
	ns->stats.icmp_echo++;
	ip_send(ns, src, IP_PROTO_ICMP, len);
}

static void udp_input(struct net_stack *ns, uint32_t src, uint32_t dst,
		      const uint8_t *p, size_t len)
{
	size_t ulen;

	if (len < UDP_HLEN) {
		net_drop(ns);
		return;
	}
	ulen = net_get16(p + 4);
	if (ulen < UDP_HLEN || ulen > len) {
		net_drop(ns);
		return;
	}
	if (net_get16(p + 6) != 0 &&
	    ip_csum_fold(ip_csum_add(ip_pseudo_sum(src, dst, IP_PROTO_UDP, ulen), p, ulen))) {
		ns->stats.bad_checksum++;
		net_drop(ns);
		return;
	}
	if (net_get16(p + 2) == DHCP_CLIENT_PORT && net_get16(p) == DHCP_SERVER_PORT) {
		dhcp_input(ns, src, p + UDP_HLEN, ulen - UDP_HLEN);
		return;
	}
	net_drop(ns);	/* closed port: no ICMP unreachable, we stay quiet */
}

/* Is @dst one of ours? Without an address, any UDP may be a DHCP reply. */
static bool ip_accept(const struct net_stack *ns, uint32_t dst, uint8_t proto)
{
	if (ns->ip && dst == ns->ip)
		return true;
	if (net_is_broadcast(ns, dst))
		return true;
	return !ns->ip && proto == IP_PROTO_UDP;
}

static bool ip_bad_source(uint32_t src)
{
	return src == IP_BROADCAST || src >= 0xe0000000U || (src >> 24) == 127;
}

void ip_input(struct net_stack *ns, const uint8_t *p, size_t len)
{
	size_t hl, tot;
	uint32_t src, dst;
	uint8_t proto;

	if (len < IP_HLEN || (p[0] >> 4) != 4) {
		net_drop(ns);
		return;
	}
	hl = (size_t)(p[0] & 15) * 4;
	tot = net_get16(p + 2);
	/* len may exceed tot: Ethernet pads short frames. */
	if (hl < IP_HLEN || hl > len || tot < hl || tot > len) {
		net_drop(ns);
		return;
	}
	if (ip_csum_fold(ip_csum_add(0, p, hl)) != 0) {
		ns->stats.bad_checksum++;
		net_drop(ns);
		return;
	}
	src = net_get32(p + 12);
	dst = net_get32(p + 16);
	proto = p[9];
	if ((net_get16(p + 6) & IP_FRAG_MASK) || !ip_accept(ns, dst, proto) ||
	    ip_bad_source(src)) {
		net_drop(ns);
		return;
	}
	p += hl;
	len = tot - hl;
	switch (proto) {
	case IP_PROTO_ICMP:
		/* Echo to a broadcast would make us a smurf amplifier. */
		if (dst == ns->ip && src)
			icmp_input(ns, src, p, len);
		else
			net_drop(ns);
		break;
	case IP_PROTO_UDP:
		udp_input(ns, src, dst, p, len);
		break;
	case IP_PROTO_TCP:
		if (dst == ns->ip && src)
			tcp_input(ns, src, p, len);
		else
			net_drop(ns);
		break;
	default:
		net_drop(ns);
		break;
	}
}
