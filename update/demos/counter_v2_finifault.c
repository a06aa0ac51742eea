/*
 * Fault-matrix module: counter 1 -> 2 whose fini() takes a lock of its own
 * and faults holding it. A counter made and destroyed during probation
 * (the shell's `probe new`) runs it in the reaper, after quiescence: that
 * fini is abandoned (the lock released, the counter freed all the same),
 * the pack rolls back, and the reaper goes on with the rest of its batch.
 */
#include <kernel/spinlock.h>
#include "counter_v2_faults.h"

static void finifault_fini(struct object *self);
#define COUNTER_V2_FINI finifault_fini
#include "counter_v2.c"

static struct spinlock fini_lock = SPINLOCK_INIT("counter-fini");

static void finifault_fini(struct object *self)
{
	spin_lock(&fini_lock);
	((struct counter_v2 *)self)->calls += *nowhere;
	spin_unlock(&fini_lock);
}
