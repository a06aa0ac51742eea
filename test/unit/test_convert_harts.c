// unit-srcs: update/convert.c update/convert_walk.c src/unwind.c src/factory.c src/ott.c test/unit/convert_harness.c test/unit/host_stubs.c test/unit/hostinc/host_target.c
// unit-libs: -lpthread
// unit-cflags: -Itest/unit/hostinc
/*
 * Host tests of update/convert.c with a second pthread playing another
 * hart: a caller waiting for a converter whose transfer is not declared
 * pure, one overtaking a stalled converter whose transfer is, a stress
 * run of that (every add lands once, every instance ends converted), and
 * a reverting caller waiting for a count to drain. Harness:
 * convert_harness.h.
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

/* ---- a second hart (pthread) ----------------------------------------------------------- */

static volatile int in_transfer;
static struct object *helper_obj, *helper_out;
static int helper_rc;

static int xfer_slow(const struct object *old, struct object *new)
{
	unsigned long n = __atomic_load_n(&host_rdtime_calls, __ATOMIC_SEQ_CST);

	__atomic_store_n(&in_transfer, 1, __ATOMIC_RELEASE);
	/* Until the caller on hart 0 is waiting for us; 2 ms pass on its clock. */
	if (!wait_rdtime_after(n))
		helper_timed_out = 1;
	__atomic_add_fetch(&host_clock, timer_us_to_ticks(2000), __ATOMIC_SEQ_CST);
	usleep(2000);
	return 0;
}

static void *converter_hart(void *arg)
{
	host_cur_hart = &harts[1];
	helper_rc = convert_instance(helper_obj, &helper_out);
	return NULL;
}

/* Callers that waited for a conversion (or a count), as the bench counts them. */
static uint64_t total_waits(void)
{
	uint64_t waits = 0;

	for (int b = 0; b < BLACKOUT_BUCKETS; b++)
		waits += blackout_stats.waits[b];
	return waits;
}

/*
 * Without UPDATE_PURE_TRANSFER (the fixture's default) a caller waits for
 * the conversion however long its transfer takes.
 */
static void test_caller_waits_for_converter(void **state)
{
	struct fx *x = fx_new();
	ott_ref_t r = mk(x, 12);
	struct object *o = obj(r), *n;
	pthread_t t;

	fx_update(x, 2, false, false);
	in_transfer = helper_timed_out = 0;
	helper_obj = o;
	helper_out = NULL;
	xfer_hook = xfer_slow;
	assert_int_equal(pthread_create(&t, NULL, converter_hart, NULL), 0);
	assert_true(wait_for(&in_transfer, 1));
	assert_int_equal(o->inflight, OBJ_CLAIMED);
	/* Hart 0 calls while hart 1 converts: it waits, then runs on the new object. */
	assert_int_equal(o_add(o, 1), 13);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_false(helper_timed_out);
	assert_int_equal(helper_rc, 0);
	n = obj(r);
	assert_ptr_equal(helper_out, n);
	assert_ptr_equal(last_self, n);
	assert_int_equal(last_version, 2);
	assert_int_equal(nxfers, 1);
	assert_int_equal(total_waits(), 1);
	/* It waited the transfer's 2 ms, far past an overtaking caller's bound. */
	assert_true(blackout_stats.max_wait >= timer_us_to_ticks(2000));
	assert_int_equal(st(n)->value, 13);
}

/*
 * A converter stalled in its transfer (under QEMU or a hypervisor: its
 * hart's host thread descheduled) until the caller's call has returned.
 */
static volatile int caller_done;

static int xfer_stalled(const struct object *old, struct object *new)
{
	__atomic_store_n(&in_transfer, 1, __ATOMIC_RELEASE);
	if (!wait_for(&caller_done, 1))
		helper_timed_out = 1;
	return 0;
}

