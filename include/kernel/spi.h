/*
 * The spi class: an SPI controller as an object (sifive,spi0 on the HiFive
 * boards), reached through the OTT like every driver, so that it can be
 * updated live too. Its clients are the drivers of the devices on its bus
 * (the jedec,spi-nor flash), which hold an ott_ref to it.
 *
 * One call is one transaction: chip select @cs asserted, the segments
 * clocked in order (each sends its tx bytes, or zeros when tx is NULL, and
 * keeps what comes back in rx unless rx is NULL), chip select released.
 * A command with an address and then data is one transfer of two segments,
 * so no caller has to copy its data behind a header. The controller is
 * held (interrupts off) for the whole transfer: callers keep transfers
 * short (SPI_MAX_XFER bytes at most) and poll slow devices with several.
 * A device that stops clocking makes the call fail with -KE_TIMEDOUT.
 */
#ifndef KERNEL_SPI_H
#define KERNEL_SPI_H

#include <stddef.h>
#include <stdint.h>
#include <kernel/ott.h>

#define SPI_MAX_SEGS	4
#define SPI_MAX_XFER	(8 * 1024)	/* bytes of one transfer, all segments */

struct spi_seg {
	const uint8_t *tx;	/* bytes to send; NULL: zeros */
	uint8_t *rx;		/* received bytes; NULL: dropped */
	uint32_t len;
};

struct spi_stats {
	uint64_t transfers, bytes;
	uint64_t timeouts;
};

struct spi_ops {
	/* One transaction on chip select @cs. 0 or a negative code. */
	long (*transfer)(struct object *self, uint32_t cs, const struct spi_seg *segs,
			 uint32_t nsegs);
	long (*stats)(struct object *self, struct spi_stats *out);
};

static inline long spi_transfer(ott_ref_t r, uint32_t cs, const struct spi_seg *segs,
				uint32_t nsegs)
{
	return OTT_CALL(r, struct spi_ops, transfer, cs, segs, nsegs);
}

static inline long spi_stats(ott_ref_t r, struct spi_stats *out)
{
	return OTT_CALL(r, struct spi_ops, stats, out);
}

/*
 * Bus registry, so that a device driver finds the controller its node sits
 * under. Controllers register at probe (boot hart, before other harts
 * start: no lock); device drivers probe later (a higher driver rank).
 * @node is the controller's offset in the kernel's devicetree copy.
 */
int spi_bus_register(int node, ott_ref_t bus);

/* The controller bound to devicetree node @node: 0, or -KE_NODEV. */
int spi_bus_find(int node, ott_ref_t *bus);

#endif
