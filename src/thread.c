/*
 * Kernel threads: creation, the per-hart scheduler loop, context switches,
 * sleeping, wait queues, mutexes, exit and fault kills.
 *
 * Locking (after xv6): a thread's lock is held across every switch away
 * from it and released on the other side, by the scheduler loop after it
 * has filed the thread (run queue, sleep list) or by the thread itself when
 * it resumes. Lock order: waitq lock -> thread lock; a hart's sleep_lock is
 * never held while taking a thread lock. all_lock nests inside nothing.
 *
 * A thread stopped after a fault (or at its next preemption point, on
 * request) drops what it held first: spinlocks this hart took for it, its
 * interrupt nesting, its counted calls (kernel/unwind.h), so that neither
 * a lock nor an update waiting for its calls is held forever.
 */
#include <string.h>
#include <kernel/thread.h>
#include <kernel/sched.h>
#include <kernel/mem.h>
#include <kernel/log.h>
#include <kernel/riscv.h>
#include <kernel/timer.h>
#include <kernel/smp.h>
#include <kernel/tls.h>
#include <kernel/vm.h>
#include <kernel/unwind.h>
#include <kernel/trap.h>
#include <kernel/kstack.h>
#include <kernel/update_engine.h>

#define STACK_CANARY	0x5afe57ac6b00c0deULL
/* Room the trap vector needs below sp (entry.S FRAME_SIZE), above the canary. */
#define TRAP_FRAME_BYTES	(36 * 8)

static struct list_head all_threads = LIST_HEAD_INIT(all_threads);
static struct spinlock all_lock = SPINLOCK_INIT("threads");
static uint32_t next_tid = 1;
static unsigned int rr_next_hart;

struct thread *thread_current(void)
{
	return this_hart()->cur;
}

static int pick_home_hart(int affinity)
{
	if (affinity >= 0)
		return affinity;
	/* Not a hart that was parked or lost (trap.c, update/engine.c). */
	for (unsigned int tries = 0; tries < nharts_online; tries++) {
		unsigned int i = __atomic_fetch_add(&rr_next_hart, 1, __ATOMIC_RELAXED) % nharts_online;
		struct hart *h = hart_by_index(i);

		if (h && h->online)
			return (int)i;
	}
	return 0;
}

/*
 * Queues a runnable thread (its lock held). A hart that was parked or lost
 * runs nothing again: an unpinned thread whose home it was (it last ran
 * there) finds another one, or a wakeup would leave it queued for ever.
 */
static void enqueue(struct thread *t)
{
	struct hart *h;

	if (t->affinity < 0 && t->hart >= 0) {
		h = hart_by_index((unsigned int)t->hart);
		if (!h || !h->online)
			t->hart = pick_home_hart(THREAD_ANY_HART);
	}
	sched_enqueue(sched_ref, t);
}

/*
 * @t (its lock held) waited for an event that came: runnable, first in
 * line; with @here, an unpinned one moves to this hart (it runs as soon as
 * the waker gives the hart up, with no other hart involved).
 */
static void enqueue_woken(struct thread *t, bool here)
{
	t->state = THREAD_RUNNABLE;
	t->woken = true;
	if (here && t->affinity < 0 && this_hart()->online)
		t->hart = (int)this_hart()->index;
	enqueue(t);
}

static struct thread *create(const char *name, thread_fn fn, void *arg, int affinity, bool next)
{
	struct thread *t;

	if (affinity >= (int)nharts_online)
		return NULL;
	t = kzalloc(sizeof(*t));
	if (!t)
		return NULL;
	if (kstack_alloc(&t->stack))
		goto fail;
	t->tls = tls_alloc();
	if (!t->tls)
		goto fail;
	/* The canary catches a frame that jumped over the guard page. */
	*(uint64_t *)t->stack.lo = STACK_CANARY;
	t->stack_floor = t->stack.lo + sizeof(uint64_t) + TRAP_FRAME_BYTES;
	spin_init(&t->lock, "thread");
	strncpy(t->name, name, THREAD_NAME_MAX - 1);
	t->affinity = affinity;
	t->hart = pick_home_hart(affinity);
	t->detached = true;
	t->qs_since = QS_IDLE;
	list_init(&t->rq_node);
	list_init(&t->wait_node);
	t->ctx.ra = (uint64_t)thread_trampoline;
	t->ctx.sp = t->stack.hi;
	t->ctx.s[0] = (uint64_t)fn;
	t->ctx.s[1] = (uint64_t)arg;
	t->ctx.tp = (uint64_t)t->tls;

