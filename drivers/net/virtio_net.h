/*
 * State of a virtio-net object (drivers/net/virtio_net.c), shared by the
 * built-in driver and its update modules (whose state transfers read
 * this layout).
 */
#ifndef DRIVERS_NET_VIRTIO_NET_H
#define DRIVERS_NET_VIRTIO_NET_H

#include <stddef.h>
#include <stdint.h>
#include <kernel/ott.h>
#include <kernel/netdev.h>
#include <kernel/spinlock.h>
#include "../virtio/virtio_mmio.h"

#define VNET_QSIZE	32		/* descriptors per queue (at most) */

/* A queue and its buffers: descriptor i always points at buffer i. */
struct vnet_queue {
	struct virtq vq;
	uint16_t nfree;			/* transmit: free descriptor ids */
	uint16_t free_ids[VNET_QSIZE];
	uint8_t *bufs;			/* vq.num * VNET_BUF */
	unsigned int bufs_order;
};

struct virtio_net {
	struct object obj;
	struct virtio_mmio vm;
	uint32_t irq;
	size_t hdr_len;
	uint8_t mac[6];
	struct spinlock lock;
	struct vnet_queue rx, tx;
	struct netdev_stats stats;
};

#endif
