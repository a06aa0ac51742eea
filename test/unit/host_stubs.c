/*
 * Host doubles of kernel services for the object-module unit tests; see
 * host_stubs.h.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sched.h>
#include <cmocka.h>

#include <kernel/ott.h>
#include <kernel/mem.h>
#include <kernel/spinlock.h>
#include <kernel/smp.h>
#include <kernel/unwind.h>
#include "host_stubs.h"

/* ---- memory --------------------------------------------------------------- */

long host_live_allocs;
unsigned long host_total_allocs;
int host_alloc_fail_in;

static int alloc_should_fail(void)
{
	if (host_alloc_fail_in > 0 && --host_alloc_fail_in == 0)
		return 1;
	return 0;
}

void *kzalloc(size_t size)
{
	void *p;

	if (alloc_should_fail())
		return NULL;
	p = calloc(1, size ? size : 1);
	if (p) {
		__atomic_add_fetch(&host_live_allocs, 1, __ATOMIC_RELAXED);
		__atomic_add_fetch(&host_total_allocs, 1, __ATOMIC_RELAXED);
	}
	return p;
}

void *kmalloc(size_t size)
{
	void *p = kzalloc(size);

	/* Not zeroed in the kernel: make code that relies on it show up. */
	if (p)
		memset(p, 0xa5, size);
	return p;
}

void kfree(void *p)
{
	if (!p)
		return;
	if (__atomic_sub_fetch(&host_live_allocs, 1, __ATOMIC_RELAXED) < 0)
		fail_msg("kfree(%p) with no live allocation", p);
	free(p);
}

struct object *host_deferred[HOST_MAX_DEFERRED];
unsigned int host_ndeferred;
static struct {
	void (*fn)(void *arg);
	void *arg;
} host_calls[HOST_MAX_DEFERRED];
static unsigned int host_ncalls;
/* Several test threads may convert at once (test_convert's stress case). */
static pthread_mutex_t host_defer_lock = PTHREAD_MUTEX_INITIALIZER;

void object_free_deferred(struct object *obj)
{
	pthread_mutex_lock(&host_defer_lock);
	if (host_ndeferred >= HOST_MAX_DEFERRED)
		fail_msg("too many deferred frees");
	host_deferred[host_ndeferred++] = obj;
	pthread_mutex_unlock(&host_defer_lock);
}

void (*host_defer_hook)(void (*fn)(void *arg), void *arg);

int defer_call(void (*fn)(void *arg), void *arg)
{
	if (host_defer_hook)
		host_defer_hook(fn, arg);
	pthread_mutex_lock(&host_defer_lock);
	if (host_ncalls >= HOST_MAX_DEFERRED)
		fail_msg("too many deferred calls");
	host_calls[host_ncalls].fn = fn;
	host_calls[host_ncalls++].arg = arg;
	pthread_mutex_unlock(&host_defer_lock);
	return 0;
}

void host_defer_flush(void)
{
	for (unsigned int i = 0; i < host_ncalls; i++)
		host_calls[i].fn(host_calls[i].arg);
	host_ncalls = 0;
	for (unsigned int i = 0; i < host_ndeferred; i++)
		kfree(host_deferred[i]);
	host_ndeferred = 0;
}

/* ---- locks ----------------------------------------------------------------- */

int host_locks_held;
unsigned long host_lock_ops;

/*
 * Locks are real spinlocks between test threads (each plays a hart);
 * taking one the calling thread already holds fails the test (on the
 * target it would deadlock). Threads are numbered in the order they
 * first lock, the test's main thread first (0).
 */
static int32_t host_lock_ids;
static _Thread_local int32_t host_lock_id = -1;

static int32_t host_self(void)
{
	if (host_lock_id < 0)
		host_lock_id = __atomic_fetch_add(&host_lock_ids, 1, __ATOMIC_RELAXED);
	return host_lock_id;
}

void spin_init(struct spinlock *l, const char *name)
{
	l->locked = 0;
	l->owner = -1;
	l->name = name;
}

