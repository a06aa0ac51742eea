// unit-srcs: src/factory.c src/ott.c test/unit/host_stubs.c
/*
 * Host tests of factories: registration by class name (bad classes and
 * duplicate names refused), creating instances (init runs on zeroed state;
 * a failing init, a failed allocation or a full OTT leave nothing behind),
 * destroying them (fini runs, the slot is released at once and the memory
 * only after quiescence, references go stale, a second destroy is
 * refused), adopting static instances, dispatch tables (missing methods
 * answer -KE_NOSYS), lookups and the registry walk. kmalloc, the locks,
 * the deferred free and kernel_ott are host doubles (host_stubs.c) that
 * count live blocks and held locks.
 *
 * The registry is global to the process and has no "unregister", so every
 * test registers factories with names of its own, in static storage.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <kernel/object.h>
#include <kernel/ott.h>
#include <kernel/mem.h>
#include <kernel/errno.h>
#include "host_stubs.h"

#define NSLOTS	8

/* A widget: init takes a value and grabs a kmalloc'd buffer fini releases. */
struct widget_ops {
	long (*get)(struct object *self);
	long (*set)(struct object *self, long v);
};
CLASS_OPS_CHECK(struct widget_ops);

struct widget {
	struct object obj;
	long value;
	char *buf;
	uint8_t tail[40];
};

struct widget_arg {
	long value;
	int fail;		/* init returns this instead of 0 */
};

static unsigned int init_calls, fini_calls;
static int init_saw_nonzero;
static struct object *last_fini;

static long widget_get(struct object *self)
{
	return ((struct widget *)self)->value;
}

static long widget_set(struct object *self, long v)
{
	((struct widget *)self)->value = v;
	return 0;
}

static const struct widget_ops widget_ops = { .get = widget_get, .set = widget_set };

static int widget_init(struct object *self, const void *arg)
{
	const struct widget_arg *a = arg;
	struct widget *w = (struct widget *)self;

	init_calls++;
	/* State past the header must be zeroed. */
	for (size_t i = 0; i < sizeof(w->tail); i++)
		if (w->tail[i])
			init_saw_nonzero = 1;
	if (w->value || w->buf)
		init_saw_nonzero = 1;
	if (a && a->fail)
		return a->fail;
	w->buf = kmalloc(32);
	if (!w->buf)
		return -KE_NOMEM;
	w->value = a ? a->value : -1;
	return 0;
}

static void widget_fini(struct object *self)
{
	struct widget *w = (struct widget *)self;

	fini_calls++;
	last_fini = self;
	kfree(w->buf);
	w->buf = NULL;
}

#define WIDGET_CLASS(n) {						\
	.name = (n), .version = 3, .iface_version = 1,			\
	.ops = &widget_ops,						\
	.nmethods = sizeof(struct widget_ops) / sizeof(void *),		\
	.state_size = sizeof(struct widget),				\
	.init = widget_init, .fini = widget_fini,			\
}

static long live_base;

static int setup(void **state)
{
	host_ott_setup(&kernel_ott, NSLOTS, 2);
	init_calls = fini_calls = 0;
	init_saw_nonzero = 0;
	last_fini = NULL;
	host_alloc_fail_in = 0;
	host_locks_held = 0;
	live_base = host_live_allocs;
	return 0;
}

static int teardown(void **state)
{
	assert_int_equal(host_locks_held, 0);
	host_defer_flush();
	assert_int_equal(host_live_allocs, live_base);	/* no leak */
	host_ott_teardown(&kernel_ott);
	return 0;
}

static long call_get(ott_ref_t r)
{
	return OTT_CALL(r, struct widget_ops, get);
}

static long call_set(ott_ref_t r, long v)
{
	return OTT_CALL(r, struct widget_ops, set, v);
}

static bool in_list(struct factory *f, struct object *o)
{
	struct list_head *pos;

	list_for_each(pos, &f->instances)
		if (list_entry(pos, struct object, node) == o)
			return true;
	return false;
}

