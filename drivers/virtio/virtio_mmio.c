/*
 * The virtio-mmio transport for the virtio drivers: slot matching, bring-up
 * and feature negotiation for legacy (version 1: GuestPageSize/QueuePFN,
 * what QEMU 7.2 presents by default) and modern (version 2: QueueDesc/
 * Driver/Device, VIRTIO_F_VERSION_1) devices, configuration reads, and
 * split virtqueues.
 *
 * DMA: RAM is identity mapped (VA == PA) and QEMU's DMA is coherent, so
 * rings and buffers are handed over by address; fences order descriptor
 * and ring writes before the index update, and the index before the notify.
 *
 * Locking: none here. Bring-up runs in a driver's probe (boot hart, alone);
 * a queue is used under its driver's lock.
 */
#include <kernel/devtree.h>
#include <kernel/errno.h>
#include <kernel/mem.h>
#include "virtio_mmio.h"

/* Orders memory writes (rings) before a device register write (notify). */
static inline void virtio_io_fence(void)
{
	__asm__ __volatile__("fence iorw, iorw" ::: "memory");
}

int virtio_mmio_match(const void *fdt, int node, uint32_t device_id, struct virtio_mmio *vm)
{
	uint64_t base, size;
	int err = dt_reg(fdt, node, 0, &base, &size);

	if (err)
		return err;
	vm->base = (uintptr_t)base;
	if (virtio_mmio_read(vm, VIRTIO_MMIO_MAGIC) != VIRTIO_MMIO_MAGIC_VALUE)
		return -KE_NODEV;
	vm->device_id = virtio_mmio_read(vm, VIRTIO_MMIO_DEVICE_ID);
	if (vm->device_id != device_id)
		return 1;		/* empty (id 0) or another kind of device */
	vm->version = virtio_mmio_read(vm, VIRTIO_MMIO_VERSION);
	if (vm->version != 1 && vm->version != 2)
		return -KE_NOTSUP;
	return 0;
}

static void virtio_mmio_status_set(struct virtio_mmio *vm, uint32_t bits)
{
	virtio_mmio_write(vm, VIRTIO_MMIO_STATUS, virtio_mmio_read(vm, VIRTIO_MMIO_STATUS) | bits);
}

void virtio_mmio_reset(struct virtio_mmio *vm)
{
	virtio_mmio_write(vm, VIRTIO_MMIO_STATUS, 0);
}

void virtio_mmio_ready(struct virtio_mmio *vm)
{
	virtio_mmio_status_set(vm, VIRTIO_STATUS_DRIVER_OK);
}

void virtio_mmio_fail(struct virtio_mmio *vm)
{
	virtio_mmio_status_set(vm, VIRTIO_STATUS_FAILED);
}

static uint32_t virtio_mmio_features_word(struct virtio_mmio *vm, uint32_t sel)
{
	virtio_mmio_write(vm, VIRTIO_MMIO_DEVICE_FEATURES_SEL, sel);
	return virtio_mmio_read(vm, VIRTIO_MMIO_DEVICE_FEATURES);
}

