# Signed update packs and RSA vectors for test_fit_sig and test_rsa, made
# at test-build time, everything under build/unit/fit_sig/ (never in the
# tree). Included by test/unit/unit.mk.
#
#   keys/dev.key  2048-bit, e = 65537   keys/e3.key   2048-bit, e = 3
#   keys/big.key  4096-bit              other/dev.key 2048-bit, another "dev"
# (openssl genpkey, fresh per build; mkimage -k reads <dir>/<hint>.key and
# .crt). Each pack P is signed by the real mkimage from a .its in
# test/unit/fit_sig/ into P.itb, writing its public keys into keys-P.dtb
# (a copy of an empty dtb with room for keys: mkimage -K needs one):
#
#   signed      signed.its, -r               (key-dev, required = "conf")
#   signed-ext  signed.its, -r -E            (external data, data-offset)
#   signed-pos  signed.its, -r -E -p 0x1000  (external data, data-position)
#   noreq       signed.its, no -r            (key-dev without `required`)
#   other       signed.its, -r, other/       (same hint "dev", other key)
#   e3, big     e3.its, big.its, -r
#   multi       multi.its, -r                (signature-1 dev + signature-2 e3)
#   noroot      signed.itb with "/" dropped from hashed-nodes (fdtput),
#               which exercises U-Boot's end-tag rule in the region walk
#
# check_sig.py, a second implementation in Python, then verifies every
# pack against its own key dtb and writes P.digest (what each signature
# signs), which test_fit_sig compares with fit_sig_digest(); it must also
# refuse other.itb with keys-signed.dtb, and noroot.itb.
# Test binaries find all this at $FIT_SIG_DIR, default build/unit/fit_sig.

FS_O      := $(UNIT_O)/fit_sig
FS_SRC    := test/unit/fit_sig
FS_CHECK  := $(FS_SRC)/check_sig.py
FS_PACKS  := signed signed-ext signed-pos noreq other e3 big multi
FS_ITBS   := $(patsubst %,$(FS_O)/%.itb,$(FS_PACKS) noroot)
FS_BINS   := $(FS_O)/s1.bin $(FS_O)/s2.bin $(FS_O)/s3.bin
FS_KEYS   := $(foreach k,keys/dev keys/e3 keys/big other/dev,$(FS_O)/$(k).key $(FS_O)/$(k).crt)

fs-size-s1 := 517
fs-size-s2 := 3
fs-size-s3 := 4099

fs-keyopt-keys/big := -pkeyopt rsa_keygen_bits:4096
fs-keyopt-keys/e3  := -pkeyopt rsa_keygen_bits:2048 -pkeyopt rsa_keygen_pubexp:3

fs-its-signed-ext  := signed
fs-its-signed-pos  := signed
fs-its-noreq       := signed
fs-its-other       := signed
fs-flags-signed-ext := -r -E
fs-flags-signed-pos := -r -E -p 0x1000
fs-flags-noreq     :=
fs-keydir-other    := other

fs-its    = $(or $(fs-its-$(1)),$(1))
fs-flags  = $(if $(filter undefined,$(origin fs-flags-$(1))),-r,$(fs-flags-$(1)))
fs-keydir = $(or $(fs-keydir-$(1)),keys)

# Deterministic payloads: a SHA-256 counter stream seeded by the name.
$(FS_O)/%.bin: test/unit/fit_sig.mk
	@mkdir -p $(@D)
	$(Q)$(HOSTPY) -c 'import hashlib, sys; n = int(sys.argv[1]); seed = sys.argv[2].encode(); \
		sys.stdout.buffer.write(b"".join(hashlib.sha256(seed + b"%d" % i).digest() \
		for i in range(n // 32 + 1))[:n])' $(fs-size-$*) $* > $@

$(FS_O)/%.key: | $(DEPS_STAMP)
	@mkdir -p $(@D)
	@echo "  GENKEY  $@"
	$(Q)openssl genpkey -quiet -algorithm RSA \
		$(or $(fs-keyopt-$*),-pkeyopt rsa_keygen_bits:2048) -out $@

$(FS_O)/%.crt: $(FS_O)/%.key
	$(Q)openssl req -batch -new -x509 -key $< -out $@ -subj /CN=$(notdir $*)

$(FS_O)/empty.dtb: $(FS_SRC)/empty.dts | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(Q)dtc -q -I dts -O dtb -p 8192 -o $@ $<

# One rule per pack: the .itb and its key dtb come out of one mkimage run.
define fs_pack_rule
$(FS_O)/$(1).itb $(FS_O)/keys-$(1).dtb &: $(FS_SRC)/$(call fs-its,$(1)).its $(FS_BINS) \
		$(FS_O)/empty.dtb $(FS_KEYS) | $(DEPS_STAMP)
	@echo "  MKIMAGE $(FS_O)/$(1).itb"
	$(Q)cp $$< $(FS_O)/$(1).its && cp $(FS_O)/empty.dtb $(FS_O)/keys-$(1).dtb
	$(Q)cd $(FS_O) && SOURCE_DATE_EPOCH=0 mkimage -q $(call fs-flags,$(1)) \
		-k $(call fs-keydir,$(1)) -K keys-$(1).dtb -f $(1).its $(1).itb >/dev/null
endef
$(foreach p,$(FS_PACKS),$(eval $(call fs_pack_rule,$(p))))

$(FS_O)/noroot.itb: $(FS_O)/signed.itb
	$(Q)cp $< $@
	$(Q)fdtput -t s $@ /configurations/conf-1/signature-1 hashed-nodes \
		$$(fdtget -t s $< /configurations/conf-1/signature-1 hashed-nodes | \
		   tr ' ' '\n' | grep -vx /)

# The second implementation: verdict and digest of every pack.
$(FS_O)/%.digest: $(FS_O)/%.itb $(FS_O)/keys-%.dtb $(FS_CHECK)
	$(Q)$(HOSTPY) $(FS_CHECK) --keys $(FS_O)/keys-$*.dtb $< > $@.tmp && mv $@.tmp $@

$(FS_O)/noroot.digest: $(FS_O)/noroot.itb $(FS_O)/signed.itb $(FS_CHECK)
	$(Q)$(HOSTPY) $(FS_CHECK) --expect fail --keys $(FS_O)/keys-signed.dtb $< > $@.tmp && \
		mv $@.tmp $@

$(FS_O)/other-vs-dev.ok: $(FS_O)/other.itb $(FS_O)/signed.itb $(FS_CHECK)
	$(Q)$(HOSTPY) $(FS_CHECK) --expect fail --keys $(FS_O)/keys-signed.dtb $< > /dev/null
	$(Q)touch $@

$(FS_O)/rsa_vectors.txt: $(FS_SRC)/gen_rsa_vectors.py | $(DEPS_STAMP)
	@mkdir -p $(@D)
	@echo "  GEN     $@"
	$(Q)$(HOSTPY) $< > $@.tmp && mv $@.tmp $@

$(UNIT_O)/test_fit_sig: $(FS_ITBS) $(FS_ITBS:.itb=.digest) $(FS_O)/other-vs-dev.ok
$(UNIT_O)/test_rsa: $(FS_O)/rsa_vectors.txt
