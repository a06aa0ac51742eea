/*
 * Demo update 6 (uart 2 -> 3 -> 4 in one pack): shared code. Version 3
 * counts bytes written, version 4 also counts lines. Both extend the
 * ns16550 state; the transfers copy the device part and carry counters.
 */
#ifndef DEMO_UART_V34_H
#define DEMO_UART_V34_H
#include <kernel/update.h>
#include <kernel/uart.h>
#include <kernel/errno.h>
#include "drivers/uart/ns16550.h"

struct ns16550_v34 {
	struct ns16550 dev;	/* the version 1/2 layout, unchanged */
	uint64_t bytes;
	uint64_t lines;
};

static inline void v34_put(struct ns16550 *u, uint8_t c)
{
	while (!(ns16550_rd(u, NS16550_LSR) & NS16550_LSR_THRE))
		;
	ns16550_wr(u, NS16550_THR, c);
}

static inline long v34_write(struct object *self, const char *buf, size_t len, int count_lines)
{
	struct ns16550_v34 *u = (struct ns16550_v34 *)self;

	spin_lock(&u->dev.tx_lock);
	for (size_t i = 0; i < len; i++) {
		if (buf[i] == '\n') {
			v34_put(&u->dev, '\r');
			u->lines += count_lines;
		}
		v34_put(&u->dev, (uint8_t)buf[i]);
	}
	u->bytes += len;
	spin_unlock(&u->dev.tx_lock);
	return (long)len;
}

static inline long v34_rx_byte(struct object *self)
{
	struct ns16550 *u = (struct ns16550 *)self;

	return (ns16550_rd(u, NS16550_LSR) & NS16550_LSR_DR) ? ns16550_rd(u, NS16550_RBR)
							       : -KE_NODATA;
}

static inline long v34_irq(struct object *self)
{
	char buf[16];
	long n = 0, c;

	while (n < (long)sizeof(buf) && (c = v34_rx_byte(self)) >= 0)
		buf[n++] = (char)c;
	return console_push(buf, (size_t)n);
}

static inline long v34_rx_irq(struct object *self, int on)
{
	ns16550_wr((struct ns16550 *)self, NS16550_IER, on ? 0x01 : 0x00);
	return 0;
}

static inline void v34_copy_dev(const struct object *from, struct object *to)
{
	const struct ns16550 *o = (const struct ns16550 *)from;
	struct ns16550 *n = (struct ns16550 *)to;

	n->base = o->base;
	n->shift = o->shift;
	n->width = o->width;
	spin_init(&n->tx_lock, "ns16550");
}
#endif
