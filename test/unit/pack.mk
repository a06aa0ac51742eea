# Update packs for test_pack, made at test-build time by the real mkimage
# from the .its files in test/unit/pack/ and deterministic payloads (a
# SHA-256 counter stream seeded by the file name, so every build makes the
# same bytes). Everything generated goes to build/unit/pack/, never into
# the tree. Included by test/unit/unit.mk; test_pack finds the packs at
# $PACK_DIR, default build/unit/pack (the unit runner's working directory
# is the top of the tree).

PACK_O      := $(UNIT_O)/pack
PACK_BINS   := $(PACK_O)/p1.bin $(PACK_O)/p2.bin $(PACK_O)/p3.bin
PACK_ITBS   := $(PACK_O)/one.itb $(PACK_O)/three.itb $(PACK_O)/three-ext.itb \
	$(PACK_O)/three-pos.itb
# SOURCE_DATE_EPOCH pins the FIT timestamp, so the blobs are reproducible too
PACK_MKIMAGE = cp $< $(PACK_O)/$*.its && cd $(PACK_O) && SOURCE_DATE_EPOCH=0 mkimage -q

# Sizes not a multiple of 4, so external data needs mkimage's padding.
pack-size-p1 := 517
pack-size-p2 := 3
pack-size-p3 := 4099

$(PACK_O)/%.bin: test/unit/pack.mk
	@mkdir -p $(@D)
	$(Q)$(HOSTPY) -c 'import hashlib, sys; n = int(sys.argv[1]); seed = sys.argv[2].encode(); \
		sys.stdout.buffer.write(b"".join(hashlib.sha256(seed + b"%d" % i).digest() \
		for i in range(n // 32 + 1))[:n])' $(pack-size-$*) $* > $@

# Make tries the pattern with the shortest stem first, so three-ext.itb
# and three-pos.itb take these two rules, not the plain one.
$(PACK_O)/%-ext.itb: test/unit/pack/%.its $(PACK_BINS) | $(DEPS_STAMP)
	@echo "  MKIMAGE $@"
	$(Q)$(PACK_MKIMAGE) -E -f $*.its $*-ext.itb

$(PACK_O)/%-pos.itb: test/unit/pack/%.its $(PACK_BINS) | $(DEPS_STAMP)
	@echo "  MKIMAGE $@"
	$(Q)$(PACK_MKIMAGE) -E -p 0x1000 -f $*.its $*-pos.itb

$(PACK_O)/%.itb: test/unit/pack/%.its $(PACK_BINS) | $(DEPS_STAMP)
	@echo "  MKIMAGE $@"
	$(Q)$(PACK_MKIMAGE) -f $*.its $*.itb

# the test compares what it parses with the payload files
$(UNIT_O)/test_pack: $(PACK_ITBS) $(PACK_BINS)
