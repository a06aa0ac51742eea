/*
 * Physical memory: finds RAM in the devicetree, keeps the kernel image and
 * every reserved region out, and serves pages and kmalloc from the pure
 * engines (page_pool.c, kheap.c).
 *
 * Locking: mem_lock guards both engines; kheap takes pages from the pool
 * under the same lock. At most MEM_MAX_BYTES of RAM is managed (the rest
 * is left alone), which bounds the per-page metadata kept in .bss.
 */
#include <string.h>
#include <kernel/mem.h>
#include <kernel/devtree.h>
#include <kernel/spinlock.h>
#include <kernel/log.h>
#include <kernel/errno.h>

#define MEM_MAX_BYTES	(1UL << 30)
#define MEM_MAX_PAGES	(MEM_MAX_BYTES / PAGE_SIZE)

extern char __kernel_start[], __kernel_end[];

uintptr_t mem_ram_base, mem_ram_end;
static struct page_pool pool;
static struct kheap heap;
static struct spinlock mem_lock = SPINLOCK_INIT("mem");
static uint8_t page_meta[MEM_MAX_PAGES];
static struct dt_range reserved[DT_MAX_REGIONS + 1];
static int nreserved;

/* Frees [start, end) minus the reserved regions from index @i on. */
static size_t add_free(uintptr_t start, uintptr_t end, int i)
{
	for (; i < nreserved && start < end; i++) {
		uintptr_t rs = reserved[i].base, re = rs + reserved[i].size;

		if (re <= start || rs >= end)
			continue;
		return (rs > start ? add_free(start, rs, i + 1) : 0) +
		       (re < end ? add_free(re, end, i + 1) : 0);
	}
	return start < end ? page_pool_add_range(&pool, start, end) : 0;
}

int mem_init(const void *fdt)
{
	struct dt_range ram[DT_MAX_REGIONS];
	int n = dt_memory(fdt, ram, DT_MAX_REGIONS);
	size_t npages, added;

	if (n <= 0)
		return n < 0 ? n : -KE_NODEV;
	/* The kernel runs from the first bank; that is the one it manages. */
	mem_ram_base = ram[0].base;
	mem_ram_end = ram[0].base + (ram[0].size > MEM_MAX_BYTES ? MEM_MAX_BYTES : ram[0].size);
	npages = (mem_ram_end - mem_ram_base) / PAGE_SIZE;
	nreserved = dt_reserved(fdt, reserved, DT_MAX_REGIONS);
	if (nreserved < 0)
		nreserved = 0;
	reserved[nreserved].base = (uintptr_t)__kernel_start;
	reserved[nreserved].size = (uintptr_t)__kernel_end - (uintptr_t)__kernel_start;
	nreserved++;
	if (page_pool_init(&pool, mem_ram_base, npages, page_meta))
		return -KE_INVAL;
	/* Memory below the kernel belongs to the firmware (OpenSBI). */
	added = add_free((uintptr_t)__kernel_end, mem_ram_end, 0);
	kheap_init(&heap, &pool);
	klog("mem", "ram base=0x%lx size=%luM managed=%luM free_pages=%lu reserved=%d",
	     (unsigned long)ram[0].base, (unsigned long)(ram[0].size >> 20),
	     (unsigned long)((mem_ram_end - mem_ram_base) >> 20), (unsigned long)added, nreserved);
	return 0;
}

void *page_alloc_uninit(unsigned int order)
{
	void *p;

	spin_lock(&mem_lock);
	p = page_pool_alloc(&pool, order);
	spin_unlock(&mem_lock);
	return p;
}

void *page_alloc(unsigned int order)
{
	void *p = page_alloc_uninit(order);

	if (p)
		memset(p, 0, PAGE_SIZE << order);
	return p;
}

void page_free(void *p, unsigned int order)
{
	int err;

	if (!p)
		return;
	spin_lock(&mem_lock);
	err = page_pool_free(&pool, p, order);
	spin_unlock(&mem_lock);
	if (err)
		panic("page_free(%p, %u): %s", p, order, err_name(err));
}

void *kmalloc(size_t size)
{
	void *p;

	spin_lock(&mem_lock);
	p = kheap_alloc(&heap, size);
	spin_unlock(&mem_lock);
	return p;
}

void *kzalloc(size_t size)
{
	void *p = kmalloc(size);

	if (p)
		memset(p, 0, size);
	return p;
}

void kfree(void *p)
{
	int err;

	if (!p)
		return;
	spin_lock(&mem_lock);
	err = kheap_free(&heap, p);
	spin_unlock(&mem_lock);
	if (err)
		panic("kfree(%p): %s", p, err_name(err));
}

void mem_get_stats(struct mem_stats *st)
{
	spin_lock(&mem_lock);
	st->total_pages = pool.npages;
	st->free_pages = page_pool_free_pages(&pool);
	st->heap = heap.stats;
	spin_unlock(&mem_lock);
}
