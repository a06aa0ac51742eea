/*
 * The live-update engine: applies a pack (a FIT already in memory, from
 * wherever it came) to the running kernel.
 *
 * Check everything first, then commit (seL4's shape):
 *   check   parse + hashes (pack.c), ABI, sequence number and version
 *           chain (chain.c), link every module (module.c), check each
 *           module's descriptor against its step, run its self-test, and
 *           allocate every new class version. Any failure: nothing of the
 *           pack stays loaded and nothing has changed.
 *   commit  per class: old versions FORWARD (their calls are counted), one
 *           quiescence wait (calls that began before can no longer be
 *           inside old code uncounted), then the switch: new versions
 *           linked in, the factory's current version swapped (new instances
 *           are born new), old versions set to CONVERT. Lazy classes convert
 *           each instance on its first call (update/convert.c); eager ones
 *           are converted right here. Only the quiescence wait can fail
 *           (timeout), and it fails before anything is switched.
 * Then update/probation.c watches the new code for a while, rolls back on
 * a fault, sweeps lazy instances that nobody calls, and frees old code.
 *
 * Locking: one pack at a time (update_busy); the record of the pack in
 * flight is written by the applying thread until it hands it to the
 * monitor thread, then by the monitor (and the fault hook, which only
 * flips states).
 */
#include <stdio.h>
#include <string.h>
#include <kernel/update.h>
#include <kernel/update_engine.h>
#include <kernel/chain.h>
#include <kernel/pack.h>
#include <kernel/module.h>
#include <kernel/convert.h>
#include <kernel/thread.h>
#include <kernel/mem.h>
#include <kernel/log.h>
#include <kernel/escape.h>
#include <kernel/timer.h>
#include <kernel/riscv.h>
#include <kernel/errno.h>
#include <kernel/export.h>
#include <kernel/stw.h>
#include <kernel/persist.h>
#include <kernel/stage_stats.h>
#include <kernel/unwind.h>
#include <kernel/hart.h>
#include <kernel/smp.h>
#include <kernel/irq.h>

#define QUIESCE_TIMEOUT_US	2000000
#define SELFTEST_TIMEOUT_US	1000000
/* Past this, a self-test whose hart took too few ticks is late all the same. */
#define SELFTEST_WALL_MAX_US	5000000
#define SELFTEST_KILL_US	1000000	/* to stop at a preemption point after that */
#define EAGER_TIMEOUT_US	2000000
#define LAZY_DEFAULT_MIN	16	/* classes with more instances default to lazy */

struct update_record update_rec;
void (*update_verified_hook)(uint32_t seq, unsigned int steps);
static char last_detail[128];

const char *update_last_detail(void)
{
	return last_detail;
}

void update_set_detail(const char *why)
{
	strncpy(last_detail, why, sizeof(last_detail) - 1);
}
volatile int update_busy;
static uint32_t last_seq;
enum update_result update_last_result;
struct update_timing update_last_timing;

static const char *const result_names[] = {
	[UPDATE_OK] = "ok",
	[UPDATE_ERR_MALFORMED] = "malformed",
	[UPDATE_ERR_INTEGRITY] = "integrity",
	[UPDATE_ERR_ABI] = "abi",
	[UPDATE_ERR_REPLAY] = "replay",
	[UPDATE_ERR_UNKNOWN_CLASS] = "unknown-class",
	[UPDATE_ERR_GAP] = "gap",
	[UPDATE_ERR_DOWNGRADE] = "downgrade",
	[UPDATE_ERR_DUPLICATE] = "duplicate",
	[UPDATE_ERR_REQUIREMENT] = "requirement",
	[UPDATE_ERR_LINK] = "link",
	[UPDATE_ERR_INTERFACE] = "interface",
	[UPDATE_ERR_SELFTEST] = "selftest",
	[UPDATE_ERR_NOMEM] = "nomem",
	[UPDATE_ERR_TIMEOUT] = "quiesce-timeout",
	[UPDATE_ERR_BUSY] = "busy",
	[UPDATE_ERR_ROLLED_BACK] = "rolled-back",
	[UPDATE_ERR_NOSPACE] = "no-space",
	[UPDATE_ERR_STORAGE] = "storage",
};

