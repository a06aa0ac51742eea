/*
 * Buddy allocator over one contiguous range of physical pages.
 *
 * Pure logic: no locking and no CSR access, so it builds and is tested on
 * the host. The kernel wraps one global pool with a lock (src/mem.c).
 * All pages of a new pool start as reserved; page_pool_add_range() hands
 * usable ranges to it, which is how the kernel image, the DTB and firmware
 * memory are kept out.
 */
#ifndef KERNEL_PAGE_POOL_H
#define KERNEL_PAGE_POOL_H

#include <stddef.h>
#include <stdint.h>

#define PAGE_SHIFT	12
#define PAGE_SIZE	(1UL << PAGE_SHIFT)
#define PAGE_MAX_ORDER	10	/* largest block: 2^10 pages = 4 MiB */

struct page_free_block;

struct page_pool {
	uintptr_t base;		/* physical address of page 0, page aligned */
	size_t npages;		/* pages covered (free or not) */
	uint8_t *meta;		/* one byte per page, see page_pool.c */
	struct page_free_block *free[PAGE_MAX_ORDER + 1];
	size_t free_pages;	/* pages currently free */
};

/* Bytes of metadata page_pool_init() needs for @npages pages. */
size_t page_pool_meta_bytes(size_t npages);

/* Sets up an empty pool (every page reserved). 0 or -KE_INVAL. */
int page_pool_init(struct page_pool *pp, uintptr_t base, size_t npages, uint8_t *meta);

/*
 * Makes the pages fully inside [start, end) free, merging buddies.
 * Returns the number of pages added.
 */
size_t page_pool_add_range(struct page_pool *pp, uintptr_t start, uintptr_t end);

/* A block of 2^order pages, aligned to its size; NULL if none. */
void *page_pool_alloc(struct page_pool *pp, unsigned int order);

/*
 * Returns a block from page_pool_alloc(). A pointer outside the pool, not
 * the start of an allocated block of that order, or already free gives
 * -KE_INVAL and changes nothing.
 */
int page_pool_free(struct page_pool *pp, void *block, unsigned int order);

/*
 * Order of the allocated block that starts at @block, or -KE_INVAL if
 * @block is not the start of a block page_pool_alloc() handed out and that
 * is still allocated. Lets kheap reject foreign pointers before reading them.
 */
int page_pool_allocated_order(const struct page_pool *pp, const void *block);

static inline size_t page_pool_free_pages(const struct page_pool *pp)
{
	return pp->free_pages;
}

/*
 * Smallest order whose block holds @bytes (0 for 0..PAGE_SIZE); above
 * PAGE_MAX_ORDER when no block is that large, which page_pool_alloc() refuses.
 */
unsigned int page_order_for(size_t bytes);

#endif
