/*
 * Fault-matrix module: counter 1 -> 2 whose add() never returns: it spins
 * with interrupts on (no fault at all). The timer interrupt finds each
 * caller inside its probation call tick after tick; at UPDATE_LOOP_TICKS
 * the call is unwound and retried on version 1, and the pack rolled back.
 */
#include "counter_v2_faults.h"

static long loop_add(struct object *self, long n);
#define COUNTER_V2_ADD loop_add
#define COUNTER_V2_SELFTEST read_only_selftest
#include "counter_v2.c"

static long loop_add(struct object *self, long n)
{
	while (!*(long *volatile *)&nowhere)
		__asm__ __volatile__("" ::: "memory");
	return v2_add(self, n);
}
