/*
 * Test module (test/qemu/test_journal.py): uart 1 -> 2 exactly as
 * uart_v2.c, but its transfer panics while the journal replays it at boot
 * (live, it copies the state as usual). Every boot then dies in replay;
 * the boot counter must bring the board up in safe mode after a few.
 */
#include <kernel/log.h>
#include <kernel/persist.h>

static int replaypanic_transfer(const struct object *from, struct object *to);
#define UART_V2_TRANSFER replaypanic_transfer
#include "uart_v2.c"

static int replaypanic_transfer(const struct object *from, struct object *to)
{
	if (persist_replaying())
		panic("uart_v2_replaypanic: refusing to boot");
	return copy_state(from, to);
}
