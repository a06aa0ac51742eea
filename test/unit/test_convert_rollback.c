// unit-srcs: update/convert.c update/convert_walk.c src/unwind.c src/factory.c src/ott.c test/unit/convert_harness.c test/unit/host_stubs.c test/unit/hostinc/host_target.c
// unit-libs: -lpthread
// unit-cflags: -Itest/unit/hostinc
/*
 * Host tests of update/convert.c in probation and rollback: probation
 * calls counted and retryable, with the old state kept; the innermost
 * probation frame found and abandoned, and a call retried after an
 * emulated fault; a rollback reusing the kept state (with and without
 * transfer_back) or making a fresh one from init, and a call re-entering
 * during a rollback. Harness: convert_harness.h.
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

/* ---- PROBATION ---------------------------------------------------------------------------- */

static void test_probation_counted_and_keeps_prev(void **state)
{
	struct fx *x = fx_new();
	ott_ref_t r = mk(x, 6);
	struct object *o = obj(r), *n;
	struct class_version *v1 = &x->f.first, *v2;
	long live0 = host_live_allocs;

	v2 = fx_update(x, 2, true, false);
	assert_int_equal(v2->state, CV_PROBATION);
	assert_int_equal(r_add(r, 1), 7);
	n = obj(r);
	assert_ptr_not_equal(n, o);
	/* Converted, and the call on the new version was counted and framed. */
	assert_int_equal(last_version, 2);
	assert_int_equal(last_inflight, 1);
	assert_non_null(last_top);
	assert_ptr_equal((void *)(uintptr_t)(last_frame.node.cookie & ~1UL), n);
	assert_true(last_frame.node.cookie & 1);
	assert_int_equal(n->inflight, 0);
	assert_null(harts[0].ip_top);
	/* The old state is kept for a rollback, not freed. */
	assert_ptr_equal(n->prev, o);
	assert_false(deferred(o));
	assert_int_equal(host_ndeferred, 0);
	assert_int_equal(host_live_allocs, live0 + 1);
	assert_int_equal(v1->live, 0);
	assert_int_equal(v2->live, 1);
	/* Instances born during probation are counted too. */
	{
		ott_ref_t b = mk(x, 50);

		assert_int_equal(obj(b)->version, 2);
		assert_int_equal(r_get(b), 50);
		assert_int_equal(last_inflight, 1);
		assert_null(obj(b)->prev);
	}
	/* After probation: plain methods, kept states freed. */
	cv_set_state(v2, CV_CURRENT);
	convert_drop_prev(&x->f);
	assert_null(n->prev);
	assert_true(deferred(o));
	assert_int_equal(host_ndeferred, 1);
	stub_calls = 0;
	assert_int_equal(r_get(r), 7);
	assert_int_equal(stub_calls, 0);
}

static struct unwind_node *seen_hart_top;
static struct class_version *find_cv;
static struct ip_frame *found_frame, *found_v1;
static struct unwind_node *found_prev[3];	/* found_frame's node.prev, ->prev->prev, ... */
static uint64_t found_cookie;
static unsigned int found_len;

static void look(void)
{
	struct unwind_node *f;

	found_frame = convert_find_frame(find_cv);
	found_cookie = found_frame ? found_frame->node.cookie : 0;
	f = found_frame ? &found_frame->node : NULL;
	for (int i = 0; i < 3; i++) {
		f = f ? f->prev : NULL;
		found_prev[i] = f;
	}
	found_len = chain_len();
}

static long hook_find(struct object *self, int v, long arg)
{
	/* arg: a reference to call next, or 0 to look at the frames. */
	if (arg) {
		ott_ref_t next = *(ott_ref_t *)(uintptr_t)arg;

		return r_hook(next, 0);
	}
	look();
	found_v1 = convert_find_frame(&container_of(find_cv->factory, struct fx, f)->f.first);
	return 0;
}

