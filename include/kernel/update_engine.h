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
	REC_SWEEP,	/* committed; lazy instances being converted */
};

struct update_record {
	struct pack pack;
	struct step_work steps[PACK_MAX_STEPS];
	unsigned int nsteps;
	struct class_work classes[PACK_MAX_STEPS];
	unsigned int nclasses;
	volatile int phase;
	char reason[96];		/* why it rolled back */
	uint64_t probation_us;
	bool journaled;			/* its outcome goes to the journal */
};

extern struct update_record update_rec;
extern volatile int update_busy;
extern enum update_result update_last_result;

/* Records why the last pack failed after its apply (a rollback). */
void update_set_detail(const char *why);

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
};
extern struct blackout_stats blackout_stats;
void blackout_stats_reset(void);
/* Trap hook: a fault in code under probation. true if it was handled. */
bool update_fault(struct trap_frame *tf);
/* Waits until no pack is in flight (probation over, sweep done). */
void update_wait_idle(void);
/* Probation length; tests and the demo may shorten it. Boot replay uses the second. */
extern uint64_t update_probation_us;
extern uint64_t update_replay_probation_us;

#endif
