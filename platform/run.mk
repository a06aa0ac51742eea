# Running a board in QEMU. Included by the top Makefile.
#   make run                  direct boot: OpenSBI fw_dynamic + kernel.elf
#   make run BOOT=uboot       OpenSBI + U-Boot (S-mode), which bootm's kernel.itb
#   make debug                like run, but halted with a gdb stub on :1234
#   ARGS="..."                kernel command line (e.g. ARGS="shutdown=5")
#   NET=user (default)        QEMU user networking, restrict=on (the guest reaches
#                             nothing outside), 127.0.0.1:$(HOSTPORT) forwarded to
#                             the agent's port 8080;  NET=none: no network at all
#   BROKER=<port>             pull updates (docs/fleet.md): the guest's 10.0.2.100:1883
#                             reaches an MQTT broker on 127.0.0.1:<port>, and
#   PACKS=<port>              its 10.0.2.100:8000 an `ota.py serve` on 127.0.0.1:<port>;
#                             each guest connection is relayed by ota-server/guestfwd.py.
#                             Boot with ARGS="mqtt=10.0.2.100:1883 id=<name>".
#   STATE=keep (default)      attach the board's state image $(STATE_IMG)
#                             (build/<board>/state.img), made empty on first use,
#                             so updates survive `reboot` and a killed QEMU;
#   STATE=fresh               start from a new empty image;  STATE=none: no state
#                             device (the board runs volatile)
# The console stays on the terminal and is also written to build/<board>/uart.log.

SMP  ?= $(PLAT_QEMU_SMP)
MEM  ?= $(PLAT_QEMU_MEM)
ARGS ?=

QEMU_CONSOLE = -nographic -chardev stdio,id=con0,mux=on,signal=on,logfile=$(O)/uart.log \
	-serial chardev:con0 -mon chardev=con0,mode=readline
NET      ?= user
HOSTPORT ?= 8080
# Always explicit: without network options QEMU would attach an unrestricted
# user-mode network to boards with a built-in NIC (sifive_u's GEM).
comma    := ,
BROKER   ?=
PACKS    ?=
GUESTFWD  = guestfwd=tcp:10.0.2.100:$(1)-cmd:$(HOSTPY) -I -S $(CURDIR)/ota-server/guestfwd.py 127.0.0.1 $(2)
QEMU_PULL = $(if $(BROKER),$(comma)$(call GUESTFWD,1883,$(BROKER)))$(if $(PACKS),$(comma)$(call GUESTFWD,8000,$(PACKS)))

ifeq ($(NET),user)
QEMU_NET = -netdev "user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:$(HOSTPORT)-:8080$(QEMU_PULL)" $(PLAT_QEMU_NIC)
else
QEMU_NET = -nic none
endif
QEMU_BASE = $(QEMU) -M $(PLAT_QEMU_MACHINE) -smp $(SMP) -m $(MEM) $(PLAT_QEMU_EXTRA) $(PLAT_QEMU_END) $(QEMU_NET)

# The state image: size, fill and QEMU options per board (platform.mk:
# PLAT_STATE_SIZE, PLAT_STATE_FILL 0x00 (sparse) or 0xff (erased NOR),
# PLAT_QEMU_STATE). An existing image is kept whatever its size.
STATE     ?= keep
STATE_IMG ?= $(O)/state.img
ifeq ($(filter $(STATE),keep fresh none),)
$(error STATE=$(STATE): choose keep, fresh or none)
endif
ifneq ($(and $(PLAT_STATE_SIZE),$(filter-out none,$(STATE))),)
QEMU_STATE = $(PLAT_QEMU_STATE)
STATE_DEPS = state-img
endif
QEMU_DIRECT = $(QEMU_BASE) $(QEMU_STATE) -bios $(OPENSBI) -kernel $(O)/kernel.elf -append "$(ARGS)"

ifeq ($(BOOT),uboot)
RUN_DEPS = $(O)/kernel.itb $(O)/uboot-disk.img $(STATE_DEPS)
QEMU_CMD = $(QEMU_UBOOT)
else
RUN_DEPS = $(O)/kernel.elf $(STATE_DEPS)
QEMU_CMD = $(QEMU_DIRECT)
endif

.PHONY: state-img
state-img:
	@test -n "$(PLAT_STATE_SIZE)" || { echo "BOARD=$(BOARD) has no state image"; exit 1; }
	$(Q)if [ "$(STATE)" = fresh ] || [ ! -e "$(STATE_IMG)" ]; then \
		echo "  STATE   $(STATE_IMG) ($(PLAT_STATE_SIZE), empty)"; \
		mkdir -p "$(dir $(STATE_IMG))" && rm -f "$(STATE_IMG)" "$(STATE_IMG).tmp" && \
		$(if $(filter 0xff,$(PLAT_STATE_FILL)), \
			head -c $(PLAT_STATE_SIZE) /dev/zero | LC_ALL=C tr '\000' '\377' > "$(STATE_IMG).tmp", \
			truncate -s $(PLAT_STATE_SIZE) "$(STATE_IMG).tmp") && \
		mv "$(STATE_IMG).tmp" "$(STATE_IMG)"; \
	fi

run: $(RUN_DEPS) | $(DEPS_STAMP)
	@test -n "$(PLAT_QEMU_MACHINE)" || { echo "BOARD=$(BOARD) has no emulator; see README"; exit 1; }
	@echo "run: $(BOARD), $(SMP) harts; quit with Ctrl-A X; log in $(O)/uart.log"
	$(QEMU_CMD) $(QEMU_CONSOLE)

debug: $(RUN_DEPS) | $(DEPS_STAMP)
	@test -n "$(PLAT_QEMU_MACHINE)" || { echo "BOARD=$(BOARD) has no emulator"; exit 1; }
	@echo "debug: QEMU is halted and waits for gdb on localhost:1234. In another terminal:"
	@echo "  gdb-multiarch $(O)/kernel.elf -ex 'target remote localhost:1234'"
	$(QEMU_CMD) $(QEMU_CONSOLE) -S -gdb tcp:127.0.0.1:1234

include platform/uboot.mk
