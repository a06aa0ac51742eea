/*
 * SPI NOR flash (jedec,spi-nor: the is25wp256 of the HiFive Unleashed and
 * Unmatched, and of QEMU sifive_u) as an object of the storage class, over
 * an spi-class controller it reaches through the OTT.
 *
 * Only parts in nor_parts[] are used: the JEDEC ID (0x9f) names the part;
 * an unknown one is refused, and one that reads all ones or all zeros is
 * no flash at all. Commands are single-bit: fast read (8 dummy clocks),
 * page program (256-byte pages; a write is split at page boundaries),
 * 4 KiB sector erase, each preceded by write enable (checked in the status
 * register, so a write-protected chip fails loudly) and followed by
 * polling WIP with a timeout.
 * Addresses are 4 bytes, sent with the dedicated 4-byte opcodes (0x0c,
 * 0x12, 0x21) instead of switching the chip to 4-byte mode (0xb7): the
 * mode is state in the chip that outlives the kernel, and a boot ROM or
 * SPL that reads with 3-byte commands after a warm reset would then read
 * garbage. The opcodes leave the chip as firmware left it.
 *
 * The region: the `ota-state` partition of the node's fixed-partitions,
 * else the part's default region (docs/boot.md: clear of the boot loaders
 * and of the backup GPT on the Unmatched's flash), refused if it overlaps
 * a partition the devicetree declares. Everything outside the region is
 * refused with -KE_RANGE before any command goes out.
 *
 * Locking: nor->lock (interrupts off) is held only for short command
 * sequences (status read + write enable + command, or one read chunk of
 * NOR_READ_CHUNK bytes) and guards the counters. While the chip is busy
 * programming or erasing, the caller polls the status with the lock
 * dropped between polls, so interrupts stay on through a sector erase.
 */
#include <string.h>
#include <kernel/storage.h>
#include <kernel/spi.h>
#include <kernel/object.h>
#include <kernel/devtree.h>
#include <kernel/driver.h>
#include <kernel/log.h>
#include <kernel/errno.h>
#include <kernel/spinlock.h>
#include <kernel/timer.h>
#include <kernel/riscv.h>
#include <libfdt.h>
#include "spi_nor.h"

#define OP_RDID		0x9f
#define OP_RDSR		0x05
#define OP_WREN		0x06
#define OP_FAST_READ4	0x0c	/* 4-byte address, 8 dummy clocks */
#define OP_PP4		0x12	/* page program, 4-byte address */
#define OP_SE4		0x21	/* 4 KiB sector erase, 4-byte address */
#define SR_WIP		0x01
#define SR_WEL		0x02

#define NOR_PAGE	256
#define NOR_SECTOR	4096
#define NOR_READ_CHUNK	4096		/* bytes per read transfer */
#define NOR_PROGRAM_US	20000		/* is25wp256: 0.8 ms max per page */
#define NOR_ERASE_US	1000000		/* is25wp256: 300 ms max per 4 KiB */
#define NOR_MAX_DEV	2
#define MIB		(1024ULL * 1024)

struct nor_part {
	uint32_t id;			/* manufacturer << 16 | type << 8 | capacity */
	const char *model;
	uint64_t size;
	uint8_t bp_mask;		/* block-protect bits of the status register */
	uint64_t def_offset, def_size;	/* region when the devicetree names none */
};

static const struct nor_part nor_parts[] = {
	/*
	 * HiFive Unleashed and Unmatched. Default region: the upper half but
	 * its last 64 KiB, which hold the backup GPT of the flash layout in
	 * U-Boot's Unmatched documentation (docs/boot.md).
	 */
	{ 0x9d7019, "is25wp256", 32 * MIB, 0x3c, 16 * MIB, 16 * MIB - 64 * 1024 },
};

/* One command: opcode, optional 4-byte address and dummy bytes, then data. */
static int nor_cmd(struct spi_nor *n, uint8_t op, int64_t addr, unsigned int dummy,
		   const uint8_t *tx, uint8_t *rx, uint32_t len)
{
	uint8_t hdr[8];
	uint32_t h = 0;
	struct spi_seg seg[2];

	if (dummy > 3)
		return -KE_INVAL;
	hdr[h++] = op;
	if (addr >= 0) {
		for (int shift = 24; shift >= 0; shift -= 8)
			hdr[h++] = (uint8_t)(addr >> shift);
	}
	while (dummy-- > 0)
		hdr[h++] = 0;
	seg[0] = (struct spi_seg){ hdr, NULL, h };
	seg[1] = (struct spi_seg){ tx, rx, len };
	return (int)spi_transfer(n->bus, n->cs, seg, len ? 2 : 1);
}

