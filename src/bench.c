/*
 * `make bench`: the cost of a call through the OTT's hart-local cache,
 * against a plain indirect call through an ops pointer and against a
 * cache miss that goes to the global table. Counted in instructions
 * (rdinstret) and time (rdtime), each the median of several rounds run
 * side by side, on one hart with interrupts off while the others idle.
 * QEMU counts instructions exactly only under -icount, which makes time
 * virtual, so test/bench/run_bench.py boots twice and reads instructions
 * from the icount run and times from the plain one.
 */
#include <stdio.h>
#include <kernel/bench.h>
#include <kernel/object.h>
#include <kernel/thread.h>
#include <kernel/hart.h>
#include <kernel/timer.h>
#include <kernel/riscv.h>
#include <kernel/log.h>
#include <kernel/platform.h>

#define ROUNDS	7
#define CALLS	200000

struct bench_ops {
	long (*noop)(struct object *self, long x);
};

static long bench_noop(struct object *self, long x)
{
	return x;
}

static const struct bench_ops bench_ops = { .noop = bench_noop };

static const struct class bench_class = {
	.name = "bench",
	.impl = "bench",
	.version = 1,
	.iface_version = 1,
	.ops = &bench_ops,
	.nmethods = 1,
	.state_size = sizeof(struct object),
};

static struct factory bench_factory;
static struct object bench_obj;
/* The plain call's object: a bare instance pointing at the const ops. */
static struct object plain_obj = { .ops = &bench_ops };

struct sample {
	uint64_t instret, ticks;
};

/* The three loops differ only in how they reach the method. */
static __attribute__((noinline)) struct sample run_plain(struct object *o)
{
	uint64_t t0 = rdtime(), i0 = rdinstret();

	for (long i = 0; i < CALLS; i++)
		((const struct bench_ops *)o->ops)->noop(o, i);
	return (struct sample){ rdinstret() - i0, rdtime() - t0 };
}

static __attribute__((noinline)) struct sample run_cached(ott_ref_t r)
{
	uint64_t t0 = rdtime(), i0 = rdinstret();

	for (long i = 0; i < CALLS; i++)
		OTT_CALL(r, struct bench_ops, noop, i);
	return (struct sample){ rdinstret() - i0, rdtime() - t0 };
}

static __attribute__((noinline)) struct sample run_miss(ott_ref_t r)
{
	uint64_t t0 = rdtime(), i0 = rdinstret();

	for (long i = 0; i < CALLS; i++) {
		ott_forget_local(&kernel_ott, r);
		OTT_CALL(r, struct bench_ops, noop, i);
	}
	return (struct sample){ rdinstret() - i0, rdtime() - t0 };
}

static uint64_t median(uint64_t *v, int n)
{
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && v[j] < v[j - 1]; j--) {
			uint64_t t = v[j];

			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	return v[n / 2];
}

/* Per-call figures in hundredths, so ratios print without FP. */
struct result {
	uint64_t instr_x100, ns_x100;
};

static struct result summarise(struct sample *s)
{
	uint64_t in[ROUNDS], tk[ROUNDS];

	for (int i = 0; i < ROUNDS; i++) {
		in[i] = s[i].instret;
		tk[i] = s[i].ticks;
	}
	return (struct result){
		median(in, ROUNDS) * 100 / CALLS,
		median(tk, ROUNDS) * 100000000000ULL / timer_freq_hz / CALLS,
	};
}

static void ratio(char *buf, size_t len, uint64_t a, uint64_t b)
{
	uint64_t r = b ? a * 1000 / b : 0;

	snprintf(buf, len, "%lu.%03lu", (unsigned long)(r / 1000), (unsigned long)(r % 1000));
}

static void print_row(const char *name, struct result r, struct result base)
{
	char rt[16], ri[16];

	ratio(rt, sizeof(rt), r.ns_x100, base.ns_x100);
	ratio(ri, sizeof(ri), r.instr_x100, base.instr_x100);
	kprintf("  %-22s %10lu.%02lu %10lu.%02lu %9s %9s\n", name,
		(unsigned long)(r.instr_x100 / 100), (unsigned long)(r.instr_x100 % 100),
		(unsigned long)(r.ns_x100 / 100), (unsigned long)(r.ns_x100 % 100), ri, rt);
}

static void bench_main(void *arg)
{
	struct sample plain[ROUNDS], cached[ROUNDS], miss[ROUNDS];
	struct result p, c, m;
	char rt[16], rm[16];
	ott_ref_t ref;

	if (factory_init(&bench_factory, &bench_class) ||
	    factory_adopt(&bench_factory, &bench_obj, NULL, &ref))
		panic("bench: no OTT slot");
	OTT_CALL(ref, struct bench_ops, noop, 0);	/* warm this hart's cache */
	for (int i = 0; i < ROUNDS; i++) {
		unsigned long flags = irq_save();

		plain[i] = run_plain(&plain_obj);
		cached[i] = run_cached(ref);
		miss[i] = run_miss(ref);
		irq_restore(flags);
	}
	p = summarise(plain);
	c = summarise(cached);
	m = summarise(miss);
	kprintf("bench: OTT call paths, %d calls x %d rounds (median), hart %u, board %s\n",
		CALLS, ROUNDS, this_hart()->hartid, PLAT_NAME);
	kprintf("  %-22s %13s %13s %9s %9s\n", "path", "instr/call", "ns/call", "x instr", "x time");
	print_row("plain indirect call", p, p);
	print_row("ott cached call", c, p);
	print_row("ott miss (global)", m, p);
	klog("bench", "result path=plain instr_x100=%lu ns_x100=%lu", (unsigned long)p.instr_x100,
	     (unsigned long)p.ns_x100);
	klog("bench", "result path=cached instr_x100=%lu ns_x100=%lu", (unsigned long)c.instr_x100,
	     (unsigned long)c.ns_x100);
	klog("bench", "result path=miss instr_x100=%lu ns_x100=%lu", (unsigned long)m.instr_x100,
	     (unsigned long)m.ns_x100);
	ratio(rt, sizeof(rt), c.ns_x100, p.ns_x100);
	ratio(rm, sizeof(rm), m.ns_x100, p.ns_x100);
	klog("bench", "ott_cached_vs_plain extra_instr=%ld.%02lu ratio=%s",
	     (long)(c.instr_x100 - p.instr_x100) / 100,
	     (unsigned long)((c.instr_x100 - p.instr_x100) % 100), rt);
	klog("bench", "ott_miss_vs_plain extra_instr=%lu ratio=%s",
	     (unsigned long)((m.instr_x100 - p.instr_x100) / 100), rm);
	klog("bench", "done");
	platform_halt(0);
}

void bench_start(void)
{
	thread_create("bench", bench_main, NULL, 0);
}