static void test_probation_find_frame(void **state)
{
	struct fx *x = fx_new(), *y = fx_new();
	ott_ref_t a = mk(x, 1), yref = mk(y, 2);
	struct object *ya = obj(yref);
	struct class_version *v2;

	v2 = fx_update(x, 2, true, false);
	fx_forward(y);		/* another class, in its forward phase */
	assert_int_equal(r_get(a), 1);	/* convert a first */
	find_cv = v2;
	hook_fn = hook_find;
	/* No interposed call: nothing found. */
	assert_null(convert_find_frame(v2));
	/* a (v2, probation) -> y (forward): the frame found is a's. */
	found_frame = NULL;
	assert_int_equal(r_hook(a, (long)(uintptr_t)&yref), 0);
	assert_int_equal(found_len, 2);
	assert_non_null(found_frame);
	assert_ptr_equal((void *)(uintptr_t)(found_cookie & ~1UL), obj(a));
	assert_true(found_cookie & 1);	/* marked as a probation frame */
	assert_null(found_prev[0]);
	assert_null(found_v1);
	/* y (forward) alone: no probation frame. */
	found_frame = (struct ip_frame *)1;
	assert_int_equal(r_hook(yref, 0), 0);
	assert_null(found_frame);
	assert_null(harts[0].ip_top);
	assert_int_equal(obj(a)->inflight, 0);
	assert_int_equal(ya->inflight, 0);
}

/* a(v2) -> y(forward) -> a(v2) -> look: a three-deep chain, innermost found. */
static ott_ref_t chain_a, chain_y;

static long hook_chain(struct object *self, int v, long arg)
{
	if (arg == 3)
		return r_hook(chain_y, 2);
	if (arg == 2)
		return r_hook(chain_a, 1);
	look();
	seen_hart_top = harts[0].ip_top;
	return 0;
}

static void test_probation_find_innermost(void **state)
{
	struct fx *x = fx_new(), *y = fx_new();

	chain_a = mk(x, 1);
	chain_y = mk(y, 2);
	find_cv = fx_update(x, 2, true, false);
	fx_forward(y);
	assert_int_equal(r_get(chain_a), 1);
	hook_fn = hook_chain;
	assert_int_equal(r_hook(chain_a, 3), 0);
	assert_int_equal(found_len, 3);
	assert_ptr_equal(&found_frame->node, seen_hart_top);	/* the innermost frame */
	assert_ptr_equal((void *)(uintptr_t)(found_cookie & ~1UL), obj(chain_a));
	assert_non_null(found_prev[0]);		/* y's frame */
	assert_non_null(found_prev[1]);		/* a's outer frame */
	assert_null(found_prev[2]);
	assert_int_equal(obj(chain_a)->inflight, 0);
	assert_int_equal(obj(chain_y)->inflight, 0);
	assert_null(harts[0].ip_top);
}

/* a(v2, probation) -> y(forward) -> fault in y's method, "in a's module". */
static long hook_fault(struct object *self, int v, long arg)
{
	if (arg == 1)
		return r_hook(chain_y, 2);
	if (arg == 2 && faults_left > 0) {
		faults_left--;
		emulate_fault();
	}
	return 1000 + v;
}

static void test_probation_abandon_and_retry(void **state)
{
	struct fx *x = fx_new(), *y = fx_new();
	struct ip_frame sentinel = { 0 };

	chain_a = mk(x, 1);
	chain_y = mk(y, 2);
	fault_fx = x;
	fault_cv = fx_update(x, 2, true, false);
	fault_rollback = false;
	fx_forward(y);
	assert_int_equal(r_get(chain_a), 1);
	count_objs[0] = obj(chain_a);
	count_objs[1] = obj(chain_y);
	faults = 0;
	faults_left = 1;
	hook_fn = hook_fault;
	harts[0].ip_top = &sentinel.node;
	/* The fault unwinds both frames; the retried call runs again on v2 and returns. */
	assert_int_equal(r_hook(chain_a, 1), 1001);
	assert_int_equal(faults, 1);
	assert_int_equal(stub_retries, 1);
	assert_int_equal(counts_after_abandon[0], 0);
	assert_int_equal(counts_after_abandon[1], 0);
	assert_ptr_equal(top_after_abandon, &sentinel.node);
	assert_ptr_equal(harts[0].ip_top, &sentinel.node);
	assert_int_equal(obj(chain_a)->inflight, 0);
	assert_int_equal(obj(chain_y)->inflight, 0);
	harts[0].ip_top = NULL;
}

