/*
 * Internals shared by the update engine's files: the record of the pack in
 * flight (update/engine.c fills it, update/probation.c finishes it).
 */
#ifndef KERNEL_UPDATE_ENGINE_H
#define KERNEL_UPDATE_ENGINE_H

#include <stdint.h>
#include <stdbool.h>
#include <kernel/update.h>
#include <kernel/pack.h>

struct trap_frame;

struct step_work {
	const struct pack_step *ps;
	struct factory *f;
	struct module *mod;
	const struct update_desc *d;
	struct class_version *cv;	/* the new version */
	bool keep_code;			/* a self-test never finished: may still run */
};

struct class_work {
	struct factory *f;
	struct class_version *before;	/* current version before the pack */
	struct class_version *after;	/* the last new version */
	uint32_t from, to;
	uint32_t instances;
	bool lazy;
	bool probation;
	uint64_t convert_ticks;		/* eager conversion time */
};

enum rec_phase {
	REC_IDLE,
	REC_PROBATION,	/* applied; a fault in new code rolls back */
	REC_ROLLBACK,	/* a fault happened; the monitor converts back */
	REC_SWEEP,	/* committed; leftover instances being converted */
	REC_COMMITTING,	/* probation over: faults in new code are ordinary ones */
};

struct update_record {
	struct pack pack;
	struct step_work steps[PACK_MAX_STEPS];
	unsigned int nsteps;
	struct class_work classes[PACK_MAX_STEPS];
	unsigned int nclasses;
	volatile int phase;
	char reason[128];		/* why it rolled back */
	volatile int reason_ready;	/* reason written (by the fault that started the rollback) */
	uint64_t probation_us;
	bool journaled;			/* its outcome goes to the journal */
	volatile uint32_t faults;	/* faults handled in its code (reports: the first few) */
	uint64_t failed_calls0, back_failures0;	/* convert.c's counters at the switch */
};

/* Fault reports printed per pack; later faults of the same pack are only counted. */
#define UPDATE_FAULT_REPORTS 8

/* What update_fault() tells trap.c to print. */
struct update_fault_note {
	bool quiet;		/* do not print the trap report (one of many of this pack) */
	char msg[240];		/* an `update:` line to print after it, if not empty */
};

extern struct update_record update_rec;
extern volatile int update_busy;
extern enum update_result update_last_result;

/* Records why the last pack failed after its apply (a rollback). */
void update_set_detail(const char *why);

/*
 * The monitor's two steps (probation.c; exposed for the host tests).
 * decide: probation time, the sweep of lazy instances and the drain of
 * probation calls, each cut short by a rollback, the journal's commit
 * record (still under probation), then the one atomic step from PROBATION
 * to COMMITTING; true: commit. A fault after that step is an ordinary one.
 * settle: commit, or finish the rollback and journal it, then sweep and
 * retire old versions.
 */
bool probation_decide(struct update_record *rec);
void probation_settle(struct update_record *rec, bool commit);

/* Starts the monitor thread (boot). */
void update_engine_start(void);
/* Hands an applied record to the monitor (engine.c). */
void probation_start(struct update_record *rec);
/* Longest conversion since the last reset (the blackout a caller can see). */
uint64_t convert_max_blackout_ticks(bool reset);

/*
 * Blackout figures in timer ticks, log2 buckets (bucket b: [2^b, 2^(b+1))):
 * how long each conversion kept its instance unavailable, and how long
 * each caller that met an instance being converted waited for it.
 */
#define BLACKOUT_BUCKETS 40
struct blackout_stats {
	uint64_t conversions[BLACKOUT_BUCKETS];
	uint64_t waits[BLACKOUT_BUCKETS];
	uint64_t max_conversion, max_wait;
	uint64_t overtakes;		/* waits that ended overtaking a stalled conversion */
	uint64_t abandoned;		/* conversions dropped at their commit for that */
};
extern struct blackout_stats blackout_stats;
void blackout_stats_reset(void);
/*
 * Trap hook: a fault. true if it was handled by unwinding to a node of the
 * faulting context (a probation call of the pack in flight: rolled back,
 * the call retried; a transfer or a self-test: it fails). false: an
 * ordinary fault for trap.c to contain (if it hit code of the pack under
 * probation, the pack is rolled back all the same).
 */
bool update_fault(struct trap_frame *tf, struct update_fault_note *note);

/*
 * Timer interrupt of a thread interrupted with interrupts on: counts the
 * tick against its innermost probation call; past UPDATE_LOOP_TICKS the
 * call is taken for a loop, unwound (@tf redirected) and the pack rolled back.
 */
void update_tick(struct trap_frame *tf);
#define UPDATE_LOOP_TICKS 20

/*
 * A thread about to block (yield, sleep, wait): inside a probation call
 * that is a bug of the new code (methods must not block): the pack rolls
 * back and the call is retried; does not return then.
 */
void update_block_check(void);
/* Waits until no pack is in flight (probation over, sweep done). */
void update_wait_idle(void);
/* Probation length; tests and the demo may shorten it. Boot replay uses the second. */
extern uint64_t update_probation_us;
extern uint64_t update_replay_probation_us;

#endif