static int nor_rdsr(struct spi_nor *n, uint8_t *sr)
{
	return nor_cmd(n, OP_RDSR, -1, 0, NULL, sr, 1);
}

static uint64_t nor_deadline(uint64_t us)
{
	uint64_t t = timer_us_to_ticks(us);

	return rdtime() + (t ? t : us * 10);
}

/*
 * Returns 0 with nor->lock held once the chip is idle (WIP clear), else a
 * negative code without the lock. The lock is dropped between polls.
 */
static int nor_lock_idle(struct spi_nor *n, uint64_t timeout_us)
{
	uint64_t deadline = nor_deadline(timeout_us);
	uint8_t sr;
	int err;

	for (;;) {
		spin_lock(&n->lock);
		err = nor_rdsr(n, &sr);
		if (!err && !(sr & SR_WIP))
			return 0;
		spin_unlock(&n->lock);
		if (err)
			return err;
		if (rdtime() > deadline)
			return -KE_TIMEDOUT;
	}
}

static int nor_wait_idle(struct spi_nor *n, uint64_t timeout_us)
{
	int err = nor_lock_idle(n, timeout_us);

	if (!err)
		spin_unlock(&n->lock);
	return err;
}

/* Lock held, chip idle. WEL not latching means the chip is write-protected. */
static int nor_write_enable(struct spi_nor *n)
{
	uint8_t sr = 0;
	int err = nor_cmd(n, OP_WREN, -1, 0, NULL, NULL, 0);

	if (!err)
		err = nor_rdsr(n, &sr);
	return err ? err : (sr & SR_WEL) ? 0 : -KE_IO;
}

/* Program or erase at absolute @addr; returns once the chip is done. */
static int nor_write_op(struct spi_nor *n, uint8_t op, uint64_t addr, const uint8_t *data,
			uint32_t len, uint64_t timeout_us)
{
	int err = nor_lock_idle(n, NOR_ERASE_US);

	if (err)
		return err;
	err = nor_write_enable(n);
	if (!err)
		err = nor_cmd(n, op, (int64_t)addr, 0, data, NULL, len);
	spin_unlock(&n->lock);
	return err ? err : nor_wait_idle(n, timeout_us);
}

static int nor_read_chunk(struct spi_nor *n, uint64_t addr, uint8_t *buf, uint32_t len)
{
	int err = nor_lock_idle(n, NOR_ERASE_US);

	if (err)
		return err;
	err = nor_cmd(n, OP_FAST_READ4, (int64_t)addr, 1, NULL, buf, len);
	spin_unlock(&n->lock);
	return err;
}

/* The region check every method makes before any command goes out. */
static int nor_range(const struct spi_nor *n, uint64_t off, size_t len)
{
	if (len > STORAGE_MAX_IO || off > n->size || len > n->size - off)
		return -KE_RANGE;
	return 0;
}

/* The same for program and erase, which a read-only region refuses. */
static int nor_write_range(const struct spi_nor *n, uint64_t off, size_t len)
{
	return (n->flags & STORAGE_F_READONLY) ? -KE_PERM : nor_range(n, off, len);
}

/* Counts every call, refused ones as errors (as virtio-blk does). */
static void nor_account(struct spi_nor *n, uint64_t *calls, uint64_t *bytes, size_t len, int err)
{
	spin_lock(&n->lock);
	(*calls)++;
	if (bytes && !err)
		*bytes += len;
	if (err)
		n->stats.errors++;
	spin_unlock(&n->lock);
}

static long spi_nor_info(struct object *self, struct storage_info *out)
{
	struct spi_nor *n = (struct spi_nor *)self;

	if (!out)
		return -KE_INVAL;
	memset(out, 0, sizeof(*out));
	out->size = n->size;
	out->dev_offset = n->base;
	out->erase_size = NOR_SECTOR;
	out->flags = n->flags;
	strncpy(out->model, n->part->model, sizeof(out->model) - 1);
	return 0;
}

static long spi_nor_read(struct object *self, uint64_t off, void *buf, size_t len)
{
	struct spi_nor *n = (struct spi_nor *)self;
	int err = !buf && len ? -KE_INVAL : nor_range(n, off, len);
	uint32_t chunk;

	for (size_t done = 0; !err && done < len; done += chunk) {
		chunk = (uint32_t)(len - done < NOR_READ_CHUNK ? len - done : NOR_READ_CHUNK);
		err = nor_read_chunk(n, n->base + off + done, (uint8_t *)buf + done, chunk);
	}
	nor_account(n, &n->stats.reads, &n->stats.read_bytes, len, err);
	return err;
}

