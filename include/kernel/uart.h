/*
 * The uart class (ns16550a, sifive,uart0, ...). The console is the UART
 * /chosen stdout-path names (or the first one bound); callers reach it
 * through console_ref with these wrappers.
 */
#ifndef KERNEL_UART_H
#define KERNEL_UART_H
#include <stddef.h>
#include <kernel/ott.h>

struct uart_ops {
	/* Writes @len bytes, waiting for room in the FIFO. */
	long (*write)(struct object *self, const char *buf, size_t len);
	/* One received byte, or -KE_NODATA. */
	long (*rx_byte)(struct object *self);
	/* Device interrupt: drains the receiver. Returns bytes received. */
	long (*irq)(struct object *self);
	/* Enables (1) or disables (0) the receive interrupt. */
	long (*rx_irq)(struct object *self, int on);
};

extern ott_ref_t console_ref;

static inline long uart_write(ott_ref_t r, const char *buf, size_t len)
{
	return OTT_CALL(r, struct uart_ops, write, buf, len);
}

static inline long uart_rx_byte(ott_ref_t r)
{
	return OTT_CALL(r, struct uart_ops, rx_byte);
}

static inline long uart_irq(ott_ref_t r)
{
	return OTT_CALL(r, struct uart_ops, irq);
}

static inline long uart_rx_irq(ott_ref_t r, int on)
{
	return OTT_CALL(r, struct uart_ops, rx_irq, on);
}

/* Drivers call this when they bind a UART; the console one becomes console_ref. */
void console_attach(ott_ref_t uart, int is_stdout, unsigned int irq);

struct factory;
struct class;

/*
 * What every UART driver does once its device is set up: publish the
 * instance in its class's factory, attach it as a console candidate (with
 * its interrupt from the devicetree) and log it. 0 or a negative code.
 */
int uart_bind(const void *fdt, int node, struct factory *f, const struct class *cls,
	      struct object *obj, const char *what, uint64_t base);
/* Called by a UART's irq method with the bytes it received; returns @len. */
long console_push(const char *buf, size_t len);
/* Received console bytes (filled from the UART interrupt). */
long console_read(char *buf, size_t len);
#endif
