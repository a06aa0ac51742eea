/*
 * FIT configuration signatures, checked the way U-Boot's verified boot
 * checks them (image-fit-sig.c, fdt_region.c), without U-Boot code.
 *
 * mkimage -k keydir -K keys.dtb -r signs a configuration: it hashes the
 * FDT structure of the nodes it lists in the signature node's
 * `hashed-nodes` (the root, the configuration, each signed image and its
 * hash nodes; parents contribute their begin/end tags; `data`,
 * `data-size`, `data-offset` and `data-position` are left out), the
 * FDT_END tag and the first `hashed-strings` bytes of the strings block,
 * and signs the SHA-256 of that with RSA PKCS#1 v1.5. keys.dtb gets
 * /signature/key-<name> with the public key and `required = "conf"`.
 *
 * fit_sig_verify() recomputes those regions from the blob and checks the
 * signature with the keys of @keys_dtb, with U-Boot's key policy:
 *   - every key whose `required` is "conf" must verify one signature-*
 *     node of the configuration (or any one of them when /signature has
 *     required-mode = "any");
 *   - when no key is required, U-Boot would check nothing; here one
 *     signature-* node must still verify, with the key its key-name-hint
 *     names or else with any key of the dtb (U-Boot's fallback search);
 *   - a key with required = "image" asks for image signatures, which
 *     packs do not carry: refused (-KE_NOTSUP) rather than ignored.
 * As U-Boot does, `hashed-nodes` is not trusted: it must list the
 * configuration itself ("Selected config not in hashed nodes"), and,
 * beyond U-Boot, every image named in `loadables` and every hash node of
 * those images, whose values the later image hash checks rely on.
 * Configuration and image names with '@' are refused (CVE-2021-27138).
 * Beyond U-Boot, a configuration with more than FIT_SIG_MAX_SIGS
 * signature-* nodes is refused before any is checked (-KE_PERM): each
 * costs a hash and an RSA operation before anything is authenticated, so
 * an unsigned pack could otherwise buy seconds of CPU per upload.
 * Supported algo values: "sha256,rsa2048", "sha256,rsa3072",
 * "sha256,rsa4096"; padding absent or "pkcs-1.5".
 *
 * Both blobs must be 8-byte aligned (libfdt). Nothing outside
 * @fit[0..@size) or @keys_dtb[0..@keys_size) is read; both are checked
 * (header and every tag) before use.
 *
 * Return codes:
 *   0		the configuration is signed by the keys the policy asks for
 *   -KE_PERM	bad signature: RSA check failed, value of the wrong size,
 *		more than FIT_SIG_MAX_SIGS signature nodes,
 *		hashed-nodes or hashed-strings missing or lacking a node the
 *		kernel relies on, key algo differing from the signature's
 *   -KE_BADMSG	@fit is not a well-formed FDT (header, truncation, tags)
 *   -KE_NOENT	no such configuration, no signature-* node, no key, or no
 *		key matching key-name-hint (and no other key verifying)
 *   -KE_NOTSUP	signature algo or padding not supported, required = image
 *   -KE_INVAL	NULL or misaligned arguments, malformed key dtb or key
 * @err (if not NULL) receives a short message naming what failed, e.g.
 * "signature-1: RSA verification failed (key dev)" or
 * "signature-1: hashed-nodes lacks /images/step-1"; FIT_SIG_ERR_MAX bytes
 * always suffice.
 */
#ifndef KERNEL_FIT_SIG_H
#define KERNEL_FIT_SIG_H

#include <stddef.h>
#include <stdint.h>
#include <kernel/sha256.h>

#define FIT_SIG_ERR_MAX		96
#define FIT_SIG_MAX_HASHED	100	/* hashed-nodes entries, U-Boot's limit */
#define FIT_SIG_MAX_SIGS	4	/* signature-* nodes per configuration */

int fit_sig_verify(const void *fit, size_t size, const char *config_name,
		   const void *keys_dtb, size_t keys_size, char *err, size_t errlen);

/*
 * The SHA-256 that signature node @sig_name of configuration @config_name
 * signs, recomputed from its hashed-nodes and hashed-strings (no key, no
 * hashed-nodes policy check). For tests and tools that cross-check the
 * region computation. Returns 0 or a code as above.
 */
int fit_sig_digest(const void *fit, size_t size, const char *config_name,
		   const char *sig_name, uint8_t digest[SHA256_DIGEST_SIZE],
		   char *err, size_t errlen);

#endif
