/*
 * virtio-net over virtio-mmio (QEMU virt): one receive and one transmit
 * split virtqueue. Both register layouts are handled: legacy (version 1,
 * GuestPageSize/QueuePFN, used ring 4096-aligned; what QEMU 7.2 presents
 * by default) and modern (version 2, QueueDesc/Driver/Device, with
 * VIRTIO_F_VERSION_1). Only VIRTIO_NET_F_MAC is negotiated: no offloads
 * and no mergeable buffers, so the header in front of each frame is 10
 * bytes (legacy) or 12 (modern), and is sent zeroed.
 *
 * DMA: RAM is identity mapped (VA == PA) and QEMU's DMA is coherent, so
 * buffers are handed over by address; fences order descriptor and ring
 * writes before the index update, and the index before the notify.
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
#include "virtio_mmio.h"

#define VNET_QSIZE	32		/* descriptors per queue (at most) */
#define VNET_BUF	2048		/* bytes per buffer: header + frame */
#define VNET_FRAME_MAX	1514		/* Ethernet header + MTU, no FCS */
#define VNET_RXQ	0
#define VNET_TXQ	1
#define VNET_MAX	4		/* devices */

struct vnet_queue {
	uint16_t num;
	uint16_t avail_idx;		/* our copy of avail->idx */
	uint16_t last_used;		/* used entries consumed */
	uint16_t nfree;			/* transmit: free descriptor ids */
	uint16_t free_ids[VNET_QSIZE];
	struct vring_desc *desc;
	struct vring_avail *avail;
	volatile struct vring_used *used;
	uint8_t *bufs;			/* num * VNET_BUF */
	void *ring_mem;
	unsigned int ring_order, bufs_order;
};

struct virtio_net {
	struct object obj;
	uintptr_t base;
	uint32_t irq;
	uint32_t version;
	size_t hdr_len;
	uint8_t mac[6];
	struct spinlock lock;
	struct vnet_queue rx, tx;
	struct netdev_stats stats;
};

static inline uint32_t vn_rd(const struct virtio_net *vn, uint32_t off)
{
	return *(volatile uint32_t *)(vn->base + off);
}

static inline void vn_wr(const struct virtio_net *vn, uint32_t off, uint32_t val)
{
	*(volatile uint32_t *)(vn->base + off) = val;
}

/* Orders memory writes (rings) before a device register write (notify). */
static inline void vn_io_fence(void)
{
	__asm__ __volatile__("fence iorw, iorw" ::: "memory");
}

/* --- rings ----------------------------------------------------------------- */

static size_t vq_used_offset(uint16_t num)
{
	size_t end = 16 * (size_t)num + 4 + 2 * (size_t)num + 2;

	return (end + VRING_LEGACY_ALIGN - 1) & ~(size_t)(VRING_LEGACY_ALIGN - 1);
}

static size_t vq_ring_bytes(uint16_t num)
{
	return vq_used_offset(num) + 4 + 8 * (size_t)num + 2;
}

static void vq_free(struct vnet_queue *q)
{
	if (q->ring_mem)
		page_free(q->ring_mem, q->ring_order);
	if (q->bufs)
		page_free(q->bufs, q->bufs_order);
	q->ring_mem = NULL;
	q->bufs = NULL;
}

static int vq_alloc(struct vnet_queue *q, uint16_t num)
{
	uint8_t *mem;

	q->num = num;
	q->ring_order = page_order_for(vq_ring_bytes(num));
	q->bufs_order = page_order_for((size_t)num * VNET_BUF);
	q->ring_mem = page_alloc(q->ring_order);
	q->bufs = page_alloc(q->bufs_order);
	if (!q->ring_mem || !q->bufs) {
		vq_free(q);
		return -KE_NOMEM;
	}
	mem = q->ring_mem;
	q->desc = (struct vring_desc *)mem;
	q->avail = (struct vring_avail *)(mem + 16 * (size_t)num);
	q->used = (volatile struct vring_used *)(mem + vq_used_offset(num));
	q->avail_idx = 0;
	q->last_used = 0;
	return 0;
}

/* Makes descriptor @id available to the device (the caller notifies). */
static void vq_post(struct vnet_queue *q, uint16_t id)
{
	q->avail->ring[q->avail_idx % q->num] = id;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	q->avail_idx++;
	__atomic_store_n(&q->avail->idx, q->avail_idx, __ATOMIC_RELEASE);
}

static void vq_kick(struct virtio_net *vn, struct vnet_queue *q, uint32_t qidx)
{
	vn_io_fence();
	if (!(q->used->flags & VRING_USED_F_NO_NOTIFY))
		vn_wr(vn, VIRTIO_MMIO_QUEUE_NOTIFY, qidx);
}

/* True if the device returned a buffer we have not consumed yet. */
static bool vq_has_used(struct vnet_queue *q)
{
	uint16_t idx = __atomic_load_n(&q->used->idx, __ATOMIC_ACQUIRE);

	return idx != q->last_used;
}

