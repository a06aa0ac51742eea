/*
 * Fault-matrix module: counter 1 -> 2 whose self-test spins with
 * interrupts off: nothing can stop it. The engine gives it up after the
 * self-test's time plus the time to stop it, finds its hart no longer
 * answering, declares that hart lost (later quiescence waits skip it) and
 * refuses the pack; the module stays (its code still runs there).
 */
#include <kernel/spinlock.h>
#include "counter_v2_faults.h"

static int selfspin_selftest(const struct class *cls);
#define COUNTER_V2_SELFTEST selfspin_selftest
#include "counter_v2.c"

static int selfspin_selftest(const struct class *cls)
{
	irq_push_off();
	while (!*(long *volatile *)&nowhere)
		__asm__ __volatile__("" ::: "memory");
	irq_pop_off();
	return v2_selftest(cls);
}
