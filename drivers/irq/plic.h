/*
 * State of the PLIC object (drivers/irq/plic.c), shared by the built-in
 * driver and its update modules (whose state transfers read this layout).
 */
#ifndef DRIVERS_IRQ_PLIC_H
#define DRIVERS_IRQ_PLIC_H

#include <stdint.h>
#include <kernel/ott.h>
#include <kernel/hart.h>
#include <kernel/spinlock.h>

struct plic {
	struct object obj;
	uintptr_t base;
	uint32_t ndev;
	int ctx[MAX_HARTS];	/* S context by hart index, -1 if none */
	struct spinlock lock;
};

#endif
