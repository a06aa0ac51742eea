/*
 * Fault-matrix module: counter 1 -> 2 whose add() sleeps (methods must not
 * block: a voluntary switch is a quiescent point). The sleep inside its
 * probation call is caught before the thread switches away: the call is
 * unwound and retried on version 1, the pack rolled back.
 */
#include <kernel/thread.h>
#include "counter_v2_faults.h"

static long block_add(struct object *self, long n);
#define COUNTER_V2_ADD block_add
#define COUNTER_V2_SELFTEST read_only_selftest
#include "counter_v2.c"

static long block_add(struct object *self, long n)
{
	thread_sleep_us(1000);
	return v2_add(self, n);
}
