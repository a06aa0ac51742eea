/*
 * Kernel threads. Each has its own stack and TLS block (picolibc's errno
 * is thread-local). Scheduling decisions are the `sched` object's
 * (sched.h); this module does the mechanics: create, switch, sleep, wake,
 * block on a wait queue, exit.
 *
 * Locking follows xv6: a thread's lock is held across a context switch
 * away from it and released by whoever runs next, so a wakeup can never
 * enqueue a thread that is still running on another hart.
 */
#ifndef KERNEL_THREAD_H
#define KERNEL_THREAD_H

#include <stdint.h>
#include <stdbool.h>
#include <kernel/hart.h>
#include <kernel/kstack.h>
#include <kernel/list.h>
#include <kernel/spinlock.h>

enum thread_state {
	THREAD_NEW,
	THREAD_RUNNABLE,
	THREAD_RUNNING,
	THREAD_SLEEPING,	/* until wake_at */
	THREAD_BLOCKED,		/* on a wait queue */
	THREAD_DEAD,
};

#define THREAD_NAME_MAX	16
#define THREAD_ANY_HART	(-1)

struct thread {
	struct context ctx;
	struct spinlock lock;
	enum thread_state state;
	uint32_t id;
	char name[THREAD_NAME_MAX];
	int affinity;		/* hart index it must run on, or THREAD_ANY_HART */
	int hart;		/* hart index it last ran on / is queued on */
	struct kstack stack;	/* guarded (kstack.c) */
	uint64_t stack_floor;	/* lowest sp a trap frame fits above (hart.h) */
	void *tls;
	struct list_head rq_node;	/* owned by the scheduler object */
	struct list_head all_node;
	struct list_head wait_node;	/* sleep list or wait queue */
	uint64_t wake_at;		/* rdtime when sleeping */
	uint64_t switches;
	bool killed;			/* died from a fault */
	bool detached;			/* free its memory on exit */
	bool woken;			/* made runnable by a wakeup (not a yield or preemption) */
	bool urgent;			/* a preemption puts it first in line (thread_preempt) */
	/*
	 * Quiescence (K42's thread generations): the qs_epoch at which this
	 * thread's current activity began, or QS_IDLE while it is switched out
	 * voluntarily. Object methods never block, so a voluntary switch is
	 * always outside every call; a preempted thread keeps its value.
	 */
	volatile uint64_t qs_since;
	void *ip_top;		/* innermost unwind node (unwind.h): calls, recovery points */
	/* Stop at the next preemption point (a self-test that overran its time). */
	volatile bool kill_req;
	/* Run by the thread itself when it exits or is stopped (before it is freed). */
	void (*on_exit)(void *arg);
	void *exit_arg;
};

#define QS_IDLE UINT64_MAX

struct waitq {
	struct spinlock lock;
	struct list_head waiters;
};

#define WAITQ_INIT(name) { SPINLOCK_INIT("waitq"), LIST_HEAD_INIT((name).waiters) }

typedef void (*thread_fn)(void *arg);

/* Creates a runnable thread. @affinity: hart index or THREAD_ANY_HART. */
struct thread *thread_create(const char *name, thread_fn fn, void *arg, int affinity);
/* The same, first in line on its hart, like a thread woken by an event. */
struct thread *thread_create_next(const char *name, thread_fn fn, void *arg, int affinity);

struct thread *thread_current(void);
void thread_yield(void);
void thread_sleep_us(uint64_t usec);
/*
 * Sleeps up to @usec unless *@done is set, checked under the thread's own
 * lock: a thread_wake() after *@done was set can never be lost.
 */
void thread_sleep_unless(const volatile int *done, uint64_t usec);
/* Ends @t's sleep early (it runs next on its hart); false if it did not sleep. */
bool thread_wake(struct thread *t);
/*
 * Same, but an unpinned sleeper moves to this hart, first in line: it runs
 * as soon as the caller gives the hart up, with no other hart involved.
 */
bool thread_wake_here(struct thread *t);
void thread_exit(void) __attribute__((noreturn));

void waitq_init(struct waitq *wq);
/* Blocks on @wq; @lk (held by the caller) is dropped while blocked and re-taken. */
void waitq_wait(struct waitq *wq, struct spinlock *lk);
int waitq_wake_one(struct waitq *wq);
int waitq_wake_all(struct waitq *wq);
/*
 * Like waitq_wake_all(), but an unpinned waiter is moved to this hart,
 * first in line: a hand-over to a thread that will run as soon as the
 * waker blocks, with no IPI and no wait for another hart to be scheduled.
 */
int waitq_wake_all_here(struct waitq *wq);

/* A sleeping lock for longer critical sections. */
struct mutex {
	struct spinlock lock;
	bool held;
	struct thread *owner;
	struct waitq wq;
};
void mutex_init(struct mutex *m);
void mutex_lock(struct mutex *m);
void mutex_unlock(struct mutex *m);

/* Called from the timer interrupt: wakes this hart's expired sleepers. */
void thread_wake_sleepers(struct hart *h, uint64_t now);

/*
 * Stops the current thread after a fault report: releases the spinlocks
 * this hart took for it, drops its interposed calls (their counts) and
 * exits. Never returns.
 */
void thread_kill_current(void) __attribute__((noreturn));

/* Asks @t to stop at its next preemption point (it must not be the caller). */
void thread_request_kill(struct thread *t);

/* Sets the exit hook of the current thread. */
void thread_set_exit_hook(void (*fn)(void *arg), void *arg);

/* Runs the scheduler loop on this hart; never returns. */
void sched_loop(void) __attribute__((noreturn));
/*
 * The same on a stack of its own with a guard page below (kstack.h),
 * where it can be had: each hart's boot path ends here.
 */
void sched_loop_start(void) __attribute__((noreturn));

/*
 * Waits (yielding) until every call into any object that began before the
 * wait has returned: every online hart passed a quiescent point (its
 * scheduler loop or an IPI, i.e. no interrupt handler of before is still
 * running) and every other thread has been quiescent since. 0, or
 * -KE_TIMEDOUT after @timeout_us.
 */
int quiesce_wait(uint64_t timeout_us);
/*
 * The same state, reached at once: every hart is sent an IPI, threads
 * preempted mid-call get their hart back at the next quiescent point of
 * the thread running there, and the caller spins instead of yielding
 * (quiesce.c). For a waiter that a peer waits on: the update engine.
 */
int quiesce_barrier(uint64_t timeout_us);
/* A hart's IPI was handled (trap.c, after its generation bump): answers a barrier. */
void quiesce_answer(void);
/* A thread switched out voluntarily; @was: its quiescent epoch before (thread.c). */
void quiesce_note_idle(uint64_t was);

/*
 * Only the harts: every other online hart passed a quiescent point (an
 * IPI or its scheduler loop), so no trap or interrupt handler of before is
 * still running there. Spins (no yield): usable outside threads. 0, or
 * -KE_TIMEDOUT.
 */
int quiesce_harts(uint64_t timeout_us);

/* Marks a quiescent point of a long-running thread (between operations). */
void thread_quiescent(void);

/* Preempts the current thread from the timer interrupt (not a quiescent point). */
void thread_preempt(void);

/* The current epoch of thread quiescence (for tests and reports). */
uint64_t quiesce_epoch(void);

/* Visits every thread. */
void thread_for_each(void (*fn)(struct thread *t, void *arg), void *arg);

/* Asm helpers. */
void ctx_switch(struct context *save, const struct context *load);
void thread_trampoline(void);

#endif
