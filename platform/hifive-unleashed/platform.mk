# SiFive HiFive Unleashed (FU540), emulated by QEMU `sifive_u`.
# Hart 0 is the E51 monitor core (no S-mode): it is never started.
PLAT_NAME       := hifive-unleashed
PLAT_LOAD_ADDR  := 0x80200000
PLAT_MAX_HARTS  := 8
PLAT_QEMU_MACHINE := sifive_u
PLAT_QEMU_SMP   ?= 5
PLAT_QEMU_MEM   ?= 512M
PLAT_QEMU_EXTRA :=
# The board's own Cadence GEM, attached to the run's network.
PLAT_QEMU_NIC   := -global cadence_gem.netdev=n0
# The state image of `make run`: the SPI NOR flash behind sifive,spi0 (an
# is25wp256, 32 MiB), filled with 0xff like erased NOR.
PLAT_STATE_SIZE := 32M
PLAT_STATE_FILL := 0xff
PLAT_QEMU_STATE  = -drive if=mtd,format=raw,file=$(STATE_IMG)
# OpenSBI cannot power this machine off; the kernel asks for a cold reboot
# and QEMU exits instead of rebooting.
PLAT_QEMU_END   := -no-reboot
PLAT_UBOOT      :=

