/*
 * SiFive SPI controller (sifive,spi0: FU540 QSPI0/SPI1/SPI2, FU740, QEMU
 * sifive_u) as an object of the spi class. Programmed I/O, polled: bytes
 * go out through the 8-entry txdata FIFO and come back through rxdata,
 * at most a FIFO's worth in flight so rxdata never overflows. Single-bit
 * frames of 8 bits, MSB first, SPI mode 0 (what SPI NOR flash expects);
 * the quad lines the devicetree may declare are not used.
 *
 * Chip select: csmode HOLD keeps the selected line asserted across frames
 * for one transaction, csmode AUTO releases it after the last frame (what
 * Linux and U-Boot do; QEMU's model follows csmode the same way).
 *
 * The clock divider (sckdiv) is left as firmware set it: its input is the
 * TileLink clock, which only a PRCI clock driver would know. The reset
 * value 3 divides by 8, within the flash's limits on both SoCs.
 * QSPI0 comes out of reset in memory-mapped flash mode (fctrl.en = 1) for
 * the boot ROM; txdata/rxdata only work with it off, so probe turns it off
 * and the flash stays off the 0x20000000 window afterwards (nothing in the
 * kernel reads it there).
 *
 * Locking: ctrl->lock (interrupts off) is held for one whole transfer; it
 * guards the registers and the counters.
 */
#include <kernel/spi.h>
#include <kernel/object.h>
#include <kernel/devtree.h>
#include <kernel/driver.h>
#include <kernel/log.h>
#include <kernel/errno.h>
#include <kernel/spinlock.h>
#include <kernel/timer.h>
#include <kernel/riscv.h>
#include "sifive_spi.h"

#define SSPI_SCKDIV	0x00
#define SSPI_SCKMODE	0x04
#define SSPI_CSID	0x10
#define SSPI_CSDEF	0x14
#define SSPI_CSMODE	0x18
#define SSPI_FMT	0x40
#define SSPI_TXDATA	0x48
#define SSPI_RXDATA	0x4c
#define SSPI_FCTRL	0x60
#define SSPI_IE		0x70

#define CSMODE_AUTO	0
#define CSMODE_HOLD	2
#define FMT_LEN8	(8U << 16)	/* proto single, MSB first, dir rx */
#define TXDATA_FULL	(1U << 31)
#define RXDATA_EMPTY	(1U << 31)
#define FCTRL_EN	(1U << 0)
#define SSPI_FIFO	8
#define SSPI_STALL_US	20000	/* no byte back for this long: the controller is stuck */
#define SSPI_MAX_CTRL	4

static inline uint32_t sspi_rd(const struct sifive_spi *s, uint32_t off)
{
	return *(volatile uint32_t *)(s->base + off);
}

static inline void sspi_wr(const struct sifive_spi *s, uint32_t off, uint32_t val)
{
	*(volatile uint32_t *)(s->base + off) = val;
}

static uint64_t sspi_ticks(uint64_t us)
{
	uint64_t t = timer_us_to_ticks(us);

	return t ? t : us * 10;		/* no timebase yet: assume 10 MHz */
}

/* Empties rxdata of bytes a failed transfer left behind. */
static void sspi_drain(struct sifive_spi *s)
{
	for (int i = 0; i < 4 * SSPI_FIFO; i++)
		if (sspi_rd(s, SSPI_RXDATA) & RXDATA_EMPTY)
			return;
}

/*
 * Clocks @len bytes, at most a FIFO's worth in flight. A stall is timed
 * from the 64th empty poll after the last byte came back, and the clock
 * is read only every 64 polls: on the FU540 and FU740 `rdtime` traps into
 * OpenSBI, which is slow.
 */
static int sspi_shift(struct sifive_spi *s, const uint8_t *tx, uint8_t *rx, uint32_t len)
{
	uint32_t sent = 0, got = 0, v;
	uint64_t deadline = 0, now;
	unsigned int polls = 0;

	while (got < len) {
		if (sent < len && sent - got < SSPI_FIFO && !(sspi_rd(s, SSPI_TXDATA) & TXDATA_FULL)) {
			sspi_wr(s, SSPI_TXDATA, tx ? tx[sent] : 0);
			sent++;
			continue;
		}
		v = sspi_rd(s, SSPI_RXDATA);
		if (!(v & RXDATA_EMPTY)) {
			if (rx)
				rx[got] = (uint8_t)v;
			got++;
			polls = 0;
			continue;
		}
		if ((++polls & 63) == 0) {
			now = rdtime();
			if (polls == 64)
				deadline = now + sspi_ticks(SSPI_STALL_US);
			else if (now > deadline)
				return -KE_TIMEDOUT;
		}
	}
	return 0;
}

