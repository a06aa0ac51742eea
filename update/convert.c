/*
 * Converting instances between class versions: the per-instance part of
 * a live update (K42's hot-swap phases, with the mediator folded into the
 * old version's dispatch table).
 *
 * A version's dispatch table either holds its own methods (CV_CURRENT) or
 * the lazy stubs (update/interpose.S), which call lazy_enter():
 *  FORWARD    count the call in obj->inflight and run this version's code:
 *             lets calls that started before the update drain while the
 *             engine waits for quiescence (forward phase);
 *  CONVERT    convert the instance to the factory's current version, then
 *             run the call there (block + transfer + swap + release: a
 *             call that meets an instance being converted waits for the
 *             converter, then runs on the new object);
 *  PROBATION  count and make the call retryable: a fault in the new code
 *             rolls back and the call is retried on the old version;
 *  REVERT     convert back to cv->revert_to (a rollback).
 *
 * The claim on an instance and its count of in-flight calls share one
 * word (obj->inflight, OBJ_CLAIMED), so "no call is in it" and "it is
 * mine" are decided together. A conversion only starts when the count is
 * zero and runs with interrupts off, so nothing on its hart can wait for
 * it; a call that finds the count non-zero runs on the old version
 * (counted) rather than wait, so a call re-entering its own object never
 * deadlocks. Interrupts go off before the claim is taken: an interrupt
 * handler on this hart calling the same object must never find it
 * claimed by the code it interrupted.
 *
 * A conversion that can be overtaken (forward, every transfer on the way
 * declared pure: UPDATE_PURE_TRANSFER) claims with OBJ_YIELDS as well. A
 * caller kept waiting behind it longer than CONVERT_WAIT_MAX_US (the
 * converter's hart stalled: under a hypervisor or QEMU, its host thread
 * descheduled mid-claim) takes a count on the claimed word, marks it
 * OBJ_OVERTAKEN and runs on the old version; callers after it do so at
 * once. The converter commits by a compare-and-swap from its bare claim,
 * which fails once the mark is there (even if those calls are over): it
 * then drops the new state, unclaims and tries again later. So no caller
 * waits for such a conversion longer than the bound, whatever happens to
 * the converting hart.
 *
 * Every counted call is an unwind node of its context (kernel/unwind.h):
 * a fault, a loop or a block in new code can be unwound to it and the
 * call retried. Every transfer runs under a recovery point: a fault in it
 * fails that conversion (-KE_FAULT) instead of taking its caller down; a
 * faulting transfer_back falls back to the state kept at conversion time.
 * During a rollback, a caller that must not wait (interrupts off, an
 * interrupt handler) for calls still in an instance runs on the new code,
 * counted and retryable, instead of spinning behind them.
 *
 * The eager walk over a factory's instances (convert_all and friends) is
 * update/convert_walk.c.
 *
 * Locking: f->lock for the instance list and counters; a commit takes the
 * OTT's lock inside it (publish), nothing takes them the other way round.
 */
#include <string.h>
#include <kernel/convert.h>
#include <kernel/update_engine.h>
#include <kernel/object.h>
#include <kernel/thread.h>
#include <kernel/hart.h>
#include <kernel/mem.h>
#include <kernel/defer.h>
#include <kernel/riscv.h>
#include <kernel/log.h>
#include <kernel/timer.h>
#include <kernel/errno.h>
#include <kernel/stage_stats.h>
#include <kernel/unwind.h>

#define COOKIE_PROBATION UNW_PROBATION
/*
 * How long a caller waits for an overtakable conversion before it runs on
 * the old version instead: a few times the longest conversion seen under
 * QEMU with every hart busy (p99 about 26 us, make bench's blackout), far
 * below a stop-the-world pause.
 */
#define CONVERT_WAIT_MAX_US	50

volatile uint64_t convert_failed_calls;
/* transfer_back calls that faulted or failed (the kept state was used instead). */
volatile uint64_t convert_back_failures;


struct blackout_stats blackout_stats;

