/*
 * NS16550A UART (QEMU virt's console): polled transmit, interrupt-driven
 * receive. reg-shift and reg-io-width from the devicetree are honoured.
 *
 * Locking: tx_lock keeps one write() from interleaving with another's
 * bytes; the log already serialises whole lines above it.
 */
#include <kernel/uart.h>
#include <kernel/object.h>
#include <kernel/devtree.h>
#include <kernel/driver.h>
#include <kernel/log.h>
#include <kernel/errno.h>
#include <kernel/spinlock.h>
#include "ns16550.h"

static long ns16550_write(struct object *self, const char *buf, size_t len)
{
	struct ns16550 *u = (struct ns16550 *)self;

	spin_lock(&u->tx_lock);
	for (size_t i = 0; i < len; i++) {
		if (buf[i] == '\n') {
			while (!(ns16550_rd(u, NS16550_LSR) & NS16550_LSR_THRE))
				;
			ns16550_wr(u, NS16550_THR, '\r');
		}
		while (!(ns16550_rd(u, NS16550_LSR) & NS16550_LSR_THRE))
			;
		ns16550_wr(u, NS16550_THR, (uint8_t)buf[i]);
	}
	spin_unlock(&u->tx_lock);
	return (long)len;
}

static long ns16550_getc(struct object *self)
{
	struct ns16550 *u = (struct ns16550 *)self;

	return (ns16550_rd(u, NS16550_LSR) & NS16550_LSR_DR) ? ns16550_rd(u, NS16550_RBR) : -KE_NODATA;
}

static long ns16550_irq(struct object *self)
{
	char buf[16];
	long n = 0, c;

	while (n < (long)sizeof(buf) && (c = ns16550_getc(self)) >= 0)
		buf[n++] = (char)c;
	return console_push(buf, (size_t)n);
}

static long ns16550_rx_irq(struct object *self, int on)
{
	ns16550_wr((struct ns16550 *)self, NS16550_IER, on ? 0x01 : 0x00);
	return 0;
}

static const struct uart_ops ns16550_ops = {
	.write = ns16550_write,
	.rx_byte = ns16550_getc,
	.irq = ns16550_irq,
	.rx_irq = ns16550_rx_irq,
};
CLASS_OPS_CHECK(struct uart_ops);

static const struct class ns16550_class = {
	.name = "uart",
	.impl = "ns16550",
	.version = 1,
	.iface_version = 1,
	.ops = &ns16550_ops,
	.nmethods = sizeof(struct uart_ops) / sizeof(void *),
	.state_size = sizeof(struct ns16550),
};

static struct factory ns16550_factory;
static struct ns16550 uarts[2];
static int nuarts;

static int ns16550_probe(const void *fdt, int node, int match)
{
	struct ns16550 *u;
	uint64_t base, size;
	int err;

	if (nuarts >= (int)(sizeof(uarts) / sizeof(uarts[0])))
		return -KE_NOSPC;
	err = dt_reg(fdt, node, 0, &base, &size);
	if (err)
		return err;
	u = &uarts[nuarts];
	u->base = (uintptr_t)base;
	u->shift = dt_prop_u32_or(fdt, node, "reg-shift", 0);
	u->width = dt_prop_u32_or(fdt, node, "reg-io-width", 1);
	spin_init(&u->tx_lock, "ns16550");
	ns16550_wr(u, NS16550_FCR, 0x07);	/* enable and clear FIFOs */
	err = uart_bind(fdt, node, &ns16550_factory, &ns16550_class, &u->obj, "ns16550a", base);
	if (!err)
		nuarts++;
	return err;
}

static const char *const ns16550_compat[] = { "ns16550a", "ns16550", NULL };

DRIVER_DECLARE(0, ns16550_driver) = {
	.name = "ns16550a",
	.compatible = ns16550_compat,
	.probe = ns16550_probe,
};
