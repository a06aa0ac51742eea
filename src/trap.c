/*
 * Trap dispatch: timer, software (IPI) and external interrupts, and faults.
 *
 * A fault prints a report (cause, sepc, stval, hart, thread, backtrace)
 * through the fault path of the log (klog_fault: never waits on the log
 * lock this hart may hold, never uses the console driver that may be the
 * faulting code). The live-update engine then gets to unwind it (a call
 * under probation, a transfer, a self-test: update/probation.c). If it
 * does not, only what faulted stops, after releasing the spinlocks it
 * took: an interrupt handler is abandoned (back to the interrupted
 * context, which goes on), a thread is stopped, and a hart with neither
 * (its scheduler loop) is parked. Other harts and threads keep running.
 *
 * Every interrupt runs under a recovery point at interrupt level 1
 * (kernel/unwind.h); after a timer interrupt of a thread that had
 * interrupts on, the update engine counts the tick against a probation
 * call it is in (loop detection), and a thread asked to stop is stopped.
 * Runs with interrupts off (the hardware clears SIE).
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
#include <kernel/unwind.h>

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
 * caller's fp at fp-16. Stops at anything outside the kernel's RAM (the
 * firmware below it is not mapped) or text. Code built without frame
 * pointers (the C library, assembly) may leave anything in s0, so the walk
 * also runs under a recovery point: a fault in it ends the walk
 * (fault() sees the nested fault hit RECOVER_REPORT).
 */
