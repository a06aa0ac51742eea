/*
 * Cadence GEM ethernet (FU540 "sifive,fu540-c000-gem", "cdns,macb"), as
 * on the HiFive Unleashed and QEMU's sifive_u: one receive and one
 * transmit ring of two-word buffer descriptors (32-bit addresses: the
 * kernel's memory is below 4 GiB), full duplex, FCS stripped.
 *
 * Receive: GEM_NRX buffers of GEM_BUF bytes; the device sets the
 * ownership bit of a filled descriptor, recv() copies the frame out and
 * clears it. When the ring was full the device (QEMU at least) keeps its
 * cached view of the descriptor, so recv() rewrites NWCTRL after giving
 * buffers back while RXSTATUS reports "buffer not available". QEMU drops
 * frames that arrive while it refills a full ring from its queue, so the
 * ring is kept well above what TCP windows put in flight (16 KiB, about
 * 11 frames, per connection).
 * Transmit: send() copies the frame into the next descriptor's buffer,
 * clears its used bit and sets TSTART; the device sets the used bit again
 * when sent, and send()/irq() take such descriptors back.
 * Unused priority queues (DCFG6) point at a dummy descriptor that is
 * already used/owned and wraps, so they never stall the DMA.
 *
 * DMA: identity mapped memory (VA == PA), coherent; fences order the
 * descriptor writes and the register writes that hand them over.
 *
 * Locking: gem->lock (interrupts off while held) guards the rings and the
 * counters: send/recv run on the network thread, irq on the boot hart.
 */
#include <string.h>
#include <kernel/netdev.h>
#include <kernel/object.h>
#include <kernel/devtree.h>
#include <kernel/driver.h>
#include <kernel/mem.h>
#include <kernel/log.h>
#include <kernel/errno.h>
#include <kernel/spinlock.h>
#include <libfdt.h>
#include "cadence_gem.h"

#define GEM_NRX		64
#define GEM_NTX		32
#define GEM_BUF		2048		/* bytes per buffer, a multiple of 64 */
#define GEM_FRAME_MAX	1514		/* Ethernet header + MTU, no FCS */
#define GEM_MDIO_SPINS	100000

static inline uint32_t gem_rd(const struct gem *g, uint32_t off)
{
	return *(volatile uint32_t *)(g->base + off);
}

static inline void gem_wr(const struct gem *g, uint32_t off, uint32_t val)
{
	*(volatile uint32_t *)(g->base + off) = val;
}

/* Orders descriptor writes before a register write, and the reverse. */
static inline void gem_io_fence(void)
{
	__asm__ __volatile__("fence iorw, iorw" ::: "memory");
}

static uint32_t gem_addr32(const void *p)
{
	return (uint32_t)(uintptr_t)p;
}

/* --- rings ------------------------------------------------------------------- */

static void gem_rx_give(struct gem *g, unsigned int i)
{
	uint32_t wrap = i == GEM_NRX - 1 ? GEM_RX_WRAP : 0;

	g->rx[i].ctrl = 0;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	g->rx[i].addr = gem_addr32(g->rx_bufs + (size_t)i * GEM_BUF) | wrap;
}

