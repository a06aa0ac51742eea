/*
 * Spinlocks with per-hart interrupt-off nesting. A lock is a test-and-set
 * word (amoswap.w.aq / release store); taking it first disables
 * interrupts on this hart so a handler cannot spin on its own hart's lock.
 *
 * Each hart also keeps the locks it holds on a small stack (struct hart
 * held[]), in the order taken: a fault in code that holds some can then
 * be unwound (src/unwind.c) releasing exactly what that code took. A lock
 * released out of order is taken out of the middle. Locks beyond
 * HART_HELD_MAX are counted but not recorded (never seen in practice:
 * nesting is two or three deep).
 */
#include <kernel/spinlock.h>
#include <kernel/hart.h>
#include <kernel/riscv.h>
#include <kernel/log.h>

/* The hart record; before paging, only the boot hart runs. */
static inline struct hart *self(void)
{
	return vm_percpu_ready ? this_hart() : &harts[boot_hartid];
}

void irq_push_off(void)
{
	int on = irq_enabled();
	struct hart *h;

	irq_disable();
	h = self();
	if (h->irq_depth == 0)
		h->irq_was_on = on;
	h->irq_depth++;
}

void irq_pop_off(void)
{
	struct hart *h = self();

	if (irq_enabled())
		panic("irq_pop_off with interrupts on");
	if (h->irq_depth < 1)
		panic("irq_pop_off without push");
	if (--h->irq_depth == 0 && h->irq_was_on)
		irq_enable();
}

void spin_init(struct spinlock *l, const char *name)
{
	l->locked = 0;
	l->owner = -1;
	l->name = name;
}

int spin_holding(const struct spinlock *l)
{
	return l->locked && l->owner == (int32_t)self()->hartid;
}

static void held_push(struct hart *h, struct spinlock *l)
{
	if (h->nheld < HART_HELD_MAX)
		h->held[h->nheld] = l;
	h->nheld++;
}

static void held_remove(struct hart *h, struct spinlock *l)
{
	uint32_t n = h->nheld < HART_HELD_MAX ? h->nheld : HART_HELD_MAX;

	for (uint32_t i = n; i-- > 0;)
		if (h->held[i] == l) {
			for (; i + 1 < n; i++)
				h->held[i] = h->held[i + 1];
			h->nheld--;
			return;
		}
	if (h->nheld > HART_HELD_MAX)
		h->nheld--;	/* one of the unrecorded ones */
}

void spin_lock(struct spinlock *l)
{
	struct hart *h;

	irq_push_off();
	if (spin_holding(l))
		panic("spin_lock: %s already held by this hart", l->name);
	while (__atomic_exchange_n(&l->locked, 1, __ATOMIC_ACQUIRE))
		while (__atomic_load_n(&l->locked, __ATOMIC_RELAXED))
			;
	h = self();
	l->owner = (int32_t)h->hartid;
	held_push(h, l);
}

int spin_trylock(struct spinlock *l)
{
	struct hart *h;

	irq_push_off();
	if (spin_holding(l) || __atomic_exchange_n(&l->locked, 1, __ATOMIC_ACQUIRE)) {
		irq_pop_off();
		return 0;
	}
	h = self();
	l->owner = (int32_t)h->hartid;
	held_push(h, l);
	return 1;
}

void spin_unlock(struct spinlock *l)
{
	if (!spin_holding(l))
		panic("spin_unlock: %s not held", l->name);
	held_remove(self(), l);
	l->owner = -1;
	__atomic_store_n(&l->locked, 0, __ATOMIC_RELEASE);
	irq_pop_off();
}

void spin_force_release(struct spinlock *l)
{
	l->owner = -1;
	__atomic_store_n(&l->locked, 0, __ATOMIC_RELEASE);
}
