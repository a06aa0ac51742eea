# Demo update modules and the packs built from them (update/demos/packs.txt),
# embedded into build/<board>/kernel-demo.elf. Included by the top Makefile.

DEMO_SRC     := update/demos
DEMO_O       := $(O)/demos
DEMO_MODS    := $(patsubst $(DEMO_SRC)/%.c,%,$(wildcard $(DEMO_SRC)/*.c))
DEMO_MOD_OBJ := $(addprefix $(DEMO_O)/mod/,$(addsuffix .o,$(DEMO_MODS)))
# Modules are built exactly like kernel objects, against the same headers.
# -mno-relax: the loader does not relax, so no R_RISCV_ALIGN it would need to honour.
MODCFLAGS    := $(KCFLAGS) -I. -mno-relax

$(DEMO_O)/mod/%.o: $(DEMO_SRC)/%.c | $(DEPS_STAMP) $(LIBFDT_STAMP)
	$(Q)mkdir -p $(@D)
	$(Q)echo "  MODCC   $<"
	$(Q)$(CC) $(MODCFLAGS) -MMD -MP -MF $@.d -MT $@ -c $< -o $@.full
	$(Q)$(OBJCOPY) --strip-debug $@.full $@

# Not an ELF object at all, though it starts like one: for the rejection tests.
$(DEMO_O)/mod/garbage.bin:
	$(Q)mkdir -p $(@D)
	$(Q)$(HOSTPY) -c "import sys; sys.stdout.buffer.write(b'\x7fELF\x02\x01\x01' + bytes((i * 37 + 11) & 255 for i in range(3000)))" > $@

# Benchmark modules: bench_<class>_<from>.o from one source, e.g. bench_bench1000_1.o.
BENCH_MODS   := $(foreach c,benchwarm bench1 bench1000 bench100000 benchstw,$(foreach v,1 2,bench_$(c)_$(v)))
BENCH_MOD_OBJ := $(addprefix $(DEMO_O)/mod/,$(addsuffix .o,$(BENCH_MODS)))
$(DEMO_O)/mod/bench_%.o: $(DEMO_SRC)/bench/bench_mod.c | $(DEPS_STAMP) $(LIBFDT_STAMP)
	$(Q)mkdir -p $(@D)
	$(Q)echo "  MODCC   bench $*"
	$(Q)$(CC) $(MODCFLAGS) -DBCLASS='"$(word 1,$(subst _, ,$*))"' -DBFROM=$(word 2,$(subst _, ,$*)) \
		-MMD -MP -MF $@.d -MT $@ -c $< -o $@.full
	$(Q)$(OBJCOPY) --strip-debug $@.full $@

# The OTA throughput module (1 MiB of read-only data; test/bench/ota_bench.py).
# An explicit rule: the bench_% pattern above would build it from bench_mod.c.
OTA_MOD_OBJ  := $(DEMO_O)/mod/bench_1m.o
$(DEMO_O)/mod/bench_1m.o: $(DEMO_SRC)/bench/bench_1m.c | $(DEPS_STAMP) $(LIBFDT_STAMP)
	$(Q)mkdir -p $(@D)
	$(Q)echo "  MODCC   $<"
	$(Q)$(CC) $(MODCFLAGS) -MMD -MP -MF $@.d -MT $@ -c $< -o $@.full
	$(Q)$(OBJCOPY) --strip-debug $@.full $@

# A second key the kernel does not trust, for the "signed by another key" test pack.
OTHER_KEYDIR := build/keys-other
$(OTHER_KEYDIR)/$(KEY_NAME).key:
	$(Q)mkdir -p $(@D)
	$(Q)openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out $@ 2>/dev/null
$(OTHER_KEYDIR)/$(KEY_NAME).crt: $(OTHER_KEYDIR)/$(KEY_NAME).key
	$(Q)openssl req -batch -new -x509 -days 36500 -key $< -out $@ -subj "/CN=other" 2>/dev/null

$(DEMO_O)/packs.S: $(DEMO_SRC)/packs.txt ota-server/packtool.py $(DEMO_MOD_OBJ) $(BENCH_MOD_OBJ) $(OTA_MOD_OBJ) \
		$(DEMO_O)/mod/garbage.bin $(KEYDIR)/$(KEY_NAME).crt $(OTHER_KEYDIR)/$(KEY_NAME).crt | $(DEPS_STAMP)
	$(Q)echo "  PACKS   $(DEMO_SRC)/packs.txt (signed with $(KEYDIR)/$(KEY_NAME))"
	$(Q)$(HOSTPY) ota-server/packtool.py batch $(DEMO_SRC)/packs.txt --modules $(DEMO_O)/mod \
		--out $(DEMO_O)/packs --asm $@ --keys $(KEYDIR) --key-name $(KEY_NAME) \
		--other-keys $(OTHER_KEYDIR)

$(DEMO_O)/packs.o: $(DEMO_O)/packs.S
	$(Q)$(CC) $(KASFLAGS) -c $< -o $@

$(O)/kernel-demo.elf: $(kobjs) $(DEMO_O)/packs.o $(O)/kernel.ld
	$(Q)echo "  LD      $@"
	$(Q)$(CC) $(KLDFLAGS) -T $(O)/kernel.ld $(kobjs) $(DEMO_O)/packs.o -o $@ -lc -lgcc

# Header dependencies (-MF <obj>.d -MT <obj>): a module is rebuilt when a
# kernel header it includes changes, as kernel objects are.
-include $(DEMO_MOD_OBJ:=.d) $(BENCH_MOD_OBJ:=.d) $(OTA_MOD_OBJ:=.d)

.PHONY: demo
# Boots qemu-virt (4 harts) with the demo packs, applies them in turn while
# the workload runs, prints the UART log, and checks every step.
demo: $(O)/kernel-demo.elf | $(DEPS_STAMP)
	$(Q)$(HOSTPY) test/demo/run_demo.py --kernel $(O)/kernel-demo.elf --packs $(DEMO_SRC)/packs.txt

# For ota-server/ota.py build: how this kernel compiles update modules.
# $(info) prints the values as make hands them to the shell (shell syntax);
# an echo through the shell would drop the quotes of -DPLAT_NAME='"..."'.
.PHONY: print-modcflags
print-modcflags:
	$(info CC=$(CC))
	$(info OBJCOPY=$(OBJCOPY))
	$(info MODCFLAGS=$(MODCFLAGS))
	@:
