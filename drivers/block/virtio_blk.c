/*
 * virtio-blk over virtio-mmio (QEMU virt), legacy or modern interface, as
 * an object of the storage class: the whole disk is the region. It backs
 * the journal on qemu-virt, so it offers the NOR semantics of storage.h:
 * erase writes 0xff over whole 4 KiB erase blocks, program writes the bytes
 * given, with a read-modify-write of the 512-byte sectors it only partly
 * covers. It does not enforce NOR's "program only clears bits": a caller
 * that programs a byte twice gets the second value, not the AND.
 *
 * One request at a time on one virtqueue (header, data, status
 * descriptors), data through a driver-owned bounce buffer, completion by
 * polling the used ring: the journal calls this at boot before threads
 * run, and no method may sleep. A request the device has not finished
 * within VBLK_TIMEOUT_US fails with -KE_TIMEDOUT and stays the device's
 * until it completes; every later call first waits for it again, so the
 * bounce buffer is never reused under the device's feet.
 *
 * FLUSH is negotiated when offered, and then flush() sends
 * VIRTIO_BLK_T_FLUSH; without it QEMU's cache is write-through and flush()
 * has nothing to do. A device offering RO is bound but marked
 * STORAGE_F_READONLY: program and erase refuse (-KE_PERM), nothing is ever
 * sent to it but reads (the U-Boot boot disk).
 *
 * Locking: vb->lock (a spinlock, interrupts off) is held for a whole
 * method, so callers on several harts are serialized; the device's
 * interrupt is not used.
 */
#include <string.h>
#include <kernel/storage.h>
#include <kernel/object.h>
#include <kernel/devtree.h>
#include <kernel/driver.h>
#include <kernel/mem.h>
#include <kernel/log.h>
#include <kernel/errno.h>
#include <kernel/spinlock.h>
#include <kernel/riscv.h>
#include <kernel/timer.h>
#include "virtio_blk.h"

#define VBLK_SECTOR		512		/* the unit of virtio-blk requests */
#define VBLK_ERASE		4096		/* emulated erase block */
#define VBLK_QSIZE		4		/* descriptors: one request of 3 */
#define VBLK_BOUNCE		STORAGE_MAX_IO	/* bytes moved per request at most */
#define VBLK_TIMEOUT_US		10000000ULL	/* a loaded host can stall QEMU for seconds */
#define VBLK_MAX		4		/* devices */

/* Feature bits (virtio 1.2, 5.2.3). */
#define VIRTIO_BLK_F_SIZE_MAX	1
#define VIRTIO_BLK_F_RO		5
#define VIRTIO_BLK_F_FLUSH	9

/* Configuration space offsets. */
#define VIRTIO_BLK_CFG_CAPACITY	0		/* le64, in 512-byte sectors */
#define VIRTIO_BLK_CFG_SIZE_MAX	8		/* le32, bytes per data descriptor */

/* Request types and status. */
#define VIRTIO_BLK_T_IN		0
#define VIRTIO_BLK_T_OUT	1
#define VIRTIO_BLK_T_FLUSH	4
#define VIRTIO_BLK_S_OK		0

/* --- requests (lock held) ------------------------------------------------------ */

/* Polls for the outstanding request; 0 once the device gave it back. */
static int vblk_wait(struct virtio_blk *vb)
{
	uint64_t start = rdtime();
	uint64_t limit = timer_us_to_ticks(VBLK_TIMEOUT_US);

	if (!limit)
		limit = VBLK_TIMEOUT_US * 10;	/* no timebase yet: 10 MHz, QEMU virt's */
	while (!virtq_has_used(&vb->vq)) {
		if (rdtime() - start > limit) {
			vb->pending = true;
			return -KE_TIMEDOUT;
		}
	}
	while (virtq_has_used(&vb->vq))
		virtq_pop_used(&vb->vq);
	vb->pending = false;
	return 0;
}

static void vblk_desc_set(struct vring_desc *d, const volatile void *addr, uint32_t len,
			  uint16_t flags, uint16_t next)
{
	d->addr = (uint64_t)(uintptr_t)addr;
	d->len = len;
	d->flags = flags;
	d->next = next;
}

/*
 * One request: @len bytes at @at in the bounce buffer (none for a flush)
 * to or from sector @sector. 0, -KE_TIMEDOUT, or -KE_IO when the device
 * says no.
 */
static int vblk_request(struct virtio_blk *vb, uint32_t type, uint64_t sector, uint32_t at,
			uint32_t len)
{
	struct vring_desc *desc = vb->vq.desc;
	int err;

	if (vb->pending && (err = vblk_wait(vb)))
		return err;
	vb->dma->hdr.type = type;
	vb->dma->hdr.reserved = 0;
	vb->dma->hdr.sector = sector;
	vb->dma->status = 0xff;
	vblk_desc_set(&desc[0], &vb->dma->hdr, sizeof(vb->dma->hdr), VRING_DESC_F_NEXT, len ? 1 : 2);
	if (len)
		vblk_desc_set(&desc[1], vb->bounce + at, len, VRING_DESC_F_NEXT |
			      (type == VIRTIO_BLK_T_IN ? VRING_DESC_F_WRITE : 0), 2);
	vblk_desc_set(&desc[2], &vb->dma->status, 1, VRING_DESC_F_WRITE, 0);
	virtq_post(&vb->vq, 0);
	virtq_kick(&vb->vm, &vb->vq);
	if ((err = vblk_wait(vb)))
		return err;
	return vb->dma->status == VIRTIO_BLK_S_OK ? 0 : -KE_IO;
}

/* --- byte ranges over sectors (lock held) ---------------------------------------- */

/* Bytes of the device the chunk at @off for @len bytes spans, from its first sector. */
static uint32_t vblk_chunk(const struct virtio_blk *vb, uint64_t off, size_t len)
{
	uint64_t head = off % VBLK_SECTOR;
	uint64_t span = (head + len + VBLK_SECTOR - 1) / VBLK_SECTOR * VBLK_SECTOR;

	return (uint32_t)(span < vb->max_xfer ? span : vb->max_xfer);
}

static int vblk_read_bytes(struct virtio_blk *vb, uint64_t off, uint8_t *dst, size_t len)
{
	while (len) {
		uint32_t head = (uint32_t)(off % VBLK_SECTOR);
		uint32_t chunk = vblk_chunk(vb, off, len);
		size_t n = chunk - head < len ? chunk - head : len;
		int err = vblk_request(vb, VIRTIO_BLK_T_IN, off / VBLK_SECTOR, 0, chunk);

		if (err)
			return err;
		memcpy(dst, vb->bounce + head, n);
		off += n;
		dst += n;
		len -= n;
	}
	return 0;
}

/*
 * Writes @src (NULL: 0xff) over [off, off + len). The sectors a chunk only
 * partly covers are read first, so the bytes around the range stay.
 */
static int vblk_write_bytes(struct virtio_blk *vb, uint64_t off, const uint8_t *src, size_t len)
{
	while (len) {
		uint64_t sector = off / VBLK_SECTOR;
		uint32_t head = (uint32_t)(off % VBLK_SECTOR);
		uint32_t chunk = vblk_chunk(vb, off, len);
		size_t n = chunk - head < len ? chunk - head : len;
		uint32_t last = chunk - VBLK_SECTOR;	/* the chunk's last sector */
		int err = 0;

		if (head)
			err = vblk_request(vb, VIRTIO_BLK_T_IN, sector, 0, VBLK_SECTOR);
		/* the tail sector, unless it is the head one just read */
		if (!err && (head + n) % VBLK_SECTOR && (!head || last))
			err = vblk_request(vb, VIRTIO_BLK_T_IN, sector + last / VBLK_SECTOR, last,
					   VBLK_SECTOR);
		if (err)
			return err;
		if (src)
			memcpy(vb->bounce + head, src, n);
		else
			memset(vb->bounce + head, 0xff, n);
		err = vblk_request(vb, VIRTIO_BLK_T_OUT, sector, 0, chunk);
		if (err)
			return err;
		off += n;
		len -= n;
		if (src)
			src += n;
	}
	return 0;
}

/* --- storage methods ------------------------------------------------------------ */

/* 0 if [off, off + len) is a call this region takes. */
static int vblk_check(const struct virtio_blk *vb, uint64_t off, size_t len)
{
	if (len > STORAGE_MAX_IO || off > vb->size || len > vb->size - off)
		return -KE_RANGE;
	return 0;
}

/* Counts the call's outcome; returns @err. Lock held. */
static long vblk_count(struct virtio_blk *vb, uint64_t *calls, uint64_t *bytes, size_t len,
		       int err)
{
	(*calls)++;
	if (err)
		vb->stats.errors++;
	else if (bytes)
		*bytes += len;
	return err;
}

static long virtio_blk_info(struct object *self, struct storage_info *out)
{
	struct virtio_blk *vb = (struct virtio_blk *)self;

	memset(out, 0, sizeof(*out));
	out->size = vb->size;
	out->dev_offset = 0;
	out->erase_size = VBLK_ERASE;
	out->flags = vb->ro ? STORAGE_F_READONLY : 0;
	strncpy(out->model, "virtio-blk", sizeof(out->model) - 1);
	return 0;
}

static long virtio_blk_read(struct object *self, uint64_t off, void *buf, size_t len)
{
	struct virtio_blk *vb = (struct virtio_blk *)self;
	int err = vblk_check(vb, off, len);
	long ret;

	spin_lock(&vb->lock);
	if (!err)
		err = vblk_read_bytes(vb, off, buf, len);
	ret = vblk_count(vb, &vb->stats.reads, &vb->stats.read_bytes, len, err);
	spin_unlock(&vb->lock);
	return ret;
}

static long virtio_blk_program(struct object *self, uint64_t off, const void *buf, size_t len)
{
	struct virtio_blk *vb = (struct virtio_blk *)self;
	int err = vb->ro ? -KE_PERM : vblk_check(vb, off, len);
	long ret;

	spin_lock(&vb->lock);
	if (!err)
		err = vblk_write_bytes(vb, off, buf, len);
	ret = vblk_count(vb, &vb->stats.programs, &vb->stats.program_bytes, len, err);
	spin_unlock(&vb->lock);
	return ret;
}

static long virtio_blk_erase(struct object *self, uint64_t off, size_t len)
{
	struct virtio_blk *vb = (struct virtio_blk *)self;
	int err = vb->ro ? -KE_PERM : vblk_check(vb, off, len);
	long ret;

	if (!err && (off % VBLK_ERASE || len % VBLK_ERASE))
		err = -KE_INVAL;
	spin_lock(&vb->lock);
	if (!err)
		err = vblk_write_bytes(vb, off, NULL, len);
	ret = vblk_count(vb, &vb->stats.erases, &vb->stats.erase_bytes, len, err);
	spin_unlock(&vb->lock);
	return ret;
}

/* Without FLUSH offered the device is write-through: nothing to do. */
static long virtio_blk_flush(struct object *self)
{
	struct virtio_blk *vb = (struct virtio_blk *)self;
	int err = 0;
	long ret;

	spin_lock(&vb->lock);
	if (vb->flush && !vb->ro)
		err = vblk_request(vb, VIRTIO_BLK_T_FLUSH, 0, 0, 0);
	ret = vblk_count(vb, &vb->stats.flushes, NULL, 0, err);
	spin_unlock(&vb->lock);
	return ret;
}

static long virtio_blk_stats(struct object *self, struct storage_stats *out)
{
	struct virtio_blk *vb = (struct virtio_blk *)self;

	spin_lock(&vb->lock);
	*out = vb->stats;
	spin_unlock(&vb->lock);
	return 0;
}

static const struct storage_ops virtio_blk_ops = {
	.info = virtio_blk_info,
	.read = virtio_blk_read,
	.program = virtio_blk_program,
	.erase = virtio_blk_erase,
	.flush = virtio_blk_flush,
	.stats = virtio_blk_stats,
};
CLASS_OPS_CHECK(struct storage_ops);

static const struct class virtio_blk_class = {
	.name = "storage",
	.impl = "virtio-blk",
	.version = 1,
	.iface_version = 1,
	.ops = &virtio_blk_ops,
	.nmethods = sizeof(struct storage_ops) / sizeof(void *),
	.state_size = sizeof(struct virtio_blk),
};

/* --- bring-up ---------------------------------------------------------------------- */

static void vblk_free(struct virtio_blk *vb)
{
	virtq_free(&vb->vq);
	if (vb->dma)
		page_free(vb->dma, 0);
	if (vb->bounce)
		page_free(vb->bounce, page_order_for(VBLK_BOUNCE));
	vb->dma = NULL;
	vb->bounce = NULL;
}

