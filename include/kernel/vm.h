/*
 * Sv39 paging. RAM and devices are identity mapped and shared by every
 * hart: kernel text R+X, read-only data R, everything else R+W, never W+X.
 * Each hart has its own root table whose top gigabyte is private
 * (HART_LOCAL_BASE): its OTT cache and its self page (hart.h).
 */
#ifndef KERNEL_VM_H
#define KERNEL_VM_H
#include <stddef.h>
#include <stdint.h>
#include <kernel/hart.h>

#define VM_R	(1UL << 1)
#define VM_W	(1UL << 2)
#define VM_X	(1UL << 3)

/* Builds the shared mappings (boot hart, before other harts start). */
int vm_init(void);
/* Builds @h's root table and private gigabyte: its OTT cache and self page. */
int vm_hart_setup(struct hart *h, void *ott_cache, size_t ott_cache_bytes);
/* Switches the calling hart onto @h's tables. */
void vm_enable(struct hart *h);
/*
 * Maps device registers [pa, pa+len) R+W for every hart: only needed for a
 * device in the low 2 MiB, which vm_init() leaves out (so that NULL plus a
 * small offset traps). The NULL page itself is refused (-KE_PERM), and so is
 * anything at or above the RAM start (-KE_INVAL).
 */
int vm_map_io(uintptr_t pa, size_t len);
/*
 * Changes permissions of whole pages in the shared RAM mapping (W+X
 * refused; 0 unmaps them, as for stack guard pages).
 */
int vm_protect(uintptr_t va, size_t len, unsigned long perm);
/* vm_protect() of @count pages, one every @stride bytes from @first: one TLB flush. */
int vm_protect_strided(uintptr_t first, size_t stride, size_t count, unsigned long perm);
/*
 * vm_protect() for pages this hart just took from the page pool and is
 * about to publish (a module's code): this hart's TLB and instruction
 * cache are synchronised now, every other hart's at its next quiescent
 * point (vm_sync_hart()), with no remote fence. So the pages must not be
 * reached from another hart before that: quiesce_wait() returns only
 * after every hart passed one, and a thread picked afterwards by any hart
 * starts synchronised.
 */
int vm_protect_lazy(uintptr_t va, size_t len, unsigned long perm);
/*
 * Called at every quiescent point of a hart (scheduler loop, IPI), before
 * it is counted: catches up with vm_protect_lazy() changes (sfence.vma,
 * fence.i). A load and a compare when there are none.
 */
void vm_sync_hart(void);
#endif
