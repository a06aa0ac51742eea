/*
 * Fault-matrix module: uart (ns16550) 1 -> 2 whose write() takes its
 * transmit lock and then faults holding it. write() is what the log calls
 * for every line, with the log lock held: the fault hits with two locks
 * held and interrupts off. The report must not wait for the log lock (this
 * hart holds it) nor go through this driver; the unwind releases the
 * transmit lock (taken in the call), keeps the log lock (taken before it),
 * and the line is written again by version 1.
 */
#include <stddef.h>
#include <kernel/object.h>
#include <kernel/spinlock.h>

static long writefault_write(struct object *self, const char *buf, size_t len);
#define UART_V2_WRITE writefault_write
#include "uart_v2.c"

static long *volatile nowhere;	/* never set: the bug */

static long writefault_write(struct object *self, const char *buf, size_t len)
{
	struct ns16550 *u = (struct ns16550 *)self;
	long r;

	spin_lock(&u->tx_lock);
	r = (long)len + *nowhere;
	spin_unlock(&u->tx_lock);
	return r;
}
