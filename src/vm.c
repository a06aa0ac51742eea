/*
 * Sv39 page tables (see include/kernel/vm.h for the layout).
 *
 * The shared part is built once by the boot hart before the others start;
 * afterwards only vm_protect[_strided]() and vm_map_io() change it,
 * under vm_lock, followed by a TLB flush on every hart that may hold one.
 * Per-hart tables are written only while their hart is offline.
 */
#include <string.h>
#include <kernel/vm.h>
#include <kernel/smp.h>
#include <kernel/mem.h>
#include <kernel/riscv.h>
#include <kernel/sbi.h>
#include <kernel/errno.h>
#include <kernel/log.h>
#include <kernel/spinlock.h>
#include <stdbool.h>

#define PTE_V	(1UL << 0)
#define PTE_G	(1UL << 5)
#define PTE_A	(1UL << 6)
#define PTE_D	(1UL << 7)
#define PTE_LEAF (VM_R | VM_W | VM_X)
#define PTE_PPN_SHIFT 10
#define SATP_SV39 (8UL << 60)
#define LEVEL_SHIFT(l)	(PAGE_SHIFT + 9 * (l))
#define LEVEL_SIZE(l)	(1UL << LEVEL_SHIFT(l))
#define VPN(va, l)	(((va) >> LEVEL_SHIFT(l)) & 511)
/*
 * Devices live below RAM on these boards. The first 2 MiB stay unmapped so
 * that NULL dereferences trap; a driver for a device there maps just its
 * page (vm_map_io).
 */
#define IO_START	0x200000UL
#define IO_END		0x80000000UL

typedef uint64_t pte_t;

static pte_t *shared_root;
static struct spinlock vm_lock = SPINLOCK_INIT("vm");
extern char __text_start[], __text_end[], __rodata_start[], __rodata_end[];
extern char __kernel_end[];

static inline uintptr_t pte_pa(pte_t e)
{
	return (e >> PTE_PPN_SHIFT) << PAGE_SHIFT;
}

static inline pte_t make_pte(uintptr_t pa, unsigned long flags)
{
	return ((pa >> PAGE_SHIFT) << PTE_PPN_SHIFT) | flags | PTE_V;
}

/*
 * Replaces the superpage leaf @e (at level @l) by a table of the same
 * mapping one level down, so part of it can change permissions.
 */
static int split(pte_t *e, int l)
{
	pte_t *next = page_alloc(0);
	pte_t flags = *e & ((1UL << PTE_PPN_SHIFT) - 1);
	uintptr_t pa = pte_pa(*e);

	if (!next)
		return -KE_NOMEM;
	for (int i = 0; i < 512; i++)
		next[i] = make_pte(pa + (uintptr_t)i * LEVEL_SIZE(l - 1), flags);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	*e = make_pte((uintptr_t)next, 0);
	return 0;
}

/*
 * The level-@level entry for @va, allocating tables on the way down and,
 * if @split_leaves, splitting superpages in the way (else NULL there).
 */
static pte_t *walk(pte_t *root, uintptr_t va, int level, bool split_leaves)
{
	pte_t *table = root;

	for (int l = 2; l > level; l--) {
		pte_t *e = &table[VPN(va, l)];

		if (!(*e & PTE_V)) {
			pte_t *next = page_alloc(0);

			if (!next)
				return NULL;
			*e = make_pte((uintptr_t)next, 0);
		} else if (*e & PTE_LEAF) {
			if (!split_leaves || split(e, l))
				return NULL;
		}
		table = (pte_t *)pte_pa(*e);
	}
	return &table[VPN(va, level)];
}

/* Maps [va, va+size) to pa with the largest pages alignment allows. */
static int map_range(pte_t *root, uintptr_t va, uintptr_t pa, size_t size,
		     unsigned long flags)
{
	while (size) {
		int level = 0;
		pte_t *e;

		for (int l = 2; l > 0; l--)
			if (!(va & (LEVEL_SIZE(l) - 1)) && !(pa & (LEVEL_SIZE(l) - 1)) &&
			    size >= LEVEL_SIZE(l)) {
				level = l;
				break;
			}
		e = walk(root, va, level, false);
		if (!e)
			return -KE_NOMEM;
		*e = make_pte(pa, flags | PTE_A | PTE_D);
		va += LEVEL_SIZE(level);
		pa += LEVEL_SIZE(level);
		size -= LEVEL_SIZE(level);
	}
	return 0;
}

int vm_init(void)
{
	uintptr_t text = (uintptr_t)__text_start, rodata = (uintptr_t)__rodata_start;
	uintptr_t data = (uintptr_t)__rodata_end;
	int err;

	shared_root = page_alloc(0);
	if (!shared_root)
		return -KE_NOMEM;
	err = map_range(shared_root, IO_START, IO_START, IO_END - IO_START, VM_R | VM_W | PTE_G);
	err = err ?: map_range(shared_root, text, text, (uintptr_t)__text_end - text, VM_R | VM_X | PTE_G);
	err = err ?: map_range(shared_root, rodata, rodata, data - rodata, VM_R | PTE_G);
	err = err ?: map_range(shared_root, data, data, mem_ram_end - data, VM_R | VM_W | PTE_G);
	if (err)
		return err;
	klog("vm", "sv39 text=0x%lx-0x%lx rx rodata=0x%lx r data=0x%lx-0x%lx rw",
	     (unsigned long)text, (unsigned long)__text_end, (unsigned long)rodata,
	     (unsigned long)data, (unsigned long)mem_ram_end);
	return 0;
}

