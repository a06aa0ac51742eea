/*
 * virtio-net over virtio-mmio (QEMU virt): one receive and one transmit
 * split virtqueue, legacy or modern interface (the transport, shared with
 * virtio-blk, is drivers/virtio/virtio_mmio.c). Only VIRTIO_NET_F_MAC is
 * negotiated: no offloads and no mergeable buffers, so the header in front
 * of each frame is 10 bytes (legacy) or 12 (modern), and is sent zeroed.
 *
 * Receive: VNET_QSIZE buffers of VNET_BUF bytes are posted at probe;
 * recv() copies one used buffer out and posts it again. Transmit: send()
 * copies the frame into a free buffer; used ones are reclaimed by irq()
 * (and by send() itself when it runs short).
 *
 * Locking: vn->lock (interrupts off while held) guards both rings and the
 * counters: send/recv run on the network thread, irq on the boot hart.
 */
#include <string.h>
#include <kernel/netdev.h>
#include <kernel/object.h>
#include <kernel/devtree.h>
#include <kernel/driver.h>
#include <kernel/mem.h>
#include <kernel/log.h>
#include <kernel/errno.h>
#include <kernel/spinlock.h>
#include "virtio_net.h"

#define VNET_BUF	2048		/* bytes per buffer: header + frame */
#define VNET_FRAME_MAX	1514		/* Ethernet header + MTU, no FCS */
#define VNET_RXQ	0
#define VNET_TXQ	1
#define VNET_MAX	4		/* devices */

/* Feature bits. */
#define VIRTIO_NET_F_MAC		5

/*
 * The header in front of every frame: 10 bytes for a legacy device
 * without VIRTIO_NET_F_MRG_RXBUF, 12 (num_buffers added) with VERSION_1.
 * No offloads are negotiated, so the driver sends it zeroed.
 */
#define VIRTIO_NET_HDR_LEGACY		10
#define VIRTIO_NET_HDR_MODERN		12

/* --- rings ----------------------------------------------------------------- */

static void vn_queue_free(struct vnet_queue *q)
{
	virtq_free(&q->vq);
	if (q->bufs)
		page_free(q->bufs, q->bufs_order);
	q->bufs = NULL;
}

static void vn_rx_post(struct virtio_net *vn, uint16_t id)
{
	struct vnet_queue *q = &vn->rx;

	q->vq.desc[id].addr = (uint64_t)(uintptr_t)(q->bufs + (size_t)id * VNET_BUF);
	q->vq.desc[id].len = VNET_BUF;
	q->vq.desc[id].flags = VRING_DESC_F_WRITE;
	q->vq.desc[id].next = 0;
	virtq_post(&q->vq, id);
}

/* Takes back the transmit buffers the device is done with. Lock held. */
static void vn_tx_reclaim(struct virtio_net *vn)
{
	struct vnet_queue *q = &vn->tx;

	while (virtq_has_used(&q->vq)) {
		struct vring_used_elem e = virtq_pop_used(&q->vq);

		if (e.id < q->vq.num && q->nfree < q->vq.num)
			q->free_ids[q->nfree++] = (uint16_t)e.id;
	}
}

/* --- netdev methods ------------------------------------------------------- */

static long virtio_net_send(struct object *self, const void *frame, size_t len)
{
	struct virtio_net *vn = (struct virtio_net *)self;
	struct vnet_queue *q = &vn->tx;
	uint8_t *buf;
	uint16_t id;

	if (!len || len > VNET_FRAME_MAX)
		return -KE_INVAL;
	spin_lock(&vn->lock);
	if (!q->nfree)
		vn_tx_reclaim(vn);
	if (!q->nfree) {
		vn->stats.tx_busy++;
		spin_unlock(&vn->lock);
		return -KE_BUSY;
	}
	id = q->free_ids[--q->nfree];
	buf = q->bufs + (size_t)id * VNET_BUF;
	memset(buf, 0, vn->hdr_len);
	memcpy(buf + vn->hdr_len, frame, len);
	q->vq.desc[id].addr = (uint64_t)(uintptr_t)buf;
	q->vq.desc[id].len = (uint32_t)(vn->hdr_len + len);
	q->vq.desc[id].flags = 0;
	q->vq.desc[id].next = 0;
	virtq_post(&q->vq, id);
	virtq_kick(&vn->vm, &q->vq);
	vn->stats.tx_frames++;
	spin_unlock(&vn->lock);
	return 0;
}

