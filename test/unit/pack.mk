# Update packs for test_pack, made at test-build time by the real mkimage
# from the .its files in test/unit/pack/ and deterministic payloads (a
# SHA-256 counter stream seeded by the file name, so every build makes the
# same bytes). Everything generated goes to build/unit/pack/, never into
# the tree. Included by test/unit/unit.mk; test_pack finds the packs at
# $PACK_DIR, default build/unit/pack (the unit runner's working directory
# is the top of the tree).
#
#   one, three        the packs of docs/pack-format.md (three also -E, -E -p)
#   edge              one step whose properties sit at the edges the parser
#                     accepts, with hash nodes beside the sha256 one
#   sha1              step-2 hashed with sha1 and crc32 only
#   max               PACK_MAX_STEPS steps, and a 17th image not loaded
#   one-other         one.its signed with fit_sig.mk's other/dev key (same
#                     hint "dev", another key)
#   one-unsigned      one.its through mkimage without a key: the signature
#                     node is left as the .its has it, without a value

PACK_O      := $(UNIT_O)/pack
PACK_BINS   := $(PACK_O)/p1.bin $(PACK_O)/p2.bin $(PACK_O)/p3.bin
PACK_ITBS   := $(PACK_O)/one.itb $(PACK_O)/three.itb $(PACK_O)/three-ext.itb \
	$(PACK_O)/three-pos.itb $(PACK_O)/edge.itb $(PACK_O)/sha1.itb $(PACK_O)/max.itb \
	$(PACK_O)/one-other.itb $(PACK_O)/one-unsigned.itb
# SOURCE_DATE_EPOCH pins the FIT timestamp, so the blobs are reproducible too
# Signed with fit_sig.mk's dev key (pack-keydir picks another directory of
# fit_sig.mk's keys): the parser refuses unsigned packs.
# (mkimage 2023.01 crashes signing external-data FITs without -K, so each
# run gets a scratch key dtb.) Each run copies the .its to a name of its
# own: several packs are made from one .its, maybe at the same time.
pack-keydir  = keys
PACK_ITS     = cp $< $(PACK_O)/$(@F).its && cd $(PACK_O) && SOURCE_DATE_EPOCH=0
PACK_MKIMAGE = cp $(FS_O)/empty.dtb $(PACK_O)/$(@F).key.dtb && $(PACK_ITS) \
	mkimage -q -r -k $(abspath $(FS_O)/$(pack-keydir)) -K $(@F).key.dtb

# Sizes not a multiple of 4, so external data needs mkimage's padding.
pack-size-p1 := 517
pack-size-p2 := 3
pack-size-p3 := 4099

$(PACK_O)/%.bin: test/unit/pack.mk
	@mkdir -p $(@D)
	$(Q)$(HOSTPY) -c 'import hashlib, sys; n = int(sys.argv[1]); seed = sys.argv[2].encode(); \
		sys.stdout.buffer.write(b"".join(hashlib.sha256(seed + b"%d" % i).digest() \
		for i in range(n // 32 + 1))[:n])' $(pack-size-$*) $* > $@

# Make tries the pattern with the shortest stem first, so three-ext.itb,
# three-pos.itb, one-other.itb and one-unsigned.itb take these rules, not
# the plain one.
$(PACK_O)/%-ext.itb: test/unit/pack/%.its $(PACK_BINS) | $(DEPS_STAMP)
	@echo "  MKIMAGE $@"
	$(Q)$(PACK_MKIMAGE) -E -f $(@F).its $(@F) >/dev/null

$(PACK_O)/%-pos.itb: test/unit/pack/%.its $(PACK_BINS) | $(DEPS_STAMP)
	@echo "  MKIMAGE $@"
	$(Q)$(PACK_MKIMAGE) -E -p 0x1000 -f $(@F).its $(@F) >/dev/null

$(PACK_O)/%-other.itb: pack-keydir = other
$(PACK_O)/%-other.itb: test/unit/pack/%.its $(PACK_BINS) | $(DEPS_STAMP)
	@echo "  MKIMAGE $@"
	$(Q)$(PACK_MKIMAGE) -f $(@F).its $(@F) >/dev/null

$(PACK_O)/%-unsigned.itb: test/unit/pack/%.its $(PACK_BINS) | $(DEPS_STAMP)
	@echo "  MKIMAGE $@"
	$(Q)$(PACK_ITS) mkimage -q -f $(@F).its $(@F)

$(PACK_O)/%.itb: test/unit/pack/%.its $(PACK_BINS) | $(DEPS_STAMP)
	@echo "  MKIMAGE $@"
	$(Q)$(PACK_MKIMAGE) -f $(@F).its $(@F) >/dev/null

# the test compares what it parses with the payload files; it also takes
# fit_sig.mk's key dtbs (the dev key, required or not; the other one; none
# at all) and its other.itb
$(PACK_ITBS): $(FS_O)/keys/dev.key $(FS_O)/keys/dev.crt $(FS_O)/other/dev.key \
	$(FS_O)/other/dev.crt $(FS_O)/empty.dtb
$(UNIT_O)/test_pack: $(PACK_ITBS) $(PACK_BINS) $(FS_O)/keys-signed.dtb $(FS_O)/keys-other.dtb \
	$(FS_O)/keys-noreq.dtb $(FS_O)/empty.dtb $(FS_O)/other.itb
