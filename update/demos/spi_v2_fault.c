/*
 * Fault-matrix module: spi (sifive-spi, hifive-unleashed) 1 -> 2 in which
 * every method faults. The SPI NOR flash driver calls transfer() with its
 * own lock held and interrupts off; a `storage read` typed during probation
 * gets there: the call is unwound (the caller's lock kept), retried on
 * version 1, and the pack rolls back.
 */
#include <kernel/spi.h>
#include "drivers/spi/sifive_spi.h"
#include "dev_v2_faults.h"

static long v2_transfer(struct object *self, uint32_t cs, const struct spi_seg *segs,
			uint32_t nsegs)
{
	DEVFAULT(nsegs);
}
static long v2_stats(struct object *self, struct spi_stats *out) { DEVFAULT(0); }

static const struct spi_ops v2_ops = {
	.transfer = v2_transfer,
	.stats = v2_stats,
};

DEVFAULT_COPY(struct sifive_spi, "sifive-spi")
DEVFAULT_CLASS("spi", "sifive-spi", struct sifive_spi, struct spi_ops, v2_ops);
