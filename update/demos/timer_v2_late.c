/*
 * Fault-matrix module: timer (sbi-time) 1 -> 2 that works, except that
 * arm() faults once, in one hart's timer interrupt, 6 seconds after its
 * first call: after probation. An ordinary fault then: that interrupt
 * handler is abandoned (the hart's next tick is programmed without the
 * timer object) and the interrupted thread, and every other, goes on.
 */
#include <kernel/update.h>
#include <kernel/timer.h>
#include <kernel/hart.h>
#include <kernel/riscv.h>
#include <kernel/sbi.h>
#include <kernel/errno.h>
#include "drivers/timer/sbi_timer.h"

static long *volatile nowhere;	/* never set: the bug */
static uint64_t first;		/* rdtime of the first arm() */
static int fired;

static long late_arm(struct object *self, uint64_t ticks)
{
	struct hart *h = this_hart();
	uint64_t now = rdtime(), zero = 0;
	int no = 0;

	__atomic_compare_exchange_n(&first, &zero, now, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
	if (now - __atomic_load_n(&first, __ATOMIC_RELAXED) > 6 * timer_freq_hz &&
	    __atomic_compare_exchange_n(&fired, &no, 1, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		ticks += (uint64_t)*nowhere;
	h->next_tick = now + ticks;
	sbi_set_timer(h->next_tick);
	return 0;
}

static long late_freq(struct object *self)
{
	return (long)((struct sbi_timer *)self)->freq;
}

static const struct timer_ops v2_ops = {
	.arm = late_arm,
	.freq = late_freq,
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
