/*
 * The stack's front door: set-up on caller-owned memory, Ethernet input
 * dispatch, the timer poll, addresses and statistics.
 *
 * No locking: the stack is single-threaded by contract (net.h). All state
 * is in struct net_stack, so several stacks can coexist (the unit tests
 * wire two together).
 */
#include <string.h>
#include "stack.h"

static const uint8_t eth_bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

size_t net_stack_size(void)
{
	return sizeof(struct net_stack);
}

struct net_stack *net_init(void *mem, const struct net_env *env, const uint8_t mac[6])
{
	struct net_stack *ns = mem;
	size_t i;

	if (!mem || !env || !env->send || !env->now_ms || !env->random || !mac)
		return NULL;
	memset(ns, 0, sizeof(*ns));
	ns->env = *env;
	memcpy(ns->mac, mac, 6);
	ns->ip_id = (uint16_t)env->random(env->ctx);
	/* A random start keeps a rebooted client from reusing its old ports. */
	ns->next_port = (uint16_t)(TCP_EPHEMERAL_BASE + env->random(env->ctx) % 16384);
	for (i = 0; i < NET_TCP_MAX_CONNS; i++)
		ns->pcbs[i].ns = ns;
	return ns;
}

uint64_t net_now(struct net_stack *ns)
{
	return ns->env.now_ms(ns->env.ctx);
}

void net_log(struct net_stack *ns, const char *msg)
{
	if (ns->env.log)
		ns->env.log(ns->env.ctx, msg);
}

void net_drop(struct net_stack *ns)
{
	ns->stats.dropped++;
}

int net_tx(struct net_stack *ns, uint8_t *frame, size_t len)
{
	if (len < ETH_MIN_FRAME) {
		memset(frame + len, 0, ETH_MIN_FRAME - len);
		len = ETH_MIN_FRAME;
	}
	if (ns->env.send(ns->env.ctx, frame, len) < 0) {
		ns->stats.tx_errors++;
		return -1;
	}
	ns->stats.tx_frames++;
	return 0;
}

bool net_is_broadcast(const struct net_stack *ns, uint32_t ip)
{
	if (ip == IP_BROADCAST)
		return true;
	return ns->ip && ns->mask && ns->mask != IP_BROADCAST &&
	       ip == (ns->ip | ~ns->mask);
}

void net_set_static(struct net_stack *ns, uint32_t ip, uint32_t mask, uint32_t gw)
{
	ns->static_ip = ip;
	ns->static_mask = mask;
	ns->static_gw = gw;
	/* While DHCP runs or holds a lease, this is only the fallback. */
	if (ns->dhcp.state == DHCP_OFF || ns->dhcp.state == DHCP_FALLBACK) {
		ns->ip = ip;
		ns->mask = mask;
		ns->gw = gw;
		ns->from_dhcp = false;
	}
}

uint32_t net_ip(const struct net_stack *ns)
{
	return ns->ip;
}

bool net_ip_from_dhcp(const struct net_stack *ns)
{
	return ns->from_dhcp;
}

const struct net_stats *net_get_stats(const struct net_stack *ns)
{
	return &ns->stats;
}

void net_input(struct net_stack *ns, const void *frame, size_t len)
{
	const uint8_t *p = frame;

	ns->stats.rx_frames++;
	if (!p || len < ETH_HLEN || len > NET_FRAME_MAX + 4) {
		net_drop(ns);
		return;
	}
	if (memcmp(p, ns->mac, 6) != 0 && memcmp(p, eth_bcast, 6) != 0) {
		net_drop(ns);
		return;
	}
	switch (net_get16(p + 12)) {
	case ETHTYPE_ARP:
		arp_input(ns, p + ETH_HLEN, len - ETH_HLEN);
		break;
	case ETHTYPE_IP:
		ip_input(ns, p + ETH_HLEN, len - ETH_HLEN);
		break;
	default:
		net_drop(ns);
		break;
	}
}

void net_poll(struct net_stack *ns)
{
	uint64_t now = net_now(ns);

	arp_poll(ns, now);
	dhcp_poll(ns, now);
	tcp_poll(ns, now);
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

uint64_t net_next_timer(const struct net_stack *ns)
{
	uint64_t t = arp_next_timer(ns);

	t = min_u64(t, dhcp_next_timer(ns));
	return min_u64(t, tcp_next_timer(ns));
}
