/*
 * Stop-the-world (see stw.h). One stop at a time (stw_lock). Parked harts
 * spin with interrupts off in their IPI handler, so nothing runs on them:
 * no calls, no timer ticks, no scheduling, until the stopper releases.
 */
#include <kernel/stw.h>
#include <kernel/hart.h>
#include <kernel/smp.h>
#include <kernel/riscv.h>
#include <kernel/spinlock.h>

static struct spinlock stw_lock = SPINLOCK_INIT("stw");
static volatile int stw_active;
static volatile unsigned int stw_parked;

void stw_park_if_requested(void)
{
	if (!__atomic_load_n(&stw_active, __ATOMIC_ACQUIRE))
		return;
	__atomic_add_fetch(&stw_parked, 1, __ATOMIC_ACQ_REL);
	while (__atomic_load_n(&stw_active, __ATOMIC_ACQUIRE))
		;
	__atomic_sub_fetch(&stw_parked, 1, __ATOMIC_ACQ_REL);
}

uint64_t stw_run(void (*fn)(void *arg), void *arg)
{
	unsigned int others = 0;
	uint64_t t0, t1;

	spin_lock(&stw_lock);	/* interrupts off here too */
	t0 = rdtime();
	__atomic_store_n(&stw_active, 1, __ATOMIC_RELEASE);
	for (unsigned int i = 0; i < nharts_online; i++)
		if (hart_by_index(i) != this_hart() && hart_by_index(i)->online) {
			others++;
			smp_kick(i);
		}
	while (__atomic_load_n(&stw_parked, __ATOMIC_ACQUIRE) < others)
		;
	fn(arg);
	__atomic_store_n(&stw_active, 0, __ATOMIC_RELEASE);
	t1 = rdtime();
	while (__atomic_load_n(&stw_parked, __ATOMIC_ACQUIRE))
		;
	spin_unlock(&stw_lock);
	return t1 - t0;
}
