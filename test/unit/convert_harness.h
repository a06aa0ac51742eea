/*
 * The harness the host tests of update/convert.c share (convert_harness.c):
 * a counter class in three versions whose methods record what they saw,
 * transfers that log their calls, one factory per test, the lazy stubs of
 * update/interpose.S in C, an emulated fault in probation code, and the
 * setup and teardown every test runs under (no leak, no lock held,
 * interrupts on, nothing left claimed or linked).
 *
 * Target-only pieces are stood in for:
 *  - test/unit/hostinc/kernel/hart.h: this_hart() returns host_cur_hart
 *    (thread-local), pointed at harts[0] or harts[1];
 *  - test/unit/hostinc/kernel/riscv.h: a fake clock and interrupt flag;
 *  - lazy_stub_ops (update/interpose.S): 32 C stubs that keep
 *    interpose.S's contract: a struct ip_frame on the stub's stack holding
 *    the arguments, fn = lazy_enter(a0, N, &frame), fn(frame.a0, a1..),
 *    lazy_exit(&frame, result). Each frame also has a jmp_buf standing in
 *    for ip_retry: an emulated fault longjmps back to just before
 *    lazy_enter, as update_fault() resumes a call at ip_retry;
 *  - thread_yield/thread_quiescent: counted; thread_yield advances the
 *    fake clock and may run a test's hook.
 * The OTT (src/ott.c) and factories (src/factory.c) are the real ones;
 * kmalloc, locks and the deferred free are host_stubs.c's doubles.
 */
#ifndef TEST_UNIT_CONVERT_HARNESS_H
#define TEST_UNIT_CONVERT_HARNESS_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <setjmp.h>
#include <cmocka.h>

#include <kernel/convert.h>
#include <kernel/object.h>
#include <kernel/ott.h>
#include <kernel/thread.h>
#include <kernel/unwind.h>

#define NSLOTS		64
#define BIG_N		10000

/* ---- the kernel around convert.c ---- */
extern unsigned long yields, quiescents;
extern void (*yield_hook)(unsigned long nth);
extern uint64_t yield_ticks;		/* fake time a yield lets pass */

ott_method_t lazy_enter(struct object *self, unsigned long m, struct ip_frame *f);
long lazy_exit(struct ip_frame *f, long result);

/* A lazy stub's frame on the host. */
struct host_ip {
	struct ip_frame f;
	jmp_buf retry;		/* ip_retry: back to just before lazy_enter */
};
extern unsigned long stub_calls, stub_retries;

/* ---- harts ---- */
extern struct thread fake_thread;
void use_hart(unsigned int h);
/* The running context's chain of unwind nodes, and its length. */
struct unwind_node **chain(void);
unsigned int chain_len(void);

/* ---- the class: a counter in three versions ---- */
struct ctr_ops {
	long (*get)(struct object *self);
	long (*add)(struct object *self, long d);
	long (*reenter)(struct object *self, long depth);
	long (*hook)(struct object *self, long arg);
	long (*ver)(struct object *self);	/* from v2 on */
};
enum { M_GET, M_ADD, M_REENTER, M_HOOK, M_VER };

struct ctr {
	struct object obj;
	long value;
	ott_ref_t ref;		/* its own reference, for calls back into itself */
	long extra[4];		/* v2 uses 2, v3 all 4: states differ in size */
};

static inline struct ctr *st(struct object *o)
{
	return (struct ctr *)o;
}

/* What the last method saw. */
extern int last_version;
extern struct object *last_self;
extern uint32_t last_inflight;
extern struct unwind_node *last_top;	/* compare only: dead after the call */
extern struct ip_frame last_frame;	/* copy of *last_top while it was live */
extern bool last_irq_on;
extern unsigned long ran[4];