static unsigned int list_len(struct factory *f)
{
	struct list_head *pos;
	unsigned int n = 0;

	list_for_each(pos, &f->instances)
		n++;
	return n;
}

static ott_ref_t create_ok(struct factory *f, long value)
{
	struct widget_arg a = { .value = value };
	ott_ref_t r = OTT_REF_NULL;

	assert_int_equal(factory_create(f, &a, &r), 0);
	assert_int_equal(host_locks_held, 0);
	return r;
}

/* ---- factory_init ---------------------------------------------------------------- */

static void test_init_rejects_bad_classes(void **state)
{
	static struct factory f;
	static const struct class no_ops = {
		.name = "bad-noops", .state_size = sizeof(struct widget),
	};
	static const struct class too_small = {
		.name = "bad-small", .ops = &widget_ops,
		.state_size = sizeof(struct object) - 1,
	};
	static const struct class too_many = {
		.name = "bad-many", .ops = &widget_ops, .nmethods = OTT_MAX_METHODS + 1,
		.state_size = sizeof(struct widget),
	};
	static const struct class no_name = {
		.ops = &widget_ops, .state_size = sizeof(struct widget),
	};
	static ott_method_t full_ops[OTT_MAX_METHODS];	/* nmethods entries, as promised */
	static const struct class just_header = {
		.name = "ok-header", .ops = full_ops, .nmethods = OTT_MAX_METHODS,
		.state_size = sizeof(struct object),
	};

	assert_int_equal(factory_init(&f, NULL), -KE_INVAL);
	assert_int_equal(factory_init(&f, &no_ops), -KE_INVAL);
	assert_int_equal(factory_init(&f, &too_small), -KE_INVAL);
	assert_int_equal(factory_init(&f, &too_many), -KE_INVAL);
	assert_int_equal(factory_init(&f, &no_name), -KE_INVAL);
	assert_int_equal(host_locks_held, 0);
	assert_null(factory_find("bad-noops"));
	assert_null(factory_find("bad-small"));
	assert_null(factory_find("bad-many"));
	/* The limits themselves are fine. */
	for (unsigned int i = 0; i < OTT_MAX_METHODS; i++)
		full_ops[i] = (ott_method_t)(void (*)(void))widget_get;
	assert_int_equal(factory_init(&f, &just_header), 0);
	assert_ptr_equal(factory_find("ok-header"), &f);
	assert_ptr_equal((void *)f.first.dispatch[OTT_MAX_METHODS - 1], (void *)widget_get);
}

static void test_init_registers(void **state)
{
	static struct factory f;
	static const struct class cls = WIDGET_CLASS("reg-widget");

	memset(&f, 0x5a, sizeof(f));
	assert_null(factory_find("reg-widget"));
	assert_int_equal(factory_init(&f, &cls), 0);
	assert_int_equal(host_locks_held, 0);
	assert_ptr_equal(factory_class(&f), &cls);
	/* The built-in version, the only one, with its dispatch table. */
	assert_ptr_equal(f.cur, &f.first);
	assert_ptr_equal(f.first.cls, &cls);
	assert_ptr_equal(f.first.factory, &f);
	assert_int_equal(f.first.live, 0);
	assert_ptr_equal(f.versions.next, &f.first.node);
	assert_ptr_equal(f.first.node.next, &f.versions);
	assert_ptr_equal((void *)f.first.dispatch[0], (void *)widget_get);
	assert_ptr_equal((void *)f.first.dispatch[1], (void *)widget_set);
	for (unsigned int i = 2; i < OTT_MAX_METHODS; i++)
		assert_ptr_equal((void *)f.first.dispatch[i], (void *)object_nosys);
	assert_int_equal(f.converted, 0);
	assert_int_equal(f.count, 0);
	assert_int_equal(f.created, 0);
	assert_int_equal(f.destroyed, 0);
	assert_true(list_empty(&f.instances));
	assert_int_equal(f.lock.locked, 0);
	assert_ptr_equal(factory_find("reg-widget"), &f);
	assert_null(factory_find("reg-widge"));
	assert_null(factory_find("reg-widget2"));
}

