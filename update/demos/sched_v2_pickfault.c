/*
 * Fault-matrix module: sched 1 -> 2 whose pick() takes its hart's run-queue
 * lock and faults holding it: in every hart's scheduler loop (no thread
 * running, interrupts off). Each call is unwound (the lock released) and
 * retried; the rollback hands the run queues back to version 1 through
 * transfer_back. Its self-test runs on a scratch scheduler, where pick()
 * works, so the bug gets through.
 */
#include <kernel/object.h>
#include <kernel/thread.h>

static long pickfault_pick(struct object *self, unsigned int hart, struct thread **out);
#define SCHED_V2_PICK pickfault_pick
#include "sched_v2.c"

static long *volatile nowhere;	/* never set: the bug */

static long pickfault_pick(struct object *self, unsigned int hart, struct thread **out)
{
	struct sched_v2 *s = (struct sched_v2 *)self;
	long bad = 0;

	if (self != &scratch.obj && hart < s->nharts) {
		spin_lock(&s->rq[hart].lock);
		bad = *nowhere;
		spin_unlock(&s->rq[hart].lock);
	}
	return v2_pick(self, hart, out) + bad;
}
