/*
 * RISC-V PLIC (sifive,plic-1.0.0 / riscv,plic0): the external interrupt
 * controller. Each hart's S-mode context comes from the node's
 * interrupts-extended (dt_plic_s_contexts), not from a per-board formula.
 *
 * Locking: enable() is a read-modify-write of a shared enable word, so it
 * takes plic->lock; claim/complete touch only the calling hart's context.
 */
#include <kernel/irq.h>
#include <kernel/object.h>
#include <kernel/devtree.h>
#include <kernel/driver.h>
#include <kernel/hart.h>
#include <kernel/log.h>
#include <kernel/errno.h>
#include <kernel/spinlock.h>
#include "plic.h"

#define PLIC_PRIORITY(irq)	(4 * (irq))
#define PLIC_ENABLE(ctx)	(0x2000 + 0x80 * (ctx))
#define PLIC_THRESHOLD(ctx)	(0x200000 + 0x1000 * (ctx))
#define PLIC_CLAIM(ctx)		(0x200004 + 0x1000 * (ctx))

static inline volatile uint32_t *reg(struct plic *p, uintptr_t off)
{
	return (volatile uint32_t *)(p->base + off);
}

static long plic_enable(struct object *self, uint32_t irq, unsigned int hart)
{
	struct plic *p = (struct plic *)self;
	int ctx;

	if (!irq || irq > p->ndev || hart >= MAX_HARTS || (ctx = p->ctx[hart]) < 0)
		return -KE_INVAL;
	spin_lock(&p->lock);
	*reg(p, PLIC_PRIORITY(irq)) = 1;
	*reg(p, PLIC_ENABLE(ctx) + 4 * (irq / 32)) |= 1U << (irq % 32);
	spin_unlock(&p->lock);
	return 0;
}

static long plic_claim(struct object *self, unsigned int hart)
{
	struct plic *p = (struct plic *)self;

	if (hart >= MAX_HARTS || p->ctx[hart] < 0)
		return 0;
	return *reg(p, PLIC_CLAIM(p->ctx[hart]));
}

static long plic_complete(struct object *self, unsigned int hart, uint32_t irq)
{
	struct plic *p = (struct plic *)self;

	if (hart >= MAX_HARTS || p->ctx[hart] < 0)
		return -KE_INVAL;
	*reg(p, PLIC_CLAIM(p->ctx[hart])) = irq;
	return 0;
}

static long plic_init_hart(struct object *self, unsigned int hart)
{
	struct plic *p = (struct plic *)self;

	if (hart >= MAX_HARTS || p->ctx[hart] < 0)
		return -KE_NODEV;
	*reg(p, PLIC_THRESHOLD(p->ctx[hart])) = 0;
	return 0;
}

static const struct irqc_ops plic_ops = {
	.enable = plic_enable,
	.claim = plic_claim,
	.complete = plic_complete,
	.init_hart = plic_init_hart,
};
CLASS_OPS_CHECK(struct irqc_ops);

static const struct class plic_class = {
	.name = "plic",
	.impl = "plic",
	.version = 1,
	.iface_version = 1,
	.ops = &plic_ops,
	.nmethods = sizeof(struct irqc_ops) / sizeof(void *),
	.state_size = sizeof(struct plic),
};

static struct factory plic_factory;
static struct plic the_plic;

static int plic_probe(const void *fdt, int node, int match)
{
	int ctx_by_hartid[MAX_HARTS];
	uint64_t base, size;
	int n, err;

	err = dt_reg(fdt, node, 0, &base, &size);
	if (err)
		return err;
	n = dt_plic_s_contexts(fdt, node, ctx_by_hartid, MAX_HARTS);
	if (n <= 0)
		return n < 0 ? n : -KE_NODEV;
	the_plic.base = (uintptr_t)base;
	the_plic.ndev = dt_prop_u32_or(fdt, node, "riscv,ndev", 31);
	spin_init(&the_plic.lock, "plic");
	/* Indexed by hartid: the irqc methods take hartids. */
	for (int i = 0; i < MAX_HARTS; i++)
		the_plic.ctx[i] = ctx_by_hartid[i];
	klog("plic", "bound base=%#lx ndev=%u s_contexts=%d", (unsigned long)base, the_plic.ndev, n);
	return driver_publish(&plic_factory, &plic_class, &the_plic.obj, &irqc_ref);
}

static const char *const plic_compat[] = { "sifive,plic-1.0.0", "riscv,plic0", NULL };

DRIVER_DECLARE(2, plic_driver) = {
	.name = "plic",
	.compatible = plic_compat,
	.probe = plic_probe,
};
