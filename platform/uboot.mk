# U-Boot boot path (filled in by the U-Boot work): builds the boot disk.
QEMU_UBOOT = false
$(O)/uboot-disk.img:
	@echo "U-Boot path not built yet"; false
