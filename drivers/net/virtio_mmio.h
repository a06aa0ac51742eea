/*
 * virtio-mmio registers (virtio 1.2, section 4.2.2; legacy layout in
 * 4.2.4) and the split virtqueue layout, for the virtio-net driver.
 */
#ifndef DRIVERS_NET_VIRTIO_MMIO_H
#define DRIVERS_NET_VIRTIO_MMIO_H

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
#define VIRTIO_MMIO_CONFIG		0x100

#define VIRTIO_MMIO_MAGIC_VALUE		0x74726976
#define VIRTIO_ID_NET			1

/* Status bits. */
#define VIRTIO_STATUS_ACK		1
#define VIRTIO_STATUS_DRIVER		2
#define VIRTIO_STATUS_DRIVER_OK		4
#define VIRTIO_STATUS_FEATURES_OK	8
#define VIRTIO_STATUS_FAILED		128

/* InterruptStatus bits. */
#define VIRTIO_INT_USED_RING		1
#define VIRTIO_INT_CONFIG		2

/* Feature bits. */
#define VIRTIO_NET_F_MAC		5
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

/*
 * The header in front of every frame: 10 bytes for a legacy device
 * without VIRTIO_NET_F_MRG_RXBUF, 12 (num_buffers added) with VERSION_1.
 * No offloads are negotiated, so the driver sends it zeroed.
 */
#define VIRTIO_NET_HDR_LEGACY		10
#define VIRTIO_NET_HDR_MODERN		12

#endif
