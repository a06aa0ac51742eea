// unit-srcs: src/ott.c test/unit/host_stubs.c
/*
 * Host tests of the object translation table: slot allocation (FIFO
 * reuse, slot 0 never handed out, full table), the reference/cache-entry
 * layout, cache registration, the miss path, stale references (also after
 * the slot is reused), replacement and invalidation over several harts'
 * caches, and whole calls through OTT_CALL with C stand-ins for the
 * assembly miss stubs (host_stubs.c).
 *
 * Tests named test_fixed_* pin down bugs found and fixed in src/.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <kernel/ott.h>
#include <kernel/object.h>
#include <kernel/errno.h>
#include "host_stubs.h"

#define NSLOTS	8
#define NHARTS	3

/* A probe class: each method tells which object answered. */
struct probe_ops {
	long (*id)(struct object *self);
	long (*add)(struct object *self, long a, long b);
	long (*store)(struct object *self, long *out, long v);
};

struct probe {
	struct object obj;
	long id;
	long calls;
};

static long probe_id(struct object *self)
{
	struct probe *p = (struct probe *)self;

	p->calls++;
	return p->id;
}

static long probe_add(struct object *self, long a, long b)
{
	struct probe *p = (struct probe *)self;

	p->calls++;
	return p->id * 1000 + a + b;
}

static long probe_store(struct object *self, long *out, long v)
{
	struct probe *p = (struct probe *)self;

	p->calls++;
	*out = v * 2 + p->id;
	return 7;
}

static const struct probe_ops probe_ops = {
	.id = probe_id,
	.add = probe_add,
	.store = probe_store,
};

static const struct class probe_class = { .name = "probe", .ops = &probe_ops };

static struct probe probes[16];

static struct object *probe(long id)
{
	struct probe *p = &probes[id];

	memset(p, 0, sizeof(*p));
	p->obj.ops = &probe_ops;
	p->id = id;
	return &p->obj;
}

static long call_id(ott_ref_t r)
{
	return OTT_CALL(r, struct probe_ops, id);
}

static long call_add(ott_ref_t r, long a, long b)
{
	return OTT_CALL(r, struct probe_ops, add, a, b);
}

/* Stale hook recorder. */
static unsigned int hook_calls;
static uint32_t hook_slot, hook_alias;
static unsigned int hook_method;

static void record_stale(uint32_t slot, uint32_t alias, unsigned int method)
{
	hook_calls++;
	hook_slot = slot;
	hook_alias = alias;
	hook_method = method;
}

static int setup(void **state)
{
	host_ott_setup(&kernel_ott, NSLOTS, NHARTS);
	hook_calls = 0;
	hook_slot = hook_alias = ~0u;
	hook_method = ~0u;
	ott_stale_hook = record_stale;
	host_locks_held = 0;
	return 0;
}

static int teardown(void **state)
{
	assert_int_equal(host_locks_held, 0);
	ott_stale_hook = NULL;
	host_ott_teardown(&kernel_ott);
	return 0;
}

static struct ott *T = &kernel_ott;

static ott_ref_t alloc_ok(struct object *o)
{
	ott_ref_t r = OTT_REF_NULL;

	assert_int_equal(ott_alloc(T, o, &probe_class, &r), 0);
	assert_int_equal(host_locks_held, 0);
	return r;
}

/* Every entry of @slot (both aliases) on every hart is empty. */
static void assert_slot_empty_everywhere(uint32_t slot)
{
	for (unsigned int h = 0; h < NHARTS; h++)
		for (uint32_t a = 0; a < OTT_GEN_ALIASES; a++) {
			size_t i = (size_t)a * NSLOTS + slot;

			assert_ptr_equal(host_cache(h)[i], host_miss_obj(T, i));
		}
}

/* ---- sizes and init -------------------------------------------------------- */

