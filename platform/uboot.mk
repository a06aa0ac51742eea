# U-Boot boot path: OpenSBI -> U-Boot (S-mode) -> bootm kernel.itb.
# Included by platform/run.mk. See docs/boot.md.
#
#   make run BOOT=uboot [ARGS="..."]       boot qemu-virt through U-Boot
#   make build/qemu-virt/uboot-disk.img    only build the boot disk
#
# The disk is a raw image with an MBR partition table and one bootable
# ext2 partition (made without root: sfdisk on a plain file, mke2fs -d,
# dd conv=notrunc) holding
#   boot.scr      platform/uboot/boot.cmd compiled by `mkimage -T script`
#   bootargs.env  "bootargs=$(ARGS)", imported by boot.scr
#   kernel.itb    the FIT (sha256-hashed kernel) built by the Makefile
# U-Boot's default bootcmd (distro boot) scans virtio 0, finds boot.scr on
# partition 1 and runs it: no typing is needed.
#
# Firmware: OpenSBI fw_dynamic ($(OPENSBI), the same as the direct boot).
# QEMU hands fw_dynamic the next stage's address and mode (u-boot.bin at
# 0x80200000, S-mode) in a struct, so nothing is hard-wired. fw_jump would
# also start U-Boot, but it has the next address and the DTB address
# (0x82200000) compiled in.
#
# Disk: virtio-blk on virtio-mmio, read-only (the kernel binds it and
# never writes it). The state disk of STATE= (platform/run.mk) comes after
# it on the command line: U-Boot boots from "virtio 0", the first block
# device it probes, which is the first -device given (the highest slot);
# with the state disk first, U-Boot finds no boot.scr. The device mode is
# whatever QEMU_BASE says (QEMU 7.2 defaults to legacy virtio-mmio); U-Boot
# drives both legacy and modern devices. No network device is needed.

# UBOOT_ITB, UBOOT_DIR and UBOOT_DISK may be overridden on the command line
# to put another FIT on another disk (the tests build one with a corrupted
# kernel to check that U-Boot refuses it).
UBOOT_BIN   ?= $(PLAT_UBOOT)
UBOOT_ITB   ?= $(O)/kernel.itb
UBOOT_DIR   ?= $(O)/uboot
UBOOT_DISK  ?= $(O)/uboot-disk.img
UBOOT_ROOT  := $(UBOOT_DIR)/root
# Disk layout (512-byte sectors): 16 MiB, partition 1 from 1 MiB to the end.
UBOOT_DISK_MB    := 16
UBOOT_PART_START := 2048
UBOOT_PART_SECTS := 30720
# sfdisk and mke2fs live in /sbin and /usr/sbin, which a normal user's PATH
# often lacks.
SBIN_PATH := PATH="$$PATH:/usr/sbin:/sbin"

ifneq ($(UBOOT_BIN),)
QEMU_UBOOT = $(QEMU_BASE) -bios $(OPENSBI) -kernel $(UBOOT_BIN) \
	-drive file=$(UBOOT_DISK),format=raw,if=none,id=bootdisk,readonly=on \
	-device virtio-blk-device,drive=bootdisk $(QEMU_STATE)
else
# No S-mode U-Boot for this board's QEMU machine (PLAT_UBOOT is empty): the
# run fails with a message; the console options land in "$$@" unused.
QEMU_UBOOT = sh -c 'echo "BOARD=$(BOARD): no U-Boot for QEMU (PLAT_UBOOT is empty); see docs/boot.md" >&2; exit 1' sh
endif

.PHONY: uboot-disk FORCE_UBOOT_ARGS
uboot-disk: $(UBOOT_DISK)

$(UBOOT_DIR)/boot.scr: platform/uboot/boot.cmd | $(DEPS_STAMP)
	$(Q)mkdir -p $(@D)
	$(Q)echo "  MKIMAGE $@"
	$(Q)mkimage -q -A riscv -O linux -T script -C none -n "kernel boot script" -d $< $@ >/dev/null

# bootargs.env follows ARGS: rewritten only when its text changes, so the
# disk is rebuilt when ARGS changes and not otherwise.
# ARGS reaches the shell through the environment, so quotes in it are safe.
$(UBOOT_DIR)/bootargs.env $(UBOOT_DISK): export UBOOT_ARGS := $(ARGS)
$(UBOOT_DIR)/bootargs.env: FORCE_UBOOT_ARGS
	$(Q)mkdir -p $(@D)
	$(Q)printf 'bootargs=%s\n' "$$UBOOT_ARGS" > $@.tmp
	$(Q)if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv $@.tmp $@; fi

$(UBOOT_DISK): $(UBOOT_ITB) $(UBOOT_DIR)/boot.scr $(UBOOT_DIR)/bootargs.env | $(DEPS_STAMP)
	$(Q)echo "  DISK    $@ (bootargs: $$UBOOT_ARGS)"
	$(Q)mkdir -p $(@D)
	$(Q)rm -rf $(UBOOT_ROOT) && mkdir -p $(UBOOT_ROOT)
	$(Q)cp $(UBOOT_ITB) $(UBOOT_ROOT)/kernel.itb
	$(Q)cp $(UBOOT_DIR)/boot.scr $(UBOOT_DIR)/bootargs.env $(UBOOT_ROOT)/
	$(Q)rm -f $(UBOOT_DIR)/part.img $@.tmp
	$(Q)$(SBIN_PATH) mke2fs -q -F -t ext2 -L kboot -E root_owner=0:0 \
		-d $(UBOOT_ROOT) $(UBOOT_DIR)/part.img $$(( $(UBOOT_PART_SECTS) / 2 ))k >/dev/null
	$(Q)truncate -s $(UBOOT_DISK_MB)M $@.tmp
	$(Q)printf 'label: dos\nstart=%s, size=%s, type=83, bootable\n' \
		$(UBOOT_PART_START) $(UBOOT_PART_SECTS) | $(SBIN_PATH) sfdisk -q $@.tmp
	$(Q)dd if=$(UBOOT_DIR)/part.img of=$@.tmp bs=512 seek=$(UBOOT_PART_START) \
		conv=notrunc,sparse status=none
	$(Q)rm -f $(UBOOT_DIR)/part.img
	$(Q)mv $@.tmp $@

# The QEMU command line of the U-Boot path without the console options
# (used by test/qemu/test_uboot.py, so the test boots what `make run` boots).
.PHONY: print-qemu-uboot
print-qemu-uboot:
	@echo $(QEMU_UBOOT)
