/*
 * Unwinding a context back to a known point: how a fault, a loop or a
 * block in code that may be abandoned (new code under probation, a state
 * transfer, a self-test, an interrupt handler) is contained.
 *
 * Each context (a thread, or a hart outside any thread) keeps a chain of
 * unwind nodes, innermost first, on its own stack:
 *   UNW_CALL     an interposed call (update/interpose.S, struct ip_frame):
 *                it can be retried from its frame;
 *   UNW_RECOVER  a recovery point (a setjmp, struct recover_point): the
 *                code under it can be abandoned, recover_save() then
 *                returns a second time, with 1.
 * A node records what must be undone to go back to it: the spinlocks this
 * hart took since (the depth of the hart's held-lock stack, spinlock.c),
 * the interrupt-off nesting and whether interrupts were on, and the
 * interrupt level it was made at (an interrupt handler's nodes sit on top
 * of the interrupted thread's, and only they may be unwound by a fault in
 * that handler).
 *
 * Locking: a chain belongs to its context; a thread's chain moves with the
 * thread. The held-lock stack is the hart's, and a thread only migrates
 * with none held (a preemption needs interrupts on, so no spinlock held).
 */
#ifndef KERNEL_UNWIND_H
#define KERNEL_UNWIND_H

#include <stdint.h>
#include <stdbool.h>

#define UNW_CALL	0
#define UNW_RECOVER	1

/* Recovery point kinds (what a fault under them means). */
#define RECOVER_TRANSFER	1	/* a state transfer (update/convert.c) */
#define RECOVER_SELFTEST	2	/* a module's self-test (update/engine.c) */
#define RECOVER_IRQ		3	/* an interrupt handler (trap.c) */
#define RECOVER_REPORT		4	/* a fault report's backtrace walk (trap.c) */
#define RECOVER_STORAGE		5	/* a storage call of the journal (update/persist.c) */
#define RECOVER_INIT		6	/* a loaded version's init() (src/factory.c) */
#define RECOVER_FINI		7	/* a loaded version's fini() (src/factory.c) */

/* In a call node's cookie: the call runs code under probation. */
#define UNW_PROBATION	1UL

struct trap_frame;
struct thread;

struct unwind_node {
	struct unwind_node *prev;	/* next outer node of this context */
	uint64_t cookie;		/* calls: object | UNW_PROBATION (0: not linked) */
	uint8_t kind;			/* UNW_CALL, UNW_RECOVER */
	uint8_t why;			/* recovery points: RECOVER_* */
	uint8_t level;			/* hart's interrupt level when made */
	uint8_t sie;			/* interrupts were on */
	uint32_t nheld;			/* held-lock stack depth when made */
	int32_t irq_depth, irq_was_on;	/* irq_push_off() nesting when made */
	uint64_t t0;			/* calls: rdtime at entry */
	uint32_t ticks;			/* probation calls: timer ticks seen inside */
	uint32_t faults;		/* calls: faults retried (the stub zeroes it) */
	uint32_t epoch;			/* probation calls: counter they went into */
	uint32_t pad;
	const void *what;		/* recovery points: the version or module at stake */
};

#ifdef HOST_TEST
/* Host unit tests: a recovery point is a setjmp (the target's is src/unwind_asm.S). */
#include <setjmp.h>
struct recover_point {
	struct unwind_node node;
	jmp_buf regs;
};
#define recover_save(regs) setjmp(regs)
#else
struct recover_point {
	struct unwind_node node;
	uint64_t regs[14];		/* ra, sp, s0..s11 (recover_save) */
};
int recover_save(uint64_t *regs) __attribute__((returns_twice));
#endif

/* The chain of the running context (this hart's thread, else the hart). */
struct unwind_node **unwind_chain(void);

/* Records the state to come back to in @n (kind and cookie untouched). */
void unwind_mark(struct unwind_node *n);

/*
 * Opens a recovery point. Use as:
 *     recover_push(&rp, RECOVER_x, what);
 *     if (!recover_save(rp.regs)) { ...work...; recover_pop(&rp); }
 *     else { ...abandoned: rp already popped, locks and interrupts back... }
 */
void recover_push(struct recover_point *rp, int why, const void *what);
void recover_pop(struct recover_point *rp);

/*
 * Goes back to @n (a node of this context) from the trap @tf: releases
 * the spinlocks taken since, restores the interrupt nesting and the
 * interrupt-enable state sret will set, drops every node above @n (their
 * counts, convert.c) and, for a recovery point, also pops it and points
 * @tf at its second return (a call node: the caller resumes it at
 * ip_retry). Returns how many spinlocks it released.
 */
unsigned int unwind_to(struct unwind_node *n, struct trap_frame *tf);

/* The same from thread context, no trap: never returns (a blocking call). */
void unwind_jump(struct unwind_node *n) __attribute__((noreturn));

/*
 * Releases every spinlock this hart took above depth @down_to (marked
 * free; what they guarded may be half-updated) and returns how many; the
 * names of the first few go to @names if given.
 */
unsigned int unwind_release_locks(uint32_t down_to, char *names, unsigned long len);

/* Drops every node of the chain above @stop (exclusive; NULL: all). */
void unwind_drop(struct unwind_node *stop);

/* Innermost node of this context at the current interrupt level, or NULL. */
struct unwind_node *unwind_top_here(void);

/* For convert.c: undoes a linked call node's count (called by unwind_drop). */
void convert_call_dropped(struct unwind_node *n);

/* ip_resume (update/interpose.S) retries the call of @n. */
void ip_resume(struct unwind_node *n) __attribute__((noreturn));
#ifndef HOST_TEST
void recover_jump(const uint64_t *regs) __attribute__((noreturn));	/* src/unwind_asm.S */
#endif

#endif
