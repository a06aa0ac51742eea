# The update signing key. The build makes one on first use in $(KEYDIR)
# (never committed); point KEYDIR at your own mkimage key directory (with
# $(KEY_NAME).key and $(KEY_NAME).crt) to use yours. The kernel embeds the
# public key dtb that mkimage -K writes, and accepts only packs it signed.

KEYDIR   ?= build/keys
KEY_NAME ?= dev
KEY_DTB  := $(KEYDIR)/pubkey-$(KEY_NAME).dtb

$(KEYDIR)/$(KEY_NAME).key: | $(DEPS_STAMP)
	$(Q)mkdir -p $(KEYDIR)
	$(Q)echo "  KEYGEN  $@ (RSA-2048, first use)"
	$(Q)openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out $@ 2>/dev/null
	$(Q)chmod 600 $@

$(KEYDIR)/$(KEY_NAME).crt: $(KEYDIR)/$(KEY_NAME).key
	$(Q)openssl req -batch -new -x509 -days 36500 -key $< -out $@ -subj "/CN=$(KEY_NAME)" 2>/dev/null

# mkimage writes the public key into a dtb while signing: sign a throwaway FIT.
$(KEY_DTB): $(KEYDIR)/$(KEY_NAME).crt platform/keys.its.in
	$(Q)echo "  KEYDTB  $@"
	$(Q)printf '/dts-v1/;\n/ { };\n' | dtc -q -I dts -O dtb -o $@.tmp -
	$(Q)head -c 64 /dev/zero > $(KEYDIR)/throwaway.bin
	$(Q)sed -e 's|@KEY@|$(KEY_NAME)|' -e 's|@DATA@|$(abspath $(KEYDIR))/throwaway.bin|' \
		platform/keys.its.in > $(KEYDIR)/throwaway.its
	$(Q)mkimage -q -f $(KEYDIR)/throwaway.its -k $(KEYDIR) -K $@.tmp -r $(KEYDIR)/throwaway.itb >/dev/null
	$(Q)rm -f $(KEYDIR)/throwaway.*
	$(Q)mv $@.tmp $@

.PHONY: keys
keys: $(KEY_DTB)

# The kernel carries the public key dtb (update/keys.S).
$(O)/update/keys.o: $(KEY_DTB)
$(O)/update/keys.o: KASFLAGS += -DKEYS_DTB='"$(abspath $(KEY_DTB))"'
