/*
 * Test update: counter 3 -> 4, a correct one (same layout as 3; stats()
 * reports version 4). Shipped in a pack together with uart 4 -> 5 to show
 * steps for several classes applied in order, all or nothing.
 */
#include <kernel/update.h>
#include <kernel/counter.h>
#include <kernel/hart.h>
#include <kernel/errno.h>
#include "counter_v3.h"

static long v4_add(struct object *self, long n)
{
	struct counter_v3 *c = (struct counter_v3 *)self;

	__atomic_add_fetch(&c->cell[this_hart()->index % COUNTER_V3_CELLS], n, __ATOMIC_RELAXED);
	__atomic_add_fetch(&c->calls, 1, __ATOMIC_RELAXED);
	return counter_v3_sum(c);
}

static long v4_stats(struct object *self, struct counter_stats *out)
{
	const struct counter_v3 *c = (const struct counter_v3 *)self;

	out->value = counter_v3_sum(c);
	out->calls = __atomic_load_n(&c->calls, __ATOMIC_RELAXED);
	out->version = 4;
	return 0;
}

static long v4_get(struct object *self)
{
	return counter_v3_sum((const struct counter_v3 *)self);
}

static const struct counter_ops v4_ops = { .add = v4_add, .get = v4_get, .stats = v4_stats };

static const struct class v4_class = {
	.name = "counter", .impl = "counter", .version = 4, .iface_version = 2,
	.ops = &v4_ops, .nmethods = 3, .state_size = sizeof(struct counter_v3),
};

static int same_layout(const struct object *from, struct object *to)
{
	const struct counter_v3 *o = (const struct counter_v3 *)from;
	struct counter_v3 *n = (struct counter_v3 *)to;

	for (int i = 0; i < COUNTER_V3_CELLS; i++)
		n->cell[i] = o->cell[i];
	n->calls = o->calls;
	return 0;
}

static int v4_selftest(const struct class *cls)
{
	struct counter_v3 c = { .calls = 0 };
	const struct counter_ops *ops = cls->ops;
	struct counter_stats st;

	ops->add(&c.obj, 3);
	ops->stats(&c.obj, &st);
	return st.value == 3 && st.calls == 1 && st.version == 4 ? 0 : -KE_INVAL;
}

const struct update_desc update_desc = {
	.abi = KERNEL_ABI, .class_name = "counter", .impl = "counter", .from = 3, .to = 4,
	.cls = &v4_class, .transfer = same_layout, .transfer_back = same_layout,
	.flags = UPDATE_PURE_TRANSFER,
	.selftest = v4_selftest, .mode = UPDATE_MODE_LAZY,
};
