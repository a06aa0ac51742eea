/*
 * The kernel's memory allocators: pages (buddy) and kmalloc (slabs), each
 * a locked wrapper around the pure engines in page_pool.c and kheap.c.
 */
#ifndef KERNEL_MEM_H
#define KERNEL_MEM_H

#include <stddef.h>
#include <stdint.h>
#include <kernel/page_pool.h>
#include <kernel/kheap.h>

/* Sets up the page pool over usable RAM from the devicetree. */
int mem_init(const void *fdt);

/* 2^order zeroed pages, or NULL. */
void *page_alloc(unsigned int order);
/* 2^order pages as they were: for a caller that writes every byte itself. */
void *page_alloc_uninit(unsigned int order);
void page_free(void *p, unsigned int order);

void *kmalloc(size_t size);
void *kzalloc(size_t size);
void kfree(void *p);

struct mem_stats {
	size_t total_pages;
	size_t free_pages;
	struct kheap_stats heap;
};
void mem_get_stats(struct mem_stats *st);

/* RAM bounds, for the page tables. */
extern uintptr_t mem_ram_base, mem_ram_end;

#endif
