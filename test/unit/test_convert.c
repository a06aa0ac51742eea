// unit-srcs: update/convert.c update/convert_walk.c src/unwind.c src/factory.c src/ott.c test/unit/convert_harness.c test/unit/host_stubs.c test/unit/hostinc/host_target.c
// unit-libs: -lpthread
// unit-cflags: -Itest/unit/hostinc
/*
 * Host tests of update/convert.c, the per-instance part of a live update:
 * the dispatch states a version's table takes (cv_set_state), calls
 * counted per instance in the forward phase (nested, per thread, two
 * objects), converting an instance on its next call (transfer chain, OTT
 * slot, list position, live counts, deferred free, re-entrant and busy
 * calls, the claim protocol, a transient allocation failure, a static
 * instance, blackout figures), and the eager walk (convert_walk.c:
 * convert_all and friends). The harness is convert_harness.h; rollback,
 * a second hart and faults are in test_convert_{rollback,harts,faults}.c.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <pthread.h>
#include <cmocka.h>

#include <kernel/convert.h>
#include <kernel/update_engine.h>
#include <kernel/object.h>
#include <kernel/ott.h>
#include <kernel/thread.h>
#include <kernel/hart.h>
#include <kernel/riscv.h>
#include <kernel/timer.h>
#include <kernel/mem.h>
#include <kernel/errno.h>
#include <kernel/trap.h>
#include <kernel/unwind.h>
#include "host_stubs.h"
#include "convert_harness.h"

/* ---- cv_set_state ------------------------------------------------------------------- */

static void test_set_state_fills_dispatch(void **state)
{
	struct fx *x = fx_new();
	struct class_version *v1 = &x->f.first, *v2 = fx_load(x, 2, false);
	static const int stub_states[] = { CV_FORWARD, CV_CONVERT, CV_PROBATION, CV_REVERT };

	for (unsigned int s = 0; s < 4; s++) {
		cv_set_state(v1, stub_states[s]);
		assert_int_equal(v1->state, stub_states[s]);
		for (unsigned int i = 0; i < OTT_MAX_METHODS; i++)
			assert_ptr_equal((void *)v1->dispatch[i], (void *)lazy_stub_ops[i]);
		cv_set_state(v1, CV_CURRENT);
		assert_int_equal(v1->state, CV_CURRENT);
		assert_ptr_equal((void *)v1->dispatch[M_GET], (void *)get_v1);
		assert_ptr_equal((void *)v1->dispatch[M_ADD], (void *)add_v1);
		assert_ptr_equal((void *)v1->dispatch[M_REENTER], (void *)reenter_v1);
		assert_ptr_equal((void *)v1->dispatch[M_HOOK], (void *)hook_v1);
		/* Beyond nmethods (v1 has no ver): -KE_NOSYS. */
		for (unsigned int i = 4; i < OTT_MAX_METHODS; i++)
			assert_ptr_equal((void *)v1->dispatch[i], (void *)object_nosys);
	}
	cv_set_state(v2, CV_PROBATION);
	for (unsigned int i = 0; i < OTT_MAX_METHODS; i++)
		assert_ptr_equal((void *)v2->dispatch[i], (void *)lazy_stub_ops[i]);
	cv_set_state(v2, CV_CURRENT);
	assert_ptr_equal((void *)v2->dispatch[M_VER], (void *)ver_v2);
	assert_ptr_equal((void *)v2->dispatch[5], (void *)object_nosys);
	assert_ptr_equal((void *)v2->dispatch[OTT_MAX_METHODS - 1], (void *)object_nosys);
}

static void test_set_state_null_method_is_nosys(void **state)
{
	static const struct ctr_ops holey = { get_v1, NULL, reenter_v1, NULL, NULL };
	struct fx *x = fx_new();
	struct class_version *v2;
	ott_ref_t r;

	x->cls[2].ops = &holey;
	x->cls[2].nmethods = 5;
	r = mk(x, 3);
	v2 = fx_update(x, 2, false, false);
	assert_ptr_equal((void *)v2->dispatch[M_ADD], (void *)object_nosys);
	assert_ptr_equal((void *)v2->dispatch[M_HOOK], (void *)object_nosys);
	assert_ptr_equal((void *)v2->dispatch[M_VER], (void *)object_nosys);
	/* The converting call itself answers -KE_NOSYS for a hole, through the stub. */
	assert_int_equal(r_add(r, 1), -KE_NOSYS);
	assert_int_equal(obj(r)->version, 2);
	assert_int_equal(r_get(r), 3);
}