static void test_sizes(void **state)
{
	assert_int_equal(ott_slots_bytes(5), 5 * sizeof(struct ott_slot));
	assert_int_equal(ott_miss_bytes(5), 5 * OTT_GEN_ALIASES * sizeof(void *));
	assert_int_equal(ott_cache_bytes(5), 5 * OTT_GEN_ALIASES * sizeof(void *));
	assert_int_equal(ott_cache_bytes(0), 0);
}

static void test_init_rejects_bad_args(void **state)
{
	struct ott t;
	struct ott_slot slots[4];
	void *miss[4 * OTT_GEN_ALIASES + 8];

	memset(&t, 0x5a, sizeof(t));
	assert_int_equal(ott_init(&t, 0, slots, (struct object *)miss, host_miss_ops, 0),
			 -KE_INVAL);
	assert_int_equal(ott_init(&t, 4, NULL, (struct object *)miss, host_miss_ops, 0),
			 -KE_INVAL);
	assert_int_equal(ott_init(&t, 4, slots, NULL, host_miss_ops, 0), -KE_INVAL);
	assert_int_equal(ott_init(&t, 4, slots, (struct object *)miss, NULL, 0), -KE_INVAL);
	/* Nothing set up on failure. */
	assert_int_equal(t.nslots, 0x5a5a5a5a);
}

static void test_init_state(void **state)
{
	const void **m = (const void **)T->miss_objs;

	assert_int_equal(T->nslots, NSLOTS);
	assert_int_equal(T->used, 1);	/* slot 0 is reserved */
	assert_int_equal(T->ncaches, NHARTS);
	assert_int_equal(T->misses, 0);
	assert_int_equal(T->stale_calls, 0);
	/* Every miss object's ops is the miss table. */
	for (size_t i = 0; i < NSLOTS * OTT_GEN_ALIASES; i++)
		assert_ptr_equal(m[i], host_miss_ops);
	for (uint32_t s = 0; s < NSLOTS; s++) {
		assert_null(T->slots[s].obj);
		assert_int_equal(T->slots[s].gen, 0);
	}
}

/* ---- allocation ---------------------------------------------------------------- */

static void test_alloc_rejects_null(void **state)
{
	ott_ref_t r = OTT_REF_NULL;

	assert_int_equal(ott_alloc(T, NULL, &probe_class, &r), -KE_INVAL);
	assert_int_equal(ott_alloc(T, probe(1), &probe_class, NULL), -KE_INVAL);
	assert_int_equal(T->used, 1);
	assert_int_equal(host_locks_held, 0);
}

static void test_alloc_never_slot0_then_full(void **state)
{
	ott_ref_t r[NSLOTS];
	ott_ref_t extra = OTT_REF_NULL;

	for (uint32_t i = 1; i < NSLOTS; i++) {
		struct object *o = probe(i);

		r[i] = alloc_ok(o);
		assert_int_equal(r[i].slot, i);		/* slot 0 is skipped */
		assert_int_equal(r[i].gen, 0);
		assert_int_equal(o->slot, i);
		assert_ptr_equal(T->slots[i].obj, o);
		assert_ptr_equal(T->slots[i].cls, &probe_class);
		assert_int_equal(T->used, i + 1);
	}
	assert_int_equal(ott_alloc(T, probe(9), &probe_class, &extra), -KE_NOSPC);
	assert_int_equal(host_locks_held, 0);	/* the error path unlocked */
	assert_int_equal(T->used, NSLOTS);
	assert_null(T->slots[0].obj);
	/* A zeroed reference (slot 0) is never valid. */
	assert_int_equal(ott_ref_check(T, OTT_REF_NULL), -KE_STALE);
	assert_null(ott_lookup(T, OTT_REF_NULL));
}

static void test_one_slot_table_is_always_full(void **state)
{
	struct ott t;
	struct ott_slot slots[1];
	void *miss[OTT_GEN_ALIASES + 8];
	ott_ref_t r = OTT_REF_NULL;

	assert_int_equal(ott_init(&t, 1, slots, (struct object *)miss, host_miss_ops, 0), 0);
	assert_int_equal(ott_alloc(&t, probe(1), &probe_class, &r), -KE_NOSPC);
	assert_int_equal(host_locks_held, 0);
}

