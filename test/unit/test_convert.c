// unit-srcs: update/convert.c update/convert_walk.c src/unwind.c src/factory.c src/ott.c test/unit/host_stubs.c test/unit/hostinc/host_target.c
// unit-libs: -lpthread
// unit-cflags: -Itest/unit/hostinc
/*
 * Host tests of the lazy-update state machine (update/convert.c): the
 * per-version dispatch states (CURRENT, FORWARD, CONVERT, PROBATION,
 * REVERT), counting calls per instance, converting an instance on its next
 * call (transfer chain, OTT slot, list position, live counts, deferred
 * free), re-entrant calls, the claim protocol, probation frames
 * (find/abandon and a retried call after an emulated fault), rollback
 * (kept state reused, transfer_back, fresh state from init), convert_all
 * and friends, blackout figures, and concurrent cases with a second
 * pthread playing another hart (a caller waiting for a converter whose
 * transfer is not declared pure, one overtaking a stalled converter whose
 * transfer is, a stress run of that, a reverting caller waiting for a
 * count to drain).
 *
 * Target-only pieces are stood in for:
 *  - test/unit/hostinc/kernel/hart.h: this_hart() returns host_cur_hart
 *    (thread-local), pointed at harts[0] or harts[1];
 *  - test/unit/hostinc/kernel/riscv.h: a fake clock and interrupt flag;
 *  - lazy_stub_ops (update/interpose.S): 32 C stubs below that keep
 *    interpose.S's contract: a struct ip_frame on the stub's stack holding
 *    the arguments, fn = lazy_enter(a0, N, &frame), fn(frame.a0, a1..),
 *    lazy_exit(&frame, result). Each frame also has a jmp_buf standing in
 *    for ip_retry: an emulated fault longjmps back to just before
 *    lazy_enter, as update_fault() resumes a call at ip_retry;
 *  - thread_yield/thread_quiescent: counted; thread_yield advances the
 *    fake clock and may run a test's hook.
 * The OTT (src/ott.c) and factories (src/factory.c) are the real ones;
 * kmalloc, locks and the deferred free are host_stubs.c's doubles.
 *
 * Tests named test_bug_* pin down bugs these tests found in
 * update/convert.c and src/factory.c, fixed since.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <cmocka.h>

#include <kernel/convert.h>
#include <kernel/update_engine.h>
#include <kernel/object.h>
#include <kernel/ott.h>
#include <kernel/thread.h>
#include <kernel/hart.h>
#include <kernel/riscv.h>
#include <kernel/timer.h>
#include <kernel/mem.h>
#include <kernel/errno.h>
#include <kernel/trap.h>
#include <kernel/unwind.h>
#include "host_stubs.h"

#define NSLOTS		64
#define BIG_N		10000
#define TIMER_HZ_HOST	10000000ULL	/* 10 MHz, as QEMU virt */

/* ---- what convert.c needs from the kernel ------------------------------------- */

uint64_t timer_freq_hz = TIMER_HZ_HOST;
char ip_retry[4];

static unsigned long yields, quiescents;
static void (*yield_hook)(unsigned long nth);
static uint64_t yield_ticks = 1000;	/* fake time a yield lets pass */

void thread_yield(void)
{
	yields++;
	__atomic_add_fetch(&host_clock, yield_ticks, __ATOMIC_SEQ_CST);
	if (yield_hook)
		yield_hook(yields);
}

void thread_quiescent(void)
{
	quiescents++;
}

/* Not static in convert.c, declared there only. */
ott_method_t lazy_enter(struct object *self, unsigned long m, struct ip_frame *f);
long lazy_exit(struct ip_frame *f, long result);

/* ---- the lazy stubs, interpose.S in C ------------------------------------------ */

struct host_ip {
	struct ip_frame f;
	jmp_buf retry;		/* ip_retry: back to just before lazy_enter */
};

static unsigned long stub_calls, stub_retries;

static long lazy_common(unsigned int n, struct object *self, uintptr_t a1, uintptr_t a2,
			uintptr_t a3, uintptr_t a4, uintptr_t a5)
{
	struct host_ip ip;
	ott_method_t fn;
	long r;

	memset(&ip, 0, sizeof(ip));
	ip.f.ra = (uintptr_t)__builtin_return_address(0);
	ip.f.a[0] = (uintptr_t)self;
	ip.f.a[1] = a1;
	ip.f.a[2] = a2;
	ip.f.a[3] = a3;
	ip.f.a[4] = a4;
	ip.f.a[5] = a5;
	ip.f.enter = (uintptr_t)lazy_enter;
	ip.f.exit = (uintptr_t)lazy_exit;
	ip.f.method = n;
	__atomic_add_fetch(&stub_calls, 1, __ATOMIC_RELAXED);
	if (setjmp(ip.retry))
		stub_retries++;
	fn = lazy_enter((struct object *)ip.f.a[0], ip.f.method, &ip.f);
	r = ((host_method_t)(void (*)(void))fn)((struct object *)ip.f.a[0], ip.f.a[1], ip.f.a[2],
						 ip.f.a[3], ip.f.a[4], ip.f.a[5]);
	return lazy_exit(&ip.f, r);
}

/* interpose.S's ip_resume: retry the call whose frame holds @n (a block in it). */
void ip_resume(struct unwind_node *n)
{
	longjmp(container_of(ip_frame_of(n), struct host_ip, f)->retry, 1);
}

#define LAZY_STUB(n)								\
static long lazy_stub_##n(struct object *self, uintptr_t a1, uintptr_t a2,	\
			  uintptr_t a3, uintptr_t a4, uintptr_t a5)		\
{										\
	return lazy_common((n), self, a1, a2, a3, a4, a5);			\
}
LAZY_STUB(0)  LAZY_STUB(1)  LAZY_STUB(2)  LAZY_STUB(3)  LAZY_STUB(4)  LAZY_STUB(5)
LAZY_STUB(6)  LAZY_STUB(7)  LAZY_STUB(8)  LAZY_STUB(9)  LAZY_STUB(10) LAZY_STUB(11)
LAZY_STUB(12) LAZY_STUB(13) LAZY_STUB(14) LAZY_STUB(15) LAZY_STUB(16) LAZY_STUB(17)
LAZY_STUB(18) LAZY_STUB(19) LAZY_STUB(20) LAZY_STUB(21) LAZY_STUB(22) LAZY_STUB(23)
LAZY_STUB(24) LAZY_STUB(25) LAZY_STUB(26) LAZY_STUB(27) LAZY_STUB(28) LAZY_STUB(29)
LAZY_STUB(30) LAZY_STUB(31)

#define S(n) (ott_method_t)(void (*)(void))lazy_stub_##n
const ott_method_t lazy_stub_ops[OTT_MAX_METHODS] = {
	S(0),  S(1),  S(2),  S(3),  S(4),  S(5),  S(6),  S(7),  S(8),  S(9),  S(10),
	S(11), S(12), S(13), S(14), S(15), S(16), S(17), S(18), S(19), S(20), S(21),
	S(22), S(23), S(24), S(25), S(26), S(27), S(28), S(29), S(30), S(31),
};
#undef S

/* ---- harts ---------------------------------------------------------------------- */

static struct thread fake_thread;

static void use_hart(unsigned int h)
{
	host_cur_hart = &harts[h];
	host_set_hart(&kernel_ott, h);
}

static struct unwind_node **chain(void)
{
	struct hart *h = this_hart();

	return h->cur ? (struct unwind_node **)&h->cur->ip_top : (struct unwind_node **)&h->ip_top;
}

static unsigned int chain_len(void)
{
	unsigned int n = 0;

	for (struct unwind_node *f = *chain(); f; f = f->prev)
		n++;
	return n;
}

/* ---- the class: a counter in three versions ------------------------------------- */

struct ctr_ops {
	long (*get)(struct object *self);
	long (*add)(struct object *self, long d);
	long (*reenter)(struct object *self, long depth);
	long (*hook)(struct object *self, long arg);
	long (*ver)(struct object *self);	/* from v2 on */
};
CLASS_OPS_CHECK(struct ctr_ops);
enum { M_GET, M_ADD, M_REENTER, M_HOOK, M_VER };

struct ctr {
	struct object obj;
	long value;
	ott_ref_t ref;		/* its own reference, for calls back into itself */
	long extra[4];		/* v2 uses 2, v3 all 4: states differ in size */
};

static struct ctr *st(struct object *o)
{
	return (struct ctr *)o;
}

/* What the last method saw. */
static int last_version;
static struct object *last_self;
static uint32_t last_inflight;
static struct unwind_node *last_top;	/* compare only: dead after the call */
static struct ip_frame last_frame;	/* copy of *last_top while it was live */
static bool last_irq_on;
static unsigned long ran[4];

/* reenter(): per depth, the count seen on the way in and the top frame. */
#define MAX_DEPTH 8
static uint32_t inflight_at[MAX_DEPTH];
static struct unwind_node *top_at[MAX_DEPTH], *top_prev_at[MAX_DEPTH];
static unsigned int chain_len_at[MAX_DEPTH];

/* hook(): what the test wants done inside a method. */
static long (*hook_fn)(struct object *self, int version, long arg);

static void note(struct object *self, int v)
{
	last_version = v;
	last_self = self;
	last_inflight = __atomic_load_n(&self->inflight, __ATOMIC_ACQUIRE);
	last_top = *chain();
	if (last_top)
		last_frame = *ip_frame_of(last_top);
	else
		memset(&last_frame, 0, sizeof(last_frame));
	last_irq_on = host_irq_on;
	ran[v]++;
}

static long r_get(ott_ref_t r)
{
	return OTT_CALL(r, struct ctr_ops, get);
}

static long r_add(ott_ref_t r, long d)
{
	return OTT_CALL(r, struct ctr_ops, add, d);
}

static long r_reenter(ott_ref_t r, long depth)
{
	return OTT_CALL(r, struct ctr_ops, reenter, depth);
}

static long r_hook(ott_ref_t r, long arg)
{
	return OTT_CALL(r, struct ctr_ops, hook, arg);
}

static long r_ver(ott_ref_t r)
{
	return OTT_CALL(r, struct ctr_ops, ver);
}

/* A call through an object pointer a caller loaded earlier (no OTT). */
static long o_get(struct object *o)
{
	return ((const struct ctr_ops *)o->ops)->get(o);
}

static long o_add(struct object *o, long d)
{
	return ((const struct ctr_ops *)o->ops)->add(o, d);
}

static long do_reenter(struct object *self, int v, long depth)
{
	long r = 0;

	note(self, v);
	if (depth >= 0 && depth < MAX_DEPTH) {
		inflight_at[depth] = self->inflight;
		top_at[depth] = *chain();
		top_prev_at[depth] = top_at[depth] ? top_at[depth]->prev : NULL;
		chain_len_at[depth] = chain_len();
	}
	if (depth > 0)
		r = r_reenter(st(self)->ref, depth - 1);
	return r + 1;
}

#define CTR_METHODS(V)								\
static long get_v##V(struct object *self)					\
{										\
	note(self, V);								\
	return st(self)->value;							\
}										\
static long add_v##V(struct object *self, long d)				\
{										\
	note(self, V);								\
	st(self)->value += d;							\
	return st(self)->value;							\
}										\
static long reenter_v##V(struct object *self, long depth)			\
{										\
	return do_reenter(self, V, depth);					\
}										\
static long hook_v##V(struct object *self, long arg)				\
{										\
	note(self, V);								\
	return hook_fn ? hook_fn(self, V, arg) : 0;				\
}
CTR_METHODS(1)
CTR_METHODS(2)
CTR_METHODS(3)

static long ver_v2(struct object *self)
{
	note(self, 2);
	return 2;
}

static long ver_v3(struct object *self)
{
	note(self, 3);
	return 3;
}

static const struct ctr_ops ops_v1 = { get_v1, add_v1, reenter_v1, hook_v1, NULL };
static const struct ctr_ops ops_v2 = { get_v2, add_v2, reenter_v2, hook_v2, ver_v2 };
static const struct ctr_ops ops_v3 = { get_v3, add_v3, reenter_v3, hook_v3, ver_v3 };

static unsigned int init_calls;
static bool init_saw_nonzero;

static int ctr_init(struct object *self, const void *arg)
{
	struct ctr *c = st(self);

	init_calls++;
	if (c->value)
		init_saw_nonzero = true;
	c->value = arg ? *(const long *)arg : -1;
	return 0;
}

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
static struct xfer xfers[MAX_XFER], backs[MAX_XFER];
static unsigned long nxfers, nbacks;
static int (*xfer_hook)(const struct object *old, struct object *new);

static void record(struct xfer *log, unsigned long *n, const struct object *old, struct object *new)
{
	if (*n < MAX_XFER)
		log[*n] = (struct xfer){ old, new, old->version, new->version, host_irq_on,
					 this_hart()->converting, old->inflight };
	(*n)++;
}