/* ---- FORWARD ---------------------------------------------------------------------------- */

static void test_forward_counts_and_runs_old(void **state)
{
	struct fx *x = fx_new();
	ott_ref_t r = mk(x, 40);
	struct object *o = obj(r);
	struct ip_frame sentinel = { 0 };

	fx_forward(x);
	assert_int_equal(x->f.first.state, CV_FORWARD);
	harts[0].ip_top = &sentinel.node;	/* an outer context's chain must come back */
	assert_int_equal(r_add(r, 2), 42);
	assert_int_equal(last_version, 1);
	assert_ptr_equal(last_self, o);
	assert_int_equal(last_inflight, 1);	/* counted while it runs */
	assert_non_null(last_top);
	assert_ptr_not_equal(last_top, &sentinel);
	assert_ptr_equal(last_frame.node.prev, &sentinel.node);
	assert_int_equal(last_frame.method, M_ADD);
	assert_int_equal(last_frame.a[1], 2);
	assert_ptr_equal((void *)(uintptr_t)last_frame.a[0], o);
	assert_ptr_equal((void *)(uintptr_t)last_frame.node.cookie, o);
	assert_int_equal(stub_calls, 1);
	assert_int_equal(o->inflight, 0);	/* uncounted after */
	assert_ptr_equal(harts[0].ip_top, &sentinel.node);
	harts[0].ip_top = NULL;
	/* Nothing converts in FORWARD. */
	assert_ptr_equal(obj(r), o);
	assert_int_equal(nxfers, 0);
	assert_int_equal(host_ndeferred, 0);

	/* In a thread, the frames go on the thread's chain, not the hart's. */
	harts[0].cur = &fake_thread;
	assert_int_equal(r_get(r), 42);
	assert_int_equal(last_inflight, 1);
	assert_non_null(last_top);
	assert_null(fake_thread.ip_top);
	assert_null(harts[0].ip_top);
	harts[0].cur = NULL;
	assert_int_equal(o->inflight, 0);
}

static struct unwind_node *seen_thread_top, *seen_hart_top;
static uint64_t seen_thread_cookie;

static long hook_see_chains(struct object *self, int v, long arg)
{
	seen_thread_top = fake_thread.ip_top;
	seen_thread_cookie = seen_thread_top ? seen_thread_top->cookie : 0;
	seen_hart_top = harts[0].ip_top;
	return 7;
}

static void test_forward_thread_chain(void **state)
{
	struct fx *x = fx_new();
	ott_ref_t r = mk(x, 1);

	fx_forward(x);
	hook_fn = hook_see_chains;
	harts[0].cur = &fake_thread;
	assert_int_equal(r_hook(r, 0), 7);
	assert_non_null(seen_thread_top);
	assert_null(seen_hart_top);
	assert_ptr_equal((struct object *)(uintptr_t)seen_thread_cookie, obj(r));
	harts[0].cur = NULL;
	assert_int_equal(r_hook(r, 0), 7);
	assert_null(seen_thread_top);
	assert_non_null(seen_hart_top);
	assert_null(harts[0].ip_top);
	assert_null(fake_thread.ip_top);
}

static void test_forward_nested_counts(void **state)
{
	struct fx *x = fx_new();
	ott_ref_t r = mk(x, 1);
	struct object *o = obj(r);

	fx_forward(x);
	memset(inflight_at, 0, sizeof(inflight_at));
	assert_int_equal(r_reenter(r, 3), 4);
	/* Depth 3 is the outermost call, depth 0 the innermost. */
	assert_int_equal(inflight_at[3], 1);
	assert_int_equal(inflight_at[2], 2);
	assert_int_equal(inflight_at[1], 3);
	assert_int_equal(inflight_at[0], 4);
	assert_int_equal(chain_len_at[3], 1);
	assert_int_equal(chain_len_at[0], 4);
	assert_ptr_equal(top_prev_at[0], top_at[1]);
	assert_ptr_equal(top_prev_at[1], top_at[2]);
	assert_ptr_equal(top_prev_at[2], top_at[3]);
	assert_null(top_prev_at[3]);
	assert_int_equal(o->inflight, 0);
	assert_null(harts[0].ip_top);
	assert_int_equal(stub_calls, 4);
	assert_int_equal(ran[1], 4);
}

