/*
 * Thread stacks with guard pages. Each stack sits in a slot of a 2 MiB
 * chunk: one unmapped guard page, then KSTACK_PAGES mapped pages. A thread
 * that runs off the bottom of its stack faults on the guard page instead
 * of writing over whatever lies below; the trap vector notices the trap
 * cannot be taken on that stack and takes it on the hart's emergency
 * stack (entry.S), and the fault handler reports it and stops the thread.
 *
 * Chunks are made on demand and never returned, so the page tables the
 * guards need (a 2 MiB superpage split into 4 KiB pages) are made once per
 * chunk and the free page count does not drift as threads come and go.
 */
#ifndef KERNEL_KSTACK_H
#define KERNEL_KSTACK_H

#include <stdbool.h>
#include <stdint.h>

#define KSTACK_PAGES	4		/* 16 KiB usable */

struct kstack {
	uintptr_t lo;		/* lowest usable byte (just above the guard page) */
	uintptr_t hi;		/* one past the top */
};

/* Makes the first chunk; called at boot before other harts start. */
int kstack_init(void);
/* A stack for a new thread: 0, or -KE_NOMEM when no slot or chunk is left. */
int kstack_alloc(struct kstack *ks);
void kstack_free(const struct kstack *ks);
/* @addr lies in the guard page of some stack slot. Lock-free. */
bool kstack_in_guard(uintptr_t addr);

#endif
