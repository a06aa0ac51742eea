// unit-srcs: src/page_pool.c src/kheap.c
/*
 * Host tests of kmalloc's engine: every size class, large blocks,
 * alignment, writes over the whole usable size (ASan watches), rejected
 * frees, leak accounting back to zero, and a randomized stress run.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <kernel/kheap.h>
#include <kernel/errno.h>

#define ARENA_PAGES	2048
#define MAX_BLOCK	(PAGE_SIZE << PAGE_MAX_ORDER)
#define MAX_LIVE	8192

struct fixture {
	uint8_t *arena;
	uint8_t meta[ARENA_PAGES];
	struct page_pool pp;
	struct kheap h;
	size_t pool_start;	/* free pages before the test */
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->arena = aligned_alloc(MAX_BLOCK, ARENA_PAGES * PAGE_SIZE);
	assert_non_null(f->arena);
	assert_int_equal(page_pool_init(&f->pp, (uintptr_t)f->arena, ARENA_PAGES,
					f->meta), 0);
	/* Keep page 7 reserved so the pool is not one clean block. */
	page_pool_add_range(&f->pp, (uintptr_t)f->arena, (uintptr_t)f->arena + 7 * PAGE_SIZE);
	page_pool_add_range(&f->pp, (uintptr_t)f->arena + 8 * PAGE_SIZE,
			    (uintptr_t)f->arena + ARENA_PAGES * PAGE_SIZE);
	f->pool_start = page_pool_free_pages(&f->pp);
	assert_int_equal(f->pool_start, ARENA_PAGES - 1);
	kheap_init(&f->h, &f->pp);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	free(f->arena);
	free(f);
	return 0;
}

/* The leak check: nothing live, nothing held, the pool back where it was. */
static void assert_heap_empty(struct fixture *f)
{
	assert_int_equal(f->h.stats.live_allocs, 0);
	assert_int_equal(f->h.stats.live_bytes, 0);
	assert_int_equal(f->h.stats.pages_held, 0);
	assert_int_equal(f->h.stats.total_allocs, f->h.stats.total_frees);
	assert_int_equal(page_pool_free_pages(&f->pp), f->pool_start);
}

static void assert_stats_same(const struct kheap_stats *a, const struct kheap_stats *b)
{
	assert_int_equal(a->live_allocs, b->live_allocs);
	assert_int_equal(a->live_bytes, b->live_bytes);
	assert_int_equal(a->total_allocs, b->total_allocs);
	assert_int_equal(a->total_frees, b->total_frees);
	assert_int_equal(a->pages_held, b->pages_held);
}

static void *alloc_checked(struct fixture *f, size_t size)
{
	uint8_t *p = kheap_alloc(&f->h, size);
	size_t usable;

	assert_non_null(p);
	assert_int_equal((uintptr_t)p % KHEAP_ALIGN, 0);
	assert_true((uintptr_t)p >= (uintptr_t)f->arena);
	assert_true((uintptr_t)p < (uintptr_t)f->arena + ARENA_PAGES * PAGE_SIZE);
	usable = kheap_usable_size(&f->h, p);
	assert_true(usable >= size);
	memset(p, 0x5a, usable);
	return p;
}

static void test_classes(void **state)
{
	struct fixture *f = *state;
	size_t cls;

	for (cls = 16; cls <= 2048; cls *= 2) {
		size_t sizes[] = { cls / 2 + 1, cls - 1, cls }, i;

		for (i = 0; i < 3; i++) {
			uint8_t *p = alloc_checked(f, sizes[i]);

			assert_int_equal(kheap_usable_size(&f->h, p),
					 sizes[i] <= 16 ? 16 : cls);
			assert_int_equal(f->h.stats.live_allocs, 1);
			assert_int_equal(f->h.stats.live_bytes, sizes[i]);
			assert_int_equal(f->h.stats.pages_held, 1);
			/* Objects never start a page: the header does. */
			assert_true((uintptr_t)p % PAGE_SIZE != 0);
			assert_int_equal(kheap_free(&f->h, p), 0);
			assert_heap_empty(f);
		}
	}
	assert_int_equal(kheap_usable_size(&f->h, alloc_checked(f, 1)), 16);
	assert_int_equal(f->h.stats.total_allocs, 25);
}