const char *update_result_name(enum update_result r)
{
	return (unsigned int)r < sizeof(result_names) / sizeof(result_names[0]) ? result_names[r]
										  : "?";
}

uint32_t update_last_seq(void)
{
	return last_seq;
}

void update_raise_floor(uint32_t seq)
{
	if (seq > last_seq)
		last_seq = seq;
}

uint32_t update_class_version(const char *class_name)
{
	struct factory *f = factory_find(class_name);

	return f ? factory_class(f)->version : 0;
}

static int version_of(void *ctx, const char *class_name, uint32_t *v)
{
	struct factory *f = factory_find(class_name);

	if (!f)
		return -KE_NOENT;
	*v = factory_class(f)->version;
	return 0;
}

/* --- check ------------------------------------------------------------ */

/*
 * A self-test runs in a thread of its own, pinned to another hart than
 * the engine's (when there is one) and first in line there, under a
 * recovery point: a trap in it fails the test at once. Its exit wakes the
 * engine (no scheduler tick between). One that overruns SELFTEST_TIMEOUT_US
 * (on the clock and in its hart's running time, selftest_late()) is asked
 * to stop at its next preemption point; if it does, its module is freed as
 * usual. If it does not within SELFTEST_KILL_US (it spins with interrupts
 * off, or sleeps), the engine abandons the run to the thread: the module is
 * freed when the thread finally exits, and a hart that no longer answers
 * IPIs is declared lost, so that later quiescence waits skip it.
 */
enum { ST_RUNNING, ST_EXITED, ST_ABANDONED };

struct selftest_run {
	int (*fn)(const struct class *cls);
	const struct class *cls;
	struct module *mod;
	struct spinlock lock;	/* state, and the thread pointer while it lives */
	int state;		/* ST_*: who frees what once the thread is gone */
	struct thread *thread;
	unsigned int hart;
	volatile int done;	/* 1: returned, 2: trapped */
	volatile int exited;	/* state went ST_EXITED (read without the lock) */
	struct thread *waiter;	/* the engine while it waits: woken at the exit */
	int result;
};

static void selftest_exit(void *arg)
{
	struct selftest_run *r = arg;
	int state;

	spin_lock(&r->lock);
	state = r->state;
	r->state = ST_EXITED;
	r->thread = NULL;
	__atomic_store_n(&r->exited, 1, __ATOMIC_RELEASE);
	if (r->waiter)
		thread_wake_here(r->waiter);	/* it runs next, here: no other hart to wait for */
	spin_unlock(&r->lock);
	if (state != ST_ABANDONED)
		return;		/* the engine frees r and the module */
	klog("update", "self-test thread of %s ended: module freed", r->mod->name);
	module_free_deferred(r->mod);
	kfree(r);
}

static void selftest_main(void *arg)
{
	struct selftest_run *r = arg;
	struct recover_point rp;

	thread_set_exit_hook(selftest_exit, r);
	recover_push(&rp, RECOVER_SELFTEST, r->mod);
	if (!recover_save(rp.regs)) {
		r->result = r->fn(r->cls);
		recover_pop(&rp);
		__atomic_store_n(&r->done, 1, __ATOMIC_RELEASE);
	} else {
		__atomic_store_n(&r->done, 2, __ATOMIC_RELEASE);
	}
}

static int selftest_state(struct selftest_run *r)
{
	int s;

	spin_lock(&r->lock);
	s = r->state;
	spin_unlock(&r->lock);
	return s;
}

/* Waits until @r's thread exited or @us passed; true if it exited. */
static bool selftest_wait_exit(struct selftest_run *r, uint64_t us)
{
	uint64_t deadline = rdtime() + timer_us_to_ticks(us), now;

	while (!__atomic_load_n(&r->exited, __ATOMIC_ACQUIRE)) {
		now = rdtime();
		if (now > deadline)
			return false;
		thread_sleep_unless(&r->exited, timer_ticks_to_us(deadline - now) + 1);
	}
	return true;
}

