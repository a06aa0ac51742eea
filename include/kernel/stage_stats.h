/*
 * Where the time of one live update goes: each stage of the pipeline is
 * bracketed by stage_begin()/stage_end() (update/stage_stats.c), which add
 * up instructions retired (rdinstret) and timer ticks (rdtime) per stage.
 * One pack at a time (the engine's update_busy), so a plain table holds
 * the figures of the pack in flight; the first instance conversion after
 * the switch may happen on any hart and is noted once, atomically.
 *
 * QEMU counts instructions only under -icount, where rdinstret is its
 * virtual clock: the instructions of every hart plus time skipped while
 * all of them idled (docs/live-update.md, "Where the time goes").
 *
 * Host unit tests build pack.c and friends without any of this.
 */
#ifndef KERNEL_STAGE_STATS_H
#define KERNEL_STAGE_STATS_H

#include <stdint.h>

/* In pipeline order; the names are the keys of the `update: stages` lines. */
enum update_stage {
	STAGE_HANDOFF,		/* pack received -> the ota thread starts checking it */
	STAGE_PARSE,		/* FIT structure, configuration, step properties */
	STAGE_SIGNATURE,	/* hashed regions + RSA of the configuration signature */
	STAGE_HASHES,		/* sha256 of every image */
	STAGE_CHAIN,		/* ABI, sequence number, version chain */
	STAGE_JOURNAL,		/* the pack stored and flushed (persistent boards) */
	STAGE_LINK,		/* ELF parse, allocation, relocation */
	STAGE_MAP,		/* text mapped R+X, TLB and instruction caches synced */
	STAGE_DESCRIPTOR,	/* update_desc against its step, new version built */
	STAGE_SELFTEST,		/* the module's self-test in a thread of its own */
	STAGE_QUIESCE,		/* old versions forwarded, quiescence reached */
	STAGE_SWITCH,		/* new versions in, factories swapped */
	STAGE_CONVERT,		/* eager conversion of every instance */
	STAGE_FIRST_CONVERSION,	/* the first instance converted after the switch */
	STAGE_TOTAL,		/* update_apply_pack() to `update: applied` */
	STAGE_COUNT
};

struct stage_stat {
	uint64_t instr, ticks;
	uint32_t count;
};

#ifdef HOST_TEST
static inline void stage_begin(enum update_stage s) { (void)s; }
static inline void stage_end(enum update_stage s) { (void)s; }
static inline void stage_first_conversion(uint64_t instr, uint64_t ticks)
{
	(void)instr;
	(void)ticks;
}
#else
/* Brackets one pass through @s (passes add up: one per module for link). */
void stage_begin(enum update_stage s);
void stage_end(enum update_stage s);
/* Forgets the last pack's figures (the engine, when a pack starts). */
void stage_reset(void);
/* The first conversion after the switch: figures taken by convert.c. */
void stage_first_conversion(uint64_t instr, uint64_t ticks);
/* Logs the figures of the last pack: `update: stages seq=.. unit=instr|ns ...` (x2 each). */
void stage_report(uint32_t seq);
extern struct stage_stat stage_stats[STAGE_COUNT];
#endif

#endif