static void test_init_duplicate_name(void **state)
{
	static struct factory f1, f2;
	static const struct class c1 = WIDGET_CLASS("dup-widget");
	static const struct class c2 = WIDGET_CLASS("dup-widget");	/* another class, same name */
	struct factory before;

	assert_int_equal(factory_init(&f1, &c1), 0);
	memset(&f2, 0x77, sizeof(f2));
	before = f2;
	assert_int_equal(factory_init(&f2, &c2), -KE_EXIST);
	assert_int_equal(factory_init(&f2, &c1), -KE_EXIST);
	assert_int_equal(host_locks_held, 0);
	assert_memory_equal(&f2, &before, sizeof(f2));	/* untouched */
	assert_ptr_equal(factory_find("dup-widget"), &f1);
}

struct walk {
	struct factory *want[3];
	unsigned int seen[3];
	unsigned int total;
	int locked_inside;
};

static void walker(struct factory *f, void *arg)
{
	struct walk *w = arg;

	if (++w->total > 1000)
		fail_msg("factory registry walk does not end (corrupt list)");
	if (host_locks_held != 1)
		w->locked_inside = 0;
	for (int i = 0; i < 3; i++)
		if (w->want[i] == f)
			w->seen[i]++;
}

static void test_for_each_visits_each_once(void **state)
{
	static struct factory a, b, c;
	static const struct class ca = WIDGET_CLASS("walk-a");
	static const struct class cb = WIDGET_CLASS("walk-b");
	static const struct class cc = WIDGET_CLASS("walk-c");
	struct walk w = { .want = { &a, &b, &c }, .locked_inside = 1 };
	struct walk w2 = { .locked_inside = 1 };

	factory_for_each(walker, &w2);
	assert_int_equal(factory_init(&a, &ca), 0);
	assert_int_equal(factory_init(&b, &cb), 0);
	assert_int_equal(factory_init(&c, &cc), 0);
	factory_for_each(walker, &w);
	assert_int_equal(host_locks_held, 0);
	assert_int_equal(w.seen[0], 1);
	assert_int_equal(w.seen[1], 1);
	assert_int_equal(w.seen[2], 1);
	assert_int_equal(w.total, w2.total + 3);
	assert_true(w.locked_inside);	/* the walk holds the registry lock */
}

/*
 * Initialising a registered factory again is refused too: accepting it
 * would add its node to the registry a second time (the committed
 * factory.c did, corrupting the list) and wipe its instance list.
 */
static void test_reinit_refused_registry_intact(void **state)
{
	static struct factory a, b;
	static const struct class ca = WIDGET_CLASS("twice-a");
	static const struct class cb = WIDGET_CLASS("twice-b");
	struct walk w = { .want = { &a, &b, NULL }, .locked_inside = 1 };
	ott_ref_t r;

	assert_int_equal(factory_init(&a, &ca), 0);
	assert_int_equal(factory_init(&b, &cb), 0);
	r = create_ok(&a, 12);
	assert_int_equal(factory_init(&a, &ca), -KE_EXIST);
	assert_int_equal(host_locks_held, 0);
	factory_for_each(walker, &w);
	assert_int_equal(w.seen[0], 1);
	assert_int_equal(w.seen[1], 1);
	assert_ptr_equal(factory_find("twice-b"), &b);
	/* The live instance is still a's. */
	assert_int_equal(a.count, 1);
	assert_ptr_equal(factory_object(&a, r), list_first_entry(&a.instances, struct object, node));
	assert_int_equal(factory_destroy(&a, r), 0);
}

/* ---- factory_create ---------------------------------------------------------------- */

