/*
 * Benchmark update module: class BCLASS, version BFROM -> BFROM + 1, same
 * layout, a trivial transfer. Built once per (class, step) by demos.mk so
 * that apply times compare lazy and eager on the same work.
 */
#include <kernel/update.h>
#include <kernel/bench_obj.h>

static long add(struct object *self, long n)
{
	return __atomic_add_fetch(&((struct bobj *)self)->v, n, __ATOMIC_RELAXED);
}

static long get(struct object *self)
{
	return ((struct bobj *)self)->v;
}

static const struct bobj_ops ops = { .add = add, .get = get };

static const struct class cls = {
	.name = BCLASS, .impl = "bench", .version = BFROM + 1, .iface_version = 1,
	.ops = &ops, .nmethods = 2, .state_size = sizeof(struct bobj),
};

static int copy(const struct object *from, struct object *to)
{
	((struct bobj *)to)->v = ((const struct bobj *)from)->v;
	return 0;
}

const struct update_desc update_desc = {
	.abi = KERNEL_ABI, .class_name = BCLASS, .impl = "bench", .from = BFROM, .to = BFROM + 1,
	.cls = &cls, .transfer = copy, .transfer_back = copy,
	.flags = UPDATE_PURE_TRANSFER,	/* copy() only reads the old state */
};