/* A self-test thread that would not stop: is its hart still answering? */
static void selftest_check_hart(struct selftest_run *r)
{
	struct hart *h = hart_by_index(r->hart);

	if (!h || h == this_hart() || !h->online || quiesce_harts(SELFTEST_KILL_US) == 0)
		return;
	h->online = false;
	klog("update", "hart %u lost: self-test of %s spins with interrupts off there; later "
	     "quiescence waits skip it", h->hartid, r->mod->name);
}

/*
 * Is a self-test late? SELFTEST_TIMEOUT_US must have passed both on the
 * clock and in its hart's own timer interrupts (TIMER_HZ a second while
 * that hart runs): a loaded host that stops the virtual hart for seconds
 * does not make a quick test late. A hart taking no interrupts (a test
 * spinning with them off) is judged on the clock after SELFTEST_WALL_MAX_US.
 */
static bool selftest_late(const struct selftest_run *r, uint64_t t0, uint64_t ticks0)
{
	uint64_t waited = timer_ticks_to_us(rdtime() - t0);
	uint64_t ran = __atomic_load_n(&hart_by_index(r->hart)->timer_irqs, __ATOMIC_RELAXED) -
		       ticks0;

	if (waited >= SELFTEST_WALL_MAX_US)
		return true;
	return waited >= SELFTEST_TIMEOUT_US && ran * 1000000 / TIMER_HZ >= SELFTEST_TIMEOUT_US;
}

/*
 * Where a self-test runs: not on the engine's hart (it waits there, and must
 * outlive a test that never gives its hart back), and not on the one taking
 * the devices' interrupts (the network must survive such a test too), when
 * there are harts enough for both.
 */
static unsigned int selftest_pick_hart(unsigned int me)
{
	unsigned int fallback = me;

	for (unsigned int i = 1; i < nharts_online; i++) {
		struct hart *h = hart_by_index((me + i) % nharts_online);

		if (!h || !h->online)
			continue;
		if (h->index != IRQ_HART_INDEX)
			return h->index;
		fallback = h->index;
	}
	return fallback;
}

/*
 * Runs a module's self-test. Returns 0, -KE_FAULT if it trapped, another
 * negative code if it failed, or 1 if it never finished (then the run may
 * have been handed to its thread: *@abandoned says the module is not the
 * engine's to free any more).
 */
static int run_selftest(const struct update_desc *d, struct module *mod, bool *abandoned)
{
	struct selftest_run *r = kzalloc(sizeof(*r));
	uint64_t t0 = rdtime(), ticks0;
	unsigned int me = this_hart()->index;
	struct thread *t;
	int rc;

	*abandoned = false;
	if (!r)
		return -KE_NOMEM;
	r->fn = d->selftest;
	r->cls = d->cls;
	r->mod = mod;
	spin_init(&r->lock, "selftest");
	r->hart = selftest_pick_hart(me);
	ticks0 = __atomic_load_n(&hart_by_index(r->hart)->timer_irqs, __ATOMIC_RELAXED);
	r->waiter = thread_current();
	/* First in line there, like a woken thread: its exit wakes us. */
	spin_lock(&r->lock);
	t = thread_create_next("selftest", selftest_main, r, (int)r->hart);
	r->thread = t;
	spin_unlock(&r->lock);
	/* (r->thread may be NULL already: a quick self-test is over and gone.) */
	if (!t) {
		kfree(r);
		return -KE_NOMEM;
	}
	/* Late only once its hart ran long enough too (selftest_late). */
	if (!selftest_wait_exit(r, SELFTEST_TIMEOUT_US))
		while (!selftest_late(r, t0, ticks0) && !selftest_wait_exit(r, 100000))
			;
	if (__atomic_load_n(&r->done, __ATOMIC_ACQUIRE)) {
		rc = r->done == 2 ? -KE_FAULT : r->result ? -KE_INVAL : 0;
		selftest_wait_exit(r, SELFTEST_KILL_US);	/* returns at once: it is ending */
	} else {
		spin_lock(&r->lock);
		if (r->state == ST_RUNNING)
			thread_request_kill(r->thread);
		spin_unlock(&r->lock);
		rc = 1;
	}
	if (rc == 1 || selftest_state(r) != ST_EXITED) {
		if (selftest_wait_exit(r, SELFTEST_KILL_US)) {
			klog("update", "self-test of %s stopped after %lu ms", mod->name,
			     (unsigned long)(timer_ticks_to_us(rdtime() - t0) / 1000));
		} else {
			spin_lock(&r->lock);
			r->waiter = NULL;
			if (r->state == ST_RUNNING) {
				r->state = ST_ABANDONED;
				*abandoned = true;
			}
			spin_unlock(&r->lock);
			if (*abandoned) {
				klog("update", "self-test of %s does not stop: its module stays until "
				     "its thread ends", mod->name);
				selftest_check_hart(r);
				return rc;	/* r and the module are the thread's now */
			}
		}
	}
	if (rc < 0 && rc != -KE_FAULT)
		klog("update", "self-test of %s returned %d", mod->name, r->result);
	kfree(r);
	return rc;
}