static void test_create_and_call(void **state)
{
	static struct factory f;
	static const struct class cls = WIDGET_CLASS("create-widget");
	ott_ref_t r1, r2;
	struct object *o1, *o2;
	uint32_t used = kernel_ott.used;

	assert_int_equal(factory_init(&f, &cls), 0);
	r1 = create_ok(&f, 41);
	r2 = create_ok(&f, 42);
	assert_int_equal(init_calls, 2);
	assert_false(init_saw_nonzero);
	assert_int_equal(kernel_ott.used, used + 2);
	assert_int_equal(host_live_allocs, live_base + 4);	/* 2 states + 2 buffers */
	assert_int_equal(ott_ref_check(&kernel_ott, r1), 0);
	assert_ptr_equal(ott_class_of(&kernel_ott, r1), &cls);

	o1 = factory_object(&f, r1);
	o2 = factory_object(&f, r2);
	assert_non_null(o1);
	assert_non_null(o2);
	assert_ptr_not_equal(o1, o2);
	/* Instances point at their version's dispatch table, not the class's ops. */
	assert_ptr_equal(o1->ops, f.first.dispatch);
	assert_ptr_equal(object_version(o1), &f.first);
	assert_ptr_equal(o1->factory, &f);
	assert_int_equal(o1->version, 3);
	assert_int_equal(o1->slot, r1.slot);
	assert_int_equal(o1->flags & OBJ_STATIC, 0);
	assert_int_equal(f.first.live, 2);
	assert_int_equal(f.count, 2);
	assert_int_equal(f.created, 2);
	assert_int_equal(f.destroyed, 0);
	assert_int_equal(list_len(&f), 2);
	assert_ptr_equal(list_first_entry(&f.instances, struct object, node), o1);

	/* Calls through the references reach each instance's own state. */
	assert_int_equal(call_get(r1), 41);
	assert_int_equal(call_get(r2), 42);
	assert_int_equal(call_set(r2, 99), 0);
	assert_int_equal(call_get(r2), 99);
	assert_int_equal(call_get(r1), 41);

	assert_int_equal(factory_destroy(&f, r1), 0);
	assert_int_equal(factory_destroy(&f, r2), 0);
}

/* What the instance's version counted when its destroy was queued. */
static struct factory *order_f;
static uint32_t live_when_queued;

static void note_live(void (*fn)(void *arg), void *arg)
{
	live_when_queued = order_f->first.live;
}

/*
 * The destroy is queued while the instance still counts on its version. A
 * version seen with no instances may be retired, its module freed by a
 * deferred call of its own; the reaper runs deferred calls in the order
 * they were queued, so the instance's fini (code and class in that
 * module) must be queued first.
 */
static void test_destroy_queued_before_version_empties(void **state)
{
	static struct factory f;
	static const struct class cls = WIDGET_CLASS("order-widget");
	ott_ref_t r;

	assert_int_equal(factory_init(&f, &cls), 0);
	r = create_ok(&f, 3);
	order_f = &f;
	live_when_queued = 0;
	host_defer_hook = note_live;
	assert_int_equal(factory_destroy(&f, r), 0);
	host_defer_hook = NULL;
	assert_int_equal(live_when_queued, 1);
	assert_int_equal(f.first.live, 0);
	assert_int_equal(f.count, 0);
}

static void test_create_without_init(void **state)
{
	static struct factory f;
	static const struct class cls = {
		.name = "noinit", .ops = &widget_ops, .nmethods = 2,
		.state_size = sizeof(struct widget),
	};
	ott_ref_t r = OTT_REF_NULL;

	assert_int_equal(factory_init(&f, &cls), 0);
	assert_int_equal(factory_create(&f, NULL, &r), 0);
	assert_int_equal(call_get(r), 0);	/* zeroed state */
	assert_int_equal(factory_destroy(&f, r), 0);	/* no fini: fine */
	assert_int_equal(fini_calls, 0);
}

