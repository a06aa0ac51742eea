/*
 * State of a virtio-blk object (drivers/block/virtio_blk.c), shared by
 * the built-in driver and its update modules (whose state transfers read
 * this layout).
 */
#ifndef DRIVERS_BLOCK_VIRTIO_BLK_H
#define DRIVERS_BLOCK_VIRTIO_BLK_H

#include <stdint.h>
#include <stdbool.h>
#include <kernel/ott.h>
#include <kernel/storage.h>
#include <kernel/spinlock.h>
#include "../virtio/virtio_mmio.h"

struct vblk_req_hdr {
	uint32_t type;
	uint32_t reserved;
	uint64_t sector;
};

/* What the device reads and writes besides data: one page. */
struct vblk_dma {
	struct vblk_req_hdr hdr;
	volatile uint8_t status;
};

struct virtio_blk {
	struct object obj;
	struct virtio_mmio vm;
	struct spinlock lock;
	struct virtq vq;
	struct vblk_dma *dma;
	uint8_t *bounce;		/* VBLK_BOUNCE bytes */
	uint64_t capacity;		/* bytes of the disk */
	uint64_t size;			/* bytes of the region: whole erase blocks */
	uint32_t max_xfer;		/* data bytes per request, sectors */
	bool flush, ro;
	bool pending;			/* a timed-out request the device still owns */
	struct storage_stats stats;
};

#endif
