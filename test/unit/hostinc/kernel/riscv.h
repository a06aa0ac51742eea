/*
 * Host stand-in for <kernel/riscv.h> (test/unit/hostinc is searched before
 * include/): the same constants (kernel/riscv_defs.h), no CSR access. Code that reads or writes
 * CSRs directly (csr_read & co.) does not build against it, on purpose.
 *
 *  - rdtime() reads a fake clock, host_clock, that advances by
 *    host_clock_step after every read (0: it only moves when a test moves
 *    it); host_rdtime_calls counts the reads;
 *  - irq_save()/irq_restore()/irq_enable()/irq_disable() keep a per-thread
 *    "interrupts on" flag, host_irq_on (true at start), and count the
 *    saves, so a test can check code runs with interrupts off; irq_save()
 *    runs host_irq_save_hook first when interrupts were on (an interrupt
 *    taken at the last instant);
 *  - mb(), wfi(), fence_i(), sfence_vma_all() do nothing (wfi counts).
 *
 * Definitions live in test/unit/hostinc/host_target.c.
 */
#ifndef UNIT_HOSTINC_KERNEL_RISCV_H
#define UNIT_HOSTINC_KERNEL_RISCV_H

#include <stdint.h>
#include <stdbool.h>

#include <kernel/riscv_defs.h>

/* Fake time base (shared by every thread; updated atomically). */
extern uint64_t host_clock;
extern uint64_t host_clock_step;
extern unsigned long host_rdtime_calls;
/* Fake interrupt state of the calling thread ("hart"). */
extern _Thread_local bool host_irq_on;
extern unsigned long host_irq_saves;
/*
 * Called by irq_save() when interrupts were on, just before they go off:
 * an interrupt arriving at the last moment it still could (a test plays
 * the handler there). NULL: none.
 */
extern void (*host_irq_save_hook)(void);
extern unsigned long host_wfi_calls;

static inline uint64_t rdtime(void)
{
	__atomic_add_fetch(&host_rdtime_calls, 1, __ATOMIC_SEQ_CST);
	return __atomic_fetch_add(&host_clock, __atomic_load_n(&host_clock_step, __ATOMIC_RELAXED),
				  __ATOMIC_SEQ_CST);
}

static inline uint64_t rdinstret(void)
{
	return 0;
}

static inline void wfi(void)
{
	__atomic_add_fetch(&host_wfi_calls, 1, __ATOMIC_RELAXED);
}

static inline void sfence_vma_all(void)
{
}

static inline void fence_i(void)
{
}

static inline void mb(void)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

static inline void irq_enable(void)  { host_irq_on = true; }
static inline void irq_disable(void) { host_irq_on = false; }
static inline int irq_enabled(void)  { return host_irq_on; }

static inline unsigned long irq_save(void)
{
	unsigned long was = host_irq_on ? SSTATUS_SIE : 0;

	if (was && host_irq_save_hook)
		host_irq_save_hook();

	__atomic_add_fetch(&host_irq_saves, 1, __ATOMIC_RELAXED);
	host_irq_on = false;
	return was;
}

static inline void irq_restore(unsigned long flags)
{
	if (flags)
		host_irq_on = true;
}

#endif
