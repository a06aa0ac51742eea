/* The benchmark class family (src/bench_update.c) and its update modules. */
#ifndef KERNEL_BENCH_OBJ_H
#define KERNEL_BENCH_OBJ_H
#include <kernel/ott.h>

struct bobj_ops {
	long (*add)(struct object *self, long n);
	long (*get)(struct object *self);
};

struct bobj {
	struct object obj;
	long v;
};

static inline long bobj_add(ott_ref_t r, long n)
{
	return OTT_CALL(r, struct bobj_ops, add, n);
}
#endif
