/*
 * Trap dispatch: timer, software (IPI) and external interrupts, and faults.
 *
 * A fault prints a report (cause, sepc, stval, hart, thread, backtrace)
 * and then stops only what faulted: the thread, or, if no thread was
 * running (scheduler loop, interrupt handler), the hart. Other harts and
 * threads keep running. Runs with interrupts off (the hardware clears SIE).
 */
#include <stdio.h>
#include <string.h>
#include <kernel/trap.h>
#include <kernel/riscv.h>
#include <kernel/vm.h>
#include <kernel/hart.h>
#include <kernel/thread.h>
#include <kernel/timer.h>
#include <kernel/irq.h>
#include <kernel/log.h>
#include <kernel/sbi.h>
#include <kernel/mem.h>
#include <kernel/kstack.h>
#include <kernel/update_engine.h>
#include <kernel/stw.h>

extern char trap_vector[];
extern char __text_start[], __text_end[];

static const char *const cause_names[] = {
	[EXC_INST_MISALIGNED] = "instruction address misaligned",
	[EXC_INST_ACCESS] = "instruction access fault",
	[EXC_ILLEGAL_INST] = "illegal instruction",
	[EXC_BREAKPOINT] = "breakpoint",
	[EXC_LOAD_MISALIGNED] = "load address misaligned",
	[EXC_LOAD_ACCESS] = "load access fault",
	[EXC_STORE_MISALIGNED] = "store address misaligned",
	[EXC_STORE_ACCESS] = "store access fault",
	[EXC_ECALL_U] = "ecall from U-mode",
	[EXC_ECALL_S] = "ecall from S-mode",
	[EXC_INST_PAGE_FAULT] = "instruction page fault",
	[EXC_LOAD_PAGE_FAULT] = "load page fault",
	[EXC_STORE_PAGE_FAULT] = "store page fault",
};

void trap_init_hart(void)
{
	csr_write(stvec, (uintptr_t)trap_vector);
	csr_write(sscratch, 0);
}

static int in_text(uint64_t pc)
{
	return pc >= (uintptr_t)__text_start && pc < (uintptr_t)__text_end;
}

/*
 * Appends "  backtrace: pc ra ..." to @buf (which holds @n bytes) by a
 * frame-pointer walk (built with -fno-omit-frame-pointer): ra at fp-8,
 * caller's fp at fp-16. Stops at anything outside managed RAM or text.
 */
static size_t backtrace(char *buf, size_t len, size_t n, const struct trap_frame *f)
{
	uint64_t fp = f->regs[8];

	n += (size_t)snprintf(buf + n, len - n, "  backtrace: %#lx", (unsigned long)f->regs[0]);
	if (in_text(f->regs[1]))
		n += (size_t)snprintf(buf + n, len - n, " %#lx", (unsigned long)f->regs[1]);
	for (int depth = 0; depth < 8 && n < len - 24; depth++) {
		uint64_t ra;

		if (fp & 7 || fp < mem_ram_base + 16 || fp > mem_ram_end ||
		    kstack_in_guard(fp - 8) || kstack_in_guard(fp - 16))
			break;
		ra = ((uint64_t *)fp)[-1];
		fp = ((uint64_t *)fp)[-2];
		if (!in_text(ra))
			break;
		n += (size_t)snprintf(buf + n, len - n, " %#lx", (unsigned long)ra);
	}
	return n + (size_t)snprintf(buf + n, len - n, "\n");
}

/*
 * Prints the report: the trap line, then registers and a backtrace, in one
 * write so that lines of harts faulting (or logging) at once never land
 * inside it; tests and uartlog.py read the two lines after the trap line.
 */
static void fault_report(const struct trap_frame *f, const struct hart *h, const struct thread *t)
{
	char more[2 * LOG_LINE_MAX];
	uint64_t cause = f->scause;
	const char *name = cause < sizeof(cause_names) / sizeof(cause_names[0]) && cause_names[cause]
			   ? cause_names[cause] : "unknown exception";
	size_t n;

	n = (size_t)snprintf(more, sizeof(more), "  ra=%#lx sp=%#lx fp=%#lx a0=%#lx a1=%#lx\n",
			     (unsigned long)f->regs[1], (unsigned long)f->regs[2],
			     (unsigned long)f->regs[8], (unsigned long)f->regs[10],
			     (unsigned long)f->regs[11]);
	backtrace(more, sizeof(more), n, f);
	klog_block(more, "trap", "fault cause=%lu (%s) sepc=%#lx stval=%#lx hart=%u thread=%s tid=%u",
		   (unsigned long)cause, name, (unsigned long)f->regs[0], (unsigned long)f->stval,
		   h->hartid, t ? t->name : "-", t ? t->id : 0);
}

