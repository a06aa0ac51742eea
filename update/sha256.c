/*
 * SHA-256 (FIPS 180-4) in portable C: the digest update packs are checked
 * with. Byte order is handled explicitly so the code is the same on the
 * little-endian harts and on the host that runs the unit tests.
 *
 * Locking: none. All state is in the caller's struct sha256_ctx.
 */
#include <string.h>
#include <kernel/sha256.h>

static const uint32_t sha256_k[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static inline uint32_t load_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void store_be32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

/*
 * The rotations, on a 64-bit machine without a rotate instruction: with
 * the word doubled into both halves of a 64-bit register (two
 * instructions), a 32-bit rotation right by n is one shift right by n,
 * whose low half is the result.
 */
static inline uint64_t dbl(uint32_t x)
{
	return (uint64_t)x << 32 | x;
}

#define BSIG0(a)	((uint32_t)((a) >> 2 ^ (a) >> 13 ^ (a) >> 22))
#define BSIG1(e)	((uint32_t)((e) >> 6 ^ (e) >> 11 ^ (e) >> 25))
#define SSIG0(x)	((uint32_t)((x) >> 7 ^ (x) >> 18) ^ (uint32_t)(x) >> 3)
#define SSIG1(x)	((uint32_t)((x) >> 17 ^ (x) >> 19) ^ (uint32_t)(x) >> 10)
#define CH(e, f, g)	((g) ^ ((e) & ((f) ^ (g))))
#define MAJ(a, b, c)	(((a) & (b)) | ((c) & ((a) | (b))))

/* Round i (0..15 of a group of 16) with the state rotated by i. */
#define ROUND(a, b, c, d, e, f, g, h, i)					\
	do {								\
		uint32_t t1 = h + BSIG1(dbl(e)) + CH(e, f, g) + k[i] + w[i];	\
		d += t1;						\
		h = t1 + BSIG0(dbl(a)) + MAJ(a, b, c);			\
	} while (0)

/* w[i] of the next group from the last 16 words (the ring holds exactly those). */
#define SCHED(i)	(w[i] += SSIG1(dbl(w[((i) + 14) & 15])) + w[((i) + 9) & 15] +	\
			 SSIG0(dbl(w[((i) + 1) & 15])))

/*
 * The message schedule is kept as a 16-word ring to save stack; 16 rounds
 * per loop pass, so that every ring index is a constant (a loop of single
 * rounds computes them at run time: twice the instructions). About 1100
 * instructions of code: under QEMU, translated once per boot.
 */
static void sha256_block(uint32_t h[8], const uint8_t *blk)
{
	uint32_t w[16], a, b, c, d, e, f, g, hh;
	const uint32_t *k;
	int i;

	for (i = 0; i < 16; i++)
		w[i] = load_be32(blk + 4 * i);
	a = h[0]; b = h[1]; c = h[2]; d = h[3];
	e = h[4]; f = h[5]; g = h[6]; hh = h[7];
	for (k = sha256_k;; k += 16) {
		ROUND(a, b, c, d, e, f, g, hh, 0);
		ROUND(hh, a, b, c, d, e, f, g, 1);
		ROUND(g, hh, a, b, c, d, e, f, 2);
		ROUND(f, g, hh, a, b, c, d, e, 3);
		ROUND(e, f, g, hh, a, b, c, d, 4);
		ROUND(d, e, f, g, hh, a, b, c, 5);
		ROUND(c, d, e, f, g, hh, a, b, 6);
		ROUND(b, c, d, e, f, g, hh, a, 7);
		ROUND(a, b, c, d, e, f, g, hh, 8);
		ROUND(hh, a, b, c, d, e, f, g, 9);
		ROUND(g, hh, a, b, c, d, e, f, 10);
		ROUND(f, g, hh, a, b, c, d, e, 11);
		ROUND(e, f, g, hh, a, b, c, d, 12);
		ROUND(d, e, f, g, hh, a, b, c, 13);
		ROUND(c, d, e, f, g, hh, a, b, 14);
		ROUND(b, c, d, e, f, g, hh, a, 15);
		if (k == sha256_k + 48)
			break;
		SCHED(0); SCHED(1); SCHED(2); SCHED(3);
		SCHED(4); SCHED(5); SCHED(6); SCHED(7);
		SCHED(8); SCHED(9); SCHED(10); SCHED(11);
		SCHED(12); SCHED(13); SCHED(14); SCHED(15);
	}
	h[0] += a; h[1] += b; h[2] += c; h[3] += d;
	h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
}

void sha256_init(struct sha256_ctx *ctx)
{
	static const uint32_t iv[8] = {
		0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
		0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
	};

	memcpy(ctx->h, iv, sizeof(iv));
	ctx->len = 0;
	ctx->nbuf = 0;
}

void sha256_update(struct sha256_ctx *ctx, const void *data, size_t len)
{
	const uint8_t *p = data;
	size_t n;

	ctx->len += len;
	if (ctx->nbuf) {
		n = SHA256_BLOCK_SIZE - ctx->nbuf;
		if (n > len)
			n = len;
		memcpy(ctx->buf + ctx->nbuf, p, n);
		ctx->nbuf += n;
		p += n;
		len -= n;
		if (ctx->nbuf < SHA256_BLOCK_SIZE)
			return;
		sha256_block(ctx->h, ctx->buf);
		ctx->nbuf = 0;
	}
	/* whole blocks straight from the caller's buffer, no copy */
	for (; len >= SHA256_BLOCK_SIZE; p += SHA256_BLOCK_SIZE, len -= SHA256_BLOCK_SIZE)
		sha256_block(ctx->h, p);
	if (len) {
		memcpy(ctx->buf, p, len);
		ctx->nbuf = len;
	}
}

void sha256_final(struct sha256_ctx *ctx, uint8_t out[SHA256_DIGEST_SIZE])
{
	uint64_t bits = ctx->len * 8;
	int i;

	ctx->buf[ctx->nbuf++] = 0x80;
	if (ctx->nbuf > SHA256_BLOCK_SIZE - 8) {
		memset(ctx->buf + ctx->nbuf, 0, SHA256_BLOCK_SIZE - ctx->nbuf);
		sha256_block(ctx->h, ctx->buf);
		ctx->nbuf = 0;
	}
	memset(ctx->buf + ctx->nbuf, 0, SHA256_BLOCK_SIZE - 8 - ctx->nbuf);
	store_be32(ctx->buf + 56, bits >> 32);
	store_be32(ctx->buf + 60, (uint32_t)bits);
	sha256_block(ctx->h, ctx->buf);
	for (i = 0; i < 8; i++)
		store_be32(out + 4 * i, ctx->h[i]);
}

void sha256(const void *data, size_t len, uint8_t out[SHA256_DIGEST_SIZE])
{
	struct sha256_ctx ctx;

	sha256_init(&ctx);
	sha256_update(&ctx, data, len);
	sha256_final(&ctx, out);
}
