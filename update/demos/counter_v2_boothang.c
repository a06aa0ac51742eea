/*
 * Test module (test/qemu/test_journal.py): counter 1 -> 2 exactly as
 * counter_v2.c, but during the first 10 seconds after power-on add()
 * spins for ever with interrupts off, once the journal's replay is over
 * (so its self-test passes). Pushed live (later than that) it works;
 * replayed at boot it wedges every hart the workload runs on, the way a
 * bad driver update would: the boot never turns good, and after a few
 * resets the board must come up in safe mode.
 */
#include <kernel/riscv.h>
#include <kernel/spinlock.h>
#include <kernel/timer.h>
#include <kernel/persist.h>

static long boothang_add(struct object *self, long n);
#define COUNTER_V2_ADD boothang_add
#include "counter_v2.c"

static long boothang_add(struct object *self, long n)
{
	if (rdtime() < 10 * timer_freq_hz && !persist_replaying()) {
		irq_push_off();
		for (;;)
			__asm__ __volatile__("" ::: "memory");
	}
	return v2_add(self, n);
}
