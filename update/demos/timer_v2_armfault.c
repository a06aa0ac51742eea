/*
 * Fault-matrix module: timer (sbi-time, both boards) 1 -> 2 whose arm()
 * faults. arm() runs in every hart's timer interrupt, so the fault hits in
 * interrupt context, on every hart at about the same time: each call is
 * unwound inside its handler and retried on version 1 (which programs the
 * next tick), and the pack rolls back. No hart misses its ticks.
 */
#include "timer_v2.h"

static long *volatile nowhere;	/* never set: the bug */

static long v2_arm(struct object *self, uint64_t ticks)
{
	return (long)ticks * 0 + *nowhere;
}