static void test_create_init_fails(void **state)
{
	static struct factory f;
	static const struct class cls = WIDGET_CLASS("initfail-widget");
	struct widget_arg bad = { .value = 1, .fail = -KE_BUSY };
	ott_ref_t r = OTT_REF_NULL;
	uint32_t used;

	assert_int_equal(factory_init(&f, &cls), 0);
	used = kernel_ott.used;
	assert_int_equal(factory_create(&f, &bad, &r), -KE_BUSY);
	assert_int_equal(init_calls, 1);
	assert_int_equal(fini_calls, 0);	/* init failed: nothing to release */
	assert_int_equal(host_live_allocs, live_base);
	assert_int_equal(kernel_ott.used, used);	/* no slot taken */
	assert_int_equal(f.count, 0);
	assert_int_equal(f.created, 0);
	assert_true(list_empty(&f.instances));
	assert_int_equal(host_locks_held, 0);
	/* The next allocation gets the first free slot, as if nothing happened. */
	r = create_ok(&f, 5);
	assert_int_equal(r.slot, 1);
	assert_int_equal(factory_destroy(&f, r), 0);
}

static void test_create_nomem(void **state)
{
	static struct factory f;
	static const struct class cls = WIDGET_CLASS("nomem-widget");
	struct widget_arg a = { .value = 1 };
	ott_ref_t r = OTT_REF_NULL;

	assert_int_equal(factory_init(&f, &cls), 0);
	/* The state allocation fails: init never runs. */
	host_alloc_fail_in = 1;
	assert_int_equal(factory_create(&f, &a, &r), -KE_NOMEM);
	assert_int_equal(init_calls, 0);
	/* init's own allocation fails: its error comes back, the state is freed. */
	host_alloc_fail_in = 2;
	assert_int_equal(factory_create(&f, &a, &r), -KE_NOMEM);
	assert_int_equal(init_calls, 1);
	assert_int_equal(fini_calls, 0);
	assert_int_equal(host_live_allocs, live_base);
	assert_int_equal(kernel_ott.used, 1);
	assert_int_equal(f.count, 0);
}

static void test_create_ott_full(void **state)
{
	static struct factory f;
	static const struct class cls = WIDGET_CLASS("full-widget");
	ott_ref_t refs[NSLOTS];
	ott_ref_t r = OTT_REF_NULL;
	struct widget_arg a = { .value = 7 };
	unsigned int n = 0;

	assert_int_equal(factory_init(&f, &cls), 0);
	while (kernel_ott.used < NSLOTS) {
		refs[n] = create_ok(&f, n);
		n++;
	}
	assert_int_equal(n, NSLOTS - 1);
	init_calls = fini_calls = 0;
	assert_int_equal(factory_create(&f, &a, &r), -KE_NOSPC);
	assert_int_equal(init_calls, 1);
	assert_int_equal(fini_calls, 1);	/* what init acquired is released */
	assert_int_equal(f.count, NSLOTS - 1);
	assert_int_equal(f.created, NSLOTS - 1);
	assert_int_equal(list_len(&f), NSLOTS - 1);
	assert_int_equal(host_locks_held, 0);
	/* Only the live instances' memory is left: 2 blocks each. */
	assert_int_equal(host_live_allocs, live_base + 2 * (NSLOTS - 1));
	for (unsigned int i = 0; i < n; i++)
		assert_int_equal(factory_destroy(&f, refs[i]), 0);
	assert_int_equal(f.count, 0);
}

/* ---- factory_destroy ----------------------------------------------------------------- */

