/*
 * The timer device: the hart-local time CSR read with rdtime, programmed
 * through SBI TIME. Bound to /cpus (timebase-frequency), since RISC-V has
 * no S-mode timer node of its own. One instance serves every hart.
 *
 * No locking: arm() touches only the calling hart's comparator.
 */
#include <kernel/timer.h>
#include <kernel/object.h>
#include <kernel/devtree.h>
#include <kernel/driver.h>
#include <kernel/hart.h>
#include <kernel/riscv.h>
#include <kernel/sbi.h>
#include <kernel/log.h>
#include <kernel/thread.h>
#include <kernel/sched.h>
#include <kernel/platform.h>
#include <kernel/errno.h>
#include <libfdt.h>
#include "sbi_timer.h"

ott_ref_t timer_ref;
uint64_t timer_freq_hz;

static long sbi_timer_arm(struct object *self, uint64_t ticks)
{
	struct hart *h = this_hart();

	h->next_tick = rdtime() + ticks;
	sbi_set_timer(h->next_tick);
	return 0;
}

static long sbi_timer_freq(struct object *self)
{
	return (long)((struct sbi_timer *)self)->freq;
}

static const struct timer_ops sbi_timer_ops = {
	.arm = sbi_timer_arm,
	.freq = sbi_timer_freq,
};
CLASS_OPS_CHECK(struct timer_ops);

static const struct class sbi_timer_class = {
	.name = "timer",
	.impl = "sbi-time",
	.version = 1,
	.iface_version = 1,
	.ops = &sbi_timer_ops,
	.nmethods = sizeof(struct timer_ops) / sizeof(void *),
	.state_size = sizeof(struct sbi_timer),
};

static struct factory sbi_timer_factory;
static struct sbi_timer the_timer;

static int sbi_timer_probe(const void *fdt, int node, int match)
{
	long freq = dt_timebase(fdt);

	if (freq <= 0) {
		freq = (long)platform_default_timebase();
		klog("timer", "no timebase-frequency in the devicetree; assuming %ld Hz", freq);
	}
	the_timer.freq = (uint64_t)freq;
	timer_freq_hz = (uint64_t)freq;
	log_set_timebase(timer_freq_hz);
	if (!sbi_probe_extension(SBI_EXT_TIME))
		return -KE_NODEV;
	klog("timer", "bound sbi-time freq=%ld tick_hz=%d", freq, TIMER_HZ);
	return driver_publish(&sbi_timer_factory, &sbi_timer_class, &the_timer.obj, &timer_ref);
}

/* /cpus carries no compatible; the timer binds to the cpus' interrupt controller. */
static const char *const sbi_timer_compat[] = { "riscv,cpu-intc", NULL };

DRIVER_DECLARE(1, sbi_timer_driver) = {
	.name = "sbi-timer",
	.compatible = sbi_timer_compat,
	.probe = sbi_timer_probe,
	.required = 1,
	.single = 1,
};

void timer_start_hart(void)
{
	timer_arm(timer_ref, timer_freq_hz / TIMER_HZ);
	csr_set(sie, SIE_STIE);
}

void timer_interrupt(void)
{
	struct hart *h = this_hart();
	uint64_t now = rdtime();

	timer_arm(timer_ref, timer_freq_hz / TIMER_HZ);
	thread_wake_sleepers(h, now);
	if (h->cur && sched_tick(sched_ref, h->index, h->cur) > 0)
		h->need_resched = true;
}
