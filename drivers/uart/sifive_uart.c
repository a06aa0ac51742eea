/*
 * SiFive UART (sifive,uart0: FU540/FU740, QEMU sifive_u): polled
 * transmit, interrupt-driven receive (rx watermark 0 = any byte).
 *
 * Locking: tx_lock keeps one write() from interleaving with another's.
 */
#include <kernel/uart.h>
#include <kernel/object.h>
#include <kernel/devtree.h>
#include <kernel/driver.h>
#include <kernel/log.h>
#include <kernel/errno.h>
#include <kernel/spinlock.h>

#define TXDATA	0x00
#define RXDATA	0x04
#define TXCTRL	0x08
#define RXCTRL	0x0c
#define IE	0x10
#define FIFO_FULL  (1U << 31)
#define RX_EMPTY   (1U << 31)
#define IE_RXWM	   (1U << 1)

struct sifive_uart {
	struct object obj;
	uintptr_t base;
	struct spinlock tx_lock;
};

static inline volatile uint32_t *reg(struct sifive_uart *u, uintptr_t off)
{
	return (volatile uint32_t *)(u->base + off);
}

static void put_byte(struct sifive_uart *u, uint8_t c)
{
	while (*reg(u, TXDATA) & FIFO_FULL)
		;
	*reg(u, TXDATA) = c;
}

static long sifive_uart_write(struct object *self, const char *buf, size_t len)
{
	struct sifive_uart *u = (struct sifive_uart *)self;

	spin_lock(&u->tx_lock);
	for (size_t i = 0; i < len; i++) {
		if (buf[i] == '\n')
			put_byte(u, '\r');
		put_byte(u, (uint8_t)buf[i]);
	}
	spin_unlock(&u->tx_lock);
	return (long)len;
}

static long sifive_uart_getc(struct object *self)
{
	uint32_t v = *reg((struct sifive_uart *)self, RXDATA);

	return (v & RX_EMPTY) ? -KE_NODATA : (long)(v & 0xff);
}

static long sifive_uart_irq(struct object *self)
{
	char buf[16];
	long n = 0, c;

	while (n < (long)sizeof(buf) && (c = sifive_uart_getc(self)) >= 0)
		buf[n++] = (char)c;
	return console_push(buf, (size_t)n);
}

static long sifive_uart_rx_irq(struct object *self, int on)
{
	*reg((struct sifive_uart *)self, IE) = on ? IE_RXWM : 0;
	return 0;
}

static const struct uart_ops sifive_uart_ops = {
	.write = sifive_uart_write,
	.rx_byte = sifive_uart_getc,
	.irq = sifive_uart_irq,
	.rx_irq = sifive_uart_rx_irq,
};

static const struct class sifive_uart_class = {
	.name = "uart",
	.impl = "sifive-uart",
	.version = 1,
	.iface_version = 1,
	.ops = &sifive_uart_ops,
	.nmethods = sizeof(struct uart_ops) / sizeof(void *),
	.state_size = sizeof(struct sifive_uart),
};

static struct factory sifive_uart_factory;
static struct sifive_uart uarts[2];
static int nuarts;

static int sifive_uart_probe(const void *fdt, int node, int match)
{
	struct sifive_uart *u;
	uint64_t base, size;
	int err;

	if (nuarts >= (int)(sizeof(uarts) / sizeof(uarts[0])))
		return -KE_NOSPC;
	err = dt_reg(fdt, node, 0, &base, &size);
	if (err)
		return err;
	u = &uarts[nuarts];
	u->base = (uintptr_t)base;
	spin_init(&u->tx_lock, "sifive-uart");
	*reg(u, TXCTRL) |= 1;	/* txen; firmware set the divisor */
	*reg(u, RXCTRL) = 1;	/* rxen, watermark 0 */
	err = uart_bind(fdt, node, &sifive_uart_factory, &sifive_uart_class, &u->obj, "sifive,uart0", base);
	if (!err)
		nuarts++;
	return err;
}

static const char *const sifive_uart_compat[] = { "sifive,uart0", NULL };

DRIVER_DECLARE(0, sifive_uart_driver) = {
	.name = "sifive,uart0",
	.compatible = sifive_uart_compat,
	.probe = sifive_uart_probe,
};
