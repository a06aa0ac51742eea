/*
 * Fault-matrix module: counter 1 -> 2 whose self-test never returns (it
 * spins with interrupts on). After the self-test's time the engine asks its
 * thread to stop; it is stopped at its next timer tick, the module freed,
 * the pack refused, and later quiescence waits (later packs) unaffected.
 */
#include "counter_v2_faults.h"

static int selfhang_selftest(const struct class *cls);
#define COUNTER_V2_SELFTEST selfhang_selftest
#include "counter_v2.c"

static int selfhang_selftest(const struct class *cls)
{
	while (!*(long *volatile *)&nowhere)
		__asm__ __volatile__("" ::: "memory");
	return v2_selftest(cls);
}
