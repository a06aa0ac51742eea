/*
 * Per-stage cost of the last live update (see stage_stats.h): instructions
 * and ticks added up between stage_begin() and stage_end(), then logged by
 * stage_report(): two lines per unit (instr, ns), the stages up to the
 * journal in the first, from the link on in the second.
 *
 * Locking: none needed for the table. Stages run one pack at a time, each
 * bracket on one thread (the handoff begins on the network thread and
 * ends on the ota thread, in that order, through the agent's wait queue);
 * the first conversion after the switch is claimed with one atomic
 * exchange, whichever hart converts first.
 *
 * A bracket may begin on one hart and end on another (the handoff; the
 * self-test, whose exit wakes the engine on the test's hart): its ticks
 * are right (one timebase), its instructions only where rdinstret is one
 * count for every hart, as under QEMU's -icount, where make bench takes
 * them from.
 */
#include <stdio.h>
#include <string.h>
#include <kernel/stage_stats.h>
#include <kernel/riscv.h>
#include <kernel/timer.h>
#include <kernel/log.h>

struct stage_stat stage_stats[STAGE_COUNT];
static struct { uint64_t instr, ticks; bool open; } started[STAGE_COUNT];
static bool handoff_done;
/* Armed by the switch: the next conversion anywhere is the first one. */
static volatile int first_armed;

static const char *const stage_names[STAGE_COUNT] = {
	[STAGE_HANDOFF] = "handoff", [STAGE_PARSE] = "parse", [STAGE_SIGNATURE] = "sig",
	[STAGE_HASHES] = "hash", [STAGE_CHAIN] = "chain", [STAGE_JOURNAL] = "journal",
	[STAGE_LINK] = "link", [STAGE_MAP] = "map", [STAGE_DESCRIPTOR] = "desc",
	[STAGE_SELFTEST] = "selftest", [STAGE_QUIESCE] = "quiesce", [STAGE_SWITCH] = "switch",
	[STAGE_CONVERT] = "convert", [STAGE_FIRST_CONVERSION] = "conv1", [STAGE_TOTAL] = "total",
};

void stage_begin(enum update_stage s)
{
	if (s == STAGE_HANDOFF) {
		memset(&stage_stats[s], 0, sizeof(stage_stats[s]));
		handoff_done = false;
	}
	if (s == STAGE_SWITCH)
		__atomic_store_n(&first_armed, 1, __ATOMIC_RELEASE);
	started[s].open = true;
	started[s].ticks = rdtime();
	started[s].instr = rdinstret();
}

void stage_end(enum update_stage s)
{
	uint64_t i = rdinstret(), t = rdtime();

	if (!started[s].open)
		return;		/* e.g. a pulled pack has no handoff bracket */
	started[s].open = false;
	stage_stats[s].instr += i - started[s].instr;
	stage_stats[s].ticks += t - started[s].ticks;
	stage_stats[s].count++;
	if (s == STAGE_HANDOFF)
		handoff_done = true;
}

void stage_reset(void)
{
	__atomic_store_n(&first_armed, 0, __ATOMIC_RELEASE);
	for (int s = 0; s < STAGE_COUNT; s++)
		if (s != STAGE_HANDOFF || !handoff_done)
			memset(&stage_stats[s], 0, sizeof(stage_stats[s]));
	handoff_done = false;
}

void stage_first_conversion(uint64_t instr, uint64_t ticks)
{
	if (!__atomic_load_n(&first_armed, __ATOMIC_RELAXED) ||
	    !__atomic_exchange_n(&first_armed, 0, __ATOMIC_ACQ_REL))
		return;
	stage_stats[STAGE_FIRST_CONVERSION].instr = instr;
	stage_stats[STAGE_FIRST_CONVERSION].ticks = ticks;
	__atomic_store_n(&stage_stats[STAGE_FIRST_CONVERSION].count, 1, __ATOMIC_RELEASE);
}

/* Half the stages per line: a line holds at most LOG_LINE_MAX characters. */
static void report_unit(uint32_t seq, bool instr, int from, int to)
{
	char line[LOG_LINE_MAX];
	size_t n = 0;

	line[0] = '\0';
	for (int s = from; s < to && n < sizeof(line); s++) {
		const struct stage_stat *st = &stage_stats[s];

		if (!__atomic_load_n(&st->count, __ATOMIC_ACQUIRE))
			n += (size_t)snprintf(line + n, sizeof(line) - n, " %s=-", stage_names[s]);
		else
			n += (size_t)snprintf(line + n, sizeof(line) - n, " %s=%lu", stage_names[s],
					      (unsigned long)(instr ? st->instr
							: st->ticks * 1000000000ULL / timer_freq_hz));
	}
	klog("update", "stages seq=%u unit=%s%s", seq, instr ? "instr" : "ns", line);
}

void stage_report(uint32_t seq)
{
	for (int unit = 0; unit < 2; unit++) {
		report_unit(seq, !unit, 0, STAGE_LINK);
		report_unit(seq, !unit, STAGE_LINK, STAGE_COUNT);
	}
}