	spin_lock(&all_lock);
	t->id = next_tid++;
	list_add_tail(&t->all_node, &all_threads);
	spin_unlock(&all_lock);

	spin_lock(&t->lock);
	t->state = THREAD_RUNNABLE;
	t->woken = next;
	enqueue(t);
	spin_unlock(&t->lock);
	return t;
fail:
	if (t->stack.lo)
		kstack_free(&t->stack);
	kfree(t->tls);
	kfree(t);
	return NULL;
}

struct thread *thread_create(const char *name, thread_fn fn, void *arg, int affinity)
{
	return create(name, fn, arg, affinity, false);
}

struct thread *thread_create_next(const char *name, thread_fn fn, void *arg, int affinity)
{
	return create(name, fn, arg, affinity, true);
}

/*
 * Called by a new thread first: it was switched to with its lock held by
 * the loop, which runs with interrupts off; a thread starts with them on.
 */
void thread_start_hook(void);
void thread_start_hook(void)
{
	struct thread *t = thread_current();

	__atomic_store_n(&t->qs_since, quiesce_epoch(), __ATOMIC_RELEASE);
	spin_unlock(&t->lock);
	irq_enable();
}

/* Is @t inside a counted (interposed) call? Then it is not quiescent, blocked or not. */
static bool in_counted_call(const struct thread *t)
{
	for (const struct unwind_node *n = t->ip_top; n; n = n->prev)
		if (n->kind == UNW_CALL && n->cookie)
			return true;
	return false;
}

/*
 * About to block, yield or sleep: methods must not block, so inside a
 * call under probation this is a bug of the new code, rolled back (the
 * call is retried; update_block_check does not return then).
 */
static void check_blocking(struct thread *t)
{
	if (t->ip_top)
		update_block_check();
}

/*
 * Switches from the current thread (its lock held, state set) to the loop.
 * A voluntary switch is a quiescent point, unless the thread blocks inside
 * a call the update engine counts (a method that blocks: its caller is
 * still in the call).
 */
static void sched_switch(struct thread *t, bool voluntary)
{
	struct hart *h = this_hart();
	int was_on;

	if (h->irq_depth != 1 || irq_enabled() || t->state == THREAD_RUNNING)
		panic("sched_switch: depth=%d irq=%d state=%d", h->irq_depth,
		      irq_enabled(), t->state);
	if (voluntary && t->ip_top && in_counted_call(t))
		voluntary = false;
	if (voluntary) {
		uint64_t was = t->qs_since;

		__atomic_store_n(&t->qs_since, QS_IDLE, __ATOMIC_RELEASE);
		quiesce_note_idle(was);
	}
	was_on = h->irq_was_on;
	ctx_switch(&t->ctx, &h->sched_ctx);
	this_hart()->irq_was_on = was_on;
	if (voluntary)
		__atomic_store_n(&t->qs_since, quiesce_epoch(), __ATOMIC_RELEASE);
}

void thread_yield(void)
{
	struct thread *t = thread_current();

	check_blocking(t);
	spin_lock(&t->lock);
	t->state = THREAD_RUNNABLE;
	sched_switch(t, true);
	spin_unlock(&t->lock);
}

void thread_preempt(void)
{
	struct thread *t = thread_current();

	spin_lock(&t->lock);
	t->state = THREAD_RUNNABLE;
	/* Not time-sliced against its hart's other threads (a pack being applied). */
	t->woken = t->urgent;
	sched_switch(t, false);
	spin_unlock(&t->lock);
}

void thread_sleep_us(uint64_t usec)
{
	thread_sleep_unless(NULL, usec);
}

void thread_sleep_unless(const volatile int *done, uint64_t usec)
{
	struct thread *t = thread_current();

	check_blocking(t);
	spin_lock(&t->lock);
	if (!done || !__atomic_load_n(done, __ATOMIC_ACQUIRE)) {
		t->wake_at = rdtime() + timer_us_to_ticks(usec);
		t->state = THREAD_SLEEPING;
		sched_switch(t, true);
	}
	spin_unlock(&t->lock);
}

/*
 * The sleeper lists hold a thread from its filing (under its lock, by the
 * loop) until thread_wake_sleepers() takes it off (wake_at set to 0 under
 * the list's lock) or this takes it: whoever unlinks it enqueues it.
 */
