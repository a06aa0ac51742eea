/*
 * Guarded thread stacks (see kernel/kstack.h): slots in 2 MiB chunks, each
 * slot a guard page (unmapped with vm_protect_strided when the chunk is made)
 * and then the stack. The first chunk is made at boot, before other harts
 * start, so it needs no remote TLB flush.
 *
 * Locking: kstack_lock guards the slot bitmaps and chunk creation (which
 * takes vm_lock inside it). The chunk table only grows, and a chunk's base
 * is written before nchunks is published, so kstack_in_guard() reads it
 * without the lock (the fault handler calls it).
 */
#include <string.h>
#include <kernel/kstack.h>
#include <kernel/mem.h>
#include <kernel/vm.h>
#include <kernel/log.h>
#include <kernel/spinlock.h>
#include <kernel/errno.h>

#define CHUNK_ORDER	9			/* 2 MiB */
#define SLOT_PAGES	(KSTACK_PAGES + 1)
#define SLOT_BYTES	((uintptr_t)SLOT_PAGES * PAGE_SIZE)
#define SLOTS		((1u << CHUNK_ORDER) / SLOT_PAGES)
#define MAX_CHUNKS	8
#define WORDS		((SLOTS + 63) / 64)

struct chunk {
	uintptr_t base;
	uint64_t used[WORDS];
};

static struct chunk chunks[MAX_CHUNKS];
static unsigned int nchunks;
static struct spinlock kstack_lock = SPINLOCK_INIT("kstack");

/* Makes chunk nchunks: its memory, and every slot's guard page unmapped. */
static int chunk_add(void)
{
	struct chunk *c = &chunks[nchunks];
	void *mem;
	int err = 0;

	if (nchunks == MAX_CHUNKS)
		return -KE_NOMEM;
	mem = page_alloc(CHUNK_ORDER);
	if (!mem)
		return -KE_NOMEM;
	err = vm_protect_strided((uintptr_t)mem, SLOT_BYTES, SLOTS, 0);
	if (err) {
		/* Map back what may have been unmapped, then give the memory back. */
		vm_protect_strided((uintptr_t)mem, SLOT_BYTES, SLOTS, VM_R | VM_W);
		page_free(mem, CHUNK_ORDER);
		return err;
	}
	memset(c->used, 0, sizeof(c->used));
	c->base = (uintptr_t)mem;
	__atomic_store_n(&nchunks, nchunks + 1, __ATOMIC_RELEASE);
	klog("mem", "stack chunk base=%#lx slots=%u guard_pages=%u", (unsigned long)c->base,
	     SLOTS, SLOTS);
	return 0;
}

static bool take_slot(struct chunk *c, struct kstack *ks)
{
	for (unsigned int i = 0; i < SLOTS; i++) {
		if (c->used[i / 64] & (1ULL << (i % 64)))
			continue;
		c->used[i / 64] |= 1ULL << (i % 64);
		ks->lo = c->base + i * SLOT_BYTES + PAGE_SIZE;
		ks->hi = ks->lo + (uintptr_t)KSTACK_PAGES * PAGE_SIZE;
		return true;
	}
	return false;
}

int kstack_init(void)
{
	int err;

	spin_lock(&kstack_lock);
	err = nchunks ? 0 : chunk_add();
	spin_unlock(&kstack_lock);
	return err;
}

int kstack_alloc(struct kstack *ks)
{
	int err = 0;

	spin_lock(&kstack_lock);
	for (unsigned int i = 0; i < nchunks; i++)
		if (take_slot(&chunks[i], ks))
			goto out;
	err = chunk_add();
	if (!err && !take_slot(&chunks[nchunks - 1], ks))
		err = -KE_NOMEM;
out:
	spin_unlock(&kstack_lock);
	return err;
}

void kstack_free(const struct kstack *ks)
{
	spin_lock(&kstack_lock);
	for (unsigned int i = 0; i < nchunks; i++) {
		struct chunk *c = &chunks[i];
		uintptr_t off = ks->lo - PAGE_SIZE - c->base;

		if (ks->lo < c->base + PAGE_SIZE || off >= SLOTS * SLOT_BYTES)
			continue;
		if (off % SLOT_BYTES || !(c->used[off / SLOT_BYTES / 64] & (1ULL << (off / SLOT_BYTES % 64))))
			panic("kstack_free: %#lx is not a stack in use", (unsigned long)ks->lo);
		c->used[off / SLOT_BYTES / 64] &= ~(1ULL << (off / SLOT_BYTES % 64));
		spin_unlock(&kstack_lock);
		return;
	}
	panic("kstack_free: %#lx is not a stack", (unsigned long)ks->lo);
}

bool kstack_in_guard(uintptr_t addr)
{
	unsigned int n = __atomic_load_n(&nchunks, __ATOMIC_ACQUIRE);

	for (unsigned int i = 0; i < n; i++) {
		uintptr_t off = addr - chunks[i].base;

		if (addr >= chunks[i].base && off < SLOTS * SLOT_BYTES && off % SLOT_BYTES < PAGE_SIZE)
			return true;
	}
	return false;
}
