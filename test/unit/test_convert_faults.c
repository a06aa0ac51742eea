// unit-srcs: update/convert.c update/convert_walk.c src/unwind.c src/factory.c src/ott.c test/unit/convert_harness.c test/unit/host_stubs.c test/unit/hostinc/host_target.c
// unit-libs: -lpthread
// unit-cflags: -Itest/unit/hostinc
/*
 * Host tests of update/convert.c under faults, and the bugs these tests
 * found (test_bug_*, fixed since in convert.c and src/factory.c): a
 * transfer or transfer_back that faults, a fault after probation, a
 * caller with interrupts off or in a handler during a rollback, a thread
 * killed inside a counted call, probation epochs draining, and an unwind
 * that restores the locks and interrupt state of the faulting call.
 * Harness: convert_harness.h.
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

/* ---- bugs found and fixed ------------------------------------------------------------ */

static unsigned long failing_attempts;

static int xfer_fails(const struct object *old, struct object *new)
{
	/* Fails for good; gives in after 50 tries only so that the test ends. */
	return ++failing_attempts < 50 ? -KE_INVAL : 0;
}

/*
 * update/convert.c lazy_enter(): when convert_instance() fails for a
 * reason other than a claim or a count (-KE_NOMEM: a failed allocation or
 * a transfer that returns an error, or a version missing from the chain),
 * follow() finds the instance unclaimed in its slot and the loop calls
 * convert_instance() again, forever: a call spins with no way out.
 */
static void test_bug_failed_conversion_spins(void **state)
{
	struct fx *x = fx_new();
	ott_ref_t r = mk(x, 5);
	long res;

	fx_update(x, 2, false, false);
	xfer_hook = xfer_fails;
	failing_attempts = 0;
	res = r_get(r);
	/* One attempt per call, then the call runs (old version) or fails. */
	assert_int_equal(failing_attempts, 1);
	assert_true(res == 5 || res < 0);
}

/*
 * update/convert.c build_back(): reverting more than one version (a pack
 * with steps v1->v2->v3 rolled back to v1) applies no transfer_back (only
 * `obj->version == to->cls->version + 1` does), and an instance born in v3
 * during probation, with every step having a transfer_back, gets a zeroed
 * state on which neither init nor any transfer_back ran (init is skipped
 * because all_back is true).
 */
static void test_bug_revert_two_versions(void **state)
{
	struct fx *x = fx_new();
	struct class_version *v1 = &x->f.first, *v3;
	ott_ref_t kept, born;

	kept = mk(x, 1);
	fx_load(x, 2, true);
	v3 = fx_load(x, 3, true);
	fx_forward(x);
	fx_switch(x, v3, true);
	assert_int_equal(r_add(kept, 1), 2);	/* v1 -> v3, v1 state kept */
	born = mk(x, 40);
	assert_int_equal(obj(born)->version, 3);
	assert_int_equal(r_add(born, 2), 42);
	fx_rollback(x, v1, v3);
	init_calls = 0;
	/* Born in v3: its state must come back through transfer_back (or init). */
	assert_int_equal(r_get(born), 42);
	/* Kept: brought up to date when every step has a transfer_back. */
	assert_int_equal(r_get(kept), 2);
}

/*
 * update/convert.c convert_instance(): a call that raced with
 * factory_destroy() (it loaded the object before the destroy; the memory
 * stays valid until quiescence) converts the destroyed instance when its
 * version is in CONVERT: publish() links the new object into the dead
 * object's detached node, decrements the old version's live count a second
 * time (it wraps), ott_replace() of the freed slot does nothing, the new
 * object is leaked, and the old one is queued for a second free
 * (object_free_deferred here, kfree in factory.c's destroy_cb).
 */
static void test_bug_call_racing_destroy(void **state)
{
	struct fx *x = fx_new();
	ott_ref_t r = mk(x, 3), keep = mk(x, 4);
	struct object *o = obj(r), *ran_on;
	struct class_version *v1 = &x->f.first, *v2;
	bool double_free = false;
	uint32_t v1_live, v2_live;
	long res;

	v2 = fx_update(x, 2, false, false);
	assert_int_equal(factory_destroy(&x->f, r), 0);
	assert_int_equal(v1->live, 1);
	last_self = NULL;
	res = o_get(o);
	ran_on = last_self;
	v1_live = v1->live;
	v2_live = v2->live;
	/* Undo the damage before asserting, so the process survives it. */
	for (unsigned int i = 0; i < host_ndeferred; i++)
		if (host_deferred[i] == o) {
			double_free = true;
			host_deferred[i] = host_deferred[--host_ndeferred];
			break;
		}
	if (ran_on && ran_on != o) {
		kfree(ran_on);
		v2->live--;
		v1->live++;
	}
	(void)keep;
	assert_false(double_free);
	assert_true(ran_on == NULL || ran_on == o);	/* no new object for a dead instance */
	assert_true(res == 3 || res == -KE_STALE);
	assert_int_equal(v1_live, 1);
	assert_int_equal(v2_live, 0);
	assert_int_equal(nxfers, 0);
}