static void test_ref_entry_address(void **state)
{
	ott_ref_t r = alloc_ok(probe(1));
	ott_ref_t r2;

	assert_ptr_equal(r.entry, (void *)(T->cache_va + ((r.gen % OTT_GEN_ALIASES) * NSLOTS +
							  r.slot) * sizeof(void *)));
	assert_ptr_equal(r.entry, &host_cache(0)[r.slot]);
	/* After a free the next generation uses the other alias. */
	assert_int_equal(ott_free(T, r), 0);
	for (int i = 2; i < NSLOTS; i++)
		alloc_ok(probe(i));
	r2 = alloc_ok(probe(9));
	assert_int_equal(r2.slot, r.slot);
	assert_int_equal(r2.gen, 1);
	assert_ptr_equal(r2.entry, &host_cache(0)[NSLOTS + r.slot]);
	assert_ptr_not_equal(r2.entry, r.entry);
}

static void test_free_reuse_is_fifo(void **state)
{
	ott_ref_t a = alloc_ok(probe(1));	/* slot 1 */
	ott_ref_t b = alloc_ok(probe(2));	/* slot 2 */
	ott_ref_t r;

	assert_int_equal(ott_free(T, a), 0);
	assert_int_equal(T->used, 2);
	/* Slot 1 went to the back: 3..7 come first, then 1. */
	for (uint32_t s = 3; s < NSLOTS; s++) {
		r = alloc_ok(probe(s));
		assert_int_equal(r.slot, s);
	}
	r = alloc_ok(probe(10));
	assert_int_equal(r.slot, 1);
	assert_int_equal(r.gen, 1);
	/* Free two in order: they come back in that order. */
	assert_int_equal(ott_free(T, b), 0);
	assert_int_equal(ott_free(T, r), 0);
	r = alloc_ok(probe(11));
	assert_int_equal(r.slot, 2);
	r = alloc_ok(probe(12));
	assert_int_equal(r.slot, 1);
	assert_int_equal(r.gen, 2);
	assert_int_equal(ott_alloc(T, probe(13), &probe_class, &r), -KE_NOSPC);
}

static void test_free_errors(void **state)
{
	ott_ref_t a = alloc_ok(probe(1));
	ott_ref_t bad = a;

	bad.slot = NSLOTS;	/* out of the table */
	assert_int_equal(ott_free(T, bad), -KE_STALE);
	bad = a;
	bad.gen = a.gen + 1;	/* wrong generation */
	assert_int_equal(ott_free(T, bad), -KE_STALE);
	assert_int_equal(ott_free(T, OTT_REF_NULL), -KE_STALE);
	assert_int_equal(T->used, 2);
	assert_int_equal(ott_free(T, a), 0);
	assert_int_equal(T->used, 1);
	/* Double free. */
	assert_int_equal(ott_free(T, a), -KE_STALE);
	assert_int_equal(T->used, 1);
	assert_int_equal(host_locks_held, 0);
}

/* ---- caches and the miss path ----------------------------------------------------- */

static void test_add_cache_fills_with_miss_objects(void **state)
{
	struct ott t;
	struct ott_slot slots[4];
	void *miss[4 * OTT_GEN_ALIASES + 8];
	struct object *cache[4 * OTT_GEN_ALIASES + 1];
	struct object *spare[4 * OTT_GEN_ALIASES];

	assert_int_equal(ott_init(&t, 4, slots, (struct object *)miss, host_miss_ops,
				  (uintptr_t)cache), 0);
	memset(cache, 0xee, sizeof(cache));
	assert_int_equal(ott_add_cache(&t, cache), 0);
	for (size_t i = 0; i < 4 * OTT_GEN_ALIASES; i++)
		assert_ptr_equal(cache[i], (struct object *)&miss[i]);
	/* Exactly the cache's size is written. */
	assert_int_equal((uintptr_t)cache[4 * OTT_GEN_ALIASES], (uintptr_t)0xeeeeeeeeeeeeeeeeULL);
	assert_int_equal(t.ncaches, 1);
	assert_ptr_equal(t.caches[0], cache);

	for (unsigned int i = 1; i < OTT_MAX_CACHES; i++)
		assert_int_equal(ott_add_cache(&t, cache), 0);
	memset(spare, 0x11, sizeof(spare));
	assert_int_equal(ott_add_cache(&t, spare), -KE_NOSPC);
	assert_int_equal(t.ncaches, OTT_MAX_CACHES);
	/* A rejected cache is left alone. */
	for (size_t i = 0; i < 4 * OTT_GEN_ALIASES; i++)
		assert_int_equal((uintptr_t)spare[i], (uintptr_t)0x1111111111111111ULL);
}