static void test_caller_overtakes_stalled_converter(void **state)
{
	struct fx *x = fx_new();
	ott_ref_t r = mk(x, 12);
	struct object *o = obj(r), *n;
	struct class_version *v2;
	pthread_t t;

	v2 = fx_update(x, 2, false, false);
	v2->pure_transfer = true;
	in_transfer = helper_timed_out = caller_done = 0;
	helper_obj = o;
	helper_out = NULL;
	xfer_hook = xfer_stalled;
	assert_int_equal(pthread_create(&t, NULL, converter_hart, NULL), 0);
	assert_true(wait_for(&in_transfer, 1));
	assert_int_equal(o->inflight, OBJ_CLAIMED | OBJ_YIELDS);
	host_clock_step = 10;		/* 1 us a clock read: the wait's bound passes */
	/* Hart 0 calls while hart 1 is stuck mid-transfer: it runs on the old version. */
	assert_int_equal(o_add(o, 1), 13);
	host_clock_step = 0;
	assert_int_equal(last_version, 1);
	assert_ptr_equal(last_self, o);
	assert_int_equal(total_waits(), 1);
	assert_true(blackout_stats.max_wait >= timer_us_to_ticks(50));
	assert_true(blackout_stats.max_wait < timer_us_to_ticks(50) + 100);
	assert_int_equal(o->inflight, OBJ_CLAIMED | OBJ_YIELDS | OBJ_OVERTAKEN);
	/* The next caller does not wait for the bound again: the conversion is void. */
	assert_int_equal(o_add(o, 1), 14);
	assert_int_equal(last_version, 1);
	assert_int_equal(total_waits(), 2);
	__atomic_store_n(&caller_done, 1, __ATOMIC_RELEASE);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_false(helper_timed_out);
	/* The converter found the count at its commit: it dropped its new state. */
	assert_int_equal(helper_rc, -KE_BUSY);
	assert_ptr_equal(obj(r), o);
	assert_int_equal(o->inflight, 0);
	assert_int_equal(st(o)->value, 14);
	assert_int_equal(v2->live, 0);
	assert_false(o->flags & OBJ_NOCONVERT);
	/* Its next call converts it, with the calls that overtook counted in. */
	xfer_hook = NULL;
	assert_int_equal(o_add(o, 1), 15);
	n = obj(r);
	assert_ptr_not_equal(n, o);
	assert_int_equal(last_version, 2);
	assert_int_equal(st(n)->value, 15);
	assert_int_equal(nxfers, 2);
	assert_int_equal(v2->live, 1);
}

/*
 * Stress: callers on two harts add to 48 instances while a third hart
 * converts them all (the eager walk); every other one of its transfers
 * stalls until a caller has overtaken it, so conversions are abandoned and
 * redone while calls keep coming (and callers convert some themselves). Each caller owns every other instance (the test
 * class's add is not atomic), so what counts is the protocol alone: every
 * add lands exactly once, on whichever state is live, and all end on v2.
 */
#define STRESS_OBJS	48	/* of the OTT's 64 slots */
#define STRESS_ADDS	20000

static ott_ref_t stress_refs[STRESS_OBJS];
static volatile int stress_stop, stress_go;

static int xfer_sometimes_stalled(const struct object *old, struct object *new)
{
	static unsigned long n;

	if (host_cur_hart == &harts[3] && n++ % 2 == 0) {
		/* Stalled until someone overtakes this claim (at most 20 ms). */
		for (int i = 0; i < 20000; i++) {
			if (__atomic_load_n(&old->inflight, __ATOMIC_ACQUIRE) & OBJ_OVERTAKEN)
				break;
			usleep(1);
		}
	}
	return 0;
}

struct stress_caller {
	unsigned int hart, first;
	long adds;
};

static void *stress_caller_main(void *arg)
{
	struct stress_caller *c = arg;
	unsigned int i = c->first;

	host_cur_hart = &harts[c->hart];
	while (!__atomic_load_n(&stress_go, __ATOMIC_ACQUIRE))
		;
	for (long k = 0; k < STRESS_ADDS; k++) {
		o_add(obj(stress_refs[i]), 1);
		c->adds++;
		i = (i + 2) % STRESS_OBJS;
	}
	return NULL;
}

