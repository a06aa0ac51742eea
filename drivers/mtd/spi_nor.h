/*
 * State of an SPI NOR object (drivers/mtd/spi_nor.c), shared by the
 * built-in driver and its update modules (whose state transfers read this
 * layout).
 */
#ifndef DRIVERS_MTD_SPI_NOR_H
#define DRIVERS_MTD_SPI_NOR_H

#include <stdint.h>
#include <kernel/ott.h>
#include <kernel/storage.h>
#include <kernel/spinlock.h>

struct nor_part;

struct spi_nor {
	struct object obj;
	ott_ref_t bus;
	uint32_t cs;
	const struct nor_part *part;
	uint64_t base, size;		/* the region on the flash */
	uint32_t flags;			/* STORAGE_F_* */
	struct spinlock lock;
	struct storage_stats stats;
};

#endif
