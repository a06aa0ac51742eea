/*
 * Cadence GEM (macb) registers and buffer descriptors, as the FU540 has
 * them and QEMU's cadence_gem models them (32-bit descriptors: two words),
 * and the driver's state, shared with its update modules (whose state
 * transfers read this layout).
 */
#ifndef DRIVERS_NET_CADENCE_GEM_H
#define DRIVERS_NET_CADENCE_GEM_H

#include <stdint.h>
#include <kernel/ott.h>
#include <kernel/netdev.h>
#include <kernel/spinlock.h>

#define GEM_NWCTRL		0x000
#define GEM_NWCFG		0x004
#define GEM_NWSTATUS		0x008
#define GEM_DMACFG		0x010
#define GEM_TXSTATUS		0x014
#define GEM_RXQBASE		0x018
#define GEM_TXQBASE		0x01c
#define GEM_RXSTATUS		0x020
#define GEM_ISR			0x024
#define GEM_IER			0x028
#define GEM_IDR			0x02c
#define GEM_PHYMNTNC		0x034
#define GEM_HASHLO		0x080
#define GEM_HASHHI		0x084
#define GEM_SPADDR1LO		0x088
#define GEM_SPADDR1HI		0x08c
#define GEM_DCFG1		0x280
#define GEM_DCFG6		0x294
#define GEM_TXQ_PTR(q)		(0x440 + 4 * ((q) - 1))	/* queues 1..7 */
#define GEM_RXQ_PTR(q)		(0x480 + 4 * ((q) - 1))
#define GEM_INTQ_IDR(q)		(0x620 + 4 * ((q) - 1))
#define GEM_MAX_QUEUES		8

/* NWCTRL */
#define GEM_CTRL_RXEN		(1U << 2)
#define GEM_CTRL_TXEN		(1U << 3)
#define GEM_CTRL_MPE		(1U << 4)	/* MDIO enable */
#define GEM_CTRL_CLRSTAT	(1U << 5)
#define GEM_CTRL_TSTART		(1U << 9)

/* NWCFG */
#define GEM_CFG_SPEED100	(1U << 0)
#define GEM_CFG_FD		(1U << 1)
#define GEM_CFG_CAF		(1U << 4)	/* promiscuous */
#define GEM_CFG_NBC		(1U << 5)	/* no broadcast */
#define GEM_CFG_MTI		(1U << 6)	/* multicast hash */
#define GEM_CFG_UNI		(1U << 7)	/* unicast hash */
#define GEM_CFG_GIGE		(1U << 10)
#define GEM_CFG_STRIP_FCS	(1U << 17)
#define GEM_CFG_DBW_SHIFT	21
#define GEM_CFG_DBW_MASK	(3U << GEM_CFG_DBW_SHIFT)

/* DCFG1: data bus width of the design, bits 27:25 (1: 32, 2: 64, 4: 128). */
#define GEM_DCFG1_DBW(v)	(((v) >> 25) & 7)

/* DMACFG */
#define GEM_DMA_RBUFSZ_SHIFT	16
#define GEM_DMA_RBUFSZ_MASK	(0xffU << GEM_DMA_RBUFSZ_SHIFT)	/* in 64-byte units */
#define GEM_DMA_ADDR64		(1U << 30)

/* NWSTATUS */
#define GEM_STATUS_MDIO_IDLE	(1U << 2)

/* RXSTATUS (write 1 to clear) */
#define GEM_RXS_BNA		(1U << 0)	/* buffer not available */
#define GEM_RXS_REC		(1U << 1)
#define GEM_RXS_OVR		(1U << 2)
#define GEM_RXS_ALL		0xf

/* ISR / IER / IDR */
#define GEM_INT_RCOMP		(1U << 1)
#define GEM_INT_RXUBR		(1U << 2)	/* used bit read: ring full */
#define GEM_INT_TCOMP		(1U << 7)
#define GEM_INT_ROVR		(1U << 10)
#define GEM_INT_HRESP		(1U << 11)
#define GEM_INT_ALL		0x07ffffff

/* PHY maintenance (clause 22) */
#define GEM_MAN_SOF		(1U << 30)
#define GEM_MAN_READ		(2U << 28)
#define GEM_MAN_CODE		(2U << 16)
#define GEM_MAN_PHY(a)		((uint32_t)(a) << 23)
#define GEM_MAN_REG(r)		((uint32_t)(r) << 18)
#define MII_BMSR		1
#define MII_BMSR_LINK		(1U << 2)

/* Receive descriptor: word 0 address | wrap | owned-by-software. */
#define GEM_RX_OWN		(1U << 0)
#define GEM_RX_WRAP		(1U << 1)
#define GEM_RX_ADDR_MASK	(~3U)
#define GEM_RX_LEN_MASK		0x1fff
#define GEM_RX_SOF		(1U << 14)
#define GEM_RX_EOF		(1U << 15)

/* Transmit descriptor: word 1 length | last | wrap | used-by-software. */
#define GEM_TX_LEN_MASK		0x3fff
#define GEM_TX_LAST		(1U << 15)
#define GEM_TX_WRAP		(1U << 30)
#define GEM_TX_USED		(1U << 31)

struct gem_desc {
	volatile uint32_t addr;
	volatile uint32_t ctrl;
};

/* Version 1 state (drivers/net/cadence_gem.c). */
struct gem {
	struct object obj;
	uintptr_t base;
	uint32_t irq;
	uint32_t phy;			/* MDIO address of the PHY */
	uint32_t ctrl;			/* NWCTRL value in use */
	uint8_t mac[6];
	struct spinlock lock;
	struct gem_desc *rx, *tx;	/* rings */
	struct gem_desc *rx_dummy, *tx_dummy;
	uint8_t *rx_bufs, *tx_bufs;
	unsigned int rx_head;		/* next descriptor the device fills */
	unsigned int tx_head, tx_tail;	/* next to fill; oldest not taken back */
	struct netdev_stats stats;
};

#endif
