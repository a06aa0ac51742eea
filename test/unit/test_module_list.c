// unit-srcs: update/module_list.c src/ott.c test/unit/host_stubs.c
// unit-libs: -lpthread
/*
 * Host tests of the list of loaded modules (update/module_list.c), which a
 * fault handler searches by address (module_at) with no lock, from trap
 * context on any hart, while other harts load and free modules.
 *
 * The race test plays harts with pthreads: readers call module_at() in a
 * loop; a writer adds and removes modules and frees each removed one only
 * after every reader has finished the lookups that began before the
 * removal (what the kernel's quiescence wait guarantees, module.c). With
 * the old module.c (list_del, which points the removed node at itself,
 * and an immediate free) a reader standing on the removed node looped for
 * ever or read freed memory (AddressSanitizer).
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

#include <kernel/module.h>
#include "host_stubs.h"

#define READERS		3
#define ROUNDS		20000
#define LIVE		4	/* modules on the list besides the one coming and going */

static char text[LIVE + 1][64];
static struct module fixed[LIVE];
static volatile bool stop;
/* Per reader: lookups finished, and the number of the one in progress (odd: inside). */
static volatile uint64_t seq[READERS];
static volatile uint64_t found[READERS];

static void *reader(void *arg)
{
	unsigned int me = (unsigned int)(uintptr_t)arg;
	unsigned int k = me;

	while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
		uintptr_t pc = (uintptr_t)text[k++ % (LIVE + 1)] + 8;
		struct module *m;

		__atomic_add_fetch(&seq[me], 1, __ATOMIC_SEQ_CST);	/* odd: in a lookup */
		m = module_at(pc);
		if (m && (pc < (uintptr_t)m->text || pc >= (uintptr_t)m->text + m->text_size))
			abort();	/* a module that does not hold pc */
		if (m)
			found[me]++;
		__atomic_add_fetch(&seq[me], 1, __ATOMIC_SEQ_CST);
	}
	return NULL;
}

/* Every lookup in progress now has ended (quiescence, as the kernel's reaper waits for). */
static bool readers_passed(void)
{
	uint64_t snap[READERS];

	/*
	 * The unlink is a release store, and a store may still wait in this
	 * CPU's store buffer when seq[] is loaded (x86 reorders store-load):
	 * a reader starting a lookup then would still see the removed module
	 * although its seq[] read as "not in a lookup". The kernel's
	 * quiescence wait fences (IPIs, the scheduler's locks); so does this.
	 */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	for (int r = 0; r < READERS; r++)
		snap[r] = __atomic_load_n(&seq[r], __ATOMIC_SEQ_CST);
	for (int r = 0; r < READERS; r++) {
		int spins = 0;

		while ((snap[r] & 1) && __atomic_load_n(&seq[r], __ATOMIC_SEQ_CST) == snap[r]) {
			if (++spins > 2000)	/* 2 s: that lookup never ends */
				return false;
			usleep(1000);
		}
	}
	return true;
}

static void test_lookup_races_add_and_remove(void **state)
{
	pthread_t t[READERS];
	unsigned int base = module_count();

	for (int i = 0; i < LIVE; i++) {
		fixed[i].text = text[i];
		fixed[i].text_size = sizeof(text[i]);
		snprintf(fixed[i].name, sizeof(fixed[i].name), "fixed-%d", i);
		module_list_add(&fixed[i]);
	}
	stop = false;
	for (int r = 0; r < READERS; r++)
		assert_int_equal(pthread_create(&t[r], NULL, reader, (void *)(uintptr_t)r), 0);
	for (int round = 0; round < ROUNDS; round++) {
		struct module *m = calloc(1, sizeof(*m));
		struct module *f = &fixed[round % LIVE];

		assert_non_null(m);
		m->text = text[LIVE];
		m->text_size = sizeof(text[LIVE]);
		module_list_add(m);
		/* Remove one of the fixed ones too and put it back: removal mid-list. */
		module_list_del(f);
		module_list_del(m);
		if (!readers_passed()) {
			stop = true;
			fail_msg("a lookup never ended (it walked into a removed module)");
		}
		free(m);
		module_list_add(f);
	}
	stop = true;
	for (int r = 0; r < READERS; r++)
		assert_int_equal(pthread_join(t[r], NULL), 0);
	for (int i = 0; i < LIVE; i++)
		module_list_del(&fixed[i]);
	assert_int_equal(module_count(), base);
	for (int r = 0; r < READERS; r++)
		assert_true(found[r] > 0);
}

/* Plain lookups: the module holding a pc, none outside every text. */
static void test_lookup(void **state)
{
	struct module a = { .name = "a", .text = text[0], .text_size = 16 };
	struct module b = { .name = "b", .text = text[1], .text_size = 64 };
	unsigned int base = module_count();

	module_list_add(&a);
	module_list_add(&b);
	assert_int_equal(module_count(), base + 2);
	assert_ptr_equal(module_at((uintptr_t)text[0]), &a);
	assert_ptr_equal(module_at((uintptr_t)text[0] + 15), &a);
	assert_null(module_at((uintptr_t)text[0] + 16));
	assert_ptr_equal(module_at((uintptr_t)text[1] + 63), &b);
	assert_null(module_at((uintptr_t)text[2]));
	module_list_del(&a);
	assert_null(module_at((uintptr_t)text[0]));
	assert_ptr_equal(module_at((uintptr_t)text[1]), &b);
	/* A walker standing on a removed module still reaches the rest of the list. */
	assert_ptr_equal(list_entry(a.node.next, struct module, node), &b);
	module_list_del(&b);
	assert_int_equal(module_count(), base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lookup),
		cmocka_unit_test(test_lookup_races_add_and_remove),
	};

	alarm(120);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