static int ctr_transfer(const struct object *old, struct object *new)
{
	record(xfers, &nxfers, old, new);
	st(new)->value = ((const struct ctr *)old)->value;
	st(new)->ref = ((const struct ctr *)old)->ref;
	return xfer_hook ? xfer_hook(old, new) : 0;
}

static int (*back_hook)(const struct object *obj, struct object *prev);

static int ctr_transfer_back(const struct object *obj, struct object *prev)
{
	record(backs, &nbacks, obj, prev);
	st(prev)->value = ((const struct ctr *)obj)->value;
	st(prev)->ref = ((const struct ctr *)obj)->ref;
	return back_hook ? back_hook(obj, prev) : 0;
}

/* ---- fixtures: one factory per test (the registry has no unregister) ------------ */

struct fx {
	char name[24];
	struct class cls[4];		/* [1..3] */
	struct factory f;
	struct class_version v2, v3;
};

#define MAX_FX 64
static struct fx fxs[MAX_FX];
static unsigned int nfx;
static struct fx *used[4];		/* this test's fixtures, for the teardown */
static unsigned int nused;

static const struct ctr_ops *const ops_of[4] = { NULL, &ops_v1, &ops_v2, &ops_v3 };

static struct fx *fx_new(void)
{
	struct fx *x;

	assert_true(nfx < MAX_FX);
	assert_true(nused < 4);
	x = &fxs[nfx];
	snprintf(x->name, sizeof(x->name), "cvt-%u", nfx++);
	for (int v = 1; v <= 3; v++) {
		x->cls[v] = (struct class){
			.name = x->name, .impl = "host", .version = (uint32_t)v,
			.iface_version = v == 1 ? 1 : 2, .ops = ops_of[v],
			.nmethods = v == 1 ? 4 : 5,
			.state_size = offsetof(struct ctr, extra) + (v == 1 ? 0 : v == 2 ? 2 : 4) *
				      sizeof(long),
			.init = ctr_init,
		};
	}
	assert_int_equal(factory_init(&x->f, &x->cls[1]), 0);
	used[nused++] = x;
	return x;
}

static struct class_version *fx_v(struct fx *x, int v)
{
	return v == 1 ? &x->f.first : v == 2 ? &x->v2 : &x->v3;
}

/* Loads version @v (as engine.c's link_versions does, before the switch). */
static struct class_version *fx_load(struct fx *x, int v, bool back)
{
	struct class_version *cv = fx_v(x, v);

	class_version_init(cv, &x->f, &x->cls[v]);
	cv->transfer = ctr_transfer;
	cv->transfer_back = back ? ctr_transfer_back : NULL;
	spin_lock(&x->f.lock);
	list_add_tail(&cv->node, &x->f.versions);
	spin_unlock(&x->f.lock);
	return cv;
}

/* engine.c's set_old_versions. */
static void fx_set_old(struct fx *x, struct class_version *before, int from, int to)
{
	struct list_head *pos;

	list_for_each(pos, &x->f.versions) {
		struct class_version *cv = list_entry(pos, struct class_version, node);

		if (cv->state == from && (cv->live || cv == before))
			cv_set_state(cv, to);
	}
}

/* Forward phase: old versions count their calls. */
static void fx_forward(struct fx *x)
{
	fx_set_old(x, x->f.cur, CV_CURRENT, CV_FORWARD);
}

/* The switch: @after current (or in probation), old versions convert. */
static void fx_switch(struct fx *x, struct class_version *after, bool probation)
{
	struct class_version *before = x->f.cur;

	cv_set_state(after, probation ? CV_PROBATION : CV_CURRENT);
	__atomic_store_n(&x->f.cur, after, __ATOMIC_RELEASE);
	fx_set_old(x, before, CV_FORWARD, CV_CONVERT);
	fx_set_old(x, before, CV_CURRENT, CV_CONVERT);
}

/* Loads @v and switches to it (forward phase included). */
static struct class_version *fx_update(struct fx *x, int v, bool probation, bool back)
{
	struct class_version *cv = fx_load(x, v, back);

	fx_forward(x);
	fx_switch(x, cv, probation);
	return cv;
}

/* probation.c's start_rollback. */
static void fx_rollback(struct fx *x, struct class_version *before, struct class_version *after)
{
	__atomic_store_n(&x->f.cur, before, __ATOMIC_RELEASE);
	cv_set_state(before, CV_CONVERT);
	after->revert_to = before;
	cv_set_state(after, CV_REVERT);
}

static ott_ref_t mk(struct fx *x, long value)
{
	ott_ref_t r = OTT_REF_NULL;
	struct object *o;

	assert_int_equal(factory_create(&x->f, &value, &r), 0);
	o = factory_object(&x->f, r);
	assert_non_null(o);
	st(o)->ref = r;
	return r;
}

static struct object *obj(ott_ref_t r)
{
	return ott_lookup(&kernel_ott, r);
}

static unsigned int list_pos(struct fx *x, const struct object *o)
{
	struct list_head *pos;
	unsigned int i = 0;

	list_for_each(pos, &x->f.instances) {
		if (list_entry(pos, struct object, node) == o)
			return i;
		i++;
	}
	return ~0u;
}

static unsigned int list_len(struct fx *x)
{
	struct list_head *pos;
	unsigned int n = 0;

	list_for_each(pos, &x->f.instances)
		n++;
	return n;
}

static bool deferred(const struct object *o)
{
	for (unsigned int i = 0; i < host_ndeferred; i++)
		if (host_deferred[i] == o)
			return true;
	return false;
}

/* ---- setup / teardown ------------------------------------------------------------- */

static long live_base;

static int setup(void **state)
{
	host_ott_setup(&kernel_ott, NSLOTS, 2);
	memset(harts, 0, sizeof(harts));
	for (unsigned int h = 0; h < MAX_HARTS; h++) {
		harts[h].index = h;
		harts[h].hartid = h;
	}
	memset(&fake_thread, 0, sizeof(fake_thread));
	use_hart(0);
	host_irq_on = true;
	host_alloc_fail_in = 0;
	host_locks_held = 0;
	host_clock = 1000000;
	host_clock_step = 0;
	yields = quiescents = 0;
	yield_hook = NULL;
	yield_ticks = 1000;
	stub_calls = stub_retries = 0;
	last_version = 0;
	last_self = NULL;
	memset(ran, 0, sizeof(ran));
	hook_fn = NULL;
	xfer_hook = NULL;
	back_hook = NULL;
	host_irq_save_hook = NULL;
	harts[0].nheld = 0;
	harts[0].irq_depth = 0;
	harts[0].irq_level = 0;
	nxfers = nbacks = 0;
	memset(xfers, 0, sizeof(xfers));
	memset(backs, 0, sizeof(backs));
	init_calls = 0;
	init_saw_nonzero = false;
	nused = 0;
	blackout_stats_reset();
	convert_max_blackout_ticks(true);
	live_base = host_live_allocs;
	return 0;
}

static int teardown(void **state)
{
	assert_int_equal(host_locks_held, 0);
	assert_true(host_irq_on);
	assert_null(harts[0].converting);
	assert_null(harts[0].ip_top);
	assert_null(fake_thread.ip_top);
	for (unsigned int i = 0; i < nused; i++) {
		struct fx *x = used[i];
		struct list_head *pos, *n;

		convert_drop_prev(&x->f);
		list_for_each_safe(pos, n, &x->f.instances) {
			struct object *o = list_entry(pos, struct object, node);

			assert_int_equal(factory_destroy(&x->f, ott_slot_ref(&kernel_ott, o->slot)), 0);
		}
		assert_int_equal(x->f.count, 0);
	}
	host_defer_flush();
	assert_int_equal(host_live_allocs, live_base);	/* no leak */
	host_ott_teardown(&kernel_ott);
	return 0;
}

/* ---- cv_set_state ------------------------------------------------------------------- */

static void test_set_state_fills_dispatch(void **state)
{
	struct fx *x = fx_new();
	struct class_version *v1 = &x->f.first, *v2 = fx_load(x, 2, false);
	static const int stub_states[] = { CV_FORWARD, CV_CONVERT, CV_PROBATION, CV_REVERT };

	for (unsigned int s = 0; s < 4; s++) {
		cv_set_state(v1, stub_states[s]);
		assert_int_equal(v1->state, stub_states[s]);
		for (unsigned int i = 0; i < OTT_MAX_METHODS; i++)
			assert_ptr_equal((void *)v1->dispatch[i], (void *)lazy_stub_ops[i]);
		cv_set_state(v1, CV_CURRENT);
		assert_int_equal(v1->state, CV_CURRENT);
		assert_ptr_equal((void *)v1->dispatch[M_GET], (void *)get_v1);
		assert_ptr_equal((void *)v1->dispatch[M_ADD], (void *)add_v1);
		assert_ptr_equal((void *)v1->dispatch[M_REENTER], (void *)reenter_v1);
		assert_ptr_equal((void *)v1->dispatch[M_HOOK], (void *)hook_v1);
		/* Beyond nmethods (v1 has no ver): -KE_NOSYS. */
		for (unsigned int i = 4; i < OTT_MAX_METHODS; i++)
			assert_ptr_equal((void *)v1->dispatch[i], (void *)object_nosys);
	}
	cv_set_state(v2, CV_PROBATION);
	for (unsigned int i = 0; i < OTT_MAX_METHODS; i++)
		assert_ptr_equal((void *)v2->dispatch[i], (void *)lazy_stub_ops[i]);
	cv_set_state(v2, CV_CURRENT);
	assert_ptr_equal((void *)v2->dispatch[M_VER], (void *)ver_v2);
	assert_ptr_equal((void *)v2->dispatch[5], (void *)object_nosys);
	assert_ptr_equal((void *)v2->dispatch[OTT_MAX_METHODS - 1], (void *)object_nosys);
}

static void test_set_state_null_method_is_nosys(void **state)
{
	static const struct ctr_ops holey = { get_v1, NULL, reenter_v1, NULL, NULL };
	struct fx *x = fx_new();
	struct class_version *v2;
	ott_ref_t r;

	x->cls[2].ops = &holey;
	x->cls[2].nmethods = 5;
	r = mk(x, 3);
	v2 = fx_update(x, 2, false, false);
	assert_ptr_equal((void *)v2->dispatch[M_ADD], (void *)object_nosys);
	assert_ptr_equal((void *)v2->dispatch[M_HOOK], (void *)object_nosys);
	assert_ptr_equal((void *)v2->dispatch[M_VER], (void *)object_nosys);
	/* The converting call itself answers -KE_NOSYS for a hole, through the stub. */
	assert_int_equal(r_add(r, 1), -KE_NOSYS);
	assert_int_equal(obj(r)->version, 2);
	assert_int_equal(r_get(r), 3);
}

/* ---- FORWARD ---------------------------------------------------------------------------- */

static void test_forward_counts_and_runs_old(void **state)
{
	struct fx *x = fx_new();
	ott_ref_t r = mk(x, 40);
	struct object *o = obj(r);
	struct ip_frame sentinel = { 0 };

	fx_forward(x);
	assert_int_equal(x->f.first.state, CV_FORWARD);
	harts[0].ip_top = &sentinel.node;	/* an outer context's chain must come back */
	assert_int_equal(r_add(r, 2), 42);
	assert_int_equal(last_version, 1);
	assert_ptr_equal(last_self, o);
	assert_int_equal(last_inflight, 1);	/* counted while it runs */
	assert_non_null(last_top);
	assert_ptr_not_equal(last_top, &sentinel);
	assert_ptr_equal(last_frame.node.prev, &sentinel.node);
	assert_int_equal(last_frame.method, M_ADD);
	assert_int_equal(last_frame.a[1], 2);
	assert_ptr_equal((void *)(uintptr_t)last_frame.a[0], o);
	assert_ptr_equal((void *)(uintptr_t)last_frame.node.cookie, o);
	assert_int_equal(stub_calls, 1);
	assert_int_equal(o->inflight, 0);	/* uncounted after */
	assert_ptr_equal(harts[0].ip_top, &sentinel.node);
	harts[0].ip_top = NULL;
	/* Nothing converts in FORWARD. */
	assert_ptr_equal(obj(r), o);
	assert_int_equal(nxfers, 0);
	assert_int_equal(host_ndeferred, 0);

	/* In a thread, the frames go on the thread's chain, not the hart's. */
	harts[0].cur = &fake_thread;
	assert_int_equal(r_get(r), 42);
	assert_int_equal(last_inflight, 1);
	assert_non_null(last_top);
	assert_null(fake_thread.ip_top);
	assert_null(harts[0].ip_top);
	harts[0].cur = NULL;
	assert_int_equal(o->inflight, 0);
}

static struct unwind_node *seen_thread_top, *seen_hart_top;
static uint64_t seen_thread_cookie;

static long hook_see_chains(struct object *self, int v, long arg)
{
	seen_thread_top = fake_thread.ip_top;
	seen_thread_cookie = seen_thread_top ? seen_thread_top->cookie : 0;
	seen_hart_top = harts[0].ip_top;
	return 7;
}