static void test_miss_resolve_fills_current_hart(void **state)
{
	struct object *o = probe(3);
	ott_ref_t r = alloc_ok(o);
	struct object *miss = *r.entry;
	struct ott_resolution res;

	assert_ptr_equal(miss, host_miss_obj(T, r.slot));
	host_set_hart(T, 1);	/* hart 1 is running */
	res = ott_miss_resolve(T, miss, 1);
	assert_ptr_equal(res.obj, o);
	assert_ptr_equal((void *)res.fn, (void *)probe_add);
	assert_int_equal(T->misses, 1);
	assert_int_equal(T->stale_calls, 0);
	/* Hart 1's entry is filled, the others are still empty. */
	assert_ptr_equal(host_cache(1)[r.slot], o);
	assert_ptr_equal(host_cache(0)[r.slot], miss);
	assert_ptr_equal(host_cache(2)[r.slot], miss);
	/* The other alias of the slot is not touched. */
	assert_ptr_equal(host_cache(1)[NSLOTS + r.slot], host_miss_obj(T, NSLOTS + r.slot));

	res = ott_miss_resolve(T, miss, 2);
	assert_ptr_equal((void *)res.fn, (void *)probe_store);
	res = ott_miss_resolve(T, miss, 0);
	assert_ptr_equal((void *)res.fn, (void *)probe_id);
	assert_int_equal(T->misses, 3);
	assert_int_equal(hook_calls, 0);
	assert_int_equal(host_locks_held, 0);	/* the miss path is lock-free */
}

static void test_miss_resolve_rejects_bad_method_and_miss(void **state)
{
	struct object *o = probe(3);
	ott_ref_t r = alloc_ok(o);
	struct object *miss = *r.entry;
	struct ott_resolution res;
	void *outside[2];

	res = ott_miss_resolve(T, miss, OTT_MAX_METHODS);
	assert_ptr_equal((void *)res.fn, (void *)ott_stale_method);
	assert_ptr_equal(res.obj, miss);
	assert_int_equal(T->stale_calls, 1);
	assert_int_equal(hook_calls, 1);
	assert_int_equal(hook_method, OTT_MAX_METHODS);
	assert_int_equal(hook_slot, r.slot);
	assert_ptr_equal(*r.entry, miss);	/* not filled */

	/* A "miss object" past the end of the table. */
	res = ott_miss_resolve(T, host_miss_obj(T, NSLOTS * OTT_GEN_ALIASES), 0);
	assert_ptr_equal((void *)res.fn, (void *)ott_stale_method);
	/* And one that is not in the table at all. */
	res = ott_miss_resolve(T, (struct object *)outside, 0);
	assert_ptr_equal((void *)res.fn, (void *)ott_stale_method);
	assert_int_equal(T->stale_calls, 3);
	assert_int_equal(T->misses, 0);
	assert_int_equal(ott_stale_method(miss), -KE_STALE);
}

/* ---- whole calls ---------------------------------------------------------------------- */

