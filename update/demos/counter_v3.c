/*
 * Demo update 4: counter 2 -> 3, an interface change. Version 3 adds the
 * stats() method (interface 2) and reshapes the state: the value is split
 * over per-hart cells. Old callers keep calling get(), which is now an
 * adapter over stats(); new callers ask object_iface_version() first.
 */
#include <kernel/update.h>
#include <kernel/counter.h>
#include <kernel/hart.h>
#include <kernel/errno.h>
#include "counter_v3.h"

static long v3_add(struct object *self, long n)
{
	struct counter_v3 *c = (struct counter_v3 *)self;

	__atomic_add_fetch(&c->cell[this_hart()->index % COUNTER_V3_CELLS], n, __ATOMIC_RELAXED);
	__atomic_add_fetch(&c->calls, 1, __ATOMIC_RELAXED);
	return counter_v3_sum(c);
}

static long v3_stats(struct object *self, struct counter_stats *out)
{
	const struct counter_v3 *c = (const struct counter_v3 *)self;

	out->value = counter_v3_sum(c);
	out->calls = __atomic_load_n(&c->calls, __ATOMIC_RELAXED);
	out->version = 3;
	return 0;
}

/* The interface-1 method, kept for old callers as an adapter. */
static long v3_get_adapter(struct object *self)
{
	struct counter_stats st;

	v3_stats(self, &st);
	return st.value;
}

static const struct counter_ops v3_ops = {
	.add = v3_add,
	.get = v3_get_adapter,
	.stats = v3_stats,
};

static const struct class v3_class = {
	.name = "counter",
	.impl = "counter",
	.version = 3,
	.iface_version = 2,
	.ops = &v3_ops,
	.nmethods = 3,
	.state_size = sizeof(struct counter_v3),
};

static int v2_to_v3(const struct object *from, struct object *to)
{
	const struct counter_v2_state *o = (const struct counter_v2_state *)from;
	struct counter_v3 *n = (struct counter_v3 *)to;

	n->cell[0] = o->value;
	n->calls = o->calls;
	return 0;
}

static int v3_to_v2(const struct object *from, struct object *to)
{
	const struct counter_v3 *o = (const struct counter_v3 *)from;
	struct counter_v2_state *n = (struct counter_v2_state *)to;

	n->value = counter_v3_sum(o);
	n->calls = o->calls;
	return 0;
}

static int v3_selftest(const struct class *cls)
{
	struct counter_v3 c = { .calls = 0 };
	const struct counter_ops *ops = cls->ops;
	struct counter_stats st;

	ops->add(&c.obj, 4);
	ops->add(&c.obj, 6);
	ops->stats(&c.obj, &st);
	return st.value == 10 && st.calls == 2 && ops->get(&c.obj) == 10 ? 0 : -KE_INVAL;
}

const struct update_desc update_desc = {
	.abi = KERNEL_ABI,
	.class_name = "counter",
	.impl = "counter",
	.from = 2,
	.to = 3,
	.cls = &v3_class,
	.transfer = v2_to_v3,
	.flags = UPDATE_PURE_TRANSFER,	/* it only reads the old state */
	.transfer_back = v3_to_v2,
	.selftest = v3_selftest,
	.mode = UPDATE_MODE_LAZY,
};
