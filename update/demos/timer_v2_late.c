/*
 * Fault-matrix module: timer (sbi-time) 1 -> 2 that works, except that
 * arm() faults once, in one hart's timer interrupt, 6 seconds after its
 * first call: after probation. An ordinary fault then: that interrupt
 * handler is abandoned (the hart's next tick is programmed without the
 * timer object) and the interrupted thread, and every other, goes on.
 */
#include <kernel/hart.h>
#include <kernel/riscv.h>
#include <kernel/sbi.h>
#include "timer_v2.h"

static long *volatile nowhere;	/* never set: the bug */
static uint64_t first;		/* rdtime of the first arm() */
static int fired;

static long v2_arm(struct object *self, uint64_t ticks)
{
	struct hart *h = this_hart();
	uint64_t now = rdtime(), zero = 0;
	int no = 0;

	__atomic_compare_exchange_n(&first, &zero, now, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
	if (now - __atomic_load_n(&first, __ATOMIC_RELAXED) > 6 * timer_freq_hz &&
	    __atomic_compare_exchange_n(&fired, &no, 1, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		ticks += (uint64_t)*nowhere;
	h->next_tick = now + ticks;
	sbi_set_timer(h->next_tick);
	return 0;
}
