/*
 * State of a SiFive SPI controller object (drivers/spi/sifive_spi.c),
 * shared by the built-in driver and its update modules (whose state
 * transfers read this layout).
 */
#ifndef DRIVERS_SPI_SIFIVE_SPI_H
#define DRIVERS_SPI_SIFIVE_SPI_H

#include <stdint.h>
#include <kernel/ott.h>
#include <kernel/spi.h>
#include <kernel/spinlock.h>

struct sifive_spi {
	struct object obj;
	uintptr_t base;
	uint32_t ncs;			/* chip selects the controller has */
	struct spinlock lock;
	struct spi_stats stats;
};

#endif