static ott_ref_t other_ref;

static long hook_call_other(struct object *self, int v, long arg)
{
	struct object *other = obj(other_ref);
	long r;

	r = r_get(other_ref);
	/* The other object's call is counted on its own and is over now. */
	assert_int_equal(last_inflight, 1);
	assert_int_equal(other->inflight, 0);
	assert_int_equal(self->inflight, 1);
	return r;
}

static void test_forward_two_objects(void **state)
{
	struct fx *x = fx_new();
	ott_ref_t a = mk(x, 1);

	other_ref = mk(x, 99);
	fx_forward(x);
	hook_fn = hook_call_other;
	assert_int_equal(r_hook(a, 0), 99);
	assert_int_equal(obj(a)->inflight, 0);
	assert_null(harts[0].ip_top);
}

/* ---- CONVERT ------------------------------------------------------------------------------ */

static void test_convert_on_first_call(void **state)
{
	struct fx *x = fx_new();
	ott_ref_t a = mk(x, 10), b = mk(x, 20), c = mk(x, 30);
	struct object *ob = obj(b), *nb;
	struct class_version *v1 = &x->f.first, *v2;
	ott_ref_t b_on_1 = host_ref_on(&kernel_ott, b, 1);
	long live0;

	/* Hart 1 has a cached translation of b. */
	use_hart(1);
	assert_int_equal(r_get(b_on_1), 20);
	assert_ptr_equal(host_cache(1)[host_entry_index(&kernel_ott, b)], ob);
	use_hart(0);

	v2 = fx_update(x, 2, false, false);
	assert_int_equal(v1->state, CV_CONVERT);
	assert_int_equal(v2->state, CV_CURRENT);
	assert_int_equal(convert_pending(&x->f), 3);
	live0 = host_live_allocs;

	assert_int_equal(r_add(b, 1), 21);
	nb = obj(b);
	/* A new object from the current version, transfer run once with (old, new). */
	assert_ptr_not_equal(nb, ob);
	assert_int_equal(nxfers, 1);
	assert_ptr_equal(xfers[0].old, ob);
	assert_ptr_equal(xfers[0].new, nb);
	assert_int_equal(xfers[0].from, 1);
	assert_int_equal(xfers[0].to, 2);
	assert_false(xfers[0].irq_on);			/* transfer with interrupts off */
	assert_ptr_equal(xfers[0].converting, ob);
	assert_int_equal(xfers[0].old_inflight, OBJ_CLAIMED);
	assert_true(host_irq_on);
	assert_null(harts[0].converting);
	/* The call then ran on the new version. */
	assert_int_equal(last_version, 2);
	assert_ptr_equal(last_self, nb);
	assert_ptr_equal(nb->ops, v2->dispatch);
	assert_int_equal(nb->version, 2);
	assert_int_equal(nb->slot, b.slot);
	assert_ptr_equal(nb->factory, &x->f);
	assert_int_equal(nb->inflight, 0);
	assert_null(nb->prev);
	/* The slot, every hart's cache, the list position, the counters. */
	assert_ptr_equal(ott_slot_object(&kernel_ott, b.slot), nb);
	assert_ptr_equal(host_cache(1)[host_entry_index(&kernel_ott, b)],
			 host_miss_obj(&kernel_ott, host_entry_index(&kernel_ott, b)));
	assert_int_equal(list_pos(x, obj(a)), 0);
	assert_int_equal(list_pos(x, nb), 1);
	assert_int_equal(list_pos(x, obj(c)), 2);
	assert_int_equal(list_len(x), 3);
	assert_int_equal(v1->live, 2);
	assert_int_equal(v2->live, 1);
	assert_int_equal(x->f.converted, 1);
	assert_int_equal(x->f.count, 3);
	assert_int_equal(convert_pending(&x->f), 2);
	/* The old state only goes after quiescence. */
	assert_int_equal(host_live_allocs, live0 + 1);
	assert_int_equal(host_ndeferred, 1);
	assert_ptr_equal(host_deferred[0], ob);
	assert_int_equal(ob->inflight, OBJ_CLAIMED);	/* nobody converts it again */
	assert_ptr_equal(ob->node.next, &ob->node);

	/* Further calls go straight to the new version. */
	stub_calls = 0;
	assert_int_equal(r_get(b), 21);
	assert_int_equal(r_ver(b), 2);
	assert_int_equal(stub_calls, 0);
	assert_int_equal(nxfers, 1);
	use_hart(1);
	assert_int_equal(r_get(b_on_1), 21);
	assert_int_equal(last_version, 2);
	use_hart(0);

	/* A method v1 lacks converts the instance first, then answers. */
	assert_int_equal(r_ver(a), 2);
	assert_int_equal(obj(a)->version, 2);
	assert_int_equal(nxfers, 2);
	assert_int_equal(r_get(c), 30);
	assert_int_equal(convert_pending(&x->f), 0);
	assert_int_equal(v1->live, 0);
	assert_int_equal(v2->live, 3);

	host_defer_flush();
	assert_int_equal(host_live_allocs, live0);
}

