/*
 * Fault-matrix module: timer (sbi-time, both boards) 1 -> 2 whose arm()
 * faults. arm() runs in every hart's timer interrupt, so the fault hits in
 * interrupt context, on every hart at about the same time: each call is
 * unwound inside its handler and retried on version 1 (which programs the
 * next tick), and the pack rolls back. No hart misses its ticks.
 */
#include <kernel/update.h>
#include <kernel/timer.h>
#include <kernel/errno.h>
#include "drivers/timer/sbi_timer.h"

static long *volatile nowhere;	/* never set: the bug */

static long v2_arm(struct object *self, uint64_t ticks)
{
	return (long)ticks * 0 + *nowhere;
}

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

/* freq() is right; arm() is not exercised here (it would program the hart's timer). */
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