static long spi_nor_program(struct object *self, uint64_t off, const void *buf, size_t len)
{
	struct spi_nor *n = (struct spi_nor *)self;
	int err = !buf && len ? -KE_INVAL : nor_write_range(n, off, len);
	uint64_t addr;
	uint32_t chunk;

	for (size_t done = 0; !err && done < len; done += chunk) {
		addr = n->base + off + done;
		chunk = NOR_PAGE - (uint32_t)(addr % NOR_PAGE);
		if (chunk > len - done)
			chunk = (uint32_t)(len - done);
		err = nor_write_op(n, OP_PP4, addr, (const uint8_t *)buf + done, chunk,
				   NOR_PROGRAM_US);
	}
	nor_account(n, &n->stats.programs, &n->stats.program_bytes, len, err);
	return err;
}

static long spi_nor_erase(struct object *self, uint64_t off, size_t len)
{
	struct spi_nor *n = (struct spi_nor *)self;
	int err = nor_write_range(n, off, len);

	if (!err && (off % NOR_SECTOR || len % NOR_SECTOR))
		err = -KE_INVAL;
	for (size_t done = 0; !err && done < len; done += NOR_SECTOR)
		err = nor_write_op(n, OP_SE4, n->base + off + done, NULL, 0, NOR_ERASE_US);
	nor_account(n, &n->stats.erases, &n->stats.erase_bytes, len, err);
	return err;
}

/* Every program and erase already waited for WIP; this makes sure of it. */
static long spi_nor_flush(struct object *self)
{
	struct spi_nor *n = (struct spi_nor *)self;
	int err = nor_wait_idle(n, NOR_ERASE_US);

	nor_account(n, &n->stats.flushes, NULL, 0, err);
	return err;
}

static long spi_nor_stats(struct object *self, struct storage_stats *out)
{
	struct spi_nor *n = (struct spi_nor *)self;

	if (!out)
		return -KE_INVAL;
	spin_lock(&n->lock);
	*out = n->stats;
	spin_unlock(&n->lock);
	return 0;
}

static const struct storage_ops spi_nor_ops = {
	.info = spi_nor_info,
	.read = spi_nor_read,
	.program = spi_nor_program,
	.erase = spi_nor_erase,
	.flush = spi_nor_flush,
	.stats = spi_nor_stats,
};
CLASS_OPS_CHECK(struct storage_ops);

static const struct class spi_nor_class = {
	.name = "storage",
	.impl = "spi-nor",
	.version = 1,
	.iface_version = 1,
	.ops = &spi_nor_ops,
	.nmethods = CLASS_NMETHODS(struct storage_ops),
	.state_size = sizeof(struct spi_nor),
};

static const struct nor_part *nor_part_find(uint32_t id)
{
	for (size_t i = 0; i < sizeof(nor_parts) / sizeof(nor_parts[0]); i++)
		if (nor_parts[i].id == id)
			return &nor_parts[i];
	return NULL;
}

/* Name of a partition node for log lines: its label, else its node name. */
static const char *nor_part_name(const void *fdt, int node)
{
	const char *s = fdt_getprop(fdt, node, "label", NULL);

	return s ? s : fdt_get_name(fdt, node, NULL);
}

/* Picks the region; *source says where it came from. */
static int nor_region(struct spi_nor *n, const void *fdt, int node, const char **source)
{
	const struct nor_part *p = n->part;
	struct dt_partition dp;
	int err, other;

	err = dt_partition_by_label(fdt, node, "ota-state", p->size, &dp);
	if (!err) {
		if (dp.offset % NOR_SECTOR || dp.size % NOR_SECTOR) {
			klog("spi-nor", "ota-state partition %#lx+%#lx is not 4 KiB aligned: not bound",
			     (unsigned long)dp.offset, (unsigned long)dp.size);
			return -KE_INVAL;
		}
		n->base = dp.offset;
		n->size = dp.size;
		if (dp.read_only)
			n->flags |= STORAGE_F_READONLY;
		*source = "ota-state";
		return 0;
	}
	if (err != -KE_NOENT) {
		klog("spi-nor", "ota-state partition unusable err=%s: not bound", err_name(err));
		return err;
	}
	err = dt_partition_overlap(fdt, node, p->size, p->def_offset, p->def_size, &other);
	if (err) {
		if (err > 0)
			klog("spi-nor", "default region %#lx+%#lx overlaps partition %s: not bound "
			     "(label one `ota-state`)", (unsigned long)p->def_offset,
			     (unsigned long)p->def_size, nor_part_name(fdt, other));
		else
			klog("spi-nor", "partitions unusable err=%s: not bound", err_name(err));
		return err > 0 ? -KE_EXIST : err;
	}
	n->base = p->def_offset;
	n->size = p->def_size;
	*source = "default";
	return 0;
}

