/*
 * Fault-matrix module: counter 1 -> 2 (applied eagerly: every instance
 * converted) whose add() faults, which starts a rollback, and whose
 * transfer_back faults too, for every instance: each comes back to the
 * state kept at its conversion (add() never changed one), and the trap
 * reports stop after the first few of the pack.
 */
#include "counter_v2_faults.h"

static long backfault_add(struct object *self, long n);
static int backfault_back(const struct object *from, struct object *to);
#define COUNTER_V2_ADD backfault_add
#define COUNTER_V2_TRANSFER_BACK backfault_back
#define COUNTER_V2_SELFTEST read_only_selftest
#include "counter_v2.c"

static long backfault_add(struct object *self, long n)
{
	n += *nowhere;
	return v2_add(self, n);
}

static int backfault_back(const struct object *from, struct object *to)
{
	((struct counter_v1 *)to)->value = -1;	/* half written, then the fault */
	*nowhere = 1;
	return v2_to_v1(from, to);
}