/*
 * A fault after a panic started (in the halt path, or on a hart that did
 * not yet notice): going on as after an ordinary fault would let the
 * kernel run past its panic, so this hart brings the machine down with
 * plain SBI calls, which need nothing of the kernel.
 */
static void __attribute__((noreturn)) fault_while_panicking(void)
{
	sbi_system_reset(SBI_SRST_SHUTDOWN, SBI_SRST_REASON_FAILURE);
	sbi_system_reset(SBI_SRST_COLD_REBOOT, SBI_SRST_REASON_FAILURE);
	for (;;)
		wfi();
}

static void fault(struct trap_frame *f)
{
	struct hart *h = this_hart();
	struct thread *t = h->cur;

	if (panic_active())
		fault_while_panicking();
	fault_report(f, h, t);
	if (update_fault(f))
		return;		/* new code under probation: rolled back, call retried */
	if (t && (f->scause == EXC_LOAD_PAGE_FAULT || f->scause == EXC_STORE_PAGE_FAULT) &&
	    kstack_in_guard(f->stval))
		klog("trap", "stack overflow tid=%u name=%s sp=%#lx stack=%#lx-%#lx",
		     t->id, t->name, (unsigned long)f->regs[2], (unsigned long)t->stack.lo,
		     (unsigned long)t->stack.hi);
	if (t) {
		klog("trap", "thread stopped tid=%u name=%s; hart %u goes on", t->id, t->name, h->hartid);
		thread_kill_current();
	}
	klog("trap", "no thread to stop: hart %u parked", h->hartid);
	h->online = false;
	csr_write(sie, 0);
	for (;;)
		wfi();
}

static void interrupt(uint64_t irq)
{
	struct hart *h = this_hart();

	switch (irq) {
	case IRQ_S_TIMER:
		h->timer_irqs++;
		timer_interrupt();
		break;
	case IRQ_S_SOFT:
		h->soft_irqs++;
		csr_clear(sip, SIE_SSIE);
		/* No other handler runs here now: a quiescent point (quiesce.c). */
		vm_sync_hart();
		__atomic_store_n(&h->gen, h->gen + 1, __ATOMIC_RELEASE);
		quiesce_answer();
		stw_park_if_requested();
		/* A kick usually means work was queued here: let it run now. */
		h->need_resched = true;
		break;
	case IRQ_S_EXT:
		h->ext_irqs++;
		irq_external();
		break;
	default:
		klog("trap", "unexpected interrupt %lu", (unsigned long)irq);
	}
}

void trap_handle(struct trap_frame *f)
{
	struct hart *h;

	if (f->sstatus & SSTATUS_SIE)
		panic("trap with interrupts enabled in the saved state");
	if (!(f->scause & SCAUSE_IRQ)) {
		fault(f);
		return;
	}
	interrupt(f->scause & ~SCAUSE_IRQ);
	h = this_hart();
	/*
	 * Preempt only threads that were running with interrupts on, and not
	 * from the emergency stack (floor 0 under a thread, entry.S): it is
	 * the hart's, and must be free again for the next trap.
	 */
	if (h->need_resched && h->cur && h->stack_floor && (f->sstatus & SSTATUS_SPIE) &&
	    h->irq_depth == 0) {
		h->need_resched = false;
		thread_preempt();
	}
}

static volatile uint64_t fault_sink;

/* Recurses until it runs off its stack (the "stack" fault kind). */
static uint64_t __attribute__((noinline)) overflow_stack(uint64_t depth)
{
	volatile uint64_t pad[64];

	pad[0] = depth;
	pad[63] = depth;
	if (depth > (1UL << 40))	/* never: keeps GCC from calling this endless */
		return depth;
	return overflow_stack(depth + 1) + pad[0] + pad[63];
}

void trap_inject_fault(const char *kind)
{
	klog("trap", "injecting fault kind=%s", kind);
	if (!strcmp(kind, "load")) {
		fault_sink = *(volatile uint64_t *)0x3000000008UL;	/* unmapped VA: page fault */
	} else if (!strcmp(kind, "store")) {
		*(volatile uint64_t *)0x3000000010UL = 1;
	} else if (!strcmp(kind, "exec")) {
		((void (*)(void))0x3000000020UL)();
	} else if (!strcmp(kind, "illegal")) {
		__asm__ __volatile__(".word 0");
	} else if (!strcmp(kind, "stack")) {
		fault_sink = overflow_stack(0);
	} else {
		klog("trap", "unknown fault kind=%s", kind);
	}
}
