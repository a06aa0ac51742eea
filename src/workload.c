/*
 * The demo workload: WORKLOAD_COUNTERS instances of class `counter`, and
 * WORKLOAD_WORKERS_PER_HART worker threads pinned to every hart, each
 * calling counter_add() through the OTT in a loop and counting the calls
 * it made. Once a second the heartbeat pauses the workers at a call
 * boundary, adds up calls made and calls counted, and logs both: they must
 * be equal, before and after any live update.
 *
 * Locking: counters add atomically (several harts hit one instance);
 * each worker's `made` is written by that worker only; the pause handshake
 * is pause_req (heartbeat) and parked (workers), both atomic.
 */
#include <stdio.h>
#include <string.h>
#include <kernel/workload.h>
#include <kernel/object.h>
#include <kernel/thread.h>
#include <kernel/hart.h>
#include <kernel/mem.h>
#include <kernel/log.h>
#include <kernel/timer.h>
#include <kernel/riscv.h>
#include <kernel/errno.h>

static long counter_v1_add(struct object *self, long n)
{
	return __atomic_add_fetch(&((struct counter_v1 *)self)->value, n, __ATOMIC_RELAXED);
}

static long counter_v1_get(struct object *self)
{
	return __atomic_load_n(&((struct counter_v1 *)self)->value, __ATOMIC_RELAXED);
}

/* Interface 1: add and get; stats answers -KE_NOSYS until an update adds it. */
static const struct counter_ops counter_v1_ops = {
	.add = counter_v1_add,
	.get = counter_v1_get,
};
CLASS_OPS_CHECK(struct counter_ops);

static const struct class counter_v1_class = {
	.name = "counter",
	.impl = "counter",
	.version = 1,
	.iface_version = 1,
	.ops = &counter_v1_ops,
	.nmethods = 2,
	.state_size = sizeof(struct counter_v1),
};

struct worker {
	unsigned int hart;
	unsigned int seed;
	volatile uint64_t made;
	struct thread *thread;
};

static struct factory counter_factory;
static ott_ref_t counters[WORKLOAD_COUNTERS];
static struct worker *workers;
static unsigned int nworkers;
static volatile int pause_req;
static volatile unsigned int parked;

static void worker_park(void)
{
	__atomic_add_fetch(&parked, 1, __ATOMIC_ACQ_REL);
	while (__atomic_load_n(&pause_req, __ATOMIC_ACQUIRE))
		thread_yield();
	__atomic_sub_fetch(&parked, 1, __ATOMIC_ACQ_REL);
}

static void worker_main(void *arg)
{
	struct worker *w = arg;
	unsigned int i = w->seed;

	for (;;) {
		thread_quiescent();	/* between calls: in none */
		if (__atomic_load_n(&pause_req, __ATOMIC_ACQUIRE))
			worker_park();
		/* A stride walk touches every instance from every hart. */
		i = (i + 7) % WORKLOAD_COUNTERS;
		if (counter_add(counters[i], 1) > 0)
			w->made++;
		else
			klog("workload", "call failed counter=%u", i);
	}
}

/*
 * Pauses the workers at a call boundary and adds up both totals. Returns
 * how many workers parked: fewer than all (one died, or is stuck) means the
 * totals cannot be compared, and the heartbeat says so instead of hanging.
 */
static unsigned int snapshot(uint64_t *made, uint64_t *counted, uint64_t *by_hart)
{
	/* Generous: on a loaded host a vCPU can stall for a while. */
	uint64_t deadline = rdtime() + timer_us_to_ticks(2000000);
	unsigned int n;

	__atomic_store_n(&pause_req, 1, __ATOMIC_RELEASE);
	while ((n = __atomic_load_n(&parked, __ATOMIC_ACQUIRE)) < nworkers && rdtime() < deadline)
		thread_yield();
	*made = 0;
	*counted = 0;
	memset(by_hart, 0, sizeof(uint64_t) * MAX_HARTS);
	for (unsigned int i = 0; i < nworkers; i++) {
		*made += workers[i].made;
		by_hart[workers[i].hart] += workers[i].made;
	}
	for (unsigned int i = 0; i < WORKLOAD_COUNTERS; i++)
		*counted += (uint64_t)counter_get(counters[i]);
	__atomic_store_n(&pause_req, 0, __ATOMIC_RELEASE);
	return n;
}

/* "a,b,c" of one figure per online hart. */
static void per_hart(char *buf, size_t len, const uint64_t *v)
{
	size_t n = 0;

	buf[0] = '\0';
	for (unsigned int i = 0; i < nharts_online && n < len; i++)
		n += (size_t)snprintf(buf + n, len - n, "%s%lu", i ? "," : "", (unsigned long)v[i]);
}

static void heartbeat_main(void *arg)
{
	uint64_t made, counted, by_hart[MAX_HARTS], ticks[MAX_HARTS];
	char calls_s[96], ticks_s[96];
	struct mem_stats ms;

	for (unsigned int seq = 1;; seq++) {
		thread_sleep_us(1000000);
		unsigned int parked_now = snapshot(&made, &counted, by_hart);
		const char *match = parked_now < nworkers ? "unknown" : made == counted ? "yes" : "NO";

		for (unsigned int i = 0; i < nharts_online; i++)
			ticks[i] = hart_by_index(i)->timer_irqs;
		per_hart(calls_s, sizeof(calls_s), by_hart);
		per_hart(ticks_s, sizeof(ticks_s), ticks);
		mem_get_stats(&ms);
		klog("workload", "heartbeat seq=%u made=%lu counted=%lu match=%s calls_by_hart=%s "
		     "ticks_by_hart=%s free_pages=%lu parked=%u/%u", seq, (unsigned long)made,
		     (unsigned long)counted, match, calls_s, ticks_s, (unsigned long)ms.free_pages,
		     parked_now, nworkers);
	}
}

ott_ref_t workload_counter(unsigned int i)
{
	return i < WORKLOAD_COUNTERS && nworkers ? counters[i] : OTT_REF_NULL;
}

int workload_counter_create(ott_ref_t *ref)
{
	return nworkers ? factory_create(&counter_factory, NULL, ref) : -KE_NOENT;
}

int workload_counter_destroy(ott_ref_t ref)
{
	return factory_destroy(&counter_factory, ref);
}

long workload_counter_version(ott_ref_t ref)
{
	struct object *o = factory_object(&counter_factory, ref);

	return o ? (long)object_version(o)->cls->version : -KE_STALE;
}

int workload_register(void)
{
	return counter_factory.cur ? 0 : factory_init(&counter_factory, &counter_v1_class);
}

void workload_start(void)
{
	unsigned int n = nharts_online * WORKLOAD_WORKERS_PER_HART;
	int err = workload_register();

	for (unsigned int i = 0; !err && i < WORKLOAD_COUNTERS; i++)
		err = factory_create(&counter_factory, NULL, &counters[i]);
	workers = kzalloc(n * sizeof(*workers));
	if (err || !workers) {
		klog("workload", "not started: %s", err_name(err ?: -KE_NOMEM));
		return;
	}
	for (unsigned int i = 0; i < n; i++) {
		workers[i].hart = i % nharts_online;
		workers[i].seed = i * 131;
		workers[i].thread = thread_create("worker", worker_main, &workers[i],
						  (int)workers[i].hart);
		if (!workers[i].thread)
			panic("cannot start worker %u", i);
	}
	nworkers = n;
	thread_create("heartbeat", heartbeat_main, NULL, THREAD_ANY_HART);
	klog("workload", "started counters=%u workers=%u harts=%u", WORKLOAD_COUNTERS, n,
	     nharts_online);
}
