// unit-srcs: update/probation.c update/convert.c update/convert_walk.c src/unwind.c src/factory.c src/ott.c test/unit/host_stubs.c test/unit/hostinc/host_target.c
// unit-cflags: -Itest/unit/hostinc
/*
 * Host tests of the probation monitor and the hooks that start a rollback
 * (update/probation.c): update_fault() for a probation call, a transfer
 * and code outside any call; update_tick() (loop bound) and
 * update_block_check() (a method that blocks); probation_decide() and
 * probation_settle() (commit or rollback, and the race between them).
 *
 * The record of a pack is set up as engine.c leaves it after the switch:
 * one class ("ptest") with version 1 built in and version 2 loaded from a
 * fake module, v2 in PROBATION and current, v1 in CONVERT. The contexts a
 * fault happens in are built by hand: an interposed call is a struct
 * ip_frame whose node is linked into this hart's chain, as lazy_enter()
 * links it. The rest of the kernel is stood in for below (log lines are
 * kept for the assertions, sleeping advances the fake clock).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <kernel/update_engine.h>
#include <kernel/convert.h>
#include <kernel/object.h>
#include <kernel/module.h>
#include <kernel/thread.h>
#include <kernel/hart.h>
#include <kernel/trap.h>
#include <kernel/riscv.h>
#include <kernel/unwind.h>
#include <kernel/errno.h>
#include <kernel/mem.h>
#include "host_stubs.h"

/* Not static in convert.c, declared there only. */
long lazy_exit(struct ip_frame *f, long result);

/* ---- the kernel around probation.c -------------------------------------------- */

struct update_record update_rec;
volatile int update_busy;
enum update_result update_last_result;
uint64_t timer_freq_hz = 10000000;
char ip_retry[4];
static char detail[256];

void update_set_detail(const char *why)
{
	snprintf(detail, sizeof(detail), "%s", why);
}

#define MAX_LINES 64
static char lines[MAX_LINES][256];
static unsigned int nlines;

static void keep(const char *subsys, const char *fmt, va_list ap)
{
	char msg[224];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (nlines < MAX_LINES)
		snprintf(lines[nlines++], sizeof(lines[0]), "%s: %s", subsys, msg);
}

void klog(const char *subsys, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	keep(subsys, fmt, ap);
	va_end(ap);
}

void klog_fault(const char *more, const char *subsys, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	keep(subsys, fmt, ap);
	va_end(ap);
}

static int count_lines(const char *prefix)
{
	int n = 0;

	for (unsigned int i = 0; i < nlines; i++)
		n += !strncmp(lines[i], prefix, strlen(prefix));
	return n;
}

static const char *find_line(const char *prefix)
{
	for (unsigned int i = 0; i < nlines; i++)
		if (!strncmp(lines[i], prefix, strlen(prefix)))
			return lines[i];
	return NULL;
}

void log_flush_reports(void)
{
}

/* Sleeping and yielding move the fake clock on and may run a test's hook. */
static void (*sleep_hook)(void);
static unsigned long sleeps;

void thread_sleep_us(uint64_t usec)
{
	sleeps++;
	__atomic_add_fetch(&host_clock, usec * 10, __ATOMIC_SEQ_CST);
	if (sleep_hook)
		sleep_hook();
}

void thread_yield(void)
{
	thread_sleep_us(100);
}

void thread_quiescent(void)
{
}

int quiesce_wait(uint64_t timeout_us)
{
	return 0;
}

struct thread *thread_create(const char *name, thread_fn fn, void *arg, int affinity)
{
	return NULL;
}

void waitq_wait(struct waitq *wq, struct spinlock *lk)
{
	fail_msg("the monitor thread is not run here");
}

int waitq_wake_all(struct waitq *wq)
{
	return 0;
}

static int outcomes, outcome_committed;
static int commit_phase = -1;			/* rec->phase when the commit was journaled */
static void (*outcome_hook)(bool committed);	/* the journal write's own calls */

void persist_outcome(uint32_t seq, bool committed, const char *reason)
{
	outcomes++;
	outcome_committed = committed;
	if (committed)
		commit_phase = update_rec.phase;
	if (outcome_hook)
		outcome_hook(committed);
}

static struct module fake_mod = { .name = "step-1" };
static char fake_text[256];
static int modules_freed;

