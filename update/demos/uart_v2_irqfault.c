/*
 * Fault-matrix module: uart (ns16550) 1 -> 2 whose receive interrupt
 * handler, irq(), faults (interrupt context, interrupts off). The first
 * byte typed on the console after the switch triggers it: the call is
 * unwound inside the interrupt handler and retried on version 1, which
 * reads the byte, so no input is lost.
 */
#include <kernel/object.h>

static long irqfault_irq(struct object *self);
#define UART_V2_IRQ irqfault_irq
#include "uart_v2.c"

static long *volatile nowhere;	/* never set: the bug */

static long irqfault_irq(struct object *self)
{
	long bad = *nowhere;	/* before a byte is read */

	return v2_irq(self) + bad;
}
