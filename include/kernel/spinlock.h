/*
 * Spinlocks. Taking one disables interrupts on this hart (nesting is
 * counted per hart), so an interrupt handler never spins on a lock its
 * own hart holds. Host unit tests link a single-threaded double of these.
 */
#ifndef KERNEL_SPINLOCK_H
#define KERNEL_SPINLOCK_H

#include <stdint.h>

struct spinlock {
	volatile uint32_t locked;
	int32_t owner;		/* hartid of the holder, -1 when free */
	const char *name;
};

#define SPINLOCK_INIT(n) { 0, -1, (n) }

void spin_init(struct spinlock *l, const char *name);
void spin_lock(struct spinlock *l);
void spin_unlock(struct spinlock *l);
int spin_holding(const struct spinlock *l);
/* Takes @l if it is free (and not this hart's): 1, else 0 with nothing changed. */
int spin_trylock(struct spinlock *l);
/* Marks @l free whoever holds it (unwinding a faulted context only, unwind.c). */
void spin_force_release(struct spinlock *l);

/* Interrupt-off sections that nest (used by spinlocks and the scheduler). */
void irq_push_off(void);
void irq_pop_off(void);

#endif
