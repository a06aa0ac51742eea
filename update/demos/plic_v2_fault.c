/*
 * Fault-matrix module: plic 1 -> 2 (both boards) in which every method
 * faults. Any external interrupt during probation reaches it (a byte typed
 * on the console, a frame received): claim() faults in the trap handler
 * before it claims, is unwound and retried on version 1, which claims the
 * source, so the device's handler runs and no interrupt is lost; then the
 * pack rolls back.
 */
#include <kernel/irq.h>
#include "drivers/irq/plic.h"
#include "dev_v2_faults.h"

static long v2_enable(struct object *self, uint32_t irq, unsigned int hart) { DEVFAULT(irq); }
static long v2_claim(struct object *self, unsigned int hart) { DEVFAULT(hart); }
static long v2_complete(struct object *self, unsigned int hart, uint32_t irq) { DEVFAULT(irq); }
static long v2_init_hart(struct object *self, unsigned int hart) { DEVFAULT(hart); }

static const struct irqc_ops v2_ops = {
	.enable = v2_enable,
	.claim = v2_claim,
	.complete = v2_complete,
	.init_hart = v2_init_hart,
};

DEVFAULT_COPY(struct plic, "plic")
DEVFAULT_CLASS("plic", "plic", struct plic, struct irqc_ops, v2_ops);