/*
 * src/factory.c factory_destroy()/destroy_cb(): destroying an instance
 * converted during probation frees the new state but never its kept old
 * state (obj->prev), and convert_drop_prev() no longer sees it: leaked.
 */
static void test_bug_destroy_in_probation_leaks_prev(void **state)
{
	struct fx *x = fx_new();
	ott_ref_t r = mk(x, 3);
	struct object *prev;
	long live0, live1;

	live0 = host_live_allocs;	/* one instance */
	fx_update(x, 2, true, false);
	assert_int_equal(r_get(r), 3);
	prev = obj(r)->prev;
	assert_non_null(prev);
	assert_int_equal(factory_destroy(&x->f, r), 0);
	convert_drop_prev(&x->f);
	host_defer_flush();
	live1 = host_live_allocs;
	if (live1 != live0 - 1)
		kfree(prev);	/* leaked: free it so the rest of the run stays clean */
	assert_int_equal(live1, live0 - 1);
}

static struct fx *race_fx;

static int xfer_rollback_meanwhile(const struct object *old, struct object *new)
{
	/* Another hart faults in v2 now and starts the rollback. */
	if (race_fx->v2.state == CV_PROBATION)
		fx_rollback(race_fx, &race_fx->f.first, &race_fx->v2);
	return 0;
}

/*
 * update/convert.c convert_instance(), line 254: whether the old state is
 * kept for a rollback is decided after the transfer, from
 * `to->state == CV_PROBATION`. If a rollback starts on another hart while
 * the conversion runs (to was read as the factory's current version before
 * it), `to` is in REVERT by then: the old state is freed instead of kept,
 * and the new instance, which must now convert back, gets a fresh state
 * (init, no transfer_back): the instance's state is lost.
 */
static void test_bug_rollback_during_conversion(void **state)
{
	struct fx *x = fx_new();
	ott_ref_t r = mk(x, 33);

	fx_update(x, 2, true, false);	/* probation, no transfer_back */
	race_fx = x;
	xfer_hook = xfer_rollback_meanwhile;
	init_calls = 0;
	/* The call converts forward, meets the rollback, and comes back to v1. */
	assert_int_equal(r_get(r), 33);
	assert_int_equal(init_calls, 0);
}

static struct fx *destroy_fx;
static ott_ref_t destroy_ref;
static int destroys;

/* Another hart destroys the instance being converted, in the middle of its transfer. */
static int xfer_destroys(const struct object *old, struct object *new)
{
	if (ott_ref_check(&kernel_ott, destroy_ref) == 0) {
		assert_int_equal(factory_destroy(&destroy_fx->f, destroy_ref), 0);
		destroys++;
	}
	return 0;
}

/*
 * An instance destroyed while a conversion of it runs. The commit used to
 * store the new state in the freed OTT slot and link it where the
 * destroyed instance had been: a zombie in the list, a slot in use with
 * nothing to free it. Now the commit finds the slot freed and drops the
 * new state: the call is stale, nothing takes the instance's place.
 */
static void test_bug_destroy_during_conversion(void **state)
{
	struct fx *x = fx_new();
	ott_ref_t r = mk(x, 5), other = mk(x, 6);
	uint32_t used = kernel_ott.used;

	fx_update(x, 2, false, false);
	destroy_fx = x;
	destroy_ref = r;
	destroys = 0;
	xfer_hook = xfer_destroys;
	assert_int_equal(r_get(r), -KE_STALE);
	xfer_hook = NULL;
	assert_int_equal(destroys, 1);
	assert_null(obj(r));
	assert_int_equal(kernel_ott.used, used - 1);
	assert_int_equal(x->f.count, 1);
	assert_int_equal(list_len(x), 1);
	assert_int_equal(x->v2.live + x->f.first.live, 1);
	assert_int_equal(x->v2.live, 0);
	assert_int_equal(r_get(other), 6);	/* the other one converts as ever */
	assert_int_equal(x->v2.live, 1);
}

