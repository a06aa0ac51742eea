/*
 * Fault-matrix module: counter 1 -> 2 whose transfer() faults (a store
 * through NULL, in new code, interrupts off, the instance claimed). Eager,
 * the engine's conversion fails and the pack rolls back (no call to
 * retry); lazy, the call that needed the conversion runs on version 1.
 */
#include "counter_v2_faults.h"

static int xferfault_transfer(const struct object *from, struct object *to);
#define COUNTER_V2_TRANSFER xferfault_transfer
#include "counter_v2.c"

static int xferfault_transfer(const struct object *from, struct object *to)
{
	*nowhere = ((const struct counter_v1 *)from)->value;
	return v1_to_v2(from, to);
}
