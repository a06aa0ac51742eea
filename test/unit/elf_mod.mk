# Fixtures for test_elf_mod (included from unit.mk).
#
# Every test/unit/elf_mod/*.c and *.S is compiled with the kernel's code
# model in each variant below into build/unit/elf_mod/<variant>/<name>.o;
# the m_* fixtures are also linked by GNU ld (link.ld, --no-relax) at the
# addresses and with the external symbols of ext_syms.h, into <name>.elf.
# test_elf_mod finds them next to its binary (override: ELF_MOD_DIR) and
# compares its own link with ld's byte for byte. Nothing here is committed.

ELFMOD_SRC    := test/unit/elf_mod
ELFMOD_O      := $(UNIT_O)/elf_mod
ELFMOD_CC     := riscv64-unknown-elf-gcc
ELFMOD_LD     := riscv64-unknown-elf-ld
ELFMOD_CFLAGS := -march=rv64imac_zicsr_zifencei -mabi=lp64 -mcmodel=medany \
	-O2 -fno-common -ffreestanding -Wall -Werror

# relax: default; norelax: -mno-relax; eh: .eh_frame instead of
# .debug_frame; fsect: one section per function and object.
ELFMOD_VARIANTS     := relax norelax eh fsect
ELFMOD_VFLAGS_relax   := -g
ELFMOD_VFLAGS_norelax := -g -mno-relax
ELFMOD_VFLAGS_eh      := -fasynchronous-unwind-tables
ELFMOD_VFLAGS_fsect   := -g -ffunction-sections -fdata-sections
# Per-fixture flags.
ELFMOD_FFLAGS_bad_common := -fcommon

ELFMOD_NAMES := $(sort $(basename $(notdir $(wildcard $(ELFMOD_SRC)/*.c $(ELFMOD_SRC)/*.S))))
ELFMOD_MODS  := $(filter m_%,$(ELFMOD_NAMES))
ELFMOD_OUT   := $(foreach v,$(ELFMOD_VARIANTS),\
	$(patsubst %,$(ELFMOD_O)/$(v)/%.o,$(ELFMOD_NAMES)) \
	$(patsubst %,$(ELFMOD_O)/$(v)/%.elf,$(ELFMOD_MODS)))

ELFMOD_ADDR   = $(shell sed -n 's/^\#define ELFMOD_$(1)_ADDR \(0x[0-9a-fA-F]*\).*/\1/p' $(ELFMOD_SRC)/ext_syms.h)
ELFMOD_LDFLAGS = --no-relax -e 0 -T $(ELFMOD_SRC)/link.ld \
	--section-start=.mtext=$(call ELFMOD_ADDR,TEXT) \
	--section-start=.mdata=$(call ELFMOD_ADDR,DATA) \
	$(shell sed -n 's/^EXT(\([A-Za-z_0-9]*\), *\(0x[0-9a-fA-F]*\)).*/--defsym=\1=\2/p' $(ELFMOD_SRC)/ext_syms.h)

define elfmod_variant
$(ELFMOD_O)/$(1)/%.o: $(ELFMOD_SRC)/%.c test/unit/elf_mod.mk | $(DEPS_STAMP)
	@mkdir -p $$(@D)
	$(Q)$(ELFMOD_CC) $(ELFMOD_CFLAGS) $(ELFMOD_VFLAGS_$(1)) $$(ELFMOD_FFLAGS_$$*) -c $$< -o $$@
$(ELFMOD_O)/$(1)/%.o: $(ELFMOD_SRC)/%.S test/unit/elf_mod.mk | $(DEPS_STAMP)
	@mkdir -p $$(@D)
	$(Q)$(ELFMOD_CC) $(ELFMOD_CFLAGS) $(ELFMOD_VFLAGS_$(1)) -c $$< -o $$@
$(ELFMOD_O)/$(1)/%.elf: $(ELFMOD_O)/$(1)/%.o $(ELFMOD_SRC)/link.ld $(ELFMOD_SRC)/ext_syms.h
	$(Q)$(ELFMOD_LD) $$(ELFMOD_LDFLAGS) $$< -o $$@
endef
$(foreach v,$(ELFMOD_VARIANTS),$(eval $(call elfmod_variant,$(v))))

$(ELFMOD_O)/.built: $(ELFMOD_OUT)
	@echo "  FIXTURE $(ELFMOD_O) ($(words $(ELFMOD_OUT)) files)"
	@touch $@

# The test binary runs only after its fixtures exist.
$(UNIT_O)/test_elf_mod: $(ELFMOD_O)/.built $(ELFMOD_SRC)/ext_syms.h