static const struct class *class_before(const struct update_record *rec, unsigned int i)
{
	for (unsigned int j = i; j-- > 0;)
		if (rec->steps[j].f == rec->steps[i].f)
			return rec->steps[j].d->cls;
	return factory_class(rec->steps[i].f);
}

/* Does module @m's descriptor describe pack step @ps of a class like @old? */
static enum update_result check_desc(const struct update_desc *d, const struct pack_step *ps,
				     const struct class *old, char *err, size_t errlen)
{
	if (!d || !d->abi || strcmp(d->abi, KERNEL_ABI)) {
		snprintf(err, errlen, "%s: module descriptor built for another ABI", ps->name);
		return UPDATE_ERR_ABI;
	}
	if (!d->class_name || strcmp(d->class_name, ps->class_name) || d->from != ps->from ||
	    d->to != ps->to || !d->cls || d->cls->version != d->to ||
	    strcmp(d->cls->name, ps->class_name)) {
		snprintf(err, errlen, "%s: module is not %s %u->%u", ps->name, ps->class_name,
			 ps->from, ps->to);
		return UPDATE_ERR_MALFORMED;
	}
	if (!d->impl || !old->impl || strcmp(d->impl, old->impl)) {
		snprintf(err, errlen, "%s: module is for %s, this board runs %s", ps->name,
			 d->impl ? d->impl : "?", old->impl ? old->impl : "?");
		return UPDATE_ERR_UNKNOWN_CLASS;
	}
	if (d->cls->nmethods < old->nmethods || d->cls->nmethods > OTT_MAX_METHODS ||
	    d->cls->state_size < sizeof(struct object) || !d->cls->ops || !d->transfer) {
		snprintf(err, errlen, "%s: new version drops methods or lacks a transfer", ps->name);
		return UPDATE_ERR_INTERFACE;
	}
	if (d->flags & ~UPDATE_FLAGS_KNOWN) {
		snprintf(err, errlen, "%s: module descriptor has unknown flags %#x", ps->name,
			 (unsigned int)(d->flags & ~UPDATE_FLAGS_KNOWN));
		return UPDATE_ERR_MALFORMED;
	}
	return UPDATE_OK;
}

static void release_steps(struct update_record *rec)
{
	for (unsigned int i = 0; i < rec->nsteps; i++) {
		struct step_work *s = &rec->steps[i];

		kfree(s->cv);
		s->cv = NULL;
		if (s->mod && !s->keep_code)
			module_free(s->mod);
		s->mod = NULL;
	}
	rec->nsteps = 0;
}