struct module *module_at(uintptr_t pc)
{
	return pc >= (uintptr_t)fake_text && pc < (uintptr_t)fake_text + sizeof(fake_text)
	       ? &fake_mod : NULL;
}

void module_free_deferred(struct module *m)
{
	modules_freed++;
}

/* The dispatch stubs (never called: calls are made by hand here). */
static long never(struct object *self, ...)
{
	fail_msg("a stub was called");
	return 0;
}
#define N8 (ott_method_t)never, (ott_method_t)never, (ott_method_t)never, (ott_method_t)never, \
	   (ott_method_t)never, (ott_method_t)never, (ott_method_t)never, (ott_method_t)never
const ott_method_t lazy_stub_ops[OTT_MAX_METHODS] = { N8, N8, N8, N8 };

static jmp_buf resumed;

void ip_resume(struct unwind_node *n)
{
	longjmp(resumed, 1);
}

/* ---- a pack in probation --------------------------------------------------------- */

struct pst {
	struct object obj;
	long value;
};

static long get_v1(struct object *self)
{
	return ((struct pst *)self)->value;
}

static const ott_method_t ops_v1[] = { (ott_method_t)get_v1 };
static const ott_method_t ops_v2[] = { (ott_method_t)get_v1 };

static int copy(const struct object *from, struct object *to)
{
	((struct pst *)to)->value = ((const struct pst *)from)->value;
	return 0;
}

static struct class cls_v1 = { .name = "ptest", .impl = "host", .version = 1, .iface_version = 1,
			       .ops = ops_v1, .nmethods = 1, .state_size = sizeof(struct pst) };
static struct class cls_v2 = { .name = "ptest", .impl = "host", .version = 2, .iface_version = 1,
			       .ops = ops_v2, .nmethods = 1, .state_size = sizeof(struct pst) };
static struct factory fac;
static bool fac_ready;
static struct class_version *v2;
static ott_ref_t inst;

static void pack_in_probation(void)
{
	struct update_record *rec = &update_rec;

	memset(rec, 0, sizeof(*rec));
	v2 = kzalloc(sizeof(*v2));
	class_version_init(v2, &fac, &cls_v2);
	v2->transfer = copy;
	v2->transfer_back = copy;
	v2->module = &fake_mod;
	fake_mod.text = fake_text;
	fake_mod.text_size = sizeof(fake_text);
	fake_mod.users = 1;
	spin_lock(&fac.lock);
	list_add_tail(&v2->node, &fac.versions);
	spin_unlock(&fac.lock);
	cv_set_state(&fac.first, CV_FORWARD);
	/* engine.c's commit(): PROBATION from the switch on */
	rec->phase = REC_PROBATION;
	rec->nsteps = 1;
	rec->steps[0].f = &fac;
	rec->steps[0].cv = v2;
	rec->steps[0].mod = &fake_mod;
	rec->nclasses = 1;
	rec->classes[0] = (struct class_work){ .f = &fac, .before = &fac.first, .after = v2,
					       .from = 1, .to = 2, .instances = 1, .lazy = true,
					       .probation = true };
	rec->probation_us = 1000;
	cv_set_state(v2, CV_PROBATION);
	fac.cur = v2;
	cv_set_state(&fac.first, CV_CONVERT);
	update_busy = 1;
}

/* Converts the instance forward, as its first call would. */
static struct object *convert_it(void)
{
	struct object *o = ott_lookup(&kernel_ott, inst), *n = NULL;

	assert_int_equal(convert_instance(o, &n), 0);
	return n;
}

/* A probation call into @o in progress on this hart: the frame lazy_enter() would link. */
static struct ip_frame call;

static void call_in_progress(struct object *o)
{
	memset(&call, 0, sizeof(call));
	call.a[0] = (uintptr_t)o;
	call.node.kind = UNW_CALL;
	call.node.cookie = (uintptr_t)o | UNW_PROBATION;
	unwind_mark(&call.node);
	call.node.t0 = host_clock;
	o->inflight++;
	v2->probation_calls[v2->epoch & 1]++;
	call.node.epoch = v2->epoch & 1;
	call.node.prev = harts[0].ip_top;
	harts[0].ip_top = &call.node;
}

static struct update_fault_note note;