static void test_large(void **state)
{
	struct fixture *f = *state;
	struct { size_t size; unsigned int order; } cases[] = {
		{ 2049, 0 }, { PAGE_SIZE - 64, 0 }, { PAGE_SIZE - 63, 1 },
		{ PAGE_SIZE, 1 }, { 100000, 5 }, { MAX_BLOCK / 2, 10 },
		{ MAX_BLOCK - 64, 10 },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t *p = alloc_checked(f, cases[i].size);
		size_t block = PAGE_SIZE << cases[i].order;

		assert_int_equal(kheap_usable_size(&f->h, p), block - 64);
		assert_int_equal((uintptr_t)p % PAGE_SIZE, 64);
		assert_int_equal(f->h.stats.pages_held, 1UL << cases[i].order);
		assert_int_equal(f->h.stats.live_bytes, cases[i].size);
		assert_int_equal(page_pool_free_pages(&f->pp),
				 f->pool_start - (1UL << cases[i].order));
		assert_int_equal(kheap_free(&f->h, p), 0);
		assert_heap_empty(f);
	}
	/* Too big for any block, or for size_t once the header is added. */
	assert_null(kheap_alloc(&f->h, MAX_BLOCK - 63));
	assert_null(kheap_alloc(&f->h, SIZE_MAX));
	assert_null(kheap_alloc(&f->h, SIZE_MAX - 63));
	assert_null(kheap_alloc(&f->h, 0));
	assert_int_equal(f->h.stats.total_allocs, 7);
	assert_heap_empty(f);
}

static void expect_bad_free(struct fixture *f, void *p)
{
	struct kheap_stats before = f->h.stats;
	size_t pool = page_pool_free_pages(&f->pp);

	assert_int_equal(kheap_free(&f->h, p), -KE_INVAL);
	assert_int_equal(f->h.stats.bad_frees, before.bad_frees + 1);
	assert_stats_same(&f->h.stats, &before);
	assert_int_equal(page_pool_free_pages(&f->pp), pool);
	assert_int_equal(kheap_usable_size(&f->h, p), 0);
}

static void test_bad_frees(void **state)
{
	struct fixture *f = *state;
	uint8_t *a = alloc_checked(f, 32), *b = alloc_checked(f, 32);
	uint8_t *big = alloc_checked(f, 3 * PAGE_SIZE);
	uint8_t *raw = page_pool_alloc(&f->pp, 0);
	uint8_t *slab = (uint8_t *)((uintptr_t)a & ~(PAGE_SIZE - 1));
	size_t bad = 0;
	int local;

	assert_non_null(raw);
	memset(raw, 0, PAGE_SIZE);
	assert_int_equal(kheap_free(&f->h, NULL), 0);
	assert_int_equal(f->h.stats.bad_frees, 0);
	expect_bad_free(f, &local);				/* foreign */
	expect_bad_free(f, f->meta);
	expect_bad_free(f, raw + 64);				/* not the heap's page */
	expect_bad_free(f, raw);
	expect_bad_free(f, f->arena + 7 * PAGE_SIZE + 64);	/* reserved page */
	expect_bad_free(f, slab);				/* slab header */
	expect_bad_free(f, a + 1);				/* interior */
	expect_bad_free(f, a + 16);
	expect_bad_free(f, b + 32);				/* never handed out */
	expect_bad_free(f, slab + PAGE_SIZE - 16);
	expect_bad_free(f, big - 64);				/* large header */
	expect_bad_free(f, big + 16);
	expect_bad_free(f, big + PAGE_SIZE);			/* interior page */
	expect_bad_free(f, big + PAGE_SIZE - 64);
	/* A slab header copied into pages the heap does not own is not trusted. */
	memcpy(big - 64 + PAGE_SIZE, slab, PAGE_SIZE);
	expect_bad_free(f, big - 64 + PAGE_SIZE + (a - slab));
	memcpy(f->arena + 7 * PAGE_SIZE, slab, PAGE_SIZE);
	expect_bad_free(f, f->arena + 7 * PAGE_SIZE + (a - slab));
	bad = 16;
	assert_int_equal(kheap_free(&f->h, a), 0);
	expect_bad_free(f, a);					/* double free */
	assert_int_equal(kheap_free(&f->h, big), 0);
	expect_bad_free(f, big);
	assert_int_equal(kheap_free(&f->h, b), 0);		/* slab now gone */
	expect_bad_free(f, b);
	expect_bad_free(f, a);
	bad += 4;
	assert_int_equal(f->h.stats.bad_frees, bad);
	assert_int_equal(page_pool_free(&f->pp, raw, 0), 0);
	assert_heap_empty(f);
}