int vm_hart_setup(struct hart *h, void *ott_cache, size_t ott_cache_bytes)
{
	pte_t *root = page_alloc(0);
	void **self_page = page_alloc(0);
	int err;

	if (!root || !self_page)
		return -KE_NOMEM;
	/* Shared entries point at shared lower-level tables: one copy of the truth. */
	memcpy(root, shared_root, 511 * sizeof(pte_t));
	self_page[PAGE_SIZE / sizeof(void *) - 1] = h;
	err = map_range(root, HART_OTT_CACHE_VA, (uintptr_t)ott_cache,
			(ott_cache_bytes + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1), VM_R | VM_W);
	err = err ?: map_range(root, HART_SELF_PAGE_VA, (uintptr_t)self_page, PAGE_SIZE, VM_R);
	if (err)
		return err;
	h->root_pt = (uintptr_t)root;
	return 0;
}

void vm_enable(struct hart *h)
{
	sfence_vma_all();
	csr_write(satp, SATP_SV39 | (h->root_pt >> PAGE_SHIFT));
	sfence_vma_all();
}

/*
 * Flushes every hart's TLB after a change to the shared tables (which
 * every hart's root points at). Before other harts start, only this one
 * can hold stale entries, so no remote fence (an SBI call that every other
 * hart must answer) is needed.
 */
static void flush_all(void)
{
	sfence_vma_all();
	if (__atomic_load_n(&smp_secondaries_started, __ATOMIC_ACQUIRE))
		sbi_call(SBI_EXT_RFENCE, 1, 0, -1, 0);	/* remote sfence.vma on all harts */
}

/*
 * Identity-maps @count pages, one every @stride bytes from @first, in the
 * shared tables with @perm (0: unmaps them), splitting superpages as
 * needed, then flushes once.
 */
static int set_pages(uintptr_t first, size_t stride, size_t count, unsigned long perm)
{
	int err = 0;

	spin_lock(&vm_lock);
	for (size_t i = 0; i < count && !err; i++) {
		uintptr_t a = first + i * stride;
		pte_t *e = walk(shared_root, a, 0, true);

		if (!e)
			err = -KE_NOMEM;
		else
			*e = perm ? make_pte(a, perm | PTE_G | PTE_A | PTE_D) : 0;
	}
	spin_unlock(&vm_lock);
	flush_all();
	return err;
}

/*
 * Lazy changes (vm_protect_lazy): each one bumps vm_sync_seq after it is
 * written; a hart that sees a new value fences before its quiescent point
 * counts, so the fence covers every change published up to that value.
 */
static volatile uint64_t vm_sync_seq;

void vm_sync_hart(void)
{
	struct hart *h = this_hart();
	uint64_t seq = __atomic_load_n(&vm_sync_seq, __ATOMIC_ACQUIRE);

	if (h->vm_synced != seq) {
		sfence_vma_all();
		fence_i();
		h->vm_synced = seq;
	}
}

int vm_protect_lazy(uintptr_t va, size_t len, unsigned long perm)
{
	int err = 0;

	if ((perm & VM_W) && (perm & VM_X))
		return -KE_PERM;
	if (len & (PAGE_SIZE - 1))
		return -KE_INVAL;
	if (!len)
		return 0;
	if (va & (PAGE_SIZE - 1) || va < (uintptr_t)__kernel_end || va + len > mem_ram_end)
		return -KE_INVAL;
	spin_lock(&vm_lock);
	for (uintptr_t a = va; a < va + len && !err; a += PAGE_SIZE) {
		pte_t *e = walk(shared_root, a, 0, true);

		if (!e)
			err = -KE_NOMEM;
		else
			*e = perm ? make_pte(a, perm | PTE_G | PTE_A | PTE_D) : 0;
	}
	spin_unlock(&vm_lock);
	{
		/* On one hart from the bump to the note: the fences must be its own. */
		unsigned long flags = irq_save();
		uint64_t seq = __atomic_add_fetch(&vm_sync_seq, 1, __ATOMIC_ACQ_REL);

		sfence_vma_all();
		fence_i();
		this_hart()->vm_synced = seq;
		irq_restore(flags);
	}
	return err;
}

int vm_map_io(uintptr_t pa, size_t len)
{
	uintptr_t start = pa & ~(PAGE_SIZE - 1), end = pa + len;

	if (!len || end < pa || end > IO_END)
		return -KE_INVAL;
	end = (end + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
	if (start < PAGE_SIZE)
		return -KE_PERM;	/* the NULL page stays unmapped */
	if (start >= IO_START)
		return 0;		/* mapped by vm_init() */
	end = end < IO_START ? end : IO_START;
	return set_pages(start, PAGE_SIZE, (end - start) / PAGE_SIZE, VM_R | VM_W);
}

int vm_protect_strided(uintptr_t first, size_t stride, size_t count, unsigned long perm)
{
	if ((perm & VM_W) && (perm & VM_X))
		return -KE_PERM;
	if (!count)
		return 0;
	if ((first | stride) & (PAGE_SIZE - 1) || stride < PAGE_SIZE ||
	    first < (uintptr_t)__kernel_end || first + (count - 1) * stride + PAGE_SIZE > mem_ram_end)
		return -KE_INVAL;
	return set_pages(first, stride, count, perm);
}

int vm_protect(uintptr_t va, size_t len, unsigned long perm)
{
	if (len & (PAGE_SIZE - 1))
		return -KE_INVAL;
	return vm_protect_strided(va, PAGE_SIZE, len / PAGE_SIZE, perm);
}