/* A load page fault at @pc (in the module: fake_text + off). */
static struct trap_frame fault_at(uintptr_t pc)
{
	struct trap_frame tf;

	memset(&tf, 0, sizeof(tf));
	tf.regs[0] = pc;
	tf.regs[2] = 0x1000;
	tf.scause = 13;
	tf.sstatus = 0;
	return tf;
}

static int setup(void **state)
{
	host_ott_setup(&kernel_ott, 64, 2);
	memset(harts, 0, sizeof(harts));
	for (unsigned int h = 0; h < MAX_HARTS; h++)
		harts[h].index = harts[h].hartid = h;
	host_cur_hart = &harts[0];
	host_irq_on = true;
	host_clock = 1000000;
	if (!fac_ready) {
		assert_int_equal(factory_init(&fac, &cls_v1), 0);
		fac_ready = true;
	}
	fac.cur = &fac.first;
	cv_set_state(&fac.first, CV_CURRENT);
	{
		long v = 41;
		assert_int_equal(factory_create(&fac, &v, &inst), 0);
		((struct pst *)ott_lookup(&kernel_ott, inst))->value = 41;
	}
	nlines = 0;
	sleeps = 0;
	sleep_hook = NULL;
	outcomes = 0;
	commit_phase = -1;
	outcome_hook = NULL;
	modules_freed = 0;
	detail[0] = '\0';
	update_last_result = UPDATE_OK;
	pack_in_probation();
	return 0;
}

static int teardown(void **state)
{
	struct list_head *pos, *n;

	assert_null(harts[0].ip_top);
	assert_int_equal(host_locks_held, 0);
	list_for_each_safe(pos, n, &fac.instances) {
		struct object *o = list_entry(pos, struct object, node);

		o->inflight = 0;
		assert_int_equal(factory_destroy(&fac, ott_slot_ref(&kernel_ott, o->slot)), 0);
	}
	convert_drop_prev(&fac);
	host_defer_flush();
	list_for_each_safe(pos, n, &fac.versions) {
		struct class_version *cv = list_entry(pos, struct class_version, node);

		if (cv != &fac.first) {
			list_del(&cv->node);
			kfree(cv);
		}
	}
	host_defer_flush();
	host_ott_teardown(&kernel_ott);
	return 0;
}

/* ---- tests ------------------------------------------------------------------------- */

/*
 * No fault: probation commits, v2 current, the outcome journaled as
 * committed, while still under probation (so the journal's write is a
 * probation call of a storage update).
 */
static void test_quiet_probation_commits(void **state)
{
	update_rec.journaled = true;
	convert_it();
	assert_true(probation_decide(&update_rec));
	assert_int_equal(commit_phase, REC_PROBATION);
	assert_int_equal(update_rec.phase, REC_COMMITTING);
	probation_settle(&update_rec, true);
	assert_int_equal(v2->state, CV_CURRENT);
	assert_ptr_equal(fac.cur, v2);
	assert_int_equal(outcomes, 1);
	assert_true(outcome_committed);
	assert_int_equal(count_lines("update: committed class=ptest version=2"), 1);
	assert_int_equal(update_last_result, UPDATE_OK);
}

/*
 * A fault in a probation call: the pack rolls back, the call is redirected
 * to its frame's retry point, and the monitor then finishes the rollback
 * (instance back on v1 with its state, outcome journaled, reason kept).
 */
static void test_fault_in_call_rolls_back(void **state)
{
	struct object *n = convert_it();
	struct trap_frame tf = fault_at((uintptr_t)fake_text + 0x10);

	update_rec.journaled = true;
	call_in_progress(n);
	assert_true(update_fault(&tf, &note));
	assert_int_equal(update_rec.phase, REC_ROLLBACK);
	assert_int_equal(tf.regs[0], (uintptr_t)ip_retry);
	assert_int_equal(tf.regs[2], (uintptr_t)&call);
	assert_int_equal(call.node.faults, 1);
	assert_null(harts[0].ip_top);		/* unwound: counted again when retried */
	assert_int_equal(n->inflight, 0);
	assert_int_equal(v2->state, CV_REVERT);
	assert_ptr_equal(fac.cur, &fac.first);
	assert_string_equal(note.msg, "fault in new code class=ptest: rolling back, the call is "
			    "retried");
	assert_false(note.quiet);
	assert_false(probation_decide(&update_rec));
	probation_settle(&update_rec, false);
	assert_int_equal(update_last_result, UPDATE_ERR_ROLLED_BACK);
	assert_string_equal(detail, "fault cause=13 in step-1 at +0x10");
	assert_non_null(find_line("update: rolled-back class=ptest from=1 to=2 version=1"));
	assert_int_equal(outcomes, 1);
	assert_false(outcome_committed);
	assert_int_equal(((struct pst *)ott_lookup(&kernel_ott, inst))->value, 41);
	assert_int_equal(ott_lookup(&kernel_ott, inst)->version, 1);
	assert_int_equal(fac.first.state, CV_CURRENT);
	assert_int_equal(modules_freed, 1);	/* the rolled-back version's code */
}

