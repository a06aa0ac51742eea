/*
 * The network glue: records the NIC a driver binds (netdev_attach), runs
 * the TCP/IP stack on one kernel thread ("net"), and lets other subsystems
 * run code on that thread (netif_run), since the stack is single-threaded.
 *
 * The thread drains the NIC into net_input(), runs queued requests and
 * net_poll(), then blocks until a kick: the NIC's interrupt
 * (netdev_notify), a netif_run() or netif_post() request, or the "net-tick" thread, which
 * wakes every tick and kicks when the stack's next timer is due.
 *
 * Boot arguments are described in include/kernel/netif.h; `netecho` starts
 * a TCP echo service for tests. The "net: up" line reads the address in
 * use from struct net_stack (stack.h): this file is part of src/net/.
 *
 * Locking: netif_lock guards the kick flag and the request queue; it is
 * taken in interrupt context too (netdev_notify). The stack, the receive
 * buffer and the PRNG belong to the network thread alone; the stack is
 * set up by netif_start() before that thread exists.
 */
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <kernel/netif.h>
#include <kernel/netdev.h>
#include <kernel/net.h>
#include <kernel/object.h>
#include <kernel/irq.h>
#include <kernel/thread.h>
#include <kernel/timer.h>
#include <kernel/riscv.h>
#include <kernel/devtree.h>
#include <kernel/mem.h>
#include <kernel/log.h>
#include <kernel/errno.h>
#include <kernel/spinlock.h>
#include "stack.h"

#define NETIF_TICK_US		10000	/* how often net-tick looks at the timers */
#define NETIF_POLL_MAX_MS	250	/* net_poll at least this often */
#define NETIF_RX_BUDGET		64	/* frames per pass before timers run */
#define NETIF_SEND_RETRY_US	2000	/* how long send() retries a full ring */

struct netif_cfg {
	uint32_t ip, mask, gw;
	bool dhcp;
	int echo_port;		/* 0: no echo service */
};

static ott_ref_t nic_ref;
static bool nic_bound;
static bool nic_polled;		/* no interrupt: net-tick kicks every tick */
static uint8_t nic_mac[6];

static struct spinlock netif_lock = SPINLOCK_INIT("netif");
static struct waitq netif_wq = WAITQ_INIT(netif_wq);
static bool netif_kicked;
static struct netif_work *req_head, **req_tail = &req_head;

static struct thread *net_thread;
static struct net_stack *volatile the_stack;
static volatile uint64_t next_timer_ms;	/* written by the thread, read by net-tick */
static struct netif_cfg cfg;
static uint64_t prng_state;
static uint8_t rx_frame[1536] __attribute__((aligned(8)));

/* --- the NIC --------------------------------------------------------------- */

static void netif_kick(void)
{
	spin_lock(&netif_lock);
	netif_kicked = true;
	spin_unlock(&netif_lock);
	waitq_wake_all(&netif_wq);
}

void netdev_notify(void)
{
	netif_kick();
}

static void netif_irq_handler(void *arg)
{
	netdev_irq(nic_ref);
}

static const char *netif_impl(ott_ref_t dev)
{
	const struct class *cls = ott_class_of(&kernel_ott, dev);

	return cls && cls->impl ? cls->impl : "?";
}

void netdev_attach(ott_ref_t dev, uint32_t irq)
{
	int err = -KE_NODEV;

	if (nic_bound) {
		klog("net", "nic ignored impl=%s: one network device is used", netif_impl(dev));
		return;
	}
	nic_ref = dev;
	nic_bound = true;
	netdev_mac(dev, nic_mac);
	if (irq)
		err = irq_attach(irq, netif_irq_handler, NULL);
	nic_polled = err != 0;
	klog("net", "nic bound impl=%s mac=%02x:%02x:%02x:%02x:%02x:%02x irq=%u%s", netif_impl(dev),
	     nic_mac[0], nic_mac[1], nic_mac[2], nic_mac[3], nic_mac[4], nic_mac[5], irq,
	     nic_polled ? " polled=1" : "");
}

/* --- what the stack needs (struct net_env) -------------------------------- */

static uint64_t netif_now_ms(void *ctx)
{
	return timer_freq_hz ? rdtime() * 1000ULL / timer_freq_hz : 0;
}

static int netif_send(void *ctx, const void *frame, size_t len)
{
	uint64_t until = rdtime() + timer_us_to_ticks(NETIF_SEND_RETRY_US);
	long r;

	/* A full ring drains within microseconds: retry briefly, then drop. */
	while ((r = netdev_send(nic_ref, frame, len)) == -KE_BUSY && rdtime() < until)
		thread_yield();
	return r ? -1 : 0;
}

