/*
 * After a pack is applied: probation, rollback, lazy sweep, retirement.
 *
 * The monitor thread owns the record once engine.c hands it over:
 *  1. probation: for update_probation_us the new versions run through
 *     counted, retryable stubs (CV_PROBATION). A trap in a module under
 *     probation reaches update_fault() (trap.c), which flips the pack into
 *     rollback: the factory's current version goes back to the old one,
 *     the new one to CV_REVERT, and the faulting call is unwound to its
 *     interposition frame and retried, so it runs on the old version:
 *     no call is lost or run twice. The monitor then converts every
 *     instance back and frees the new code.
 *  2. commit: the new versions become CV_CURRENT (no more stubs) and the
 *     old states kept for a rollback are freed.
 *  3. sweep: instances of lazy classes nobody called are converted in the
 *     background, so old versions end up with no instances.
 *  4. retire: versions with no instances leave the factory; a module with
 *     no version left is freed after quiescence.
 *
 * Locking: update_fault() runs in trap context and only flips states with
 * atomic stores and wakes the monitor; everything else is the monitor's.
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

#define SWEEP_TIMEOUT_US	30000000

uint64_t update_probation_us = 1500000;
uint64_t update_replay_probation_us = 200000;
static struct waitq monitor_wq = WAITQ_INIT(monitor_wq);
static struct waitq idle_wq = WAITQ_INIT(idle_wq);
static struct spinlock monitor_lock = SPINLOCK_INIT("update-monitor");
static volatile bool work_ready;

void probation_start(struct update_record *rec)
{
	spin_lock(&monitor_lock);
	work_ready = true;
	spin_unlock(&monitor_lock);
	waitq_wake_all(&monitor_wq);
}

static struct class_work *class_of_module(struct update_record *rec, struct module *m)
{
	for (unsigned int c = 0; c < rec->nclasses; c++)
		if (rec->classes[c].after->module == m)
			return &rec->classes[c];
	return NULL;
}

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

bool update_fault(struct trap_frame *tf)
{
	struct update_record *rec = &update_rec;
	struct module *m = module_at(tf->regs[0]);
	struct class_work *cw;
	struct ip_frame *f;
	int phase = __atomic_load_n(&rec->phase, __ATOMIC_ACQUIRE);

	if (!m)
		m = module_at(tf->regs[1]);	/* faulted in a kernel helper it called */
	if (!m || (phase != REC_PROBATION && phase != REC_ROLLBACK))
		return false;
	cw = class_of_module(rec, m);
	f = cw ? convert_find_frame(cw->after) : NULL;
	if (!f)
		return false;
	convert_abandon(f);
	if (__atomic_compare_exchange_n(&rec->phase, &phase, REC_ROLLBACK, false,
					__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE) && phase == REC_PROBATION) {
		snprintf(rec->reason, sizeof(rec->reason), "fault cause=%lu in %s at +%#lx",
			 (unsigned long)tf->scause, m->name,
			 (unsigned long)(tf->regs[0] - (uintptr_t)m->text));
		start_rollback(rec);
		klog("update", "fault in new code class=%s: rolling back, the call is retried",
		     factory_class(cw->f)->name);
		waitq_wake_all(&monitor_wq);
	}
	/* Resume at the interposition frame: the call re-enters on the old version. */
	tf->regs[2] = (uint64_t)f;
	tf->regs[0] = (uint64_t)ip_retry;
	return true;
}

static void wait_probation(struct update_record *rec)
{
	uint64_t end = rdtime() + timer_us_to_ticks(rec->probation_us);

	while (rdtime() < end && __atomic_load_n(&rec->phase, __ATOMIC_ACQUIRE) == REC_PROBATION)
		thread_sleep_us(10000);
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
	for (unsigned int c = 0; c < rec->nclasses; c++) {
		struct class_work *cw = &rec->classes[c];

		if (convert_all(cw->f, SWEEP_TIMEOUT_US))
			klog("update", "rollback of %s incomplete", factory_class(cw->f)->name);
		/* Nothing is converting now; once no call can still be in a stub, drop them. */
		while (quiesce_wait(1000000))
			;
		cv_set_state(cw->before, CV_CURRENT);
		retire_versions(cw->f);	/* the pack's versions are above current now */
		klog("update", "rolled-back class=%s from=%u to=%u version=%u reason=\"%s\"",
		     factory_class(cw->f)->name, cw->from, cw->to, factory_class(cw->f)->version,
		     rec->reason);
	}
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

			klog("update", "swept class=%s converted=%u of %u pending=%u blackout_us=%lu",
			     factory_class(cw->f)->name, pending - convert_pending(cw->f),
			     cw->instances, convert_pending(cw->f),
			     (unsigned long)timer_ticks_to_us(convert_max_blackout_ticks(false)));
			if (rc)
				continue;
		}
		retire_versions(cw->f);
	}
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
		wait_probation(rec);
		if (__atomic_load_n(&rec->phase, __ATOMIC_ACQUIRE) == REC_ROLLBACK) {
			finish_rollback(rec);
			if (rec->journaled)
				persist_outcome(rec->pack.seq, false, "rolled-back");
		} else {
			commit_probation(rec);
			if (rec->journaled)
				persist_outcome(rec->pack.seq, true, NULL);
		}
		sweep(rec);
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
