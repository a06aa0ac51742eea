/*
 * The demo workload: worker threads on every hart call instances of the
 * `counter` class through the OTT; a heartbeat line each second reports
 * calls made and calls counted, which must always match.
 */
#ifndef KERNEL_WORKLOAD_H
#define KERNEL_WORKLOAD_H
#include <kernel/ott.h>

#define WORKLOAD_COUNTERS	1024
#define WORKLOAD_WORKERS_PER_HART 2

struct counter_ops {
	/* Adds @n; returns the new value. */
	long (*add)(struct object *self, long n);
	/* The current value. */
	long (*get)(struct object *self);
};

static inline long counter_add(ott_ref_t r, long n)
{
	return OTT_CALL(r, struct counter_ops, add, n);
}

static inline long counter_get(ott_ref_t r)
{
	return OTT_CALL(r, struct counter_ops, get);
}

void workload_start(void);
#endif
