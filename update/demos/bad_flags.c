/*
 * Rejection test: a descriptor with a flag this kernel does not know (it
 * may stand for a promise the kernel would not keep): refused as
 * malformed, after the link, before anything is switched.
 */
#include <kernel/update.h>
#include <kernel/counter.h>
#include "counter_v3.h"

static long get(struct object *self)
{
	return counter_v3_sum((const struct counter_v3 *)self);
}

static long add(struct object *self, long n)
{
	return get(self) + n;
}

static long stats(struct object *self, struct counter_stats *out)
{
	return -1;
}

static const struct counter_ops ops = { .add = add, .get = get, .stats = stats };

static const struct class cls4 = {
	.name = "counter", .impl = "counter", .version = 4, .iface_version = 2,
	.ops = &ops, .nmethods = 3, .state_size = sizeof(struct counter_v3),
};

static int keep(const struct object *from, struct object *to)
{
	return 0;
}

const struct update_desc update_desc = {
	.abi = KERNEL_ABI, .class_name = "counter", .impl = "counter", .from = 3, .to = 4,
	.cls = &cls4, .transfer = keep, .flags = UPDATE_PURE_TRANSFER | (1U << 7),
};
