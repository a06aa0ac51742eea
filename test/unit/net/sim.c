/*
 * Simulated link and environment for the network stack tests; see sim.h.
 * Time runs in microseconds inside so frame serialisation at 100 Mbit/s
 * shows; the stacks see milliseconds. Single-threaded like the stack.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "net/sim.h"

#define SIM_QMAX	1024
#define SIM_LATENCY_US	1000
#define SIM_BYTES_PER_US	12.5	/* 100 Mbit/s */
#define SIM_REORDER_US	3000
#define SIM_LOG_LINES	64

struct sim_frame {
	uint64_t at;		/* delivery time, us */
	uint64_t order;		/* tie-break: send order */
	int to;
	size_t len;
	uint8_t data[NET_FRAME_MAX];
};

struct sim_node {
	struct sim *sim;
	int idx;
	void *mem;
	struct net_stack *ns;
	uint8_t mac[6];
	uint64_t tx_free_at;	/* us: the link is busy until then */
	unsigned loss, dup, reorder;
	bool forced;
	uint32_t forced_v;
	char logs[SIM_LOG_LINES][128];
	unsigned nlogs;
	size_t ncap;
	size_t cap_len[SIM_CAPTURE_MAX];
	uint8_t *cap;		/* SIM_CAPTURE_MAX frames */
};

struct sim {
	int nodes;
	uint64_t now_us;
	uint64_t rng;
	uint64_t order;
	uint64_t drops;
	sim_filter_fn filter;
	void *filter_arg;
	struct sim_node node[SIM_MAX_NODES];
	size_t nq;
	struct sim_frame *q[SIM_QMAX];	/* sorted by (at, order) */
	struct sim_frame *free_list[SIM_QMAX];
	size_t nfree;
};

uint64_t sim_rand(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545F4914F6CDD1DULL;
}

static unsigned pct(struct sim *s)
{
	return (unsigned)(sim_rand(&s->rng) % 100);
}

static void sim_enqueue(struct sim *s, int to, const uint8_t *f, size_t len, uint64_t at)
{
	struct sim_frame *fr;
	size_t i;

	if (s->nq == SIM_QMAX || !s->nfree) {
		s->drops++;
		return;
	}
	fr = s->free_list[--s->nfree];
	fr->at = at;
	fr->order = s->order++;
	fr->to = to;
	fr->len = len;
	memcpy(fr->data, f, len);
	i = s->nq;
	while (i > 0 && (s->q[i - 1]->at > at))
		i--;
	memmove(&s->q[i + 1], &s->q[i], (s->nq - i) * sizeof(s->q[0]));
	s->q[i] = fr;
	s->nq++;
}

static int env_send(void *ctx, const void *frame, size_t len)
{
	struct sim_node *n = ctx;
	struct sim *s = n->sim;
	uint64_t start, at;

	if (len > NET_FRAME_MAX || len < 14)
		abort();	/* the stack must never build such a frame */
	if (s->nodes == 1) {
		if (n->ncap < SIM_CAPTURE_MAX) {
			memcpy(n->cap + n->ncap * NET_FRAME_MAX, frame, len);
			n->cap_len[n->ncap++] = len;
		}
		return 0;
	}
	if (s->filter && s->filter(s->filter_arg, n->idx, frame, len)) {
		s->drops++;
		return 0;
	}
	start = s->now_us > n->tx_free_at ? s->now_us : n->tx_free_at;
	n->tx_free_at = start + (uint64_t)(len / SIM_BYTES_PER_US) + 1;
	at = n->tx_free_at + SIM_LATENCY_US;
	if (n->loss && pct(s) < n->loss) {
		s->drops++;
		return 0;
	}
	if (n->reorder && pct(s) < n->reorder)
		at += SIM_REORDER_US;
	sim_enqueue(s, !n->idx, frame, len, at);
	if (n->dup && pct(s) < n->dup)
		sim_enqueue(s, !n->idx, frame, len, at + 10);
	return 0;
}

