/*
 * External interrupt dispatch: a handler per PLIC source, called on the
 * hart that claimed it. Sources are routed to the boot hart.
 *
 * Locking: the table is written at attach time only, before the source is
 * enabled; dispatch reads it without a lock.
 */
#include <kernel/irq.h>
#include <kernel/hart.h>
#include <kernel/log.h>
#include <kernel/errno.h>

ott_ref_t irqc_ref;

struct irq_entry {
	irq_handler_fn fn;
	void *arg;
	uint64_t count;
};

static struct irq_entry table[IRQ_MAX_SOURCES];

int irq_available(void)
{
	return irqc_ref.entry != NULL;
}

int irq_attach(uint32_t irq, irq_handler_fn fn, void *arg)
{
	if (!irq_available())
		return -KE_NODEV;
	if (!irq || irq >= IRQ_MAX_SOURCES || !fn)
		return -KE_INVAL;
	if (table[irq].fn)
		return -KE_BUSY;
	table[irq].arg = arg;
	__atomic_store_n(&table[irq].fn, fn, __ATOMIC_RELEASE);
	return (int)irqc_enable(irqc_ref, irq, boot_hartid);
}

void irq_external(void)
{
	unsigned int hart = this_hart()->hartid;
	long irq;

	while ((irq = irqc_claim(irqc_ref, hart)) > 0) {
		irq_handler_fn fn = irq < IRQ_MAX_SOURCES ? table[irq].fn : NULL;

		if (fn) {
			table[irq].count++;
			this_hart()->cur_irq = (uint32_t)irq;	/* named if the handler faults */
			fn(table[irq].arg);
			this_hart()->cur_irq = 0;
		} else {
			klog("irq", "spurious source=%ld", irq);
		}
		irqc_complete(irqc_ref, hart, (uint32_t)irq);
	}
}