int virtio_mmio_start(struct virtio_mmio *vm, uint64_t wanted, uint64_t *got)
{
	uint64_t offered, accept;

	virtio_mmio_reset(vm);
	virtio_mmio_status_set(vm, VIRTIO_STATUS_ACK);
	virtio_mmio_status_set(vm, VIRTIO_STATUS_DRIVER);
	offered = virtio_mmio_features_word(vm, 0);
	if (vm->version == 2) {
		offered |= (uint64_t)virtio_mmio_features_word(vm, 1) << 32;
		if (!(offered & (1ULL << VIRTIO_F_VERSION_1)))
			return -KE_NOTSUP;
		wanted |= 1ULL << VIRTIO_F_VERSION_1;
	} else {
		wanted &= 0xffffffffULL;	/* a legacy device has one feature word */
	}
	accept = offered & wanted;
	virtio_mmio_write(vm, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	virtio_mmio_write(vm, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)accept);
	virtio_mmio_write(vm, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	virtio_mmio_write(vm, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(accept >> 32));
	if (vm->version == 2) {
		virtio_mmio_status_set(vm, VIRTIO_STATUS_FEATURES_OK);
		if (!(virtio_mmio_read(vm, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_FEATURES_OK))
			return -KE_NOTSUP;
	} else {
		virtio_mmio_write(vm, VIRTIO_MMIO_GUEST_PAGE_SIZE, 4096);
	}
	*got = accept;
	return 0;
}

uint32_t virtio_mmio_irq_ack(struct virtio_mmio *vm)
{
	uint32_t st = virtio_mmio_read(vm, VIRTIO_MMIO_INTERRUPT_STATUS);

	virtio_mmio_write(vm, VIRTIO_MMIO_INTERRUPT_ACK,
			  st & (VIRTIO_INT_USED_RING | VIRTIO_INT_CONFIG));
	return st;
}

/* --- configuration space -------------------------------------------------- */

uint8_t virtio_mmio_config8(const struct virtio_mmio *vm, uint32_t off)
{
	return *(volatile uint8_t *)(vm->base + VIRTIO_MMIO_CONFIG + off);
}

uint32_t virtio_mmio_config32(const struct virtio_mmio *vm, uint32_t off)
{
	return virtio_mmio_read(vm, VIRTIO_MMIO_CONFIG + off);
}

/*
 * Two 32-bit reads; repeated until a consistent pair is seen (ConfigGeneration
 * on a modern device, the value itself on a legacy one, which has no
 * generation counter).
 */
uint64_t virtio_mmio_config64(const struct virtio_mmio *vm, uint32_t off)
{
	uint32_t gen, lo, hi;

	for (int tries = 0; tries < 100; tries++) {
		gen = vm->version == 2 ? virtio_mmio_read(vm, VIRTIO_MMIO_CONFIG_GENERATION) : 0;
		lo = virtio_mmio_config32(vm, off);
		hi = virtio_mmio_config32(vm, off + 4);
		if (vm->version == 2 ? gen == virtio_mmio_read(vm, VIRTIO_MMIO_CONFIG_GENERATION)
				     : lo == virtio_mmio_config32(vm, off))
			break;
	}
	return (uint64_t)hi << 32 | lo;
}

/* --- split virtqueues -------------------------------------------------------- */

static size_t virtq_used_offset(uint16_t num)
{
	size_t end = 16 * (size_t)num + 4 + 2 * (size_t)num + 2;

	return (end + VRING_LEGACY_ALIGN - 1) & ~(size_t)(VRING_LEGACY_ALIGN - 1);
}

static size_t virtq_ring_bytes(uint16_t num)
{
	return virtq_used_offset(num) + 4 + 8 * (size_t)num + 2;
}

void virtq_free(struct virtq *q)
{
	if (q->ring_mem)
		page_free(q->ring_mem, q->ring_order);
	q->ring_mem = NULL;
}

static int virtq_alloc(struct virtq *q, uint16_t num)
{
	uint8_t *mem;

	q->num = num;
	q->ring_order = page_order_for(virtq_ring_bytes(num));
	q->ring_mem = page_alloc(q->ring_order);
	if (!q->ring_mem)
		return -KE_NOMEM;
	mem = q->ring_mem;
	q->desc = (struct vring_desc *)mem;
	q->avail = (struct vring_avail *)(mem + 16 * (size_t)num);
	q->used = (volatile struct vring_used *)(mem + virtq_used_offset(num));
	q->avail_idx = 0;
	q->last_used = 0;
	return 0;
}

static void virtq_addr_set(struct virtio_mmio *vm, uint32_t lo_reg, const volatile void *p)
{
	uint64_t a = (uint64_t)(uintptr_t)p;

	virtio_mmio_write(vm, lo_reg, (uint32_t)a);
	virtio_mmio_write(vm, lo_reg + 4, (uint32_t)(a >> 32));
}

int virtq_setup(struct virtio_mmio *vm, struct virtq *q, uint32_t index, uint16_t max_num)
{
	uint32_t max, num = max_num;
	int err;

	virtio_mmio_write(vm, VIRTIO_MMIO_QUEUE_SEL, index);
	max = virtio_mmio_read(vm, VIRTIO_MMIO_QUEUE_NUM_MAX);
	if (!max)
		return -KE_NODEV;
	if (vm->version == 2 && virtio_mmio_read(vm, VIRTIO_MMIO_QUEUE_READY))
		return -KE_BUSY;
	while (num > max)
		num /= 2;
	err = virtq_alloc(q, (uint16_t)num);
	if (err)
		return err;
	q->index = index;
	virtio_mmio_write(vm, VIRTIO_MMIO_QUEUE_NUM, num);
	if (vm->version == 1) {
		virtio_mmio_write(vm, VIRTIO_MMIO_QUEUE_ALIGN, VRING_LEGACY_ALIGN);
		virtio_mmio_write(vm, VIRTIO_MMIO_QUEUE_PFN, (uint32_t)((uintptr_t)q->ring_mem >> 12));
	} else {
		virtq_addr_set(vm, VIRTIO_MMIO_QUEUE_DESC_LOW, q->desc);
		virtq_addr_set(vm, VIRTIO_MMIO_QUEUE_DRIVER_LOW, q->avail);
		virtq_addr_set(vm, VIRTIO_MMIO_QUEUE_DEVICE_LOW, q->used);
		virtio_mmio_write(vm, VIRTIO_MMIO_QUEUE_READY, 1);
	}
	return 0;
}

void virtq_post(struct virtq *q, uint16_t head)
{
	q->avail->ring[q->avail_idx % q->num] = head;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	q->avail_idx++;
	__atomic_store_n(&q->avail->idx, q->avail_idx, __ATOMIC_RELEASE);
}

void virtq_kick(struct virtio_mmio *vm, struct virtq *q)
{
	virtio_io_fence();
	if (!(q->used->flags & VRING_USED_F_NO_NOTIFY))
		virtio_mmio_write(vm, VIRTIO_MMIO_QUEUE_NOTIFY, q->index);
}

bool virtq_has_used(struct virtq *q)
{
	uint16_t idx = __atomic_load_n(&q->used->idx, __ATOMIC_ACQUIRE);

	return idx != q->last_used;
}

struct vring_used_elem virtq_pop_used(struct virtq *q)
{
	struct vring_used_elem e;

	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	e.id = q->used->ring[q->last_used % q->num].id;
	e.len = q->used->ring[q->last_used % q->num].len;
	q->last_used++;
	return e;
}