static void *stress_converter_main(void *arg)
{
	struct fx *x = arg;

	host_cur_hart = &harts[3];
	__atomic_store_n(&stress_go, 1, __ATOMIC_RELEASE);
	while (!__atomic_load_n(&stress_stop, __ATOMIC_ACQUIRE))
		convert_all(&x->f, 1000000);
	return NULL;
}

static void test_overtake_stress(void **state)
{
	struct fx *x = fx_new();
	struct stress_caller callers[2] = { { 1, 0, 0 }, { 2, 1, 0 } };
	struct class_version *v2;
	pthread_t ct[2], conv;
	long sum = 0;

	for (int i = 0; i < STRESS_OBJS; i++)
		stress_refs[i] = mk(x, 0);
	v2 = fx_update(x, 2, false, false);
	v2->pure_transfer = true;
	xfer_hook = xfer_sometimes_stalled;
	host_clock_step = 10;		/* 1 us a clock read: the wait's bound passes */
	stress_stop = stress_go = 0;
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&ct[i], NULL, stress_caller_main, &callers[i]), 0);
	assert_int_equal(pthread_create(&conv, NULL, stress_converter_main, x), 0);
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_join(ct[i], NULL), 0);
	__atomic_store_n(&stress_stop, 1, __ATOMIC_RELEASE);
	assert_int_equal(pthread_join(conv, NULL), 0);
	host_clock_step = 0;
	xfer_hook = NULL;
	assert_int_equal(convert_all(&x->f, 1000000), 0);
	for (int i = 0; i < STRESS_OBJS; i++) {
		struct object *o = obj(stress_refs[i]);

		assert_int_equal(o->version, 2);
		assert_int_equal(o->inflight, 0);
		sum += st(o)->value;
	}
	assert_int_equal(sum, callers[0].adds + callers[1].adds);
	assert_int_equal(sum, 2L * STRESS_ADDS);
	assert_int_equal(v2->live, STRESS_OBJS);
	assert_int_equal(list_len(x), STRESS_OBJS);
	/* The case it is about did happen. */
	assert_true(blackout_stats.overtakes > 0);
	assert_true(blackout_stats.abandoned > 0);
	print_message("stress: %lu overtakes, %lu conversions abandoned\n",
		      (unsigned long)blackout_stats.overtakes, (unsigned long)blackout_stats.abandoned);
}

static void test_revert_waits_for_other_context(void **state)
{
	struct fx *x = fx_new();
	ott_ref_t r = mk(x, 4);
	struct object *o = obj(r), *n;
	struct class_version *v2;
	pthread_t t;

	v2 = fx_update(x, 2, true, true);
	assert_int_equal(r_add(r, 1), 5);
	n = obj(r);
	fx_rollback(x, &x->f.first, v2);
	/* Another context is in a counted call on the code being reverted. */
	n->inflight = 1;
	release_go = helper_timed_out = 0;
	assert_int_equal(pthread_create(&t, NULL, count_holder, n), 0);
	assert_true(wait_for(&release_go, 1));
	/* Not nested in it, a thread that can be preempted: waits for it, then converts back. */
	harts[0].cur = &fake_thread;
	assert_int_equal(r_get(r), 5);
	harts[0].cur = NULL;
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_false(helper_timed_out);
	assert_int_equal(last_version, 1);
	assert_ptr_equal(last_self, o);
	assert_ptr_equal(obj(r), o);
	assert_int_equal(total_waits(), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_caller_waits_for_converter),
		T(test_caller_overtakes_stalled_converter),
		T(test_overtake_stress),
		T(test_revert_waits_for_other_context),
#undef T
	};

	return convert_run("test_convert_harts", tests, sizeof(tests) / sizeof(tests[0]));
}