static void test_forward_thread_chain(void **state)
{
	struct fx *x = fx_new();
	ott_ref_t r = mk(x, 1);

	fx_forward(x);
	hook_fn = hook_see_chains;
	harts[0].cur = &fake_thread;
	assert_int_equal(r_hook(r, 0), 7);
	assert_non_null(seen_thread_top);
	assert_null(seen_hart_top);
	assert_ptr_equal((struct object *)(uintptr_t)seen_thread_cookie, obj(r));
	harts[0].cur = NULL;
	assert_int_equal(r_hook(r, 0), 7);
	assert_null(seen_thread_top);
	assert_non_null(seen_hart_top);
	assert_null(harts[0].ip_top);
	assert_null(fake_thread.ip_top);
}

static void test_forward_nested_counts(void **state)
{
	struct fx *x = fx_new();
	ott_ref_t r = mk(x, 1);
	struct object *o = obj(r);

	fx_forward(x);
	memset(inflight_at, 0, sizeof(inflight_at));
	assert_int_equal(r_reenter(r, 3), 4);
	/* Depth 3 is the outermost call, depth 0 the innermost. */
	assert_int_equal(inflight_at[3], 1);
	assert_int_equal(inflight_at[2], 2);
	assert_int_equal(inflight_at[1], 3);
	assert_int_equal(inflight_at[0], 4);
	assert_int_equal(chain_len_at[3], 1);
	assert_int_equal(chain_len_at[0], 4);
	assert_ptr_equal(top_prev_at[0], top_at[1]);
	assert_ptr_equal(top_prev_at[1], top_at[2]);
	assert_ptr_equal(top_prev_at[2], top_at[3]);
	assert_null(top_prev_at[3]);
	assert_int_equal(o->inflight, 0);
	assert_null(harts[0].ip_top);
	assert_int_equal(stub_calls, 4);
	assert_int_equal(ran[1], 4);
}

static ott_ref_t other_ref;

static long hook_call_other(struct object *self, int v, long arg)
{
	struct object *other = obj(other_ref);
	long r;

	r = r_get(other_ref);
	/* The other object's call is counted on its own and is over now. */
	assert_int_equal(last_inflight, 1);
	assert_int_equal(other->inflight, 0);
	assert_int_equal(self->inflight, 1);
	return r;
}

static void test_forward_two_objects(void **state)
{
	struct fx *x = fx_new();
	ott_ref_t a = mk(x, 1);

	other_ref = mk(x, 99);
	fx_forward(x);
	hook_fn = hook_call_other;
	assert_int_equal(r_hook(a, 0), 99);
	assert_int_equal(obj(a)->inflight, 0);
	assert_null(harts[0].ip_top);
}

/* ---- CONVERT ------------------------------------------------------------------------------ */

static void test_convert_on_first_call(void **state)
{
	struct fx *x = fx_new();
	ott_ref_t a = mk(x, 10), b = mk(x, 20), c = mk(x, 30);
	struct object *ob = obj(b), *nb;
	struct class_version *v1 = &x->f.first, *v2;
	ott_ref_t b_on_1 = host_ref_on(&kernel_ott, b, 1);
	long live0;

	/* Hart 1 has a cached translation of b. */
	use_hart(1);
	assert_int_equal(r_get(b_on_1), 20);
	assert_ptr_equal(host_cache(1)[host_entry_index(&kernel_ott, b)], ob);
	use_hart(0);

	v2 = fx_update(x, 2, false, false);
	assert_int_equal(v1->state, CV_CONVERT);
	assert_int_equal(v2->state, CV_CURRENT);
	assert_int_equal(convert_pending(&x->f), 3);
	live0 = host_live_allocs;

	assert_int_equal(r_add(b, 1), 21);
	nb = obj(b);
	/* A new object from the current version, transfer run once with (old, new). */
	assert_ptr_not_equal(nb, ob);
	assert_int_equal(nxfers, 1);
	assert_ptr_equal(xfers[0].old, ob);
	assert_ptr_equal(xfers[0].new, nb);
	assert_int_equal(xfers[0].from, 1);
	assert_int_equal(xfers[0].to, 2);
	assert_false(xfers[0].irq_on);			/* transfer with interrupts off */
	assert_ptr_equal(xfers[0].converting, ob);
	assert_int_equal(xfers[0].old_inflight, OBJ_CLAIMED);
	assert_true(host_irq_on);
	assert_null(harts[0].converting);
	/* The call then ran on the new version. */
	assert_int_equal(last_version, 2);
	assert_ptr_equal(last_self, nb);
	assert_ptr_equal(nb->ops, v2->dispatch);
	assert_int_equal(nb->version, 2);
	assert_int_equal(nb->slot, b.slot);
	assert_ptr_equal(nb->factory, &x->f);
	assert_int_equal(nb->inflight, 0);
	assert_null(nb->prev);
	/* The slot, every hart's cache, the list position, the counters. */
	assert_ptr_equal(ott_slot_object(&kernel_ott, b.slot), nb);
	assert_ptr_equal(host_cache(1)[host_entry_index(&kernel_ott, b)],
			 host_miss_obj(&kernel_ott, host_entry_index(&kernel_ott, b)));
	assert_int_equal(list_pos(x, obj(a)), 0);
	assert_int_equal(list_pos(x, nb), 1);
	assert_int_equal(list_pos(x, obj(c)), 2);
	assert_int_equal(list_len(x), 3);
	assert_int_equal(v1->live, 2);
	assert_int_equal(v2->live, 1);
	assert_int_equal(x->f.converted, 1);
	assert_int_equal(x->f.count, 3);
	assert_int_equal(convert_pending(&x->f), 2);
	/* The old state only goes after quiescence. */
	assert_int_equal(host_live_allocs, live0 + 1);
	assert_int_equal(host_ndeferred, 1);
	assert_ptr_equal(host_deferred[0], ob);
	assert_int_equal(ob->inflight, OBJ_CLAIMED);	/* nobody converts it again */
	assert_ptr_equal(ob->node.next, &ob->node);

	/* Further calls go straight to the new version. */
	stub_calls = 0;
	assert_int_equal(r_get(b), 21);
	assert_int_equal(r_ver(b), 2);
	assert_int_equal(stub_calls, 0);
	assert_int_equal(nxfers, 1);
	use_hart(1);
	assert_int_equal(r_get(b_on_1), 21);
	assert_int_equal(last_version, 2);
	use_hart(0);

	/* A method v1 lacks converts the instance first, then answers. */
	assert_int_equal(r_ver(a), 2);
	assert_int_equal(obj(a)->version, 2);
	assert_int_equal(nxfers, 2);
	assert_int_equal(r_get(c), 30);
	assert_int_equal(convert_pending(&x->f), 0);
	assert_int_equal(v1->live, 0);
	assert_int_equal(v2->live, 3);

	host_defer_flush();
	assert_int_equal(host_live_allocs, live0);
}

static void test_convert_stale_pointer_follows(void **state)
{
	struct fx *x = fx_new();
	ott_ref_t r = mk(x, 5);
	struct object *o = obj(r), *n;

	fx_update(x, 2, false, false);
	assert_int_equal(r_get(r), 5);
	n = obj(r);
	assert_ptr_not_equal(n, o);
	/* A caller that loaded the old object before the conversion runs on the new one. */
	assert_int_equal(o_add(o, 3), 8);
	assert_ptr_equal(last_self, n);
	assert_int_equal(last_version, 2);
	assert_int_equal(nxfers, 1);
	assert_int_equal(st(n)->value, 8);
	assert_int_equal(o->inflight, OBJ_CLAIMED);
	/* Once the instance is destroyed, such a call is stale. */
	assert_int_equal(factory_destroy(&x->f, r), 0);
	assert_int_equal(o_get(o), -KE_STALE);
	assert_int_equal(nxfers, 1);
}

static void test_convert_chain_of_versions(void **state)
{
	struct fx *x = fx_new();
	ott_ref_t r = mk(x, 11);
	struct object *o = obj(r), *n;
	struct class_version *v1 = &x->f.first, *v2, *v3;
	long live0 = host_live_allocs;

	/* One pack v1 -> v2 -> v3: v2 never gets instances of its own. */
	v2 = fx_load(x, 2, false);
	v3 = fx_load(x, 3, false);
	fx_forward(x);
	fx_switch(x, v3, false);
	assert_int_equal(v1->state, CV_CONVERT);
	assert_int_equal(v2->state, CV_CURRENT);	/* no instance: untouched */

	assert_int_equal(r_add(r, 1), 12);
	n = obj(r);
	assert_int_equal(nxfers, 2);
	assert_ptr_equal(xfers[0].old, o);
	assert_int_equal(xfers[0].from, 1);
	assert_int_equal(xfers[0].to, 2);
	assert_ptr_equal(xfers[1].old, xfers[0].new);
	assert_ptr_equal(xfers[1].new, n);
	assert_int_equal(xfers[1].from, 2);
	assert_int_equal(xfers[1].to, 3);
	assert_int_equal(last_version, 3);
	assert_ptr_equal(n->ops, v3->dispatch);
	assert_int_equal(n->version, 3);
	assert_int_equal(v1->live, 0);
	assert_int_equal(v2->live, 0);
	assert_int_equal(v3->live, 1);
	/* The intermediate state is gone already, the old one waits for quiescence. */
	assert_int_equal(host_live_allocs, live0 + 1);
	assert_true(deferred(o));
	assert_int_equal(host_ndeferred, 1);
}

static long hook_switch_and_reenter(struct object *self, int v, long arg)
{
	struct fx *x = (struct fx *)(uintptr_t)arg;
	long r;

	/* The update happens while this call is in the old version, counted. */
	fx_switch(x, fx_load(x, 2, false), false);
	r = r_get(st(self)->ref);
	/* Not converted: it ran on this version, counted twice, no deadlock. */
	assert_int_equal(last_version, 1);
	assert_ptr_equal(last_self, self);
	assert_int_equal(last_inflight, 2);
	assert_int_equal(nxfers, 0);
	assert_ptr_equal(obj(st(self)->ref), self);
	return r + 100;
}

static void test_convert_reentrant_call_runs_old(void **state)
{
	struct fx *x = fx_new();
	ott_ref_t r = mk(x, 4);
	struct object *o = obj(r);

	fx_forward(x);
	hook_fn = hook_switch_and_reenter;
	assert_int_equal(r_hook(r, (long)(uintptr_t)x), 104);
	assert_int_equal(o->inflight, 0);
	assert_null(harts[0].ip_top);
	assert_ptr_equal(obj(r), o);
	assert_int_equal(nxfers, 0);
	/* It converts on a later call. */
	assert_int_equal(r_get(r), 4);
	assert_int_equal(nxfers, 1);
	assert_int_equal(last_version, 2);
	assert_ptr_not_equal(obj(r), o);
}

static void test_convert_busy_runs_old_counted(void **state)
{
	struct fx *x = fx_new();
	ott_ref_t r = mk(x, 9);
	struct object *o = obj(r);

	fx_update(x, 2, false, false);
	o->inflight = 1;	/* another context is in a counted call */
	assert_int_equal(r_add(r, 1), 10);
	assert_int_equal(last_version, 1);
	assert_int_equal(last_inflight, 2);
	assert_int_equal(o->inflight, 1);
	assert_int_equal(nxfers, 0);
	assert_ptr_equal(obj(r), o);
	o->inflight = 0;	/* it returned */
	assert_int_equal(r_get(r), 10);
	assert_int_equal(last_version, 2);
	assert_int_equal(nxfers, 1);
}

static void test_convert_claim_protocol(void **state)
{
	struct fx *x = fx_new();
	ott_ref_t r = mk(x, 1);
	struct object *o = obj(r), *n = NULL, *n2 = NULL;
	struct class_version *v1 = &x->f.first, *v2;
	long live0 = host_live_allocs;

	v2 = fx_update(x, 2, false, false);
	/* Claimed by another converter. */
	o->inflight = OBJ_CLAIMED;
	assert_int_equal(convert_instance(o, &n), -KE_ALREADY);
	assert_null(n);
	/* A count held. */
	o->inflight = 1;
	assert_int_equal(convert_instance(o, &n), -KE_BUSY);
	assert_int_equal(o->inflight, 1);
	o->inflight = 3;
	assert_int_equal(convert_instance(o, &n), -KE_BUSY);
	o->inflight = 0;
	assert_null(n);
	assert_int_equal(nxfers, 0);
	assert_int_equal(host_live_allocs, live0);
	assert_true(host_irq_on);

	/* The target is its own version (a rollback made it current again). */
	__atomic_store_n(&x->f.cur, v1, __ATOMIC_RELEASE);
	assert_int_equal(convert_instance(o, &n), -KE_EXIST);
	assert_int_equal(o->inflight, 0);
	/* ... and a call just runs there, counted. */
	assert_int_equal(r_add(r, 1), 2);
	assert_int_equal(last_version, 1);
	assert_int_equal(last_inflight, 1);
	assert_int_equal(o->inflight, 0);
	__atomic_store_n(&x->f.cur, v2, __ATOMIC_RELEASE);

	assert_int_equal(convert_instance(o, &n), 0);
	assert_non_null(n);
	assert_ptr_equal(obj(r), n);
	assert_int_equal(st(n)->value, 2);
	/* The old object stays claimed: a second converter backs off. */
	assert_int_equal(convert_instance(o, &n2), -KE_ALREADY);
	assert_null(n2);
	assert_int_equal(nxfers, 1);
	/* The new one is current: nothing to do. */
	assert_int_equal(convert_instance(n, &n2), -KE_EXIST);
}

