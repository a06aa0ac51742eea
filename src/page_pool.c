/*
 * Binary buddy allocator over one contiguous range of physical pages.
 *
 * No locking here: the caller serialises (src/mem.c wraps the kernel's one
 * pool with a lock). No CSR access either, so host unit tests drive it.
 *
 * Blocks are aligned to their size in absolute page-frame numbers, not
 * relative to the pool's base: a block of order k starts at a pfn that is a
 * multiple of 2^k. That keeps large blocks usable as superpages whatever
 * base the firmware gives us; a base that is not aligned only costs the few
 * pages at the edges, which are handed out as smaller blocks.
 *
 * Metadata, one byte per page in the caller's meta array:
 *   META_RESERVED        never handed to the pool (holes, kernel, firmware)
 *   META_FREE  | order   first page of a free block of that order
 *   META_ALLOC | order   first page of an allocated block of that order
 *   META_TAIL            any other page of a free or allocated block
 * Only heads carry an order, so a buddy is mergeable exactly when its head
 * byte reads META_FREE | order; reserved and tail pages can never match.
 *
 * Free lists are doubly linked through the first bytes of each free block,
 * so unlinking a buddy during a merge is O(1).
 */
#include <stdbool.h>
#include <string.h>
#include <kernel/page_pool.h>
#include <kernel/errno.h>

#define META_TAIL	0x00
#define META_RESERVED	0x20
#define META_ALLOC	0x40
#define META_FREE	0x80
#define META_ORDER	0x0f

struct page_free_block {
	struct page_free_block *next;
	struct page_free_block *prev;
};

_Static_assert(PAGE_MAX_ORDER <= META_ORDER, "order must fit the meta byte");

static inline size_t order_pages(unsigned int order)
{
	return (size_t)1 << order;
}

static inline uintptr_t pool_pfn0(const struct page_pool *pp)
{
	return pp->base >> PAGE_SHIFT;
}

static inline struct page_free_block *page_at(struct page_pool *pp, size_t idx)
{
	return (struct page_free_block *)(pp->base + (idx << PAGE_SHIFT));
}

static void list_push(struct page_pool *pp, size_t idx, unsigned int order)
{
	struct page_free_block *b = page_at(pp, idx);

	b->prev = NULL;
	b->next = pp->free[order];
	if (b->next)
		b->next->prev = b;
	pp->free[order] = b;
	pp->meta[idx] = META_FREE | order;
}

static void list_unlink(struct page_pool *pp, struct page_free_block *b,
			unsigned int order)
{
	if (b->prev)
		b->prev->next = b->next;
	else
		pp->free[order] = b->next;
	if (b->next)
		b->next->prev = b->prev;
}

size_t page_pool_meta_bytes(size_t npages)
{
	return npages;
}

int page_pool_init(struct page_pool *pp, uintptr_t base, size_t npages, uint8_t *meta)
{
	unsigned int i;

	if (!pp || (!meta && npages) || (base & (PAGE_SIZE - 1)))
		return -KE_INVAL;
	/* The pool's end must be representable, or every range check lies. */
	if (npages > (UINTPTR_MAX - base) >> PAGE_SHIFT)
		return -KE_INVAL;
	pp->base = base;
	pp->npages = npages;
	pp->meta = meta;
	pp->free_pages = 0;
	for (i = 0; i <= PAGE_MAX_ORDER; i++)
		pp->free[i] = NULL;
	if (npages)
		memset(meta, META_RESERVED, npages);
	return 0;
}

/*
 * Index of the buddy of block @idx at @order, or false if the buddy lies
 * (partly) outside the pool, which happens at unaligned pool edges.
 */
static bool buddy_of(const struct page_pool *pp, size_t idx, unsigned int order,
		     size_t *buddy)
{
	uintptr_t pfn0 = pool_pfn0(pp);
	uintptr_t bpfn = (pfn0 + idx) ^ (uintptr_t)order_pages(order);

	if (bpfn < pfn0 || bpfn - pfn0 + order_pages(order) > pp->npages)
		return false;
	*buddy = bpfn - pfn0;
	return true;
}

/* Puts block @idx of @order (tail bytes already META_TAIL) on the lists. */
static void free_and_merge(struct page_pool *pp, size_t idx, unsigned int order)
{
	size_t buddy;

	pp->free_pages += order_pages(order);
	while (order < PAGE_MAX_ORDER && buddy_of(pp, idx, order, &buddy) &&
	       pp->meta[buddy] == (META_FREE | order)) {
		list_unlink(pp, page_at(pp, buddy), order);
		pp->meta[buddy] = META_TAIL;
		pp->meta[idx] = META_TAIL;
		if (buddy < idx)
			idx = buddy;
		order++;
	}
	list_push(pp, idx, order);
}