static void test_convert_stale_pointer_follows(void **state)
{
	struct fx *x = fx_new();
	ott_ref_t r = mk(x, 5);
	struct object *o = obj(r), *n;

	fx_update(x, 2, false, false);
	assert_int_equal(r_get(r), 5);
	n = obj(r);
	assert_ptr_not_equal(n, o);
	/* A caller that loaded the old object before the conversion runs on the new one. */
	assert_int_equal(o_add(o, 3), 8);
	assert_ptr_equal(last_self, n);
	assert_int_equal(last_version, 2);
	assert_int_equal(nxfers, 1);
	assert_int_equal(st(n)->value, 8);
	assert_int_equal(o->inflight, OBJ_CLAIMED);
	/* Once the instance is destroyed, such a call is stale. */
	assert_int_equal(factory_destroy(&x->f, r), 0);
	assert_int_equal(o_get(o), -KE_STALE);
	assert_int_equal(nxfers, 1);
}

static void test_convert_chain_of_versions(void **state)
{
	struct fx *x = fx_new();
	ott_ref_t r = mk(x, 11);
	struct object *o = obj(r), *n;
	struct class_version *v1 = &x->f.first, *v2, *v3;
	long live0 = host_live_allocs;

	/* One pack v1 -> v2 -> v3: v2 never gets instances of its own. */
	v2 = fx_load(x, 2, false);
	v3 = fx_load(x, 3, false);
	fx_forward(x);
	fx_switch(x, v3, false);
	assert_int_equal(v1->state, CV_CONVERT);
	assert_int_equal(v2->state, CV_CURRENT);	/* no instance: untouched */

	assert_int_equal(r_add(r, 1), 12);
	n = obj(r);
	assert_int_equal(nxfers, 2);
	assert_ptr_equal(xfers[0].old, o);
	assert_int_equal(xfers[0].from, 1);
	assert_int_equal(xfers[0].to, 2);
	assert_ptr_equal(xfers[1].old, xfers[0].new);
	assert_ptr_equal(xfers[1].new, n);
	assert_int_equal(xfers[1].from, 2);
	assert_int_equal(xfers[1].to, 3);
	assert_int_equal(last_version, 3);
	assert_ptr_equal(n->ops, v3->dispatch);
	assert_int_equal(n->version, 3);
	assert_int_equal(v1->live, 0);
	assert_int_equal(v2->live, 0);
	assert_int_equal(v3->live, 1);
	/* The intermediate state is gone already, the old one waits for quiescence. */
	assert_int_equal(host_live_allocs, live0 + 1);
	assert_true(deferred(o));
	assert_int_equal(host_ndeferred, 1);
}

