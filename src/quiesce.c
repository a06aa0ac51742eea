/*
 * Quiescence without stopping the world.
 *
 * A live update must know when no call that began before some moment can
 * still be running. Two kinds of context make calls:
 *  - threads: each records the epoch at which its current activity began
 *    (thread.c sets it when it resumes from a voluntary switch; long-running
 *    loops call thread_quiescent() between operations). A preempted thread
 *    keeps its old value, because it may be in the middle of a call.
 *  - interrupt handlers: they never nest and never block, so once a hart
 *    has taken an IPI or passed its scheduler loop, every handler that was
 *    running there has returned. Each hart's `gen` counts those points.
 * quiesce_wait() opens a new epoch, waits for a generation boundary on
 * every online hart, then for every other thread to be idle or active only
 * since the new epoch. Nothing is stopped; the waiter yields.
 *
 * Locking: qs_epoch is atomic; the thread list is walked under its lock by
 * thread_for_each.
 */
#include <kernel/thread.h>
#include <kernel/hart.h>
#include <kernel/smp.h>
#include <kernel/timer.h>
#include <kernel/riscv.h>
#include <kernel/errno.h>

static volatile uint64_t qs_epoch = 1;

uint64_t quiesce_epoch(void)
{
	return __atomic_load_n(&qs_epoch, __ATOMIC_ACQUIRE);
}

void thread_quiescent(void)
{
	struct thread *t = thread_current();

	__atomic_store_n(&t->qs_since, quiesce_epoch(), __ATOMIC_RELEASE);
}

static bool harts_passed(const uint64_t *snap)
{
	for (unsigned int i = 0; i < nharts_online; i++) {
		struct hart *h = hart_by_index(i);

		if (h->online && h != this_hart() &&
		    __atomic_load_n(&h->gen, __ATOMIC_ACQUIRE) == snap[i])
			return false;
	}
	return true;
}

struct scan {
	uint64_t epoch;
	struct thread *self;
	unsigned int busy;
};

/*
 * A thread that will never run again counts for nothing: the one running
 * on a hart that was lost or parked (trap.c, update/engine.c), and those
 * pinned there. (An unpinned one queued there may still be stolen.)
 */
static bool gone_with_its_hart(const struct thread *t)
{
	struct hart *h = t->hart >= 0 ? hart_by_index((unsigned int)t->hart) : NULL;

	return h && !h->online && (t->state == THREAD_RUNNING || t->affinity >= 0);
}

static void scan_thread(struct thread *t, void *arg)
{
	struct scan *s = arg;
	uint64_t since = __atomic_load_n(&t->qs_since, __ATOMIC_ACQUIRE);

	if (t != s->self && t->state != THREAD_DEAD && since != QS_IDLE && since < s->epoch &&
	    !gone_with_its_hart(t))
		s->busy++;
}

int quiesce_harts(uint64_t timeout_us)
{
	uint64_t snap[MAX_HARTS];
	uint64_t deadline = rdtime() + timer_us_to_ticks(timeout_us);

	/* What the caller unlinked is visible before any hart's next point. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	for (unsigned int i = 0; i < nharts_online; i++) {
		snap[i] = __atomic_load_n(&hart_by_index(i)->gen, __ATOMIC_ACQUIRE);
		smp_kick(i);
	}
	while (!harts_passed(snap))
		if (rdtime() > deadline)
			return -KE_TIMEDOUT;
	return 0;
}

int quiesce_wait(uint64_t timeout_us)
{
	uint64_t snap[MAX_HARTS];
	uint64_t deadline = rdtime() + timer_us_to_ticks(timeout_us);
	struct scan s = { .self = thread_current() };

	s.epoch = __atomic_add_fetch(&qs_epoch, 1, __ATOMIC_ACQ_REL);
	for (unsigned int i = 0; i < nharts_online; i++) {
		snap[i] = __atomic_load_n(&hart_by_index(i)->gen, __ATOMIC_ACQUIRE);
		smp_kick(i);
	}
	while (!harts_passed(snap)) {
		if (rdtime() > deadline)
			return -KE_TIMEDOUT;
		thread_yield();
	}
	for (;;) {
		s.busy = 0;
		thread_for_each(scan_thread, &s);
		if (!s.busy)
			return 0;
		if (rdtime() > deadline)
			return -KE_TIMEDOUT;
		thread_yield();
	}
}