/*
 * update/probation.c monitor_main(): probation ended with "phase still
 * PROBATION?" and then committed. A fault between the two was taken for a
 * probation fault (update_fault saw PROBATION): it started a rollback (v2
 * to REVERT, factory back to v1) which the commit then overwrote: mixed
 * versions, old states freed, the pack reported "ok". Now the end of
 * probation is one atomic step (PROBATION -> COMMITTING): a fault after it
 * is an ordinary one, and one before it makes the monitor roll back.
 */
static void test_bug_commit_races_fault(void **state)
{
	struct object *n = convert_it();
	struct trap_frame tf = fault_at((uintptr_t)fake_text + 0x10);

	assert_true(probation_decide(&update_rec));
	call_in_progress(n);	/* a call that began after the drain */
	assert_false(update_fault(&tf, &note));	/* not under probation any more */
	assert_int_equal(update_rec.phase, REC_COMMITTING);
	assert_int_equal(v2->state, CV_PROBATION);
	assert_ptr_equal(fac.cur, v2);
	assert_string_equal(note.msg, "");
	lazy_exit(&call, 0);
	probation_settle(&update_rec, true);
	assert_int_equal(v2->state, CV_CURRENT);
	assert_int_equal(update_last_result, UPDATE_OK);
}

/* A fault while the monitor drains the calls of probation: rolled back, never committed. */
static struct object *drain_obj;

static void fault_while_draining(void)
{
	struct trap_frame tf = fault_at((uintptr_t)fake_text + 0x20);

	if (update_rec.phase != REC_PROBATION || !harts[0].ip_top)
		return;
	assert_true(update_fault(&tf, &note));
}

static void test_fault_during_drain_rolls_back(void **state)
{
	drain_obj = convert_it();
	call_in_progress(drain_obj);		/* in flight when probation time is up */
	sleep_hook = fault_while_draining;
	assert_false(probation_decide(&update_rec));
	assert_int_equal(update_rec.phase, REC_ROLLBACK);
	probation_settle(&update_rec, false);
	assert_int_equal(count_lines("update: committed"), 0);
	assert_int_equal(update_last_result, UPDATE_ERR_ROLLED_BACK);
	assert_int_equal(ott_lookup(&kernel_ott, inst)->version, 1);
}

/*
 * A call still running when probation time is up keeps probation open
 * (the drain): a fault then rolls back. One that never ends is given
 * DRAIN_TIMEOUT_US, then the pack commits anyway.
 */
static void test_drain_waits_for_calls(void **state)
{
	struct object *n = convert_it();

	call_in_progress(n);
	assert_true(probation_decide(&update_rec));	/* the call never ends: gives up */
	assert_non_null(find_line("update: probation calls still running class=ptest calls=1"));
	assert_true(sleeps >= 5000);			/* 10 s of 2 ms sleeps */
	lazy_exit(&call, 0);
	probation_settle(&update_rec, true);
}

/*
 * Loop bound: a probation call found running at UPDATE_LOOP_TICKS timer
 * interrupts is unwound and the pack rolled back; fewer leave it alone.
 */