/* Copies used receive buffer @e out; its length, or negative if dropped. */
static long vn_rx_copy(struct virtio_net *vn, struct vring_used_elem e, void *buf, size_t len)
{
	size_t flen;

	if (e.len < vn->hdr_len + 14 || e.len > VNET_BUF)
		return -KE_BADMSG;
	flen = e.len - vn->hdr_len;
	if (flen > len)
		return -KE_OVERFLOW;
	memcpy(buf, vn->rx.bufs + (size_t)e.id * VNET_BUF + vn->hdr_len, flen);
	return (long)flen;
}

static long virtio_net_recv(struct object *self, void *buf, size_t len)
{
	struct virtio_net *vn = (struct virtio_net *)self;
	struct vnet_queue *q = &vn->rx;
	long n = -KE_NODATA;

	spin_lock(&vn->lock);
	while (n < 0 && virtq_has_used(&q->vq)) {
		struct vring_used_elem e = virtq_pop_used(&q->vq);

		if (e.id >= q->vq.num) {	/* not ours to post again */
			vn->stats.rx_dropped++;
			continue;
		}
		n = vn_rx_copy(vn, e, buf, len);
		if (n < 0)
			vn->stats.rx_dropped++;
		else
			vn->stats.rx_frames++;
		vn_rx_post(vn, (uint16_t)e.id);
		virtq_kick(&vn->vm, &q->vq);
	}
	spin_unlock(&vn->lock);
	return n < 0 ? -KE_NODATA : n;
}

static long virtio_net_irq(struct object *self)
{
	struct virtio_net *vn = (struct virtio_net *)self;

	virtio_mmio_irq_ack(&vn->vm);
	spin_lock(&vn->lock);
	vn->stats.irqs++;
	vn_tx_reclaim(vn);
	spin_unlock(&vn->lock);
	netdev_notify();
	return 0;
}

static long virtio_net_mac(struct object *self, uint8_t *out)
{
	memcpy(out, ((struct virtio_net *)self)->mac, 6);
	return 0;
}

static long virtio_net_stats(struct object *self, struct netdev_stats *out)
{
	struct virtio_net *vn = (struct virtio_net *)self;

	spin_lock(&vn->lock);
	*out = vn->stats;
	spin_unlock(&vn->lock);
	return 0;
}

static const struct netdev_ops virtio_net_ops = {
	.send = virtio_net_send,
	.recv = virtio_net_recv,
	.irq = virtio_net_irq,
	.mac = virtio_net_mac,
	.stats = virtio_net_stats,
};
CLASS_OPS_CHECK(struct netdev_ops);

static const struct class virtio_net_class = {
	.name = "netdev",
	.impl = "virtio-net",
	.version = 1,
	.iface_version = 1,
	.ops = &virtio_net_ops,
	.nmethods = sizeof(struct netdev_ops) / sizeof(void *),
	.state_size = sizeof(struct virtio_net),
};

/* --- bring-up ---------------------------------------------------------------- */

/* The MAC from the configuration space, else a locally administered one, unique per slot. */
static void vn_mac_read(struct virtio_net *vn, uint64_t features)
{
	if (features & (1ULL << VIRTIO_NET_F_MAC)) {
		for (uint32_t i = 0; i < 6; i++)
			vn->mac[i] = virtio_mmio_config8(&vn->vm, i);
	} else {
		const uint8_t mac[6] = { 0x02, 0, 0, 0, (uint8_t)(vn->vm.base >> 20),
					 (uint8_t)(vn->vm.base >> 12) };

		memcpy(vn->mac, mac, 6);
	}
}