static struct vring_used_elem vq_pop_used(struct vnet_queue *q)
{
	struct vring_used_elem e;

	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	e.id = q->used->ring[q->last_used % q->num].id;
	e.len = q->used->ring[q->last_used % q->num].len;
	q->last_used++;
	return e;
}

static void vn_rx_post(struct virtio_net *vn, uint16_t id)
{
	struct vnet_queue *q = &vn->rx;

	q->desc[id].addr = (uint64_t)(uintptr_t)(q->bufs + (size_t)id * VNET_BUF);
	q->desc[id].len = VNET_BUF;
	q->desc[id].flags = VRING_DESC_F_WRITE;
	q->desc[id].next = 0;
	vq_post(q, id);
}

/* Takes back the transmit buffers the device is done with. Lock held. */
static void vn_tx_reclaim(struct virtio_net *vn)
{
	struct vnet_queue *q = &vn->tx;

	while (vq_has_used(q)) {
		struct vring_used_elem e = vq_pop_used(q);

		if (e.id < q->num && q->nfree < q->num)
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
	q->desc[id].addr = (uint64_t)(uintptr_t)buf;
	q->desc[id].len = (uint32_t)(vn->hdr_len + len);
	q->desc[id].flags = 0;
	q->desc[id].next = 0;
	vq_post(q, id);
	vq_kick(vn, q, VNET_TXQ);
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
	while (n < 0 && vq_has_used(q)) {
		struct vring_used_elem e = vq_pop_used(q);

		if (e.id >= q->num) {		/* not ours to post again */
			vn->stats.rx_dropped++;
			continue;
		}
		n = vn_rx_copy(vn, e, buf, len);
		if (n < 0)
			vn->stats.rx_dropped++;
		else
			vn->stats.rx_frames++;
		vn_rx_post(vn, (uint16_t)e.id);
		vq_kick(vn, q, VNET_RXQ);
	}
	spin_unlock(&vn->lock);
	return n < 0 ? -KE_NODATA : n;
}

static long virtio_net_irq(struct object *self)
{
	struct virtio_net *vn = (struct virtio_net *)self;
	uint32_t st = vn_rd(vn, VIRTIO_MMIO_INTERRUPT_STATUS);

	vn_wr(vn, VIRTIO_MMIO_INTERRUPT_ACK, st & (VIRTIO_INT_USED_RING | VIRTIO_INT_CONFIG));
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

static void vn_status(struct virtio_net *vn, uint32_t bits)
{
	vn_wr(vn, VIRTIO_MMIO_STATUS, vn_rd(vn, VIRTIO_MMIO_STATUS) | bits);
}

/* Accepts MAC (and VERSION_1 on a modern device); nothing else. */
static int vn_negotiate(struct virtio_net *vn)
{
	uint32_t lo, hi = 0;

	vn_wr(vn, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	lo = vn_rd(vn, VIRTIO_MMIO_DEVICE_FEATURES) & (1U << VIRTIO_NET_F_MAC);
	if (vn->version == 2) {
		vn_wr(vn, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
		hi = vn_rd(vn, VIRTIO_MMIO_DEVICE_FEATURES) & (1U << (VIRTIO_F_VERSION_1 - 32));
		if (!hi)
			return -KE_NOTSUP;
	}
	vn_wr(vn, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	vn_wr(vn, VIRTIO_MMIO_DRIVER_FEATURES, lo);
	vn_wr(vn, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	vn_wr(vn, VIRTIO_MMIO_DRIVER_FEATURES, hi);
	if (vn->version == 2) {
		vn_status(vn, VIRTIO_STATUS_FEATURES_OK);
		if (!(vn_rd(vn, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_FEATURES_OK))
			return -KE_NOTSUP;
	}
	if (lo & (1U << VIRTIO_NET_F_MAC)) {
		for (int i = 0; i < 6; i++)
			vn->mac[i] = *(volatile uint8_t *)(vn->base + VIRTIO_MMIO_CONFIG + i);
	} else {
		/* Locally administered, unique per slot. */
		const uint8_t mac[6] = { 0x02, 0, 0, 0, (uint8_t)(vn->base >> 20), (uint8_t)(vn->base >> 12) };

		memcpy(vn->mac, mac, 6);
	}
	vn->hdr_len = vn->version == 2 ? VIRTIO_NET_HDR_MODERN : VIRTIO_NET_HDR_LEGACY;
	return 0;
}

static void vn_queue_addr(struct virtio_net *vn, uint32_t lo_reg, const void *p)
{
	uint64_t a = (uint64_t)(uintptr_t)p;

	vn_wr(vn, lo_reg, (uint32_t)a);
	vn_wr(vn, lo_reg + 4, (uint32_t)(a >> 32));
}

static int vn_queue_setup(struct virtio_net *vn, uint32_t idx, struct vnet_queue *q)
{
	uint32_t max, num = VNET_QSIZE;
	int err;

	vn_wr(vn, VIRTIO_MMIO_QUEUE_SEL, idx);
	max = vn_rd(vn, VIRTIO_MMIO_QUEUE_NUM_MAX);
	if (!max)
		return -KE_NODEV;
	if (vn->version == 2 && vn_rd(vn, VIRTIO_MMIO_QUEUE_READY))
		return -KE_BUSY;
	while (num > max)
		num /= 2;
	err = vq_alloc(q, (uint16_t)num);
	if (err)
		return err;
	vn_wr(vn, VIRTIO_MMIO_QUEUE_NUM, num);
	if (vn->version == 1) {
		vn_wr(vn, VIRTIO_MMIO_QUEUE_ALIGN, VRING_LEGACY_ALIGN);
		vn_wr(vn, VIRTIO_MMIO_QUEUE_PFN, (uint32_t)((uintptr_t)q->ring_mem >> 12));
	} else {
		vn_queue_addr(vn, VIRTIO_MMIO_QUEUE_DESC_LOW, q->desc);
		vn_queue_addr(vn, VIRTIO_MMIO_QUEUE_DRIVER_LOW, q->avail);
		vn_queue_addr(vn, VIRTIO_MMIO_QUEUE_DEVICE_LOW, (const void *)q->used);
		vn_wr(vn, VIRTIO_MMIO_QUEUE_READY, 1);
	}
	return 0;
}

static void vn_rings_fill(struct virtio_net *vn)
{
	for (uint16_t i = 0; i < vn->rx.num; i++)
		vn_rx_post(vn, i);
	vn->tx.nfree = vn->tx.num;
	for (uint16_t i = 0; i < vn->tx.num; i++)
		vn->tx.free_ids[i] = (uint16_t)(vn->tx.num - 1 - i);
}

/* Reset, negotiate, queues, buffers, DRIVER_OK (virtio 1.2, 3.1.1). */
static int vn_device_init(struct virtio_net *vn)
{
	int err;

	vn_wr(vn, VIRTIO_MMIO_STATUS, 0);
	vn_status(vn, VIRTIO_STATUS_ACK);
	vn_status(vn, VIRTIO_STATUS_DRIVER);
	err = vn_negotiate(vn);
	if (!err && vn->version == 1)
		vn_wr(vn, VIRTIO_MMIO_GUEST_PAGE_SIZE, 4096);
	if (!err)
		err = vn_queue_setup(vn, VNET_RXQ, &vn->rx);
	if (!err)
		err = vn_queue_setup(vn, VNET_TXQ, &vn->tx);
	if (err) {
		vn_status(vn, VIRTIO_STATUS_FAILED);
		vq_free(&vn->rx);
		vq_free(&vn->tx);
		return err;
	}
	vn_rings_fill(vn);
	vn_status(vn, VIRTIO_STATUS_DRIVER_OK);
	vq_kick(vn, &vn->rx, VNET_RXQ);
	return 0;
}

static struct factory virtio_net_factory;
static struct virtio_net vnets[VNET_MAX];
static int nvnets;

static int virtio_net_probe(const void *fdt, int node, int match)
{
	struct virtio_net *vn;
	uint64_t base, size;
	ott_ref_t ref;
	int err;

	err = dt_reg(fdt, node, 0, &base, &size);
	if (err)
		return err;
	if (*(volatile uint32_t *)(uintptr_t)base != VIRTIO_MMIO_MAGIC_VALUE)
		return -KE_NODEV;
	/* An empty slot (id 0) or another kind of virtio device: not ours, quietly. */
	if (*(volatile uint32_t *)(uintptr_t)(base + VIRTIO_MMIO_DEVICE_ID) != VIRTIO_ID_NET)
		return 0;
	if (nvnets >= VNET_MAX)
		return -KE_NOSPC;
	vn = &vnets[nvnets];
	vn->base = (uintptr_t)base;
	vn->version = vn_rd(vn, VIRTIO_MMIO_VERSION);
	if (vn->version != 1 && vn->version != 2)
		return -KE_NOTSUP;
	dt_irq(fdt, node, 0, &vn->irq);
	spin_init(&vn->lock, "virtio-net");
	err = vn_device_init(vn);
	if (err)
		return err;
	err = driver_publish(&virtio_net_factory, &virtio_net_class, &vn->obj, &ref);
	if (err) {
		vn_wr(vn, VIRTIO_MMIO_STATUS, 0);	/* reset: the device lets go of the rings */
		vq_free(&vn->rx);
		vq_free(&vn->tx);
		return err;
	}
	nvnets++;
	klog("virtio-net", "bound base=%#lx %s irq=%u rxq=%u txq=%u hdr=%zu", (unsigned long)base,
	     vn->version == 1 ? "legacy" : "modern", vn->irq, vn->rx.num, vn->tx.num, vn->hdr_len);
	netdev_attach(ref, vn->irq);
	return 0;
}

static const char *const virtio_net_compat[] = { "virtio,mmio", NULL };

DRIVER_DECLARE(5, virtio_net_driver) = {
	.name = "virtio-net",
	.compatible = virtio_net_compat,
	.probe = virtio_net_probe,
};
