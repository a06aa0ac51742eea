// unit-srcs: src/page_pool.c
/*
 * Host tests of the buddy allocator: every order, alignment in absolute
 * addresses, exhaustion, merging, add_range edges, reserved holes, every
 * rejected free, and a randomized stress run checked against a shadow map.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <kernel/page_pool.h>
#include <kernel/errno.h>

#define ARENA_PAGES	2048	/* two max-order blocks */
#define MAX_BLOCK	(PAGE_SIZE << PAGE_MAX_ORDER)

struct fixture {
	uint8_t *arena;		/* MAX_BLOCK aligned, ARENA_PAGES long */
	uint8_t meta[ARENA_PAGES];
	struct page_pool pp;
};

static uintptr_t pg(struct fixture *f, size_t idx)
{
	return (uintptr_t)f->arena + idx * PAGE_SIZE;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->arena = aligned_alloc(MAX_BLOCK, ARENA_PAGES * PAGE_SIZE);
	assert_non_null(f->arena);
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

/* Pool over the whole arena, all of it free. */
static struct page_pool *full_pool(struct fixture *f)
{
	assert_int_equal(page_pool_init(&f->pp, pg(f, 0), ARENA_PAGES, f->meta), 0);
	assert_int_equal(page_pool_add_range(&f->pp, pg(f, 0), pg(f, ARENA_PAGES)),
			 ARENA_PAGES);
	return &f->pp;
}

static void assert_block_ok(struct fixture *f, void *b, unsigned int order)
{
	uintptr_t a = (uintptr_t)b;

	assert_non_null(b);
	assert_true(a >= f->pp.base);
	assert_true(a + (PAGE_SIZE << order) <= f->pp.base + f->pp.npages * PAGE_SIZE);
	assert_int_equal(a % (PAGE_SIZE << order), 0);
}

/* How many blocks of @order can be allocated now; frees them again. */
static size_t count_allocs(struct page_pool *pp, unsigned int order)
{
	static void *blocks[ARENA_PAGES];
	size_t n = 0, i;

	while (n < ARENA_PAGES && (blocks[n] = page_pool_alloc(pp, order)))
		n++;
	for (i = 0; i < n; i++)
		assert_int_equal(page_pool_free(pp, blocks[i], order), 0);
	return n;
}

static void test_order_for(void **state)
{
	assert_int_equal(page_order_for(0), 0);
	assert_int_equal(page_order_for(1), 0);
	assert_int_equal(page_order_for(PAGE_SIZE), 0);
	assert_int_equal(page_order_for(PAGE_SIZE + 1), 1);
	assert_int_equal(page_order_for(2 * PAGE_SIZE), 1);
	assert_int_equal(page_order_for(2 * PAGE_SIZE + 1), 2);
	assert_int_equal(page_order_for(3 * PAGE_SIZE), 2);
	assert_int_equal(page_order_for(MAX_BLOCK), PAGE_MAX_ORDER);
	assert_true(page_order_for(MAX_BLOCK + 1) > PAGE_MAX_ORDER);
	assert_true(page_order_for(SIZE_MAX) > PAGE_MAX_ORDER);
	assert_int_equal(page_pool_meta_bytes(ARENA_PAGES), ARENA_PAGES);
}

static void test_init(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(page_pool_init(NULL, pg(f, 0), 4, f->meta), -KE_INVAL);
	assert_int_equal(page_pool_init(&f->pp, pg(f, 0), 4, NULL), -KE_INVAL);
	assert_int_equal(page_pool_init(&f->pp, pg(f, 0) + 8, 4, f->meta), -KE_INVAL);
	assert_int_equal(page_pool_init(&f->pp, UINTPTR_MAX & ~(PAGE_SIZE - 1), 2,
					f->meta), -KE_INVAL);
	/* A new pool is all reserved: nothing to hand out. */
	assert_int_equal(page_pool_init(&f->pp, pg(f, 0), ARENA_PAGES, f->meta), 0);
	assert_int_equal(page_pool_free_pages(&f->pp), 0);
	assert_null(page_pool_alloc(&f->pp, 0));
}

static void test_every_order(void **state)
{
	struct fixture *f = *state;
	struct page_pool *pp = full_pool(f);
	unsigned int order;

	for (order = 0; order <= PAGE_MAX_ORDER; order++) {
		void *b = page_pool_alloc(pp, order);

		assert_block_ok(f, b, order);
		assert_int_equal(page_pool_allocated_order(pp, b), order);
		assert_int_equal(page_pool_free_pages(pp), ARENA_PAGES - (1UL << order));
		memset(b, 0xa5, PAGE_SIZE << order);
		assert_int_equal(page_pool_free(pp, b, order), 0);
		assert_int_equal(page_pool_free_pages(pp), ARENA_PAGES);
		assert_int_equal(page_pool_allocated_order(pp, b), -KE_INVAL);
	}
	assert_null(page_pool_alloc(pp, PAGE_MAX_ORDER + 1));
	assert_int_equal(page_pool_free_pages(pp), ARENA_PAGES);
}

/* Hands out every page once, then merges all the way back. */
static void test_exhaust_and_merge(void **state)
{
	struct fixture *f = *state;
	struct page_pool *pp = full_pool(f);
	static void *blocks[ARENA_PAGES + 1];
	static uint8_t seen[ARENA_PAGES];
	size_t n = 0, i, j;
	unsigned int seed = 12345;

	while ((blocks[n] = page_pool_alloc(pp, 0)) != NULL) {
		size_t idx = ((uintptr_t)blocks[n] - pg(f, 0)) / PAGE_SIZE;

		assert_block_ok(f, blocks[n], 0);
		assert_false(seen[idx]);
		seen[idx] = 1;
		assert_true(++n <= ARENA_PAGES);
	}
	assert_int_equal(n, ARENA_PAGES);
	assert_int_equal(page_pool_free_pages(pp), 0);
	assert_null(page_pool_alloc(pp, 0));
	assert_null(page_pool_alloc(pp, PAGE_MAX_ORDER));
	/* Free in a shuffled order so merges happen from both sides. */
	for (i = n - 1; i > 0; i--) {
		void *t;

		seed = seed * 1103515245 + 12345;
		j = (seed >> 8) % (i + 1);
		t = blocks[i];
		blocks[i] = blocks[j];
		blocks[j] = t;
	}
	for (i = 0; i < n; i++)
		assert_int_equal(page_pool_free(pp, blocks[i], 0), 0);
	assert_int_equal(page_pool_free_pages(pp), ARENA_PAGES);
	assert_int_equal(count_allocs(pp, PAGE_MAX_ORDER), ARENA_PAGES >> PAGE_MAX_ORDER);
	assert_int_equal(page_pool_free_pages(pp), ARENA_PAGES);
}

static void test_add_range_unaligned(void **state)
{
	struct fixture *f = *state;
	struct page_pool *pp = &f->pp;
	void *b;

	assert_int_equal(page_pool_init(pp, pg(f, 0), ARENA_PAGES, f->meta), 0);
	/* Partial pages at both edges are left out: pages 4..999. */
	assert_int_equal(page_pool_add_range(pp, pg(f, 3) + 100, pg(f, 1000) + 5), 996);
	assert_int_equal(page_pool_free_pages(pp), 996);
	/* Adding again, or ranges outside the pool, adds nothing. */
	assert_int_equal(page_pool_add_range(pp, pg(f, 0), pg(f, 1000)), 4);
	assert_int_equal(page_pool_add_range(pp, pg(f, 0), pg(f, 1000)), 0);
	assert_int_equal(page_pool_add_range(pp, pg(f, 0) - 10 * PAGE_SIZE, pg(f, 0)), 0);
	assert_int_equal(page_pool_add_range(pp, pg(f, ARENA_PAGES),
					     pg(f, ARENA_PAGES + 10)), 0);
	assert_int_equal(page_pool_add_range(pp, pg(f, 5) + 1, pg(f, 6) - 1), 0);
	assert_int_equal(page_pool_add_range(pp, pg(f, 9), pg(f, 5)), 0);
	assert_int_equal(page_pool_add_range(pp, UINTPTR_MAX - 5, UINTPTR_MAX), 0);
	assert_int_equal(page_pool_free_pages(pp), 1000);
	/* [0,1000): order 9 covers 0..511; order 8 512..767; none of order 10. */
	assert_null(page_pool_alloc(pp, PAGE_MAX_ORDER));
	b = page_pool_alloc(pp, 9);
	assert_ptr_equal(b, (void *)pg(f, 0));
	assert_null(page_pool_alloc(pp, 9));
	assert_ptr_equal(page_pool_alloc(pp, 8), (void *)pg(f, 512));
	assert_null(page_pool_alloc(pp, 8));
	/* Clipping at the pool end: pages 1000..2047. */
	assert_int_equal(page_pool_add_range(pp, pg(f, 999), UINTPTR_MAX), 1048);
	assert_int_equal(page_pool_free(pp, b, 9), 0);
	assert_int_equal(page_pool_free(pp, (void *)pg(f, 512), 8), 0);
	assert_int_equal(page_pool_free_pages(pp), ARENA_PAGES);
	assert_int_equal(count_allocs(pp, PAGE_MAX_ORDER), 2);
}

/* A base off the 4 MiB grid: blocks stay aligned in absolute terms. */
static void test_unaligned_base(void **state)
{
	struct fixture *f = *state;
	struct page_pool *pp = &f->pp;
	static void *blocks[ARENA_PAGES + 1];
	size_t npages = ARENA_PAGES - 3, n = 0, i;
	unsigned int order;

	assert_int_equal(page_pool_init(pp, pg(f, 3), npages, f->meta), 0);
	assert_int_equal(page_pool_add_range(pp, 0, UINTPTR_MAX), npages);
	assert_int_equal(page_pool_free_pages(pp), npages);
	/* Only [1024, 2048) is a whole aligned max-order block. */
	assert_int_equal(count_allocs(pp, PAGE_MAX_ORDER), 1);
	/* Pages 3 and 4..7 etc. come out as small aligned blocks. */
	for (order = PAGE_MAX_ORDER + 1; order-- > 0;) {
		while ((blocks[n] = page_pool_alloc(pp, order)) != NULL) {
			assert_block_ok(f, blocks[n], order);
			n++;
		}
	}
	assert_int_equal(page_pool_free_pages(pp), 0);
	/* Largest-first: 1024, 512, 256, ..., 8, 4, then page 3 alone. */
	assert_int_equal(n, 10);
	assert_ptr_equal(blocks[n - 1], (void *)pg(f, 3));
	for (i = 0; i < n; i++) {
		int o = page_pool_allocated_order(pp, blocks[i]);

		assert_true(o >= 0);
		assert_int_equal(page_pool_free(pp, blocks[i], o), 0);
	}
	assert_int_equal(page_pool_free_pages(pp), npages);
	assert_int_equal(count_allocs(pp, PAGE_MAX_ORDER), 1);
	assert_int_equal(count_allocs(pp, 0), npages);
}

static void test_reserved_holes(void **state)
{
	struct fixture *f = *state;
	struct page_pool *pp = &f->pp;
	static void *blocks[ARENA_PAGES + 1];
	size_t n = 0, i, before;

	assert_int_equal(page_pool_init(pp, pg(f, 0), ARENA_PAGES, f->meta), 0);
	assert_int_equal(page_pool_add_range(pp, pg(f, 0), pg(f, 100)), 100);
	assert_int_equal(page_pool_add_range(pp, pg(f, 200), pg(f, ARENA_PAGES)),
			 ARENA_PAGES - 200);
	assert_int_equal(count_allocs(pp, PAGE_MAX_ORDER), 1);
	while ((blocks[n] = page_pool_alloc(pp, 0)) != NULL) {
		uintptr_t a = (uintptr_t)blocks[n++];

		assert_false(a >= pg(f, 100) && a < pg(f, 200));
	}
	assert_int_equal(n, ARENA_PAGES - 100);
	before = page_pool_free_pages(pp);
	/* A reserved page was never handed out, so it cannot be freed. */
	assert_int_equal(page_pool_free(pp, (void *)pg(f, 150), 0), -KE_INVAL);
	assert_int_equal(page_pool_free(pp, (void *)pg(f, 128), 5), -KE_INVAL);
	assert_int_equal(page_pool_free_pages(pp), before);
	for (i = 0; i < n; i++)
		assert_int_equal(page_pool_free(pp, blocks[i], 0), 0);
	assert_int_equal(page_pool_free_pages(pp), ARENA_PAGES - 100);
	/* No merge crossed the hole: the low half is still no order-10 block. */
	assert_int_equal(count_allocs(pp, PAGE_MAX_ORDER), 1);
	assert_int_equal(count_allocs(pp, 6), (ARENA_PAGES - 256) / 64 + 1);
	/* Filling the hole later merges with its neighbours. */
	assert_int_equal(page_pool_add_range(pp, pg(f, 0), pg(f, ARENA_PAGES)), 100);
	assert_int_equal(count_allocs(pp, PAGE_MAX_ORDER), 2);
}

/* Page 0 reserved: its buddy's merges stop short of it at every order. */
static void test_no_merge_with_reserved(void **state)
{
	struct fixture *f = *state;
	struct page_pool *pp = &f->pp;
	unsigned int order;

	assert_int_equal(page_pool_init(pp, pg(f, 0), ARENA_PAGES, f->meta), 0);
	assert_int_equal(page_pool_add_range(pp, pg(f, 1), pg(f, ARENA_PAGES)),
			 ARENA_PAGES - 1);
	for (order = 0; order < PAGE_MAX_ORDER; order++) {
		void *b = page_pool_alloc(pp, order);

		/* Lowest free block of each order is the one just above page 0. */
		assert_ptr_equal(b, (void *)pg(f, 1UL << order));
		assert_int_equal(page_pool_free(pp, b, order), 0);
	}
	assert_int_equal(count_allocs(pp, PAGE_MAX_ORDER), 1);
	assert_int_equal(count_allocs(pp, 0), ARENA_PAGES - 1);
	assert_int_equal(page_pool_free_pages(pp), ARENA_PAGES - 1);
}

static void expect_bad_free(struct page_pool *pp, void *b, unsigned int order)
{
	size_t before = page_pool_free_pages(pp);

	assert_int_equal(page_pool_free(pp, b, order), -KE_INVAL);
	assert_int_equal(page_pool_free_pages(pp), before);
}

static void test_bad_frees(void **state)
{
	struct fixture *f = *state;
	struct page_pool *pp = &f->pp;
	uint8_t *b, *c;

	assert_int_equal(page_pool_init(pp, pg(f, 1), ARENA_PAGES - 2, f->meta), 0);
	assert_int_equal(page_pool_add_range(pp, 0, UINTPTR_MAX), ARENA_PAGES - 2);
	b = page_pool_alloc(pp, 2);
	c = page_pool_alloc(pp, 0);
	assert_non_null(b);
	assert_non_null(c);
	expect_bad_free(pp, NULL, 0);
	expect_bad_free(pp, (void *)pg(f, 0), 0);		/* below base */
	expect_bad_free(pp, (void *)pg(f, ARENA_PAGES - 1), 0);	/* at end */
	expect_bad_free(pp, (void *)pg(f, ARENA_PAGES + 64), 0);	/* beyond */
	expect_bad_free(pp, b + 1, 2);				/* misaligned */
	expect_bad_free(pp, b + PAGE_SIZE / 2, 2);
	expect_bad_free(pp, b + PAGE_SIZE, 0);			/* interior page */
	expect_bad_free(pp, b, 1);				/* wrong order */
	expect_bad_free(pp, b, 3);
	expect_bad_free(pp, b, PAGE_MAX_ORDER + 1);
	expect_bad_free(pp, b, 200);
	expect_bad_free(pp, c + 2 * PAGE_SIZE, 0);		/* free, never given */
	assert_int_equal(page_pool_free(pp, b, 2), 0);
	expect_bad_free(pp, b, 2);				/* double free */
	expect_bad_free(pp, b, 0);
	assert_int_equal(page_pool_free(pp, c, 0), 0);
	expect_bad_free(pp, c, 0);
	assert_int_equal(page_pool_free_pages(pp), ARENA_PAGES - 2);
	assert_int_equal(count_allocs(pp, 0), ARENA_PAGES - 2);
}

/* Random allocs and frees checked against a shadow owner map. */
static void test_stress(void **state)
{
	struct fixture *f = *state;
	struct page_pool *pp = &f->pp;
	static struct { uint8_t *p; unsigned int order; } live[ARENA_PAGES];
	static uint8_t owner[ARENA_PAGES];	/* page is in a live block */
	size_t nlive = 0, used = 0, npages = ARENA_PAGES - 5, i, k;
	uint32_t seed = 0xc0ffee;
	int op;

	assert_int_equal(page_pool_init(pp, pg(f, 5), npages, f->meta), 0);
	assert_int_equal(page_pool_add_range(pp, pg(f, 5), pg(f, 300)), 295);
	assert_int_equal(page_pool_add_range(pp, pg(f, 301), pg(f, ARENA_PAGES)),
			 ARENA_PAGES - 301);
	npages--;	/* page 300 stays reserved */
	for (op = 0; op < 20000; op++) {
		seed = seed * 1664525 + 1013904223;
		if (nlive && (seed >> 28) < 7) {
			size_t s = (seed >> 4) % nlive, idx;
			unsigned int order = live[s].order;
			uint8_t *p = live[s].p;

			idx = ((uintptr_t)p - pg(f, 0)) / PAGE_SIZE;
			assert_int_equal(p[0], (uint8_t)idx);
			assert_int_equal(p[(PAGE_SIZE << order) - 1], (uint8_t)~idx);
			assert_int_equal(page_pool_free(pp, p, order), 0);
			expect_bad_free(pp, p, order);
			for (k = 0; k < (1UL << order); k++)
				owner[idx + k] = 0;
			used -= 1UL << order;
			live[s] = live[--nlive];
		} else {
			unsigned int order = (seed >> 8) % 7;
			uint8_t *p = page_pool_alloc(pp, order);
			size_t idx;

			if (!p) {
				/* Only allowed when no free block is big enough. */
				for (k = order; k <= PAGE_MAX_ORDER; k++)
					assert_null(pp->free[k]);
				continue;
			}
			assert_block_ok(f, p, order);
			idx = ((uintptr_t)p - pg(f, 0)) / PAGE_SIZE;
			assert_true(idx > 300 || idx + (1UL << order) <= 300);
			for (k = 0; k < (1UL << order); k++) {
				assert_int_equal(owner[idx + k], 0);
				owner[idx + k] = 1;
			}
			p[0] = (uint8_t)idx;
			p[(PAGE_SIZE << order) - 1] = (uint8_t)~idx;
			live[nlive].p = p;
			live[nlive++].order = order;
			used += 1UL << order;
		}
		assert_int_equal(page_pool_free_pages(pp), npages - used);
	}
	for (i = 0; i < nlive; i++)
		assert_int_equal(page_pool_free(pp, live[i].p, live[i].order), 0);
	assert_int_equal(page_pool_free_pages(pp), npages);
	assert_int_equal(count_allocs(pp, PAGE_MAX_ORDER), 1);
	assert_int_equal(count_allocs(pp, 0), npages);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_order_for, setup, teardown),
		cmocka_unit_test_setup_teardown(test_init, setup, teardown),
		cmocka_unit_test_setup_teardown(test_every_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exhaust_and_merge, setup, teardown),
		cmocka_unit_test_setup_teardown(test_add_range_unaligned, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unaligned_base, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reserved_holes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_merge_with_reserved, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_frees, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stress, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
