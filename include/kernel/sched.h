/*
 * The scheduler is an object of class `sched`, reached through the OTT
 * like any driver, so a live update can replace it. The kernel holds one
 * reference, sched_ref; these inline wrappers are the only way to call it.
 */
#ifndef KERNEL_SCHED_H
#define KERNEL_SCHED_H

#include <stdint.h>
#include <kernel/ott.h>

struct thread;

struct sched_stats {
	uint32_t queued;	/* runnable threads waiting on this hart */
	uint64_t picks;		/* threads dispatched on this hart */
	uint64_t steals;	/* ...of which taken from another hart's queue */
};

struct sched_ops {
	/* Makes @t runnable on the queue of t->hart (or its affinity). */
	long (*enqueue)(struct object *self, struct thread *t);
	/* Next thread for hart @hart (index), or NULL in *out. */
	long (*pick)(struct object *self, unsigned int hart, struct thread **out);
	/* Timer tick on @hart with @cur running: returns 1 to preempt it. */
	long (*tick)(struct object *self, unsigned int hart, struct thread *cur);
	/* Per-hart figures. */
	long (*stats)(struct object *self, unsigned int hart, struct sched_stats *out);
	/* Name of the policy (a static string) in *out. */
	long (*policy)(struct object *self, const char **out);
};

extern ott_ref_t sched_ref;

static inline long sched_enqueue(ott_ref_t r, struct thread *t)
{
	return OTT_CALL(r, struct sched_ops, enqueue, t);
}

static inline long sched_pick(ott_ref_t r, unsigned int hart, struct thread **out)
{
	return OTT_CALL(r, struct sched_ops, pick, hart, out);
}

static inline long sched_tick(ott_ref_t r, unsigned int hart, struct thread *cur)
{
	return OTT_CALL(r, struct sched_ops, tick, hart, cur);
}

static inline long sched_stats(ott_ref_t r, unsigned int hart, struct sched_stats *out)
{
	return OTT_CALL(r, struct sched_ops, stats, hart, out);
}

static inline long sched_policy(ott_ref_t r, const char **out)
{
	return OTT_CALL(r, struct sched_ops, policy, out);
}

/* Creates the round-robin scheduler object and sets sched_ref. */
int sched_rr_create(unsigned int nharts);

#endif