static void test_loop_detected_at_bound(void **state)
{
	struct object *n = convert_it();
	struct trap_frame tf = fault_at(0x80001234);

	call_in_progress(n);
	for (int i = 1; i < UPDATE_LOOP_TICKS; i++) {
		update_tick(&tf);
		assert_int_equal(tf.regs[0], 0x80001234);
	}
	assert_int_equal(update_rec.phase, REC_PROBATION);
	host_clock += 2500000;		/* 250 ms later */
	update_tick(&tf);
	assert_int_equal(update_rec.phase, REC_ROLLBACK);
	assert_int_equal(tf.regs[0], (uintptr_t)ip_retry);
	assert_int_equal(tf.regs[2], (uintptr_t)&call);
	assert_null(harts[0].ip_top);
	assert_non_null(find_line("update: loop in new code class=ptest ticks=20 ms=250;"));
	probation_settle(&update_rec, false);
	assert_non_null(strstr(detail, "loop in step-1"));
}

/* A method that blocks (sleep, yield, wait) under probation: rolled back, the call retried. */
static struct spinlock method_lock = SPINLOCK_INIT("method");

static void test_block_in_call_rolls_back(void **state)
{
	struct object *n = convert_it();

	call_in_progress(n);
	/* It took a lock inside the call, then blocks (waitq_wait would drop and retake it). */
	spin_lock(&method_lock);
	harts[0].held[harts[0].nheld++] = &method_lock;
	if (!setjmp(resumed)) {
		update_block_check();
		fail_msg("update_block_check returned");
	}
	assert_int_equal(update_rec.phase, REC_ROLLBACK);
	assert_int_equal(method_lock.locked, 0);
	assert_int_equal(harts[0].nheld, 0);
	assert_null(harts[0].ip_top);
	assert_int_equal(call.node.faults, 1);
	assert_int_equal(count_lines("update: blocking call in new code class=ptest"), 1);
	probation_settle(&update_rec, false);
	assert_non_null(strstr(detail, "blocked inside a call"));
}

/* Outside any probation call, blocking is nobody's business here. */
static void test_block_outside_call_ignored(void **state)
{
	update_block_check();
	assert_int_equal(update_rec.phase, REC_PROBATION);
	convert_it();
	assert_true(probation_decide(&update_rec));
	probation_settle(&update_rec, true);
}

/* A transfer of the pack that faults: its recovery point resumes, the pack rolls back. */
static void test_transfer_fault_rolls_back(void **state)
{
	struct recover_point rp;
	struct trap_frame tf = fault_at((uintptr_t)fake_text + 0x40);

	recover_push(&rp, RECOVER_TRANSFER, v2);
	assert_true(update_fault(&tf, &note));
	assert_null(harts[0].ip_top);
	assert_int_equal(update_rec.phase, REC_ROLLBACK);
	assert_non_null(strstr(note.msg, "fault in new code class=ptest (transfer): rolling back, "
				  "the conversion is undone"));
	probation_settle(&update_rec, false);
	assert_string_equal(detail, "fault cause=13 in step-1 at +0x40 (transfer)");
}

/* After the commit a transfer fault fails that conversion only. */
static void test_transfer_fault_after_commit(void **state)
{
	struct recover_point rp;
	struct trap_frame tf = fault_at((uintptr_t)fake_text + 0x40);

	convert_it();
	assert_true(probation_decide(&update_rec));
	recover_push(&rp, RECOVER_TRANSFER, v2);
	assert_true(update_fault(&tf, &note));
	assert_int_equal(update_rec.phase, REC_COMMITTING);
	assert_non_null(strstr(note.msg, "transfer fault after probation class=ptest"));
	probation_settle(&update_rec, true);
}

/* A loaded version's init or fini that faults (src/factory.c): the same, with its own words. */
static void lifecycle_fault(int why, const char *during, const char *detail_is)
{
	struct recover_point rp;
	struct trap_frame tf = fault_at((uintptr_t)fake_text + 0x48);

	recover_push(&rp, why, v2);
	assert_true(update_fault(&tf, &note));
	assert_null(harts[0].ip_top);
	assert_int_equal(update_rec.phase, REC_ROLLBACK);
	assert_non_null(strstr(note.msg, during));
	probation_settle(&update_rec, false);
	assert_string_equal(detail, detail_is);
}

static void lifecycle_fault_after_commit(int why, const char *after)
{
	struct recover_point rp;
	struct trap_frame tf = fault_at((uintptr_t)fake_text + 0x48);

	convert_it();
	assert_true(probation_decide(&update_rec));
	recover_push(&rp, why, v2);
	assert_true(update_fault(&tf, &note));
	assert_null(harts[0].ip_top);
	assert_int_equal(update_rec.phase, REC_COMMITTING);
	assert_non_null(strstr(note.msg, after));
	probation_settle(&update_rec, true);
}