static void test_call_miss_then_hit(void **state)
{
	struct object *o = probe(4);
	ott_ref_t r = alloc_ok(o);
	long out = 0;

	/* Miss: the stub of method 1 resolves and forwards the arguments. */
	assert_int_equal(call_add(r, 20, 3), 4023);
	assert_int_equal(host_miss_calls, 1);
	assert_int_equal(host_last_miss_method, 1);
	assert_int_equal(T->misses, 1);
	assert_ptr_equal(*r.entry, o);
	/* Hit: straight to the object, no stub. */
	assert_int_equal(call_add(r, 1, 2), 4003);
	assert_int_equal(call_id(r), 4);
	assert_int_equal(OTT_CALL(r, struct probe_ops, store, &out, 10), 7);
	assert_int_equal(out, 24);
	assert_int_equal(host_miss_calls, 1);
	assert_int_equal(T->misses, 1);
	assert_int_equal(probes[4].calls, 4);
}

static void test_call_reaches_right_object_among_many(void **state)
{
	ott_ref_t r[NSLOTS];

	for (long i = 1; i < NSLOTS; i++)
		r[i] = alloc_ok(probe(i));
	/* Misses (first call) and hits (second) alike land on the right object. */
	for (int pass = 0; pass < 2; pass++)
		for (long i = NSLOTS - 1; i >= 1; i--)
			assert_int_equal(call_id(r[i]), i);
	assert_int_equal(host_miss_calls, NSLOTS - 1);
	assert_int_equal(T->misses, NSLOTS - 1);
}

static void test_each_hart_fills_its_own_cache(void **state)
{
	struct object *o = probe(5);
	ott_ref_t r = alloc_ok(o);

	assert_int_equal(call_id(r), 5);		/* hart 0: miss */
	host_set_hart(T, 1);
	assert_int_equal(call_id(host_ref_on(T, r, 1)), 5);	/* hart 1: its own miss */
	assert_int_equal(host_miss_calls, 2);
	assert_int_equal(call_id(host_ref_on(T, r, 1)), 5);	/* hart 1: hit */
	assert_int_equal(host_miss_calls, 2);
	assert_ptr_equal(host_cache(0)[r.slot], o);
	assert_ptr_equal(host_cache(1)[r.slot], o);
	assert_ptr_equal(host_cache(2)[r.slot], host_miss_obj(T, r.slot));
}

/* ---- stale references ---------------------------------------------------------------------- */

static void test_stale_call_after_free(void **state)
{
	struct object *o = probe(6);
	ott_ref_t r = alloc_ok(o);
	ott_ref_t copy;

	assert_int_equal(call_id(r), 6);	/* cached on hart 0 */
	host_set_hart(T, 1);
	assert_int_equal(call_id(host_ref_on(T, r, 1)), 6);	/* and on hart 1 */
	host_set_hart(T, 0);
	copy = r;
	assert_int_equal(ott_free(T, r), 0);
	/* Every hart's translation was dropped. */
	assert_slot_empty_everywhere(r.slot);
	assert_int_equal(ott_ref_check(T, copy), -KE_STALE);
	assert_null(ott_lookup(T, copy));
	assert_null(ott_class_of(T, copy));

	probes[6].calls = 0;
	assert_int_equal(call_add(copy, 1, 1), -KE_STALE);
	assert_int_equal(probes[6].calls, 0);	/* the freed object is not called */
	assert_int_equal(hook_calls, 1);
	assert_int_equal(hook_slot, r.slot);
	assert_int_equal(hook_alias, r.gen % OTT_GEN_ALIASES);
	assert_int_equal(hook_method, 1);
	assert_int_equal(T->stale_calls, 1);
	/* The stale entry stays empty: every later call is caught too. */
	assert_ptr_equal(*copy.entry, host_miss_obj(T, host_entry_index(T, copy)));
	assert_int_equal(call_id(copy), -KE_STALE);
	assert_int_equal(hook_calls, 2);
	assert_int_equal(hook_method, 0);
	/* ...also on another hart. */
	host_set_hart(T, 2);
	assert_int_equal(call_id(host_ref_on(T, copy, 2)), -KE_STALE);
	assert_int_equal(T->stale_calls, 3);
}