static void test_probation_fault_rolls_back_and_retries(void **state)
{
	struct fx *x = fx_new();
	ott_ref_t r = mk(x, 5);
	struct object *o = obj(r), *n;
	struct class_version *v1 = &x->f.first, *v2;

	v2 = fx_update(x, 2, true, true);
	assert_int_equal(r_add(r, 2), 7);
	n = obj(r);
	assert_ptr_equal(n->prev, o);
	fault_fx = x;
	fault_cv = v2;
	fault_rollback = true;
	count_objs[0] = n;
	count_objs[1] = NULL;
	faults = 0;
	faults_left = 1;
	hook_fn = hook_fault_v2;
	/* The call faults in v2, is retried, and runs on the kept v1 state. */
	assert_int_equal(r_hook(r, 0), 1007);
	assert_int_equal(faults, 1);
	assert_int_equal(counts_after_abandon[0], 0);
	assert_int_equal(last_version, 1);
	assert_ptr_equal(last_self, o);
	assert_ptr_equal(obj(r), o);
	assert_int_equal(v2->state, CV_REVERT);
	assert_int_equal(v1->state, CV_CONVERT);
	assert_int_equal(nbacks, 1);
	assert_ptr_equal(backs[0].old, n);
	assert_ptr_equal(backs[0].new, o);
	assert_true(deferred(n));
	assert_int_equal(v1->live, 1);
	assert_int_equal(v2->live, 0);
	assert_null(harts[0].ip_top);
	assert_int_equal(o->inflight, 0);
}

/* ---- REVERT -------------------------------------------------------------------------------- */

static void revert_kept_prev(bool with_back)
{
	struct fx *x = fx_new();
	ott_ref_t a = mk(x, 10), b = mk(x, 20), c = mk(x, 30);
	struct object *ob = obj(b), *nb;
	struct class_version *v1 = &x->f.first, *v2;
	long live0 = host_live_allocs;

	v2 = fx_update(x, 2, true, with_back);
	assert_int_equal(r_add(b, 5), 25);	/* converted forward, prev kept */
	nb = obj(b);
	assert_ptr_equal(nb->prev, ob);
	assert_int_equal(host_live_allocs, live0 + 1);

	fx_rollback(x, v1, v2);
	assert_int_equal(convert_pending(&x->f), 1);
	init_calls = 0;
	assert_int_equal(r_get(b), with_back ? 25 : 20);
	/* Back on the very object kept at the forward conversion. */
	assert_ptr_equal(obj(b), ob);
	assert_ptr_equal(last_self, ob);
	assert_int_equal(last_version, 1);
	assert_ptr_equal(ob->ops, v1->dispatch);
	assert_int_equal(ob->version, 1);
	assert_int_equal(ob->inflight, 0);
	assert_int_equal(init_calls, 0);
	assert_int_equal(nbacks, with_back ? 1 : 0);
	if (with_back) {
		assert_ptr_equal(backs[0].old, nb);
		assert_ptr_equal(backs[0].new, ob);
		assert_false(backs[0].irq_on);
	}
	assert_int_equal(list_pos(x, obj(a)), 0);
	assert_int_equal(list_pos(x, ob), 1);
	assert_int_equal(list_pos(x, obj(c)), 2);
	assert_int_equal(list_len(x), 3);
	assert_int_equal(v1->live, 3);
	assert_int_equal(v2->live, 0);
	assert_int_equal(x->f.converted, 2);
	assert_null(nb->prev);
	/* The probation-version object goes after quiescence. */
	assert_true(deferred(nb));
	assert_int_equal(host_ndeferred, 1);
	assert_int_equal(host_live_allocs, live0 + 1);
	host_defer_flush();
	assert_int_equal(host_live_allocs, live0);
	/* v1 instances never converted just run (CONVERT leads to themselves now). */
	assert_int_equal(r_get(a), 10);
	assert_int_equal(last_version, 1);
	assert_ptr_equal(obj(a)->ops, v1->dispatch);
	assert_int_equal(convert_pending(&x->f), 0);
	/* finish_rollback: old version current again. */
	cv_set_state(v1, CV_CURRENT);
	stub_calls = 0;
	assert_int_equal(r_get(c), 30);
	assert_int_equal(stub_calls, 0);
}

