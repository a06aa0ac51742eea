/*
 * Fault-matrix module: counter 1 -> 2 that works, except for an add() of
 * one of three magic amounts nobody but the shell's `probe` command passes
 * (a latent bug, found after probation):
 *   777  faults (a load through NULL);
 *   778  takes a lock of its own (interrupts off) and faults holding it;
 *   779  takes that lock and releases it (hangs if 778 left it held).
 * A magic amount is never added (the workload's totals stay exact).
 * After probation a fault is an ordinary one: the probe thread stops, the
 * lock it held is released, everything else goes on.
 */
#include <kernel/spinlock.h>
#include "counter_v2_faults.h"

static long late_add(struct object *self, long n);
#define COUNTER_V2_ADD late_add
#include "counter_v2.c"

static struct spinlock late_lock = SPINLOCK_INIT("counter-late");

static long late_add(struct object *self, long n)
{
	long bad = 0;

	if (n < 777 || n > 779)
		return v2_add(self, n);
	if (n == 777)
		bad = *nowhere;
	spin_lock(&late_lock);
	if (n == 778)
		bad = *nowhere;
	spin_unlock(&late_lock);
	return v2_get(self) + bad;
}