static bool wake(struct thread *t, bool here)
{
	bool woke = false;

	spin_lock(&t->lock);
	if (t->state == THREAD_SLEEPING) {
		struct hart *h = hart_by_index((unsigned int)t->hart);

		spin_lock(&h->sleep_lock);
		if (t->wake_at) {
			list_del(&t->wait_node);
			t->wake_at = 0;
			woke = true;
		}
		spin_unlock(&h->sleep_lock);
	}
	if (woke)
		enqueue_woken(t, here);
	spin_unlock(&t->lock);
	return woke;
}

bool thread_wake(struct thread *t)
{
	return wake(t, false);
}

bool thread_wake_here(struct thread *t)
{
	return wake(t, true);
}

void thread_exit(void)
{
	struct thread *t = thread_current();
	void (*hook)(void *) = t->on_exit;

	if (hook) {
		t->on_exit = NULL;
		hook(t->exit_arg);
	}
	spin_lock(&t->lock);
	t->state = THREAD_DEAD;
	sched_switch(t, true);
	panic("dead thread %u resumed", t->id);
}

void thread_kill_current(void)
{
	struct thread *t = thread_current();
	struct hart *h = this_hart();

	t->killed = true;
	/* What it held dies with it: locks, interrupt nesting, counted calls. */
	unwind_release_locks(0, NULL, 0);
	h->irq_depth = 0;
	h->irq_was_on = 0;
	h->fault_depth = 0;
	unwind_drop(NULL);
	h->irq_level = 0;	/* whatever it was inside of, it never returns there */
	thread_exit();
}

void thread_request_kill(struct thread *t)
{
	__atomic_store_n(&t->kill_req, true, __ATOMIC_RELEASE);
}

void thread_set_exit_hook(void (*fn)(void *arg), void *arg)
{
	struct thread *t = thread_current();

	t->exit_arg = arg;
	t->on_exit = fn;
}

static void sleeper_insert(struct hart *h, struct thread *t)
{
	struct list_head *pos;

	spin_lock(&h->sleep_lock);
	list_for_each(pos, &h->sleepers) {
		struct thread *o = list_entry(pos, struct thread, wait_node);

		if (o->wake_at > t->wake_at)
			break;
	}
	list_add_tail(&t->wait_node, pos);
	spin_unlock(&h->sleep_lock);
}

void thread_wake_sleepers(struct hart *h, uint64_t now)
{
	struct list_head expired = LIST_HEAD_INIT(expired);
	struct list_head *pos, *n;

	spin_lock(&h->sleep_lock);
	list_for_each_safe(pos, n, &h->sleepers) {
		struct thread *t = list_entry(pos, struct thread, wait_node);

		if (t->wake_at > now)
			break;
		list_del(&t->wait_node);
		t->wake_at = 0;		/* taken: thread_wake() leaves it alone */
		list_add_tail(&t->wait_node, &expired);
	}
	spin_unlock(&h->sleep_lock);
	list_for_each_safe(pos, n, &expired) {
		struct thread *t = list_entry(pos, struct thread, wait_node);

		list_del(&t->wait_node);
		spin_lock(&t->lock);
		enqueue_woken(t, false);
		spin_unlock(&t->lock);
	}
}

static void thread_free(struct thread *t)
{
	spin_lock(&all_lock);
	list_del(&t->all_node);
	spin_unlock(&all_lock);
	kstack_free(&t->stack);
	kfree(t->tls);
	kfree(t);
}

/*
 * Files the thread that just switched back to the loop. Runs with its lock
 * held; returns true if the thread is dead and must be freed after unlock.
 */
static bool file_thread(struct hart *h, struct thread *t)
{
	/* A frame that jumped over the guard page (a killed thread was reported). */
	if (*(uint64_t *)t->stack.lo != STACK_CANARY && !t->killed) {
		klog("trap", "stack overflow thread=%u name=%s: thread stopped", t->id, t->name);
		t->state = THREAD_DEAD;
	}
	switch (t->state) {
	case THREAD_RUNNABLE:
		enqueue(t);
		return false;
	case THREAD_SLEEPING:
		sleeper_insert(h, t);
		return false;
	case THREAD_BLOCKED:
		return false;	/* already on its wait queue */
	case THREAD_DEAD:
		return true;
	default:
		panic("thread %u back in the loop in state %d", t->id, t->state);
	}
}

void stack_switch_call(void (*fn)(void), uintptr_t top) __attribute__((noreturn));

