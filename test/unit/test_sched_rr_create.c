// unit-srcs: src/sched_rr.c src/factory.c src/ott.c test/unit/host_stubs.c
/*
 * sched_rr_create()'s argument checks, in a process of their own (the
 * scheduler factory is registered once per process). It used to register
 * the factory before checking @nharts, so a rejected call blocked every
 * later one (test_fixed_create_after_rejected_call).
 *
 * Tests named test_fixed_* pin down a bug found and fixed in src/sched_rr.c.
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

static int setup(void **state)
{
	host_ott_setup(&kernel_ott, 8, 1);
	host_locks_held = 0;
	return 0;
}

static int teardown(void **state)
{
	assert_int_equal(host_locks_held, 0);
	return 0;
}

static void test_bad_nharts_rejected(void **state)
{
	long live = host_live_allocs;

	assert_int_equal(sched_rr_create(0), -KE_INVAL);
	assert_int_equal(host_live_allocs, live);	/* nothing allocated */
	assert_int_equal(kernel_ott.used, 1);		/* no slot taken */
	assert_int_equal(ott_ref_check(&kernel_ott, sched_ref), -KE_STALE);
	assert_null(sched_ref.entry);
	assert_int_equal(host_locks_held, 0);
}

/* A rejected call should leave no trace, the factory registry included. */
static void test_fixed_rejected_call_registers_factory(void **state)
{
	assert_int_equal(sched_rr_create(0), -KE_INVAL);
	assert_null(factory_find("sched"));	/* FAILS: registered anyway */
}

struct walk {
	unsigned int total, sched;
};

static void walker(struct factory *f, void *arg)
{
	struct walk *w = arg;

	if (++w->total > 100)
		fail_msg("factory registry walk does not end (corrupt list)");
	if (!strcmp(factory_class(f)->name, "sched"))
		w->sched++;
}

/*
 * sched_rr_create() calls factory_init() before it checks @nharts
 * (src/sched_rr.c, sched_rr_create), so a rejected call still registers
 * the "sched" factory, and every later call runs factory_init() on the
 * registered factory again. With the working-tree factory.c that is
 * refused (-KE_EXIST), so no scheduler can ever be created after one
 * rejected call; with the committed factory.c it re-added the node to the
 * registry, which then looped forever (the walker below stops it). The
 * same holds for any second sched_rr_create(), e.g. to build a fresh
 * scheduler for a live update.
 */
static void test_fixed_create_after_rejected_call(void **state)
{
	struct walk w = { 0 };
	const char *p = NULL;

	assert_int_equal(sched_rr_create(MAX_HARTS + 1), -KE_INVAL);
	assert_int_equal(sched_rr_create(2), 0);	/* FAILS: -KE_EXIST */
	assert_int_equal(sched_policy(sched_ref, &p), 0);
	assert_string_equal(p, "rr");
	factory_for_each(walker, &w);
	assert_int_equal(w.sched, 1);
	assert_int_equal(w.total, 1);
}

#define T_(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T_(test_bad_nharts_rejected),
		T_(test_fixed_rejected_call_registers_factory),
		T_(test_fixed_create_after_rejected_call),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
