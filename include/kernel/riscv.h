/*
 * RISC-V supervisor CSRs and privileged instructions. Only code that runs
 * on the target includes this; pure logic (OTT tables, allocators,
 * devicetree queries) must not, so that it builds on the host.
 */
#ifndef KERNEL_RISCV_H
#define KERNEL_RISCV_H

#include <stdint.h>

#include <kernel/riscv_defs.h>

#define csr_read(csr) ({ unsigned long __v; \
	__asm__ __volatile__("csrr %0, " #csr : "=r"(__v) :: "memory"); __v; })
#define csr_write(csr, val) ({ unsigned long __v = (unsigned long)(val); \
	__asm__ __volatile__("csrw " #csr ", %0" :: "rK"(__v) : "memory"); })
#define csr_set(csr, val) ({ unsigned long __v = (unsigned long)(val); \
	__asm__ __volatile__("csrs " #csr ", %0" :: "rK"(__v) : "memory"); })
#define csr_clear(csr, val) ({ unsigned long __v = (unsigned long)(val); \
	__asm__ __volatile__("csrc " #csr ", %0" :: "rK"(__v) : "memory"); })
#define csr_read_clear(csr, val) ({ unsigned long __v = (unsigned long)(val); \
	__asm__ __volatile__("csrrc %0, " #csr ", %0" : "+r"(__v) :: "memory"); __v; })

static inline uint64_t rdtime(void)
{
	uint64_t t;
	__asm__ __volatile__("rdtime %0" : "=r"(t));
	return t;
}

static inline uint64_t rdinstret(void)
{
	uint64_t n;
	__asm__ __volatile__("rdinstret %0" : "=r"(n));
	return n;
}

static inline void wfi(void)
{
	__asm__ __volatile__("wfi" ::: "memory");
}

static inline void sfence_vma_all(void)
{
	__asm__ __volatile__("sfence.vma zero, zero" ::: "memory");
}

static inline void fence_i(void)
{
	__asm__ __volatile__("fence.i" ::: "memory");
}

static inline void mb(void)
{
	__asm__ __volatile__("fence rw, rw" ::: "memory");
}

/* Interrupt enable on this hart. */
static inline void irq_enable(void)  { csr_set(sstatus, SSTATUS_SIE); }
static inline void irq_disable(void) { csr_clear(sstatus, SSTATUS_SIE); }
static inline int irq_enabled(void)  { return (csr_read(sstatus) & SSTATUS_SIE) != 0; }

static inline unsigned long irq_save(void)
{
	return csr_read_clear(sstatus, SSTATUS_SIE) & SSTATUS_SIE;
}

static inline void irq_restore(unsigned long flags)
{
	if (flags)
		csr_set(sstatus, SSTATUS_SIE);
}

#endif