static enum update_result load_step(struct update_record *rec, unsigned int i, char *err,
				    size_t errlen)
{
	struct step_work *s = &rec->steps[i];
	const struct pack_step *ps = s->ps;
	enum update_result r;
	int rc;

	s->f = factory_find(ps->class_name);
	rc = module_load(ps->data, ps->size, ps->name, &s->mod, err, errlen);
	if (rc) {
		char why[96];

		/* Name the step, as every other rejection does. */
		strncpy(why, err, sizeof(why) - 1);
		why[sizeof(why) - 1] = '\0';
		snprintf(err, errlen, "%s: %s", ps->name, why);
		return rc == -KE_NOMEM ? UPDATE_ERR_NOMEM : UPDATE_ERR_LINK;
	}
	s->d = s->mod->desc;
	stage_begin(STAGE_DESCRIPTOR);
	r = check_desc(s->d, ps, class_before(rec, i), err, errlen);
	if (r != UPDATE_OK)
		return r;
	s->cv = kzalloc(sizeof(*s->cv));
	if (!s->cv)
		return UPDATE_ERR_NOMEM;
	class_version_init(s->cv, s->f, s->d->cls);
	s->cv->transfer = s->d->transfer;
	s->cv->transfer_back = s->d->transfer_back;
	s->cv->pure_transfer = s->d->flags & UPDATE_PURE_TRANSFER;
	s->cv->module = s->mod;
	stage_end(STAGE_DESCRIPTOR);
	if (s->d->selftest) {
		bool abandoned;

		stage_begin(STAGE_SELFTEST);
		rc = run_selftest(s->d, s->mod, &abandoned);
		stage_end(STAGE_SELFTEST);
		if (rc) {
			if (abandoned) {
				s->keep_code = true;	/* its thread frees it */
				s->mod = NULL;
			}
			snprintf(err, errlen, "%s: self-test %s", ps->name,
				 rc > 0 ? "did not finish" : rc == -KE_FAULT ? "trapped" : "failed");
			return UPDATE_ERR_SELFTEST;
		}
	}
	return UPDATE_OK;
}

static bool mode_lazy(const struct step_work *s)
{
	if (s->ps->mode == PACK_MODE_LAZY)
		return true;
	if (s->ps->mode == PACK_MODE_EAGER)
		return false;
	if (s->d->mode != UPDATE_MODE_DEFAULT)
		return s->d->mode == UPDATE_MODE_LAZY;
	return s->f->count >= LAZY_DEFAULT_MIN;
}

/* One class_work per class, in the order the pack first names it. */
static void group_classes(struct update_record *rec)
{
	rec->nclasses = 0;
	for (unsigned int i = 0; i < rec->nsteps; i++) {
		struct step_work *s = &rec->steps[i];
		struct class_work *cw = NULL;

		for (unsigned int c = 0; c < rec->nclasses; c++)
			if (rec->classes[c].f == s->f)
				cw = &rec->classes[c];
		if (!cw) {
			cw = &rec->classes[rec->nclasses++];
			memset(cw, 0, sizeof(*cw));
			cw->f = s->f;
			cw->before = s->f->cur;
			cw->from = s->ps->from;
		}
		cw->after = s->cv;
		cw->to = s->ps->to;
		cw->lazy = mode_lazy(s);
		cw->probation = true;
	}
}

static enum update_result check(struct update_record *rec, const void *pack, size_t size,
				char *err, size_t errlen)
{
	enum update_result r;
	int rc = pack_parse(pack, size, &rec->pack, err, errlen);

	if (rc)
		return pack_err_integrity(rc) ? UPDATE_ERR_INTEGRITY : UPDATE_ERR_MALFORMED;
	stage_begin(STAGE_CHAIN);
	r = chain_check(&rec->pack, KERNEL_ABI, last_seq, version_of, NULL, err, errlen);
	stage_end(STAGE_CHAIN);
	if (r != UPDATE_OK)
		return r;
	if (update_verified_hook)
		update_verified_hook(rec->pack.seq, rec->pack.nsteps);
	for (unsigned int i = 0; i < rec->pack.nsteps; i++) {
		rec->steps[i].ps = &rec->pack.steps[i];
		rec->nsteps = i + 1;
		r = load_step(rec, i, err, errlen);
		if (r != UPDATE_OK)
			return r;
	}
	group_classes(rec);
	return UPDATE_OK;
}

/* --- commit ----------------------------------------------------------- */

/* Old versions of a class that still have instances (or are current). */
static void set_old_versions(struct class_work *cw, int from_state, int to_state)
{
	struct list_head *pos;

	list_for_each(pos, &cw->f->versions) {
		struct class_version *cv = list_entry(pos, struct class_version, node);

		if (cv->state == from_state && (cv->live || cv == cw->before))
			cv_set_state(cv, to_state);
	}
}