static void test_stale_without_hook(void **state)
{
	ott_ref_t r = alloc_ok(probe(1));

	ott_stale_hook = NULL;
	assert_int_equal(ott_free(T, r), 0);
	assert_int_equal(call_id(r), -KE_STALE);
	assert_int_equal(T->stale_calls, 1);
	assert_int_equal(hook_calls, 0);
}

static void test_stale_after_slot_reused(void **state)
{
	struct object *old = probe(1);
	struct object *fresh = probe(2);
	ott_ref_t r = alloc_ok(old);
	ott_ref_t n;

	assert_int_equal(call_id(r), 1);
	assert_int_equal(ott_free(T, r), 0);
	/* Make the freed slot come round again. */
	for (long i = 3; i <= NSLOTS; i++)
		alloc_ok(probe(i));
	n = alloc_ok(fresh);
	assert_int_equal(n.slot, r.slot);
	assert_int_not_equal(n.gen, r.gen);

	assert_int_equal(call_id(n), 2);
	assert_int_equal(call_id(r), -KE_STALE);
	assert_int_equal(call_id(n), 2);	/* the stale call did not disturb it */
	assert_int_equal(ott_ref_check(T, r), -KE_STALE);
	assert_int_equal(ott_ref_check(T, n), 0);
	assert_null(ott_lookup(T, r));
	assert_ptr_equal(ott_lookup(T, n), fresh);
	assert_null(ott_class_of(T, r));
	assert_ptr_equal(ott_class_of(T, n), &probe_class);
	/* The old reference can neither free nor replace the new object. */
	assert_int_equal(ott_free(T, r), -KE_STALE);
	assert_null(ott_replace(T, r, probe(15)));
	assert_ptr_equal(ott_lookup(T, n), fresh);
	assert_int_equal(call_id(n), 2);
	/* The new generation's reference goes stale in its own alias. */
	hook_calls = 0;
	assert_int_equal(ott_free(T, n), 0);
	assert_int_equal(call_add(n, 1, 2), -KE_STALE);
	assert_int_equal(hook_calls, 1);
	assert_int_equal(hook_slot, n.slot);
	assert_int_equal(hook_alias, 1);
	assert_int_equal(hook_method, 1);
}

/*
 * The documented limit of the zero-cost stale check (ott.h): after the
 * slot has been reused OTT_GEN_ALIASES times, an old reference names a
 * filled entry again and the fast path cannot tell; ott_ref_check() still
 * can, since it compares the full generation.
 */
static void test_stale_alias_after_two_reuses(void **state)
{
	ott_ref_t r = alloc_ok(probe(1));
	ott_ref_t n;

	assert_int_equal(ott_free(T, r), 0);
	for (long i = 2; i < NSLOTS; i++)
		alloc_ok(probe(i));		/* slots 2..7 */
	n = alloc_ok(probe(8));			/* slot 1, gen 1 */
	assert_int_equal(call_id(r), -KE_STALE);	/* one reuse: caught on the slow path */
	assert_int_equal(ott_free(T, n), 0);
	n = alloc_ok(probe(9));			/* slot 1, gen 2 */
	assert_int_equal(n.slot, r.slot);
	assert_int_equal(n.gen, r.gen + 2);
	assert_int_equal(ott_ref_check(T, r), -KE_STALE);	/* the full check knows */
	assert_int_equal(call_id(r), 9);		/* the fast path aliases, as documented */
}

/* ---- replace, invalidate, forget ------------------------------------------------------------ */

