/*
 * kmalloc's engine: size-class slabs for small objects, whole buddy blocks
 * for large ones, with leak accounting.
 *
 * Pure logic (no lock, no CSR): the kernel wraps one heap with a lock in
 * src/mem.c; host tests drive it directly. Pages come from a page_pool.
 */
#ifndef KERNEL_KHEAP_H
#define KERNEL_KHEAP_H

#include <stddef.h>
#include <stdint.h>
#include <kernel/page_pool.h>

#define KHEAP_NCLASSES	8	/* 16, 32, 64, 128, 256, 512, 1024, 2048 bytes */
#define KHEAP_ALIGN	16

struct kheap_slab;

struct kheap_stats {
	size_t live_allocs;	/* allocations not yet freed */
	size_t live_bytes;	/* bytes requested by those */
	size_t total_allocs;
	size_t total_frees;
	size_t pages_held;	/* pages the heap holds from the pool now */
	size_t bad_frees;	/* rejected kheap_free() calls */
};

struct kheap {
	struct page_pool *pool;
	struct kheap_slab *partial[KHEAP_NCLASSES];	/* slabs with room */
	struct kheap_stats stats;
};

void kheap_init(struct kheap *h, struct page_pool *pool);

/* @size bytes aligned to KHEAP_ALIGN, uninitialised; NULL on failure or size 0. */
void *kheap_alloc(struct kheap *h, size_t size);

/*
 * Frees @p (NULL is a no-op returning 0). A pointer the heap did not hand
 * out, or one freed already, gives -KE_INVAL, is counted in bad_frees and
 * changes nothing. Empty slabs go back to the pool.
 */
int kheap_free(struct kheap *h, void *p);

/* The usable size of a live allocation (>= what was asked), 0 if invalid. */
size_t kheap_usable_size(struct kheap *h, const void *p);

#endif