static void link_versions(struct update_record *rec, struct class_work *cw)
{
	struct factory *f = cw->f;

	spin_lock(&f->lock);
	for (unsigned int i = 0; i < rec->nsteps; i++)
		if (rec->steps[i].f == f) {
			list_add_tail(&rec->steps[i].cv->node, &f->versions);
			rec->steps[i].mod->users++;
		}
	spin_unlock(&f->lock);
	cv_set_state(cw->after, cw->probation ? CV_PROBATION : CV_CURRENT);
	__atomic_store_n(&f->cur, cw->after, __ATOMIC_RELEASE);
}

static void log_applied(struct class_work *cw, uint64_t switch_ticks)
{
	klog("update", "applied class=%s from=%u to=%u mode=%s instances=%u apply_us=%lu "
	     "blackout_us=%lu", factory_class(cw->f)->name, cw->from, cw->to,
	     cw->lazy ? "lazy" : "eager", cw->instances,
	     (unsigned long)timer_ticks_to_us(switch_ticks + cw->convert_ticks),
	     (unsigned long)timer_ticks_to_us(convert_max_blackout_ticks(false)));
}

/* The switch: new versions in, factories swapped, old versions to CONVERT. */
static void switch_versions(struct update_record *rec)
{
	for (unsigned int c = 0; c < rec->nclasses; c++) {
		struct class_work *cw = &rec->classes[c];

		cw->instances = cw->f->count;
		link_versions(rec, cw);
		set_old_versions(cw, CV_FORWARD, CV_CONVERT);
		set_old_versions(cw, CV_CURRENT, CV_CONVERT);
	}
	last_seq = rec->pack.seq;
}

static void convert_eager(struct update_record *rec, uint64_t switched)
{
	for (unsigned int c = 0; c < rec->nclasses; c++) {
		struct class_work *cw = &rec->classes[c];

		if (!cw->lazy) {
			uint64_t t1 = rdtime();

			int rc = convert_all(cw->f, EAGER_TIMEOUT_US);

			if (rc && rc != -KE_ALREADY)	/* -KE_ALREADY: rolling back */
				klog("update", "eager conversion of %s incomplete; the rest convert lazily",
				     factory_class(cw->f)->name);
			cw->convert_ticks = rdtime() - t1;
		}
		update_last_timing.apply_ticks += cw->convert_ticks;
		if (c + 1 == rec->nclasses) {
			stage_end(STAGE_CONVERT);	/* the last `applied` line comes next */
			stage_end(STAGE_TOTAL);
		}
		log_applied(cw, switched);
	}
}

static enum update_result commit(struct update_record *rec)
{
	uint64_t t0 = rdtime(), switched;
	int rc;

	stage_begin(STAGE_QUIESCE);
	for (unsigned int c = 0; c < rec->nclasses; c++)
		set_old_versions(&rec->classes[c], CV_CURRENT, CV_FORWARD);
	rc = quiesce_barrier(QUIESCE_TIMEOUT_US);
	stage_end(STAGE_QUIESCE);
	if (rc) {
		for (unsigned int c = 0; c < rec->nclasses; c++)
			set_old_versions(&rec->classes[c], CV_FORWARD, CV_CURRENT);
		return UPDATE_ERR_TIMEOUT;
	}
	update_last_timing.quiesce_ticks = rdtime() - t0;
	t0 = rdtime();
	convert_max_blackout_ticks(true);
	/* From the first switched instance on, a fault in new code rolls back. */
	rec->failed_calls0 = convert_failed_calls;
	rec->back_failures0 = convert_back_failures;
	__atomic_store_n(&rec->phase, REC_PROBATION, __ATOMIC_RELEASE);
	{
		/* O(classes): nothing to gain from being preempted in the middle. */
		unsigned long flags = irq_save();

		stage_begin(STAGE_SWITCH);
		switch_versions(rec);
		stage_end(STAGE_SWITCH);
		switched = rdtime() - t0;
		irq_restore(flags);
	}
	update_last_timing.apply_ticks = switched;
	/* Eager conversion is O(instances): time-sliced like any long job. */
	thread_current()->urgent = false;
	stage_begin(STAGE_CONVERT);
	convert_eager(rec, switched);
	update_last_timing.max_blackout_ticks = convert_max_blackout_ticks(false);
	return UPDATE_OK;
}

