# SiFive HiFive Unmatched (FU740). Build-only here: no emulator exists.
# The vendor U-Boot loads kernel.itb and starts it with bootm (see README).
PLAT_NAME       := hifive-unmatched
PLAT_LOAD_ADDR  := 0x80200000
PLAT_MAX_HARTS  := 8
PLAT_QEMU_MACHINE :=
PLAT_UBOOT      :=
# Its state lives in the board's SPI NOR flash; no image to make here.
PLAT_STATE_SIZE :=

