/*
 * State of the round-robin scheduler (version 1 of class `sched`), shared
 * with the update modules whose transfer functions take its run queues.
 */
#ifndef KERNEL_SCHED_RR_H
#define KERNEL_SCHED_RR_H

#include <stdint.h>
#include <kernel/ott.h>
#include <kernel/hart.h>
#include <kernel/list.h>
#include <kernel/spinlock.h>

struct runq {
	struct spinlock lock;
	struct list_head threads;	/* by thread.rq_node */
	uint32_t len;
	uint64_t picks, steals;
};

struct sched_rr {
	struct object obj;
	unsigned int nharts;
	struct runq rq[MAX_HARTS];
};

#endif
