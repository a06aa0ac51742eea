/*
 * Per-hart state. Each hart runs on its own Sv39 root page table whose top
 * gigabyte is private to that hart (see vm.c): the OTT cache sits at its
 * start and the last page holds a pointer to this hart's struct hart, so
 * this_hart() is a single load off the zero register (K42's trick of
 * mapping per-processor data at one virtual address).
 */
#ifndef KERNEL_HART_H
#define KERNEL_HART_H

/* The hart-private gigabyte: 0xffffffffc0000000 .. the top of the VA space. */
#define HART_LOCAL_BASE		0xffffffffc0000000UL
#define HART_OTT_CACHE_VA	HART_LOCAL_BASE
#define HART_SELF_PAGE_VA	0xfffffffffffff000UL
#define HART_SELF_PTR_VA	0xfffffffffffffff8UL

/*
 * Offsets of the fields the trap vector reads (entry.S), checked against
 * struct hart below: the stack overflow check runs before any register is
 * free to compute them.
 */
#define HART_STACK_FLOOR	0
#define HART_FLOOR_SAVED	8
#define HART_EMERG_TOP		16
#define HART_EMERG_T1		24

#ifndef __ASSEMBLY__
#include <stdint.h>
#include <stdbool.h>
#include <kernel/list.h>
#include <kernel/spinlock.h>

#ifndef PLAT_MAX_HARTS
#define PLAT_MAX_HARTS 8
#endif
#define MAX_HARTS PLAT_MAX_HARTS
#define HART_HELD_MAX	16	/* spinlocks one hart holds at once, at most */
#define HART_REPORT_MAX	1536
#define HART_REPORT_LINES	8

/* Callee-saved registers of a thread or of a hart's scheduler loop. */
struct context {
	uint64_t ra;
	uint64_t sp;
	uint64_t s[12];
	uint64_t tp;		/* TLS block: picolibc's errno is per thread */
};

struct thread;
struct object;

struct hart {
	/*
	 * Stack overflow check of the trap vector: a trap taken with sp below
	 * stack_floor would write its frame into the running thread's guard
	 * page, so it is taken on this hart's emergency stack instead (the
	 * floor is 0 there; in the scheduler loop it is the loop stack's).
	 * See thread.c.
	 */
	uint64_t stack_floor;
	uint64_t floor_saved;	/* the floor while on the emergency stack */
	uint64_t emerg_top;	/* top of the emergency stack */
	uint64_t emerg_t1;	/* t1 of the trap being moved there */
	uint32_t hartid;	/* as the hardware and SBI number it */
	uint32_t index;		/* 0..nharts-1, dense, for tables; given when it goes online */
	bool online;
	/* Start handshake with the boot hart (smp.c): who decides a late hart's fate. */
	volatile int start_state;
	struct context sched_ctx;	/* the scheduler loop's registers */
	struct thread *cur;		/* thread running here, NULL in the loop */
	/* Quiescent-point counter: bumped each time the scheduler loop runs. */
	volatile uint64_t gen;
	int irq_depth;		/* irq_push_off() nesting */
	int irq_was_on;		/* interrupts were on before the outermost push */
	bool need_resched;
	uint64_t timer_irqs, ext_irqs, soft_irqs;
	uint64_t next_tick;	/* rdtime of the next timer interrupt */
	uint64_t root_pt;	/* physical address of this hart's page table */
	void *stack_top;	/* boot stack (the scheduler loop's until it has its own) */
	/* The scheduler loop's stack, with a guard page below (thread.c). */
	uint64_t loop_lo, loop_hi, loop_floor;
	volatile bool loop_overflow_req;	/* the `loopstack` fault kind (trap.c) */
	void *tls;		/* TLS block of the scheduler loop */
	struct spinlock sleep_lock;
	struct list_head sleepers;	/* threads sleeping, by wake time */
	void **ott_cache;	/* this hart's OTT cache, by its physical address */
	void *fault_frame;	/* trap frame of the fault being reported */
	struct object *converting;	/* instance this hart is converting (update) */
	void *ip_top;		/* innermost unwind node outside any thread (unwind.h) */
	uint64_t vm_synced;	/* the vm_protect_lazy() changes it caught up with (vm.c) */
	/*
	 * Fault containment (src/unwind.c). Every spinlock this hart holds, in
	 * the order taken, so that unwinding a faulted context releases what
	 * it took; the interrupt level (1 while an interrupt handler runs);
	 * faults being handled (a second one is a fault in the fault path).
	 */
	struct spinlock *held[HART_HELD_MAX];
	uint32_t nheld;
	uint32_t irq_level;
	uint32_t fault_depth;
	uint32_t cur_irq;	/* external source being handled, 0 if none */
	uint32_t cur_cause;	/* interrupt being handled (IRQ_S_*) */
	/* A fault report made while this hart held the log lock (log.c). */
	char pending_report[HART_REPORT_MAX];
	uint16_t pending_lines[HART_REPORT_LINES];	/* where each kept line starts */
	uint32_t pending_nlines;
	volatile uint32_t pending_len;
	uint32_t pending_dropped;
};

extern struct hart harts[MAX_HARTS];
extern unsigned int nharts_online;
/* Set once the boot hart runs on its paged address space. */
extern volatile bool vm_percpu_ready;
extern uint32_t boot_hartid;

static inline struct hart *this_hart(void)
{
	return *(struct hart *volatile *)HART_SELF_PTR_VA;
}

/* This hart's id, usable from the first instruction of C onwards. */
uint32_t hart_id(void);

struct hart *hart_by_index(unsigned int index);

_Static_assert(__builtin_offsetof(struct hart, stack_floor) == HART_STACK_FLOOR &&
	       __builtin_offsetof(struct hart, floor_saved) == HART_FLOOR_SAVED &&
	       __builtin_offsetof(struct hart, emerg_top) == HART_EMERG_TOP &&
	       __builtin_offsetof(struct hart, emerg_t1) == HART_EMERG_T1,
	       "struct hart offsets used by entry.S");

#endif /* __ASSEMBLY__ */
#endif
