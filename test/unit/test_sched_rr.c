// unit-srcs: src/sched_rr.c src/factory.c src/ott.c test/unit/host_stubs.c
/*
 * Host tests of the round-robin scheduler object, called the way the
 * kernel calls it: through sched_ref and OTT_CALL (sched.h's wrappers),
 * with host_stubs.c's C miss stubs standing in for ott_miss.S. Covered:
 * FIFO order per hart, affinity, stealing of unpinned threads by an idle
 * hart from the busiest queue (pinned ones never), tick, the per-hart
 * statistics, bad hart indices, the kick on enqueue, and swapping the
 * object behind sched_ref.
 *
 * sched_rr_create() can only be called once per process (see
 * test_sched_rr_create.c), so one scheduler serves every test; each test
 * leaves the run queues empty and compares statistics as differences.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <kernel/sched.h>
#include <kernel/thread.h>
#include <kernel/object.h>
#include <kernel/hart.h>
#include <kernel/errno.h>
#include "host_stubs.h"

#define NHARTS	4
#define NSLOTS	16
#define NTHREADS 16

_Static_assert(NHARTS < MAX_HARTS, "tests use hart indices >= NHARTS inside rq[]");

static struct thread th[NTHREADS];

static struct thread *mk(int id, int hart, int affinity)
{
	struct thread *t = &th[id];

	memset(t, 0, sizeof(*t));
	t->id = (uint32_t)id;
	t->hart = hart;
	t->affinity = affinity;
	t->state = THREAD_RUNNABLE;
	list_init(&t->rq_node);
	return t;
}

static void enq(struct thread *t)
{
	assert_int_equal(sched_enqueue(sched_ref, t), 0);
	assert_int_equal(host_locks_held, 0);
}

static struct thread *pick(unsigned int hart)
{
	struct thread *t = (struct thread *)0x1;	/* must be overwritten */

	assert_int_equal(sched_pick(sched_ref, hart, &t), 0);
	assert_int_equal(host_locks_held, 0);
	assert_ptr_not_equal(t, (struct thread *)0x1);
	return t;
}

static struct sched_stats stats(unsigned int hart)
{
	struct sched_stats s;

	memset(&s, 0xff, sizeof(s));
	assert_int_equal(sched_stats(sched_ref, hart, &s), 0);
	return s;
}

static uint32_t queued(unsigned int hart)
{
	return stats(hart).queued;
}

static int group_setup(void **state)
{
	host_ott_setup(&kernel_ott, NSLOTS, 2);
	assert_int_equal(sched_rr_create(NHARTS), 0);
	assert_int_equal(host_locks_held, 0);
	return 0;
}

static int group_teardown(void **state)
{
	host_ott_teardown(&kernel_ott);
	return 0;
}

static int setup(void **state)
{
	host_kicks_reset();
	assert_int_equal(host_locks_held, 0);
	for (unsigned int h = 0; h < NHARTS; h++)
		assert_int_equal(queued(h), 0);
	return 0;
}

/* Every test must leave the queues empty; drain them anyway so one failure does not cascade. */
static int teardown(void **state)
{
	uint32_t left = 0;
	struct thread *t;

	for (unsigned int h = 0; h < NHARTS; h++) {
		left += queued(h);
		do
			assert_int_equal(sched_pick(sched_ref, h, &t), 0);
		while (t);
	}
	host_locks_held = 0;
	assert_int_equal(left, 0);
	return 0;
}

/* ---- the object itself ------------------------------------------------------------ */

static void test_created_object(void **state)
{
	const char *p = NULL;
	struct factory *f = factory_find("sched");
	const struct class *cls = ott_class_of(&kernel_ott, sched_ref);
	unsigned long misses;

	assert_int_equal(ott_ref_check(&kernel_ott, sched_ref), 0);
	assert_non_null(f);
	assert_int_equal(f->count, 1);
	assert_ptr_equal(cls, factory_class(f));
	assert_string_equal(cls->name, "sched");
	assert_int_equal(cls->nmethods, 5);
	assert_non_null(factory_object(f, sched_ref));

	assert_int_equal(sched_policy(sched_ref, &p), 0);
	assert_non_null(p);
	assert_string_equal(p, "rr");
	/* Once resolved, calls hit the hart's cache. */
	misses = host_miss_calls;
	p = NULL;
	assert_int_equal(sched_policy(sched_ref, &p), 0);
	assert_string_equal(p, "rr");
	assert_int_equal(host_miss_calls, misses);
}