/* The same in the eager walk: it goes on from the top and converts the rest. */
static void test_bug_destroy_during_eager_walk(void **state)
{
	struct fx *x = fx_new();
	ott_ref_t r[3] = { mk(x, 1), mk(x, 2), mk(x, 3) };

	fx_update(x, 2, false, false);
	destroy_fx = x;
	destroy_ref = r[1];
	destroys = 0;
	xfer_hook = xfer_destroys;
	assert_int_equal(convert_all(&x->f, 1000000), 0);
	xfer_hook = NULL;
	assert_int_equal(destroys, 1);
	assert_int_equal(x->f.count, 2);
	assert_int_equal(list_len(x), 2);
	assert_int_equal(x->v2.live, 2);
	assert_int_equal(x->f.first.live, 0);
	assert_int_equal(r_get(r[0]), 1);
	assert_int_equal(r_get(r[2]), 3);
	assert_int_equal(r_get(r[1]), -KE_STALE);
}

/* ---- fault containment ------------------------------------------------------------------ */

/* A spinlock taken "in the kernel": the host double, plus the hart's held-lock stack. */
static void held_lock(struct spinlock *l)
{
	spin_lock(l);
	harts[0].held[harts[0].nheld++] = l;
}

/* What update_fault() does for a recovery point: unwind to it (recover_save() returns 1). */
static void fault_to_recovery_point(int why)
{
	struct unwind_node *n = *chain();

	assert_non_null(n);
	assert_int_equal(n->kind, UNW_RECOVER);
	assert_int_equal(n->why, why);
	unwind_jump(n);
}

static struct spinlock xfer_lock = SPINLOCK_INIT("xfer-test");
static bool xfer_saw_irq_on;

static int xfer_faults(const struct object *old, struct object *new)
{
	xfer_saw_irq_on = host_irq_on;
	held_lock(&xfer_lock);
	st(new)->value = 12345;
	fault_to_recovery_point(RECOVER_TRANSFER);
	return 0;
}

/*
 * A transfer that faults (new code, during probation) fails that
 * conversion: the lock it took is released, interrupts come back, the
 * call that needed the conversion runs on the old version, and no half
 * converted state is published.
 */
static void test_transfer_fault_fails_conversion(void **state)
{
	struct fx *x = fx_new();
	ott_ref_t r = mk(x, 8);
	struct object *o = obj(r);
	long live0 = host_live_allocs;

	fx_update(x, 2, true, false);
	xfer_hook = xfer_faults;
	assert_int_equal(r_add(r, 1), 9);
	assert_false(xfer_saw_irq_on);		/* transfers run with interrupts off */
	assert_int_equal(nxfers, 1);
	assert_int_equal(last_version, 1);	/* the call ran on the old version */
	assert_ptr_equal(last_self, o);
	assert_ptr_equal(obj(r), o);
	assert_int_equal(o->inflight, 0);
	assert_int_equal(xfer_lock.locked, 0);	/* released by the unwind */
	assert_int_equal(harts[0].nheld, 0);
	assert_true(host_irq_on);
	assert_null(harts[0].converting);
	assert_int_equal(host_live_allocs, live0);	/* the new state was freed */
	assert_int_equal(o->flags & OBJ_NOCONVERT, 0);	/* under probation: may try again */
	xfer_hook = NULL;
	assert_int_equal(r_get(r), 9);		/* converts now */
	assert_int_equal(obj(r)->version, 2);
}

/*
 * After probation (the new version current) a transfer fault cannot roll
 * anything back: that instance stays on its version, and is not tried
 * again on every call or by the sweep.
 */
static void test_transfer_fault_after_probation_stays(void **state)
{
	struct fx *x = fx_new();
	ott_ref_t r = mk(x, 8);
	struct object *o = obj(r);

	fx_update(x, 2, false, false);
	xfer_hook = xfer_faults;
	assert_int_equal(r_add(r, 1), 9);
	assert_int_equal(nxfers, 1);
	assert_true(o->flags & OBJ_NOCONVERT);
	assert_int_equal(r_add(r, 1), 10);
	assert_int_equal(nxfers, 1);		/* not tried again */
	assert_int_equal(last_version, 1);
	assert_int_equal(convert_all(&x->f, 1000), 0);	/* the sweep leaves it */
	assert_ptr_equal(obj(r), o);
	o->flags &= ~OBJ_NOCONVERT;
	xfer_hook = NULL;
}

