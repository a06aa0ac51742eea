/*
 * Test module (test/qemu/test_journal.py): counter 1 -> 2 exactly as
 * counter_v2.c, but its self-test faults while the journal replays it at
 * boot. Pushed live it applies; after a reboot its replay fails, so the
 * journal must roll it back and mark it, and the board boot on version 1.
 */
#include <kernel/persist.h>

static int replayfault_selftest(const struct class *cls);
#define COUNTER_V2_SELFTEST replayfault_selftest
#include "counter_v2.c"

static long *volatile nowhere;	/* never set */

static int replayfault_selftest(const struct class *cls)
{
	if (persist_replaying())
		*nowhere = 1;	/* a store fault, in new code */
	return v2_selftest(cls);
}