/* ---- enqueue and pick ----------------------------------------------------------------- */

static void test_fifo_per_hart(void **state)
{
	struct thread *a = mk(0, 1, THREAD_ANY_HART);
	struct thread *b = mk(1, 1, THREAD_ANY_HART);
	struct thread *c = mk(2, 1, THREAD_ANY_HART);
	struct sched_stats before = stats(1);
	struct sched_stats after;

	enq(a);
	enq(b);
	enq(c);
	assert_int_equal(queued(1), 3);
	assert_int_equal(queued(0), 0);
	/* Each enqueue kicks the hart whose queue got the thread. */
	assert_int_equal(host_nkicks, 3);
	assert_int_equal(host_kicks[0], 1);
	assert_int_equal(host_kicks[1], 1);
	assert_int_equal(host_kicks[2], 1);

	assert_ptr_equal(pick(1), a);
	enq(a);			/* a goes to the back */
	assert_ptr_equal(pick(1), b);
	assert_ptr_equal(pick(1), c);
	assert_ptr_equal(pick(1), a);
	assert_null(pick(1));
	after = stats(1);
	assert_int_equal(after.queued, 0);
	assert_int_equal(after.picks - before.picks, 4);
	assert_int_equal(after.steals - before.steals, 0);
}

static void test_queues_are_per_hart(void **state)
{
	struct thread *a = mk(0, 0, THREAD_ANY_HART);
	struct thread *b = mk(1, 2, THREAD_ANY_HART);
	struct thread *c = mk(2, 2, THREAD_ANY_HART);

	enq(a);
	enq(b);
	enq(c);
	assert_int_equal(queued(0), 1);
	assert_int_equal(queued(2), 2);
	assert_int_equal(host_kicks[0], 0);
	assert_int_equal(host_kicks[1], 2);
	/* Each hart runs its own queue first, even when another is longer. */
	assert_ptr_equal(pick(0), a);
	assert_ptr_equal(pick(2), b);
	assert_ptr_equal(pick(2), c);
}

static void test_affinity_overrides_last_hart(void **state)
{
	struct thread *t = mk(0, 0, 3);		/* last ran on 0, pinned to 3 */
	struct thread *u = mk(1, 3, THREAD_ANY_HART);

	enq(t);
	assert_int_equal(queued(3), 1);
	assert_int_equal(queued(0), 0);
	assert_int_equal(host_nkicks, 1);
	assert_int_equal(host_kicks[0], 3);
	enq(u);
	assert_ptr_equal(pick(3), t);
	assert_ptr_equal(pick(3), u);
}

static void test_out_of_range_hart_goes_to_hart0(void **state)
{
	struct thread *t = mk(0, NHARTS + 2, THREAD_ANY_HART);
	struct thread *u = mk(1, -1, THREAD_ANY_HART);

	enq(t);
	enq(u);
	assert_int_equal(queued(0), 2);
	assert_int_equal(host_kicks[0], 0);
	assert_int_equal(host_kicks[1], 0);
	assert_ptr_equal(pick(0), t);
	assert_ptr_equal(pick(0), u);
}

/* ---- stealing ------------------------------------------------------------------------ */

static void test_pinned_never_stolen(void **state)
{
	struct thread *p1 = mk(0, 0, 0);
	struct thread *p2 = mk(1, 0, 0);
	struct sched_stats s1 = stats(1);

	enq(p1);
	enq(p2);
	/* Hart 1 is idle, hart 0 is the busiest, but both threads are pinned. */
	assert_null(pick(1));
	assert_null(pick(2));
	assert_int_equal(queued(0), 2);
	assert_int_equal(stats(1).steals, s1.steals);
	assert_int_equal(stats(1).picks, s1.picks);	/* an empty pick is not a pick */
	assert_ptr_equal(pick(0), p1);
	assert_ptr_equal(pick(0), p2);
}

