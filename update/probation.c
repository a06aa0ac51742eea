/*
 * After a pack is applied: probation, rollback, lazy sweep, retirement.
 *
 * The monitor thread owns the record once engine.c hands it over:
 *  1. probation: for update_probation_us the new versions run through
 *     counted, retryable stubs (CV_PROBATION). Then the instances nobody
 *     called are converted (lazy sweep), and the probation calls that
 *     began before the end are let finish: every transfer and every call
 *     that began during probation ends during it. Last, the journal's
 *     commit record is written, still under probation (a storage update
 *     may have run no other call).
 *  2. commit: the phase goes PROBATION -> COMMITTING in one atomic step,
 *     so a fault racing with it either started the rollback first (and the
 *     monitor rolls back) or comes after (an ordinary fault); the new
 *     versions become CV_CURRENT and the old states kept are freed.
 *  3. rollback, if anything below happened during probation: the
 *     factory's current version goes back to the old one, the new one to
 *     CV_REVERT; the monitor converts every instance back and frees the
 *     new code.
 *  4. sweep and retire: leftovers converted, versions with no instances
 *     leave the factory, a module with no version left is freed after
 *     quiescence.
 *
 * What starts a rollback (update_fault, update_tick, update_block_check),
 * each found through the faulting context's unwind chain (kernel/unwind.h):
 *  - a fault inside a probation call of this pack (any context: thread or
 *    interrupt handler, locks held or not): unwound to the call's frame
 *    (locks taken since released, interrupt nesting restored) and retried,
 *    so it runs on the old version;
 *  - a fault in one of its transfers: that conversion fails (-KE_FAULT);
 *    a call that needed it runs on the old version, an eager or sweep
 *    conversion has no call to retry;
 *  - a call that runs for UPDATE_LOOP_TICKS timer ticks (a loop), or
 *    blocks: unwound and retried the same way;
 *  - a fault in its code outside any such call (nothing to unwind to):
 *    trap.c stops the thread, the pack rolls back all the same.
 *
 * Locking: the fault, tick and block hooks run on the faulting hart with
 * interrupts off (or from the blocking thread) and only flip states with
 * atomic operations; the first to move the phase to ROLLBACK writes the
 * reason. Everything else is the monitor's.
 */
#include <stdio.h>
#include <string.h>
#include <kernel/update_engine.h>
#include <kernel/convert.h>
#include <kernel/module.h>
#include <kernel/thread.h>
#include <kernel/trap.h>
#include <kernel/mem.h>
#include <kernel/log.h>
#include <kernel/timer.h>
#include <kernel/riscv.h>
#include <kernel/defer.h>
#include <kernel/persist.h>
#include <kernel/unwind.h>

#define SWEEP_TIMEOUT_US	30000000
#define DRAIN_TIMEOUT_US	10000000	/* well past the loop bound, even on a loaded host */
#define ROLLBACK_QUIESCE_US	10000000

uint64_t update_probation_us = 1500000;
uint64_t update_replay_probation_us = 200000;
static struct waitq monitor_wq = WAITQ_INIT(monitor_wq);
static struct waitq idle_wq = WAITQ_INIT(idle_wq);
static struct spinlock monitor_lock = SPINLOCK_INIT("update-monitor");
static volatile bool work_ready;
/* How the rollback's first cause left its call (for the rolled-back line). */
static const char *rollback_how;

void probation_start(struct update_record *rec)
{
	spin_lock(&monitor_lock);
	work_ready = true;
	spin_unlock(&monitor_lock);
	waitq_wake_all(&monitor_wq);
}

/* --- what the pack brought --------------------------------------------------- */

static bool rec_owns_version(const struct update_record *rec, const struct class_version *cv)
{
	for (unsigned int i = 0; i < rec->nsteps; i++)
		if (rec->steps[i].cv == cv)
			return true;
	return false;
}

static bool rec_owns_module(const struct update_record *rec, const struct module *m)
{
	for (unsigned int i = 0; i < rec->nsteps; i++)
		if (rec->steps[i].mod == m)
			return true;
	return false;
}

