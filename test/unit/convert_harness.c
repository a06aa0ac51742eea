/*
 * The harness of the host tests of update/convert.c (see
 * convert_harness.h): the kernel pieces convert.c calls, the lazy stubs,
 * the counter class, fixtures, an emulated fault, and setup/teardown.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <signal.h>

#include <kernel/update_engine.h>
#include <kernel/hart.h>
#include <kernel/riscv.h>
#include <kernel/timer.h>
#include <kernel/mem.h>
#include <kernel/errno.h>
#include <kernel/trap.h>
#include "host_stubs.h"
#include "convert_harness.h"

#define TIMER_HZ_HOST	10000000ULL	/* 10 MHz, as QEMU virt */

/* ---- what convert.c needs from the kernel ------------------------------------- */

uint64_t timer_freq_hz = TIMER_HZ_HOST;
char ip_retry[4];

unsigned long yields, quiescents;
void (*yield_hook)(unsigned long nth);
uint64_t yield_ticks = 1000;	/* fake time a yield lets pass */

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

/* ---- the lazy stubs, interpose.S in C ------------------------------------------ */

unsigned long stub_calls, stub_retries;

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

struct thread fake_thread;

void use_hart(unsigned int h)
{
	host_cur_hart = &harts[h];
	host_set_hart(&kernel_ott, h);
}

struct unwind_node **chain(void)
{
	struct hart *h = this_hart();

	return h->cur ? (struct unwind_node **)&h->cur->ip_top : (struct unwind_node **)&h->ip_top;
}

unsigned int chain_len(void)
{
	unsigned int n = 0;

	for (struct unwind_node *f = *chain(); f; f = f->prev)
		n++;
	return n;
}

/* ---- the class: a counter in three versions ------------------------------------- */

CLASS_OPS_CHECK(struct ctr_ops);

/* What the last method saw. */
int last_version;
struct object *last_self;
uint32_t last_inflight;
struct unwind_node *last_top;	/* compare only: dead after the call */
struct ip_frame last_frame;	/* copy of *last_top while it was live */
bool last_irq_on;
unsigned long ran[4];

/* reenter(): per depth, the count seen on the way in and the top frame. */
uint32_t inflight_at[MAX_DEPTH];
struct unwind_node *top_at[MAX_DEPTH], *top_prev_at[MAX_DEPTH];
unsigned int chain_len_at[MAX_DEPTH];

/* hook(): what the test wants done inside a method. */
long (*hook_fn)(struct object *self, int version, long arg);

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

long r_get(ott_ref_t r)
{
	return OTT_CALL(r, struct ctr_ops, get);
}

long r_add(ott_ref_t r, long d)
{
	return OTT_CALL(r, struct ctr_ops, add, d);
}

long r_reenter(ott_ref_t r, long depth)
{
	return OTT_CALL(r, struct ctr_ops, reenter, depth);
}

long r_hook(ott_ref_t r, long arg)
{
	return OTT_CALL(r, struct ctr_ops, hook, arg);
}

long r_ver(ott_ref_t r)
{
	return OTT_CALL(r, struct ctr_ops, ver);
}

/* A call through an object pointer a caller loaded earlier (no OTT). */
long o_get(struct object *o)
{
	return ((const struct ctr_ops *)o->ops)->get(o);
}

long o_add(struct object *o, long d)
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
long get_v##V(struct object *self)					\
{										\
	note(self, V);								\
	return st(self)->value;							\
}										\
long add_v##V(struct object *self, long d)				\
{										\
	note(self, V);								\
	st(self)->value += d;							\
	return st(self)->value;							\
}										\
long reenter_v##V(struct object *self, long depth)			\
{										\
	return do_reenter(self, V, depth);					\
}										\
long hook_v##V(struct object *self, long arg)				\
{										\
	note(self, V);								\
	return hook_fn ? hook_fn(self, V, arg) : 0;				\
}
CTR_METHODS(1)
CTR_METHODS(2)
CTR_METHODS(3)

long ver_v2(struct object *self)
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

unsigned int init_calls;
bool init_saw_nonzero;

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
struct xfer xfers[MAX_XFER], backs[MAX_XFER];
unsigned long nxfers, nbacks;
int (*xfer_hook)(const struct object *old, struct object *new);

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

int (*back_hook)(const struct object *obj, struct object *prev);

static int ctr_transfer_back(const struct object *obj, struct object *prev)
{
	record(backs, &nbacks, obj, prev);
	st(prev)->value = ((const struct ctr *)obj)->value;
	st(prev)->ref = ((const struct ctr *)obj)->ref;
	return back_hook ? back_hook(obj, prev) : 0;
}

/* ---- fixtures: one factory per test (the registry has no unregister) ------------ */

#define MAX_FX 64
static struct fx fxs[MAX_FX];
static unsigned int nfx;
static struct fx *used[4];		/* this test's fixtures, for the teardown */
static unsigned int nused;