static void test_idle_hart_steals_unpinned(void **state)
{
	struct thread *p = mk(0, 0, 0);			/* pinned, at the head */
	struct thread *u1 = mk(1, 0, THREAD_ANY_HART);
	struct thread *u2 = mk(2, 0, THREAD_ANY_HART);
	struct sched_stats s1 = stats(1), s0 = stats(0), after;

	enq(p);
	enq(u1);
	enq(u2);
	/* Idle hart 1 skips the pinned head and takes the first unpinned one. */
	assert_ptr_equal(pick(1), u1);
	after = stats(1);
	assert_int_equal(after.steals - s1.steals, 1);
	assert_int_equal(after.picks - s1.picks, 1);
	assert_int_equal(queued(0), 2);
	/* The victim's own figures are not touched by the steal. */
	assert_int_equal(stats(0).picks, s0.picks);
	assert_int_equal(stats(0).steals, s0.steals);
	/* The victim's order is kept. */
	assert_ptr_equal(pick(0), p);
	assert_ptr_equal(pick(0), u2);
	assert_int_equal(stats(0).picks - s0.picks, 2);
	assert_int_equal(stats(0).steals, s0.steals);
}

static void test_steal_from_busiest(void **state)
{
	struct thread *a = mk(0, 0, THREAD_ANY_HART);
	struct thread *b = mk(1, 3, THREAD_ANY_HART);
	struct thread *c = mk(2, 3, THREAD_ANY_HART);
	struct thread *d = mk(3, 2, THREAD_ANY_HART);
	struct sched_stats s1 = stats(1);

	enq(a);		/* hart 0: 1 */
	enq(d);		/* hart 2: 1 */
	enq(b);		/* hart 3: 2 */
	enq(c);
	assert_ptr_equal(pick(1), b);	/* from hart 3, the longest */
	/* Now all have one: the first longest (lowest index) is the victim. */
	assert_ptr_equal(pick(1), a);
	assert_int_equal(stats(1).steals - s1.steals, 2);
	assert_int_equal(queued(0), 0);
	assert_int_equal(queued(2), 1);
	assert_int_equal(queued(3), 1);
	assert_ptr_equal(pick(2), d);
	assert_ptr_equal(pick(3), c);
}

static void test_own_queue_before_stealing(void **state)
{
	struct thread *own = mk(0, 1, 1);
	struct thread *x = mk(1, 0, THREAD_ANY_HART);
	struct thread *y = mk(2, 0, THREAD_ANY_HART);
	struct sched_stats s1 = stats(1);

	enq(x);
	enq(y);
	enq(own);
	assert_ptr_equal(pick(1), own);
	assert_int_equal(stats(1).steals, s1.steals);
	assert_int_equal(queued(0), 2);
	assert_ptr_equal(pick(0), x);
	assert_ptr_equal(pick(0), y);
}

/* ---- tick, stats, bad indices ----------------------------------------------------------- */

static void test_tick(void **state)
{
	struct thread *cur = mk(0, 2, THREAD_ANY_HART);
	struct thread *w = mk(1, 2, THREAD_ANY_HART);
	struct thread *other = mk(2, 1, THREAD_ANY_HART);

	assert_int_equal(sched_tick(sched_ref, 2, cur), 0);	/* nobody waiting */
	enq(other);
	assert_int_equal(sched_tick(sched_ref, 2, cur), 0);	/* only elsewhere */
	assert_int_equal(sched_tick(sched_ref, 1, cur), 1);
	enq(w);
	assert_int_equal(sched_tick(sched_ref, 2, cur), 1);
	assert_int_equal(sched_tick(sched_ref, 2, NULL), 1);
	/* Not for harts the scheduler does not have. */
	assert_int_equal(sched_tick(sched_ref, NHARTS, cur), 0);
	assert_int_equal(sched_tick(sched_ref, 1000, cur), 0);
	assert_ptr_equal(pick(2), w);
	assert_int_equal(sched_tick(sched_ref, 2, cur), 0);
	assert_ptr_equal(pick(1), other);
	assert_int_equal(sched_tick(sched_ref, 1, cur), 0);
}

