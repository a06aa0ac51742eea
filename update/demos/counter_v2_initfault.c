/*
 * Fault-matrix module: counter 1 -> 2 whose init() takes a lock of its own
 * and faults holding it. The workload makes its counters at boot, so only
 * a counter made during probation (the shell's `probe new`) runs it: its
 * init is abandoned (the lock released), the pack rolls back, and the
 * counter is made on version 1 instead; the probe thread goes on.
 */
#include <kernel/spinlock.h>
#include "counter_v2_faults.h"

static int initfault_init(struct object *self, const void *arg);
#define COUNTER_V2_INIT initfault_init
#include "counter_v2.c"

static struct spinlock init_lock = SPINLOCK_INIT("counter-init");

static int initfault_init(struct object *self, const void *arg)
{
	long bad;

	spin_lock(&init_lock);
	bad = *nowhere;
	spin_unlock(&init_lock);
	return (int)bad;
}