static void test_replace_redirects_every_hart(void **state)
{
	struct object *v1 = probe(1);
	struct object *v2 = probe(2);
	ott_ref_t r = alloc_ok(v1);
	ott_ref_t other = alloc_ok(probe(3));

	/* Hart 0 and hart 2 have the translation cached, hart 1 not. */
	assert_int_equal(call_add(r, 0, 5), 1005);
	assert_int_equal(call_id(other), 3);
	host_set_hart(T, 2);
	assert_int_equal(call_add(host_ref_on(T, r, 2), 0, 5), 1005);
	host_set_hart(T, 0);
	assert_ptr_equal(host_cache(0)[r.slot], v1);
	assert_ptr_equal(host_cache(2)[r.slot], v1);

	assert_ptr_equal(ott_replace(T, r, v2), v1);
	assert_int_equal(host_locks_held, 0);
	assert_int_equal(v2->slot, r.slot);
	assert_slot_empty_everywhere(r.slot);
	/* Other slots keep their translations. */
	assert_ptr_equal(host_cache(0)[other.slot], &probes[3].obj);
	/* The reference stays valid and now names v2. */
	assert_int_equal(ott_ref_check(T, r), 0);
	assert_ptr_equal(ott_lookup(T, r), v2);
	assert_ptr_equal(ott_class_of(T, r), &probe_class);

	host_miss_calls = 0;
	assert_int_equal(call_add(r, 0, 5), 2005);	/* miss, then v2 */
	assert_int_equal(host_miss_calls, 1);
	assert_int_equal(call_add(r, 0, 6), 2006);	/* hit on v2 */
	assert_int_equal(host_miss_calls, 1);
	host_set_hart(T, 2);
	assert_int_equal(call_id(host_ref_on(T, r, 2)), 2);
	host_set_hart(T, 1);
	assert_int_equal(call_id(host_ref_on(T, r, 1)), 2);
	assert_int_equal(host_miss_calls, 3);
	/* Replace back: the old object returned is v2. */
	host_set_hart(T, 0);
	assert_ptr_equal(ott_replace(T, r, v1), v2);
	assert_int_equal(call_id(r), 1);
	assert_int_equal(T->stale_calls, 0);
}

static void test_replace_errors(void **state)
{
	struct object *v1 = probe(1);
	ott_ref_t r = alloc_ok(v1);
	ott_ref_t bad = r;

	assert_int_equal(call_id(r), 1);
	assert_null(ott_replace(T, r, NULL));
	bad.gen++;
	assert_null(ott_replace(T, bad, probe(2)));
	assert_null(ott_replace(T, OTT_REF_NULL, probe(2)));
	assert_int_equal(host_locks_held, 0);
	/* Nothing changed: still v1, still cached. */
	assert_ptr_equal(ott_lookup(T, r), v1);
	assert_ptr_equal(*r.entry, v1);
	assert_int_equal(probes[2].obj.slot, 0);
	/* A freed slot cannot be replaced. */
	assert_int_equal(ott_free(T, r), 0);
	assert_null(ott_replace(T, r, probe(2)));
	assert_null(T->slots[r.slot].obj);
}

static void test_invalidate_one_slot_all_harts(void **state)
{
	ott_ref_t a = alloc_ok(probe(1));
	ott_ref_t b = alloc_ok(probe(2));

	for (unsigned int h = 0; h < NHARTS; h++) {
		host_set_hart(T, h);
		assert_int_equal(call_id(host_ref_on(T, a, h)), 1);
		assert_int_equal(call_id(host_ref_on(T, b, h)), 2);
	}
	host_set_hart(T, 0);
	/* Also put something in a's other alias, as a stale fill would. */
	host_cache(1)[NSLOTS + a.slot] = &probes[1].obj;
	ott_invalidate(T, a.slot);
	assert_slot_empty_everywhere(a.slot);
	for (unsigned int h = 0; h < NHARTS; h++)
		assert_ptr_equal(host_cache(h)[b.slot], &probes[2].obj);
	/* Invalidation is not a free: the next call misses and gets a again. */
	host_miss_calls = 0;
	assert_int_equal(call_id(a), 1);
	assert_int_equal(host_miss_calls, 1);
	assert_int_equal(call_id(b), 2);
	assert_int_equal(host_miss_calls, 1);
	assert_int_equal(ott_ref_check(T, a), 0);
}