static const struct ctr_ops *const ops_of[4] = { NULL, &ops_v1, &ops_v2, &ops_v3 };

struct fx *fx_new(void)
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
struct class_version *fx_load(struct fx *x, int v, bool back)
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
void fx_forward(struct fx *x)
{
	fx_set_old(x, x->f.cur, CV_CURRENT, CV_FORWARD);
}

/* The switch: @after current (or in probation), old versions convert. */
void fx_switch(struct fx *x, struct class_version *after, bool probation)
{
	struct class_version *before = x->f.cur;

	cv_set_state(after, probation ? CV_PROBATION : CV_CURRENT);
	__atomic_store_n(&x->f.cur, after, __ATOMIC_RELEASE);
	fx_set_old(x, before, CV_FORWARD, CV_CONVERT);
	fx_set_old(x, before, CV_CURRENT, CV_CONVERT);
}

/* Loads @v and switches to it (forward phase included). */
struct class_version *fx_update(struct fx *x, int v, bool probation, bool back)
{
	struct class_version *cv = fx_load(x, v, back);

	fx_forward(x);
	fx_switch(x, cv, probation);
	return cv;
}

/* probation.c's start_rollback. */
void fx_rollback(struct fx *x, struct class_version *before, struct class_version *after)
{
	__atomic_store_n(&x->f.cur, before, __ATOMIC_RELEASE);
	cv_set_state(before, CV_CONVERT);
	after->revert_to = before;
	cv_set_state(after, CV_REVERT);
}

ott_ref_t mk(struct fx *x, long value)
{
	ott_ref_t r = OTT_REF_NULL;
	struct object *o;

	assert_int_equal(factory_create(&x->f, &value, &r), 0);
	o = factory_object(&x->f, r);
	assert_non_null(o);
	st(o)->ref = r;
	return r;
}

struct object *obj(ott_ref_t r)
{
	return ott_lookup(&kernel_ott, r);
}

unsigned int list_pos(struct fx *x, const struct object *o)
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

unsigned int list_len(struct fx *x)
{
	struct list_head *pos;
	unsigned int n = 0;

	list_for_each(pos, &x->f.instances)
		n++;
	return n;
}

bool deferred(const struct object *o)
{
	for (unsigned int i = 0; i < host_ndeferred; i++)
		if (host_deferred[i] == o)
			return true;
	return false;
}

/* ---- setup / teardown ------------------------------------------------------------- */

static long live_base;

int setup(void **state)
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

int teardown(void **state)
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

/* ---- an emulated fault -------------------------------------------------------------- */

/*
 * An emulated fault in probation code, as update_fault() handles it: find
 * the innermost probation frame of the version, abandon it (and whatever
 * is nested in it), optionally start the rollback, and resume at the
 * frame's retry point.
 */
struct fx *fault_fx;
struct class_version *fault_cv;
bool fault_rollback;
int faults_left;
unsigned long faults;
uint32_t counts_after_abandon[2];
struct object *count_objs[2];
struct unwind_node *top_after_abandon;

void emulate_fault(void)
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

/* A hook: faults in version 2 while faults_left lasts. */
long hook_fault_v2(struct object *self, int v, long arg)
{
	if (v == 2 && faults_left > 0) {
		faults_left--;
		emulate_fault();
	}
	return 1000 * v + st(self)->value;
}

/* ---- a second hart (pthread) ----------------------------------------------------------- */

bool wait_for(volatile int *flag, int want)
{
	for (int i = 0; i < 20000; i++) {	/* 20 s at most */
		if (__atomic_load_n(flag, __ATOMIC_ACQUIRE) == want)
			return true;
		usleep(1000);
	}
	return false;
}

/* Waits until the other thread reads the clock (it is in follow()'s wait). */
bool wait_rdtime_after(unsigned long n)
{
	for (int i = 0; i < 20000; i++) {
		if (__atomic_load_n(&host_rdtime_calls, __ATOMIC_SEQ_CST) > n)
			return true;
		usleep(1000);
	}
	return false;
}

volatile int helper_timed_out, release_go;

void *count_holder(void *arg)
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

/* ---- running ---------------------------------------------------------------------- */

static const char *run_name;

static void on_alarm(int sig)
{
	static const char msg[] = ": timed out: a call spins (livelock?) in the test that was running\n";

	(void)sig;
	if (write(2, run_name, strlen(run_name)) < 0 || write(2, msg, sizeof(msg) - 1) < 0)
		_exit(2);
	_exit(1);
}

int convert_run(const char *name, const struct CMUnitTest *tests, size_t n)
{
	/* A run takes well under a second: a livelock fails it instead of hanging it. */
	run_name = name;
	signal(SIGALRM, on_alarm);
	alarm(60);
	return _cmocka_run_group_tests(name, tests, n, NULL, NULL);
}
