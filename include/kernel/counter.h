/*
 * The `counter` class of the demo workload: its interface (which grows by
 * version) and the state layout of version 1, which later versions'
 * transfer functions read.
 */
#ifndef KERNEL_COUNTER_H
#define KERNEL_COUNTER_H

#include <kernel/ott.h>

struct counter_stats {
	long value;
	long calls;		/* add() calls seen since it was created or converted */
	long version;		/* implementation version answering */
};

/* Methods by interface version: add/get since 1, stats since 2. */
struct counter_ops {
	/* Adds @n; returns the new value. */
	long (*add)(struct object *self, long n);
	/* The current value. */
	long (*get)(struct object *self);
	/* Fills @out (interface 2). */
	long (*stats)(struct object *self, struct counter_stats *out);
};

/* Version 1 state. */
struct counter_v1 {
	struct object obj;
	long value;
};

static inline long counter_add(ott_ref_t r, long n)
{
	return OTT_CALL(r, struct counter_ops, add, n);
}

static inline long counter_get(ott_ref_t r)
{
	return OTT_CALL(r, struct counter_ops, get);
}

/* Only for references whose object_iface_version() is at least 2. */
static inline long counter_stats(ott_ref_t r, struct counter_stats *out)
{
	return OTT_CALL(r, struct counter_ops, stats, out);
}

#endif
