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
 * quiesce_barrier() reaches the same state in microseconds rather than
 * scheduler ticks, for a waiter that someone waits on (a pack being
 * applied): every other hart is sent an IPI, which it answers at once
 * (a generation boundary, trap.c); a thread that marks a quiescent point
 * while a barrier is open gives its hart away once, so a thread preempted
 * in the middle of a call there runs on and finishes it now instead of at
 * the end of the running thread's slice; and the waiter neither spins nor
 * queues behind threads that need nothing from it: it sleeps, and each
 * hart's answer, and each thread that catches up, wakes it
 * (quiesce_answer, quiesce_note_idle), so it looks again at once; while
 * it sleeps its own hart runs the threads it waits for. Once its own hart
 * owes nothing, it idles that hart in WFI instead (barrier_idle): what is
 * left is waiting for other harts, and a halted virtual hart frees its
 * host core for them (under the workload the barrier's median went from
 * 7.7-11.4 ms to 4.4-5.8 ms in side-by-side runs). (A spinning waiter
 * would also skew QEMU -icount's counts: the other vCPUs would run only
 * once it had used up its slice.)
 *
 * Locking: qs_epoch and qs_barriers are atomic; the thread list is walked
 * under its lock by thread_for_each.
 */
#include <kernel/thread.h>
#include <kernel/hart.h>
#include <kernel/smp.h>
#include <kernel/timer.h>
#include <kernel/riscv.h>
#include <kernel/errno.h>
#include <kernel/irq.h>

/*
 * How long one barrier may idle its hart (barrier_idle) before it lets
 * that hart's other threads run again while it waits.
 */
#define BARRIER_IDLE_MAX_US	20000

static volatile uint64_t qs_epoch = 1;
static volatile unsigned int qs_barriers;	/* quiesce_barrier() calls waiting */
static struct thread *volatile qs_waiter;	/* the one woken by answers */
static volatile int qs_notified;		/* an answer came since its last look */
static volatile int qs_waiter_hart = -1;	/* where the waiter idles in WFI, or -1 */
static uint64_t qs_answered[MAX_HARTS];		/* each hart's last answered epoch */

uint64_t quiesce_epoch(void)
{
	return __atomic_load_n(&qs_epoch, __ATOMIC_ACQUIRE);
}

static void barrier_notify(void);

void thread_quiescent(void)
{
	struct thread *t = thread_current();
	uint64_t epoch = quiesce_epoch(), was = t->qs_since;

	__atomic_store_n(&t->qs_since, epoch, __ATOMIC_RELEASE);
	/* Once per epoch: a thread preempted mid-call on this hart finishes it now. */
	if (was < epoch && __atomic_load_n(&qs_barriers, __ATOMIC_ACQUIRE)) {
		barrier_notify();
		thread_yield();
	}
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
	unsigned int busy_here;	/* of those, homed on the scanning hart */
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
	    !gone_with_its_hart(t)) {
		s->busy++;
		s->busy_here += t->hart == (int)this_hart()->index;
	}
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

/* Every hart passed a boundary and every other thread caught up. */
static bool barrier_passed(const uint64_t *snap, struct scan *s)
{
	s->busy = s->busy_here = 0;
	thread_for_each(scan_thread, s);
	return harts_passed(snap) && !s->busy;
}

/*
 * Something the barrier waits for happened: wake its waiter to look again.
 * Called from interrupt handlers and from a switch (the switching thread's
 * lock held); never by the waiter itself.
 */
static void barrier_notify(void)
{
	struct thread *w = __atomic_load_n(&qs_waiter, __ATOMIC_ACQUIRE);

	int idle_on;

	if (!w || w == this_hart()->cur)
		return;
	__atomic_store_n(&qs_notified, 1, __ATOMIC_RELEASE);
	idle_on = __atomic_load_n(&qs_waiter_hart, __ATOMIC_ACQUIRE);
	if (idle_on >= 0)
		smp_kick((unsigned int)idle_on);	/* out of its WFI */
	else
		thread_wake(w);
}

