/*
 * The virtio-mmio transport shared by the virtio drivers (virtio-net,
 * virtio-blk): registers (virtio 1.2, section 4.2.2; the legacy layout in
 * 4.2.4), device bring-up and feature negotiation for both interfaces, and
 * split virtqueues (2.7). A driver owns its buffers and its locking; this
 * code only knows rings and registers.
 */
#ifndef DRIVERS_VIRTIO_VIRTIO_MMIO_H
#define DRIVERS_VIRTIO_VIRTIO_MMIO_H

#include <stdbool.h>
#include <stdint.h>

#define VIRTIO_MMIO_MAGIC		0x000	/* "virt" */
#define VIRTIO_MMIO_VERSION		0x004	/* 1 legacy, 2 modern */
#define VIRTIO_MMIO_DEVICE_ID		0x008
#define VIRTIO_MMIO_VENDOR_ID		0x00c
#define VIRTIO_MMIO_DEVICE_FEATURES	0x010
#define VIRTIO_MMIO_DEVICE_FEATURES_SEL	0x014
#define VIRTIO_MMIO_DRIVER_FEATURES	0x020
#define VIRTIO_MMIO_DRIVER_FEATURES_SEL	0x024
#define VIRTIO_MMIO_GUEST_PAGE_SIZE	0x028	/* legacy */
#define VIRTIO_MMIO_QUEUE_SEL		0x030
#define VIRTIO_MMIO_QUEUE_NUM_MAX	0x034
#define VIRTIO_MMIO_QUEUE_NUM		0x038
#define VIRTIO_MMIO_QUEUE_ALIGN		0x03c	/* legacy */
#define VIRTIO_MMIO_QUEUE_PFN		0x040	/* legacy */
#define VIRTIO_MMIO_QUEUE_READY		0x044	/* modern */
#define VIRTIO_MMIO_QUEUE_NOTIFY	0x050
#define VIRTIO_MMIO_INTERRUPT_STATUS	0x060
#define VIRTIO_MMIO_INTERRUPT_ACK	0x064
#define VIRTIO_MMIO_STATUS		0x070
#define VIRTIO_MMIO_QUEUE_DESC_LOW	0x080	/* modern */
#define VIRTIO_MMIO_QUEUE_DESC_HIGH	0x084
#define VIRTIO_MMIO_QUEUE_DRIVER_LOW	0x090
#define VIRTIO_MMIO_QUEUE_DRIVER_HIGH	0x094
#define VIRTIO_MMIO_QUEUE_DEVICE_LOW	0x0a0
#define VIRTIO_MMIO_QUEUE_DEVICE_HIGH	0x0a4
#define VIRTIO_MMIO_CONFIG_GENERATION	0x0fc	/* modern */
#define VIRTIO_MMIO_CONFIG		0x100

#define VIRTIO_MMIO_MAGIC_VALUE		0x74726976
#define VIRTIO_ID_NET			1
#define VIRTIO_ID_BLOCK			2

/* Status bits. */
#define VIRTIO_STATUS_ACK		1
#define VIRTIO_STATUS_DRIVER		2
#define VIRTIO_STATUS_DRIVER_OK		4
#define VIRTIO_STATUS_FEATURES_OK	8
#define VIRTIO_STATUS_FAILED		128

/* InterruptStatus bits. */
#define VIRTIO_INT_USED_RING		1
#define VIRTIO_INT_CONFIG		2

/* Transport feature bits. */
#define VIRTIO_F_VERSION_1		32

/* Split virtqueue. */
#define VRING_DESC_F_NEXT		1
#define VRING_DESC_F_WRITE		2
#define VRING_USED_F_NO_NOTIFY		1
#define VRING_LEGACY_ALIGN		4096

struct vring_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct vring_avail {
	uint16_t flags;
	uint16_t idx;
	uint16_t ring[];
};

struct vring_used_elem {
	uint32_t id;
	uint32_t len;
};

struct vring_used {
	uint16_t flags;
	uint16_t idx;
	struct vring_used_elem ring[];
};

/* One virtio-mmio slot holding a device. */
struct virtio_mmio {
	uintptr_t base;
	uint32_t version;		/* 1 legacy, 2 modern */
	uint32_t device_id;
};

/*
 * A split virtqueue. Its rings sit in one page block laid out the legacy
 * way (used ring 4096-aligned), which suits both interfaces.
 */
struct virtq {
	uint32_t index;			/* queue number on the device */
	uint16_t num;			/* descriptors */
	uint16_t avail_idx;		/* our copy of avail->idx */
	uint16_t last_used;		/* used entries consumed */
	struct vring_desc *desc;
	struct vring_avail *avail;
	volatile struct vring_used *used;
	void *ring_mem;
	unsigned int ring_order;
};

static inline uint32_t virtio_mmio_read(const struct virtio_mmio *vm, uint32_t off)
{
	return *(volatile uint32_t *)(vm->base + off);
}

static inline void virtio_mmio_write(const struct virtio_mmio *vm, uint32_t off, uint32_t val)
{
	*(volatile uint32_t *)(vm->base + off) = val;
}

/*
 * Looks at the slot of devicetree node @node: 0 (and *vm filled) if it holds
 * a device of type @device_id, 1 if it is empty or holds another kind (not
 * this driver's: skip it quietly), a negative code if it is no virtio-mmio
 * slot or speaks an interface version we do not know.
 */
int virtio_mmio_match(const void *fdt, int node, uint32_t device_id, struct virtio_mmio *vm);

/*
 * Starts bring-up (virtio 1.2, 3.1.1): reset, ACKNOWLEDGE, DRIVER, then
 * accepts the bits of @wanted the device offers. A modern device must offer
 * VERSION_1, which is accepted too, and must take FEATURES_OK; a legacy one
 * only has feature bits 0..31 and gets its page size. *@got: the accepted set.
 */
int virtio_mmio_start(struct virtio_mmio *vm, uint64_t wanted, uint64_t *got);

/* Allocates and programs queue @index with at most @max_num descriptors. */
int virtq_setup(struct virtio_mmio *vm, struct virtq *q, uint32_t index, uint16_t max_num);

/* Frees the rings (after a reset or a failed bring-up: the device lets go). */
void virtq_free(struct virtq *q);

/* DRIVER_OK: the device may now use the queues. */
void virtio_mmio_ready(struct virtio_mmio *vm);

/* Bring-up failed: FAILED status. */
void virtio_mmio_fail(struct virtio_mmio *vm);

/* Reset: the device stops and forgets the queues. */
void virtio_mmio_reset(struct virtio_mmio *vm);

/* Reads and acknowledges the interrupt status; returns it. */
uint32_t virtio_mmio_irq_ack(struct virtio_mmio *vm);

/* Device-specific configuration space, @off bytes into it. */
uint8_t virtio_mmio_config8(const struct virtio_mmio *vm, uint32_t off);
uint32_t virtio_mmio_config32(const struct virtio_mmio *vm, uint32_t off);
uint64_t virtio_mmio_config64(const struct virtio_mmio *vm, uint32_t off);

/* Makes the chain starting at descriptor @head available (the caller kicks). */
void virtq_post(struct virtq *q, uint16_t head);

/* Tells the device about new buffers unless it asked not to be notified. */
void virtq_kick(struct virtio_mmio *vm, struct virtq *q);

/* True if the device returned a chain we have not consumed yet. */
bool virtq_has_used(struct virtq *q);

/* Takes the next used entry; only after virtq_has_used() said yes. */
struct vring_used_elem virtq_pop_used(struct virtq *q);

#endif
