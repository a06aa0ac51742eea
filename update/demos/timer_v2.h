/*
 * Shared by the timer modules of the fault matrix (timer_v2_armfault.c,
 * timer_v2_late.c; test/qemu/test_faults.py): timer (sbi-time) 1 -> 2 with
 * version 1's state, a working freq(), transfers both ways that copy the
 * state, and a self-test of freq() only (arm() would program the hart's
 * timer). A module includes this and defines its own (faulty) v2_arm().
 */
#ifndef DEMOS_TIMER_V2_H
#define DEMOS_TIMER_V2_H

#include <kernel/update.h>
#include <kernel/timer.h>
#include <kernel/errno.h>
#include "drivers/timer/sbi_timer.h"

static long v2_arm(struct object *self, uint64_t ticks);

static long v2_freq(struct object *self)
{
	return (long)((struct sbi_timer *)self)->freq;
}

static const struct timer_ops v2_ops = {
	.arm = v2_arm,
	.freq = v2_freq,
};

static const struct class v2_class = {
	.name = "timer",
	.impl = "sbi-time",
	.version = 2,
	.iface_version = 1,
	.ops = &v2_ops,
	.nmethods = CLASS_NMETHODS(struct timer_ops),
	.state_size = sizeof(struct sbi_timer),
};

static int copy_state(const struct object *from, struct object *to)
{
	((struct sbi_timer *)to)->freq = ((const struct sbi_timer *)from)->freq;
	return 0;
}

static int v2_selftest(const struct class *cls)
{
	struct sbi_timer t = { .freq = 1234 };

	return ((const struct timer_ops *)cls->ops)->freq(&t.obj) == 1234 ? 0 : -KE_INVAL;
}

const struct update_desc update_desc = {
	.abi = KERNEL_ABI,
	.class_name = "timer",
	.impl = "sbi-time",
	.from = 1,
	.to = 2,
	.cls = &v2_class,
	.transfer = copy_state,
	.transfer_back = copy_state,
	.selftest = v2_selftest,
	.mode = UPDATE_MODE_EAGER,
};

#endif
