/*
 * Demo update 1: uart (ns16550) 1 -> 2, a code-only fix. Version 1 waits
 * for the transmit register to empty before every byte; an empty THR
 * means the whole 16-byte FIFO is free, so version 2 fills it in bursts.
 * Same state layout; the transfer copies it.
 */
#include <string.h>
#include <kernel/update.h>
#include <kernel/uart.h>
#include <kernel/errno.h>
#include "drivers/uart/ns16550.h"

/* Test variants (uart_v2_*.c) define this to their own transfer before including this file. */
#ifndef UART_V2_TRANSFER
#define UART_V2_TRANSFER copy_state
#endif
#ifndef UART_V2_WRITE
#define UART_V2_WRITE v2_write
#endif
#ifndef UART_V2_IRQ
#define UART_V2_IRQ v2_irq
#endif

static void put_burst(struct ns16550 *u, const char *buf, size_t len, size_t *i)
{
	int room = NS16550_FIFO;

	while (!(ns16550_rd(u, NS16550_LSR) & NS16550_LSR_THRE))
		;
	for (; *i < len && room >= 2; (*i)++) {
		if (buf[*i] == '\n') {
			ns16550_wr(u, NS16550_THR, '\r');
			room--;
		}
		ns16550_wr(u, NS16550_THR, (uint8_t)buf[*i]);
		room--;
	}
}

static __attribute__((unused)) long v2_write(struct object *self, const char *buf, size_t len)
{
	struct ns16550 *u = (struct ns16550 *)self;
	size_t i = 0;

	spin_lock(&u->tx_lock);
	while (i < len)
		put_burst(u, buf, len, &i);
	spin_unlock(&u->tx_lock);
	return (long)len;
}

static long v2_rx_byte(struct object *self)
{
	struct ns16550 *u = (struct ns16550 *)self;

	return (ns16550_rd(u, NS16550_LSR) & NS16550_LSR_DR) ? ns16550_rd(u, NS16550_RBR)
							       : -KE_NODATA;
}

static __attribute__((unused)) long v2_irq(struct object *self)
{
	char buf[16];
	long n = 0, c;

	while (n < (long)sizeof(buf) && (c = v2_rx_byte(self)) >= 0)
		buf[n++] = (char)c;
	return console_push(buf, (size_t)n);
}

static long v2_rx_irq(struct object *self, int on)
{
	ns16550_wr((struct ns16550 *)self, NS16550_IER, on ? 0x01 : 0x00);
	return 0;
}

static const struct uart_ops v2_ops = {
	.write = UART_V2_WRITE,
	.rx_byte = v2_rx_byte,
	.irq = UART_V2_IRQ,
	.rx_irq = v2_rx_irq,
};

static const struct class v2_class = {
	.name = "uart",
	.impl = "ns16550",
	.version = 2,
	.iface_version = 1,
	.ops = &v2_ops,
	.nmethods = CLASS_NMETHODS(struct uart_ops),
	.state_size = sizeof(struct ns16550),
};

/* Same layout both ways: copy the device state, start with a free lock. */
static int copy_state(const struct object *from, struct object *to)
{
	const struct ns16550 *o = (const struct ns16550 *)from;
	struct ns16550 *n = (struct ns16550 *)to;

	n->base = o->base;
	n->shift = o->shift;
	n->width = o->width;
	spin_init(&n->tx_lock, "ns16550");
	return 0;
}

static int v2_selftest(const struct class *cls)
{
	return cls->nmethods == 4 && cls->state_size == sizeof(struct ns16550) ? 0 : -KE_INVAL;
}

const struct update_desc update_desc = {
	.abi = KERNEL_ABI,
	.class_name = "uart",
	.impl = "ns16550",
	.from = 1,
	.to = 2,
	.cls = &v2_class,
	.transfer = UART_V2_TRANSFER,
	.flags = UPDATE_PURE_TRANSFER,	/* it only reads the old state */
	.transfer_back = copy_state,
	.selftest = v2_selftest,
	.mode = UPDATE_MODE_EAGER,
};
