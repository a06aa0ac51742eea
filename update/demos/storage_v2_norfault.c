/*
 * Fault-matrix module: storage (spi-nor, hifive-unleashed) 1 -> 2 in which
 * every method faults. A `storage read` typed during probation reaches it
 * on the shell's thread (so would a journal write): the call is unwound,
 * retried on version 1, which reads the flash, and the pack rolls back;
 * the journal's record of the outcome is written after the rollback, on
 * version 1.
 */
#include <kernel/storage.h>
#include "drivers/mtd/spi_nor.h"
#include "dev_v2_faults.h"

static long v2_info(struct object *self, struct storage_info *out) { DEVFAULT(0); }
static long v2_read(struct object *self, uint64_t off, void *buf, size_t len) { DEVFAULT(len); }
static long v2_program(struct object *self, uint64_t off, const void *buf, size_t len)
{
	DEVFAULT(len);
}
static long v2_erase(struct object *self, uint64_t off, size_t len) { DEVFAULT(len); }
static long v2_flush(struct object *self) { DEVFAULT(0); }
static long v2_stats(struct object *self, struct storage_stats *out) { DEVFAULT(0); }

static const struct storage_ops v2_ops = {
	.info = v2_info,
	.read = v2_read,
	.program = v2_program,
	.erase = v2_erase,
	.flush = v2_flush,
	.stats = v2_stats,
};

DEVFAULT_COPY(struct spi_nor, "spi-nor")
DEVFAULT_CLASS("storage", "spi-nor", struct spi_nor, struct storage_ops, v2_ops);
