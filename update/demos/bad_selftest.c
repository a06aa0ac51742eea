/* Rejection test: a version whose self-test fails; nothing may change. */
#include <kernel/update.h>
#include <kernel/counter.h>
#include <kernel/errno.h>
#include "counter_v3.h"

static long add(struct object *self, long n)
{
	return n;
}

static long get(struct object *self)
{
	return 0;
}

static const struct counter_ops ops = { .add = add, .get = get };

static const struct class cls4 = {
	.name = "counter", .impl = "counter", .version = 4, .iface_version = 2,
	.ops = &ops, .nmethods = 3, .state_size = sizeof(struct counter_v3),
};

static int keep(const struct object *from, struct object *to)
{
	return 0;
}

static int selftest(const struct class *cls)
{
	return ((const struct counter_ops *)cls->ops)->add(NULL, 2) == 3 ? 0 : -KE_INVAL;
}

const struct update_desc update_desc = {
	.abi = KERNEL_ABI, .class_name = "counter", .impl = "counter", .from = 3, .to = 4,
	.cls = &cls4, .transfer = keep, .selftest = selftest,
};
