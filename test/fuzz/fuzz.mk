# libFuzzer targets over the kernel's pure code (docs/fuzzing.md). Built
# for the host with Debian's clang-14 (-fsanitize=fuzzer,address,undefined),
# from the same sources and with the same include overrides as the unit
# tests (test/unit/unit.mk). Included by the top Makefile.
#
#   make fuzz         FUZZ_RUNS executions (default 1,000,000) of every target
#                     in turn; prints executions, coverage (cov/ft) and crashes
#   make fuzz-smoke   every target briefly (FUZZ_SMOKE_RUNS) over its seeds and
#                     every regression input; fails on any crash (part of
#                     `make test`)
#   make fuzz FUZZ_TARGETS=tcp FUZZ_RUNS=10000000    one target, longer
#   make fuzz-cov     line coverage of the kernel sources by each target's
#                     inputs (seeds, regression inputs and what make fuzz
#                     kept), measured with llvm-cov on a separate build
#
# Adding a target: write test/fuzz/fuzz_<name>.c, whose first lines say what
# it links (as the unit tests do):
#   // fuzz-srcs: update/http.c src/devtree.c libfdt   (libfdt: build/libfdt)
#   // fuzz-cflags: -Itest/unit/hostinc
# and add <name> to FUZZ_TARGETS. Inputs: test/fuzz/corpus/<name>/ (seeds,
# committed), test/fuzz/regress/<name>/ (every crash found, kept), and for
# some targets seeds made at build time in build/fuzz/seeds/<name>/.
# Everything generated goes to build/fuzz/.

FUZZ_TARGETS    := pack elf http tcp journal
FUZZ_RUNS       ?= 1000000
FUZZ_SMOKE_RUNS ?= 20000
FUZZ_O          := build/fuzz
FUZZ_CC         := clang-14
FUZZ_CFLAGS     := -std=gnu11 -g -O1 -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=all -fno-omit-frame-pointer -Wall -Wextra -Werror \
	-Wno-unused-parameter -Iinclude -Itest/unit -I$(FUZZ_O) -DHOST_TEST -DFUZZ_TEST
# libfdt's own sources, built with the harness (instrumented, not -lfdt)
FUZZ_LIBFDT     := $(addprefix $(LIBFDT_DIR)/,fdt.c fdt_ro.c fdt_strerror.c)
FUZZ_LIBFDT_CFLAGS := -I$(LIBFDT_DIR)

fuzz-srcs   = $(patsubst libfdt,$(FUZZ_LIBFDT),$(shell sed -n 's|^// fuzz-srcs: ||p' test/fuzz/fuzz_$(1).c))
fuzz-cflags = $(shell sed -n 's|^// fuzz-cflags: ||p' test/fuzz/fuzz_$(1).c) \
	$(if $(filter libfdt,$(shell sed -n 's|^// fuzz-srcs: ||p' test/fuzz/fuzz_$(1).c)),$(FUZZ_LIBFDT_CFLAGS))

.PHONY: fuzz fuzz-smoke fuzz-build fuzz-cov
$(FUZZ_LIBFDT): | $(LIBFDT_STAMP) ;

