/*
 * `bench=update` (kernel-demo.elf): the cost of a live update, measured
 * side by side in one run while caller threads on every hart keep calling.
 *  - apply time, lazy vs eager, for classes of 1, 1000 and 100000 instances;
 *  - blackout: latency of calls to the instances being swapped (eager
 *    update of 1000 instances) against the same calls when nothing happens,
 *    and the latency of calls to another object meanwhile (goal: unchanged);
 *  - a stop-the-world baseline (every other hart parked while the update is
 *    applied, as kpatch and Ksplice do): its pause, and what callers see.
 * Each caller records its own samples (no locks); main reads them after.
 */
#include <stdio.h>
#include <string.h>
#include <kernel/bench.h>
#include <kernel/bench_obj.h>
#include <kernel/object.h>
#include <kernel/update.h>
#include <kernel/update_engine.h>
#include <kernel/thread.h>
#include <kernel/hart.h>
#include <kernel/timer.h>
#include <kernel/riscv.h>
#include <kernel/mem.h>
#include <kernel/log.h>
#include <kernel/platform.h>
#include <kernel/demo.h>

#define SAMPLES		4096
#define NPHASES		5
enum { PH_NONE, PH_QUIET, PH_LIVE, PH_QUIET_STW, PH_STW };

struct bclass {
	const char *name;
	unsigned int n;
	struct class cls;
	struct factory f;
	ott_ref_t *refs;
};

#define HIST	1024	/* latency buckets of one timer tick; the last one collects the rest */

struct hist {
	uint32_t b[HIST];
	uint64_t n, max;
};

struct caller {
	struct thread *t;
	struct hist target[NPHASES], other[NPHASES];
	uint64_t gap[NPHASES];	/* longest time between two of its calls */
	unsigned int seed;
};

static long b_add(struct object *self, long n)
{
	return __atomic_add_fetch(&((struct bobj *)self)->v, n, __ATOMIC_RELAXED);
}

static long b_get(struct object *self)
{
	return ((struct bobj *)self)->v;
}

static const struct bobj_ops b_ops = { .add = b_add, .get = b_get };

static struct bclass classes[] = {
	{ .name = "bench1", .n = 1 }, { .name = "bench1000", .n = 1000 },
	{ .name = "bench100000", .n = 100000 },
	{ .name = "benchstw", .n = 1000 }, { .name = "benchother", .n = 64 },
	{ .name = "benchwarm", .n = 1 },
};
enum { C1, C1K, C100K, CSTW, COTHER, CWARM, NCLASSES };

static volatile int phase;
static volatile struct bclass *target = &classes[C1K];
static struct caller *callers;
static unsigned int ncallers;

static int make_class(struct bclass *b)
{
	b->cls = (struct class){ .name = b->name, .impl = "bench", .version = 1,
				 .iface_version = 1, .ops = &b_ops, .nmethods = 2,
				 .state_size = sizeof(struct bobj) };
	b->refs = kmalloc(sizeof(ott_ref_t) * b->n);
	if (!b->refs || factory_init(&b->f, &b->cls))
		return -1;
	for (unsigned int i = 0; i < b->n; i++)
		if (factory_create(&b->f, NULL, &b->refs[i]))
			return -1;
	return 0;
}

static void record(struct hist *h, uint64_t ticks)
{
	h->b[ticks < HIST ? ticks : HIST - 1]++;
	h->n++;
	if (ticks > h->max)
		h->max = ticks;
}

/*
 * Each measured call runs with interrupts off, so its latency is what the
 * call itself waited for (a conversion), not a preemption; the gap between
 * calls is where a stop-the-world pause shows.
 */
static void caller_main(void *arg)
{
	struct caller *c = arg;
	uint64_t last = rdtime();

	for (;;) {
		struct bclass *tg = (struct bclass *)target;
		struct bclass *ot = &classes[COTHER];
		int ph = phase;
		uint64_t t0, t1, t2;
		unsigned long flags;

		thread_quiescent();
		c->seed = c->seed * 1103515245 + 12345;
		flags = irq_save();
		t0 = rdtime();
		bobj_add(tg->refs[(c->seed >> 8) % tg->n], 1);
		t1 = rdtime();
		bobj_add(ot->refs[(c->seed >> 4) % ot->n], 1);
		t2 = rdtime();
		irq_restore(flags);
		if (ph != PH_NONE && ph == phase) {
			record(&c->target[ph], t1 - t0);
			record(&c->other[ph], t2 - t1);
			if (t0 - last > c->gap[ph])
				c->gap[ph] = t0 - last;
		}
		last = t2;
	}
}

/* Median, p99 and max (ns) of one kind of sample over all callers in @ph. */
struct pct {
	uint64_t med, p99, max, n, gap;
};