static const char *class_name_of(const struct class_version *cv)
{
	return cv && cv->cls ? cv->cls->name : "?";
}

/* "step-1 at +0x1c", or where the pc is when it is not in the pack's code. */
static void where(char *buf, size_t len, const struct trap_frame *tf,
		  const struct class_version *cv)
{
	uint64_t pc = tf->regs[0];
	struct module *m = module_at(pc);

	if (!m) {
		m = module_at(tf->regs[1]);	/* a kernel helper it called */
		if (m) {
			snprintf(buf, len, "%s at +%#lx", m->name,
				 (unsigned long)(tf->regs[1] - (uintptr_t)m->text));
			return;
		}
		snprintf(buf, len, "%s (kernel code at %#lx under its call)",
			 cv && cv->module ? cv->module->name : "?", (unsigned long)pc);
		return;
	}
	snprintf(buf, len, "%s at +%#lx", m->name, (unsigned long)(pc - (uintptr_t)m->text));
}

/* --- starting a rollback (trap context, or the blocking thread) -------------- */

static void start_rollback(struct update_record *rec)
{
	for (unsigned int c = 0; c < rec->nclasses; c++) {
		struct class_work *cw = &rec->classes[c];

		/*
		 * New instances are born old again. The old version keeps its
		 * stubs (CONVERT now leads to itself, so its instances just run,
		 * counted) until every conversion in flight has finished: a
		 * caller must never run old code on a state being superseded.
		 */
		__atomic_store_n(&cw->f->cur, cw->before, __ATOMIC_RELEASE);
		cv_set_state(cw->before, CV_CONVERT);
		cw->after->revert_to = cw->before;
		cv_set_state(cw->after, CV_REVERT);
	}
}

/*
 * Moves the pack from PROBATION to ROLLBACK. 1: this call did (it wrote
 * @reason), 0: it was rolling back already, -1: not under probation any
 * more (committing or committed: nothing can be rolled back).
 */