define fuzz_rule
$(FUZZ_O)/fuzz_$(1): test/fuzz/fuzz_$(1).c $(call fuzz-srcs,$(1)) $(wildcard include/kernel/*.h) \
		test/fuzz/fuzz.mk | $(DEPS_STAMP)
	@mkdir -p $$(@D)
	@echo "  FUZZCC  $$@"
	$(Q)$(FUZZ_CC) $(call fuzz-cflags,$(1)) $(FUZZ_CFLAGS) -o $$@ test/fuzz/fuzz_$(1).c \
		$(call fuzz-srcs,$(1))
endef
$(foreach t,$(FUZZ_TARGETS),$(eval $(call fuzz_rule,$(t))))

# The same harnesses with clang's source-based coverage instead of the
# sanitizers, for fuzz-cov.
FUZZ_COV_CFLAGS := $(filter-out -fsanitize=% -fno-sanitize-recover=%,$(FUZZ_CFLAGS)) \
	-fsanitize=fuzzer -fprofile-instr-generate -fcoverage-mapping
define fuzz_cov_rule
$(FUZZ_O)/cov/fuzz_$(1): test/fuzz/fuzz_$(1).c $(call fuzz-srcs,$(1)) $(wildcard include/kernel/*.h) \
		test/fuzz/fuzz.mk | $(DEPS_STAMP)
	@mkdir -p $$(@D)
	@echo "  FUZZCC  $$@ (coverage)"
	$(Q)$(FUZZ_CC) $(call fuzz-cflags,$(1)) $(FUZZ_COV_CFLAGS) -o $$@ test/fuzz/fuzz_$(1).c \
		$(call fuzz-srcs,$(1))
endef
$(foreach t,$(FUZZ_TARGETS),$(eval $(call fuzz_cov_rule,$(t))))

# --- what single targets need --------------------------------------------
# pack: the kernel's public key dtb is the unit tests' dev key (made fresh
# by test/unit/fit_sig.mk), compiled into the harness; its seeds are the
# unit tests' packs, signed with that key at test-build time.
$(FUZZ_O)/fuzz_keys.h: $(FS_O)/keys-signed.dtb test/fuzz/fuzz.mk
	@mkdir -p $(@D)
	$(Q)$(HOSTPY) -c 'import sys; b = open(sys.argv[1], "rb").read(); \
		print("/* generated from %s by test/fuzz/fuzz.mk */" % sys.argv[1]); \
		print("static const unsigned char fuzz_keys_dtb[] __attribute__((aligned(8))) = {"); \
		[print("\t" + "".join("0x%02x," % c for c in b[i:i + 16])) for i in range(0, len(b), 16)]; \
		print("};")' $< > $@.tmp && mv $@.tmp $@
$(FUZZ_O)/fuzz_pack: $(FUZZ_O)/fuzz_keys.h

# (plus one.itb and three.itb with a kernel description after the FIT, see
# fuzz_pack.c: <pack>:<name>:<counter version or ->:<sched version or ->,
# the last sequence number 6 and ABI lukos-abi-1 in each)
FUZZ_PACK_TAILS := one:kernel:1:2 three:kernel:1:2 one:gap:0:2 one:noreq:1:-
$(FUZZ_O)/seeds/pack/.made: $(PACK_ITBS) $(FS_ITBS) test/fuzz/fuzz.mk
	@rm -rf $(@D) && mkdir -p $(@D)
	$(Q)for f in $(filter %.itb,$^); do cp $$f $(@D)/$$(basename $$(dirname $$f))-$$(basename $$f); done
	$(Q)for t in $(FUZZ_PACK_TAILS); do $(HOSTPY) -c 'import struct, sys; \
		p, name, c, s = sys.argv[2].split(":"); \
		cls = lambda v: b"\x00" * 5 if v == "-" else b"\x01" + struct.pack("<I", int(v)); \
		sys.stdout.buffer.write(open(sys.argv[1] % p, "rb").read() + bytes([0]) + \
		struct.pack("<I", 6) + cls(c) + cls(s))' $(PACK_O)/%s.itb $$t \
		> $(@D)/pack-$$(echo $$t | cut -d: -f1,2 | tr : -).itb; done
	@touch $@

# elf: every fixture of test/unit/elf_mod.mk, each variant
$(FUZZ_O)/seeds/elf/.made: $(ELFMOD_O)/.built test/fuzz/fuzz.mk
	@rm -rf $(@D) && mkdir -p $(@D)
	$(Q)for v in $(ELFMOD_VARIANTS); do for f in $(ELFMOD_O)/$$v/*.o; do \
		cp $$f $(@D)/$$v-$$(basename $$f); done; done
	@touch $@

$(FUZZ_O)/seeds/%/.made:
	@mkdir -p $(@D) && touch $@

FUZZ_SEEDS := $(foreach t,$(FUZZ_TARGETS),$(FUZZ_O)/seeds/$(t)/.made)

fuzz-build: $(addprefix $(FUZZ_O)/fuzz_,$(FUZZ_TARGETS)) $(FUZZ_SEEDS)

# One target at a time (the machine is shared): test/fuzz/run.sh prints a
# summary line per target and fails if any crashed.
fuzz: fuzz-build
	$(Q)test/fuzz/run.sh long $(FUZZ_RUNS) $(FUZZ_TARGETS)

fuzz-smoke: fuzz-build
	$(Q)test/fuzz/run.sh smoke $(FUZZ_SMOKE_RUNS) $(FUZZ_TARGETS)

fuzz-cov: $(addprefix $(FUZZ_O)/cov/fuzz_,$(FUZZ_TARGETS)) $(FUZZ_SEEDS)
	$(Q)test/fuzz/run.sh cov 0 $(FUZZ_TARGETS)
