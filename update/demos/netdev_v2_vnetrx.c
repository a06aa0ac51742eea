/*
 * Fault-matrix module: netdev (virtio-net, qemu-virt) 1 -> 2 whose recv()
 * and send() fault, on the network thread; irq(), mac() and stats() work
 * (version 1's, on this state). A frame received during probation: the
 * interrupt handler runs fine and wakes the network thread, whose recv()
 * faults, is unwound and retried on version 1 (the frame is taken and
 * answered), and the pack rolls back.
 */
#include <kernel/netdev.h>
#include "drivers/net/virtio_net.h"
#include "dev_v2_faults.h"

static long v2_send(struct object *self, const void *frame, size_t len) { DEVFAULT(len); }
static long v2_recv(struct object *self, void *buf, size_t len) { DEVFAULT(len); }

static long v2_irq(struct object *self)
{
	return DEVFAULT_V1(self, struct netdev_ops)->irq(self);
}

static long v2_mac(struct object *self, uint8_t *out)
{
	return DEVFAULT_V1(self, struct netdev_ops)->mac(self, out);
}

static long v2_stats(struct object *self, struct netdev_stats *out)
{
	return DEVFAULT_V1(self, struct netdev_ops)->stats(self, out);
}

static const struct netdev_ops v2_ops = {
	.send = v2_send,
	.recv = v2_recv,
	.irq = v2_irq,
	.mac = v2_mac,
	.stats = v2_stats,
};

DEVFAULT_COPY(struct virtio_net, "virtio-net")
DEVFAULT_CLASS("netdev", "virtio-net", struct virtio_net, struct netdev_ops, v2_ops);
