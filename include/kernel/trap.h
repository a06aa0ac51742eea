/* Traps: the frame layout entry.S saves, and the handlers. */
#ifndef KERNEL_TRAP_H
#define KERNEL_TRAP_H
#include <stdint.h>

/* regs[0] holds sepc (x0 needs no slot), regs[n] holds xn. */
struct trap_frame {
	uint64_t regs[32];
	uint64_t sstatus;
	uint64_t scause;
	uint64_t stval;
	uint64_t pad;
};

void trap_init_hart(void);
void trap_handle(struct trap_frame *f);
/*
 * Deliberate faults for tests: "load", "store", "exec", "illegal", "stack"
 * (the calling thread runs off its stack), "loopstack" (this hart's
 * scheduler loop does, once the calling thread yields).
 */
void trap_inject_fault(const char *kind);
/* Runs off the current stack (the scheduler loop's, for "loopstack"). */
void trap_overflow_here(void);
#endif
