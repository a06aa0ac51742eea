/*
 * Fault-matrix module: counter 1 -> 2 whose self-test faults. It fails the
 * check at once (not after the self-test's time runs out), nothing of the
 * pack stays loaded, and the board goes on.
 */
#include "counter_v2_faults.h"

static int selftrap_selftest(const struct class *cls);
#define COUNTER_V2_SELFTEST selftrap_selftest
#include "counter_v2.c"

static int selftrap_selftest(const struct class *cls)
{
	*nowhere = 1;
	return v2_selftest(cls);
}
