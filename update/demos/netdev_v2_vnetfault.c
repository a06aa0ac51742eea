/*
 * Fault-matrix module: netdev (virtio-net, qemu-virt) 1 -> 2 in which
 * every method faults. The first frame received during probation reaches
 * it: irq() in the device's interrupt handler or recv() on the network
 * thread; each call is unwound and retried on version 1, so the frame is
 * taken and answered, and the pack rolls back.
 */
#include <kernel/netdev.h>
#include "drivers/net/virtio_net.h"
#include "dev_v2_faults.h"

static long v2_send(struct object *self, const void *frame, size_t len) { DEVFAULT(len); }
static long v2_recv(struct object *self, void *buf, size_t len) { DEVFAULT(len); }
static long v2_irq(struct object *self) { DEVFAULT(0); }
static long v2_mac(struct object *self, uint8_t *out) { DEVFAULT(0); }
static long v2_stats(struct object *self, struct netdev_stats *out) { DEVFAULT(0); }

static const struct netdev_ops v2_ops = {
	.send = v2_send,
	.recv = v2_recv,
	.irq = v2_irq,
	.mac = v2_mac,
	.stats = v2_stats,
};

DEVFAULT_COPY(struct virtio_net, "virtio-net")
DEVFAULT_CLASS("netdev", "virtio-net", struct virtio_net, struct netdev_ops, v2_ops);