/*
 * The boot stack a hart comes up on has nothing mapped off below it: an
 * overflow in the scheduler loop, or in an interrupt handler taken there,
 * would write over whatever lies next to it. The loop moves to a thread
 * stack slot instead, with its guard page, and the trap vector's floor
 * check (entry.S) then takes such an overflow on the emergency stack:
 * reported, and the hart parked (trap.c), the others going on.
 */
void sched_loop_start(void)
{
	struct hart *h = this_hart();
	struct kstack ks;

	if (kstack_alloc(&ks)) {
		klog("sched", "hart %u: no guarded stack for its loop; it stays on its boot stack",
		     h->hartid);
		sched_loop();
	}
	h->loop_lo = ks.lo;
	h->loop_hi = ks.hi;
	h->loop_floor = ks.lo + sizeof(uint64_t) + TRAP_FRAME_BYTES;
	stack_switch_call(sched_loop, ks.hi);
}

void sched_loop(void)
{
	struct hart *h = this_hart();

	h->stack_floor = h->loop_floor;
	for (;;) {
		struct thread *t = NULL;

		if (h->loop_overflow_req)
			trap_overflow_here();	/* the `loopstack` fault kind (tests) */

		/* Quiescent point: no call of this hart's is in progress here. */
		vm_sync_hart();
		__atomic_store_n(&h->gen, h->gen + 1, __ATOMIC_RELEASE);
		irq_enable();
		irq_disable();
		sched_pick(sched_ref, h->index, &t);
		if (!t) {
			/* WFI wakes on a pending interrupt even with SIE off: no lost kick. */
			wfi();
			continue;
		}
		vm_sync_hart();		/* it may have been queued after a module load */
		spin_lock(&t->lock);
		t->state = THREAD_RUNNING;
		t->hart = (int)h->index;
		t->switches++;
		h->cur = t;
		h->stack_floor = t->stack_floor;
		ctx_switch(&h->sched_ctx, &t->ctx);
		h->stack_floor = h->loop_floor;
		h->cur = NULL;
		if (file_thread(h, t)) {
			spin_unlock(&t->lock);
			thread_free(t);
		} else {
			spin_unlock(&t->lock);
		}
	}
}

void waitq_init(struct waitq *wq)
{
	spin_init(&wq->lock, "waitq");
	list_init(&wq->waiters);
}

void waitq_wait(struct waitq *wq, struct spinlock *lk)
{
	struct thread *t = thread_current();

	check_blocking(t);
	spin_lock(&wq->lock);
	spin_lock(&t->lock);
	list_add_tail(&t->wait_node, &wq->waiters);
	t->state = THREAD_BLOCKED;
	spin_unlock(&wq->lock);
	spin_unlock(lk);
	sched_switch(t, true);
	spin_unlock(&t->lock);
	spin_lock(lk);
}

static int wake_some(struct waitq *wq, bool all, bool here)
{
	int n = 0;

	for (;;) {
		struct thread *t;

		spin_lock(&wq->lock);
		if (list_empty(&wq->waiters)) {
			spin_unlock(&wq->lock);
			return n;
		}
		t = list_first_entry(&wq->waiters, struct thread, wait_node);
		list_del(&t->wait_node);
		spin_unlock(&wq->lock);
		spin_lock(&t->lock);
		enqueue_woken(t, here);
		spin_unlock(&t->lock);
		n++;
		if (!all)
			return n;
	}
}

int waitq_wake_one(struct waitq *wq)
{
	return wake_some(wq, false, false);
}

int waitq_wake_all(struct waitq *wq)
{
	return wake_some(wq, true, false);
}

int waitq_wake_all_here(struct waitq *wq)
{
	return wake_some(wq, true, true);
}

void mutex_init(struct mutex *m)
{
	spin_init(&m->lock, "mutex");
	m->held = false;
	m->owner = NULL;
	waitq_init(&m->wq);
}

void mutex_lock(struct mutex *m)
{
	spin_lock(&m->lock);
	while (m->held)
		waitq_wait(&m->wq, &m->lock);
	m->held = true;
	m->owner = thread_current();
	spin_unlock(&m->lock);
}

void mutex_unlock(struct mutex *m)
{
	spin_lock(&m->lock);
	m->held = false;
	m->owner = NULL;
	spin_unlock(&m->lock);
	waitq_wake_one(&m->wq);
}

void thread_for_each(void (*fn)(struct thread *t, void *arg), void *arg)
{
	struct list_head *pos;

	spin_lock(&all_lock);
	list_for_each(pos, &all_threads)
		fn(list_entry(pos, struct thread, all_node), arg);
	spin_unlock(&all_lock);
}
