/*
 * External interrupts: the interrupt-controller class (the PLIC) and the
 * table of handlers by source number.
 */
#ifndef KERNEL_IRQ_H
#define KERNEL_IRQ_H
#include <stdint.h>
#include <kernel/ott.h>

#define IRQ_MAX_SOURCES	128

struct irqc_ops {
	/* Routes source @irq to the hart with hartid @hart and unmasks it. */
	long (*enable)(struct object *self, uint32_t irq, unsigned int hart);
	/* Claims the highest pending source for hartid @hart: irq number, 0 if none. */
	long (*claim)(struct object *self, unsigned int hart);
	long (*complete)(struct object *self, unsigned int hart, uint32_t irq);
	/* Sets up the S context of hartid @hart (threshold 0). */
	long (*init_hart)(struct object *self, unsigned int hart);
};

extern ott_ref_t irqc_ref;

static inline long irqc_enable(ott_ref_t r, uint32_t irq, unsigned int hart)
{
	return OTT_CALL(r, struct irqc_ops, enable, irq, hart);
}

static inline long irqc_claim(ott_ref_t r, unsigned int hart)
{
	return OTT_CALL(r, struct irqc_ops, claim, hart);
}

static inline long irqc_complete(ott_ref_t r, unsigned int hart, uint32_t irq)
{
	return OTT_CALL(r, struct irqc_ops, complete, hart, irq);
}

static inline long irqc_init_hart(ott_ref_t r, unsigned int hart)
{
	return OTT_CALL(r, struct irqc_ops, init_hart, hart);
}

typedef void (*irq_handler_fn)(void *arg);

/* Installs a handler for source @irq and routes it to the boot hart. */
int irq_attach(uint32_t irq, irq_handler_fn fn, void *arg);
/*
 * The hart index external interrupts arrive on: the boot hart, which
 * always gets index 0 (smp.c). A thread that a device interrupt wakes
 * runs there without an IPI (the network thread, the OTA agent).
 */
#define IRQ_HART_INDEX	0
/* Supervisor external interrupt on this hart. */
void irq_external(void);
/* Is there an interrupt controller bound? */
int irq_available(void);
#endif