static int vn_queue_setup(struct virtio_net *vn, uint32_t idx, struct vnet_queue *q)
{
	int err = virtq_setup(&vn->vm, &q->vq, idx, VNET_QSIZE);

	if (err)
		return err;
	q->bufs_order = page_order_for((size_t)q->vq.num * VNET_BUF);
	q->bufs = page_alloc(q->bufs_order);
	return q->bufs ? 0 : -KE_NOMEM;
}

static void vn_rings_fill(struct virtio_net *vn)
{
	for (uint16_t i = 0; i < vn->rx.vq.num; i++)
		vn_rx_post(vn, i);
	vn->tx.nfree = vn->tx.vq.num;
	for (uint16_t i = 0; i < vn->tx.vq.num; i++)
		vn->tx.free_ids[i] = (uint16_t)(vn->tx.vq.num - 1 - i);
}

/*
 * Reset, negotiate (MAC only: no offloads, no mergeable buffers), queues,
 * buffers, DRIVER_OK.
 */
static int vn_device_init(struct virtio_net *vn)
{
	uint64_t features;
	int err;

	err = virtio_mmio_start(&vn->vm, 1ULL << VIRTIO_NET_F_MAC, &features);
	if (!err)
		err = vn_queue_setup(vn, VNET_RXQ, &vn->rx);
	if (!err)
		err = vn_queue_setup(vn, VNET_TXQ, &vn->tx);
	if (err) {
		virtio_mmio_fail(&vn->vm);
		vn_queue_free(&vn->rx);
		vn_queue_free(&vn->tx);
		return err;
	}
	vn_mac_read(vn, features);
	vn->hdr_len = vn->vm.version == 2 ? VIRTIO_NET_HDR_MODERN : VIRTIO_NET_HDR_LEGACY;
	vn_rings_fill(vn);
	virtio_mmio_ready(&vn->vm);
	virtq_kick(&vn->vm, &vn->rx.vq);
	return 0;
}

static struct factory virtio_net_factory;
static struct virtio_net vnets[VNET_MAX];
static int nvnets;

static int virtio_net_probe(const void *fdt, int node, int match)
{
	struct virtio_mmio vm;
	struct virtio_net *vn;
	ott_ref_t ref;
	int err;

	/* An empty slot or another kind of virtio device: not ours, quietly. */
	err = virtio_mmio_match(fdt, node, VIRTIO_ID_NET, &vm);
	if (err)
		return err > 0 ? 0 : err;
	if (nvnets >= VNET_MAX)
		return -KE_NOSPC;
	vn = &vnets[nvnets];
	vn->vm = vm;
	dt_irq(fdt, node, 0, &vn->irq);
	spin_init(&vn->lock, "virtio-net");
	err = vn_device_init(vn);
	if (err)
		return err;
	err = driver_publish(&virtio_net_factory, &virtio_net_class, &vn->obj, &ref);
	if (err) {
		virtio_mmio_reset(&vn->vm);	/* the device lets go of the rings */
		vn_queue_free(&vn->rx);
		vn_queue_free(&vn->tx);
		return err;
	}
	nvnets++;
	klog("virtio-net", "bound base=%#lx %s irq=%u rxq=%u txq=%u hdr=%zu",
	     (unsigned long)vm.base, vm.version == 1 ? "legacy" : "modern", vn->irq,
	     vn->rx.vq.num, vn->tx.vq.num, vn->hdr_len);
	netdev_attach(ref, vn->irq);
	return 0;
}

static const char *const virtio_net_compat[] = { "virtio,mmio", NULL };

DRIVER_DECLARE(5, virtio_net_driver) = {
	.name = "virtio-net",
	.compatible = virtio_net_compat,
	.probe = virtio_net_probe,
};