void blackout_stats_reset(void)
{
	memset(&blackout_stats, 0, sizeof(blackout_stats));
}

static void atomic_max(volatile uint64_t *slot, uint64_t v)
{
	uint64_t cur = __atomic_load_n(slot, __ATOMIC_RELAXED);

	while (v > cur && !__atomic_compare_exchange_n(slot, &cur, v, false, __ATOMIC_ACQ_REL,
						       __ATOMIC_RELAXED))
		;
}

static void bucket(uint64_t *hist, uint64_t ticks)
{
	int b = 0;

	while (ticks >> (b + 1) && b < BLACKOUT_BUCKETS - 1)
		b++;
	__atomic_add_fetch(&hist[b], 1, __ATOMIC_RELAXED);
}

uint64_t convert_max_blackout_ticks(bool reset)
{
	uint64_t *m = &blackout_stats.max_conversion;

	return reset ? __atomic_exchange_n(m, 0, __ATOMIC_ACQ_REL) : __atomic_load_n(m, __ATOMIC_ACQUIRE);
}

static void note_blackout(uint64_t ticks)
{
	atomic_max(&blackout_stats.max_conversion, ticks);
	bucket(blackout_stats.conversions, ticks);
}

static void note_wait(uint64_t ticks)
{
	atomic_max(&blackout_stats.max_wait, ticks);
	bucket(blackout_stats.waits, ticks);
}