/* What the faulting code held is released, and the note says how much. */
static void test_recovered_fault_says_locks_released(void **state)
{
	static struct spinlock held = SPINLOCK_INIT("init-held");
	struct recover_point rp;
	struct trap_frame tf = fault_at((uintptr_t)fake_text + 0x48);

	recover_push(&rp, RECOVER_INIT, v2);
	spin_lock(&held);
	harts[0].held[harts[0].nheld++] = &held;
	assert_true(update_fault(&tf, &note));
	assert_int_equal(held.locked, 0);
	assert_int_equal(harts[0].nheld, 0);
	assert_non_null(strstr(note.msg, "made on the old version instead (locks released=1)"));
	probation_settle(&update_rec, false);
}

static void test_init_fault_rolls_back(void **state)
{
	lifecycle_fault(RECOVER_INIT, "fault in new code class=ptest (init): rolling back, the "
			"instance is made on the old version",
			"fault cause=13 in step-1 at +0x48 (init)");
}

static void test_fini_fault_rolls_back(void **state)
{
	lifecycle_fault(RECOVER_FINI, "fault in new code class=ptest (fini): rolling back, the "
			"instance is freed without its fini",
			"fault cause=13 in step-1 at +0x48 (fini)");
}

static void test_init_fault_after_commit(void **state)
{
	lifecycle_fault_after_commit(RECOVER_INIT, "init fault after probation class=ptest: "
				     "fault cause=13 in step-1 at +0x48 (init); that creation fails");
}

static void test_fini_fault_after_commit(void **state)
{
	lifecycle_fault_after_commit(RECOVER_FINI, "fini fault after probation class=ptest");
}

/* A self-test that traps: its recovery point resumes; nothing else changes. */
static void test_selftest_fault_recovers(void **state)
{
	struct recover_point rp;
	struct trap_frame tf = fault_at(0x80004000);

	recover_push(&rp, RECOVER_SELFTEST, &fake_mod);
	assert_true(update_fault(&tf, &note));
	assert_null(harts[0].ip_top);
	assert_int_equal(update_rec.phase, REC_PROBATION);
	convert_it();
	assert_true(probation_decide(&update_rec));
	probation_settle(&update_rec, true);
}

/*
 * The pack's code faulting outside any call (nothing to unwind to): not
 * handled here (trap.c stops the thread), but the pack rolls back.
 */
static void test_fault_outside_call(void **state)
{
	struct trap_frame tf = fault_at((uintptr_t)fake_text + 0x8);

	assert_false(update_fault(&tf, &note));
	assert_int_equal(update_rec.phase, REC_ROLLBACK);
	assert_non_null(strstr(note.msg, "fault in new code module=step-1 outside any call"));
	probation_settle(&update_rec, false);
	assert_int_equal(ott_lookup(&kernel_ott, inst)->version, 1);
}

/* An interrupt handler's fault stops at its own recovery point: not the pack's business. */
static void test_fault_in_handler_over_call(void **state)
{
	struct object *n = convert_it();
	struct recover_point irq;
	struct trap_frame tf = fault_at(0x80005000);

	call_in_progress(n);		/* the interrupted thread is in a probation call */
	harts[0].irq_level = 1;
	recover_push(&irq, RECOVER_IRQ, NULL);
	assert_false(update_fault(&tf, &note));	/* kernel code of the handler: trap.c's */
	assert_int_equal(update_rec.phase, REC_PROBATION);
	recover_pop(&irq);
	harts[0].irq_level = 0;
	lazy_exit(&call, 0);
	assert_true(probation_decide(&update_rec));
	probation_settle(&update_rec, true);
}

/*
 * update/probation.c wrote the journal's commit record after the commit:
 * a storage update that nothing called during probation ran its code for
 * the first time there, and a fault in it stopped the update monitor
 * (seen in QEMU: `update` thread stopped, the demo waiting for ever). Now
 * the record is written under probation: the write's fault (a probation
 * call of the pack, in the monitor's own context) rolls the pack back, and
 * a rollback record follows the commit record.
 */
static struct object *record_obj;

