/*
 * The storage class: a region of persistent storage as an object, reached
 * through the OTT like every driver (so a storage driver can be updated
 * live too). virtio-blk on qemu-virt, SPI NOR flash on the HiFive boards.
 *
 * Every implementation offers NOR semantics, so the journal above it is
 * written once for all: `erase` sets whole erase blocks to 0xff, `program`
 * writes bytes into erased space (on NOR it can only clear bits), and a
 * caller never programs a byte twice between erases. A block device
 * emulates erase by writing 0xff and program by read-modify-write of its
 * sectors.
 *
 * Offsets are relative to the region the driver exposes (the devicetree
 * `ota-state` partition on flash, the whole disk for virtio-blk); a driver
 * refuses anything outside it with -KE_RANGE, so the kernel can never write
 * outside its region. Each call moves at most STORAGE_MAX_IO bytes so that
 * a method stays short (methods must not block: they poll their device).
 * `flush` returns once everything written before it is durable.
 */
#ifndef KERNEL_STORAGE_H
#define KERNEL_STORAGE_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <kernel/ott.h>

#define STORAGE_MAX_IO		(64 * 1024)

/* storage_info.flags */
#define STORAGE_F_NOR		(1U << 0)	/* program only clears bits */
#define STORAGE_F_READONLY	(1U << 1)	/* never written (a boot disk) */

struct storage_info {
	uint64_t size;		/* bytes of the region */
	uint64_t dev_offset;	/* where the region starts on the device (for logs) */
	uint32_t erase_size;	/* erase block, a power of two */
	uint32_t flags;
	char model[24];		/* "virtio-blk", "is25wp256", ... */
};

struct storage_stats {
	uint64_t reads, programs, erases, flushes;	/* calls */
	uint64_t read_bytes, program_bytes, erase_bytes;
	uint64_t errors;
};

struct storage_ops {
	long (*info)(struct object *self, struct storage_info *out);
	/* Reads @len <= STORAGE_MAX_IO bytes at @off. 0 or a negative code. */
	long (*read)(struct object *self, uint64_t off, void *buf, size_t len);
	/* Writes @len <= STORAGE_MAX_IO bytes at @off into erased space. */
	long (*program)(struct object *self, uint64_t off, const void *buf, size_t len);
	/* Erases [off, off + len): both multiples of erase_size, len <= STORAGE_MAX_IO. */
	long (*erase)(struct object *self, uint64_t off, size_t len);
	/* Makes everything written so far durable (virtio-blk FLUSH). */
	long (*flush)(struct object *self);
	long (*stats)(struct object *self, struct storage_stats *out);
};

static inline long storage_info(ott_ref_t r, struct storage_info *out)
{
	return OTT_CALL(r, struct storage_ops, info, out);
}

static inline long storage_read(ott_ref_t r, uint64_t off, void *buf, size_t len)
{
	return OTT_CALL(r, struct storage_ops, read, off, buf, len);
}

static inline long storage_program(ott_ref_t r, uint64_t off, const void *buf, size_t len)
{
	return OTT_CALL(r, struct storage_ops, program, off, buf, len);
}

static inline long storage_erase(ott_ref_t r, uint64_t off, size_t len)
{
	return OTT_CALL(r, struct storage_ops, erase, off, len);
}

static inline long storage_flush(ott_ref_t r)
{
	return OTT_CALL(r, struct storage_ops, flush);
}

static inline long storage_stats(ott_ref_t r, struct storage_stats *out)
{
	return OTT_CALL(r, struct storage_ops, stats, out);
}

/*
 * Called by a storage driver when it binds a writable region: the first one
 * becomes the state device the journal uses; later ones are logged and
 * ignored. Read-only devices are not attached.
 */
void storage_attach(ott_ref_t dev);

/* The state device; false if none was bound (the board runs volatile). */
bool storage_state_ref(ott_ref_t *out);

/*
 * Driver check (boot argument `storage=selftest`): erase, program and read
 * back the region's last erase block, then restore it. 0 or a negative code;
 * logs `storage: selftest ok|failed ...`.
 */
int storage_selftest(void);

/* Console `storage`: the state device, its geometry and counters. */
void storage_show(void);

/*
 * Console `storage <args>`: "" shows, `read <off> [len]`, `erase <off>` (one
 * erase block), `program <off> <text>`, `flush` act on the state device
 * directly (bring-up and tests; bypasses the journal).
 */
void storage_command(const char *args);

#endif