/* Everything at once while the other harts are stopped (baseline only). */
static void stw_body(void *arg)
{
	struct update_record *rec = arg;

	switch_versions(rec);
	for (unsigned int c = 0; c < rec->nclasses; c++)
		convert_all_now(rec->classes[c].f);
}

static enum update_result commit_stw(struct update_record *rec)
{
	uint64_t t0 = rdtime();

	for (unsigned int c = 0; c < rec->nclasses; c++) {
		rec->classes[c].probation = false;
		rec->classes[c].lazy = false;
	}
	convert_max_blackout_ticks(true);
	update_last_timing.pause_ticks = stw_run(stw_body, rec);
	update_last_timing.apply_ticks = rdtime() - t0;
	update_last_timing.max_blackout_ticks = convert_max_blackout_ticks(false);
	for (unsigned int c = 0; c < rec->nclasses; c++)
		log_applied(&rec->classes[c], update_last_timing.apply_ticks);
	return UPDATE_OK;
}

enum update_result update_apply_pack(const void *pack, size_t size)
{
	return update_apply_pack_flags(pack, size, 0);
}

/* The apply itself; the caller's thread runs it first in line on its hart. */
static enum update_result apply_pack(const void *pack, size_t size, unsigned int flags);

enum update_result update_apply_pack_flags(const void *pack, size_t size, unsigned int flags)
{
	struct thread *t = thread_current();
	bool was_urgent = t->urgent;
	enum update_result r;

	if (__atomic_exchange_n(&update_busy, 1, __ATOMIC_ACQ_REL))
		return UPDATE_ERR_BUSY;
	/* Milliseconds of work, waited for by a network peer: not time-sliced. */
	t->urgent = true;
	r = apply_pack(pack, size, flags);
	t->urgent = was_urgent;
	return r;
}

static enum update_result apply_pack(const void *pack, size_t size, unsigned int flags)
{
	struct update_record *rec = &update_rec;
	enum update_result r;
	char err[128] = "";

	memset(rec, 0, sizeof(*rec));
	stage_reset();
	stage_begin(STAGE_TOTAL);
	rec->probation_us = (flags & UPDATE_REPLAY) ? update_replay_probation_us
						    : update_probation_us;
	r = check(rec, pack, size, err, sizeof(err));
	memset(&update_last_timing, 0, sizeof(update_last_timing));
	if (r == UPDATE_OK && !(flags & (UPDATE_REPLAY | UPDATE_STOP_THE_WORLD))) {
		/* Durable before anything changes: stored, flushed, floor raised. */
		stage_begin(STAGE_JOURNAL);
		r = persist_intent(pack, size, rec->pack.seq, err, sizeof(err));
		stage_end(STAGE_JOURNAL);
		rec->journaled = r == UPDATE_OK;
		if (rec->journaled)
			last_seq = rec->pack.seq;	/* its number is spent whatever follows */
	}
	if (r == UPDATE_OK)
		r = (flags & UPDATE_STOP_THE_WORLD) ? commit_stw(rec) : commit(rec);
	if (r != UPDATE_OK && rec->journaled)
		persist_outcome(rec->pack.seq, false, update_result_name(r));
	if (r == UPDATE_OK && rec->phase == REC_ROLLBACK) {
		/* Faulted already during the eager conversion: the monitor finishes it. */
		probation_start(rec);
		return UPDATE_OK;
	}
	if (r != UPDATE_OK) {
		char esc[4 * sizeof(err)];

		/* The detail may quote the pack (names, before it is authenticated). */
		klog("update", "rejected seq=%u reason=%s detail=\"%s\"", rec->pack.seq,
		     update_result_name(r), esc_log(esc, sizeof(esc), err));
		strncpy(last_detail, err, sizeof(last_detail) - 1);
		release_steps(rec);
		update_last_result = r;
		__atomic_store_n(&update_busy, 0, __ATOMIC_RELEASE);
		return r;
	}
	update_last_result = UPDATE_OK;
	last_detail[0] = '\0';
	probation_start(rec);	/* hands the record to the monitor, which clears busy */
	return UPDATE_OK;
}

