/*
 * Shared by the device-driver modules of the fault matrix (netdev_v2_*,
 * plic_v2_fault, storage_v2_*, spi_v2_fault; test/qemu/test_faults.py):
 * a version 2 of a driver in which every method faults (a load through a
 * pointer that is never set) before it touches the device or the state,
 * with the version 1 state layout and transfers both ways that copy it.
 * Applied eagerly, every call during probation reaches version 2, faults,
 * is unwound and retried on version 1, and the pack rolls back.
 *
 * A module defines its methods with DEVFAULT() (or DEVFAULT_V1() for one
 * that works), then DEVFAULT_COPY() and DEVFAULT_CLASS().
 */
#ifndef DEMOS_DEV_V2_FAULTS_H
#define DEMOS_DEV_V2_FAULTS_H

#include <string.h>
#include <kernel/update.h>
#include <kernel/object.h>
#include <kernel/spinlock.h>
#include <kernel/errno.h>

static long *volatile nowhere;	/* never set: the bug */

/* The fault every method starts with; @x keeps the arguments used. */
#define DEVFAULT(x) return (long)(x) * 0 + *nowhere

/*
 * A method of version 2 that works: version 1's, run on this state (same
 * layout). For variants whose bug is in some methods only.
 */
#define DEVFAULT_V1(self, ops_type) ((const ops_type *)(self)->factory->first.cls->ops)

/*
 * State: the same layout both ways. Everything but the object header is
 * copied (device registers, rings, counters), the lock starts free (no
 * call is in an instance while it is converted).
 */
#define DEVFAULT_COPY(state_type, lock_name)						\
static int copy_state(const struct object *from, struct object *to)			\
{											\
	const state_type *o = (const state_type *)from;					\
	state_type *n = (state_type *)to;						\
											\
	memcpy((char *)n + sizeof(struct object), (const char *)o + sizeof(struct object),	\
	       sizeof(state_type) - sizeof(struct object));				\
	spin_init(&n->lock, lock_name);							\
	return 0;									\
}

/* The self-test only looks at the shape: the bug is in the methods. */
#define DEVFAULT_CLASS(cls_name, impl_name, state_type, ops_type, ops_table)		\
static const struct class v2_class = {							\
	.name = cls_name,								\
	.impl = impl_name,								\
	.version = 2,									\
	.iface_version = 1,								\
	.ops = &ops_table,								\
	.nmethods = CLASS_NMETHODS(ops_type),						\
	.state_size = sizeof(state_type),						\
};											\
											\
static int v2_selftest(const struct class *cls)					\
{											\
	return cls->nmethods == CLASS_NMETHODS(ops_type) &&				\
	       cls->state_size == sizeof(state_type) ? 0 : -KE_INVAL;			\
}											\
											\
const struct update_desc update_desc = {						\
	.abi = KERNEL_ABI,								\
	.class_name = cls_name,								\
	.impl = impl_name,								\
	.from = 1,									\
	.to = 2,									\
	.cls = &v2_class,								\
	.transfer = copy_state,								\
	.transfer_back = copy_state,							\
	.selftest = v2_selftest,							\
	.mode = UPDATE_MODE_EAGER,							\
}

#endif