static int back_faults(const struct object *obj, struct object *prev)
{
	st(prev)->value = -777;	/* half written when it faults */
	fault_to_recovery_point(RECOVER_TRANSFER);
	return 0;
}

/*
 * A transfer_back that faults during the rollback: the instance goes back
 * to the state kept at its conversion, exactly as it was (not half
 * written by the faulting code), and the failure is counted.
 */
static void test_transfer_back_fault_keeps_state(void **state)
{
	struct fx *x = fx_new();
	ott_ref_t r = mk(x, 5);
	struct object *o = obj(r);
	struct class_version *v2;
	uint64_t failures = convert_back_failures;

	v2 = fx_update(x, 2, true, true);
	assert_int_equal(r_add(r, 2), 7);	/* on v2; v1 state (5) kept */
	fx_rollback(x, &x->f.first, v2);
	back_hook = back_faults;
	assert_int_equal(r_get(r), 5);		/* as at the conversion */
	assert_int_equal(nbacks, 1);
	assert_ptr_equal(obj(r), o);
	assert_int_equal(last_version, 1);
	assert_int_equal(convert_back_failures, failures + 1);
	assert_true(host_irq_on);
	assert_int_equal(o->inflight, 0);
}

/*
 * update/convert.c convert_instance() took the claim (OBJ_CLAIMED) before
 * it turned interrupts off: an interrupt taken in between whose handler
 * calls the same object found it claimed by the code it interrupted, on
 * its own hart, and waited for it for ever with interrupts off (follow()).
 */
static struct object *irq_obj;
static ott_ref_t irq_ref;
static bool irq_found_claimed;
static long irq_result;
static int irq_runs;

static void irq_handler_calls_object(void)
{
	host_irq_save_hook = NULL;	/* one interrupt */
	irq_runs++;
	if (__atomic_load_n(&irq_obj->inflight, __ATOMIC_ACQUIRE) & OBJ_CLAIMED) {
		irq_found_claimed = true;	/* its call would spin here for ever */
		return;
	}
	host_irq_on = false;		/* a handler runs with interrupts off */
	harts[0].irq_level = 1;
	irq_result = r_add(irq_ref, 100);
	harts[0].irq_level = 0;
	host_irq_on = true;
}

static void test_bug_claim_before_irq_off(void **state)
{
	struct fx *x = fx_new();

	irq_ref = mk(x, 1);
	irq_obj = obj(irq_ref);
	fx_update(x, 2, false, false);
	irq_found_claimed = false;
	irq_runs = 0;
	irq_result = 0;
	host_irq_save_hook = irq_handler_calls_object;
	/* The interrupt comes as the call's conversion turns interrupts off. */
	assert_int_equal(r_add(irq_ref, 1), 102);
	assert_int_equal(irq_runs, 1);
	assert_false(irq_found_claimed);
	assert_int_equal(irq_result, 101);	/* the handler converted it */
	assert_int_equal(obj(irq_ref)->version, 2);
	assert_int_equal(nxfers, 1);
	assert_int_equal(obj(irq_ref)->inflight, 0);
}

/*
 * update/convert.c lazy_enter(): during a rollback, a caller that cannot
 * wait (interrupts off, as under a spinlock) and finds calls still in the
 * instance (a thread preempted in it, maybe on this very hart) waited for
 * them in follow(), interrupts off: for ever if that thread was preempted
 * on its hart. It runs on the new code instead, counted and retryable.
 */
static void test_bug_revert_irq_off_caller_spins(void **state)
{
	struct fx *x = fx_new();
	ott_ref_t r = mk(x, 4);
	struct object *o = obj(r), *n;
	struct class_version *v2;

	v2 = fx_update(x, 2, true, true);
	assert_int_equal(r_add(r, 1), 5);
	n = obj(r);
	fx_rollback(x, &x->f.first, v2);
	n->inflight = 1;		/* a thread preempted inside a call on it */
	harts[0].cur = &fake_thread;
	host_irq_on = false;		/* the caller holds a spinlock */
	host_clock_step = 1000;		/* 100 us a clock read: the short spin ends */
	alarm(5);			/* the old code spins here */
	assert_int_equal(r_add(r, 2), 7);
	alarm(60);
	host_clock_step = 0;
	host_irq_on = true;
	assert_int_equal(last_version, 2);	/* on the new code */
	assert_ptr_equal(last_self, n);
	assert_int_equal(last_inflight, 2);	/* counted */
	assert_true(last_frame.node.cookie & UNW_PROBATION);	/* a fault would retry it */
	assert_ptr_equal(obj(r), n);		/* not converted under the other call */
	assert_null(fake_thread.ip_top);
	harts[0].cur = NULL;
	n->inflight = 0;			/* that call returns */
	assert_int_equal(r_get(r), 7);		/* back now, with what happened since */
	assert_ptr_equal(obj(r), o);
	assert_int_equal(last_version, 1);
}

