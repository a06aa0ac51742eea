/* Rejection test: a module calling a kernel function that is not exported. */
#include <kernel/update.h>
#include <kernel/counter.h>
#include <kernel/mem.h>
#include "counter_v3.h"

static long bad_add(struct object *self, long n)
{
	return (long)page_alloc(0);	/* page_alloc is not in the export table */
}

static long bad_get(struct object *self)
{
	return 0;
}

static const struct counter_ops bad_ops = { .add = bad_add, .get = bad_get };

static const struct class bad_class = {
	.name = "counter", .impl = "counter", .version = 4, .iface_version = 2,
	.ops = &bad_ops, .nmethods = 3, .state_size = sizeof(struct counter_v3),
};

static int keep(const struct object *from, struct object *to)
{
	return 0;
}

const struct update_desc update_desc = {
	.abi = KERNEL_ABI, .class_name = "counter", .impl = "counter", .from = 3, .to = 4,
	.cls = &bad_class, .transfer = keep,
};