static long hook_switch_and_reenter(struct object *self, int v, long arg)
{
	struct fx *x = (struct fx *)(uintptr_t)arg;
	long r;

	/* The update happens while this call is in the old version, counted. */
	fx_switch(x, fx_load(x, 2, false), false);
	r = r_get(st(self)->ref);
	/* Not converted: it ran on this version, counted twice, no deadlock. */
	assert_int_equal(last_version, 1);
	assert_ptr_equal(last_self, self);
	assert_int_equal(last_inflight, 2);
	assert_int_equal(nxfers, 0);
	assert_ptr_equal(obj(st(self)->ref), self);
	return r + 100;
}

static void test_convert_reentrant_call_runs_old(void **state)
{
	struct fx *x = fx_new();
	ott_ref_t r = mk(x, 4);
	struct object *o = obj(r);

	fx_forward(x);
	hook_fn = hook_switch_and_reenter;
	assert_int_equal(r_hook(r, (long)(uintptr_t)x), 104);
	assert_int_equal(o->inflight, 0);
	assert_null(harts[0].ip_top);
	assert_ptr_equal(obj(r), o);
	assert_int_equal(nxfers, 0);
	/* It converts on a later call. */
	assert_int_equal(r_get(r), 4);
	assert_int_equal(nxfers, 1);
	assert_int_equal(last_version, 2);
	assert_ptr_not_equal(obj(r), o);
}

static void test_convert_busy_runs_old_counted(void **state)
{
	struct fx *x = fx_new();
	ott_ref_t r = mk(x, 9);
	struct object *o = obj(r);

	fx_update(x, 2, false, false);
	o->inflight = 1;	/* another context is in a counted call */
	assert_int_equal(r_add(r, 1), 10);
	assert_int_equal(last_version, 1);
	assert_int_equal(last_inflight, 2);
	assert_int_equal(o->inflight, 1);
	assert_int_equal(nxfers, 0);
	assert_ptr_equal(obj(r), o);
	o->inflight = 0;	/* it returned */
	assert_int_equal(r_get(r), 10);
	assert_int_equal(last_version, 2);
	assert_int_equal(nxfers, 1);
}

static void test_convert_claim_protocol(void **state)
{
	struct fx *x = fx_new();
	ott_ref_t r = mk(x, 1);
	struct object *o = obj(r), *n = NULL, *n2 = NULL;
	struct class_version *v1 = &x->f.first, *v2;
	long live0 = host_live_allocs;

	v2 = fx_update(x, 2, false, false);
	/* Claimed by another converter. */
	o->inflight = OBJ_CLAIMED;
	assert_int_equal(convert_instance(o, &n), -KE_ALREADY);
	assert_null(n);
	/* A count held. */
	o->inflight = 1;
	assert_int_equal(convert_instance(o, &n), -KE_BUSY);
	assert_int_equal(o->inflight, 1);
	o->inflight = 3;
	assert_int_equal(convert_instance(o, &n), -KE_BUSY);
	o->inflight = 0;
	assert_null(n);
	assert_int_equal(nxfers, 0);
	assert_int_equal(host_live_allocs, live0);
	assert_true(host_irq_on);

	/* The target is its own version (a rollback made it current again). */
	__atomic_store_n(&x->f.cur, v1, __ATOMIC_RELEASE);
	assert_int_equal(convert_instance(o, &n), -KE_EXIST);
	assert_int_equal(o->inflight, 0);
	/* ... and a call just runs there, counted. */
	assert_int_equal(r_add(r, 1), 2);
	assert_int_equal(last_version, 1);
	assert_int_equal(last_inflight, 1);
	assert_int_equal(o->inflight, 0);
	__atomic_store_n(&x->f.cur, v2, __ATOMIC_RELEASE);

	assert_int_equal(convert_instance(o, &n), 0);
	assert_non_null(n);
	assert_ptr_equal(obj(r), n);
	assert_int_equal(st(n)->value, 2);
	/* The old object stays claimed: a second converter backs off. */
	assert_int_equal(convert_instance(o, &n2), -KE_ALREADY);
	assert_null(n2);
	assert_int_equal(nxfers, 1);
	/* The new one is current: nothing to do. */
	assert_int_equal(convert_instance(n, &n2), -KE_EXIST);
}

static long reentry_result;

