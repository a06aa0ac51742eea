/*
 * NS16550A state and register access, shared by the built-in driver and
 * its update modules (whose state transfers read this layout).
 */
#ifndef DRIVERS_UART_NS16550_H
#define DRIVERS_UART_NS16550_H

#include <stdint.h>
#include <kernel/ott.h>
#include <kernel/spinlock.h>

#define NS16550_RBR 0	/* receive buffer */
#define NS16550_THR 0	/* transmit holding */
#define NS16550_IER 1	/* interrupt enable */
#define NS16550_FCR 2	/* FIFO control */
#define NS16550_LSR 5	/* line status */
#define NS16550_LSR_DR	 0x01
#define NS16550_LSR_THRE 0x20
#define NS16550_FIFO	16

/* Version 1 state. */
struct ns16550 {
	struct object obj;
	uintptr_t base;
	uint32_t shift;
	uint32_t width;
	struct spinlock tx_lock;
};

static inline uint8_t ns16550_rd(const struct ns16550 *u, int r)
{
	uintptr_t a = u->base + ((uintptr_t)r << u->shift);

	return u->width == 4 ? (uint8_t)*(volatile uint32_t *)a : *(volatile uint8_t *)a;
}

static inline void ns16550_wr(const struct ns16550 *u, int r, uint8_t v)
{
	uintptr_t a = u->base + ((uintptr_t)r << u->shift);

	if (u->width == 4)
		*(volatile uint32_t *)a = v;
	else
		*(volatile uint8_t *)a = v;
}

#endif