/*
 * A caller that cannot wait spins a little first: a call that ends
 * meanwhile (on another hart) lets it convert the instance back and run
 * on the old version, not on the new code.
 */
static void test_revert_cannot_wait_spins_briefly(void **state)
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
	n->inflight = 1;		/* a short call on another hart */
	release_go = helper_timed_out = 0;
	assert_int_equal(pthread_create(&t, NULL, count_holder, n), 0);
	assert_true(wait_for(&release_go, 1));
	host_irq_on = false;
	assert_int_equal(r_add(r, 2), 7);	/* once the other call ended: on v1 */
	host_irq_on = true;
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_false(helper_timed_out);
	assert_int_equal(last_version, 1);
	assert_ptr_equal(obj(r), o);
}

/*
 * The same caller, when the new code faults on it again and again: after
 * a second fault the call fails (-KE_BUSY, counted) rather than loop.
 */
static void test_revert_cannot_wait_fails_after_second_fault(void **state)
{
	struct fx *x = fx_new();
	ott_ref_t r = mk(x, 5);
	struct object *n;
	uint64_t failed = convert_failed_calls;

	fault_fx = x;
	fault_cv = fx_update(x, 2, true, true);
	fault_rollback = true;
	assert_int_equal(r_add(r, 2), 7);
	n = obj(r);
	count_objs[0] = count_objs[1] = NULL;
	n->inflight = 1;		/* another call in it, which never ends here */
	faults = 0;
	faults_left = 10;
	hook_fn = hook_fault_v2;
	host_irq_on = false;
	host_clock_step = 1000;
	assert_int_equal(r_hook(r, 0), -KE_BUSY);
	host_clock_step = 0;
	host_irq_on = true;
	assert_int_equal(faults, 2);		/* in probation, then once during the rollback */
	assert_int_equal(convert_failed_calls, failed + 1);
	assert_int_equal(n->inflight, 1);
	assert_null(harts[0].ip_top);
	n->inflight = 0;
	assert_int_equal(r_get(r), 7);
	assert_int_equal(last_version, 1);
}

/*
 * A thread stopped inside a counted call (a fault after probation, a kill
 * at a preemption point) never returns through lazy_exit(): its count
 * pinned the instance (never converted, its version never retired). The
 * kill path drops every node of its chain (thread_kill_current ->
 * unwind_drop(NULL)), which undoes the counts.
 */
static jmp_buf killed_jb;

static long hook_killed(struct object *self, int v, long arg)
{
	unwind_drop(NULL);		/* thread_kill_current() */
	longjmp(killed_jb, 1);		/* and it never comes back */
}

static void test_killed_in_counted_call_unpins(void **state)
{
	struct fx *x = fx_new();
	ott_ref_t r = mk(x, 3);
	struct object *n;
	struct class_version *v2;

	v2 = fx_update(x, 2, true, true);
	assert_int_equal(r_get(r), 3);
	n = obj(r);
	hook_fn = hook_killed;
	harts[0].cur = &fake_thread;
	if (!setjmp(killed_jb))
		r_hook(r, 0);
	harts[0].cur = NULL;
	assert_null(fake_thread.ip_top);
	assert_int_equal(n->inflight, 0);
	assert_int_equal(convert_probation_calls(v2, v2->epoch), 0);
	/* Nothing pins it: a rollback converts it back at once. */
	fx_rollback(x, &x->f.first, v2);
	assert_int_equal(convert_all(&x->f, 1000), 0);
	assert_int_equal(obj(r)->version, 1);
}

/*
 * Probation calls are counted per epoch: flipping it (the end of
 * probation) leaves the calls in flight in the old one until they end;
 * later calls count in the new one.
 */
