/*
 * Fault-matrix module: sched 1 -> 2 whose enqueue() takes a run-queue lock
 * and faults holding it. enqueue() is called with the thread's lock held,
 * interrupts off, from wakeups, yields, preemptions and thread creation on
 * every hart: a thread must never be lost by the unwind (it is retried on
 * version 1, or on this code once more while the rollback drains calls).
 * Its self-test runs on a scratch scheduler, where enqueue() works.
 */
#include <kernel/object.h>
#include <kernel/thread.h>

static long enqfault_enqueue(struct object *self, struct thread *t);
#define SCHED_V2_ENQUEUE enqfault_enqueue
#include "sched_v2.c"

static long *volatile nowhere;	/* never set: the bug */

static long enqfault_enqueue(struct object *self, struct thread *t)
{
	struct sched_v2 *s = (struct sched_v2 *)self;
	long bad = 0;

	if (self != &scratch.obj) {
		spin_lock(&s->rq[0].lock);
		bad = *nowhere;
		spin_unlock(&s->rq[0].lock);
	}
	return v2_enqueue(self, t) + bad;
}