/* xorshift64*, stirred with the time at each call. */
static uint32_t netif_random(void *ctx)
{
	prng_state ^= rdtime() << 17;
	prng_state ^= prng_state >> 12;
	prng_state ^= prng_state << 25;
	prng_state ^= prng_state >> 27;
	return (uint32_t)((prng_state * 0x2545f4914f6cdd1dULL) >> 32);
}

static void netif_log(void *ctx, const char *msg)
{
	klog("net", "%s", msg);
}

static const struct net_env netif_env = {
	.send = netif_send,
	.now_ms = netif_now_ms,
	.random = netif_random,
	.log = netif_log,
};

/* --- boot arguments ------------------------------------------------------------ */

/* Parses a dotted quad at *@s, advancing it. 0 or -KE_INVAL. */
static int parse_ip(const char **s, uint32_t *out)
{
	uint32_t ip = 0;

	for (int i = 0; i < 4; i++) {
		char *end;
		unsigned long b = strtoul(*s, &end, 10);

		if (end == *s || b > 255 || (i < 3 && *end != '.'))
			return -KE_INVAL;
		ip = ip << 8 | (uint32_t)b;
		*s = i < 3 ? end + 1 : end;
	}
	*out = ip;
	return 0;
}

/* ip=<a.b.c.d>[/<prefix>][,gw=<a.b.c.d>] */
static int parse_ip_arg(const char *s, struct netif_cfg *c)
{
	unsigned long prefix = 24;
	uint32_t gw = 0;

	if (parse_ip(&s, &c->ip))
		return -KE_INVAL;
	if (*s == '/') {
		char *end;

		prefix = strtoul(s + 1, &end, 10);
		if (end == s + 1 || prefix > 32)
			return -KE_INVAL;
		s = end;
	}
	if (!strncmp(s, ",gw=", 4)) {
		s += 4;
		if (parse_ip(&s, &gw))
			return -KE_INVAL;
	}
	if (*s)
		return -KE_INVAL;
	c->mask = prefix ? ~0U << (32 - prefix) : 0;
	c->gw = gw;
	return 0;
}

static void netif_parse_args(const char *bootargs, struct netif_cfg *c)
{
	char val[64];

	c->ip = NET_IP(10, 0, 2, 15);
	c->mask = NET_IP(255, 255, 255, 0);
	c->gw = NET_IP(10, 0, 2, 2);
	c->dhcp = dt_bootarg(bootargs, "dhcp", val, sizeof(val)) || strcmp(val, "off");
	if (!dt_bootarg(bootargs, "ip", val, sizeof(val)) && parse_ip_arg(val, c)) {
		klog("net", "bad ip=%s: using 10.0.2.15/24,gw=10.0.2.2", val);
		c->ip = NET_IP(10, 0, 2, 15);
		c->mask = NET_IP(255, 255, 255, 0);
		c->gw = NET_IP(10, 0, 2, 2);
	}
	c->echo_port = 0;
	if (!dt_bootarg(bootargs, "netecho", val, sizeof(val)))
		c->echo_port = val[0] ? atoi(val) : NETIF_ECHO_PORT;
}

/* --- netecho: a test service that sends back what it receives ------------------- */

/*
 * Bytes received but not yet queued for sending stay here, and the window
 * is reopened only for what tcp_write took: so at most NET_TCP_RCVWND
 * bytes are ever held, and a slow reader slows the sender down.
 */
struct netecho {
	size_t len;
	uint8_t buf[NET_TCP_RCVWND];
};

static void echo_flush(struct tcp_pcb *c, struct netecho *e)
{
	size_t n = e->len ? tcp_write(c, e->buf, e->len) : 0;

	if (!n)
		return;
	memmove(e->buf, e->buf + n, e->len - n);
	e->len -= n;
	tcp_recved(c, n);
}

static int echo_accepted(void *arg, struct tcp_pcb *c)
{
	struct netecho *e = kmalloc(sizeof(*e));
	uint32_t ip = tcp_remote_ip(c);

	if (!e)
		return -KE_NOMEM;
	e->len = 0;
	tcp_set_arg(c, e);
	klog("net", "netecho accepted peer=%u.%u.%u.%u:%u", ip >> 24, ip >> 16 & 255, ip >> 8 & 255,
	     ip & 255, tcp_remote_port(c));
	return 0;
}

static void echo_received(void *arg, struct tcp_pcb *c, const void *data, size_t len)
{
	struct netecho *e = arg;

	if (!len) {
		tcp_close(c);
		return;
	}
	if (len > sizeof(e->buf) - e->len) {	/* the peer overran our window */
		tcp_abort(c);
		return;
	}
	memcpy(e->buf + e->len, data, len);
	e->len += len;
	echo_flush(c, e);
}