static void test_destroy(void **state)
{
	static struct factory f;
	static const struct class cls = WIDGET_CLASS("destroy-widget");
	ott_ref_t a, b, c;
	struct object *ob;

	assert_int_equal(factory_init(&f, &cls), 0);
	a = create_ok(&f, 1);
	b = create_ok(&f, 2);
	c = create_ok(&f, 3);
	ob = factory_object(&f, b);
	assert_int_equal(call_get(b), 2);	/* cache it */

	assert_int_equal(host_live_allocs, live_base + 6);
	assert_int_equal(factory_destroy(&f, b), 0);
	assert_int_equal(host_locks_held, 0);
	/* fini waits for quiescence too: a racing call may still use its resources. */
	assert_int_equal(fini_calls, 0);
	host_defer_flush();
	assert_int_equal(fini_calls, 1);
	assert_ptr_equal(last_fini, ob);
	assert_int_equal(f.count, 2);
	assert_int_equal(f.created, 3);
	assert_int_equal(f.destroyed, 1);
	assert_int_equal(f.first.live, 2);
	assert_int_equal(list_len(&f), 2);
	assert_false(in_list(&f, ob));
	assert_ptr_equal(list_first_entry(&f.instances, struct object, node),
			 factory_object(&f, a));
	assert_true(in_list(&f, factory_object(&f, c)));
	assert_int_equal(kernel_ott.used, 3);
	/* fini released the buffer and the state went: both after quiescence. */
	assert_int_equal(host_live_allocs, live_base + 4);

	/* The reference is stale everywhere. */
	assert_int_equal(ott_ref_check(&kernel_ott, b), -KE_STALE);
	assert_null(factory_object(&f, b));
	assert_int_equal(call_get(b), -KE_STALE);
	assert_int_equal(factory_destroy(&f, b), -KE_STALE);
	assert_int_equal(fini_calls, 1);	/* not twice */
	assert_int_equal(f.destroyed, 1);
	/* Others unaffected. */
	assert_int_equal(call_get(a), 1);
	assert_int_equal(call_get(c), 3);

	assert_int_equal(factory_destroy(&f, a), 0);
	assert_int_equal(factory_destroy(&f, c), 0);
	assert_true(list_empty(&f.instances));
	assert_int_equal(f.count, 0);
	assert_int_equal(f.destroyed, 3);
	assert_int_equal(f.first.live, 0);
	assert_int_equal(kernel_ott.used, 1);
	assert_int_equal(fini_calls, 1);	/* the other two wait for quiescence */
	host_defer_flush();
	assert_int_equal(fini_calls, 3);
}

static void test_destroy_wrong_factory_or_null(void **state)
{
	static struct factory f, g;
	static const struct class cf = WIDGET_CLASS("own-f");
	static const struct class cg = WIDGET_CLASS("own-g");
	ott_ref_t r;

	assert_int_equal(factory_init(&f, &cf), 0);
	assert_int_equal(factory_init(&g, &cg), 0);
	r = create_ok(&f, 8);
	assert_null(factory_object(&g, r));
	assert_int_equal(factory_destroy(&g, r), -KE_STALE);
	assert_int_equal(factory_destroy(&f, OTT_REF_NULL), -KE_STALE);
	assert_int_equal(host_locks_held, 0);
	/* Still alive and listed where it was. */
	assert_int_equal(fini_calls, 0);
	assert_int_equal(ott_ref_check(&kernel_ott, r), 0);
	assert_int_equal(call_get(r), 8);
	assert_int_equal(f.count, 1);
	assert_int_equal(g.count, 0);
	assert_int_equal(g.destroyed, 0);
	assert_int_equal(factory_destroy(&f, r), 0);
}

static void test_destroy_stale_after_reuse(void **state)
{
	static struct factory f;
	static const struct class cls = WIDGET_CLASS("reuse-widget");
	ott_ref_t old, fresh[NSLOTS];
	unsigned int n = 0;

	assert_int_equal(factory_init(&f, &cls), 0);
	old = create_ok(&f, 1);
	assert_int_equal(factory_destroy(&f, old), 0);
	/* Fill the table so the freed slot comes back. */
	while (kernel_ott.used < NSLOTS) {
		fresh[n] = create_ok(&f, 100 + n);
		n++;
	}
	assert_int_equal(fresh[n - 1].slot, old.slot);
	assert_int_equal(factory_destroy(&f, old), -KE_STALE);
	assert_null(factory_object(&f, old));
	assert_int_equal(call_get(fresh[n - 1]), 100 + n - 1);
	assert_int_equal(f.count, n);
	for (unsigned int i = 0; i < n; i++)
		assert_int_equal(factory_destroy(&f, fresh[i]), 0);
}

/* ---- factory_adopt (static instances) ----------------------------------------------- */

