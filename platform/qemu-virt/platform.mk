# QEMU `virt`: ns16550a UART, PLIC, virtio-mmio, 10 MHz timer.
PLAT_NAME       := qemu-virt
PLAT_LOAD_ADDR  := 0x80200000
PLAT_MAX_HARTS  := 8
PLAT_QEMU_MACHINE := virt
PLAT_QEMU_SMP   ?= 4
PLAT_QEMU_MEM   ?= 256M
PLAT_QEMU_EXTRA :=
# The NIC for `make run` (virtio-net on virtio-mmio, legacy interface).
PLAT_QEMU_NIC   := -device virtio-net-device,netdev=n0
# The state disk of `make run` (the journal's storage): a virtio-blk disk on
# virtio-mmio, zero-filled and sparse (the journal takes unknown content for
# garbage). STATE_IMG is set by platform/run.mk.
PLAT_STATE_SIZE := 64M
PLAT_STATE_FILL := 0x00
PLAT_QEMU_STATE  = -drive if=none,id=state,format=raw,file=$(STATE_IMG) \
	-device virtio-blk-device,drive=state
# SBI SRST shutdown works here, so a test run ends with a clean power-off.
PLAT_QEMU_END   :=
PLAT_UBOOT      := /usr/lib/u-boot/qemu-riscv64_smode/u-boot.bin