static struct class_version *epoch_cv;
static uint32_t epoch_old_in, epoch_new_in;

static long hook_flip(struct object *self, int v, long arg)
{
	unsigned int old = epoch_cv->epoch & 1;

	convert_flip_epoch(epoch_cv);
	epoch_old_in = convert_probation_calls(epoch_cv, old);
	epoch_new_in = convert_probation_calls(epoch_cv, old ^ 1);
	return 0;
}

static void test_probation_epochs_drain(void **state)
{
	struct fx *x = fx_new();
	ott_ref_t r = mk(x, 3);

	epoch_cv = fx_update(x, 2, true, false);
	assert_int_equal(r_get(r), 3);
	hook_fn = hook_flip;
	assert_int_equal(r_hook(r, 0), 0);
	assert_int_equal(epoch_old_in, 1);	/* this call, still in flight */
	assert_int_equal(epoch_new_in, 0);
	assert_int_equal(convert_probation_calls(epoch_cv, 0), 0);
	assert_int_equal(convert_probation_calls(epoch_cv, 1), 0);
}

/*
 * Unwinding a faulted probation call: spinlocks taken under it are
 * released (not those its caller held before), the interrupt nesting and
 * enable state come back to what they were at the call, and the call is
 * retried.
 */
static struct spinlock outer_lock = SPINLOCK_INIT("outer"), inner_lock = SPINLOCK_INIT("inner");
static struct trap_frame unwind_tf;
static unsigned int unwind_released;
static int unwind_faults_left;

static long hook_locks_then_fault(struct object *self, int v, long arg)
{
	struct ip_frame *f;

	if (unwind_faults_left-- <= 0)
		return 77;
	held_lock(&inner_lock);
	harts[0].irq_depth = 2;
	host_irq_on = false;
	f = convert_find_frame(object_version(self));
	assert_non_null(f);
	memset(&unwind_tf, 0, sizeof(unwind_tf));
	unwind_released = unwind_to(&f->node, &unwind_tf);
	host_irq_on = (unwind_tf.sstatus & SSTATUS_SPIE) != 0;	/* what sret would do */
	longjmp(container_of(f, struct host_ip, f)->retry, 1);
}

static void test_unwind_restores_locks_and_irq(void **state)
{
	struct fx *x = fx_new();
	ott_ref_t r = mk(x, 3);

	fx_update(x, 2, true, false);
	assert_int_equal(r_get(r), 3);
	/* The caller holds one lock with interrupts off (a log line being written). */
	held_lock(&outer_lock);
	harts[0].irq_depth = 1;
	harts[0].irq_was_on = 1;
	host_irq_on = false;
	hook_fn = hook_locks_then_fault;
	unwind_faults_left = 1;
	assert_int_equal(r_hook(r, 0), 77);
	assert_int_equal(stub_retries, 1);
	assert_int_equal(unwind_released, 1);
	assert_int_equal(inner_lock.locked, 0);
	assert_int_equal(outer_lock.locked, 1);	/* the caller's: kept */
	assert_int_equal(harts[0].nheld, 1);
	assert_ptr_equal(harts[0].held[0], &outer_lock);
	assert_int_equal(harts[0].irq_depth, 1);
	assert_int_equal(unwind_tf.sstatus & SSTATUS_SPIE, 0);	/* were off at the call */
	assert_false(host_irq_on);
	spin_unlock(&outer_lock);
	harts[0].nheld = 0;
	harts[0].irq_depth = 0;
	host_irq_on = true;
}

/* ---- a loaded version's init and fini (src/factory.c) ---------------------------- */

static struct spinlock life_lock = SPINLOCK_INIT("life-test");
static char fake_module;		/* what makes a version "loaded" to factory.c */
static unsigned int life_calls;
static bool life_rollback;		/* the fault rolls the pack back, as in probation */
static struct fx *life_fx;
static struct unwind_node *life_top;	/* the chain's top seen by init */

static int init_faults(struct object *self, const void *arg)
{
	life_calls++;
	held_lock(&life_lock);
	if (life_rollback)	/* update_fault() -> begin_rollback(), before the unwind */
		fx_rollback(life_fx, &life_fx->f.first, &life_fx->v2);
	fault_to_recovery_point(RECOVER_INIT);
	return 0;
}

static void fini_faults(struct object *self)
{
	life_calls++;
	held_lock(&life_lock);
	fault_to_recovery_point(RECOVER_FINI);
}

