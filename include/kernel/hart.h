/*
 * Per-hart state. Each hart runs on its own Sv39 root page table whose top
 * gigabyte is private to that hart (see vm.c): the OTT cache sits at its
 * start and the last page holds a pointer to this hart's struct hart, so
 * this_hart() is a single load off the zero register (K42's trick of
 * mapping per-processor data at one virtual address).
 */
#ifndef KERNEL_HART_H
#define KERNEL_HART_H

#include <stdint.h>
#include <stdbool.h>
#include <kernel/list.h>
#include <kernel/spinlock.h>

#ifndef PLAT_MAX_HARTS
#define PLAT_MAX_HARTS 8
#endif
#define MAX_HARTS PLAT_MAX_HARTS

/* The hart-private gigabyte: 0xffffffffc0000000 .. the top of the VA space. */
#define HART_LOCAL_BASE		0xffffffffc0000000UL
#define HART_OTT_CACHE_VA	HART_LOCAL_BASE
#define HART_SELF_PAGE_VA	0xfffffffffffff000UL
#define HART_SELF_PTR_VA	0xfffffffffffffff8UL

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
	void *stack_top;	/* boot/scheduler-loop stack */
	void *tls;		/* TLS block of the scheduler loop */
	struct spinlock sleep_lock;
	struct list_head sleepers;	/* threads sleeping, by wake time */
	void **ott_cache;	/* this hart's OTT cache, by its physical address */
	void *fault_frame;	/* trap frame of the fault being reported */
	struct object *converting;	/* instance this hart is converting (update) */
	void *ip_top;		/* innermost interposed call outside any thread */
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

#endif