static int xfer_calls_self(const struct object *old, struct object *new)
{
	/* A transfer calling its own object: old version, uncounted. */
	reentry_result = r_get(((const struct ctr *)old)->ref);
	assert_int_equal(last_version, 1);
	assert_ptr_equal(last_self, old);
	assert_int_equal(last_inflight, OBJ_CLAIMED);
	return 0;
}

static void test_convert_transfer_reenters_uncounted(void **state)
{
	struct fx *x = fx_new();
	ott_ref_t r = mk(x, 77);
	struct object *o = obj(r);

	fx_update(x, 2, false, false);
	xfer_hook = xfer_calls_self;
	reentry_result = 0;
	assert_int_equal(r_get(r), 77);
	assert_int_equal(reentry_result, 77);
	assert_int_equal(nxfers, 1);
	assert_int_equal(last_version, 2);
	assert_ptr_not_equal(obj(r), o);
	assert_null(harts[0].converting);
}

static void test_convert_transient_nomem(void **state)
{
	struct fx *x = fx_new();
	ott_ref_t r = mk(x, 5);
	struct object *o = obj(r), *n = NULL;
	long live0 = host_live_allocs;

	fx_update(x, 2, false, false);
	host_alloc_fail_in = 1;
	assert_int_equal(convert_instance(o, &n), -KE_NOMEM);
	assert_int_equal(o->inflight, 0);	/* released */
	assert_ptr_equal(obj(r), o);
	assert_int_equal(host_live_allocs, live0);
	assert_true(host_irq_on);
	assert_null(harts[0].converting);
	/* A lazy call meeting a failed allocation still gets its answer ... */
	host_alloc_fail_in = 1;
	assert_int_equal(r_get(r), 5);
	assert_int_equal(host_alloc_fail_in, 0);
	/* ... and the instance converts once memory is there. */
	assert_int_equal(r_get(r), 5);
	assert_int_equal(last_version, 2);
	assert_int_equal(obj(r)->version, 2);
	assert_int_equal(nxfers, 1);
}

static void test_convert_static_instance(void **state)
{
	static struct ctr dev;
	struct fx *x = fx_new();
	ott_ref_t r = OTT_REF_NULL;
	long arg = 8;
	struct object *n;

	memset(&dev, 0, sizeof(dev));
	assert_int_equal(factory_adopt(&x->f, &dev.obj, &arg, &r), 0);
	dev.ref = r;
	fx_update(x, 2, false, false);
	assert_int_equal(r_get(r), 8);
	n = obj(r);
	assert_ptr_not_equal(n, &dev.obj);
	assert_int_equal(n->flags & OBJ_STATIC, 0);
	assert_false(deferred(&dev.obj));	/* never freed */
	assert_int_equal(host_ndeferred, 0);
}

static void test_convert_blackout_figures(void **state)
{
	struct fx *x = fx_new();
	ott_ref_t r = mk(x, 1);
	uint64_t b9 = blackout_stats.conversions[9];

	fx_update(x, 2, false, false);
	/* Every read of the clock moves it 1000 ticks: the conversion reads it twice. */
	host_clock_step = 1000;
	assert_int_equal(r_get(r), 1);
	host_clock_step = 0;
	assert_int_equal(convert_max_blackout_ticks(false), 1000);
	assert_int_equal(blackout_stats.max_conversion, 1000);
	assert_int_equal(blackout_stats.conversions[9], b9 + 1);	/* [512, 1024) */
	assert_int_equal(convert_max_blackout_ticks(true), 1000);
	assert_int_equal(convert_max_blackout_ticks(false), 0);
}

/* ---- convert_all & co ---------------------------------------------------------------------- */