static void echo_sent(void *arg, struct tcp_pcb *c, size_t acked)
{
	echo_flush(c, arg);
}

static void echo_closed(void *arg, struct tcp_pcb *c, int reason)
{
	kfree(arg);
	klog("net", "netecho closed reason=%d", reason);
}

static const struct tcp_callbacks echo_cb = {
	.accepted = echo_accepted,
	.received = echo_received,
	.sent = echo_sent,
	.closed = echo_closed,
};

static void netif_echo_start(struct net_stack *ns, void *arg)
{
	int port = (int)(uintptr_t)arg;
	int err = tcp_listen(ns, (uint16_t)port, &echo_cb, NULL);

	klog("net", "netecho listening port=%d err=%d", port, err);
}

/* --- the console's `net` command ---------------------------------------------------- */

static void netif_show_on_net(struct net_stack *ns, void *arg)
{
	static const char *const names[] = { "closed", "syn_sent", "syn_rcvd", "established",
		"fin_wait_1", "fin_wait_2", "close_wait", "closing", "last_ack", "time_wait" };
	const struct net_stats *st = net_get_stats(ns);
	unsigned int count[10] = { 0 };
	char line[256];
	int n = 0;

	kprintf("  frames rx=%lu tx=%lu tx_errors=%lu dropped=%lu bad_checksum=%lu\n",
		(unsigned long)st->rx_frames, (unsigned long)st->tx_frames,
		(unsigned long)st->tx_errors, (unsigned long)st->dropped,
		(unsigned long)st->bad_checksum);
	kprintf("  tcp in=%lu out=%lu retransmits=%lu rst_sent=%lu rst_received=%lu "
		"accepted=%lu timeouts=%lu reclaimed=%lu\n", (unsigned long)st->tcp_segments_in,
		(unsigned long)st->tcp_segments_out, (unsigned long)st->tcp_retransmits,
		(unsigned long)st->tcp_rst_sent, (unsigned long)st->tcp_rst_received,
		(unsigned long)st->tcp_accepted, (unsigned long)st->tcp_timeouts,
		(unsigned long)st->tcp_reclaimed);
	for (int i = 0; i < NET_TCP_MAX_CONNS; i++)
		count[ns->pcbs[i].state < 10 ? ns->pcbs[i].state : 0]++;
	for (int i = 0; i < 10 && n < (int)sizeof(line); i++)
		n += snprintf(line + n, sizeof(line) - (size_t)n, " %s=%u", names[i], count[i]);
	kprintf("  tcp slots=%d%s\n", NET_TCP_MAX_CONNS, line);
}

void netif_show(void)
{
	if (netif_run(netif_show_on_net, NULL))
		kprintf("  no network\n");
}

/* --- the network thread ------------------------------------------------------------ */

static void fmt_ip(char *buf, size_t len, uint32_t ip)
{
	snprintf(buf, len, "%u.%u.%u.%u", ip >> 24, ip >> 16 & 255, ip >> 8 & 255, ip & 255);
}

/* The address in use (stack.h: netif.c is part of src/net/). */
static void netif_log_up(struct net_stack *ns)
{
	char ip[16], mask[16], gw[16];

	fmt_ip(ip, sizeof(ip), ns->ip);
	fmt_ip(mask, sizeof(mask), ns->mask);
	fmt_ip(gw, sizeof(gw), ns->gw);
	klog("net", "up ip=%s mask=%s gw=%s source=%s", ip, mask, gw,
	     net_ip_from_dhcp(ns) ? "dhcp" : "static");
}

/* Sets the stack up (no traffic yet: that starts on the network thread). */
static struct net_stack *netif_stack_create(void)
{
	size_t size = net_stack_size();
	void *mem = page_alloc(page_order_for(size));
	struct net_stack *ns;

	if (!mem)
		return NULL;
	prng_state = rdtime() ^ ((uint64_t)nic_mac[2] << 40 | (uint64_t)nic_mac[3] << 32 |
				 (uint64_t)nic_mac[4] << 24 | (uint64_t)nic_mac[5] << 16) ^ 0x9e3779b97f4a7c15ULL;
	ns = net_init(mem, &netif_env, nic_mac);
	if (!ns)
		page_free(mem, page_order_for(size));
	return ns;
}

/* Feeds received frames to the stack; false if the budget ran out first. */
static bool netif_drain_rx(struct net_stack *ns)
{
	for (int i = 0; i < NETIF_RX_BUDGET; i++) {
		long n = netdev_recv(nic_ref, rx_frame, sizeof(rx_frame));

		if (n < 0)
			return true;
		net_input(ns, rx_frame, (size_t)n);
	}
	return false;
}