static uint64_t env_now(void *ctx)
{
	struct sim_node *n = ctx;

	return n->sim->now_us / 1000;
}

static uint32_t env_random(void *ctx)
{
	struct sim_node *n = ctx;

	if (n->forced) {
		n->forced = false;
		return n->forced_v;
	}
	return (uint32_t)(sim_rand(&n->sim->rng) >> 16);
}

static void env_log(void *ctx, const char *msg)
{
	struct sim_node *n = ctx;

	snprintf(n->logs[n->nlogs % SIM_LOG_LINES], sizeof(n->logs[0]), "%s", msg);
	n->nlogs++;
}

struct sim *sim_new(int nodes, uint64_t seed)
{
	struct sim *s = calloc(1, sizeof(*s));
	int i;

	if (!s || nodes < 1 || nodes > SIM_MAX_NODES)
		abort();
	s->nodes = nodes;
	/* SIM_SEED in the environment replays a run with other random choices. */
	if (getenv("SIM_SEED"))
		seed ^= strtoull(getenv("SIM_SEED"), NULL, 0);
	s->rng = seed ? seed : 1;
	s->now_us = 1000000;	/* not zero: catches "0 means unset" slips */
	for (i = 0; i < SIM_QMAX; i++) {
		s->free_list[i] = malloc(sizeof(struct sim_frame));
		if (!s->free_list[i])
			abort();
	}
	s->nfree = SIM_QMAX;
	for (i = 0; i < nodes; i++) {
		struct sim_node *n = &s->node[i];
		struct net_env env = {
			.ctx = n, .send = env_send, .now_ms = env_now,
			.random = env_random, .log = env_log,
		};
		uint8_t mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, (uint8_t)(0x56 + i) };

		n->sim = s;
		n->idx = i;
		memcpy(n->mac, mac, 6);
		n->mem = aligned_alloc(64, (net_stack_size() + 63) & ~(size_t)63);
		n->cap = malloc((size_t)SIM_CAPTURE_MAX * NET_FRAME_MAX);
		if (!n->mem || !n->cap)
			abort();
		memset(n->mem, 0xa5, net_stack_size());	/* net_init must not rely on zeroed memory */
		n->ns = net_init(n->mem, &env, mac);
		if (!n->ns)
			abort();
	}
	return s;
}

void sim_free(struct sim *s)
{
	size_t i;

	for (i = 0; i < (size_t)s->nodes; i++) {
		free(s->node[i].mem);
		free(s->node[i].cap);
	}
	for (i = 0; i < s->nq; i++)
		free(s->q[i]);
	for (i = 0; i < s->nfree; i++)
		free(s->free_list[i]);
	free(s);
}

struct net_stack *sim_stack(struct sim *s, int node)
{
	return s->node[node].ns;
}

const uint8_t *sim_mac(struct sim *s, int node)
{
	return s->node[node].mac;
}

uint64_t sim_now_ms(const struct sim *s)
{
	return s->now_us / 1000;
}

void sim_set_time_ms(struct sim *s, uint64_t ms)
{
	s->now_us = ms * 1000;
}

void sim_set_link(struct sim *s, int from, unsigned loss, unsigned dup, unsigned reorder)
{
	s->node[from].loss = loss;
	s->node[from].dup = dup;
	s->node[from].reorder = reorder;
}

void sim_set_filter(struct sim *s, sim_filter_fn fn, void *arg)
{
	s->filter = fn;
	s->filter_arg = arg;
}

void sim_force_random(struct sim *s, int node, uint32_t v)
{
	s->node[node].forced = true;
	s->node[node].forced_v = v;
}

uint64_t sim_link_drops(const struct sim *s)
{
	return s->drops;
}