void cv_set_state(struct class_version *cv, int state)
{
	const ott_method_t *real = cv->cls->ops;

	if (state == CV_CURRENT) {
		for (uint32_t i = 0; i < OTT_MAX_METHODS; i++)
			cv->dispatch[i] = i < cv->cls->nmethods && real[i] ? real[i]
						: (ott_method_t)object_nosys;
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		__atomic_store_n(&cv->state, state, __ATOMIC_RELEASE);
		return;
	}
	/* State first: a call that enters a stub must find what to do. */
	__atomic_store_n(&cv->state, state, __ATOMIC_RELEASE);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	for (uint32_t i = 0; i < OTT_MAX_METHODS; i++)
		cv->dispatch[i] = lazy_stub_ops[i];
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

static ott_method_t method_of(const struct class_version *cv, unsigned long m)
{
	const ott_method_t *ops = cv->cls->ops;

	return m < cv->cls->nmethods && ops[m] ? ops[m] : (ott_method_t)object_nosys;
}

static bool count_in(struct object *obj)
{
	uint32_t w = __atomic_load_n(&obj->inflight, __ATOMIC_ACQUIRE);

	while (!(w & OBJ_CLAIMED))
		if (__atomic_compare_exchange_n(&obj->inflight, &w, w + 1, false,
						__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
			return true;
	return false;
}

/* A call node's object. */
static struct object *node_obj(const struct unwind_node *n)
{
	return (struct object *)(uintptr_t)(n->cookie & ~COOKIE_PROBATION);
}

/*
 * Runs a transfer under a recovery point: a fault in it (new code) comes
 * back here as -KE_FAULT, with whatever it took released.
 */
static int run_transfer(transfer_fn fn, const struct object *from, struct object *to,
			const struct class_version *cv)
{
	struct recover_point rp;
	int rc;

	recover_push(&rp, RECOVER_TRANSFER, cv);
	if (!recover_save(rp.regs)) {
		rc = fn(from, to);
		recover_pop(&rp);
	} else {
		rc = -KE_FAULT;
	}
	return rc;
}

static struct class_version *version_by_number(struct factory *f, uint32_t v)
{
	struct list_head *pos;

	list_for_each(pos, &f->versions) {
		struct class_version *cv = list_entry(pos, struct class_version, node);

		if (cv->cls->version == v)
			return cv;
	}
	return NULL;
}

static struct object *new_state(const struct object *old, struct class_version *cv)
{
	struct object *n = kzalloc(cv->cls->state_size);

	if (n) {
		n->ops = cv->dispatch;
		n->factory = old->factory;
		n->slot = old->slot;
		n->version = cv->cls->version;
		list_init(&n->node);
	}
	return n;
}

/* Forward: runs every transfer from @old's version up to @to. 0, -KE_NOMEM, -KE_FAULT. */
static int build_forward(struct object *old, struct class_version *to, struct object **out)
{
	struct factory *f = old->factory;
	struct object *cur = old;

	for (uint32_t v = old->version + 1; v <= to->cls->version; v++) {
		struct class_version *cv = version_by_number(f, v);
		struct object *n = cv ? new_state(cur, cv) : NULL;
		int rc = n && cv->transfer ? run_transfer(cv->transfer, cur, n, cv) : -KE_NOMEM;

		if (rc) {
			kfree(n);
			n = NULL;
		}
		if (cur != old)
			kfree(cur);
		if (!n)
			return rc == -KE_FAULT ? -KE_FAULT : -KE_NOMEM;
		cur = n;
	}
	cur->ops = to->dispatch;
	*out = cur;
	return 0;
}

/* Did every version from @obj's down to just above @to bring a transfer_back? */
static bool all_back(const struct object *obj, const struct class_version *to)
{
	for (uint32_t v = obj->version; v > to->cls->version; v--) {
		struct class_version *cv = version_by_number(obj->factory, v);

		if (!cv || !cv->transfer_back)
			return false;
	}
	return true;
}

/* A fresh state of @to for @obj (born in a newer version): zeroed, then init. */
static struct object *fresh_state(struct object *obj, struct class_version *to)
{
	struct object *n = new_state(obj, to);

	if (n && to->cls->init && to->cls->init(n, NULL)) {
		kfree(n);
		n = NULL;
	}
	return n;
}

/*
 * Back to @to: into the state kept at conversion time (or, for an instance
 * born in a newer version, a fresh one), brought up to date through every
 * version's transfer_back, step by step, when all of them have one.
 * Without them the kept state stays as it was (docs/live-update.md), and a
 * newborn is initialised afresh. A transfer_back that faults or fails is
 * treated the same way: the kept state as it was, or a fresh one.
 */
static struct object *build_back(struct object *obj, struct class_version *to)
{
	bool back = all_back(obj, to);
	struct object *cur = obj, *target = obj->prev;
	size_t body = to->cls->state_size - sizeof(struct object);
	void *snap = NULL;
	bool failed = false;

	if (!target) {
		target = back ? new_state(obj, to) : fresh_state(obj, to);
		if (!target)
			return NULL;
	} else if (back) {
		/* The kept state as it was, should its transfer_back fail half-way. */
		snap = kmalloc(body ? body : 1);
		if (!snap)
			return NULL;
		memcpy(snap, target + 1, body);
	}
	for (uint32_t v = obj->version; back && v > to->cls->version; v--) {
		struct class_version *cv = version_by_number(obj->factory, v);
		struct object *next = v - 1 == to->cls->version ? target
				      : new_state(cur, version_by_number(obj->factory, v - 1));

		if (!next || run_transfer(cv->transfer_back, cur, next, cv)) {
			if (next != target)
				kfree(next);
			next = NULL;
		}
		if (cur != obj)
			kfree(cur);
		if (!next) {
			failed = true;
			break;
		}
		cur = next;
	}
	if (failed) {
		__atomic_add_fetch(&convert_back_failures, 1, __ATOMIC_RELAXED);
		if (snap) {
			memcpy(target + 1, snap, body);
		} else {
			/* A newborn half written by the failed step: afresh. */
			kfree(target);
			target = fresh_state(obj, to);
		}
	}
	kfree(snap);
	if (!target)
		return NULL;
	target->ops = to->dispatch;
	target->version = to->cls->version;
	target->slot = obj->slot;
	__atomic_store_n(&target->inflight, 0, __ATOMIC_RELEASE);
	return target;
}

/*
 * Puts @n in @old's place: OTT slot, list, counters. -KE_BUSY if a caller
 * overtook the claim first (@old is still the live state, with calls in
 * it); -KE_STALE if @old was destroyed meanwhile (factory_destroy frees
 * the slot and unlinks it under f->lock: @n must not take its place).
 * Lock order: f->lock, then the OTT's.
 */
static int publish(struct object *old, struct object *n, struct class_version *from,
		   struct class_version *to, uint32_t claim)
{
	struct factory *f = old->factory;
	uint32_t w = claim;
	int rc = 0;

	spin_lock(&f->lock);
	ott_lock(&kernel_ott);
	/*
	 * The commit point. Both locks are held first, so that between it and
	 * the slot's store (which lets waiting callers go) nothing can wait:
	 * a hart stalled holding either lock stalls us before it, while the
	 * callers may still overtake.
	 */
	if (ott_slot_object(&kernel_ott, old->slot) != old)
		rc = -KE_STALE;
	else if (!__atomic_compare_exchange_n(&old->inflight, &w, OBJ_CLAIMED, false,
					      __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		rc = -KE_BUSY;
	if (rc) {
		ott_unlock(&kernel_ott);
		spin_unlock(&f->lock);
		return rc;
	}
	ott_replace_locked(&kernel_ott, ott_slot_ref(&kernel_ott, old->slot), n);
	ott_unlock(&kernel_ott);
	list__insert(&n->node, old->node.prev, old->node.next);
	list_init(&old->node);
	from->live--;
	to->live++;
	f->converted++;
	spin_unlock(&f->lock);
	return 0;
}

/* May a conversion of @obj up to @to be overtaken (every transfer on the way only reads)? */
static bool transfers_pure(const struct object *obj, const struct class_version *to)
{
	for (uint32_t v = obj->version + 1; v <= to->cls->version; v++) {
		const struct class_version *cv = version_by_number(obj->factory, v);

		if (!cv || !cv->pure_transfer)
			return false;
	}
	return true;
}

/* Drops the claim on @old, keeping the counts of calls that overtook it. */
static uint32_t unclaim(struct object *old)
{
	return __atomic_fetch_and(&old->inflight, ~(OBJ_CLAIMED | OBJ_YIELDS | OBJ_OVERTAKEN),
				  __ATOMIC_ACQ_REL);
}

/*
 * Decides what becomes of @old (@back: a revert), then publishes @n built
 * from it. All of it before the publish: once @n is published, another
 * hart may revert it at once, reusing @old as the live state again (and
 * clearing n->prev). 0 with *free_old set if @old is to go; -KE_BUSY if a
 * caller overtook the claim meanwhile (@n is dropped, @old stays live);
 * -KE_STALE if @old was destroyed meanwhile (@n is dropped, @old goes with
 * its destroy).
 */
static int settle(struct object *old, struct object *n, struct class_version *from,
		  struct class_version *to, uint32_t claim, bool back, bool *free_old)
{
	int rc;

	if (back) {
		if (old->prev == n)
			old->prev = NULL;
		*free_old = true;
	} else if (__atomic_load_n(&to->state, __ATOMIC_ACQUIRE) != CV_CURRENT) {
		n->prev = old;		/* kept for a rollback */
	} else {
		*free_old = true;
	}
	rc = publish(old, n, from, to, claim);
	if (!rc)
		return 0;
	/* Overtaken: its calls decide nothing here; the walk counts it busy, comes back. */
	if (rc == -KE_BUSY)
		__atomic_add_fetch(&blackout_stats.abandoned, 1, __ATOMIC_RELAXED);
	*free_old = false;
	if (n->prev == old)
		n->prev = NULL;
	if (!(n->flags & OBJ_STATIC))	/* (a revert's kept state may be a static one) */
		kfree(n);
	return rc;
}

int convert_instance(struct object *old, struct object **out)
{
	struct class_version *from = object_version(old);
	bool back = from->state == CV_REVERT;
	struct class_version *to = back ? from->revert_to : old->factory->cur;
	uint32_t zero = 0, claim;
	unsigned long flags;
	bool free_old = false;
	struct object *n = NULL;
	uint64_t t0, i0;
	int rc;

	if (to == from)
		return -KE_EXIST;	/* already where conversions lead (after a rollback) */
	if (!back && (old->flags & OBJ_NOCONVERT))
		return -KE_FAULT;	/* its transfer faulted after probation: it stays */
	if (__atomic_load_n(&old->inflight, __ATOMIC_ACQUIRE) & OBJ_CLAIMED)
		return -KE_ALREADY;
	/*
	 * Off before the claim: no handler here may find it claimed by us, and
	 * no preemption may leave it claimed.
	 */
	claim = OBJ_CLAIMED | (!back && transfers_pure(old, to) ? OBJ_YIELDS : 0);
	flags = irq_save();
	if (!__atomic_compare_exchange_n(&old->inflight, &zero, claim, false,
					 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		irq_restore(flags);
		return (zero & OBJ_CLAIMED) ? -KE_ALREADY : -KE_BUSY;
	}
	if (ott_slot_object(&kernel_ott, old->slot) != old) {
		/* Destroyed under its caller: nothing to convert, the slot is not ours. */
		unclaim(old);
		irq_restore(flags);
		return -KE_STALE;
	}
	t0 = rdtime();
	i0 = rdinstret();
	this_hart()->converting = old;
	if (back) {
		n = build_back(old, to);
		rc = n ? 0 : -KE_NOMEM;
	} else {
		rc = build_forward(old, to, &n);
	}
	if (!rc && (rc = settle(old, n, from, to, claim, back, &free_old)))
		n = NULL;
	if (rc && !(unclaim(old) & OBJ_OVERTAKEN)) {
		/*
		 * After probation nothing can roll back: this one stays where it
		 * is (unless a caller overtook the claim: the fault may come from
		 * reading state that call was changing).
		 */
		if (rc == -KE_FAULT && __atomic_load_n(&to->state, __ATOMIC_ACQUIRE) == CV_CURRENT)
			old->flags |= OBJ_NOCONVERT;
	}
	this_hart()->converting = NULL;
	note_blackout(rdtime() - t0);
	stage_first_conversion(rdinstret() - i0, rdtime() - t0);
	irq_restore(flags);
	if (rc)
		return rc;
	/* Old state goes once no call can still hold it, unless kept for a rollback. */
	if (free_old && !(old->flags & OBJ_STATIC) && old != n)
		object_free_deferred(old);
	*out = n;
	return 0;
}

/*
 * Waits until @self is converted by someone else, or is unclaimed (with
 * @drain: until no call is in it either), and returns what now sits in
 * its slot (@self if it is still there). A conversion that yields is
 * overtaken after CONVERT_WAIT_MAX_US, or at once if another caller did
 * already: then *@in is set, the call counted in @self, which stays live.
 */
static struct object *follow(struct object *self, bool drain, bool *in)
{
	uint64_t t0 = rdtime(), limit = t0 + timer_us_to_ticks(CONVERT_WAIT_MAX_US);
	bool waited = false;
	struct object *n;
	uint32_t w;

	*in = false;
	while ((n = ott_slot_object(&kernel_ott, self->slot)) == self &&
	       (w = __atomic_load_n(&self->inflight, __ATOMIC_ACQUIRE)) &&
	       (drain || (w & OBJ_CLAIMED))) {
		waited = true;
		/* OBJ_YIELDS goes with the claim: at the commit or the unclaim. */
		if ((w & OBJ_YIELDS) && ((w & OBJ_OVERTAKEN) || rdtime() >= limit) &&
		    __atomic_compare_exchange_n(&self->inflight, &w, (w | OBJ_OVERTAKEN) + 1, false,
						__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
			__atomic_add_fetch(&blackout_stats.overtakes, 1, __ATOMIC_RELAXED);
			*in = true;
			break;
		}
	}
	if (waited)
		note_wait(rdtime() - t0);
	return n;
}

/*
 * For a context that must not wait for the calls still in an instance
 * being reverted (see can_wait): they are mostly short calls on other
 * harts, so spin a little. Returns what sits in the slot then (@self
 * while it is still busy, or free again: the caller looks again).
 */
#define NOWAIT_SPIN_US 2000

static struct object *follow_briefly(struct object *self)
{
	uint64_t end = rdtime() + timer_us_to_ticks(NOWAIT_SPIN_US);
	struct object *n;

	while ((n = ott_slot_object(&kernel_ott, self->slot)) == self &&
	       __atomic_load_n(&self->inflight, __ATOMIC_ACQUIRE) && rdtime() < end)
		;
	return n;
}

/* Is a counted call into @obj already open in this context (re-entry)? */
static bool in_chain(const struct object *obj)
{
	for (struct unwind_node *n = *unwind_chain(); n; n = n->prev)
		if (n->kind == UNW_CALL && node_obj(n) == obj)
			return true;
	return false;
}

/*
 * May this context wait for calls still in an instance? Only a thread
 * that can be preempted: the calls may belong to a thread preempted on
 * this very hart, which runs again only if this one lets it.
 */
static bool can_wait(void)
{
	struct hart *h = this_hart();

	return h->cur && h->irq_level == 0 && h->irq_depth == 0 && irq_enabled();
}

/* Joins the current probation epoch of @cv (see convert_flip_epoch). */
static void epoch_enter(struct class_version *cv, struct unwind_node *n)
{
	for (;;) {
		uint32_t e = __atomic_load_n(&cv->epoch, __ATOMIC_SEQ_CST) & 1;

		__atomic_add_fetch(&cv->probation_calls[e], 1, __ATOMIC_SEQ_CST);
		if ((__atomic_load_n(&cv->epoch, __ATOMIC_SEQ_CST) & 1) == e) {
			n->epoch = e;
			return;
		}
		/* Flipped meanwhile: the monitor may have seen the old one empty. */
		__atomic_sub_fetch(&cv->probation_calls[e], 1, __ATOMIC_SEQ_CST);
	}
}

void convert_flip_epoch(struct class_version *cv)
{
	__atomic_add_fetch(&cv->epoch, 1, __ATOMIC_SEQ_CST);
}

uint32_t convert_probation_calls(const struct class_version *cv, unsigned int epoch)
{
	return __atomic_load_n(&cv->probation_calls[epoch & 1], __ATOMIC_SEQ_CST);
}

struct class_version *convert_call_version(const struct unwind_node *n)
{
	return object_version(node_obj(n));
}

/* Runs @m of @cv on @self as a counted, unwindable call. */
static ott_method_t counted(struct object *self, struct class_version *cv, unsigned long m,
			    struct ip_frame *f, bool probation)
{
	struct unwind_node **top = unwind_chain();

	f->node.kind = UNW_CALL;
	f->node.cookie = (uintptr_t)self | (probation ? COOKIE_PROBATION : 0);
	unwind_mark(&f->node);
	if (probation) {
		f->node.t0 = rdtime();
		f->node.ticks = 0;
		epoch_enter(cv, &f->node);
	}
	f->node.prev = *top;
	*top = &f->node;
	return method_of(cv, m);
}

/* What a call that cannot be run anywhere during a rollback answers. */
static long object_busy(struct object *self, ...)
{
	return -KE_BUSY;
}

/*
 * A conversion that cannot be done now (no memory, a transfer that failed
 * or faulted, calls still in an instance that is converting forward, or a
 * call nested in one of those) must not hold the call: it runs where it
 * is, counted.
 */
static bool runs_where_it_is(int err, int state, const struct object *self)
{
	return err == -KE_EXIST || err == -KE_NOMEM || err == -KE_FAULT ||
	       (err == -KE_BUSY && (state == CV_CONVERT || in_chain(self)));
}

ott_method_t lazy_enter(struct object *self, unsigned long m, struct ip_frame *f);
ott_method_t lazy_enter(struct object *self, unsigned long m, struct ip_frame *f)
{
	for (;;) {
		struct class_version *cv = object_version(self);
		int state = __atomic_load_n(&cv->state, __ATOMIC_ACQUIRE);
		struct object *n = NULL;
		bool in;
		int err;

		f->node.cookie = 0;
		f->node.prev = NULL;
		if (state == CV_CURRENT || this_hart()->converting == self)
			return method_of(cv, m);	/* transfer re-entering: uncounted */
		if (state == CV_FORWARD || state == CV_PROBATION) {
			if (count_in(self))
				return counted(self, cv, m, f, state == CV_PROBATION);
		} else {
			err = convert_instance(self, &n);
			if (!err) {
				f->a[0] = (uint64_t)n;
				return ((const ott_method_t *)n->ops)[m];
			}
			if (err == -KE_STALE)
				return (ott_method_t)ott_stale_method;
			/* Code being reverted still runs under probation: a fault retries. */
			if (runs_where_it_is(err, state, self) && count_in(self))
				return counted(self, cv, m, f, state == CV_REVERT);
			if (err == -KE_BUSY && state == CV_REVERT && !can_wait()) {
				/*
				 * Calls still in it, and this context must not spin
				 * behind them for long (one may be preempted on this
				 * very hart): a short spin, then run on the new code
				 * once more, unless this call already faulted there
				 * during the rollback.
				 */
				n = follow_briefly(self);
				if (n != self) {
					if (!n)
						return (ott_method_t)ott_stale_method;
					f->a[0] = (uint64_t)n;
					return ((const ott_method_t *)n->ops)[m];
				}
				if (!(__atomic_load_n(&self->inflight, __ATOMIC_ACQUIRE) & ~OBJ_CLAIMED))
					continue;	/* drained: convert it back now */
				if (f->node.faults >= 2) {
					__atomic_add_fetch(&convert_failed_calls, 1, __ATOMIC_RELAXED);
					return (ott_method_t)object_busy;
				}
				if (count_in(self))
					return counted(self, cv, m, f, true);
			}
		}
		n = follow(self, state == CV_REVERT, &in);
		if (in)
			return counted(self, cv, m, f, state == CV_PROBATION);	/* overtook a conversion */
		if (!n)
			return (ott_method_t)ott_stale_method;
		if (n != self) {
			f->a[0] = (uint64_t)n;
			return ((const ott_method_t *)n->ops)[m];
		}
	}
}

/* Undoes a linked call's counts (its version first: the object may convert after). */
static void call_done(struct unwind_node *n)
{
	struct object *obj = node_obj(n);

	if (n->cookie & COOKIE_PROBATION)
		__atomic_sub_fetch(&object_version(obj)->probation_calls[n->epoch], 1,
				   __ATOMIC_SEQ_CST);
	__atomic_sub_fetch(&obj->inflight, 1, __ATOMIC_ACQ_REL);
}

void convert_call_dropped(struct unwind_node *n)
{
	call_done(n);
}

long lazy_exit(struct ip_frame *f, long result);
long lazy_exit(struct ip_frame *f, long result)
{
	if (f->node.cookie) {
		struct unwind_node **top = unwind_chain();

		/* Anything a method left open above its own call goes with it. */
		if (*top != &f->node)
			unwind_drop(&f->node);
		*top = f->node.prev;
		call_done(&f->node);
	}
	return result;
}

void convert_abandon(struct ip_frame *target)
{
	/* Calls nested inside the faulted one die with it. */
	unwind_drop(target->node.prev);
}

struct ip_frame *convert_find_frame(const struct class_version *cv)
{
	uint32_t level = this_hart()->irq_level;

	for (struct unwind_node *n = *unwind_chain(); n && n->level == level; n = n->prev)
		if (n->kind == UNW_CALL && (n->cookie & COOKIE_PROBATION) &&
		    object_version(node_obj(n)) == cv)
			return ip_frame_of(n);
	return NULL;
}