/* reenter(): per depth, the count seen on the way in and the top frame. */
#define MAX_DEPTH 8
extern uint32_t inflight_at[MAX_DEPTH];
extern struct unwind_node *top_at[MAX_DEPTH], *top_prev_at[MAX_DEPTH];
extern unsigned int chain_len_at[MAX_DEPTH];

/* hook(): what the test wants done inside a method. */
extern long (*hook_fn)(struct object *self, int version, long arg);

/* Calls through the OTT. */
long r_get(ott_ref_t r);
long r_add(ott_ref_t r, long d);
long r_reenter(ott_ref_t r, long depth);
long r_hook(ott_ref_t r, long arg);
long r_ver(ott_ref_t r);
/* A call through an object pointer a caller loaded earlier (no OTT). */
long o_get(struct object *o);
long o_add(struct object *o, long d);

/* Some of the versions' methods, for tests of the dispatch tables. */
long get_v1(struct object *self);
long add_v1(struct object *self, long d);
long reenter_v1(struct object *self, long depth);
long hook_v1(struct object *self, long arg);
long ver_v2(struct object *self);

extern unsigned int init_calls;
extern bool init_saw_nonzero;

/* Transfers: each records its call. */
struct xfer {
	const struct object *old;
	struct object *new;
	uint32_t from, to;
	bool irq_on;
	struct object *converting;
	uint32_t old_inflight;
};
#define MAX_XFER 16
extern struct xfer xfers[MAX_XFER], backs[MAX_XFER];
extern unsigned long nxfers, nbacks;
extern int (*xfer_hook)(const struct object *old, struct object *new);
extern int (*back_hook)(const struct object *obj, struct object *prev);

/* ---- fixtures: one factory per test (the registry has no unregister) ---- */
struct fx {
	char name[24];
	struct class cls[4];		/* [1..3] */
	struct factory f;
	struct class_version v2, v3;
};

struct fx *fx_new(void);
/* Loads version @v (as engine.c's link_versions does, before the switch). */
struct class_version *fx_load(struct fx *x, int v, bool back);
/* Forward phase: old versions count their calls. */
void fx_forward(struct fx *x);
/* The switch: @after current (or in probation), old versions convert. */
void fx_switch(struct fx *x, struct class_version *after, bool probation);
/* Loads @v and switches to it (forward phase included). */
struct class_version *fx_update(struct fx *x, int v, bool probation, bool back);
/* probation.c's start_rollback. */
void fx_rollback(struct fx *x, struct class_version *before, struct class_version *after);

/* A new instance holding @value, and its reference. */
ott_ref_t mk(struct fx *x, long value);
struct object *obj(ott_ref_t r);
unsigned int list_pos(struct fx *x, const struct object *o);
unsigned int list_len(struct fx *x);
/* Is @o queued for the deferred free? */
bool deferred(const struct object *o);

/* ---- an emulated fault in probation code (update_fault()) ---- */
extern struct fx *fault_fx;
extern struct class_version *fault_cv;
extern bool fault_rollback;
extern int faults_left;
extern unsigned long faults;
extern uint32_t counts_after_abandon[2];
extern struct object *count_objs[2];
extern struct unwind_node *top_after_abandon;
void emulate_fault(void);
/* A hook_fn: faults in version 2 while faults_left lasts, else 1000 * v + value. */
long hook_fault_v2(struct object *self, int v, long arg);

/* ---- a second hart (pthread) ---- */
/* Waits up to 20 s for *@flag == @want. */
bool wait_for(volatile int *flag, int want);
/* Waits until the other thread reads the clock (it is in follow()'s wait). */
bool wait_rdtime_after(unsigned long n);
extern volatile int helper_timed_out;
/* Holds a count on an instance (arg) until the caller waits, then drops it. */
extern volatile int release_go;
void *count_holder(void *arg);

/* ---- running ---- */
int setup(void **state);
int teardown(void **state);
/* Runs @tests (each under setup/teardown) with a watchdog against livelocks. */
int convert_run(const char *name, const struct CMUnitTest *tests, size_t n);

#endif