static uint64_t ns(uint64_t ticks)
{
	return ticks * 1000000000ULL / timer_freq_hz;
}

static struct pct percentiles(int ph, bool is_target)
{
	static struct hist all;
	struct pct p = { 0 };
	uint64_t seen = 0;

	memset(&all, 0, sizeof(all));
	for (unsigned int i = 0; i < ncallers; i++) {
		struct hist *h = is_target ? &callers[i].target[ph] : &callers[i].other[ph];

		for (int b = 0; b < HIST; b++)
			all.b[b] += h->b[b];
		all.n += h->n;
		all.max = h->max > all.max ? h->max : all.max;
		p.gap = callers[i].gap[ph] > p.gap ? callers[i].gap[ph] : p.gap;
	}
	for (int b = 0; b < HIST && all.n; b++) {
		seen += all.b[b];
		if (!p.med && seen * 2 >= all.n)
			p.med = ns((uint64_t)b);
		if (seen * 100 >= all.n * 99) {
			p.p99 = ns((uint64_t)b);
			break;
		}
	}
	p.max = ns(all.max);
	p.gap = ns(p.gap);
	p.n = all.n;
	return p;
}

static uint64_t apply(const char *pack, unsigned int flags)
{
	const struct demo_pack *p = demo_find_pack(pack);
	enum update_result r;

	if (!p) {
		klog("bench", "no pack %s in this image", pack);
		return 0;
	}
	r = update_apply_pack_flags(p->data, p->size, flags);
	if (r != UPDATE_OK)
		panic("bench: pack %s: %s", pack, update_result_name(r));
	update_wait_idle();
	return ns(update_last_timing.apply_ticks);
}

static void window(int ph, uint64_t us)
{
	phase = ph;
	thread_sleep_us(us);
	phase = PH_NONE;
}

/* Median and p99 (ns) of a log2 histogram: the bucket's upper bound. */
static void log2_pct(const uint64_t *h, uint64_t max, uint64_t *med, uint64_t *p99, uint64_t *n)
{
	uint64_t seen = 0;

	*n = 0;
	*med = *p99 = 0;
	for (int b = 0; b < BLACKOUT_BUCKETS; b++)
		*n += h[b];
	for (int b = 0; b < BLACKOUT_BUCKETS && *n; b++) {
		seen += h[b];
		if (!*med && seen * 2 >= *n)
			*med = ns(2ULL << b);
		if (seen * 100 >= *n * 99) {
			*p99 = ns(2ULL << b);
			break;
		}
	}
	/* A bucket's upper bound can pass the largest value seen. */
	*med = *med > max ? max : *med;
	*p99 = *p99 > max ? max : *p99;
}

static void print_calls(const char *what, struct pct q, struct pct l)
{
	kprintf("  %-30s %10lu %10lu %12lu %12lu\n", what, (unsigned long)q.med,
		(unsigned long)q.p99, (unsigned long)l.med, (unsigned long)l.p99);
}

static void ratio_line(const char *name, uint64_t a, uint64_t b, const char *extra)
{
	uint64_t r = b ? a * 1000 / b : 0;

	klog("bench", "%s %s ratio=%lu.%03lu", name, extra, (unsigned long)(r / 1000),
	     (unsigned long)(r % 1000));
}

struct results {
	uint64_t lazy[3], eager[3];	/* apply, ns */
	uint64_t conv_med, conv_p99, conv_max, conv_n;
	uint64_t wait_med, wait_p99, wait_max, wait_n, overtakes, abandoned;
	uint64_t stw_pause, stw_conv_max;
	struct pct q_t, l_t, q_o, l_o;
};