static void netif_run_queued(struct net_stack *ns)
{
	struct netif_work *r;

	spin_lock(&netif_lock);
	r = req_head;
	req_head = NULL;
	req_tail = &req_head;
	spin_unlock(&netif_lock);
	while (r) {
		struct netif_work *next = r->next;
		bool owned = r->owned;

		/* Off the queue before it runs (next is read): it may be posted again. */
		spin_lock(&netif_lock);
		r->queued = false;
		spin_unlock(&netif_lock);
		r->fn(ns, r->arg);
		if (owned)
			kfree(r);
		r = next;
	}
}

/* Blocks until a kick (interrupt, request, due timer). */
static void netif_wait(void)
{
	spin_lock(&netif_lock);
	while (!netif_kicked)
		waitq_wait(&netif_wq, &netif_lock);
	netif_kicked = false;
	spin_unlock(&netif_lock);
}

static void netif_thread(void *arg)
{
	struct net_stack *ns = the_stack;
	uint32_t shown_ip = 0;
	bool shown_dhcp = false;

	net_set_static(ns, cfg.ip, cfg.mask, cfg.gw);
	if (cfg.dhcp)
		net_dhcp_start(ns, NETIF_DHCP_TIMEOUT_MS);
	if (cfg.echo_port)
		netif_echo_start(ns, (void *)(uintptr_t)cfg.echo_port);
	for (;;) {
		bool drained;

		thread_quiescent();
		drained = netif_drain_rx(ns);
		netif_run_queued(ns);
		net_poll(ns);
		if (net_ip(ns) != shown_ip || net_ip_from_dhcp(ns) != shown_dhcp) {
			shown_ip = net_ip(ns);
			shown_dhcp = net_ip_from_dhcp(ns);
			if (shown_ip)
				netif_log_up(ns);
		}
		__atomic_store_n(&next_timer_ms, net_next_timer(ns), __ATOMIC_RELAXED);
		if (drained)
			netif_wait();
	}
}

/* Kicks the network thread when the stack's next timer is due (and now and then). */
static void netif_tick_thread(void *arg)
{
	uint64_t last = netif_now_ms(NULL);

	for (;;) {
		uint64_t now;

		thread_sleep_us(NETIF_TICK_US);
		now = netif_now_ms(NULL);
		if (nic_polled || now >= __atomic_load_n(&next_timer_ms, __ATOMIC_RELAXED) ||
		    now - last >= NETIF_POLL_MAX_MS) {
			last = now;
			netif_kick();
		}
	}
}

int netif_start(const char *bootargs)
{
	if (!nic_bound) {
		klog("net", "no network device: networking off");
		return -KE_NODEV;
	}
	netif_parse_args(bootargs, &cfg);
	the_stack = netif_stack_create();
	if (!the_stack) {
		klog("net", "no memory for the stack: networking off");
		return -KE_NOMEM;
	}
	/*
	 * The NIC's interrupt wakes it where it arrives, with no IPI between;
	 * and it is not time-sliced against the threads there: it runs until
	 * it has drained what came (I/O latency over fairness).
	 */
	if (!thread_create("net-tick", netif_tick_thread, NULL, THREAD_ANY_HART) ||
	    !(net_thread = thread_create("net", netif_thread, NULL, IRQ_HART_INDEX))) {
		klog("net", "cannot create the network threads: networking off");
		the_stack = NULL;
		return -KE_NOMEM;
	}
	net_thread->urgent = true;
	return 0;
}

int netif_get_mac(uint8_t mac[6])
{
	if (!nic_bound)
		return -KE_NODEV;
	memcpy(mac, nic_mac, 6);
	return 0;
}

struct net_stack *netif_stack(void)
{
	return the_stack;
}

static void netif_queue(struct netif_work *w)
{
	spin_lock(&netif_lock);
	if (!w->queued) {
		w->queued = true;
		w->next = NULL;
		*req_tail = w;
		req_tail = &w->next;
	}
	spin_unlock(&netif_lock);
	netif_kick();
}

int netif_run(void (*fn)(struct net_stack *ns, void *arg), void *arg)
{
	struct netif_work *r;

	if (!the_stack)
		return -KE_NODEV;
	if (thread_current() == net_thread) {
		fn(the_stack, arg);
		return 0;
	}
	r = kmalloc(sizeof(*r));
	if (!r)
		return -KE_NOMEM;
	r->fn = fn;
	r->arg = arg;
	r->queued = false;
	r->owned = true;
	netif_queue(r);
	return 0;
}

int netif_post(struct netif_work *w)
{
	if (!the_stack)
		return -KE_NODEV;
	w->owned = false;
	netif_queue(w);
	return 0;
}
