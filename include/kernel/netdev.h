/*
 * The netdev class: a NIC as an object (virtio-net on qemu-virt, Cadence
 * GEM on the HiFive Unleashed), reached through the OTT like every driver,
 * so it can be updated live too. Drivers copy frames in and out of their
 * own DMA buffers; the network thread (src/net/netif.c) is their only
 * caller apart from their interrupt handler.
 */
#ifndef KERNEL_NETDEV_H
#define KERNEL_NETDEV_H

#include <stddef.h>
#include <stdint.h>
#include <kernel/ott.h>

struct netdev_stats {
	uint64_t rx_frames, tx_frames;
	uint64_t rx_dropped;	/* no buffer, or a frame the device marked bad */
	uint64_t tx_busy;	/* send() found the ring full */
	uint64_t irqs;
};

struct netdev_ops {
	/* Queues one frame (<= 1514 bytes, no FCS). 0, -KE_BUSY if the ring is full. */
	long (*send)(struct object *self, const void *frame, size_t len);
	/* Copies one received frame into @buf: its length, or -KE_NODATA. */
	long (*recv)(struct object *self, void *buf, size_t len);
	/* Device interrupt: acknowledges it, reclaims sent buffers. */
	long (*irq)(struct object *self);
	/* The MAC address, 6 bytes. */
	long (*mac)(struct object *self, uint8_t *out);
	long (*stats)(struct object *self, struct netdev_stats *out);
};

static inline long netdev_send(ott_ref_t r, const void *frame, size_t len)
{
	return OTT_CALL(r, struct netdev_ops, send, frame, len);
}

static inline long netdev_recv(ott_ref_t r, void *buf, size_t len)
{
	return OTT_CALL(r, struct netdev_ops, recv, buf, len);
}

static inline long netdev_irq(ott_ref_t r)
{
	return OTT_CALL(r, struct netdev_ops, irq);
}

static inline long netdev_mac(ott_ref_t r, uint8_t *out)
{
	return OTT_CALL(r, struct netdev_ops, mac, out);
}

static inline long netdev_stats(ott_ref_t r, struct netdev_stats *out)
{
	return OTT_CALL(r, struct netdev_ops, stats, out);
}

/*
 * Called by a driver when it binds a NIC (the first one becomes the
 * network's) and by its interrupt handler when frames arrived or buffers
 * were freed: wakes the network thread. Safe in interrupt context.
 */
void netdev_attach(ott_ref_t dev, uint32_t irq);
void netdev_notify(void);

#endif
