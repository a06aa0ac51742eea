# Generic build rules. Board settings come from board.mk and
# platform/<board>/platform.mk; each folder lists its own objects in
# objects.mk (`objs-y += foo.o`), which this file prefixes with the folder.
#
#   make [BOARD=qemu-virt|hifive-unleashed|hifive-unmatched]   build
#   make run [BOOT=uboot]   boot in QEMU        make debug   QEMU halted for gdb
#   make test               every test          make bench   benchmark table
#   make fleet-test         pull over MQTT      make bench-fleet   rollouts to 100..10,000 simulated boards (+ real ones)
#   make fuzz               1M executions of every fuzz target (test/fuzz/fuzz.mk)
#
# Every target that needs a tool first runs the `deps` step, which installs
# missing Debian packages (apt-get; sudo when not root).

MAKEFLAGS += -rR
.DELETE_ON_ERROR:
include board.mk

O        := build/$(BOARD)
CROSS    ?= riscv64-unknown-elf-
CC       := $(CROSS)gcc
OBJCOPY  := $(CROSS)objcopy
OBJDUMP  := $(CROSS)objdump
NM       := $(CROSS)nm
HOSTPY   := /usr/bin/python3
QEMU     := qemu-system-riscv64
OPENSBI  := /usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin
BOOT     ?= direct
Q        := $(if $(V),,@)

# --- Debian packages the build, the runs and the tests need ----------------
DEB_PKGS := gcc-riscv64-unknown-elf picolibc-riscv64-unknown-elf \
	qemu-system-misc opensbi u-boot-qemu u-boot-tools device-tree-compiler \
	libfdt-dev python3-libfdt python3-cryptography python3-pytest \
	gdb-multiarch libcmocka-dev linux-source-6.1 e2fsprogs fdisk \
	python3-cryptography-vectors openssl python3-tqdm nftables iproute2 curl \
	python3-paho-mqtt mosquitto mosquitto-clients clang-14 libclang-rt-14-dev llvm-14 \
	apache2-utils
DEPS_STAMP := build/.deps-ok

.PHONY: all deps run debug test unit qemu-test ota-test fleet-test bench bench-fleet clean distclean boards

all: $(O)/kernel.elf $(O)/kernel.bin $(O)/kernel.itb

deps: $(DEPS_STAMP)
$(DEPS_STAMP): Makefile
	$(Q)mkdir -p build
	$(Q)missing=$$(for p in $(DEB_PKGS); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "deps: installing $$missing"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null || exit 1; \
	fi
	$(Q)touch $@

# --- libfdt, compiled from Debian's linux-source-6.1 (never committed) -----
LIBFDT_DIR  := build/libfdt
LIBFDT_SRCS := fdt.c fdt_ro.c fdt_wip.c fdt_sw.c fdt_rw.c fdt_strerror.c fdt_empty_tree.c fdt_addresses.c
LIBFDT_STAMP := $(LIBFDT_DIR)/.fetched
$(LIBFDT_STAMP): | $(DEPS_STAMP)
	$(Q)echo "  FETCH   libfdt from /usr/src/linux-source-6.1.tar.xz"
	$(Q)rm -rf $(LIBFDT_DIR) && mkdir -p $(LIBFDT_DIR)
	$(Q)tar -xJf /usr/src/linux-source-6.1.tar.xz -C $(LIBFDT_DIR) --strip-components=4 \
		--wildcards 'linux-source-6.1/scripts/dtc/libfdt/*'
	$(Q)touch $@

# --- kernel objects ----------------------------------------------------------
KDIRS := src drivers update $(PLATFORM_DIR)
define collect_objs
objs-y :=
plat-objs-y :=
include $(1)/objects.mk
kobjs += $$(addprefix $(O)/$(1)/,$$(objs-y) $$(plat-objs-y))
endef
kobjs :=
$(foreach d,$(KDIRS),$(eval $(call collect_objs,$(d))))
kobjs += $(addprefix $(O)/libfdt/,$(LIBFDT_SRCS:.c=.o))

ARCHFLAGS := -march=rv64imac_zicsr_zifencei -mabi=lp64 -mcmodel=medany
KCFLAGS := $(ARCHFLAGS) --specs=picolibc.specs -ftls-model=local-exec \
	-std=gnu11 -O2 -g -ffreestanding -fno-common -fno-omit-frame-pointer \
	-fno-strict-aliasing -fno-builtin-printf -Wall -Wextra -Werror \
	-Wno-unused-parameter -Wmissing-prototypes -Wstrict-prototypes \
	-Iinclude -I$(PLATFORM_DIR) -I$(LIBFDT_DIR) \
	-DPLAT_NAME='"$(PLAT_NAME)"' -DPLAT_MAX_HARTS=$(PLAT_MAX_HARTS) \
	-DPLAT_LOAD_ADDR=$(PLAT_LOAD_ADDR)
KASFLAGS := $(KCFLAGS) -D__ASSEMBLY__
KLDFLAGS := -march=rv64imac -mabi=lp64 -mcmodel=medany --specs=picolibc.specs -nostartfiles -static \
	-Wl,--gc-sections -Wl,-z,max-page-size=4096 -Wl,--no-warn-rwx-segments

$(O)/%.o: %.c | $(DEPS_STAMP) $(LIBFDT_STAMP)
	$(Q)mkdir -p $(@D)
	$(Q)echo "  CC      $<"
	$(Q)$(CC) $(KCFLAGS) -MMD -MP -c $< -o $@

$(O)/%.o: %.S | $(DEPS_STAMP) $(LIBFDT_STAMP)
	$(Q)mkdir -p $(@D)
	$(Q)echo "  AS      $<"
	$(Q)$(CC) $(KASFLAGS) -MMD -MP -c $< -o $@

$(O)/libfdt/%.o: $(LIBFDT_STAMP)
	$(Q)mkdir -p $(@D)
	$(Q)echo "  CC      libfdt/$*.c"
	$(Q)$(CC) $(filter-out -Werror -Wmissing-prototypes -Wextra,$(KCFLAGS)) -Wno-sign-compare -c $(LIBFDT_DIR)/$*.c -o $@

$(O)/kernel.ld: src/kernel.ld.S | $(DEPS_STAMP)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) -E -P -x c -DLOAD_ADDR=$(PLAT_LOAD_ADDR) $< -o $@

