# U-Boot boot script for the object kernel (compiled into boot.scr by
# `mkimage -T script`, see platform/uboot.mk).
#
# U-Boot's distro boot (bootcmd=run distro_bootcmd) scans the boot partition
# of each device in ${boot_targets}, finds boot.scr and sources it with
# ${devtype} ${devnum}:${distro_bootpart} naming the partition it came from.
# Run by hand (e.g. on a board) set those three first, or type the commands.
#
# The kernel command line comes from bootargs.env (one line,
# "bootargs=<ARGS>"), written by the build from the ARGS make variable, so
# quoting in ARGS never has to survive the U-Boot shell. It is loaded to
# ${kernel_addr_r} and imported before kernel.itb overwrites that address.
# kernel.itb is a FIT: bootm checks its sha256 hash, copies the kernel to its
# load address (0x80200000) and enters it with a0=hartid, a1=devicetree.
# ${kernel_addr_r} (0x84000000 on qemu-riscv64_smode) lies clear of both the
# kernel's load area and U-Boot's relocated self at the top of RAM. No FDT is
# inside the FIT, so bootm is given U-Boot's own (the one OpenSBI passed on).

echo "boot.scr: kernel.itb from ${devtype} ${devnum}:${distro_bootpart}"
setenv bootargs
if load ${devtype} ${devnum}:${distro_bootpart} ${kernel_addr_r} ${prefix}bootargs.env; then
	env import -t ${kernel_addr_r} ${filesize} bootargs
fi
echo "boot.scr: bootargs=${bootargs}"
load ${devtype} ${devnum}:${distro_bootpart} ${kernel_addr_r} ${prefix}kernel.itb
bootm ${kernel_addr_r} - ${fdtcontroladdr}
echo "boot.scr: bootm failed; kernel.itb was not started"