static void test_revert_reuses_prev_no_back(void **state)
{
	revert_kept_prev(false);
}

static void test_revert_reuses_prev_with_back(void **state)
{
	revert_kept_prev(true);
}

static void test_revert_fresh_state(void **state)
{
	struct fx *x = fx_new(), *y = fx_new();
	struct class_version *xv2, *yv2;
	ott_ref_t xb, yb;
	struct object *xo, *yo, *xn, *yn;

	/* Instances born during probation have no kept state. */
	xv2 = fx_update(x, 2, true, false);	/* no transfer_back: init */
	yv2 = fx_update(y, 2, true, true);	/* transfer_back */
	xb = mk(x, 70);
	yb = mk(y, 80);
	xo = obj(xb);
	yo = obj(yb);
	assert_int_equal(xo->version, 2);
	assert_int_equal(r_add(xb, 1), 71);
	assert_int_equal(r_add(yb, 1), 81);
	fx_rollback(x, &x->f.first, xv2);
	fx_rollback(y, &y->f.first, yv2);

	init_calls = 0;
	init_saw_nonzero = false;
	assert_int_equal(r_get(xb), -1);	/* init(NULL) */
	xn = obj(xb);
	assert_ptr_not_equal(xn, xo);
	assert_int_equal(init_calls, 1);
	assert_false(init_saw_nonzero);
	assert_int_equal(last_version, 1);
	assert_int_equal(xn->version, 1);
	assert_ptr_equal(xn->ops, x->f.first.dispatch);
	assert_true(deferred(xo));
	assert_int_equal(nbacks, 0);

	init_calls = 0;
	assert_int_equal(r_get(yb), 81);	/* transfer_back on a fresh state */
	yn = obj(yb);
	assert_int_equal(nbacks, 1);
	assert_ptr_equal(backs[0].old, yo);
	assert_ptr_equal(backs[0].new, yn);
	assert_int_equal(yn->version, 1);
	assert_true(deferred(yo));
	assert_int_equal(x->f.first.live, 1);
	assert_int_equal(xv2->live, 0);
}

static long hook_rollback_and_reenter(struct object *self, int v, long arg)
{
	struct fx *x = (struct fx *)(uintptr_t)arg;
	long r;

	if (v != 2)
		return -1;
	fx_rollback(x, &x->f.first, object_version(self));
	/* Re-entering an instance being reverted from a call in it: runs here, counted. */
	r = r_get(st(self)->ref);
	assert_int_equal(last_version, 2);
	assert_ptr_equal(last_self, self);
	assert_int_equal(last_inflight, 2);
	assert_int_equal(nbacks, 0);
	return r;
}

static void test_revert_reentrant_call(void **state)
{
	struct fx *x = fx_new();
	ott_ref_t r = mk(x, 3);
	struct object *o = obj(r), *n;

	fx_update(x, 2, true, true);
	assert_int_equal(r_get(r), 3);
	n = obj(r);
	hook_fn = hook_rollback_and_reenter;
	assert_int_equal(r_hook(r, (long)(uintptr_t)x), 3);
	assert_int_equal(n->inflight, 0);
	assert_ptr_equal(obj(r), n);
	/* The next call converts it back. */
	assert_int_equal(r_get(r), 3);
	assert_ptr_equal(obj(r), o);
	assert_int_equal(last_version, 1);
	assert_int_equal(nbacks, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_probation_counted_and_keeps_prev),
		T(test_probation_find_frame),
		T(test_probation_find_innermost),
		T(test_probation_abandon_and_retry),
		T(test_probation_fault_rolls_back_and_retries),
		T(test_revert_reuses_prev_no_back),
		T(test_revert_reuses_prev_with_back),
		T(test_revert_fresh_state),
		T(test_revert_reentrant_call),
#undef T
	};

	return convert_run("test_convert_rollback", tests, sizeof(tests) / sizeof(tests[0]));
}
