/*
 * The kernel's network: the first NIC bound (netdev_attach), the TCP/IP
 * stack (net.h) and the one thread that runs it (src/net/netif.c).
 *
 * The stack is single-threaded: every call into it must happen on the
 * network thread. Other subsystems (the HTTP agent) get there through
 * netif_run(), whose function runs on that thread, where it may call
 * tcp_listen() and the like on the stack it is given; callbacks of the
 * stack (tcp_callbacks) run there too.
 *
 * Boot arguments (netif_start):
 *   ip=<a.b.c.d>[/<prefix>][,gw=<a.b.c.d>]  static or fallback address
 *                      (default 10.0.2.15/24,gw=10.0.2.2: QEMU user networking)
 *   dhcp=off           no DHCP: use the static address at once
 *   netecho            test service: echoes TCP data on port NETIF_ECHO_PORT
 */
#ifndef KERNEL_NETIF_H
#define KERNEL_NETIF_H

#include <kernel/net.h>

#define NETIF_DHCP_TIMEOUT_MS	3000
#define NETIF_ECHO_PORT		8080

/*
 * Starts networking on the NIC bound at probe time: creates the stack and
 * the network thread, applies the boot arguments. 0, or -KE_NODEV (logged,
 * not fatal) when there is no NIC.
 */
int netif_start(const char *bootargs);

/* The MAC address of the NIC in use: 0, or -KE_NODEV without one. */
int netif_get_mac(uint8_t mac[6]);

/* The stack, or NULL before the network thread set it up (or without a NIC). */
struct net_stack *netif_stack(void);

/*
 * Runs @fn(stack, @arg) on the network thread, soon (at once if called
 * there). 0, -KE_NODEV without a NIC, -KE_NOMEM.
 */
int netif_run(void (*fn)(struct net_stack *ns, void *arg), void *arg);

/*
 * Work for the network thread whose memory the caller owns, so posting it
 * cannot fail for want of memory (the agent's answers, which must never
 * be lost). Set fn and arg once; the other fields are netif's.
 */
struct netif_work {
	void (*fn)(struct net_stack *ns, void *arg);
	void *arg;
	struct netif_work *next;
	bool queued;		/* posted and not yet run: posting again is a no-op */
	bool owned;		/* netif_run's: freed after it ran */
};

/*
 * Queues @w to run on the network thread (always queued, even when called
 * there, so it runs after the callback in progress). 0, or -KE_NODEV
 * without a NIC.
 */
int netif_post(struct netif_work *w);

/* Console: frame and TCP counters, connection slots by state (`net`). */
void netif_show(void);

#endif