/* A slab goes back to the pool as soon as its last object is freed. */
static void test_slab_return(void **state)
{
	struct fixture *f = *state;
	static void *objs[PAGE_SIZE / 16 + 1];
	size_t n = 0, i;

	do {
		objs[n++] = alloc_checked(f, 16);
		assert_true(n <= PAGE_SIZE / 16);
	} while (f->h.stats.pages_held == 1);
	/* Filling one slab and spilling into a second. */
	assert_int_equal(f->h.stats.pages_held, 2);
	assert_true(n > 200);
	for (i = 0; i + 1 < n; i++)
		assert_int_equal((uintptr_t)objs[i] & ~(PAGE_SIZE - 1),
				 (uintptr_t)objs[0] & ~(PAGE_SIZE - 1));
	assert_int_equal(kheap_free(&f->h, objs[n - 1]), 0);
	assert_int_equal(f->h.stats.pages_held, 1);
	/* A full slab becomes partial again when one object is freed. */
	assert_int_equal(kheap_free(&f->h, objs[3]), 0);
	assert_ptr_equal(kheap_alloc(&f->h, 10), objs[3]);
	assert_int_equal(f->h.stats.pages_held, 1);
	for (i = 0; i + 1 < n; i++)
		assert_int_equal(kheap_free(&f->h, objs[i]), 0);
	assert_heap_empty(f);
	assert_int_equal(f->h.stats.total_allocs, n + 1);
}

/* Runs the pool dry through the heap, then gives everything back. */
static void test_exhaustion(void **state)
{
	struct fixture *f = *state;
	static void *objs[ARENA_PAGES * 2];
	size_t n = 0, i;
	void *p;

	while ((p = kheap_alloc(&f->h, 2048)) != NULL) {
		assert_true(n < ARENA_PAGES * 2);
		objs[n++] = p;
	}
	assert_int_equal(page_pool_free_pages(&f->pp), 0);
	assert_int_equal(f->h.stats.pages_held, f->pool_start);
	assert_int_equal(f->h.stats.live_allocs, n);
	assert_int_equal(f->h.stats.live_bytes, n * 2048);
	assert_null(kheap_alloc(&f->h, 16));
	assert_null(kheap_alloc(&f->h, 5000));
	assert_int_equal(f->h.stats.total_allocs, n);
	for (i = 0; i < n; i++)
		assert_int_equal(kheap_free(&f->h, objs[i]), 0);
	assert_heap_empty(f);
	/* Merged back: the largest allocation works again. */
	p = alloc_checked(f, MAX_BLOCK - 64);
	assert_int_equal(kheap_free(&f->h, p), 0);
	assert_heap_empty(f);
}

static size_t rand_size(uint32_t r)
{
	switch (r % 8) {
	case 0:
		return 2049 + (r >> 8) % (5 * PAGE_SIZE);
	case 1:
		return 1 + (r >> 8) % 2048;
	default:
		return 1 + (r >> 8) % 256;
	}
}

/* Random allocs and frees; contents and overlap checked against a shadow. */
static void test_stress(void **state)
{
	struct fixture *f = *state;
	static struct { uint8_t *p; size_t size; uint8_t tag; } live[MAX_LIVE];
	size_t nlive = 0, bytes = 0, i, j;
	uint32_t seed = 42;
	int op;

	for (op = 0; op < 30000; op++) {
		seed = seed * 1664525 + 1013904223;
		if (nlive == MAX_LIVE || (nlive && (seed >> 29) < 3)) {
			size_t s = (seed >> 3) % nlive;

			for (j = 0; j < live[s].size; j++)
				assert_int_equal(live[s].p[j], live[s].tag);
			assert_int_equal(kheap_free(&f->h, live[s].p), 0);
			if ((seed & 7) == 0)
				expect_bad_free(f, live[s].p);
			bytes -= live[s].size;
			live[s] = live[--nlive];
		} else {
			size_t size = rand_size(seed >> 3);
			uint8_t *p = kheap_alloc(&f->h, size);
			uintptr_t a = (uintptr_t)p;

			if (!p)
				continue;
			assert_int_equal(a % KHEAP_ALIGN, 0);
			for (i = 0; i < nlive; i++) {
				uintptr_t b = (uintptr_t)live[i].p;

				assert_true(a + size <= b || b + live[i].size <= a);
			}
			live[nlive].p = p;
			live[nlive].size = size;
			live[nlive].tag = (uint8_t)op;
			memset(p, (uint8_t)op, size);
			nlive++;
			bytes += size;
		}
		assert_int_equal(f->h.stats.live_allocs, nlive);
		assert_int_equal(f->h.stats.live_bytes, bytes);
		assert_int_equal(page_pool_free_pages(&f->pp) + f->h.stats.pages_held,
				 f->pool_start);
	}
	for (i = 0; i < nlive; i++) {
		for (j = 0; j < live[i].size; j++)
			assert_int_equal(live[i].p[j], live[i].tag);
		assert_int_equal(kheap_free(&f->h, live[i].p), 0);
	}
	assert_heap_empty(f);
	assert_true(f->h.stats.total_allocs > 10000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_classes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_large, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_frees, setup, teardown),
		cmocka_unit_test_setup_teardown(test_slab_return, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exhaustion, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stress, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