static void fault_in_commit_write(bool committed)
{
	struct trap_frame tf = fault_at((uintptr_t)fake_text + 0x30);

	if (!committed)
		return;
	call_in_progress(record_obj);
	assert_true(update_fault(&tf, &note));
	assert_string_equal(note.msg, "fault in new code class=ptest: rolling back, the call is "
			    "retried");
}

static void test_fault_in_commit_record_rolls_back(void **state)
{
	update_rec.journaled = true;
	record_obj = convert_it();
	outcome_hook = fault_in_commit_write;
	assert_false(probation_decide(&update_rec));
	assert_int_equal(commit_phase, REC_PROBATION);
	assert_int_equal(update_rec.phase, REC_ROLLBACK);
	probation_settle(&update_rec, false);
	assert_int_equal(outcomes, 2);			/* commit, then the rollback that wins */
	assert_false(outcome_committed);
	assert_int_equal(count_lines("update: committed"), 0);
	assert_int_equal(update_last_result, UPDATE_ERR_ROLLED_BACK);
	assert_int_equal(ott_lookup(&kernel_ott, inst)->version, 1);
	assert_int_equal(((struct pst *)ott_lookup(&kernel_ott, inst))->value, 41);
}

/*
 * After probation, a fault under the journal's storage recovery point
 * (update/persist.c: a committed storage driver with a bug): that call is
 * abandoned, with a note; nothing rolls back, the calling thread goes on.
 */
static void test_storage_fault_after_commit_recovers(void **state)
{
	struct recover_point rp;
	struct trap_frame tf = fault_at((uintptr_t)fake_text + 0x50);

	convert_it();
	assert_true(probation_decide(&update_rec));
	probation_settle(&update_rec, true);
	recover_push(&rp, RECOVER_STORAGE, NULL);
	assert_true(update_fault(&tf, &note));
	assert_null(harts[0].ip_top);
	assert_string_equal(note.msg, "fault in the storage driver under the journal: that journal "
			    "call fails, the journal stops writing");
	assert_int_equal(update_last_result, UPDATE_OK);
	assert_int_equal(count_lines("update: rolled-back"), 0);
}

/* A pack applied without probation (stop-the-world baseline, phase IDLE) commits. */
static void test_no_probation_commits(void **state)
{
	convert_it();
	update_rec.phase = REC_IDLE;
	assert_true(probation_decide(&update_rec));
	probation_settle(&update_rec, true);
	assert_int_equal(count_lines("update: rolled-back"), 0);
	assert_int_equal(update_last_result, UPDATE_OK);
}

/* Reports: the first UPDATE_FAULT_REPORTS faults of a pack in full, the rest counted. */
static void test_fault_reports_capped(void **state)
{
	struct object *n = convert_it();

	for (int i = 0; i < UPDATE_FAULT_REPORTS + 3; i++) {
		struct trap_frame tf = fault_at((uintptr_t)fake_text + 0x10);

		call_in_progress(n);
		assert_true(update_fault(&tf, &note));
		assert_int_equal(note.quiet, i >= UPDATE_FAULT_REPORTS);
		assert_int_equal(note.msg[0] != '\0', i == 0);	/* one rolling-back line */
	}
	probation_settle(&update_rec, false);
	assert_non_null(find_line("update: faults in new code count=11 reported=8"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_quiet_probation_commits),
		T(test_fault_in_call_rolls_back),
		T(test_bug_commit_races_fault),
		T(test_fault_during_drain_rolls_back),
		T(test_drain_waits_for_calls),
		T(test_loop_detected_at_bound),
		T(test_block_in_call_rolls_back),
		T(test_block_outside_call_ignored),
		T(test_transfer_fault_rolls_back),
		T(test_transfer_fault_after_commit),
		T(test_init_fault_rolls_back),
		T(test_recovered_fault_says_locks_released),
		T(test_fini_fault_rolls_back),
		T(test_init_fault_after_commit),
		T(test_fini_fault_after_commit),
		T(test_selftest_fault_recovers),
		T(test_fault_outside_call),
		T(test_fault_in_handler_over_call),
		T(test_fault_reports_capped),
		T(test_no_probation_commits),
		T(test_fault_in_commit_record_rolls_back),
		T(test_storage_fault_after_commit_recovers),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