/*
 * Whether the reserved block @idx of @order can double: the doubled block
 * must be aligned, end by @last, and its upper half must be reserved too.
 */
static bool can_grow(const struct page_pool *pp, size_t idx, unsigned int order,
		     size_t last)
{
	size_t half = order_pages(order), i;

	if (order >= PAGE_MAX_ORDER || ((pool_pfn0(pp) + idx) & (2 * half - 1)))
		return false;
	if (idx + 2 * half > last)
		return false;
	for (i = idx + half; i < idx + 2 * half; i++)
		if (pp->meta[i] != META_RESERVED)
			return false;
	return true;
}

/* Adds reserved pages [first, last) as the largest aligned blocks that fit. */
static size_t add_pages(struct page_pool *pp, size_t first, size_t last)
{
	size_t idx = first, added = 0, n, i;
	unsigned int order;

	while (idx < last) {
		/* Already free or handed out: adding twice must not duplicate it. */
		if (pp->meta[idx] != META_RESERVED) {
			idx++;
			continue;
		}
		order = 0;
		while (can_grow(pp, idx, order, last))
			order++;
		n = order_pages(order);
		for (i = idx; i < idx + n; i++)
			pp->meta[i] = META_TAIL;
		free_and_merge(pp, idx, order);
		added += n;
		idx += n;
	}
	return added;
}

size_t page_pool_add_range(struct page_pool *pp, uintptr_t start, uintptr_t end)
{
	uintptr_t pool_end = pp->base + (pp->npages << PAGE_SHIFT);
	uintptr_t first, last;

	/* Round inward: a partial page at either edge may hold someone's data. */
	if (start > UINTPTR_MAX - (PAGE_SIZE - 1))
		return 0;
	start = (start + PAGE_SIZE - 1) & ~(uintptr_t)(PAGE_SIZE - 1);
	end &= ~(uintptr_t)(PAGE_SIZE - 1);
	if (start < pp->base)
		start = pp->base;
	if (end > pool_end)
		end = pool_end;
	if (start >= end)
		return 0;
	first = (start - pp->base) >> PAGE_SHIFT;
	last = (end - pp->base) >> PAGE_SHIFT;
	return add_pages(pp, first, last);
}

void *page_pool_alloc(struct page_pool *pp, unsigned int order)
{
	struct page_free_block *b;
	unsigned int k = order;
	size_t idx;

	if (order > PAGE_MAX_ORDER)
		return NULL;
	while (k <= PAGE_MAX_ORDER && !pp->free[k])
		k++;
	if (k > PAGE_MAX_ORDER)
		return NULL;
	b = pp->free[k];
	list_unlink(pp, b, k);
	idx = ((uintptr_t)b - pp->base) >> PAGE_SHIFT;
	/* Split down, keeping the lower half: its alignment carries over. */
	while (k > order) {
		k--;
		list_push(pp, idx + order_pages(k), k);
	}
	pp->meta[idx] = META_ALLOC | order;
	pp->free_pages -= order_pages(order);
	return b;
}

int page_pool_allocated_order(const struct page_pool *pp, const void *block)
{
	uintptr_t a = (uintptr_t)block;
	uint8_t m;

	if (a < pp->base || (a & (PAGE_SIZE - 1)))
		return -KE_INVAL;
	if ((a - pp->base) >> PAGE_SHIFT >= pp->npages)
		return -KE_INVAL;
	m = pp->meta[(a - pp->base) >> PAGE_SHIFT];
	if ((m & ~META_ORDER) != META_ALLOC)
		return -KE_INVAL;
	return m & META_ORDER;
}

int page_pool_free(struct page_pool *pp, void *block, unsigned int order)
{
	/* Checking the head byte catches double, wrong-order and reserved frees. */
	if (order > PAGE_MAX_ORDER || page_pool_allocated_order(pp, block) != (int)order)
		return -KE_INVAL;
	/* Tail bytes are already META_TAIL; free_and_merge() rewrites the head. */
	free_and_merge(pp, ((uintptr_t)block - pp->base) >> PAGE_SHIFT, order);
	return 0;
}

unsigned int page_order_for(size_t bytes)
{
	size_t pages = bytes / PAGE_SIZE + (bytes % PAGE_SIZE != 0);
	unsigned int order = 0;

	while (order < 8 * sizeof(size_t) - 1 && order_pages(order) < pages)
		order++;
	return order;
}