static int sspi_check(const struct sifive_spi *s, uint32_t cs, const struct spi_seg *segs,
		      uint32_t nsegs)
{
	uint64_t total = 0;

	if (cs >= s->ncs || !segs || nsegs == 0 || nsegs > SPI_MAX_SEGS)
		return -KE_INVAL;
	for (uint32_t i = 0; i < nsegs; i++)
		total += segs[i].len;
	return total > SPI_MAX_XFER ? -KE_RANGE : 0;
}

static long sifive_spi_transfer(struct object *self, uint32_t cs, const struct spi_seg *segs,
				uint32_t nsegs)
{
	struct sifive_spi *s = (struct sifive_spi *)self;
	int err = sspi_check(s, cs, segs, nsegs);

	if (err)
		return err;
	spin_lock(&s->lock);
	sspi_drain(s);
	sspi_wr(s, SSPI_CSID, cs);
	sspi_wr(s, SSPI_FMT, FMT_LEN8);
	sspi_wr(s, SSPI_CSMODE, CSMODE_HOLD);
	for (uint32_t i = 0; i < nsegs && !err; i++) {
		err = sspi_shift(s, segs[i].tx, segs[i].rx, segs[i].len);
		s->stats.bytes += segs[i].len;
	}
	sspi_wr(s, SSPI_CSMODE, CSMODE_AUTO);
	s->stats.transfers++;
	if (err) {
		s->stats.timeouts++;
		sspi_drain(s);
	}
	spin_unlock(&s->lock);
	return err;
}

static long sifive_spi_stats(struct object *self, struct spi_stats *out)
{
	struct sifive_spi *s = (struct sifive_spi *)self;

	if (!out)
		return -KE_INVAL;
	spin_lock(&s->lock);
	*out = s->stats;
	spin_unlock(&s->lock);
	return 0;
}

static const struct spi_ops sifive_spi_ops = {
	.transfer = sifive_spi_transfer,
	.stats = sifive_spi_stats,
};
CLASS_OPS_CHECK(struct spi_ops);

static const struct class sifive_spi_class = {
	.name = "spi",
	.impl = "sifive-spi",
	.version = 1,
	.iface_version = 1,
	.ops = &sifive_spi_ops,
	.nmethods = CLASS_NMETHODS(struct spi_ops),
	.state_size = sizeof(struct sifive_spi),
};

/*
 * Chip selects the controller implements: csdef has one writable bit per
 * line, so writing all ones and reading back counts them (then restore).
 */
static uint32_t sspi_count_cs(struct sifive_spi *s)
{
	uint32_t def = sspi_rd(s, SSPI_CSDEF), all, n = 0;

	sspi_wr(s, SSPI_CSDEF, 0xffffffffU);
	all = sspi_rd(s, SSPI_CSDEF);
	sspi_wr(s, SSPI_CSDEF, def);
	while (n < 32 && (all & (1U << n)))
		n++;
	return n ? n : 1;
}

static struct factory sifive_spi_factory;
static struct sifive_spi ctrls[SSPI_MAX_CTRL];
static unsigned int nctrls;

static int sifive_spi_probe(const void *fdt, int node, int match)
{
	struct sifive_spi *s;
	uint64_t base, size;
	uint32_t fctrl;
	ott_ref_t ref;
	int err;

	if (nctrls >= SSPI_MAX_CTRL)
		return -KE_NOSPC;
	if ((err = dt_reg(fdt, node, 0, &base, &size)))
		return err;
	s = &ctrls[nctrls];
	s->base = (uintptr_t)base;
	spin_init(&s->lock, "sifive-spi");
	sspi_wr(s, SSPI_IE, 0);			/* polled */
	fctrl = sspi_rd(s, SSPI_FCTRL);
	if (fctrl & FCTRL_EN)
		sspi_wr(s, SSPI_FCTRL, fctrl & ~FCTRL_EN);
	sspi_wr(s, SSPI_CSMODE, CSMODE_AUTO);
	sspi_wr(s, SSPI_SCKMODE, 0);		/* mode 0 */
	s->ncs = sspi_count_cs(s);
	if ((err = driver_publish(&sifive_spi_factory, &sifive_spi_class, &s->obj, &ref)))
		return err;
	nctrls++;	/* the factory owns the slot now */
	if ((err = spi_bus_register(node, ref)))
		return err;
	klog("spi", "bound base=%#lx cs=%u sckdiv=%u mmio=%s", (unsigned long)base, s->ncs,
	     sspi_rd(s, SSPI_SCKDIV) & 0xfff, fctrl & FCTRL_EN ? "turned-off" : "off");
	return 0;
}

static const char *const sifive_spi_compat[] = { "sifive,spi0", NULL };

/* Rank 6: after the NICs; spi-nor (rank 7) looks its controller up. */
DRIVER_DECLARE(6, sifive_spi_driver) = {
	.name = "sifive,spi0",
	.compatible = sifive_spi_compat,
	.probe = sifive_spi_probe,
};