static void report(struct results *r)
{
	char extra[112];

	kprintf("bench: live update, %u harts calling, board %s\n", ncallers, PLAT_NAME);
	kprintf("  %-30s %12s %12s %12s\n", "apply time (ns)", "1 inst", "1000 inst", "100000 inst");
	kprintf("  %-30s %12lu %12lu %12lu\n", "lazy (O(1): switch only)", (unsigned long)r->lazy[0],
		(unsigned long)r->lazy[1], (unsigned long)r->lazy[2]);
	kprintf("  %-30s %12lu %12lu %12lu\n", "eager (converts all)", (unsigned long)r->eager[0],
		(unsigned long)r->eager[1], (unsigned long)r->eager[2]);
	kprintf("  %-30s %10s %10s %12s %12s\n", "eager swap of 1000, ns", "median", "p99", "max",
		"count");
	kprintf("  %-30s %10lu %10lu %12lu %12lu\n", "instance unavailable", (unsigned long)r->conv_med,
		(unsigned long)r->conv_p99, (unsigned long)r->conv_max, (unsigned long)r->conv_n);
	kprintf("  %-30s %10lu %10lu %12lu %12lu\n", "caller blocked (those that were)",
		(unsigned long)r->wait_med, (unsigned long)r->wait_p99, (unsigned long)r->wait_max,
		(unsigned long)r->wait_n);
	kprintf("  %-30s %10lu (conversions abandoned for them: %lu)\n",
		"... that overtook a conversion", (unsigned long)r->overtakes,
		(unsigned long)r->abandoned);
	kprintf("  %-30s %10s %10s %12s %12s\n", "call latency, ns", "quiet med", "quiet p99",
		"swap med", "swap p99");
	print_calls("calls to the swapped class", r->q_t, r->l_t);
	print_calls("calls to another object", r->q_o, r->l_o);
	kprintf("  stop-the-world baseline (1000 instances, every other hart parked): pause %lu ns\n",
		(unsigned long)r->stw_pause);
	snprintf(extra, sizeof(extra), "lazy_1=%luns lazy_100000=%luns", (unsigned long)r->lazy[0],
		 (unsigned long)r->lazy[2]);
	ratio_line("lazy_apply_100000_vs_1", r->lazy[2], r->lazy[0], extra);
	snprintf(extra, sizeof(extra), "eager_100000=%luns lazy_100000=%luns",
		 (unsigned long)r->eager[2], (unsigned long)r->lazy[2]);
	ratio_line("eager_vs_lazy_apply_100000", r->eager[2], r->lazy[2], extra);
	snprintf(extra, sizeof(extra), "p99_swap=%luns p99_quiet=%luns", (unsigned long)r->l_o.p99,
		 (unsigned long)r->q_o.p99);
	ratio_line("other_object_p99_during_swap_vs_quiet", r->l_o.p99, r->q_o.p99, extra);
	snprintf(extra, sizeof(extra), "unavailable_p99=%luns stw_pause=%luns",
		 (unsigned long)r->conv_p99, (unsigned long)r->stw_pause);
	ratio_line("live_blackout_p99_vs_stw_pause", r->conv_p99, r->stw_pause, extra);
	/* The worst case includes the host descheduling a vCPU mid-conversion. */
	snprintf(extra, sizeof(extra), "blocked_callers=%lu of %lu blocked_max=%luns stw_pause=%luns",
		 (unsigned long)r->wait_n, (unsigned long)r->l_t.n, (unsigned long)r->wait_max,
		 (unsigned long)r->stw_pause);
	ratio_line("worst_blocked_caller_vs_stw_pause", r->wait_max, r->stw_pause, extra);
}

static void measure_live_swap(struct results *r)
{
	window(PH_QUIET, 300000);
	blackout_stats_reset();
	phase = PH_LIVE;
	r->eager[1] = apply("b1k-eager", 0);
	phase = PH_NONE;
	r->conv_max = ns(blackout_stats.max_conversion);
	r->wait_max = ns(blackout_stats.max_wait);
	r->overtakes = blackout_stats.overtakes;
	r->abandoned = blackout_stats.abandoned;
	log2_pct(blackout_stats.conversions, r->conv_max, &r->conv_med, &r->conv_p99, &r->conv_n);
	log2_pct(blackout_stats.waits, r->wait_max, &r->wait_med, &r->wait_p99, &r->wait_n);
	r->q_t = percentiles(PH_QUIET, true);
	r->l_t = percentiles(PH_LIVE, true);
	r->q_o = percentiles(PH_QUIET, false);
	r->l_o = percentiles(PH_LIVE, false);
}

static void bench_update_main(void *arg)
{
	static struct results r;

	update_probation_us = 100000;
	for (int i = 0; i < NCLASSES; i++)
		if (make_class(&classes[i]))
			panic("bench: cannot create %s", classes[i].name);
	callers = kzalloc(sizeof(*callers) * nharts_online);
	ncallers = nharts_online;
	for (unsigned int i = 0; i < ncallers; i++) {
		callers[i].seed = 7 + i;
		callers[i].t = thread_create("bcaller", caller_main, &callers[i], (int)i);
	}
	thread_sleep_us(300000);
	apply("bwarm", 0);	/* QEMU translates the engine's code on first use: not measured */
	r.lazy[1] = apply("b1k-lazy", 0);
	r.lazy[2] = apply("b100k-lazy", 0);
	r.lazy[0] = apply("b1-lazy", 0);
	r.eager[0] = apply("b1-eager", 0);
	r.eager[2] = apply("b100k-eager", 0);
	measure_live_swap(&r);
	target = &classes[CSTW];
	apply("bstw-live", 0);
	apply("bstw-stop", UPDATE_STOP_THE_WORLD);
	r.stw_pause = ns(update_last_timing.pause_ticks);
	report(&r);
	klog("bench", "update done");
	platform_halt(0);
}

void bench_update_start(void)
{
	thread_create("bench-update", bench_update_main, NULL, THREAD_ANY_HART);
}