/* Reads the JEDEC ID and finds the part; logs why when there is none. */
static int nor_identify(struct spi_nor *n, uint64_t busbase, uint32_t *idp)
{
	uint8_t id[3];
	uint32_t v;
	int err = nor_cmd(n, OP_RDID, -1, 0, NULL, id, sizeof(id));

	if (err) {
		klog("spi-nor", "id read failed bus=%#lx cs=%u err=%s: not bound",
		     (unsigned long)busbase, n->cs, err_name(err));
		return err;
	}
	v = (uint32_t)id[0] << 16 | (uint32_t)id[1] << 8 | id[2];
	*idp = v;
	if (v == 0 || v == 0xffffff) {
		klog("spi-nor", "no flash answered id=%06x bus=%#lx cs=%u: not bound", v,
		     (unsigned long)busbase, n->cs);
		return -KE_NODEV;
	}
	n->part = nor_part_find(v);
	if (!n->part) {
		klog("spi-nor", "unknown flash id=%06x bus=%#lx cs=%u: not bound (only listed parts "
		     "are written)", v, (unsigned long)busbase, n->cs);
		return -KE_NOTSUP;
	}
	return 0;
}

static struct factory spi_nor_factory;
static struct spi_nor nors[NOR_MAX_DEV];
static unsigned int nnors;

static int spi_nor_setup(struct spi_nor *n, const void *fdt, int node, uint64_t busbase)
{
	const char *source;
	uint32_t id;
	uint8_t sr = 0;
	ott_ref_t ref;
	int err;

	if ((err = nor_identify(n, busbase, &id)) || (err = nor_region(n, fdt, node, &source)))
		return err;
	if ((err = nor_wait_idle(n, NOR_ERASE_US)) || (err = nor_rdsr(n, &sr)))
		return err;
	if (sr & n->part->bp_mask) {
		klog("spi-nor", "block protection set sr=%#x: region read-only", sr);
		n->flags |= STORAGE_F_READONLY;
	}
	n->flags |= STORAGE_F_NOR;
	if ((err = driver_publish(&spi_nor_factory, &spi_nor_class, &n->obj, &ref)))
		return err;
	klog("spi-nor", "bound id=%06x model=%s size=%lu region=%#lx+%#lx source=%s bus=%#lx cs=%u "
	     "addr=4byte-opcodes ro=%d", id, n->part->model, (unsigned long)n->part->size,
	     (unsigned long)n->base, (unsigned long)n->size, source, (unsigned long)busbase, n->cs,
	     (n->flags & STORAGE_F_READONLY) ? 1 : 0);
	storage_attach(ref);
	return 0;
}

static int spi_nor_probe(const void *fdt, int node, int match)
{
	struct spi_nor *n;
	uint64_t cs, busbase = 0;
	int parent = fdt_parent_offset(fdt, node), err;
	ott_ref_t bus;

	if (nnors >= NOR_MAX_DEV)
		return -KE_NOSPC;
	if (parent < 0)
		return -KE_INVAL;
	dt_reg(fdt, parent, 0, &busbase, NULL);
	if (spi_bus_find(parent, &bus)) {
		klog("spi-nor", "no spi controller bound at %#lx: not bound", (unsigned long)busbase);
		return -KE_NODEV;
	}
	if ((err = dt_reg(fdt, node, 0, &cs, NULL)))
		return err;
	if (cs > 31)
		return -KE_RANGE;
	n = &nors[nnors];
	memset(n, 0, sizeof(*n));
	n->bus = bus;
	n->cs = (uint32_t)cs;
	spin_init(&n->lock, "spi-nor");
	if ((err = spi_nor_setup(n, fdt, node, busbase)))
		return err;
	nnors++;
	return 0;
}

static const char *const spi_nor_compat[] = { "jedec,spi-nor", NULL };

/* Rank 7: after the SPI controllers (6) it sits behind. */
DRIVER_DECLARE(7, spi_nor_driver) = {
	.name = "jedec,spi-nor",
	.compatible = spi_nor_compat,
	.probe = spi_nor_probe,
};