static int init_sees_chain(struct object *self, const void *arg)
{
	life_top = *chain();
	return 0;
}

/* v2 loaded (a module's) and switched to, in probation or committed. */
static struct fx *life_setup(int (*init)(struct object *, const void *),
			     void (*fini)(struct object *), bool probation)
{
	struct fx *x = fx_new();

	if (init)
		x->cls[2].init = init;	/* else the fixture's */
	x->cls[2].fini = fini;
	fx_update(x, 2, probation, true)->module = (struct module *)&fake_module;
	life_fx = x;
	life_calls = 0;
	life_rollback = probation;
	return x;
}

/*
 * In probation, a faulting init rolls the pack back and the creation is
 * made again on the version now current: the caller gets its instance,
 * on v1 with v1's init, and the lock the faulting init took is released.
 */
static void test_init_fault_creates_on_old_version(void **state)
{
	struct fx *x = life_setup(init_faults, NULL, true);
	long v = 41;
	ott_ref_t r;

	assert_int_equal(factory_create(&x->f, &v, &r), 0);
	assert_int_equal(life_calls, 1);
	assert_ptr_equal(object_version(obj(r)), &x->f.first);
	assert_int_equal(st(obj(r))->value, 41);
	assert_int_equal(x->f.count, 1);
	assert_int_equal(host_locks_held, 0);
	assert_null(harts[0].ip_top);
}

/* After probation nothing rolls back: that creation fails, nothing is left of it. */
static void test_init_fault_after_probation_fails_creation(void **state)
{
	struct fx *x = life_setup(init_faults, NULL, false);
	long v = 41;
	ott_ref_t r = OTT_REF_NULL;

	assert_int_equal(factory_create(&x->f, &v, &r), -KE_FAULT);
	assert_int_equal(life_calls, 1);
	assert_int_equal(x->f.count, 0);
	assert_int_equal(host_locks_held, 0);
	assert_null(harts[0].ip_top);
}

/* A faulting fini (run by the reaper) skips what it would release; the instance is freed. */
static void test_fini_fault_frees_instance(void **state)
{
	struct fx *x = life_setup(NULL, fini_faults, false);
	ott_ref_t r = mk(x, 5);

	assert_ptr_equal(object_version(obj(r)), &x->v2);
	assert_int_equal(factory_destroy(&x->f, r), 0);
	host_defer_flush();
	assert_int_equal(life_calls, 1);
	assert_int_equal(x->f.count, 0);
	assert_int_equal(host_locks_held, 0);
	assert_null(harts[0].ip_top);
	assert_null(obj(r));
}

/* Only loaded code gets a recovery point: a built-in init runs bare. */
static void test_recovery_point_only_for_loaded_code(void **state)
{
	struct fx *x = life_setup(init_sees_chain, NULL, false);

	life_top = NULL;
	mk(x, 1);
	assert_non_null(life_top);
	assert_int_equal(life_top->kind, UNW_RECOVER);
	assert_int_equal(life_top->why, RECOVER_INIT);
	x->v2.module = NULL;
	life_top = (struct unwind_node *)&fake_module;
	mk(x, 2);
	assert_null(life_top);
	assert_null(harts[0].ip_top);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_bug_failed_conversion_spins),
		T(test_bug_revert_two_versions),
		T(test_bug_call_racing_destroy),
		T(test_bug_destroy_in_probation_leaks_prev),
		T(test_bug_rollback_during_conversion),
		T(test_bug_destroy_during_conversion),
		T(test_bug_destroy_during_eager_walk),
		T(test_transfer_fault_fails_conversion),
		T(test_transfer_fault_after_probation_stays),
		T(test_transfer_back_fault_keeps_state),
		T(test_bug_claim_before_irq_off),
		T(test_bug_revert_irq_off_caller_spins),
		T(test_revert_cannot_wait_fails_after_second_fault),
		T(test_revert_cannot_wait_spins_briefly),
		T(test_killed_in_counted_call_unpins),
		T(test_probation_epochs_drain),
		T(test_unwind_restores_locks_and_irq),
		T(test_init_fault_creates_on_old_version),
		T(test_init_fault_after_probation_fails_creation),
		T(test_fini_fault_frees_instance),
		T(test_recovery_point_only_for_loaded_code),
#undef T
	};

	return convert_run("test_convert_faults", tests, sizeof(tests) / sizeof(tests[0]));
}
