/*
 * Storage models for the journal's host tests, in the spirit of MCUboot's
 * simulator: a flash or disk image in memory that counts every write,
 * erase and flush, and cuts the power at operation number N.
 *
 *  - NOR: erase sets a block to 0xff, program only clears bits (a program
 *    that would need to set a bit is counted as a violation), nothing is
 *    cached. A cut during a program leaves a random prefix programmed and
 *    one byte half done; a cut during an erase leaves each byte either
 *    erased or garbage.
 *  - DISK: plain writes into a volatile write cache; flush makes them
 *    durable. A cut keeps a random subset of the unflushed writes, sector
 *    by sector (512 bytes), in any order, and half of the one in progress.
 *
 * After a cut every operation fails until sim_power_on().
 */
#ifndef UNIT_JOURNAL_SIM_H
#define UNIT_JOURNAL_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <kernel/journal.h>

enum sim_kind { SIM_NOR, SIM_DISK };

struct sim_write {
	uint64_t off;
	size_t len;
	uint8_t *data;
};

struct sim {
	enum sim_kind kind;
	uint8_t *mem;		/* what reads see */
	uint8_t *durable;	/* DISK: what survives a cut */
	size_t size;
	uint32_t esz;
	long ops;		/* programs + erases + flushes so far */
	long cut_at;		/* cut at this operation number (0: never) */
	bool dead;
	unsigned int seed;
	long violations;	/* NOR: programs that needed to set a bit */
	struct sim_write *pending;	/* DISK: unflushed writes */
	size_t npending, cap;
	struct journal_dev dev;
};

void sim_init(struct sim *s, enum sim_kind kind, size_t size, uint32_t esz, unsigned int seed);
void sim_free(struct sim *s);
/* Copies of the durable image, to restart a scenario from the same point. */
uint8_t *sim_snapshot(const struct sim *s);
void sim_restore(struct sim *s, const uint8_t *snap);
/* Power comes back: the cache is gone, operations work again. */
void sim_power_on(struct sim *s);
/* Cuts the power at the @n-th operation from now. */
void sim_cut_after(struct sim *s, long n);
unsigned int sim_rand(struct sim *s);

#endif