static void test_forget_local_only_this_hart(void **state)
{
	ott_ref_t a = alloc_ok(probe(1));
	ott_ref_t b = alloc_ok(probe(2));

	assert_int_equal(call_id(a), 1);
	assert_int_equal(call_id(b), 2);
	host_set_hart(T, 1);
	assert_int_equal(call_id(host_ref_on(T, a, 1)), 1);
	host_set_hart(T, 0);

	ott_forget_local(T, a);
	assert_ptr_equal(host_cache(0)[a.slot], host_miss_obj(T, a.slot));
	assert_ptr_equal(host_cache(1)[a.slot], &probes[1].obj);	/* hart 1 keeps it */
	assert_ptr_equal(host_cache(0)[b.slot], &probes[2].obj);	/* other slot kept */
	host_miss_calls = 0;
	assert_int_equal(call_id(a), 1);
	assert_int_equal(host_miss_calls, 1);
	assert_int_equal(T->stale_calls, 0);
}

static void test_miss_resolve_stale_clears_entry(void **state)
{
	/*
	 * If a hart's entry for a dead generation somehow holds an object
	 * (a racing fill), resolving through its miss object puts the miss
	 * object back rather than leaving the old translation in place.
	 */
	struct object *o = probe(1);
	ott_ref_t r = alloc_ok(o);
	struct object *miss = host_miss_obj(T, host_entry_index(T, r));
	struct ott_resolution res;

	assert_int_equal(ott_free(T, r), 0);
	host_cache(0)[r.slot] = o;
	res = ott_miss_resolve(T, miss, 0);
	assert_ptr_equal((void *)res.fn, (void *)ott_stale_method);
	assert_ptr_equal(host_cache(0)[r.slot], miss);
}

/* ---- engine accessors ------------------------------------------------------------------------ */

static void test_slot_ref_and_object(void **state)
{
	struct object *o = probe(1);
	ott_ref_t r = alloc_ok(o);
	ott_ref_t s;

	s = ott_slot_ref(T, r.slot);
	assert_ptr_equal(s.entry, r.entry);
	assert_int_equal(s.slot, r.slot);
	assert_int_equal(s.gen, r.gen);
	assert_int_equal(call_id(s), 1);
	assert_ptr_equal(ott_slot_object(T, r.slot), o);
	assert_null(ott_slot_object(T, 0));
	assert_null(ott_slot_object(T, r.slot + 1));	/* free */
	assert_null(ott_slot_object(T, NSLOTS));	/* out of the table */
	assert_null(ott_slot_object(T, UINT32_MAX));

	/* After a free the slot's reference is the next generation's. */
	assert_int_equal(ott_free(T, r), 0);
	assert_null(ott_slot_object(T, r.slot));
	s = ott_slot_ref(T, r.slot);
	assert_int_equal(s.gen, r.gen + 1);
	assert_ptr_equal(s.entry, &host_cache(0)[NSLOTS + r.slot]);
	assert_int_equal(ott_ref_check(T, s), -KE_STALE);	/* nothing in it */
}

#define T_(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T_(test_sizes),
		T_(test_init_rejects_bad_args),
		T_(test_init_state),
		T_(test_alloc_rejects_null),
		T_(test_alloc_never_slot0_then_full),
		T_(test_one_slot_table_is_always_full),
		T_(test_ref_entry_address),
		T_(test_free_reuse_is_fifo),
		T_(test_free_errors),
		T_(test_add_cache_fills_with_miss_objects),
		T_(test_miss_resolve_fills_current_hart),
		T_(test_miss_resolve_rejects_bad_method_and_miss),
		T_(test_call_miss_then_hit),
		T_(test_call_reaches_right_object_among_many),
		T_(test_each_hart_fills_its_own_cache),
		T_(test_stale_call_after_free),
		T_(test_stale_without_hook),
		T_(test_stale_after_slot_reused),
		T_(test_replace_redirects_every_hart),
		T_(test_replace_errors),
		T_(test_invalidate_one_slot_all_harts),
		T_(test_forget_local_only_this_hart),
		T_(test_miss_resolve_stale_clears_entry),
		T_(test_slot_ref_and_object),
		T_(test_stale_alias_after_two_reuses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