static size_t backtrace(char *buf, size_t len, size_t n, const struct trap_frame *f)
{
	uint64_t fp = f->regs[8];

	n += (size_t)snprintf(buf + n, len - n, "  backtrace: %#lx", (unsigned long)f->regs[0]);
	if (in_text(f->regs[1]))
		n += (size_t)snprintf(buf + n, len - n, " %#lx", (unsigned long)f->regs[1]);
	for (int depth = 0; depth < 8 && n < len - 24; depth++) {
		uint64_t ra;

		if (fp & 7 || fp < (uintptr_t)__text_start + 16 || fp > mem_ram_end ||
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

/* A fault's report, formatted before anything changes the frame. */
struct fault_text {
	char head[LOG_LINE_MAX];
	char more[2 * LOG_LINE_MAX];
};

/*
 * The report: the trap line, then registers and a backtrace, written in
 * one go (klog_fault) so that lines of harts faulting (or logging) at once
 * never land inside it; tests and uartlog.py read the two lines after the
 * trap line.
 */
static void fault_format(struct fault_text *ft, const struct trap_frame *f, const struct hart *h,
			 const struct thread *t)
{
	uint64_t cause = f->scause;
	const char *name = cause < sizeof(cause_names) / sizeof(cause_names[0]) && cause_names[cause]
			   ? cause_names[cause] : "unknown exception";
	size_t n;

	n = (size_t)snprintf(ft->more, sizeof(ft->more), "  ra=%#lx sp=%#lx fp=%#lx a0=%#lx a1=%#lx\n",
			     (unsigned long)f->regs[1], (unsigned long)f->regs[2],
			     (unsigned long)f->regs[8], (unsigned long)f->regs[10],
			     (unsigned long)f->regs[11]);
	{
		struct recover_point rp;

		recover_push(&rp, RECOVER_REPORT, NULL);
		if (!recover_save(rp.regs)) {
			backtrace(ft->more, sizeof(ft->more), n, f);
			recover_pop(&rp);
		} else {
			size_t m = strlen(ft->more);

			/* Cut where the walk faulted: the line ends there. */
			if (m && ft->more[m - 1] != '\n' && m + 1 < sizeof(ft->more))
				strcpy(ft->more + m, "\n");
		}
	}
	snprintf(ft->head, sizeof(ft->head), "fault cause=%lu (%s) sepc=%#lx stval=%#lx hart=%u "
		 "thread=%s tid=%u ctx=%s", (unsigned long)cause, name, (unsigned long)f->regs[0],
		 (unsigned long)f->stval, h->hartid, t ? t->name : "-", t ? t->id : 0,
		 h->irq_level ? "irq" : t ? "thread" : "sched-loop");
}

static void fault_print(const struct fault_text *ft)
{
	klog_fault(ft->more, "trap", "%s", ft->head);
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

/* The recovery point of the interrupt being handled on this hart, if any. */
static struct unwind_node *irq_point(struct hart *h)
{
	if (!h->irq_level)
		return NULL;
	for (struct unwind_node *n = *unwind_chain(); n && n->level == h->irq_level; n = n->prev)
		if (n->kind == UNW_RECOVER && n->why == RECOVER_IRQ)
			return n;
	return NULL;
}

/*
 * Stops what faulted (nothing could unwind it). Returns only for an
 * interrupt handler, abandoned back to its interrupted context.
 */
static void stop_faulting(struct trap_frame *f, struct hart *h, struct thread *t)
{
	struct unwind_node *ip = irq_point(h);
	char locks[64] = "";
	unsigned int n;

	if (ip) {
		n = unwind_release_locks(ip->nheld, locks, sizeof(locks));
		klog_fault(NULL, "trap", "interrupt handler stopped irq=%s source=%u released_locks=%u%s%s; "
			   "hart %u goes on", h->cur_cause == IRQ_S_TIMER ? "timer" :
			   h->cur_cause == IRQ_S_EXT ? "external" : "software", h->cur_irq, n,
			   n ? " locks=" : "", locks, h->hartid);
		unwind_to(ip, f);	/* trap_handle() sees its recovery point return 1 */
		h->fault_depth--;
		return;
	}
	if ((f->scause == EXC_LOAD_PAGE_FAULT || f->scause == EXC_STORE_PAGE_FAULT) &&
	    kstack_in_guard(f->stval)) {
		if (t)
			klog_fault(NULL, "trap", "stack overflow tid=%u name=%s sp=%#lx stack=%#lx-%#lx",
				   t->id, t->name, (unsigned long)f->regs[2],
				   (unsigned long)t->stack.lo, (unsigned long)t->stack.hi);
		else
			klog_fault(NULL, "trap", "stack overflow in the scheduler loop hart=%u sp=%#lx "
				   "stack=%#lx-%#lx", h->hartid, (unsigned long)f->regs[2],
				   (unsigned long)h->loop_lo, (unsigned long)h->loop_hi);
	}
	n = unwind_release_locks(0, locks, sizeof(locks));
	if (n)
		klog_fault(NULL, "trap", "released locks=%s count=%u (held by what faulted)", locks, n);
	if (t) {
		klog_fault(NULL, "trap", "thread stopped tid=%u name=%s; hart %u goes on", t->id,
			   t->name, h->hartid);
		thread_kill_current();
	}
	klog_fault(NULL, "trap", "no thread to stop: hart %u parked", h->hartid);
	unwind_drop(NULL);
	h->irq_depth = 0;
	h->online = false;
	csr_write(sie, 0);
	for (;;)
		wfi();
}

static void fault(struct trap_frame *f)
{
	struct hart *h = this_hart();
	struct thread *t = h->cur;
	struct update_fault_note note = { .quiet = false, .msg = "" };
	struct fault_text ft;

	if (panic_active())
		fault_while_panicking();
	if (h->fault_depth == 1) {
		struct unwind_node *top = unwind_top_here();

		if (top && top->kind == UNW_RECOVER && top->why == RECOVER_REPORT) {
			/* A bad frame pointer while writing a report: stop the walk there. */
			unwind_to(top, f);
			return;
		}
	}
	if (++h->fault_depth > 2) {
		/* Faulting again in the fault path: nothing of the kernel is trusted. */
		char msg[96];
		int n = snprintf(msg, sizeof(msg), "trap: fault in the fault path hart=%u cause=%lu "
				 "sepc=%#lx stval=%#lx: hart parked\n", h->hartid, (unsigned long)f->scause,
				 (unsigned long)f->regs[0], (unsigned long)f->stval);

		for (int i = 0; i < n && i < (int)sizeof(msg); i++)
			sbi_console_putchar(msg[i]);
		h->online = false;
		csr_write(sie, 0);
		for (;;)
			wfi();
	}
	fault_format(&ft, f, h, t);
	if (h->fault_depth == 1 && update_fault(f, &note)) {
		/* Unwound: a call retried, a transfer or self-test failed. */
		if (!note.quiet)
			fault_print(&ft);
		if (note.msg[0])
			klog_fault(NULL, "update", "%s", note.msg);
		h->fault_depth--;
		return;
	}
	fault_print(&ft);
	if (note.msg[0])
		klog_fault(NULL, "update", "%s", note.msg);
	stop_faulting(f, h, t);
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

/* An interrupt handler was stopped by a fault (stop_faulting): keep the hart going. */
static void irq_abandoned(uint64_t irq)
{
	if (irq == IRQ_S_TIMER)	/* its next tick, without the timer object */
		sbi_set_timer(rdtime() + timer_freq_hz / TIMER_HZ);
	else if (irq == IRQ_S_EXT)
		klog_fault(NULL, "irq", "source=%u left claimed: that device stays silent",
			   this_hart()->cur_irq);
	this_hart()->cur_irq = 0;
}

/* Runs the handler of @irq under a recovery point at interrupt level 1. */
static void interrupt_guarded(uint64_t irq)
{
	struct hart *h = this_hart();
	struct recover_point rp;

	h->irq_level++;
	h->cur_cause = (uint32_t)irq;
	recover_push(&rp, RECOVER_IRQ, NULL);
	if (!recover_save(rp.regs)) {
		interrupt(irq);
		recover_pop(&rp);
	} else {
		irq_abandoned(irq);
	}
	this_hart()->irq_level--;
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
	interrupt_guarded(f->scause & ~SCAUSE_IRQ);
	h = this_hart();
	/*
	 * Preempt only threads that were running with interrupts on, and not
	 * from the emergency stack (floor 0 under a thread, entry.S): it is
	 * the hart's, and must be free again for the next trap.
	 */
	if (!h->cur || !h->stack_floor || !(f->sstatus & SSTATUS_SPIE) || h->irq_depth != 0)
		return;
	if ((f->scause & ~SCAUSE_IRQ) == IRQ_S_TIMER && h->cur->ip_top)
		update_tick(f);		/* a probation call running too long: unwound */
	if (__atomic_load_n(&h->cur->kill_req, __ATOMIC_ACQUIRE)) {
		klog_fault(NULL, "trap", "thread stopped tid=%u name=%s: asked to stop (it overran "
			   "its time); hart %u goes on", h->cur->id, h->cur->name, h->hartid);
		thread_kill_current();
	}
	if (h->need_resched) {
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

void trap_overflow_here(void)
{
	this_hart()->loop_overflow_req = false;
	fault_sink = overflow_stack(0);
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
	} else if (!strcmp(kind, "loopstack")) {
		/* The scheduler loop runs off its stack as soon as this thread yields. */
		this_hart()->loop_overflow_req = true;
		thread_yield();
	} else {
		klog("trap", "unknown fault kind=%s", kind);
	}
}