static long reentry_result;

static int xfer_calls_self(const struct object *old, struct object *new)
{
	/* A transfer calling its own object: old version, uncounted. */
	reentry_result = r_get(((const struct ctr *)old)->ref);
	assert_int_equal(last_version, 1);
	assert_ptr_equal(last_self, old);
	assert_int_equal(last_inflight, OBJ_CLAIMED);
	return 0;
}

static void test_convert_transfer_reenters_uncounted(void **state)
{
	struct fx *x = fx_new();
	ott_ref_t r = mk(x, 77);
	struct object *o = obj(r);

	fx_update(x, 2, false, false);
	xfer_hook = xfer_calls_self;
	reentry_result = 0;
	assert_int_equal(r_get(r), 77);
	assert_int_equal(reentry_result, 77);
	assert_int_equal(nxfers, 1);
	assert_int_equal(last_version, 2);
	assert_ptr_not_equal(obj(r), o);
	assert_null(harts[0].converting);
}

static void test_convert_transient_nomem(void **state)
{
	struct fx *x = fx_new();
	ott_ref_t r = mk(x, 5);
	struct object *o = obj(r), *n = NULL;
	long live0 = host_live_allocs;

	fx_update(x, 2, false, false);
	host_alloc_fail_in = 1;
	assert_int_equal(convert_instance(o, &n), -KE_NOMEM);
	assert_int_equal(o->inflight, 0);	/* released */
	assert_ptr_equal(obj(r), o);
	assert_int_equal(host_live_allocs, live0);
	assert_true(host_irq_on);
	assert_null(harts[0].converting);
	/* A lazy call meeting a failed allocation still gets its answer ... */
	host_alloc_fail_in = 1;
	assert_int_equal(r_get(r), 5);
	assert_int_equal(host_alloc_fail_in, 0);
	/* ... and the instance converts once memory is there. */
	assert_int_equal(r_get(r), 5);
	assert_int_equal(last_version, 2);
	assert_int_equal(obj(r)->version, 2);
	assert_int_equal(nxfers, 1);
}

static void test_convert_static_instance(void **state)
{
	static struct ctr dev;
	struct fx *x = fx_new();
	ott_ref_t r = OTT_REF_NULL;
	long arg = 8;
	struct object *n;

	memset(&dev, 0, sizeof(dev));
	assert_int_equal(factory_adopt(&x->f, &dev.obj, &arg, &r), 0);
	dev.ref = r;
	fx_update(x, 2, false, false);
	assert_int_equal(r_get(r), 8);
	n = obj(r);
	assert_ptr_not_equal(n, &dev.obj);
	assert_int_equal(n->flags & OBJ_STATIC, 0);
	assert_false(deferred(&dev.obj));	/* never freed */
	assert_int_equal(host_ndeferred, 0);
}

static void test_convert_blackout_figures(void **state)
{
	struct fx *x = fx_new();
	ott_ref_t r = mk(x, 1);
	uint64_t b9 = blackout_stats.conversions[9];

	fx_update(x, 2, false, false);
	/* Every read of the clock moves it 1000 ticks: the conversion reads it twice. */
	host_clock_step = 1000;
	assert_int_equal(r_get(r), 1);
	host_clock_step = 0;
	assert_int_equal(convert_max_blackout_ticks(false), 1000);
	assert_int_equal(blackout_stats.max_conversion, 1000);
	assert_int_equal(blackout_stats.conversions[9], b9 + 1);	/* [512, 1024) */
	assert_int_equal(convert_max_blackout_ticks(true), 1000);
	assert_int_equal(convert_max_blackout_ticks(false), 0);
}

/* ---- PROBATION ---------------------------------------------------------------------------- */

static void test_probation_counted_and_keeps_prev(void **state)
{
	struct fx *x = fx_new();
	ott_ref_t r = mk(x, 6);
	struct object *o = obj(r), *n;
	struct class_version *v1 = &x->f.first, *v2;
	long live0 = host_live_allocs;

	v2 = fx_update(x, 2, true, false);
	assert_int_equal(v2->state, CV_PROBATION);
	assert_int_equal(r_add(r, 1), 7);
	n = obj(r);
	assert_ptr_not_equal(n, o);
	/* Converted, and the call on the new version was counted and framed. */
	assert_int_equal(last_version, 2);
	assert_int_equal(last_inflight, 1);
	assert_non_null(last_top);
	assert_ptr_equal((void *)(uintptr_t)(last_frame.node.cookie & ~1UL), n);
	assert_true(last_frame.node.cookie & 1);
	assert_int_equal(n->inflight, 0);
	assert_null(harts[0].ip_top);
	/* The old state is kept for a rollback, not freed. */
	assert_ptr_equal(n->prev, o);
	assert_false(deferred(o));
	assert_int_equal(host_ndeferred, 0);
	assert_int_equal(host_live_allocs, live0 + 1);
	assert_int_equal(v1->live, 0);
	assert_int_equal(v2->live, 1);
	/* Instances born during probation are counted too. */
	{
		ott_ref_t b = mk(x, 50);

		assert_int_equal(obj(b)->version, 2);
		assert_int_equal(r_get(b), 50);
		assert_int_equal(last_inflight, 1);
		assert_null(obj(b)->prev);
	}
	/* After probation: plain methods, kept states freed. */
	cv_set_state(v2, CV_CURRENT);
	convert_drop_prev(&x->f);
	assert_null(n->prev);
	assert_true(deferred(o));
	assert_int_equal(host_ndeferred, 1);
	stub_calls = 0;
	assert_int_equal(r_get(r), 7);
	assert_int_equal(stub_calls, 0);
}

static struct class_version *find_cv;
static struct ip_frame *found_frame, *found_v1;
static struct unwind_node *found_prev[3];	/* found_frame's node.prev, ->prev->prev, ... */
static uint64_t found_cookie;
static unsigned int found_len;

static void look(void)
{
	struct unwind_node *f;

	found_frame = convert_find_frame(find_cv);
	found_cookie = found_frame ? found_frame->node.cookie : 0;
	f = found_frame ? &found_frame->node : NULL;
	for (int i = 0; i < 3; i++) {
		f = f ? f->prev : NULL;
		found_prev[i] = f;
	}
	found_len = chain_len();
}

static long hook_find(struct object *self, int v, long arg)
{
	/* arg: a reference to call next, or 0 to look at the frames. */
	if (arg) {
		ott_ref_t next = *(ott_ref_t *)(uintptr_t)arg;

		return r_hook(next, 0);
	}
	look();
	found_v1 = convert_find_frame(&container_of(find_cv->factory, struct fx, f)->f.first);
	return 0;
}

static void test_probation_find_frame(void **state)
{
	struct fx *x = fx_new(), *y = fx_new();
	ott_ref_t a = mk(x, 1), yref = mk(y, 2);
	struct object *ya = obj(yref);
	struct class_version *v2;

	v2 = fx_update(x, 2, true, false);
	fx_forward(y);		/* another class, in its forward phase */
	assert_int_equal(r_get(a), 1);	/* convert a first */
	find_cv = v2;
	hook_fn = hook_find;
	/* No interposed call: nothing found. */
	assert_null(convert_find_frame(v2));
	/* a (v2, probation) -> y (forward): the frame found is a's. */
	found_frame = NULL;
	assert_int_equal(r_hook(a, (long)(uintptr_t)&yref), 0);
	assert_int_equal(found_len, 2);
	assert_non_null(found_frame);
	assert_ptr_equal((void *)(uintptr_t)(found_cookie & ~1UL), obj(a));
	assert_true(found_cookie & 1);	/* marked as a probation frame */
	assert_null(found_prev[0]);
	assert_null(found_v1);
	/* y (forward) alone: no probation frame. */
	found_frame = (struct ip_frame *)1;
	assert_int_equal(r_hook(yref, 0), 0);
	assert_null(found_frame);
	assert_null(harts[0].ip_top);
	assert_int_equal(obj(a)->inflight, 0);
	assert_int_equal(ya->inflight, 0);
}

/* a(v2) -> y(forward) -> a(v2) -> look: a three-deep chain, innermost found. */
static ott_ref_t chain_a, chain_y;

static long hook_chain(struct object *self, int v, long arg)
{
	if (arg == 3)
		return r_hook(chain_y, 2);
	if (arg == 2)
		return r_hook(chain_a, 1);
	look();
	seen_hart_top = harts[0].ip_top;
	return 0;
}

static void test_probation_find_innermost(void **state)
{
	struct fx *x = fx_new(), *y = fx_new();

	chain_a = mk(x, 1);
	chain_y = mk(y, 2);
	find_cv = fx_update(x, 2, true, false);
	fx_forward(y);
	assert_int_equal(r_get(chain_a), 1);
	hook_fn = hook_chain;
	assert_int_equal(r_hook(chain_a, 3), 0);
	assert_int_equal(found_len, 3);
	assert_ptr_equal(&found_frame->node, seen_hart_top);	/* the innermost frame */
	assert_ptr_equal((void *)(uintptr_t)(found_cookie & ~1UL), obj(chain_a));
	assert_non_null(found_prev[0]);		/* y's frame */
	assert_non_null(found_prev[1]);		/* a's outer frame */
	assert_null(found_prev[2]);
	assert_int_equal(obj(chain_a)->inflight, 0);
	assert_int_equal(obj(chain_y)->inflight, 0);
	assert_null(harts[0].ip_top);
}

/*
 * An emulated fault in probation code, as update_fault() handles it: find
 * the innermost probation frame of the version, abandon it (and whatever
 * is nested in it), optionally start the rollback, and resume at the
 * frame's retry point.
 */
static struct fx *fault_fx;
static struct class_version *fault_cv;
static bool fault_rollback;
static int faults_left;
static unsigned long faults;
static uint32_t counts_after_abandon[2];
static struct object *count_objs[2];
static struct unwind_node *top_after_abandon;

static void emulate_fault(void)
{
	struct ip_frame *f = convert_find_frame(fault_cv);

	assert_non_null(f);
	convert_abandon(f);
	top_after_abandon = *chain();
	for (int i = 0; i < 2; i++)
		counts_after_abandon[i] = count_objs[i] ? count_objs[i]->inflight : 0;
	if (fault_rollback && fault_cv->state == CV_PROBATION)
		fx_rollback(fault_fx, &fault_fx->f.first, fault_cv);
	faults++;
	f->node.faults++;	/* as update_fault()'s retry does */
	longjmp(container_of(f, struct host_ip, f)->retry, 1);
}

/* a(v2, probation) -> y(forward) -> fault in y's method, "in a's module". */
static long hook_fault(struct object *self, int v, long arg)
{
	if (arg == 1)
		return r_hook(chain_y, 2);
	if (arg == 2 && faults_left > 0) {
		faults_left--;
		emulate_fault();
	}
	return 1000 + v;
}

static void test_probation_abandon_and_retry(void **state)
{
	struct fx *x = fx_new(), *y = fx_new();
	struct ip_frame sentinel = { 0 };

	chain_a = mk(x, 1);
	chain_y = mk(y, 2);
	fault_fx = x;
	fault_cv = fx_update(x, 2, true, false);
	fault_rollback = false;
	fx_forward(y);
	assert_int_equal(r_get(chain_a), 1);
	count_objs[0] = obj(chain_a);
	count_objs[1] = obj(chain_y);
	faults = 0;
	faults_left = 1;
	hook_fn = hook_fault;
	harts[0].ip_top = &sentinel.node;
	/* The fault unwinds both frames; the retried call runs again on v2 and returns. */
	assert_int_equal(r_hook(chain_a, 1), 1001);
	assert_int_equal(faults, 1);
	assert_int_equal(stub_retries, 1);
	assert_int_equal(counts_after_abandon[0], 0);
	assert_int_equal(counts_after_abandon[1], 0);
	assert_ptr_equal(top_after_abandon, &sentinel.node);
	assert_ptr_equal(harts[0].ip_top, &sentinel.node);
	assert_int_equal(obj(chain_a)->inflight, 0);
	assert_int_equal(obj(chain_y)->inflight, 0);
	harts[0].ip_top = NULL;
}