void spin_lock(struct spinlock *l)
{
	int32_t me = host_self();

	if (__atomic_load_n(&l->locked, __ATOMIC_ACQUIRE) && l->owner == me)
		fail_msg("spin_lock(%s): already held (would deadlock)",
			 l->name ? l->name : "?");
	while (__atomic_exchange_n(&l->locked, 1, __ATOMIC_ACQUIRE))
		while (__atomic_load_n(&l->locked, __ATOMIC_RELAXED))
			sched_yield();
	l->owner = me;
	__atomic_add_fetch(&host_locks_held, 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&host_lock_ops, 1, __ATOMIC_RELAXED);
}

void spin_unlock(struct spinlock *l)
{
	if (!l->locked || l->owner != host_self())
		fail_msg("spin_unlock(%s): lock not held", l->name ? l->name : "?");
	l->owner = -1;
	__atomic_sub_fetch(&host_locks_held, 1, __ATOMIC_RELAXED);
	__atomic_store_n(&l->locked, 0, __ATOMIC_RELEASE);
}

int spin_holding(const struct spinlock *l)
{
	return l->locked != 0 && l->owner == host_self();
}

void spin_force_release(struct spinlock *l)
{
	if (l->locked)
		__atomic_sub_fetch(&host_locks_held, 1, __ATOMIC_RELAXED);
	l->owner = -1;
	__atomic_store_n(&l->locked, 0, __ATOMIC_RELEASE);
}

static int irq_depth;

void irq_push_off(void)
{
	irq_depth++;
}

void irq_pop_off(void)
{
	if (irq_depth <= 0)
		fail_msg("irq_pop_off without irq_push_off");
	irq_depth--;
}

/* ---- IPIs ------------------------------------------------------------------ */

unsigned int host_kicks[HOST_MAX_KICKS];
unsigned int host_nkicks;

void smp_kick(unsigned int index)
{
	if (host_nkicks < HOST_MAX_KICKS)
		host_kicks[host_nkicks] = index;
	host_nkicks++;
}

void host_kicks_reset(void)
{
	memset(host_kicks, 0, sizeof(host_kicks));
	host_nkicks = 0;
}

/* ---- OTT -------------------------------------------------------------------- */

struct ott kernel_ott;

unsigned long host_miss_calls;
unsigned int host_last_miss_method;

/*
 * The C version of ott_miss.S: record the method index, resolve, and call
 * the real method with the caller's arguments. The casts through a generic
 * function pointer mirror what the assembly does with registers (valid on
 * the x86-64 and AArch64 host ABIs for integer and pointer arguments).
 */
#define HOST_MISS_STUB(n)							\
static long host_miss_stub_##n(struct object *miss, uintptr_t a1, uintptr_t a2,	\
			       uintptr_t a3, uintptr_t a4, uintptr_t a5)	\
{										\
	struct ott_resolution r;						\
										\
	host_miss_calls++;							\
	host_last_miss_method = (n);						\
	r = ott_miss_resolve(&kernel_ott, miss, (n));				\
	return ((host_method_t)(void (*)(void))r.fn)(r.obj, a1, a2, a3, a4, a5);	\
}

HOST_MISS_STUB(0)  HOST_MISS_STUB(1)  HOST_MISS_STUB(2)  HOST_MISS_STUB(3)
HOST_MISS_STUB(4)  HOST_MISS_STUB(5)  HOST_MISS_STUB(6)  HOST_MISS_STUB(7)
HOST_MISS_STUB(8)  HOST_MISS_STUB(9)  HOST_MISS_STUB(10) HOST_MISS_STUB(11)
HOST_MISS_STUB(12) HOST_MISS_STUB(13) HOST_MISS_STUB(14) HOST_MISS_STUB(15)
HOST_MISS_STUB(16) HOST_MISS_STUB(17) HOST_MISS_STUB(18) HOST_MISS_STUB(19)
HOST_MISS_STUB(20) HOST_MISS_STUB(21) HOST_MISS_STUB(22) HOST_MISS_STUB(23)
HOST_MISS_STUB(24) HOST_MISS_STUB(25) HOST_MISS_STUB(26) HOST_MISS_STUB(27)
HOST_MISS_STUB(28) HOST_MISS_STUB(29) HOST_MISS_STUB(30) HOST_MISS_STUB(31)