static void gem_rings_init(struct gem *g)
{
	for (unsigned int i = 0; i < GEM_NRX; i++)
		gem_rx_give(g, i);
	for (unsigned int i = 0; i < GEM_NTX; i++) {
		g->tx[i].addr = gem_addr32(g->tx_bufs + (size_t)i * GEM_BUF);
		g->tx[i].ctrl = GEM_TX_USED | (i == GEM_NTX - 1 ? GEM_TX_WRAP : 0);
	}
	g->rx_dummy->addr = GEM_RX_OWN | GEM_RX_WRAP;
	g->rx_dummy->ctrl = 0;
	g->tx_dummy->addr = 0;
	g->tx_dummy->ctrl = GEM_TX_USED | GEM_TX_WRAP;
	g->rx_head = g->tx_head = g->tx_tail = 0;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

static int gem_rings_alloc(struct gem *g)
{
	uint8_t *page = page_alloc(0);

	g->rx_bufs = page_alloc(page_order_for(GEM_NRX * GEM_BUF));
	g->tx_bufs = page_alloc(page_order_for(GEM_NTX * GEM_BUF));
	if (!page || !g->rx_bufs || !g->tx_bufs)
		goto fail;
	/* One page: rx ring, tx ring, the two dummies. */
	g->rx = (struct gem_desc *)page;
	g->tx = g->rx + GEM_NRX;
	g->rx_dummy = g->tx + GEM_NTX;
	g->tx_dummy = g->rx_dummy + 1;
	if ((uintptr_t)g->rx_bufs + GEM_NRX * GEM_BUF > 0x100000000ULL ||
	    (uintptr_t)g->tx_bufs + GEM_NTX * GEM_BUF > 0x100000000ULL ||
	    (uintptr_t)page >= 0x100000000ULL)
		goto fail;
	return 0;
fail:
	if (page)
		page_free(page, 0);
	if (g->rx_bufs)
		page_free(g->rx_bufs, page_order_for(GEM_NRX * GEM_BUF));
	if (g->tx_bufs)
		page_free(g->tx_bufs, page_order_for(GEM_NTX * GEM_BUF));
	g->rx_bufs = g->tx_bufs = NULL;
	return -KE_NOMEM;
}

/* Takes back descriptors the device has sent. Lock held. */
static void gem_tx_reclaim(struct gem *g)
{
	while (g->tx_tail != g->tx_head && (g->tx[g->tx_tail % GEM_NTX].ctrl & GEM_TX_USED))
		g->tx_tail++;
}

/* --- netdev methods ----------------------------------------------------------- */

static long gem_send(struct object *self, const void *frame, size_t len)
{
	struct gem *g = (struct gem *)self;
	struct gem_desc *d;
	unsigned int i;

	if (!len || len > GEM_FRAME_MAX)
		return -KE_INVAL;
	spin_lock(&g->lock);
	gem_tx_reclaim(g);
	if (g->tx_head - g->tx_tail >= GEM_NTX) {
		g->stats.tx_busy++;
		spin_unlock(&g->lock);
		return -KE_BUSY;
	}
	i = g->tx_head++ % GEM_NTX;
	d = &g->tx[i];
	memcpy(g->tx_bufs + (size_t)i * GEM_BUF, frame, len);
	d->addr = gem_addr32(g->tx_bufs + (size_t)i * GEM_BUF);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	d->ctrl = (uint32_t)len | GEM_TX_LAST | (i == GEM_NTX - 1 ? GEM_TX_WRAP : 0);
	gem_io_fence();
	gem_wr(g, GEM_NWCTRL, g->ctrl | GEM_CTRL_TSTART);
	g->stats.tx_frames++;
	spin_unlock(&g->lock);
	return 0;
}

/* Copies the frame of filled descriptor @i; its length, or negative if dropped. */
static long gem_rx_copy(struct gem *g, unsigned int i, void *buf, size_t len)
{
	uint32_t ctrl = g->rx[i].ctrl;
	size_t flen = ctrl & GEM_RX_LEN_MASK;

	if ((ctrl & (GEM_RX_SOF | GEM_RX_EOF)) != (GEM_RX_SOF | GEM_RX_EOF))
		return -KE_BADMSG;	/* spread over buffers: cannot be, drop */
	if (flen < 14 || flen > GEM_BUF)
		return -KE_BADMSG;
	if (flen > len)
		return -KE_OVERFLOW;
	memcpy(buf, g->rx_bufs + (size_t)i * GEM_BUF, flen);
	return (long)flen;
}

/* After buffers went back: make a device that found the ring full look again. */
static void gem_rx_restart(struct gem *g)
{
	gem_io_fence();
	if (!(gem_rd(g, GEM_RXSTATUS) & GEM_RXS_BNA))
		return;
	gem_wr(g, GEM_RXSTATUS, GEM_RXS_BNA);
	gem_wr(g, GEM_NWCTRL, g->ctrl);
}

static long gem_recv(struct object *self, void *buf, size_t len)
{
	struct gem *g = (struct gem *)self;
	long n = -KE_NODATA;
	bool gave = false;

	spin_lock(&g->lock);
	while (n < 0 && (g->rx[g->rx_head].addr & GEM_RX_OWN)) {
		unsigned int i = g->rx_head;

		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		n = gem_rx_copy(g, i, buf, len);
		if (n < 0)
			g->stats.rx_dropped++;
		else
			g->stats.rx_frames++;
		gem_rx_give(g, i);
		g->rx_head = (i + 1) % GEM_NRX;
		gave = true;
	}
	if (gave)
		gem_rx_restart(g);
	spin_unlock(&g->lock);
	return n < 0 ? -KE_NODATA : n;
}

static long gem_irq(struct object *self)
{
	struct gem *g = (struct gem *)self;
	uint32_t isr = gem_rd(g, GEM_ISR);	/* clear on read in QEMU ... */
	bool rx;

	gem_wr(g, GEM_ISR, isr);		/* ... write 1 to clear on some parts */
	gem_wr(g, GEM_TXSTATUS, gem_rd(g, GEM_TXSTATUS));
	spin_lock(&g->lock);
	g->stats.irqs++;
	gem_tx_reclaim(g);
	rx = g->rx[g->rx_head].addr & GEM_RX_OWN;
	spin_unlock(&g->lock);
	if (rx || (isr & (GEM_INT_RCOMP | GEM_INT_RXUBR | GEM_INT_ROVR)))
		netdev_notify();
	return 0;
}

static long gem_mac(struct object *self, uint8_t *out)
{
	memcpy(out, ((struct gem *)self)->mac, 6);
	return 0;
}

static long gem_stats(struct object *self, struct netdev_stats *out)
{
	struct gem *g = (struct gem *)self;

	spin_lock(&g->lock);
	*out = g->stats;
	spin_unlock(&g->lock);
	return 0;
}

static const struct netdev_ops gem_ops = {
	.send = gem_send,
	.recv = gem_recv,
	.irq = gem_irq,
	.mac = gem_mac,
	.stats = gem_stats,
};
CLASS_OPS_CHECK(struct netdev_ops);

static const struct class gem_class = {
	.name = "netdev",
	.impl = "cadence-gem",
	.version = 1,
	.iface_version = 1,
	.ops = &gem_ops,
	.nmethods = sizeof(struct netdev_ops) / sizeof(void *),
	.state_size = sizeof(struct gem),
};

/* --- bring-up ------------------------------------------------------------------- */

/* Reads a PHY register over MDIO; -1 if the bus stays busy. */
static int gem_mdio_read(struct gem *g, uint32_t reg)
{
	int spins = GEM_MDIO_SPINS;

	gem_wr(g, GEM_PHYMNTNC, GEM_MAN_SOF | GEM_MAN_READ | GEM_MAN_PHY(g->phy) |
	       GEM_MAN_REG(reg) | GEM_MAN_CODE);
	while (!(gem_rd(g, GEM_NWSTATUS) & GEM_STATUS_MDIO_IDLE))
		if (--spins == 0)
			return -1;
	return (int)(gem_rd(g, GEM_PHYMNTNC) & 0xffff);
}

/* MAC: local-mac-address (or mac-address), else what the device holds. */
static void gem_read_mac(struct gem *g, const void *fdt, int node)
{
	static const char *const props[] = { "local-mac-address", "mac-address" };
	uint32_t lo, hi;
	int len;

	for (int i = 0; i < 2; i++) {
		const uint8_t *p = fdt_getprop(fdt, node, props[i], &len);

		if (p && len == 6) {
			memcpy(g->mac, p, 6);
			return;
		}
	}
	lo = gem_rd(g, GEM_SPADDR1LO);
	hi = gem_rd(g, GEM_SPADDR1HI);
	for (int i = 0; i < 4; i++)
		g->mac[i] = (uint8_t)(lo >> (8 * i));
	g->mac[4] = (uint8_t)hi;
	g->mac[5] = (uint8_t)(hi >> 8);
	if (!(lo | (hi & 0xffff))) {
		const uint8_t mac[6] = { 0x02, 0, 0, 0, 0x90, 0x01 };	/* locally administered */

		memcpy(g->mac, mac, 6);
	}
}

/* The PHY's MDIO address: `reg` of the node phy-handle names, or 0. */
static uint32_t gem_phy_addr(const void *fdt, int node)
{
	uint32_t ph;
	int phy;

	if (dt_prop_u32(fdt, node, "phy-handle", &ph))
		return 0;
	phy = fdt_node_offset_by_phandle(fdt, ph);
	return phy >= 0 ? dt_prop_u32_or(fdt, phy, "reg", 0) & 31 : 0;
}

static void gem_quiet(struct gem *g)
{
	gem_wr(g, GEM_NWCTRL, 0);
	gem_wr(g, GEM_IDR, GEM_INT_ALL);
	(void)gem_rd(g, GEM_ISR);
	gem_wr(g, GEM_ISR, GEM_INT_ALL);
	gem_wr(g, GEM_TXSTATUS, 0xff);
	gem_wr(g, GEM_RXSTATUS, GEM_RXS_ALL);
	gem_wr(g, GEM_NWCTRL, GEM_CTRL_CLRSTAT);
}

/* Points priority queues 1..7 the design has at the dummy descriptors. */
static void gem_park_queues(struct gem *g)
{
	uint32_t present = gem_rd(g, GEM_DCFG6);

	for (unsigned int q = 1; q < GEM_MAX_QUEUES; q++) {
		if (!(present & (1U << q)))
			continue;
		gem_wr(g, GEM_TXQ_PTR(q), gem_addr32(g->tx_dummy));
		gem_wr(g, GEM_RXQ_PTR(q), gem_addr32(g->rx_dummy));
		gem_wr(g, GEM_INTQ_IDR(q), GEM_INT_ALL);
	}
}

static void gem_config(struct gem *g)
{
	uint32_t cfg = gem_rd(g, GEM_NWCFG), dma, dbw = GEM_DCFG1_DBW(gem_rd(g, GEM_DCFG1));

	cfg &= ~(GEM_CFG_CAF | GEM_CFG_NBC | GEM_CFG_MTI | GEM_CFG_UNI | GEM_CFG_DBW_MASK);
	cfg |= GEM_CFG_FD | GEM_CFG_SPEED100 | GEM_CFG_GIGE | GEM_CFG_STRIP_FCS;
	cfg |= (dbw >= 4 ? 2U : dbw >= 2 ? 1U : 0U) << GEM_CFG_DBW_SHIFT;
	gem_wr(g, GEM_NWCFG, cfg);
	dma = gem_rd(g, GEM_DMACFG) & ~(GEM_DMA_RBUFSZ_MASK | GEM_DMA_ADDR64);
	gem_wr(g, GEM_DMACFG, dma | (GEM_BUF / 64) << GEM_DMA_RBUFSZ_SHIFT);
	gem_wr(g, GEM_HASHLO, 0);
	gem_wr(g, GEM_HASHHI, 0);
	/* Low word first: writing the high word enables the filter. */
	gem_wr(g, GEM_SPADDR1LO, g->mac[0] | g->mac[1] << 8 | g->mac[2] << 16 | (uint32_t)g->mac[3] << 24);
	gem_wr(g, GEM_SPADDR1HI, g->mac[4] | g->mac[5] << 8);
}

static void gem_start(struct gem *g)
{
	gem_wr(g, GEM_RXQBASE, gem_addr32(g->rx));
	gem_wr(g, GEM_TXQBASE, gem_addr32(g->tx));
	gem_park_queues(g);
	gem_io_fence();
	g->ctrl = GEM_CTRL_MPE | GEM_CTRL_TXEN | GEM_CTRL_RXEN;
	gem_wr(g, GEM_NWCTRL, g->ctrl);
	gem_wr(g, GEM_IER, GEM_INT_RCOMP | GEM_INT_RXUBR | GEM_INT_TCOMP | GEM_INT_ROVR | GEM_INT_HRESP);
}

static struct factory gem_factory;
static struct gem the_gem;

static int gem_probe(const void *fdt, int node, int match)
{
	struct gem *g = &the_gem;
	uint64_t base, size;
	ott_ref_t ref;
	int err, bmsr;

	err = dt_reg(fdt, node, 0, &base, &size);
	if (err)
		return err;
	g->base = (uintptr_t)base;
	dt_irq(fdt, node, 0, &g->irq);
	g->phy = gem_phy_addr(fdt, node);
	spin_init(&g->lock, "gem");
	gem_quiet(g);
	err = gem_rings_alloc(g);
	if (err)
		return err;
	gem_read_mac(g, fdt, node);
	gem_rings_init(g);
	gem_config(g);
	gem_start(g);
	err = driver_publish(&gem_factory, &gem_class, &g->obj, &ref);
	if (err) {
		gem_quiet(g);
		return err;
	}
	bmsr = gem_mdio_read(g, MII_BMSR);
	klog("gem", "bound base=%#lx irq=%u phy=%u link=%s rx=%u tx=%u", (unsigned long)base, g->irq,
	     g->phy, bmsr < 0 ? "?" : (bmsr & MII_BMSR_LINK) ? "up" : "down", GEM_NRX, GEM_NTX);
	netdev_attach(ref, g->irq);
	return 0;
}

static const char *const gem_compat[] = {
	"sifive,fu540-c000-gem", "sifive,fu740-c000-gem", "cdns,macb", "cdns,gem", NULL
};

DRIVER_DECLARE(5, gem_driver) = {
	.name = "cadence-gem",
	.compatible = gem_compat,
	.probe = gem_probe,
	.single = 1,
};
