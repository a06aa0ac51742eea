/*
 * SHA-256 (FIPS 180-4), used to check the image hashes of update packs
 * and, later, to hash the signed regions of a pack's configuration.
 * Pure C, no CSR access: tested on the host against the NIST CAVP vectors.
 */
#ifndef KERNEL_SHA256_H
#define KERNEL_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_DIGEST_SIZE	32
#define SHA256_BLOCK_SIZE	64

struct sha256_ctx {
	uint32_t h[8];				/* chaining state */
	uint64_t len;				/* bytes hashed so far */
	uint8_t buf[SHA256_BLOCK_SIZE];		/* partial block */
	size_t nbuf;				/* bytes in buf */
};

void sha256_init(struct sha256_ctx *ctx);
void sha256_update(struct sha256_ctx *ctx, const void *data, size_t len);
/* Writes the digest; call sha256_init() before reusing @ctx. */
void sha256_final(struct sha256_ctx *ctx, uint8_t out[SHA256_DIGEST_SIZE]);

/* One-shot digest of @len bytes at @data. */
void sha256(const void *data, size_t len, uint8_t out[SHA256_DIGEST_SIZE]);

#endif