static long hook_fault_v2(struct object *self, int v, long arg)
{
	if (v == 2 && faults_left > 0) {
		faults_left--;
		emulate_fault();
	}
	return 1000 * v + st(self)->value;
}

static void test_probation_fault_rolls_back_and_retries(void **state)
{
	struct fx *x = fx_new();
	ott_ref_t r = mk(x, 5);
	struct object *o = obj(r), *n;
	struct class_version *v1 = &x->f.first, *v2;

	v2 = fx_update(x, 2, true, true);
	assert_int_equal(r_add(r, 2), 7);
	n = obj(r);
	assert_ptr_equal(n->prev, o);
	fault_fx = x;
	fault_cv = v2;
	fault_rollback = true;
	count_objs[0] = n;
	count_objs[1] = NULL;
	faults = 0;
	faults_left = 1;
	hook_fn = hook_fault_v2;
	/* The call faults in v2, is retried, and runs on the kept v1 state. */
	assert_int_equal(r_hook(r, 0), 1007);
	assert_int_equal(faults, 1);
	assert_int_equal(counts_after_abandon[0], 0);
	assert_int_equal(last_version, 1);
	assert_ptr_equal(last_self, o);
	assert_ptr_equal(obj(r), o);
	assert_int_equal(v2->state, CV_REVERT);
	assert_int_equal(v1->state, CV_CONVERT);
	assert_int_equal(nbacks, 1);
	assert_ptr_equal(backs[0].old, n);
	assert_ptr_equal(backs[0].new, o);
	assert_true(deferred(n));
	assert_int_equal(v1->live, 1);
	assert_int_equal(v2->live, 0);
	assert_null(harts[0].ip_top);
	assert_int_equal(o->inflight, 0);
}

/* ---- REVERT -------------------------------------------------------------------------------- */

static void revert_kept_prev(bool with_back)
{
	struct fx *x = fx_new();
	ott_ref_t a = mk(x, 10), b = mk(x, 20), c = mk(x, 30);
	struct object *ob = obj(b), *nb;
	struct class_version *v1 = &x->f.first, *v2;
	long live0 = host_live_allocs;

	v2 = fx_update(x, 2, true, with_back);
	assert_int_equal(r_add(b, 5), 25);	/* converted forward, prev kept */
	nb = obj(b);
	assert_ptr_equal(nb->prev, ob);
	assert_int_equal(host_live_allocs, live0 + 1);

	fx_rollback(x, v1, v2);
	assert_int_equal(convert_pending(&x->f), 1);
	init_calls = 0;
	assert_int_equal(r_get(b), with_back ? 25 : 20);
	/* Back on the very object kept at the forward conversion. */
	assert_ptr_equal(obj(b), ob);
	assert_ptr_equal(last_self, ob);
	assert_int_equal(last_version, 1);
	assert_ptr_equal(ob->ops, v1->dispatch);
	assert_int_equal(ob->version, 1);
	assert_int_equal(ob->inflight, 0);
	assert_int_equal(init_calls, 0);
	assert_int_equal(nbacks, with_back ? 1 : 0);
	if (with_back) {
		assert_ptr_equal(backs[0].old, nb);
		assert_ptr_equal(backs[0].new, ob);
		assert_false(backs[0].irq_on);
	}
	assert_int_equal(list_pos(x, obj(a)), 0);
	assert_int_equal(list_pos(x, ob), 1);
	assert_int_equal(list_pos(x, obj(c)), 2);
	assert_int_equal(list_len(x), 3);
	assert_int_equal(v1->live, 3);
	assert_int_equal(v2->live, 0);
	assert_int_equal(x->f.converted, 2);
	assert_null(nb->prev);
	/* The probation-version object goes after quiescence. */
	assert_true(deferred(nb));
	assert_int_equal(host_ndeferred, 1);
	assert_int_equal(host_live_allocs, live0 + 1);
	host_defer_flush();
	assert_int_equal(host_live_allocs, live0);
	/* v1 instances never converted just run (CONVERT leads to themselves now). */
	assert_int_equal(r_get(a), 10);
	assert_int_equal(last_version, 1);
	assert_ptr_equal(obj(a)->ops, v1->dispatch);
	assert_int_equal(convert_pending(&x->f), 0);
	/* finish_rollback: old version current again. */
	cv_set_state(v1, CV_CURRENT);
	stub_calls = 0;
	assert_int_equal(r_get(c), 30);
	assert_int_equal(stub_calls, 0);
}

static void test_revert_reuses_prev_no_back(void **state)
{
	revert_kept_prev(false);
}

static void test_revert_reuses_prev_with_back(void **state)
{
	revert_kept_prev(true);
}

static void test_revert_fresh_state(void **state)
{
	struct fx *x = fx_new(), *y = fx_new();
	struct class_version *xv2, *yv2;
	ott_ref_t xb, yb;
	struct object *xo, *yo, *xn, *yn;

	/* Instances born during probation have no kept state. */
	xv2 = fx_update(x, 2, true, false);	/* no transfer_back: init */
	yv2 = fx_update(y, 2, true, true);	/* transfer_back */
	xb = mk(x, 70);
	yb = mk(y, 80);
	xo = obj(xb);
	yo = obj(yb);
	assert_int_equal(xo->version, 2);
	assert_int_equal(r_add(xb, 1), 71);
	assert_int_equal(r_add(yb, 1), 81);
	fx_rollback(x, &x->f.first, xv2);
	fx_rollback(y, &y->f.first, yv2);

	init_calls = 0;
	init_saw_nonzero = false;
	assert_int_equal(r_get(xb), -1);	/* init(NULL) */
	xn = obj(xb);
	assert_ptr_not_equal(xn, xo);
	assert_int_equal(init_calls, 1);
	assert_false(init_saw_nonzero);
	assert_int_equal(last_version, 1);
	assert_int_equal(xn->version, 1);
	assert_ptr_equal(xn->ops, x->f.first.dispatch);
	assert_true(deferred(xo));
	assert_int_equal(nbacks, 0);

	init_calls = 0;
	assert_int_equal(r_get(yb), 81);	/* transfer_back on a fresh state */
	yn = obj(yb);
	assert_int_equal(nbacks, 1);
	assert_ptr_equal(backs[0].old, yo);
	assert_ptr_equal(backs[0].new, yn);
	assert_int_equal(yn->version, 1);
	assert_true(deferred(yo));
	assert_int_equal(x->f.first.live, 1);
	assert_int_equal(xv2->live, 0);
}

static long hook_rollback_and_reenter(struct object *self, int v, long arg)
{
	struct fx *x = (struct fx *)(uintptr_t)arg;
	long r;

	if (v != 2)
		return -1;
	fx_rollback(x, &x->f.first, object_version(self));
	/* Re-entering an instance being reverted from a call in it: runs here, counted. */
	r = r_get(st(self)->ref);
	assert_int_equal(last_version, 2);
	assert_ptr_equal(last_self, self);
	assert_int_equal(last_inflight, 2);
	assert_int_equal(nbacks, 0);
	return r;
}

static void test_revert_reentrant_call(void **state)
{
	struct fx *x = fx_new();
	ott_ref_t r = mk(x, 3);
	struct object *o = obj(r), *n;

	fx_update(x, 2, true, true);
	assert_int_equal(r_get(r), 3);
	n = obj(r);
	hook_fn = hook_rollback_and_reenter;
	assert_int_equal(r_hook(r, (long)(uintptr_t)x), 3);
	assert_int_equal(n->inflight, 0);
	assert_ptr_equal(obj(r), n);
	/* The next call converts it back. */
	assert_int_equal(r_get(r), 3);
	assert_ptr_equal(obj(r), o);
	assert_int_equal(last_version, 1);
	assert_int_equal(nbacks, 1);
}

/* ---- a second hart (pthread) ----------------------------------------------------------- */

static bool wait_for(volatile int *flag, int want)
{
	for (int i = 0; i < 20000; i++) {	/* 20 s at most */
		if (__atomic_load_n(flag, __ATOMIC_ACQUIRE) == want)
			return true;
		usleep(1000);
	}
	return false;
}

/* Waits until the other thread reads the clock (it is in follow()'s wait). */
static bool wait_rdtime_after(unsigned long n)
{
	for (int i = 0; i < 20000; i++) {
		if (__atomic_load_n(&host_rdtime_calls, __ATOMIC_SEQ_CST) > n)
			return true;
		usleep(1000);
	}
	return false;
}

static volatile int in_transfer, helper_timed_out;
static struct object *helper_obj, *helper_out;
static int helper_rc;

static int xfer_slow(const struct object *old, struct object *new)
{
	unsigned long n = __atomic_load_n(&host_rdtime_calls, __ATOMIC_SEQ_CST);

	__atomic_store_n(&in_transfer, 1, __ATOMIC_RELEASE);
	/* Until the caller on hart 0 is waiting for us; 2 ms pass on its clock. */
	if (!wait_rdtime_after(n))
		helper_timed_out = 1;
	__atomic_add_fetch(&host_clock, timer_us_to_ticks(2000), __ATOMIC_SEQ_CST);
	usleep(2000);
	return 0;
}

static void *converter_hart(void *arg)
{
	host_cur_hart = &harts[1];
	helper_rc = convert_instance(helper_obj, &helper_out);
	return NULL;
}

/* Callers that waited for a conversion (or a count), as the bench counts them. */
static uint64_t total_waits(void)
{
	uint64_t waits = 0;

	for (int b = 0; b < BLACKOUT_BUCKETS; b++)
		waits += blackout_stats.waits[b];
	return waits;
}

/*
 * Without UPDATE_PURE_TRANSFER (the fixture's default) a caller waits for
 * the conversion however long its transfer takes.
 */
static void test_caller_waits_for_converter(void **state)
{
	struct fx *x = fx_new();
	ott_ref_t r = mk(x, 12);
	struct object *o = obj(r), *n;
	pthread_t t;

	fx_update(x, 2, false, false);
	in_transfer = helper_timed_out = 0;
	helper_obj = o;
	helper_out = NULL;
	xfer_hook = xfer_slow;
	assert_int_equal(pthread_create(&t, NULL, converter_hart, NULL), 0);
	assert_true(wait_for(&in_transfer, 1));
	assert_int_equal(o->inflight, OBJ_CLAIMED);
	/* Hart 0 calls while hart 1 converts: it waits, then runs on the new object. */
	assert_int_equal(o_add(o, 1), 13);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_false(helper_timed_out);
	assert_int_equal(helper_rc, 0);
	n = obj(r);
	assert_ptr_equal(helper_out, n);
	assert_ptr_equal(last_self, n);
	assert_int_equal(last_version, 2);
	assert_int_equal(nxfers, 1);
	assert_int_equal(total_waits(), 1);
	/* It waited the transfer's 2 ms, far past an overtaking caller's bound. */
	assert_true(blackout_stats.max_wait >= timer_us_to_ticks(2000));
	assert_int_equal(st(n)->value, 13);
}

/*
 * A converter stalled in its transfer (under QEMU or a hypervisor: its
 * hart's host thread descheduled) until the caller's call has returned.
 */
static volatile int caller_done;

static int xfer_stalled(const struct object *old, struct object *new)
{
	__atomic_store_n(&in_transfer, 1, __ATOMIC_RELEASE);
	if (!wait_for(&caller_done, 1))
		helper_timed_out = 1;
	return 0;
}

static void test_caller_overtakes_stalled_converter(void **state)
{
	struct fx *x = fx_new();
	ott_ref_t r = mk(x, 12);
	struct object *o = obj(r), *n;
	struct class_version *v2;
	pthread_t t;

	v2 = fx_update(x, 2, false, false);
	v2->pure_transfer = true;
	in_transfer = helper_timed_out = caller_done = 0;
	helper_obj = o;
	helper_out = NULL;
	xfer_hook = xfer_stalled;
	assert_int_equal(pthread_create(&t, NULL, converter_hart, NULL), 0);
	assert_true(wait_for(&in_transfer, 1));
	assert_int_equal(o->inflight, OBJ_CLAIMED | OBJ_YIELDS);
	host_clock_step = 10;		/* 1 us a clock read: the wait's bound passes */
	/* Hart 0 calls while hart 1 is stuck mid-transfer: it runs on the old version. */
	assert_int_equal(o_add(o, 1), 13);
	host_clock_step = 0;
	assert_int_equal(last_version, 1);
	assert_ptr_equal(last_self, o);
	assert_int_equal(total_waits(), 1);
	assert_true(blackout_stats.max_wait >= timer_us_to_ticks(50));
	assert_true(blackout_stats.max_wait < timer_us_to_ticks(50) + 100);
	assert_int_equal(o->inflight, OBJ_CLAIMED | OBJ_YIELDS | OBJ_OVERTAKEN);
	/* The next caller does not wait for the bound again: the conversion is void. */
	assert_int_equal(o_add(o, 1), 14);
	assert_int_equal(last_version, 1);
	assert_int_equal(total_waits(), 2);
	__atomic_store_n(&caller_done, 1, __ATOMIC_RELEASE);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_false(helper_timed_out);
	/* The converter found the count at its commit: it dropped its new state. */
	assert_int_equal(helper_rc, -KE_BUSY);
	assert_ptr_equal(obj(r), o);
	assert_int_equal(o->inflight, 0);
	assert_int_equal(st(o)->value, 14);
	assert_int_equal(v2->live, 0);
	assert_false(o->flags & OBJ_NOCONVERT);
	/* Its next call converts it, with the calls that overtook counted in. */
	xfer_hook = NULL;
	assert_int_equal(o_add(o, 1), 15);
	n = obj(r);
	assert_ptr_not_equal(n, o);
	assert_int_equal(last_version, 2);
	assert_int_equal(st(n)->value, 15);
	assert_int_equal(nxfers, 2);
	assert_int_equal(v2->live, 1);
}

