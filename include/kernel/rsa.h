/*
 * RSA public-key operations, just enough to verify signatures: the
 * modular exponentiation s^e mod n (Montgomery multiplication on 64-bit
 * limbs) and PKCS#1 v1.5 (RFC 8017 section 8.2.2) with a SHA-256
 * DigestInfo, the scheme U-Boot's "sha256,rsa2048" FIT signatures use.
 * The key's constants are also kept in U-Boot's form (32-bit words), so
 * that fit_sig.c can compare them with the ones mkimage stored.
 *
 * Pure C: no allocation, no CSR access, fixed-size buffers (about 2.5 KiB of
 * stack at RSA_MAX_BITS), so it runs in the kernel and in host tests alike.
 * Not constant-time: only public values go through it.
 */
#ifndef KERNEL_RSA_H
#define KERNEL_RSA_H

#include <stddef.h>
#include <stdint.h>
#include <kernel/sha256.h>

#define RSA_MIN_BITS	1024
#define RSA_MAX_BITS	4096
#define RSA_MAX_BYTES	(RSA_MAX_BITS / 8)
#define RSA_MAX_WORDS	(RSA_MAX_BITS / 32)
#define RSA_MAX_LIMBS	(RSA_MAX_BITS / 64)

/*
 * A public key ready for Montgomery arithmetic; fill with rsa_pubkey_init().
 * Numbers are least significant first; on these little-endian machines the
 * 64-bit limbs are the 32-bit words two by two (the top one zero-padded).
 */
struct rsa_pubkey {
	unsigned int nbytes;		/* modulus length in bytes: the signature length */
	unsigned int nwords;		/* modulus length in 32-bit words */
	unsigned int nlimbs;		/* and in 64-bit limbs */
	union {
		uint32_t n[RSA_MAX_WORDS];	/* modulus */
		uint64_t n64[RSA_MAX_LIMBS];
	};
	uint32_t rr[RSA_MAX_WORDS];	/* R^2 mod n, R = 2^(32 * nwords) (U-Boot's) */
	uint64_t rr64[RSA_MAX_LIMBS];	/* R^2 mod n, R = 2^(64 * nlimbs) (ours) */
	uint32_t n0inv;			/* -n^-1 mod 2^32 */
	uint64_t n0inv64;		/* -n^-1 mod 2^64 */
	uint64_t e;			/* public exponent */
};

/*
 * Sets @key up from the big-endian modulus @n of @len bytes (no leading
 * zero byte, RSA_MIN_BITS..RSA_MAX_BITS, odd) and the exponent @e (odd,
 * at least 3), computing n0inv and rr. Returns 0 or -KE_INVAL.
 */
int rsa_pubkey_init(struct rsa_pubkey *key, const uint8_t *n, size_t len, uint64_t e);

/*
 * The same from the constants a key dtb claims (U-Boot's: @rr on 32-bit
 * words, least significant first, @n0inv mod 2^32), which are checked
 * rather than computed: n0inv by Newton's iteration, rr by one Montgomery
 * multiplication (rr * 1 / R must be R mod n). Returns 0, -KE_INVAL (bad
 * modulus or exponent) or -KE_BADMSG (a constant is not the modulus's).
 */
int rsa_pubkey_init_claimed(struct rsa_pubkey *key, const uint8_t *n, size_t len, uint64_t e,
			    const uint32_t *rr, uint32_t n0inv);

/*
 * RSAVP1: @out = @in^e mod n, both big-endian of key->nbytes bytes (@len
 * must equal it). Returns 0, -KE_INVAL (bad arguments) or -KE_RANGE
 * (@in is not below the modulus).
 */
int rsa_public(const struct rsa_pubkey *key, const uint8_t *in, size_t len, uint8_t *out);

/*
 * RSASSA-PKCS1-v1_5 verification of @sig (@len bytes) over a message whose
 * SHA-256 is @digest: the whole encoded message must be exactly
 * 00 01 FF..FF 00 DigestInfo(sha256) digest. Returns 0 for a valid
 * signature, -KE_PERM for any invalid one (wrong length, out of range,
 * bad padding, other digest), -KE_INVAL for NULL arguments.
 */
int rsa_verify_sha256(const struct rsa_pubkey *key, const uint8_t digest[SHA256_DIGEST_SIZE],
		      const uint8_t *sig, size_t len);

#endif
