/* Rejection test: a version that drops methods old callers use. */
#include <kernel/update.h>
#include <kernel/counter.h>
#include "counter_v3.h"

static long only_add(struct object *self, long n)
{
	return n;
}

static const struct counter_ops small_ops = { .add = only_add };

static const struct class small_class = {
	.name = "counter", .impl = "counter", .version = 4, .iface_version = 1,
	.ops = &small_ops, .nmethods = 1, .state_size = sizeof(struct counter_v3),
};

static int keep(const struct object *from, struct object *to)
{
	return 0;
}

const struct update_desc update_desc = {
	.abi = KERNEL_ABI, .class_name = "counter", .impl = "counter", .from = 3, .to = 4,
	.cls = &small_class, .transfer = keep,
};