static int begin_rollback(struct update_record *rec, const char *reason, const char *how)
{
	int phase = REC_PROBATION;

	if (__atomic_compare_exchange_n(&rec->phase, &phase, REC_ROLLBACK, false,
					__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		strncpy(rec->reason, reason, sizeof(rec->reason) - 1);
		rec->reason[sizeof(rec->reason) - 1] = '\0';
		rollback_how = how;
		__atomic_store_n(&rec->reason_ready, 1, __ATOMIC_RELEASE);
		start_rollback(rec);
		return 1;
	}
	return phase == REC_ROLLBACK ? 0 : -1;
}

/* Redirects @tf to retry the call of @n (on whatever version it now leads to). */
static void retry_call(struct unwind_node *n, struct trap_frame *tf)
{
	n->faults++;
	unwind_to(n, tf);
	tf->regs[2] = (uint64_t)ip_frame_of(n);
	tf->regs[0] = (uint64_t)ip_retry;
}

/* The first few faults of a pack are reported in full, the rest counted. */
static void note_fault(struct update_record *rec, struct update_fault_note *note)
{
	note->quiet = __atomic_fetch_add(&rec->faults, 1, __ATOMIC_RELAXED) >= UPDATE_FAULT_REPORTS;
}

static bool call_fault(struct update_record *rec, struct unwind_node *n, struct trap_frame *tf,
		       struct update_fault_note *note)
{
	struct class_version *cv = convert_call_version(n);
	char at[80], reason[128];
	int rc;

	where(at, sizeof(at), tf, cv);
	snprintf(reason, sizeof(reason), "fault cause=%lu in %s", (unsigned long)tf->scause, at);
	rc = begin_rollback(rec, reason, "call retried");
	if (rc < 0)
		return false;
	note_fault(rec, note);
	if (rc > 0)
		snprintf(note->msg, sizeof(note->msg), "fault in new code class=%s: rolling back, "
			 "the call is retried", class_name_of(cv));
	retry_call(n, tf);
	return true;
}

/* What a fault under a recovery point around new code means, per kind. */
struct recover_kind {
	const char *what;	/* in the reason: where it faulted */
	const char *how;	/* the rollback's log line: what became of the call */
	const char *during;	/* the note in probation (the class name follows) */
	const char *after;	/* the note after it */
};

static const struct recover_kind *recover_kind_of(uint8_t why)
{
	static const struct recover_kind transfer = {
		"transfer", "conversion undone",
		"the conversion is undone (a call that needed it runs on the old version; an "
		"eager or background one has none to retry)",
		"the instance stays on its version",
	}, init = {
		"init", "creation retried",
		"the instance is made on the old version instead",
		"that creation fails",
	}, fini = {
		"fini", "instance freed",
		"the instance is freed without its fini",
		"the instance is freed without it (what it held stays allocated)",
	};

	return why == RECOVER_TRANSFER ? &transfer : why == RECOVER_INIT ? &init :
	       why == RECOVER_FINI ? &fini : NULL;
}

/* A fault in a loaded version's transfer, init or fini: that step fails. */
static void new_code_recovered(struct update_record *rec, const struct recover_kind *k,
			       const struct class_version *cv, struct trap_frame *tf,
			       struct update_fault_note *note)
{
	char at[80], reason[128];
	int rc = -1;

	where(at, sizeof(at), tf, cv);
	snprintf(reason, sizeof(reason), "fault cause=%lu in %s (%s)", (unsigned long)tf->scause,
		 at, k->what);
	if (rec_owns_version(rec, cv)) {
		rc = begin_rollback(rec, reason, k->how);
		note_fault(rec, note);
	}
	if (rc > 0)
		snprintf(note->msg, sizeof(note->msg), "fault in new code class=%s (%s): rolling "
			 "back, %s", class_name_of(cv), k->what, k->during);
	else if (rc < 0)
		snprintf(note->msg, sizeof(note->msg), "%s fault after probation class=%.24s: "
			 "%.100s; %s", k->what, class_name_of(cv), reason, k->after);
}

static bool recover_fault(struct update_record *rec, struct unwind_node *n,
			  struct trap_frame *tf, struct update_fault_note *note)
{
	const struct recover_kind *k = recover_kind_of(n->why);
	unsigned int released;

	if (k)
		new_code_recovered(rec, k, n->what, tf, note);
	if (n->why == RECOVER_STORAGE)
		snprintf(note->msg, sizeof(note->msg), "fault in the storage driver under the "
			 "journal: that journal call fails, the journal stops writing");
	released = unwind_to(n, tf);	/* recover_save() returns 1 */
	if (released && note->msg[0]) {
		size_t len = strlen(note->msg);

		snprintf(note->msg + len, sizeof(note->msg) - len, " (locks released=%u)", released);
	}
	return true;
}

bool update_fault(struct trap_frame *tf, struct update_fault_note *note)
{
	struct update_record *rec = &update_rec;
	uint32_t level = this_hart()->irq_level;
	struct module *m;

	note->quiet = false;
	note->msg[0] = '\0';
	for (struct unwind_node *n = *unwind_chain(); n && n->level == level; n = n->prev) {
		if (n->kind == UNW_RECOVER) {
			if (n->why == RECOVER_IRQ)
				break;	/* the bottom of this interrupt handler: trap.c's */
			return recover_fault(rec, n, tf, note);
		}
		if (n->cookie & UNW_PROBATION && rec_owns_version(rec, convert_call_version(n)) &&
		    call_fault(rec, n, tf, note))
			return true;
	}
	/* Code of the pack, but no call to go back to: the thread stops, the pack goes. */
	m = module_at(tf->regs[0]);
	if (!m)
		m = module_at(tf->regs[1]);
	if (m && rec_owns_module(rec, m)) {
		char reason[128];

		snprintf(reason, sizeof(reason), "fault cause=%lu in %s at +%#lx (no call to retry)",
			 (unsigned long)tf->scause, m->name,
			 (unsigned long)(tf->regs[0] - (uintptr_t)m->text));
		if (begin_rollback(rec, reason, "faulting context stopped") > 0)
			snprintf(note->msg, sizeof(note->msg), "fault in new code module=%s outside "
				 "any call: rolling back, the faulting context is stopped", m->name);
	}
	return false;
}

/* The innermost probation call of this pack in the current context and level. */
static struct unwind_node *probation_call_here(struct update_record *rec)
{
	uint32_t level = this_hart()->irq_level;

	for (struct unwind_node *n = *unwind_chain(); n && n->level == level; n = n->prev)
		if (n->kind == UNW_CALL && (n->cookie & UNW_PROBATION) &&
		    rec_owns_version(rec, convert_call_version(n)))
			return n;
	return NULL;
}

static bool under_probation(const struct update_record *rec)
{
	int phase = __atomic_load_n(&rec->phase, __ATOMIC_ACQUIRE);

	return phase == REC_PROBATION || phase == REC_ROLLBACK;
}

void update_tick(struct trap_frame *tf)
{
	struct update_record *rec = &update_rec;
	struct unwind_node *n;
	struct class_version *cv;
	char reason[128];
	uint64_t us;
	int rc;

	if (!under_probation(rec) || !(n = probation_call_here(rec)) ||
	    ++n->ticks < UPDATE_LOOP_TICKS)
		return;
	cv = convert_call_version(n);
	us = timer_ticks_to_us(rdtime() - n->t0);
	snprintf(reason, sizeof(reason), "loop in %s: %u timer ticks in one call (%lu ms)",
		 cv->module ? cv->module->name : "?", n->ticks, (unsigned long)(us / 1000));
	rc = begin_rollback(rec, reason, "call retried");
	if (rc < 0)
		return;
	if (rc > 0)
		klog_fault(NULL, "update", "loop in new code class=%s ticks=%u ms=%lu; rolling back, "
			   "the call is retried", class_name_of(cv), n->ticks,
			   (unsigned long)(us / 1000));
	retry_call(n, tf);
}

void update_block_check(void)
{
	struct update_record *rec = &update_rec;
	struct unwind_node *n;
	struct class_version *cv;
	char reason[128];
	int rc;

	if (this_hart()->irq_level || !under_probation(rec) || !(n = probation_call_here(rec)))
		return;
	cv = convert_call_version(n);
	snprintf(reason, sizeof(reason), "%s blocked inside a call",
		 cv->module ? cv->module->name : "?");
	rc = begin_rollback(rec, reason, "call retried");
	if (rc < 0)
		return;
	if (rc > 0)
		klog_fault(NULL, "update", "blocking call in new code class=%s; rolling back, the "
			   "call is retried", class_name_of(cv));
	n->faults++;
	unwind_jump(n);
}

/* --- the monitor ---------------------------------------------------------------- */

static bool in_probation(const struct update_record *rec)
{
	return __atomic_load_n(&rec->phase, __ATOMIC_ACQUIRE) == REC_PROBATION;
}

static void wait_probation(struct update_record *rec)
{
	uint64_t end = rdtime() + timer_us_to_ticks(rec->probation_us);

	while (rdtime() < end && in_probation(rec)) {
		thread_sleep_us(10000);
		log_flush_reports();
	}
}

static void log_swept(struct class_work *cw, uint32_t pending)
{
	klog("update", "swept class=%s converted=%u of %u pending=%u blackout_us=%lu",
	     factory_class(cw->f)->name, pending - convert_pending(cw->f), cw->instances,
	     convert_pending(cw->f),
	     (unsigned long)timer_ticks_to_us(convert_max_blackout_ticks(false)));
}

/* Instances nobody called convert now, while a fault in a transfer can still roll back. */
static void sweep_in_probation(struct update_record *rec)
{
	for (unsigned int c = 0; c < rec->nclasses && in_probation(rec); c++) {
		struct class_work *cw = &rec->classes[c];
		uint32_t pending = convert_pending(cw->f);

		if (pending) {
			convert_all(cw->f, SWEEP_TIMEOUT_US);
			if (in_probation(rec))
				log_swept(cw, pending);
		}
	}
}

/* Lets every probation call that began before now end, still under probation. */
static void drain_probation_calls(struct update_record *rec)
{
	uint64_t deadline = rdtime() + timer_us_to_ticks(DRAIN_TIMEOUT_US);
	uint32_t old[PACK_MAX_STEPS];

	for (unsigned int c = 0; c < rec->nclasses; c++) {
		old[c] = rec->classes[c].after->epoch & 1;
		convert_flip_epoch(rec->classes[c].after);
	}
	for (unsigned int c = 0; c < rec->nclasses; c++) {
		struct class_work *cw = &rec->classes[c];

		while (convert_probation_calls(cw->after, old[c]) && in_probation(rec)) {
			if (rdtime() > deadline) {
				klog("update", "probation calls still running class=%s calls=%u: "
				     "committing anyway", factory_class(cw->f)->name,
				     convert_probation_calls(cw->after, old[c]));
				return;
			}
			thread_sleep_us(2000);
		}
	}
}

static void free_mem(void *p)
{
	kfree(p);
}

/*
 * Unlinks versions no instance can need any more and frees their code
 * after quiescence: no instances, and either older than every live
 * instance (no conversion passes through it) or newer than the current
 * version (left behind by a rollback).
 */
static void retire_versions(struct factory *f)
{
	uint32_t cur = f->cur->cls->version, min_live = cur;
	struct list_head *pos, *n;

	spin_lock(&f->lock);
	list_for_each(pos, &f->versions) {
		struct class_version *cv = list_entry(pos, struct class_version, node);

		if (cv->live && cv->cls->version < min_live)
			min_live = cv->cls->version;
	}
	list_for_each_safe(pos, n, &f->versions) {
		struct class_version *cv = list_entry(pos, struct class_version, node);
		uint32_t v = cv->cls->version;

		if (cv == f->cur || cv == &f->first || cv->live || (v >= min_live && v <= cur))
			continue;
		list_del(&cv->node);
		if (cv->module && --cv->module->users == 0)
			module_free_deferred(cv->module);
		defer_call(free_mem, cv);
	}
	spin_unlock(&f->lock);
}

static void finish_rollback(struct update_record *rec)
{
	uint64_t failed0 = rec->failed_calls0, back0 = rec->back_failures0;
	uint64_t deadline = rdtime() + timer_us_to_ticks(1000000);

	/* The fault that started it writes the reason right after the switch of phase. */
	while (!__atomic_load_n(&rec->reason_ready, __ATOMIC_ACQUIRE) && rdtime() < deadline)
		thread_yield();
	log_flush_reports();
	for (unsigned int c = 0; c < rec->nclasses; c++) {
		struct class_work *cw = &rec->classes[c];
		uint64_t qdeadline = rdtime() + timer_us_to_ticks(ROLLBACK_QUIESCE_US);
		bool quiet = false;

		if (convert_all(cw->f, SWEEP_TIMEOUT_US))
			klog("update", "rollback of %s incomplete", factory_class(cw->f)->name);
		/* Nothing is converting now; once no call can still be in a stub, drop them. */
		while (!(quiet = !quiesce_wait(1000000)) && rdtime() < qdeadline)
			;
		if (quiet)
			cv_set_state(cw->before, CV_CURRENT);
		else
			klog("update", "class %s keeps its stubs: some call never ends",
			     factory_class(cw->f)->name);
		retire_versions(cw->f);	/* the pack's versions are above current now */
		klog("update", "rolled-back class=%s from=%u to=%u version=%u how=\"%s\" reason=\"%s\"",
		     factory_class(cw->f)->name, cw->from, cw->to, factory_class(cw->f)->version,
		     rollback_how ? rollback_how : "?", rec->reason);
	}
	if (rec->faults > UPDATE_FAULT_REPORTS)
		klog("update", "faults in new code count=%u reported=%u", rec->faults,
		     UPDATE_FAULT_REPORTS);
	if (convert_failed_calls != failed0 || convert_back_failures != back0)
		klog("update", "rollback details calls_failed=%lu transfer_back_failed=%lu "
		     "(a failed transfer_back keeps the state as it was at the conversion)",
		     (unsigned long)(convert_failed_calls - failed0),
		     (unsigned long)(convert_back_failures - back0));
	update_last_result = UPDATE_ERR_ROLLED_BACK;
	update_set_detail(rec->reason);
}

static void commit_probation(struct update_record *rec)
{
	for (unsigned int c = 0; c < rec->nclasses; c++) {
		struct class_work *cw = &rec->classes[c];

		cv_set_state(cw->after, CV_CURRENT);
		convert_drop_prev(cw->f);
		klog("update", "committed class=%s version=%u probation_us=%lu",
		     factory_class(cw->f)->name, cw->to, (unsigned long)rec->probation_us);
	}
}

static void sweep(struct update_record *rec)
{
	__atomic_store_n(&rec->phase, REC_SWEEP, __ATOMIC_RELEASE);
	for (unsigned int c = 0; c < rec->nclasses; c++) {
		struct class_work *cw = &rec->classes[c];
		uint32_t pending = convert_pending(cw->f);

		if (pending) {
			int rc = convert_all(cw->f, SWEEP_TIMEOUT_US);

			log_swept(cw, pending);
			if (rc)
				continue;
		}
		retire_versions(cw->f);
	}
}

/*
 * The journal's commit record is written as the last act of probation, the
 * pack's versions still in PROBATION: a pack that brings the storage driver
 * the journal writes through may have had no other call during probation,
 * and a fault in this write then rolls it back like any other (the write is
 * retried on the old driver). A rollback that starts after the record (this
 * write's fault, or another context's at the same moment) appends a
 * rollback record, which wins over it (journal_open.c), in probation_settle.
 */
static void journal_commit_record(struct update_record *rec)
{
	if (rec->journaled && __atomic_load_n(&rec->phase, __ATOMIC_ACQUIRE) == REC_PROBATION)
		persist_outcome(rec->pack.seq, true, NULL);
}

bool probation_decide(struct update_record *rec)
{
	int phase = REC_PROBATION;

	/* Applied without probation (the stop-the-world baseline): nothing to decide. */
	if (__atomic_load_n(&rec->phase, __ATOMIC_ACQUIRE) == REC_IDLE)
		return true;
	wait_probation(rec);
	sweep_in_probation(rec);
	drain_probation_calls(rec);
	journal_commit_record(rec);
	return __atomic_compare_exchange_n(&rec->phase, &phase, REC_COMMITTING, false,
					   __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}

void probation_settle(struct update_record *rec, bool commit)
{
	if (commit) {
		commit_probation(rec);	/* journaled by probation_decide */
	} else {
		finish_rollback(rec);
		if (rec->journaled)
			persist_outcome(rec->pack.seq, false, "rolled-back");
	}
	sweep(rec);
	log_flush_reports();
}

static void monitor_main(void *arg)
{
	struct update_record *rec = &update_rec;

	for (;;) {
		spin_lock(&monitor_lock);
		while (!work_ready)
			waitq_wait(&monitor_wq, &monitor_lock);
		work_ready = false;
		spin_unlock(&monitor_lock);
		probation_settle(rec, probation_decide(rec));
		__atomic_store_n(&rec->phase, REC_IDLE, __ATOMIC_RELEASE);
		__atomic_store_n(&update_busy, 0, __ATOMIC_RELEASE);
		waitq_wake_all(&idle_wq);
	}
}

void update_wait_idle(void)
{
	spin_lock(&monitor_lock);
	while (__atomic_load_n(&update_busy, __ATOMIC_ACQUIRE))
		waitq_wait(&idle_wq, &monitor_lock);
	spin_unlock(&monitor_lock);
}

void update_engine_start(void)
{
	thread_create("update", monitor_main, NULL, THREAD_ANY_HART);
}