_Static_assert(OTT_MAX_METHODS == 32, "host_miss_ops has 32 stubs");

const host_method_t host_miss_ops[OTT_MAX_METHODS] = {
	host_miss_stub_0,  host_miss_stub_1,  host_miss_stub_2,  host_miss_stub_3,
	host_miss_stub_4,  host_miss_stub_5,  host_miss_stub_6,  host_miss_stub_7,
	host_miss_stub_8,  host_miss_stub_9,  host_miss_stub_10, host_miss_stub_11,
	host_miss_stub_12, host_miss_stub_13, host_miss_stub_14, host_miss_stub_15,
	host_miss_stub_16, host_miss_stub_17, host_miss_stub_18, host_miss_stub_19,
	host_miss_stub_20, host_miss_stub_21, host_miss_stub_22, host_miss_stub_23,
	host_miss_stub_24, host_miss_stub_25, host_miss_stub_26, host_miss_stub_27,
	host_miss_stub_28, host_miss_stub_29, host_miss_stub_30, host_miss_stub_31,
};

static struct ott_slot *host_slots;
static void *host_miss_mem;
static struct object **host_caches[HOST_MAX_HARTS];
static unsigned int host_nharts;

void host_ott_setup(struct ott *t, uint32_t nslots, unsigned int nharts)
{
	size_t cache_bytes = ott_cache_bytes(nslots);

	assert_true(nharts >= 1 && nharts <= HOST_MAX_HARTS);
	host_ott_teardown(t);
	host_slots = calloc(1, ott_slots_bytes(nslots));
	/* Room for a whole struct object after the last packed miss object. */
	host_miss_mem = calloc(1, ott_miss_bytes(nslots) + sizeof(struct object));
	assert_non_null(host_slots);
	assert_non_null(host_miss_mem);
	for (unsigned int h = 0; h < nharts; h++) {
		host_caches[h] = calloc(1, cache_bytes);
		assert_non_null(host_caches[h]);
	}
	host_nharts = nharts;
	assert_int_equal(ott_init(t, nslots, host_slots, host_miss_mem, host_miss_ops,
				  (uintptr_t)host_caches[0]), 0);
	for (unsigned int h = 0; h < nharts; h++)
		assert_int_equal(ott_add_cache(t, host_caches[h]), 0);
	host_miss_calls = 0;
	host_last_miss_method = ~0u;
}

void host_ott_teardown(struct ott *t)
{
	for (unsigned int h = 0; h < HOST_MAX_HARTS; h++) {
		free(host_caches[h]);
		host_caches[h] = NULL;
	}
	free(host_slots);
	free(host_miss_mem);
	host_slots = NULL;
	host_miss_mem = NULL;
	host_nharts = 0;
	memset(t, 0, sizeof(*t));
}

struct object **host_cache(unsigned int h)
{
	assert_true(h < host_nharts);
	return host_caches[h];
}

void host_set_hart(struct ott *t, unsigned int h)
{
	t->cache_va = (uintptr_t)host_cache(h);
}

size_t host_entry_index(const struct ott *t, ott_ref_t ref)
{
	return (size_t)(ref.gen % OTT_GEN_ALIASES) * t->nslots + ref.slot;
}

ott_ref_t host_ref_on(const struct ott *t, ott_ref_t ref, unsigned int h)
{
	ref.entry = (struct object *const *)&host_cache(h)[host_entry_index(t, ref)];
	return ref;
}

struct object *host_miss_obj(const struct ott *t, size_t idx)
{
	return (struct object *)((const void **)t->miss_objs + idx);
}

/* ---- recovery points ------------------------------------------------------ */

/*
 * For the tests that do not link src/unwind.c (factories, the scheduler):
 * no fault is emulated there, so a recovery point is only opened and
 * closed. Weak: the tests of convert.c link the real ones and use them.
 */
__attribute__((weak)) void recover_push(struct recover_point *rp, int why, const void *what)
{
	rp->node.why = (uint8_t)why;
	rp->node.what = what;
}

__attribute__((weak)) void recover_pop(struct recover_point *rp)
{
	(void)rp;
}