/* Geometry from the configuration space, once the features are settled. */
static void vblk_config_read(struct virtio_blk *vb, uint64_t features)
{
	uint64_t sectors = virtio_mmio_config64(&vb->vm, VIRTIO_BLK_CFG_CAPACITY);

	vb->capacity = sectors <= UINT64_MAX / VBLK_SECTOR ? sectors * VBLK_SECTOR : 0;
	vb->size = vb->capacity / VBLK_ERASE * VBLK_ERASE;
	vb->max_xfer = VBLK_BOUNCE;
	if (features & (1ULL << VIRTIO_BLK_F_SIZE_MAX)) {
		uint32_t m = virtio_mmio_config32(&vb->vm, VIRTIO_BLK_CFG_SIZE_MAX);

		m -= m % VBLK_SECTOR;
		if (m && m < vb->max_xfer)
			vb->max_xfer = m;
	}
	vb->flush = features & (1ULL << VIRTIO_BLK_F_FLUSH);
	vb->ro = features & (1ULL << VIRTIO_BLK_F_RO);
}

/* Reset, negotiate, queue and buffers, DRIVER_OK. */
static int vblk_device_init(struct virtio_blk *vb)
{
	uint64_t features;
	int err;

	err = virtio_mmio_start(&vb->vm, (1ULL << VIRTIO_BLK_F_SIZE_MAX) |
				(1ULL << VIRTIO_BLK_F_RO) | (1ULL << VIRTIO_BLK_F_FLUSH), &features);
	if (!err)
		err = virtq_setup(&vb->vm, &vb->vq, 0, VBLK_QSIZE);
	if (!err && vb->vq.num < 4)
		err = -KE_NOTSUP;	/* a request needs 3 descriptors; num is a power of 2 */
	if (!err) {
		vb->dma = page_alloc(0);
		vb->bounce = page_alloc(page_order_for(VBLK_BOUNCE));
		if (!vb->dma || !vb->bounce)
			err = -KE_NOMEM;
	}
	if (err) {
		virtio_mmio_fail(&vb->vm);
		vblk_free(vb);
		return err;
	}
	vblk_config_read(vb, features);
	if (vb->size < VBLK_ERASE) {
		virtio_mmio_fail(&vb->vm);
		vblk_free(vb);
		return -KE_RANGE;	/* not one erase block */
	}
	virtio_mmio_ready(&vb->vm);
	return 0;
}

static struct factory virtio_blk_factory;
static struct virtio_blk vblks[VBLK_MAX];
static int nvblks;

static int virtio_blk_probe(const void *fdt, int node, int match)
{
	struct virtio_mmio vm;
	struct virtio_blk *vb;
	ott_ref_t ref;
	int err;

	/* An empty slot or another kind of virtio device: not ours, quietly. */
	err = virtio_mmio_match(fdt, node, VIRTIO_ID_BLOCK, &vm);
	if (err)
		return err > 0 ? 0 : err;
	if (nvblks >= VBLK_MAX)
		return -KE_NOSPC;
	vb = &vblks[nvblks];
	vb->vm = vm;
	spin_init(&vb->lock, "virtio-blk");
	if ((err = vblk_device_init(vb)))
		return err;
	err = driver_publish(&virtio_blk_factory, &virtio_blk_class, &vb->obj, &ref);
	if (err) {
		virtio_mmio_reset(&vb->vm);	/* the device lets go of the ring */
		vblk_free(vb);
		return err;
	}
	nvblks++;
	/* Without FLUSH the device must not cache writes: it is write-through. */
	klog("virtio-blk", "bound base=%#lx %s capacity=%lu flush=%d ro=%d cache=%s",
	     (unsigned long)vm.base, vm.version == 1 ? "legacy" : "modern",
	     (unsigned long)vb->capacity, vb->flush, vb->ro,
	     vb->flush ? "write-back" : "write-through");
	storage_attach(ref);
	return 0;
}

static const char *const virtio_blk_compat[] = { "virtio,mmio", NULL };

DRIVER_DECLARE(6, virtio_blk_driver) = {
	.name = "virtio-blk",
	.compatible = virtio_blk_compat,
	.probe = virtio_blk_probe,
};