static void test_convert_all_many(void **state)
{
	struct fx *x;
	struct class_version *v1, *v2;
	struct list_head *pos;
	unsigned long locks0, i = 0;
	long live0;

	host_ott_setup(&kernel_ott, BIG_N + 16, 2);
	x = fx_new();
	for (long k = 0; k < BIG_N; k++)
		mk(x, k);
	v1 = &x->f.first;
	v2 = fx_update(x, 2, false, false);
	/* Calls in FORWARD/PROBATION versions are not "stale": only CONVERT/REVERT. */
	assert_int_equal(convert_pending(&x->f), BIG_N);
	live0 = host_live_allocs;
	locks0 = host_lock_ops;
	stub_calls = 0;
	assert_int_equal(convert_all(&x->f, 1000000), 0);
	assert_int_equal(nxfers, BIG_N);
	assert_int_equal(convert_pending(&x->f), 0);
	assert_int_equal(v1->live, 0);
	assert_int_equal(v2->live, BIG_N);
	assert_int_equal(x->f.converted, BIG_N);
	assert_int_equal(stub_calls, 0);	/* no method ran */
	assert_int_equal(yields, 0);
	assert_int_equal(quiescents, BIG_N / 8192);	/* lets go every WALK_BATCH */
	/* O(N): a few lock operations per instance. */
	assert_true(host_lock_ops - locks0 < 4UL * BIG_N + 100);
	/* Same order, every one on v2 with its value. */
	list_for_each(pos, &x->f.instances) {
		struct object *o = list_entry(pos, struct object, node);

		assert_int_equal(o->version, 2);
		assert_ptr_equal(o->ops, v2->dispatch);
		assert_int_equal(st(o)->value, (long)i);
		assert_ptr_equal(ott_slot_object(&kernel_ott, o->slot), o);
		i++;
	}
	assert_int_equal(i, BIG_N);
	assert_int_equal(host_ndeferred, BIG_N);
	assert_int_equal(host_live_allocs, live0 + BIG_N);
	host_defer_flush();
	assert_int_equal(host_live_allocs, live0);
}

static struct object *busy_objs[2];

static void release_busy(unsigned long nth)
{
	for (int i = 0; i < 2; i++)
		busy_objs[i]->inflight = 0;
}

static void test_convert_all_busy(void **state)
{
	struct fx *x = fx_new();
	ott_ref_t r[5];
	struct class_version *v2;

	for (int i = 0; i < 5; i++)
		r[i] = mk(x, i);
	busy_objs[0] = obj(r[1]);
	busy_objs[1] = obj(r[3]);
	v2 = fx_update(x, 2, false, false);
	busy_objs[0]->inflight = 1;
	busy_objs[1]->inflight = 2;
	/* One pass: the busy ones are skipped and reported. */
	assert_int_equal(convert_all_now(&x->f), 2);
	assert_int_equal(nxfers, 3);
	assert_int_equal(convert_pending(&x->f), 2);
	assert_ptr_equal(obj(r[1]), busy_objs[0]);
	assert_ptr_equal(obj(r[3]), busy_objs[1]);
	assert_int_equal(obj(r[0])->version, 2);
	assert_int_equal(obj(r[4])->version, 2);
	assert_int_equal(yields, 0);
	/* Still busy after the deadline: timed out, bounded. */
	yield_ticks = timer_us_to_ticks(300);
	assert_int_equal(convert_all(&x->f, 1000), -KE_TIMEDOUT);
	assert_true(yields >= 3 && yields <= 5);
	assert_int_equal(convert_pending(&x->f), 2);
	/* convert_all yields until the calls are out, then converts them. */
	yields = 0;
	yield_hook = release_busy;
	assert_int_equal(convert_all(&x->f, 1000000), 0);
	assert_int_equal(yields, 1);
	assert_int_equal(convert_pending(&x->f), 0);
	assert_int_equal(nxfers, 5);
	assert_int_equal(v2->live, 5);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(list_pos(x, obj(r[i])), i);
		assert_int_equal(r_get(r[i]), i);
	}
}

static void test_convert_all_nomem(void **state)
{
	struct fx *x = fx_new();
	ott_ref_t r[3];
	long live0;

	for (int i = 0; i < 3; i++)
		r[i] = mk(x, i);
	fx_update(x, 2, false, false);
	live0 = host_live_allocs;
	host_alloc_fail_in = 2;		/* the second conversion fails */
	assert_int_equal(convert_all(&x->f, 1000000), -KE_NOMEM);
	assert_int_equal(convert_pending(&x->f), 2);
	assert_int_equal(obj(r[1])->inflight, 0);
	assert_int_equal(host_locks_held, 0);
	assert_int_equal(host_live_allocs, live0 + 1);
	assert_int_equal(convert_all(&x->f, 1000000), 0);
	assert_int_equal(convert_pending(&x->f), 0);
}