static void test_adopt_static_instance(void **state)
{
	static struct factory f, g;
	static const struct class cls = WIDGET_CLASS("adopt-widget");
	static const struct class gcls = WIDGET_CLASS("adopt-other");
	static struct widget dev;
	struct widget_arg a = { .value = 55 };
	ott_ref_t r = OTT_REF_NULL;

	assert_int_equal(factory_init(&f, &cls), 0);
	assert_int_equal(factory_init(&g, &gcls), 0);
	assert_int_equal(factory_adopt(&f, &dev.obj, &a, &r), 0);
	assert_int_equal(host_locks_held, 0);
	assert_int_equal(init_calls, 1);
	assert_ptr_equal(dev.obj.ops, f.first.dispatch);
	assert_ptr_equal(dev.obj.factory, &f);
	assert_int_equal(dev.obj.version, 3);
	assert_int_equal(dev.obj.slot, r.slot);
	assert_true(dev.obj.flags & OBJ_STATIC);
	assert_ptr_equal(factory_object(&f, r), &dev.obj);
	assert_null(factory_object(&g, r));
	assert_int_equal(f.count, 1);
	assert_int_equal(f.first.live, 1);
	assert_true(in_list(&f, &dev.obj));
	assert_int_equal(call_get(r), 55);
	assert_int_equal(host_live_allocs, live_base + 1);	/* only init's buffer */

	assert_int_equal(factory_destroy(&g, r), -KE_STALE);
	assert_int_equal(factory_destroy(&f, r), 0);
	assert_int_equal(fini_calls, 0);
	assert_int_equal(host_live_allocs, live_base + 1);
	host_defer_flush();
	assert_int_equal(fini_calls, 1);
	assert_int_equal(f.count, 0);
	assert_int_equal(host_live_allocs, live_base);	/* static storage is never freed */
	assert_int_equal(ott_ref_check(&kernel_ott, r), -KE_STALE);
	assert_int_equal(call_get(r), -KE_STALE);
}

static void test_adopt_errors(void **state)
{
	static struct factory f;
	static const struct class cls = WIDGET_CLASS("adopt-fail");
	static struct widget dev[NSLOTS + 1];
	struct widget_arg bad = { .fail = -KE_IO };
	struct widget_arg ok = { .value = 1 };
	ott_ref_t refs[NSLOTS];
	ott_ref_t r = OTT_REF_NULL;
	unsigned int n = 0;

	assert_int_equal(factory_init(&f, &cls), 0);
	assert_int_equal(factory_adopt(&f, &dev[0].obj, &bad, &r), -KE_IO);
	assert_int_equal(kernel_ott.used, 1);
	assert_int_equal(f.count, 0);
	assert_int_equal(fini_calls, 0);
	assert_int_equal(host_locks_held, 0);

	while (kernel_ott.used < NSLOTS) {
		assert_int_equal(factory_adopt(&f, &dev[n].obj, &ok, &refs[n]), 0);
		n++;
	}
	init_calls = 0;
	assert_int_equal(factory_adopt(&f, &dev[n].obj, &ok, &r), -KE_NOSPC);
	assert_int_equal(init_calls, 1);
	assert_int_equal(fini_calls, 1);	/* init's buffer released */
	assert_int_equal(f.count, NSLOTS - 1);
	assert_false(in_list(&f, &dev[n].obj));
	assert_int_equal(host_locks_held, 0);
	for (unsigned int i = 0; i < n; i++)
		assert_int_equal(factory_destroy(&f, refs[i]), 0);
	assert_int_equal(host_ndeferred, 0);
}

/* ---- dispatch tables, interface versions ------------------------------------------------- */

struct wide_ops {
	long (*get)(struct object *self);
	long (*set)(struct object *self, long v);
	long (*third)(struct object *self);
	long (*fourth)(struct object *self, long a);
};

static long call_third(ott_ref_t r)
{
	return OTT_CALL(r, struct wide_ops, third);
}

static long call_fourth(ott_ref_t r, long a)
{
	return OTT_CALL(r, struct wide_ops, fourth, a);
}

static long wide_fourth(struct object *self, long a)
{
	return a + 1;
}