/*
 * Stress: callers on two harts add to 48 instances while a third hart
 * converts them all (the eager walk); every other one of its transfers
 * stalls until a caller has overtaken it, so conversions are abandoned and
 * redone while calls keep coming (and callers convert some themselves). Each caller owns every other instance (the test
 * class's add is not atomic), so what counts is the protocol alone: every
 * add lands exactly once, on whichever state is live, and all end on v2.
 */
#define STRESS_OBJS	48	/* of the OTT's 64 slots */
#define STRESS_ADDS	20000

static ott_ref_t stress_refs[STRESS_OBJS];
static volatile int stress_stop, stress_go;

static int xfer_sometimes_stalled(const struct object *old, struct object *new)
{
	static unsigned long n;

	if (host_cur_hart == &harts[3] && n++ % 2 == 0) {
		/* Stalled until someone overtakes this claim (at most 20 ms). */
		for (int i = 0; i < 20000; i++) {
			if (__atomic_load_n(&old->inflight, __ATOMIC_ACQUIRE) & OBJ_OVERTAKEN)
				break;
			usleep(1);
		}
	}
	return 0;
}

struct stress_caller {
	unsigned int hart, first;
	long adds;
};

static void *stress_caller_main(void *arg)
{
	struct stress_caller *c = arg;
	unsigned int i = c->first;

	host_cur_hart = &harts[c->hart];
	while (!__atomic_load_n(&stress_go, __ATOMIC_ACQUIRE))
		;
	for (long k = 0; k < STRESS_ADDS; k++) {
		o_add(obj(stress_refs[i]), 1);
		c->adds++;
		i = (i + 2) % STRESS_OBJS;
	}
	return NULL;
}

static void *stress_converter_main(void *arg)
{
	struct fx *x = arg;

	host_cur_hart = &harts[3];
	__atomic_store_n(&stress_go, 1, __ATOMIC_RELEASE);
	while (!__atomic_load_n(&stress_stop, __ATOMIC_ACQUIRE))
		convert_all(&x->f, 1000000);
	return NULL;
}

static void test_overtake_stress(void **state)
{
	struct fx *x = fx_new();
	struct stress_caller callers[2] = { { 1, 0, 0 }, { 2, 1, 0 } };
	struct class_version *v2;
	pthread_t ct[2], conv;
	long sum = 0;

	for (int i = 0; i < STRESS_OBJS; i++)
		stress_refs[i] = mk(x, 0);
	v2 = fx_update(x, 2, false, false);
	v2->pure_transfer = true;
	xfer_hook = xfer_sometimes_stalled;
	host_clock_step = 10;		/* 1 us a clock read: the wait's bound passes */
	stress_stop = stress_go = 0;
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&ct[i], NULL, stress_caller_main, &callers[i]), 0);
	assert_int_equal(pthread_create(&conv, NULL, stress_converter_main, x), 0);
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_join(ct[i], NULL), 0);
	__atomic_store_n(&stress_stop, 1, __ATOMIC_RELEASE);
	assert_int_equal(pthread_join(conv, NULL), 0);
	host_clock_step = 0;
	xfer_hook = NULL;
	assert_int_equal(convert_all(&x->f, 1000000), 0);
	for (int i = 0; i < STRESS_OBJS; i++) {
		struct object *o = obj(stress_refs[i]);

		assert_int_equal(o->version, 2);
		assert_int_equal(o->inflight, 0);
		sum += st(o)->value;
	}
	assert_int_equal(sum, callers[0].adds + callers[1].adds);
	assert_int_equal(sum, 2L * STRESS_ADDS);
	assert_int_equal(v2->live, STRESS_OBJS);
	assert_int_equal(list_len(x), STRESS_OBJS);
	/* The case it is about did happen. */
	assert_true(blackout_stats.overtakes > 0);
	assert_true(blackout_stats.abandoned > 0);
	print_message("stress: %lu overtakes, %lu conversions abandoned\n",
		      (unsigned long)blackout_stats.overtakes, (unsigned long)blackout_stats.abandoned);
}

static volatile int release_go;

static void *count_holder(void *arg)
{
	struct object *o = arg;
	unsigned long n = __atomic_load_n(&host_rdtime_calls, __ATOMIC_SEQ_CST);

	__atomic_store_n(&release_go, 1, __ATOMIC_RELEASE);
	if (!wait_rdtime_after(n))
		helper_timed_out = 1;
	usleep(2000);
	__atomic_sub_fetch(&o->inflight, 1, __ATOMIC_ACQ_REL);	/* its call returns */
	return NULL;
}

static void test_revert_waits_for_other_context(void **state)
{
	struct fx *x = fx_new();
	ott_ref_t r = mk(x, 4);
	struct object *o = obj(r), *n;
	struct class_version *v2;
	pthread_t t;

	v2 = fx_update(x, 2, true, true);
	assert_int_equal(r_add(r, 1), 5);
	n = obj(r);
	fx_rollback(x, &x->f.first, v2);
	/* Another context is in a counted call on the code being reverted. */
	n->inflight = 1;
	release_go = helper_timed_out = 0;
	assert_int_equal(pthread_create(&t, NULL, count_holder, n), 0);
	assert_true(wait_for(&release_go, 1));
	/* Not nested in it, a thread that can be preempted: waits for it, then converts back. */
	harts[0].cur = &fake_thread;
	assert_int_equal(r_get(r), 5);
	harts[0].cur = NULL;
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_false(helper_timed_out);
	assert_int_equal(last_version, 1);
	assert_ptr_equal(last_self, o);
	assert_ptr_equal(obj(r), o);
	assert_int_equal(total_waits(), 1);
}

/* ---- convert_all & co ---------------------------------------------------------------------- */

static void test_convert_all_many(void **state)
{
	struct fx *x;
	struct class_version *v1, *v2;
	struct list_head *pos;
	unsigned long locks0, i = 0;
	long live0;

	host_ott_setup(&kernel_ott, BIG_N + 16, 2);
	x = fx_new();
	for (long k = 0; k < BIG_N; k++)
		mk(x, k);
	v1 = &x->f.first;
	v2 = fx_update(x, 2, false, false);
	/* Calls in FORWARD/PROBATION versions are not "stale": only CONVERT/REVERT. */
	assert_int_equal(convert_pending(&x->f), BIG_N);
	live0 = host_live_allocs;
	locks0 = host_lock_ops;
	stub_calls = 0;
	assert_int_equal(convert_all(&x->f, 1000000), 0);
	assert_int_equal(nxfers, BIG_N);
	assert_int_equal(convert_pending(&x->f), 0);
	assert_int_equal(v1->live, 0);
	assert_int_equal(v2->live, BIG_N);
	assert_int_equal(x->f.converted, BIG_N);
	assert_int_equal(stub_calls, 0);	/* no method ran */
	assert_int_equal(yields, 0);
	assert_int_equal(quiescents, BIG_N / 8192);	/* lets go every WALK_BATCH */
	/* O(N): a few lock operations per instance. */
	assert_true(host_lock_ops - locks0 < 4UL * BIG_N + 100);
	/* Same order, every one on v2 with its value. */
	list_for_each(pos, &x->f.instances) {
		struct object *o = list_entry(pos, struct object, node);

		assert_int_equal(o->version, 2);
		assert_ptr_equal(o->ops, v2->dispatch);
		assert_int_equal(st(o)->value, (long)i);
		assert_ptr_equal(ott_slot_object(&kernel_ott, o->slot), o);
		i++;
	}
	assert_int_equal(i, BIG_N);
	assert_int_equal(host_ndeferred, BIG_N);
	assert_int_equal(host_live_allocs, live0 + BIG_N);
	host_defer_flush();
	assert_int_equal(host_live_allocs, live0);
}

static struct object *busy_objs[2];

static void release_busy(unsigned long nth)
{
	for (int i = 0; i < 2; i++)
		busy_objs[i]->inflight = 0;
}

static void test_convert_all_busy(void **state)
{
	struct fx *x = fx_new();
	ott_ref_t r[5];
	struct class_version *v2;

	for (int i = 0; i < 5; i++)
		r[i] = mk(x, i);
	busy_objs[0] = obj(r[1]);
	busy_objs[1] = obj(r[3]);
	v2 = fx_update(x, 2, false, false);
	busy_objs[0]->inflight = 1;
	busy_objs[1]->inflight = 2;
	/* One pass: the busy ones are skipped and reported. */
	assert_int_equal(convert_all_now(&x->f), 2);
	assert_int_equal(nxfers, 3);
	assert_int_equal(convert_pending(&x->f), 2);
	assert_ptr_equal(obj(r[1]), busy_objs[0]);
	assert_ptr_equal(obj(r[3]), busy_objs[1]);
	assert_int_equal(obj(r[0])->version, 2);
	assert_int_equal(obj(r[4])->version, 2);
	assert_int_equal(yields, 0);
	/* Still busy after the deadline: timed out, bounded. */
	yield_ticks = timer_us_to_ticks(300);
	assert_int_equal(convert_all(&x->f, 1000), -KE_TIMEDOUT);
	assert_true(yields >= 3 && yields <= 5);
	assert_int_equal(convert_pending(&x->f), 2);
	/* convert_all yields until the calls are out, then converts them. */
	yields = 0;
	yield_hook = release_busy;
	assert_int_equal(convert_all(&x->f, 1000000), 0);
	assert_int_equal(yields, 1);
	assert_int_equal(convert_pending(&x->f), 0);
	assert_int_equal(nxfers, 5);
	assert_int_equal(v2->live, 5);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(list_pos(x, obj(r[i])), i);
		assert_int_equal(r_get(r[i]), i);
	}
}

static void test_convert_all_nomem(void **state)
{
	struct fx *x = fx_new();
	ott_ref_t r[3];
	long live0;

	for (int i = 0; i < 3; i++)
		r[i] = mk(x, i);
	fx_update(x, 2, false, false);
	live0 = host_live_allocs;
	host_alloc_fail_in = 2;		/* the second conversion fails */
	assert_int_equal(convert_all(&x->f, 1000000), -KE_NOMEM);
	assert_int_equal(convert_pending(&x->f), 2);
	assert_int_equal(obj(r[1])->inflight, 0);
	assert_int_equal(host_locks_held, 0);
	assert_int_equal(host_live_allocs, live0 + 1);
	assert_int_equal(convert_all(&x->f, 1000000), 0);
	assert_int_equal(convert_pending(&x->f), 0);
}

static void test_convert_all_reverts(void **state)
{
	struct fx *x = fx_new();
	ott_ref_t r[4];
	struct object *old[4];
	struct class_version *v1 = &x->f.first, *v2;

	for (int i = 0; i < 4; i++) {
		r[i] = mk(x, i);
		old[i] = obj(r[i]);
	}
	v2 = fx_update(x, 2, true, true);
	assert_int_equal(convert_all(&x->f, 1000000), 0);
	assert_int_equal(convert_pending(&x->f), 0);
	for (int i = 0; i < 4; i++) {
		assert_ptr_equal(obj(r[i])->prev, old[i]);
		assert_int_equal(r_add(r[i], 10), i + 10);
	}
	fx_rollback(x, v1, v2);
	assert_int_equal(convert_pending(&x->f), 4);
	assert_int_equal(convert_all(&x->f, 1000000), 0);
	assert_int_equal(convert_pending(&x->f), 0);
	assert_int_equal(nbacks, 4);
	for (int i = 0; i < 4; i++) {
		assert_ptr_equal(obj(r[i]), old[i]);
		assert_int_equal(list_pos(x, old[i]), i);
		assert_int_equal(st(old[i])->value, i + 10);
	}
	assert_int_equal(v1->live, 4);
	assert_int_equal(v2->live, 0);
	assert_int_equal(host_ndeferred, 4);
}