$(O)/kernel.elf: $(kobjs) $(O)/kernel.ld
	$(Q)echo "  LD      $@"
	$(Q)$(CC) $(KLDFLAGS) -T $(O)/kernel.ld $(kobjs) -o $@ -lc -lgcc

$(O)/kernel.bin: $(O)/kernel.elf
	$(Q)$(OBJCOPY) -O binary $< $@

$(O)/kernel.its: platform/kernel.its.in $(O)/kernel.bin
	$(Q)sed -e 's|@KERNEL_BIN@|kernel.bin|' -e 's|@LOAD@|$(PLAT_LOAD_ADDR)|g' \
		-e 's|@BOARD@|$(PLAT_NAME)|g' $< > $@

$(O)/kernel.itb: $(O)/kernel.its $(O)/kernel.bin
	$(Q)echo "  MKIMAGE $@"
	$(Q)cd $(O) && mkimage -q -f kernel.its kernel.itb

-include $(filter-out $(O)/libfdt/%,$(kobjs:.o=.d))

include platform/keys.mk

include update/demos/demos.mk

# --- running -----------------------------------------------------------------
include platform/run.mk

# --- tests and benchmarks ------------------------------------------------------
include test/unit/unit.mk
include test/qemu/qemu.mk
include test/fuzz/fuzz.mk

boards: | $(DEPS_STAMP)
	$(Q)for b in $(BOARDS); do $(MAKE) --no-print-directory BOARD=$$b all || exit 1; done

clean:
	rm -rf build/qemu-virt build/hifive-unleashed build/hifive-unmatched build/unit build/test build/fuzz
distclean:
	rm -rf build

# Every test: host unit tests, a short run of every fuzz target over its
# seeds and regression inputs, the host tool's tests, every board builds,
# QEMU integration tests.
test: | $(DEPS_STAMP)
	$(Q)$(MAKE) --no-print-directory unit
	$(Q)$(MAKE) --no-print-directory fuzz-smoke
	$(Q)$(MAKE) --no-print-directory ota-test
	$(Q)$(MAKE) --no-print-directory fleet-test
	$(Q)$(MAKE) --no-print-directory boards
	$(Q)$(MAKE) --no-print-directory qemu-test

# ota-server/ tool tests (pytest; only 127.0.0.1 traffic).
ota-test: $(O)/kernel.elf | $(DEPS_STAMP)
	$(Q)PYTHONDONTWRITEBYTECODE=1 $(HOSTPY) -m pytest -q -p no:cacheprovider test/ota

# Fleet updates over MQTT, host side (a private mosquitto on a random
# 127.0.0.1 port, `ota.py serve`, simulated boards; test/fleet).
fleet-test: | $(DEPS_STAMP)
	$(Q)PYTHONDONTWRITEBYTECODE=1 $(HOSTPY) -m pytest -q -p no:cacheprovider test/fleet

# Pull rollouts to 100, 1000 and 10,000 simulated boards, then real boards among
# 1000 simulated ones (test/bench/fleet_bench.py).
# The last case mixes real qemu-virt boards in (their kernel and demo packs).
bench-fleet: | $(DEPS_STAMP)
	$(Q)$(MAKE) --no-print-directory BOARD=qemu-virt build/qemu-virt/kernel.elf build/qemu-virt/kernel-demo.elf
	$(Q)$(HOSTPY) test/bench/fleet_bench.py $(FLEET_BENCH_ARGS)

# Benchmarks: the kernel's own (test/bench/run_bench.py: OTT, live update,
# OTA, journal), then, on qemu-virt, the fleet rollouts (bench-fleet).
bench: $(O)/kernel.elf $(if $(filter qemu-virt,$(BOARD)),$(O)/kernel-demo.elf) | $(DEPS_STAMP)
	$(Q)$(HOSTPY) test/bench/run_bench.py --board $(BOARD)
	$(Q)$(if $(filter qemu-virt,$(BOARD)),echo; $(MAKE) --no-print-directory bench-fleet)