static void test_missing_methods_answer_nosys(void **state)
{
	static struct factory f, g;
	/* The widget class offers 2 methods; a caller with a wider view asks for more. */
	static const struct class cls = WIDGET_CLASS("nosys-widget");
	/* A NULL entry inside the table is missing too. */
	static const struct wide_ops holes = { .get = widget_get, .fourth = wide_fourth };
	static const struct class gcls = {
		.name = "nosys-holes", .ops = &holes, .nmethods = 4,
		.state_size = sizeof(struct widget),
	};
	ott_ref_t r, q;

	assert_int_equal(factory_init(&f, &cls), 0);
	assert_int_equal(factory_init(&g, &gcls), 0);
	r = create_ok(&f, 9);
	assert_int_equal(call_third(r), -KE_NOSYS);	/* miss path */
	assert_int_equal(call_get(r), 9);
	assert_int_equal(call_fourth(r, 1), -KE_NOSYS);	/* hit path */
	assert_int_equal(object_nosys(NULL), -KE_NOSYS);

	assert_int_equal(factory_create(&g, NULL, &q), 0);
	assert_int_equal(call_get(q), 0);
	assert_int_equal(call_set(q, 3), -KE_NOSYS);
	assert_int_equal(call_third(q), -KE_NOSYS);
	assert_int_equal(call_fourth(q, 41), 42);
	assert_int_equal(factory_destroy(&f, r), 0);
	assert_int_equal(factory_destroy(&g, q), 0);
}

static void test_class_version_init(void **state)
{
	static const struct class cls = WIDGET_CLASS("cv-widget");
	struct class_version cv;
	struct factory f;

	memset(&cv, 0x5a, sizeof(cv));
	class_version_init(&cv, &f, &cls);
	assert_ptr_equal(cv.cls, &cls);
	assert_ptr_equal(cv.factory, &f);
	assert_null(cv.transfer);
	assert_null(cv.module);
	assert_int_equal(cv.live, 0);
	assert_int_equal(cv.state, CV_CURRENT);
	assert_true(list_empty(&cv.node));
	assert_ptr_equal((void *)cv.dispatch[0], (void *)widget_get);
	assert_ptr_equal((void *)cv.dispatch[1], (void *)widget_set);
	assert_ptr_equal((void *)cv.dispatch[OTT_MAX_METHODS - 1], (void *)object_nosys);
}

static void test_iface_version(void **state)
{
	static struct factory f;
	static const struct class cls = {
		.name = "iface-widget", .version = 4, .iface_version = 2, .ops = &widget_ops,
		.nmethods = 2, .state_size = sizeof(struct widget),
	};
	struct object plain = { .ops = &widget_ops };
	ott_ref_t r, p;

	assert_int_equal(factory_init(&f, &cls), 0);
	assert_int_equal(factory_create(&f, NULL, &r), 0);
	assert_int_equal(object_iface_version(r), 2);
	assert_int_equal(ott_alloc(&kernel_ott, &plain, NULL, &p), 0);
	assert_int_equal(object_iface_version(p), -KE_NOENT);	/* no factory */
	assert_int_equal(factory_destroy(&f, r), 0);
	assert_int_equal(object_iface_version(r), -KE_STALE);
	assert_int_equal(object_iface_version(OTT_REF_NULL), -KE_STALE);
	assert_int_equal(ott_free(&kernel_ott, p), 0);
}

#define T_(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T_(test_init_rejects_bad_classes),
		T_(test_init_registers),
		T_(test_init_duplicate_name),
		T_(test_reinit_refused_registry_intact),
		T_(test_for_each_visits_each_once),
		T_(test_create_and_call),
		T_(test_create_without_init),
		T_(test_destroy_queued_before_version_empties),
		T_(test_create_init_fails),
		T_(test_create_nomem),
		T_(test_create_ott_full),
		T_(test_destroy),
		T_(test_destroy_wrong_factory_or_null),
		T_(test_destroy_stale_after_reuse),
		T_(test_adopt_static_instance),
		T_(test_adopt_errors),
		T_(test_missing_methods_answer_nosys),
		T_(test_class_version_init),
		T_(test_iface_version),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