/* SIM_TRACE=1 in the environment prints every TCP segment delivered. */
static void sim_trace(struct sim *s, const struct sim_frame *fr)
{
	static int on = -1;
	const uint8_t *f = fr->data, *t;

	if (on < 0)
		on = getenv("SIM_TRACE") != NULL;
	if (!on || fr->len < 54 || f[12] != 8 || f[13] != 0 || f[23] != 6)
		return;
	t = f + 14 + (f[14] & 15) * 4;
	printf("%8.3f %d->%d %c%c%c%c seq %u ack %u len %u wnd %u\n", s->now_us / 1000.0,
	       !fr->to, fr->to, t[13] & 2 ? 'S' : '.', t[13] & 16 ? 'A' : '.',
	       t[13] & 1 ? 'F' : '.', t[13] & 4 ? 'R' : '.',
	       ((unsigned)t[4] << 24 | (unsigned)t[5] << 16 | (unsigned)t[6] << 8 | t[7]),
	       ((unsigned)t[8] << 24 | (unsigned)t[9] << 16 | (unsigned)t[10] << 8 | t[11]),
	       (unsigned)(((f[16] << 8) | f[17]) - (f[14] & 15) * 4 - (t[12] >> 4) * 4),
	       (unsigned)((t[14] << 8) | t[15]));
}

/* Moves the clock to the next event (at most @limit_us), then delivers and polls. */
static void sim_step(struct sim *s, uint64_t limit_us)
{
	uint64_t next = UINT64_MAX;
	int i;

	if (s->nq)
		next = s->q[0]->at;
	for (i = 0; i < s->nodes; i++) {
		uint64_t t = net_next_timer(s->node[i].ns);

		if (t != UINT64_MAX && t * 1000 < next)
			next = t * 1000;
	}
	if (next <= s->now_us)
		next = s->now_us + 1;	/* due now: after the last poll, time must move */
	s->now_us = next < limit_us ? next : limit_us;
	while (s->nq && s->q[0]->at <= s->now_us) {
		struct sim_frame *fr = s->q[0];

		s->nq--;
		memmove(&s->q[0], &s->q[1], s->nq * sizeof(s->q[0]));
		sim_trace(s, fr);
		net_input(s->node[fr->to].ns, fr->data, fr->len);
		s->free_list[s->nfree++] = fr;
	}
	for (i = 0; i < s->nodes; i++)
		net_poll(s->node[i].ns);
}

void sim_run_until(struct sim *s, uint64_t ms)
{
	while (s->now_us < ms * 1000)
		sim_step(s, ms * 1000);
}

bool sim_run_while_not(struct sim *s, bool (*done)(void *arg), void *arg, uint64_t max_ms)
{
	uint64_t limit = s->now_us + max_ms * 1000;

	while (!done(arg) && s->now_us < limit)
		sim_step(s, limit);
	return done(arg);
}

size_t sim_captured(const struct sim *s, int node)
{
	return s->node[node].ncap;
}

const uint8_t *sim_capture(const struct sim *s, int node, size_t i, size_t *len)
{
	const struct sim_node *n = &s->node[node];

	if (i >= n->ncap)
		return NULL;
	*len = n->cap_len[i];
	return n->cap + i * NET_FRAME_MAX;
}

void sim_clear_capture(struct sim *s, int node)
{
	s->node[node].ncap = 0;
}

const char *sim_last_log(const struct sim *s, int node)
{
	const struct sim_node *n = &s->node[node];

	return n->nlogs ? n->logs[(n->nlogs - 1) % SIM_LOG_LINES] : "";
}

bool sim_logged(const struct sim *s, int node, const char *substr)
{
	const struct sim_node *n = &s->node[node];
	unsigned i, first = n->nlogs > SIM_LOG_LINES ? n->nlogs - SIM_LOG_LINES : 0;

	for (i = first; i < n->nlogs; i++)
		if (strstr(n->logs[i % SIM_LOG_LINES], substr))
			return true;
	return false;
}
