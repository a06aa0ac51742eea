/*
 * Fault-matrix module: counter 1 -> 2 whose add() reads through a NULL
 * pointer before it changes anything (thread context, interrupts on). The
 * self-test only reads, so the bug gets through; the first add() after
 * the switch faults inside its probation call: rolled back, retried on 1.
 */
#include "counter_v2_faults.h"

static long addfault_add(struct object *self, long n);
#define COUNTER_V2_ADD addfault_add
#define COUNTER_V2_SELFTEST read_only_selftest
#include "counter_v2.c"

static long addfault_add(struct object *self, long n)
{
	n += *nowhere;
	return v2_add(self, n);
}