static void test_convert_all_reverts(void **state)
{
	struct fx *x = fx_new();
	ott_ref_t r[4];
	struct object *old[4];
	struct class_version *v1 = &x->f.first, *v2;

	for (int i = 0; i < 4; i++) {
		r[i] = mk(x, i);
		old[i] = obj(r[i]);
	}
	v2 = fx_update(x, 2, true, true);
	assert_int_equal(convert_all(&x->f, 1000000), 0);
	assert_int_equal(convert_pending(&x->f), 0);
	for (int i = 0; i < 4; i++) {
		assert_ptr_equal(obj(r[i])->prev, old[i]);
		assert_int_equal(r_add(r[i], 10), i + 10);
	}
	fx_rollback(x, v1, v2);
	assert_int_equal(convert_pending(&x->f), 4);
	assert_int_equal(convert_all(&x->f, 1000000), 0);
	assert_int_equal(convert_pending(&x->f), 0);
	assert_int_equal(nbacks, 4);
	for (int i = 0; i < 4; i++) {
		assert_ptr_equal(obj(r[i]), old[i]);
		assert_int_equal(list_pos(x, old[i]), i);
		assert_int_equal(st(old[i])->value, i + 10);
	}
	assert_int_equal(v1->live, 4);
	assert_int_equal(v2->live, 0);
	assert_int_equal(host_ndeferred, 4);
}

static void test_convert_pending_and_drop_prev(void **state)
{
	static struct ctr dev;
	struct fx *x = fx_new();
	ott_ref_t r[3], d = OTT_REF_NULL;
	struct object *old[3];
	long arg = 1;

	for (int i = 0; i < 3; i++) {
		r[i] = mk(x, i);
		old[i] = obj(r[i]);
	}
	memset(&dev, 0, sizeof(dev));
	assert_int_equal(factory_adopt(&x->f, &dev.obj, &arg, &d), 0);
	dev.ref = d;
	assert_int_equal(convert_pending(&x->f), 0);
	fx_update(x, 2, true, false);
	assert_int_equal(convert_pending(&x->f), 4);
	assert_int_equal(r_get(r[0]), 0);
	assert_int_equal(r_get(d), 1);
	assert_int_equal(convert_pending(&x->f), 2);
	assert_int_equal(convert_all(&x->f, 1000000), 0);
	assert_int_equal(convert_pending(&x->f), 0);
	assert_int_equal(host_ndeferred, 0);
	assert_ptr_equal(obj(d)->prev, &dev.obj);
	convert_drop_prev(&x->f);
	for (int i = 0; i < 3; i++) {
		assert_null(obj(r[i])->prev);
		assert_true(deferred(old[i]));
	}
	assert_null(obj(d)->prev);
	assert_false(deferred(&dev.obj));	/* static: never freed */
	assert_int_equal(host_ndeferred, 3);
	convert_drop_prev(&x->f);	/* nothing left: idempotent */
	assert_int_equal(host_ndeferred, 3);
	assert_int_equal(host_locks_held, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_set_state_fills_dispatch),
		T(test_set_state_null_method_is_nosys),
		T(test_forward_counts_and_runs_old),
		T(test_forward_thread_chain),
		T(test_forward_nested_counts),
		T(test_forward_two_objects),
		T(test_convert_on_first_call),
		T(test_convert_stale_pointer_follows),
		T(test_convert_chain_of_versions),
		T(test_convert_reentrant_call_runs_old),
		T(test_convert_busy_runs_old_counted),
		T(test_convert_claim_protocol),
		T(test_convert_transfer_reenters_uncounted),
		T(test_convert_transient_nomem),
		T(test_convert_static_instance),
		T(test_convert_blackout_figures),
		T(test_convert_all_many),
		T(test_convert_all_busy),
		T(test_convert_all_nomem),
		T(test_convert_all_reverts),
		T(test_convert_pending_and_drop_prev),
#undef T
	};

	return convert_run("test_convert", tests, sizeof(tests) / sizeof(tests[0]));
}
