# Host unit tests (cmocka), built with AddressSanitizer and UBSan.
# Every test/unit/test_<name>.c is a test binary. Its first lines declare
# what else it links, so no shared list needs editing:
#   // unit-srcs: src/page_pool.c src/kheap.c
#   // unit-libs: -lfdt
#   // unit-cflags: -Itest/unit/hostinc   (searched before include/: host
#                                          stand-ins for target-only headers)
# Real devicetrees dumped from QEMU are made in build/unit/dtb/ and passed
# to the tests as UNIT_DTB_DIR, with the blobs dtc compiles from
# test/unit/dts/*.dts (hand-written cases QEMU never generates).

UNIT_O      := build/unit
UNIT_TESTS  := $(patsubst test/unit/test_%.c,%,$(wildcard test/unit/test_*.c))
UNIT_CFLAGS := -std=gnu11 -g -O1 -fsanitize=address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer -Wall -Wextra -Werror -Wno-unused-parameter \
	-Iinclude -Itest/unit -DHOST_TEST
UNIT_DTBS   := $(UNIT_O)/dtb/virt-smp1.dtb $(UNIT_O)/dtb/virt-smp4.dtb $(UNIT_O)/dtb/sifive_u-smp5.dtb \
	$(patsubst test/unit/dts/%.dts,$(UNIT_O)/dtb/%.dtb,$(wildcard test/unit/dts/*.dts))

include test/unit/fit_sig.mk
include test/unit/pack.mk
include test/unit/elf_mod.mk

unit-srcs = $(shell sed -n 's|^// unit-srcs: ||p' test/unit/test_$(1).c)
unit-libs = $(shell sed -n 's|^// unit-libs: ||p' test/unit/test_$(1).c)
unit-cflags = $(shell sed -n 's|^// unit-cflags: ||p' test/unit/test_$(1).c)

define unit_rule
$(UNIT_O)/test_$(1): test/unit/test_$(1).c $(call unit-srcs,$(1)) $(wildcard include/kernel/*.h) | $(DEPS_STAMP)
	@mkdir -p $$(@D)
	@echo "  HOSTCC  $$@"
	$(Q)gcc $(call unit-cflags,$(1)) $(UNIT_CFLAGS) -o $$@ test/unit/test_$(1).c $(call unit-srcs,$(1)) -lcmocka $(call unit-libs,$(1))
endef
$(foreach t,$(UNIT_TESTS),$(eval $(call unit_rule,$(t))))

$(UNIT_O)/dtb/virt-smp%.dtb: | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(Q)$(QEMU) -M virt,dumpdtb=$@ -smp $* -m 256M -nographic >/dev/null 2>&1
$(UNIT_O)/dtb/sifive_u-smp%.dtb: | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(Q)$(QEMU) -M sifive_u,dumpdtb=$@ -smp $* -m 512M -nographic >/dev/null 2>&1
$(UNIT_O)/dtb/%.dtb: test/unit/dts/%.dts | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(Q)dtc -q -I dts -O dtb -o $@ $<

# Runs every unit test; prints one summary line; fails if any failed.
unit: $(addprefix $(UNIT_O)/test_,$(UNIT_TESTS)) $(UNIT_DTBS)
	@pass=0; fail=0; failed=""; \
	for t in $(UNIT_TESTS); do \
		if UNIT_DTB_DIR=$(UNIT_O)/dtb $(UNIT_O)/test_$$t > $(UNIT_O)/test_$$t.log 2>&1; then \
			pass=$$((pass+1)); echo "  PASS    unit/$$t"; \
		else fail=$$((fail+1)); failed="$$failed $$t"; echo "  FAIL    unit/$$t"; \
			sed 's/^/    /' $(UNIT_O)/test_$$t.log | tail -40; fi; \
	done; \
	echo "unit: $$pass passed, $$fail failed"; \
	[ $$fail -eq 0 ]