static void test_convert_pending_and_drop_prev(void **state)
{
	static struct ctr dev;
	struct fx *x = fx_new();
	ott_ref_t r[3], d = OTT_REF_NULL;
	struct object *old[3];
	long arg = 1;

	for (int i = 0; i < 3; i++) {
		r[i] = mk(x, i);
		old[i] = obj(r[i]);
	}
	memset(&dev, 0, sizeof(dev));
	assert_int_equal(factory_adopt(&x->f, &dev.obj, &arg, &d), 0);
	dev.ref = d;
	assert_int_equal(convert_pending(&x->f), 0);
	fx_update(x, 2, true, false);
	assert_int_equal(convert_pending(&x->f), 4);
	assert_int_equal(r_get(r[0]), 0);
	assert_int_equal(r_get(d), 1);
	assert_int_equal(convert_pending(&x->f), 2);
	assert_int_equal(convert_all(&x->f, 1000000), 0);
	assert_int_equal(convert_pending(&x->f), 0);
	assert_int_equal(host_ndeferred, 0);
	assert_ptr_equal(obj(d)->prev, &dev.obj);
	convert_drop_prev(&x->f);
	for (int i = 0; i < 3; i++) {
		assert_null(obj(r[i])->prev);
		assert_true(deferred(old[i]));
	}
	assert_null(obj(d)->prev);
	assert_false(deferred(&dev.obj));	/* static: never freed */
	assert_int_equal(host_ndeferred, 3);
	convert_drop_prev(&x->f);	/* nothing left: idempotent */
	assert_int_equal(host_ndeferred, 3);
	assert_int_equal(host_locks_held, 0);
}

/* ---- bugs found and fixed ------------------------------------------------------------ */

static unsigned long failing_attempts;

static int xfer_fails(const struct object *old, struct object *new)
{
	/* Fails for good; gives in after 50 tries only so that the test ends. */
	return ++failing_attempts < 50 ? -KE_INVAL : 0;
}

/*
 * update/convert.c lazy_enter(): when convert_instance() fails for a
 * reason other than a claim or a count (-KE_NOMEM: a failed allocation or
 * a transfer that returns an error, or a version missing from the chain),
 * follow() finds the instance unclaimed in its slot and the loop calls
 * convert_instance() again, forever: a call spins with no way out.
 */
static void test_bug_failed_conversion_spins(void **state)
{
	struct fx *x = fx_new();
	ott_ref_t r = mk(x, 5);
	long res;

	fx_update(x, 2, false, false);
	xfer_hook = xfer_fails;
	failing_attempts = 0;
	res = r_get(r);
	/* One attempt per call, then the call runs (old version) or fails. */
	assert_int_equal(failing_attempts, 1);
	assert_true(res == 5 || res < 0);
}

/*
 * update/convert.c build_back(): reverting more than one version (a pack
 * with steps v1->v2->v3 rolled back to v1) applies no transfer_back (only
 * `obj->version == to->cls->version + 1` does), and an instance born in v3
 * during probation, with every step having a transfer_back, gets a zeroed
 * state on which neither init nor any transfer_back ran (init is skipped
 * because all_back is true).
 */
static void test_bug_revert_two_versions(void **state)
{
	struct fx *x = fx_new();
	struct class_version *v1 = &x->f.first, *v3;
	ott_ref_t kept, born;

	kept = mk(x, 1);
	fx_load(x, 2, true);
	v3 = fx_load(x, 3, true);
	fx_forward(x);
	fx_switch(x, v3, true);
	assert_int_equal(r_add(kept, 1), 2);	/* v1 -> v3, v1 state kept */
	born = mk(x, 40);
	assert_int_equal(obj(born)->version, 3);
	assert_int_equal(r_add(born, 2), 42);
	fx_rollback(x, v1, v3);
	init_calls = 0;
	/* Born in v3: its state must come back through transfer_back (or init). */
	assert_int_equal(r_get(born), 42);
	/* Kept: brought up to date when every step has a transfer_back. */
	assert_int_equal(r_get(kept), 2);
}

/*
 * update/convert.c convert_instance(): a call that raced with
 * factory_destroy() (it loaded the object before the destroy; the memory
 * stays valid until quiescence) converts the destroyed instance when its
 * version is in CONVERT: publish() links the new object into the dead
 * object's detached node, decrements the old version's live count a second
 * time (it wraps), ott_replace() of the freed slot does nothing, the new
 * object is leaked, and the old one is queued for a second free
 * (object_free_deferred here, kfree in factory.c's destroy_cb).
 */
static void test_bug_call_racing_destroy(void **state)
{
	struct fx *x = fx_new();
	ott_ref_t r = mk(x, 3), keep = mk(x, 4);
	struct object *o = obj(r), *ran_on;
	struct class_version *v1 = &x->f.first, *v2;
	bool double_free = false;
	uint32_t v1_live, v2_live;
	long res;

	v2 = fx_update(x, 2, false, false);
	assert_int_equal(factory_destroy(&x->f, r), 0);
	assert_int_equal(v1->live, 1);
	last_self = NULL;
	res = o_get(o);
	ran_on = last_self;
	v1_live = v1->live;
	v2_live = v2->live;
	/* Undo the damage before asserting, so the process survives it. */
	for (unsigned int i = 0; i < host_ndeferred; i++)
		if (host_deferred[i] == o) {
			double_free = true;
			host_deferred[i] = host_deferred[--host_ndeferred];
			break;
		}
	if (ran_on && ran_on != o) {
		kfree(ran_on);
		v2->live--;
		v1->live++;
	}
	(void)keep;
	assert_false(double_free);
	assert_true(ran_on == NULL || ran_on == o);	/* no new object for a dead instance */
	assert_true(res == 3 || res == -KE_STALE);
	assert_int_equal(v1_live, 1);
	assert_int_equal(v2_live, 0);
	assert_int_equal(nxfers, 0);
}

/*
 * src/factory.c factory_destroy()/destroy_cb(): destroying an instance
 * converted during probation frees the new state but never its kept old
 * state (obj->prev), and convert_drop_prev() no longer sees it: leaked.
 */
static void test_bug_destroy_in_probation_leaks_prev(void **state)
{
	struct fx *x = fx_new();
	ott_ref_t r = mk(x, 3);
	struct object *prev;
	long live0, live1;

	live0 = host_live_allocs;	/* one instance */
	fx_update(x, 2, true, false);
	assert_int_equal(r_get(r), 3);
	prev = obj(r)->prev;
	assert_non_null(prev);
	assert_int_equal(factory_destroy(&x->f, r), 0);
	convert_drop_prev(&x->f);
	host_defer_flush();
	live1 = host_live_allocs;
	if (live1 != live0 - 1)
		kfree(prev);	/* leaked: free it so the rest of the run stays clean */
	assert_int_equal(live1, live0 - 1);
}

static struct fx *race_fx;

static int xfer_rollback_meanwhile(const struct object *old, struct object *new)
{
	/* Another hart faults in v2 now and starts the rollback. */
	if (race_fx->v2.state == CV_PROBATION)
		fx_rollback(race_fx, &race_fx->f.first, &race_fx->v2);
	return 0;
}

/*
 * update/convert.c convert_instance(), line 254: whether the old state is
 * kept for a rollback is decided after the transfer, from
 * `to->state == CV_PROBATION`. If a rollback starts on another hart while
 * the conversion runs (to was read as the factory's current version before
 * it), `to` is in REVERT by then: the old state is freed instead of kept,
 * and the new instance, which must now convert back, gets a fresh state
 * (init, no transfer_back): the instance's state is lost.
 */
static void test_bug_rollback_during_conversion(void **state)
{
	struct fx *x = fx_new();
	ott_ref_t r = mk(x, 33);

	fx_update(x, 2, true, false);	/* probation, no transfer_back */
	race_fx = x;
	xfer_hook = xfer_rollback_meanwhile;
	init_calls = 0;
	/* The call converts forward, meets the rollback, and comes back to v1. */
	assert_int_equal(r_get(r), 33);
	assert_int_equal(init_calls, 0);
}


/* ---- fault containment ------------------------------------------------------------------ */

/* A spinlock taken "in the kernel": the host double, plus the hart's held-lock stack. */
static void held_lock(struct spinlock *l)
{
	spin_lock(l);
	harts[0].held[harts[0].nheld++] = l;
}

/* What update_fault() does for a recovery point: unwind to it (recover_save() returns 1). */
static void fault_to_recovery_point(int why)
{
	struct unwind_node *n = *chain();

	assert_non_null(n);
	assert_int_equal(n->kind, UNW_RECOVER);
	assert_int_equal(n->why, why);
	unwind_jump(n);
}

static struct spinlock xfer_lock = SPINLOCK_INIT("xfer-test");
static bool xfer_saw_irq_on;

static int xfer_faults(const struct object *old, struct object *new)
{
	xfer_saw_irq_on = host_irq_on;
	held_lock(&xfer_lock);
	st(new)->value = 12345;
	fault_to_recovery_point(RECOVER_TRANSFER);
	return 0;
}

/*
 * A transfer that faults (new code, during probation) fails that
 * conversion: the lock it took is released, interrupts come back, the
 * call that needed the conversion runs on the old version, and no half
 * converted state is published.
 */
static void test_transfer_fault_fails_conversion(void **state)
{
	struct fx *x = fx_new();
	ott_ref_t r = mk(x, 8);
	struct object *o = obj(r);
	long live0 = host_live_allocs;

	fx_update(x, 2, true, false);
	xfer_hook = xfer_faults;
	assert_int_equal(r_add(r, 1), 9);
	assert_false(xfer_saw_irq_on);		/* transfers run with interrupts off */
	assert_int_equal(nxfers, 1);
	assert_int_equal(last_version, 1);	/* the call ran on the old version */
	assert_ptr_equal(last_self, o);
	assert_ptr_equal(obj(r), o);
	assert_int_equal(o->inflight, 0);
	assert_int_equal(xfer_lock.locked, 0);	/* released by the unwind */
	assert_int_equal(harts[0].nheld, 0);
	assert_true(host_irq_on);
	assert_null(harts[0].converting);
	assert_int_equal(host_live_allocs, live0);	/* the new state was freed */
	assert_int_equal(o->flags & OBJ_NOCONVERT, 0);	/* under probation: may try again */
	xfer_hook = NULL;
	assert_int_equal(r_get(r), 9);		/* converts now */
	assert_int_equal(obj(r)->version, 2);
}

/*
 * After probation (the new version current) a transfer fault cannot roll
 * anything back: that instance stays on its version, and is not tried
 * again on every call or by the sweep.
 */
static void test_transfer_fault_after_probation_stays(void **state)
{
	struct fx *x = fx_new();
	ott_ref_t r = mk(x, 8);
	struct object *o = obj(r);

	fx_update(x, 2, false, false);
	xfer_hook = xfer_faults;
	assert_int_equal(r_add(r, 1), 9);
	assert_int_equal(nxfers, 1);
	assert_true(o->flags & OBJ_NOCONVERT);
	assert_int_equal(r_add(r, 1), 10);
	assert_int_equal(nxfers, 1);		/* not tried again */
	assert_int_equal(last_version, 1);
	assert_int_equal(convert_all(&x->f, 1000), 0);	/* the sweep leaves it */
	assert_ptr_equal(obj(r), o);
	o->flags &= ~OBJ_NOCONVERT;
	xfer_hook = NULL;
}

static int back_faults(const struct object *obj, struct object *prev)
{
	st(prev)->value = -777;	/* half written when it faults */
	fault_to_recovery_point(RECOVER_TRANSFER);
	return 0;
}

/*
 * A transfer_back that faults during the rollback: the instance goes back
 * to the state kept at its conversion, exactly as it was (not half
 * written by the faulting code), and the failure is counted.
 */
static void test_transfer_back_fault_keeps_state(void **state)
{
	struct fx *x = fx_new();
	ott_ref_t r = mk(x, 5);
	struct object *o = obj(r);
	struct class_version *v2;
	uint64_t failures = convert_back_failures;

	v2 = fx_update(x, 2, true, true);
	assert_int_equal(r_add(r, 2), 7);	/* on v2; v1 state (5) kept */
	fx_rollback(x, &x->f.first, v2);
	back_hook = back_faults;
	assert_int_equal(r_get(r), 5);		/* as at the conversion */
	assert_int_equal(nbacks, 1);
	assert_ptr_equal(obj(r), o);
	assert_int_equal(last_version, 1);
	assert_int_equal(convert_back_failures, failures + 1);
	assert_true(host_irq_on);
	assert_int_equal(o->inflight, 0);
}

/*
 * update/convert.c convert_instance() took the claim (OBJ_CLAIMED) before
 * it turned interrupts off: an interrupt taken in between whose handler
 * calls the same object found it claimed by the code it interrupted, on
 * its own hart, and waited for it for ever with interrupts off (follow()).
 */
static struct object *irq_obj;
static ott_ref_t irq_ref;
static bool irq_found_claimed;
static long irq_result;
static int irq_runs;

static void irq_handler_calls_object(void)
{
	host_irq_save_hook = NULL;	/* one interrupt */
	irq_runs++;
	if (__atomic_load_n(&irq_obj->inflight, __ATOMIC_ACQUIRE) & OBJ_CLAIMED) {
		irq_found_claimed = true;	/* its call would spin here for ever */
		return;
	}
	host_irq_on = false;		/* a handler runs with interrupts off */
	harts[0].irq_level = 1;
	irq_result = r_add(irq_ref, 100);
	harts[0].irq_level = 0;
	host_irq_on = true;
}

static void test_bug_claim_before_irq_off(void **state)
{
	struct fx *x = fx_new();

	irq_ref = mk(x, 1);
	irq_obj = obj(irq_ref);
	fx_update(x, 2, false, false);
	irq_found_claimed = false;
	irq_runs = 0;
	irq_result = 0;
	host_irq_save_hook = irq_handler_calls_object;
	/* The interrupt comes as the call's conversion turns interrupts off. */
	assert_int_equal(r_add(irq_ref, 1), 102);
	assert_int_equal(irq_runs, 1);
	assert_false(irq_found_claimed);
	assert_int_equal(irq_result, 101);	/* the handler converted it */
	assert_int_equal(obj(irq_ref)->version, 2);
	assert_int_equal(nxfers, 1);
	assert_int_equal(obj(irq_ref)->inflight, 0);
}

/*
 * update/convert.c lazy_enter(): during a rollback, a caller that cannot
 * wait (interrupts off, as under a spinlock) and finds calls still in the
 * instance (a thread preempted in it, maybe on this very hart) waited for
 * them in follow(), interrupts off: for ever if that thread was preempted
 * on its hart. It runs on the new code instead, counted and retryable.
 */
static void test_bug_revert_irq_off_caller_spins(void **state)
{
	struct fx *x = fx_new();
	ott_ref_t r = mk(x, 4);
	struct object *o = obj(r), *n;
	struct class_version *v2;

	v2 = fx_update(x, 2, true, true);
	assert_int_equal(r_add(r, 1), 5);
	n = obj(r);
	fx_rollback(x, &x->f.first, v2);
	n->inflight = 1;		/* a thread preempted inside a call on it */
	harts[0].cur = &fake_thread;
	host_irq_on = false;		/* the caller holds a spinlock */
	host_clock_step = 1000;		/* 100 us a clock read: the short spin ends */
	alarm(5);			/* the old code spins here */
	assert_int_equal(r_add(r, 2), 7);
	alarm(60);
	host_clock_step = 0;
	host_irq_on = true;
	assert_int_equal(last_version, 2);	/* on the new code */
	assert_ptr_equal(last_self, n);
	assert_int_equal(last_inflight, 2);	/* counted */
	assert_true(last_frame.node.cookie & UNW_PROBATION);	/* a fault would retry it */
	assert_ptr_equal(obj(r), n);		/* not converted under the other call */
	assert_null(fake_thread.ip_top);
	harts[0].cur = NULL;
	n->inflight = 0;			/* that call returns */
	assert_int_equal(r_get(r), 7);		/* back now, with what happened since */
	assert_ptr_equal(obj(r), o);
	assert_int_equal(last_version, 1);
}

/*
 * A caller that cannot wait spins a little first: a call that ends
 * meanwhile (on another hart) lets it convert the instance back and run
 * on the old version, not on the new code.
 */
static void test_revert_cannot_wait_spins_briefly(void **state)
{
	struct fx *x = fx_new();
	ott_ref_t r = mk(x, 4);
	struct object *o = obj(r), *n;
	struct class_version *v2;
	pthread_t t;

	v2 = fx_update(x, 2, true, true);
	assert_int_equal(r_add(r, 1), 5);
	n = obj(r);
	fx_rollback(x, &x->f.first, v2);
	n->inflight = 1;		/* a short call on another hart */
	release_go = helper_timed_out = 0;
	assert_int_equal(pthread_create(&t, NULL, count_holder, n), 0);
	assert_true(wait_for(&release_go, 1));
	host_irq_on = false;
	assert_int_equal(r_add(r, 2), 7);	/* once the other call ended: on v1 */
	host_irq_on = true;
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_false(helper_timed_out);
	assert_int_equal(last_version, 1);
	assert_ptr_equal(obj(r), o);
}

/*
 * The same caller, when the new code faults on it again and again: after
 * a second fault the call fails (-KE_BUSY, counted) rather than loop.
 */
static void test_revert_cannot_wait_fails_after_second_fault(void **state)
{
	struct fx *x = fx_new();
	ott_ref_t r = mk(x, 5);
	struct object *n;
	uint64_t failed = convert_failed_calls;

	fault_fx = x;
	fault_cv = fx_update(x, 2, true, true);
	fault_rollback = true;
	assert_int_equal(r_add(r, 2), 7);
	n = obj(r);
	count_objs[0] = count_objs[1] = NULL;
	n->inflight = 1;		/* another call in it, which never ends here */
	faults = 0;
	faults_left = 10;
	hook_fn = hook_fault_v2;
	host_irq_on = false;
	host_clock_step = 1000;
	assert_int_equal(r_hook(r, 0), -KE_BUSY);
	host_clock_step = 0;
	host_irq_on = true;
	assert_int_equal(faults, 2);		/* in probation, then once during the rollback */
	assert_int_equal(convert_failed_calls, failed + 1);
	assert_int_equal(n->inflight, 1);
	assert_null(harts[0].ip_top);
	n->inflight = 0;
	assert_int_equal(r_get(r), 7);
	assert_int_equal(last_version, 1);
}

/*
 * A thread stopped inside a counted call (a fault after probation, a kill
 * at a preemption point) never returns through lazy_exit(): its count
 * pinned the instance (never converted, its version never retired). The
 * kill path drops every node of its chain (thread_kill_current ->
 * unwind_drop(NULL)), which undoes the counts.
 */
static jmp_buf killed_jb;

static long hook_killed(struct object *self, int v, long arg)
{
	unwind_drop(NULL);		/* thread_kill_current() */
	longjmp(killed_jb, 1);		/* and it never comes back */
}

static void test_killed_in_counted_call_unpins(void **state)
{
	struct fx *x = fx_new();
	ott_ref_t r = mk(x, 3);
	struct object *n;
	struct class_version *v2;

	v2 = fx_update(x, 2, true, true);
	assert_int_equal(r_get(r), 3);
	n = obj(r);
	hook_fn = hook_killed;
	harts[0].cur = &fake_thread;
	if (!setjmp(killed_jb))
		r_hook(r, 0);
	harts[0].cur = NULL;
	assert_null(fake_thread.ip_top);
	assert_int_equal(n->inflight, 0);
	assert_int_equal(convert_probation_calls(v2, v2->epoch), 0);
	/* Nothing pins it: a rollback converts it back at once. */
	fx_rollback(x, &x->f.first, v2);
	assert_int_equal(convert_all(&x->f, 1000), 0);
	assert_int_equal(obj(r)->version, 1);
}

/*
 * Probation calls are counted per epoch: flipping it (the end of
 * probation) leaves the calls in flight in the old one until they end;
 * later calls count in the new one.
 */
static struct class_version *epoch_cv;
static uint32_t epoch_old_in, epoch_new_in;

static long hook_flip(struct object *self, int v, long arg)
{
	unsigned int old = epoch_cv->epoch & 1;

	convert_flip_epoch(epoch_cv);
	epoch_old_in = convert_probation_calls(epoch_cv, old);
	epoch_new_in = convert_probation_calls(epoch_cv, old ^ 1);
	return 0;
}

static void test_probation_epochs_drain(void **state)
{
	struct fx *x = fx_new();
	ott_ref_t r = mk(x, 3);

	epoch_cv = fx_update(x, 2, true, false);
	assert_int_equal(r_get(r), 3);
	hook_fn = hook_flip;
	assert_int_equal(r_hook(r, 0), 0);
	assert_int_equal(epoch_old_in, 1);	/* this call, still in flight */
	assert_int_equal(epoch_new_in, 0);
	assert_int_equal(convert_probation_calls(epoch_cv, 0), 0);
	assert_int_equal(convert_probation_calls(epoch_cv, 1), 0);
}

/*
 * Unwinding a faulted probation call: spinlocks taken under it are
 * released (not those its caller held before), the interrupt nesting and
 * enable state come back to what they were at the call, and the call is
 * retried.
 */
static struct spinlock outer_lock = SPINLOCK_INIT("outer"), inner_lock = SPINLOCK_INIT("inner");
static struct trap_frame unwind_tf;
static unsigned int unwind_released;
static int unwind_faults_left;

static long hook_locks_then_fault(struct object *self, int v, long arg)
{
	struct ip_frame *f;

	if (unwind_faults_left-- <= 0)
		return 77;
	held_lock(&inner_lock);
	harts[0].irq_depth = 2;
	host_irq_on = false;
	f = convert_find_frame(object_version(self));
	assert_non_null(f);
	memset(&unwind_tf, 0, sizeof(unwind_tf));
	unwind_released = unwind_to(&f->node, &unwind_tf);
	host_irq_on = (unwind_tf.sstatus & SSTATUS_SPIE) != 0;	/* what sret would do */
	longjmp(container_of(f, struct host_ip, f)->retry, 1);
}

static void test_unwind_restores_locks_and_irq(void **state)
{
	struct fx *x = fx_new();
	ott_ref_t r = mk(x, 3);

	fx_update(x, 2, true, false);
	assert_int_equal(r_get(r), 3);
	/* The caller holds one lock with interrupts off (a log line being written). */
	held_lock(&outer_lock);
	harts[0].irq_depth = 1;
	harts[0].irq_was_on = 1;
	host_irq_on = false;
	hook_fn = hook_locks_then_fault;
	unwind_faults_left = 1;
	assert_int_equal(r_hook(r, 0), 77);
	assert_int_equal(stub_retries, 1);
	assert_int_equal(unwind_released, 1);
	assert_int_equal(inner_lock.locked, 0);
	assert_int_equal(outer_lock.locked, 1);	/* the caller's: kept */
	assert_int_equal(harts[0].nheld, 1);
	assert_ptr_equal(harts[0].held[0], &outer_lock);
	assert_int_equal(harts[0].irq_depth, 1);
	assert_int_equal(unwind_tf.sstatus & SSTATUS_SPIE, 0);	/* were off at the call */
	assert_false(host_irq_on);
	spin_unlock(&outer_lock);
	harts[0].nheld = 0;
	harts[0].irq_depth = 0;
	host_irq_on = true;
}

static void on_alarm(int sig)
{
	static const char msg[] = "test_convert: timed out: a call spins (livelock?) "
				  "in the test that was running\n";

	(void)sig;
	if (write(2, msg, sizeof(msg) - 1) < 0)
		_exit(2);
	_exit(1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_set_state_fills_dispatch),
		T(test_set_state_null_method_is_nosys),
		T(test_forward_counts_and_runs_old),
		T(test_forward_thread_chain),
		T(test_forward_nested_counts),
		T(test_forward_two_objects),
		T(test_convert_on_first_call),
		T(test_convert_stale_pointer_follows),
		T(test_convert_chain_of_versions),
		T(test_convert_reentrant_call_runs_old),
		T(test_convert_busy_runs_old_counted),
		T(test_convert_claim_protocol),
		T(test_convert_transfer_reenters_uncounted),
		T(test_convert_transient_nomem),
		T(test_convert_static_instance),
		T(test_convert_blackout_figures),
		T(test_probation_counted_and_keeps_prev),
		T(test_probation_find_frame),
		T(test_probation_find_innermost),
		T(test_probation_abandon_and_retry),
		T(test_probation_fault_rolls_back_and_retries),
		T(test_revert_reuses_prev_no_back),
		T(test_revert_reuses_prev_with_back),
		T(test_revert_fresh_state),
		T(test_revert_reentrant_call),
		T(test_caller_waits_for_converter),
		T(test_caller_overtakes_stalled_converter),
		T(test_overtake_stress),
		T(test_revert_waits_for_other_context),
		T(test_convert_all_many),
		T(test_convert_all_busy),
		T(test_convert_all_nomem),
		T(test_convert_all_reverts),
		T(test_convert_pending_and_drop_prev),
		T(test_bug_failed_conversion_spins),
		T(test_bug_revert_two_versions),
		T(test_bug_call_racing_destroy),
		T(test_bug_destroy_in_probation_leaks_prev),
		T(test_bug_rollback_during_conversion),
		T(test_transfer_fault_fails_conversion),
		T(test_transfer_fault_after_probation_stays),
		T(test_transfer_back_fault_keeps_state),
		T(test_bug_claim_before_irq_off),
		T(test_bug_revert_irq_off_caller_spins),
		T(test_revert_cannot_wait_fails_after_second_fault),
		T(test_revert_cannot_wait_spins_briefly),
		T(test_killed_in_counted_call_unpins),
		T(test_probation_epochs_drain),
		T(test_unwind_restores_locks_and_irq),
#undef T
	};

	/* The whole run takes well under a second: a livelock fails it instead of hanging it. */
	signal(SIGALRM, on_alarm);
	alarm(60);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