static void test_stats_count(void **state)
{
	struct sched_stats s = stats(3), t;

	enq(mk(0, 3, THREAD_ANY_HART));
	enq(mk(1, 3, THREAD_ANY_HART));
	t = stats(3);
	assert_int_equal(t.queued, 2);
	assert_int_equal(t.picks, s.picks);
	assert_non_null(pick(3));
	t = stats(3);
	assert_int_equal(t.queued, 1);
	assert_int_equal(t.picks, s.picks + 1);
	assert_non_null(pick(3));
	assert_null(pick(3));
	t = stats(3);
	assert_int_equal(t.queued, 0);
	assert_int_equal(t.picks, s.picks + 2);
	assert_int_equal(t.steals, s.steals);
}

static void test_bad_hart_index(void **state)
{
	struct thread *t = (struct thread *)0x1;
	struct sched_stats st;

	memset(&st, 0x5a, sizeof(st));
	assert_int_equal(sched_pick(sched_ref, NHARTS, &t), -KE_INVAL);
	assert_ptr_equal(t, (struct thread *)0x1);	/* untouched */
	assert_int_equal(sched_pick(sched_ref, MAX_HARTS, &t), -KE_INVAL);
	assert_int_equal(sched_pick(sched_ref, ~0u, &t), -KE_INVAL);
	assert_int_equal(sched_stats(sched_ref, NHARTS, &st), -KE_INVAL);
	assert_int_equal(sched_stats(sched_ref, ~0u, &st), -KE_INVAL);
	assert_int_equal(st.queued, 0x5a5a5a5a);
	assert_int_equal(host_locks_held, 0);
	/* Harts in range are fine. */
	assert_int_equal(sched_stats(sched_ref, NHARTS - 1, &st), 0);
	assert_int_equal(st.queued, 0);
}

/* ---- replacing the object behind sched_ref --------------------------------------------------- */

static long fake_enqueue(struct object *self, struct thread *t)
{
	return -KE_BUSY;
}

static long fake_policy(struct object *self, const char **out)
{
	*out = "fake";
	return 0;
}

static const struct sched_ops fake_ops = {
	.enqueue = fake_enqueue,
	.policy = fake_policy,
};

static void test_replace_scheduler(void **state)
{
	struct object fake = { .ops = &fake_ops };
	struct object *rr_obj;
	const char *p = NULL;

	assert_int_equal(sched_policy(sched_ref, &p), 0);	/* cached now */
	rr_obj = ott_replace(&kernel_ott, sched_ref, &fake);
	assert_non_null(rr_obj);
	assert_int_equal(sched_policy(sched_ref, &p), 0);
	assert_string_equal(p, "fake");
	assert_int_equal(sched_enqueue(sched_ref, mk(0, 0, THREAD_ANY_HART)), -KE_BUSY);
	assert_int_equal(host_nkicks, 0);
	/* And back: the round-robin object, with its queues, answers again. */
	assert_ptr_equal(ott_replace(&kernel_ott, sched_ref, rr_obj), &fake);
	assert_int_equal(rr_obj->slot, sched_ref.slot);
	assert_int_equal(sched_policy(sched_ref, &p), 0);
	assert_string_equal(p, "rr");
	assert_int_equal(queued(0), 0);
}

#define T_(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T_(test_created_object),
		T_(test_fifo_per_hart),
		T_(test_queues_are_per_hart),
		T_(test_affinity_overrides_last_hart),
		T_(test_out_of_range_hart_goes_to_hart0),
		T_(test_pinned_never_stolen),
		T_(test_idle_hart_steals_unpinned),
		T_(test_steal_from_busiest),
		T_(test_own_queue_before_stealing),
		T_(test_tick),
		T_(test_stats_count),
		T_(test_bad_hart_index),
		T_(test_replace_scheduler),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