/*
 * Nothing on the waiter's own hart is owed: idle it in WFI until an answer
 * comes (or a tick), instead of running that hart's other threads. Under
 * QEMU each hart is a host thread; one that halts gives its host core to
 * the harts the barrier waits for, which is where the wait goes when all
 * of them are busy. Never on the hart that takes the devices' interrupts
 * (the network thread there would wait behind the urgent waiter), and for
 * at most BARRIER_IDLE_MAX_US a barrier (a hart that does not answer for
 * long must not starve this one's threads).
 */
static bool barrier_may_idle(uint64_t idle_end)
{
	return this_hart()->index != IRQ_HART_INDEX && rdtime() < idle_end;
}

static void barrier_idle(uint64_t deadline)
{
	__atomic_store_n(&qs_waiter_hart, (int)this_hart()->index, __ATOMIC_RELEASE);
	while (!__atomic_load_n(&qs_notified, __ATOMIC_ACQUIRE) && rdtime() < deadline)
		wfi();
	__atomic_store_n(&qs_waiter_hart, -1, __ATOMIC_RELEASE);
}

void quiesce_answer(void)
{
	struct hart *h = this_hart();
	uint64_t epoch;

	if (!__atomic_load_n(&qs_barriers, __ATOMIC_ACQUIRE))
		return;
	epoch = quiesce_epoch();
	if (qs_answered[h->index] != epoch) {
		qs_answered[h->index] = epoch;
		barrier_notify();
	}
}

void quiesce_note_idle(uint64_t was)
{
	if (was < quiesce_epoch() && __atomic_load_n(&qs_barriers, __ATOMIC_ACQUIRE))
		barrier_notify();
}

int quiesce_barrier(uint64_t timeout_us)
{
	uint64_t snap[MAX_HARTS];
	uint64_t deadline = rdtime() + timer_us_to_ticks(timeout_us);
	struct thread *self = thread_current(), *none = NULL;
	struct scan s = { .self = self };
	uint64_t idle_end = rdtime() + timer_us_to_ticks(BARRIER_IDLE_MAX_US);
	bool registered;
	int rc = 0;

	/* One waiter is woken by answers; another (never, today) by its ticks. */
	registered = __atomic_compare_exchange_n(&qs_waiter, &none, self, false, __ATOMIC_ACQ_REL,
					       __ATOMIC_ACQUIRE);
	__atomic_add_fetch(&qs_barriers, 1, __ATOMIC_ACQ_REL);
	s.epoch = __atomic_add_fetch(&qs_epoch, 1, __ATOMIC_ACQ_REL);
	for (unsigned int i = 0; i < nharts_online; i++) {
		snap[i] = __atomic_load_n(&hart_by_index(i)->gen, __ATOMIC_ACQUIRE);
		if (hart_by_index(i) != this_hart())
			smp_kick(i);
	}
	for (;;) {
		uint64_t now;

		/* Cleared before the look: a notification after it stops the sleep. */
		__atomic_store_n(&qs_notified, 0, __ATOMIC_RELEASE);
		if (barrier_passed(snap, &s))
			break;
		now = rdtime();
		if (now > deadline) {
			rc = -KE_TIMEDOUT;
			break;
		}
		/* Asleep, this hart runs whoever it owes (threads stuck mid-call here). */
		if (!s.busy_here && registered && barrier_may_idle(idle_end))
			barrier_idle(deadline < idle_end ? deadline : idle_end);
		else
			thread_sleep_unless(&qs_notified, timer_ticks_to_us(deadline - now) + 1);
	}
	if (registered)
		__atomic_store_n(&qs_waiter, NULL, __ATOMIC_RELEASE);
	__atomic_sub_fetch(&qs_barriers, 1, __ATOMIC_ACQ_REL);
	return rc;
}
