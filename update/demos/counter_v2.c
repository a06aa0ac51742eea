/*
 * Demo update 2: counter 1 -> 2, a state change applied lazily to every
 * instance while the workload runs: version 2 adds a `calls` field that
 * counts add() calls. Transfer keeps the value; transfer_back drops calls.
 */
#include <kernel/update.h>
#include <kernel/counter.h>
#include <kernel/errno.h>

/*
 * Test variants (counter_v2_*.c) define these to one of their own
 * functions, declared before they include this file.
 */
#ifndef COUNTER_V2_ADD
#define COUNTER_V2_ADD v2_add
#endif
#ifndef COUNTER_V2_SELFTEST
#define COUNTER_V2_SELFTEST v2_selftest
#endif
#ifndef COUNTER_V2_TRANSFER
#define COUNTER_V2_TRANSFER v1_to_v2
#endif
#ifndef COUNTER_V2_TRANSFER_BACK
#define COUNTER_V2_TRANSFER_BACK v2_to_v1
#endif
#ifndef COUNTER_V2_INIT
#define COUNTER_V2_INIT NULL	/* (version 2 needs none: a new counter is zeroed) */
#endif
#ifndef COUNTER_V2_FINI
#define COUNTER_V2_FINI NULL
#endif
/* A variant may replace any of them: the originals stay available to it. */
#define COUNTER_V2_MAYBE_UNUSED __attribute__((unused))

struct counter_v2 {
	struct object obj;
	long value;
	long calls;
};

static COUNTER_V2_MAYBE_UNUSED long v2_add(struct object *self, long n)
{
	struct counter_v2 *c = (struct counter_v2 *)self;

	__atomic_add_fetch(&c->calls, 1, __ATOMIC_RELAXED);
	return __atomic_add_fetch(&c->value, n, __ATOMIC_RELAXED);
}

static long v2_get(struct object *self)
{
	return __atomic_load_n(&((struct counter_v2 *)self)->value, __ATOMIC_RELAXED);
}

static const struct counter_ops v2_ops = {
	.add = COUNTER_V2_ADD,
	.get = v2_get,
};

static const struct class v2_class = {
	.name = "counter",
	.impl = "counter",
	.version = 2,
	.iface_version = 1,
	.ops = &v2_ops,
	.nmethods = 2,
	.state_size = sizeof(struct counter_v2),
	.init = COUNTER_V2_INIT,
	.fini = COUNTER_V2_FINI,
};

static COUNTER_V2_MAYBE_UNUSED int v1_to_v2(const struct object *from, struct object *to)
{
	((struct counter_v2 *)to)->value = ((const struct counter_v1 *)from)->value;
	((struct counter_v2 *)to)->calls = 0;
	return 0;
}

static COUNTER_V2_MAYBE_UNUSED int v2_to_v1(const struct object *from, struct object *to)
{
	((struct counter_v1 *)to)->value = ((const struct counter_v2 *)from)->value;
	return 0;
}

/* A scratch instance must count what it is given. */
static COUNTER_V2_MAYBE_UNUSED int v2_selftest(const struct class *cls)
{
	struct counter_v2 c = { .value = 0 };
	const struct counter_ops *ops = cls->ops;

	ops->add(&c.obj, 5);
	ops->add(&c.obj, 7);
	return ops->get(&c.obj) == 12 && c.calls == 2 ? 0 : -KE_INVAL;
}

const struct update_desc update_desc = {
	.abi = KERNEL_ABI,
	.class_name = "counter",
	.impl = "counter",
	.from = 1,
	.to = 2,
	.cls = &v2_class,
	.transfer = COUNTER_V2_TRANSFER,
	.flags = UPDATE_PURE_TRANSFER,	/* it only reads the old state */
	.transfer_back = COUNTER_V2_TRANSFER_BACK,
	.selftest = COUNTER_V2_SELFTEST,
	.mode = UPDATE_MODE_LAZY,
};
