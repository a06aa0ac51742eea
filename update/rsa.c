/*
 * RSA signature verification (public key only): a small fixed-size bignum
 * of little-endian 32-bit words, Montgomery multiplication (CIOS) for
 * s^e mod n with any odd 64-bit exponent, and the PKCS#1 v1.5 check of
 * the encoded message against 00 01 FF..FF 00 DigestInfo(sha256) H,
 * compared in full so that no garbage can hide anywhere in it.
 *
 * Locking: none. Every function works on its arguments and its own stack
 * (about 2.5 KiB at RSA_MAX_BITS); keys are read-only once initialised.
 *
 * The Montgomery constants n0inv and R^2 mod n are computed here from the
 * modulus, so a key never has to be trusted for them; fit_sig.c compares
 * them with the ones mkimage stores in a public key dtb.
 */
#include <stdbool.h>
#include <string.h>
#include <kernel/errno.h>
#include <kernel/rsa.h>

/* DER of DigestInfo { AlgorithmIdentifier { sha256, NULL }, OCTET STRING(32) } */
static const uint8_t rsa_sha256_prefix[] = {
	0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
	0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20,
};

/* --- word arrays, least significant word first ----------------------- */

static void rsa_from_bytes(uint32_t *w, unsigned int nw, const uint8_t *b, size_t len)
{
	size_t i;

	memset(w, 0, nw * sizeof(*w));
	for (i = 0; i < len; i++)
		w[i / 4] |= (uint32_t)b[len - 1 - i] << (8 * (i % 4));
}

/* The top bytes of the last word must be zero when @len is not 4 * nw. */
static void rsa_to_bytes(uint8_t *b, size_t len, const uint32_t *w)
{
	size_t i;

	for (i = 0; i < len; i++)
		b[len - 1 - i] = (uint8_t)(w[i / 4] >> (8 * (i % 4)));
}

/* <0, 0, >0 as a is below, equal to, above b. */
static int rsa_cmp(const uint32_t *a, const uint32_t *b, unsigned int nw)
{
	while (nw--) {
		if (a[nw] != b[nw])
			return a[nw] < b[nw] ? -1 : 1;
	}
	return 0;
}

/* a -= b; returns the borrow out. */
static uint32_t rsa_sub(uint32_t *a, const uint32_t *b, unsigned int nw)
{
	uint64_t d;
	uint32_t borrow = 0;
	unsigned int i;

	for (i = 0; i < nw; i++) {
		d = (uint64_t)a[i] - b[i] - borrow;
		a[i] = (uint32_t)d;
		borrow = (uint32_t)(d >> 63);
	}
	return borrow;
}

/* a <<= 1; returns the bit shifted out. */
static uint32_t rsa_shl1(uint32_t *a, unsigned int nw)
{
	uint32_t carry = 0, top;
	unsigned int i;

	for (i = 0; i < nw; i++) {
		top = a[i] >> 31;
		a[i] = (a[i] << 1) | carry;
		carry = top;
	}
	return carry;
}

/* --- Montgomery arithmetic ------------------------------------------- */

/* -n0^-1 mod 2^32 by Newton's iteration (each step doubles the good bits). */
static uint32_t rsa_n0inv(uint32_t n0)
{
	uint32_t inv = n0;	/* right to 3 bits: n0 * n0 == 1 mod 8 */
	int i;

	for (i = 0; i < 4; i++)
		inv *= 2 - n0 * inv;
	return -inv;
}

/* R^2 mod n by doubling 1 64 * nwords times, reducing after each step. */
static void rsa_rr(struct rsa_pubkey *k)
{
	uint32_t *x = k->rr;
	unsigned int i, nw = k->nwords;

	memset(x, 0, nw * sizeof(*x));
	x[0] = 1;
	for (i = 0; i < 64 * nw; i++) {
		if (rsa_shl1(x, nw) || rsa_cmp(x, k->n, nw) >= 0)
			rsa_sub(x, k->n, nw);
	}
}

/* One step of CIOS: t += a * bi, then t = (t + m * n) / 2^32. */
static void rsa_mont_step(const struct rsa_pubkey *k, uint32_t *t, const uint32_t *a,
			  uint32_t bi)
{
	unsigned int j, nw = k->nwords;
	uint64_t c = 0;
	uint32_t m;

	for (j = 0; j < nw; j++) {
		c += (uint64_t)a[j] * bi + t[j];
		t[j] = (uint32_t)c;
		c >>= 32;
	}
	c += t[nw];
	t[nw] = (uint32_t)c;
	t[nw + 1] = (uint32_t)(c >> 32);
	m = t[0] * k->n0inv;
	c = ((uint64_t)m * k->n[0] + t[0]) >> 32;	/* low word is zero by choice of m */
	for (j = 1; j < nw; j++) {
		c += (uint64_t)m * k->n[j] + t[j];
		t[j - 1] = (uint32_t)c;
		c >>= 32;
	}
	c += t[nw];
	t[nw - 1] = (uint32_t)c;
	t[nw] = t[nw + 1] + (uint32_t)(c >> 32);
}

/* out = a * b / R mod n, for a, b below n; out may alias a or b. */
static void rsa_mont_mul(const struct rsa_pubkey *k, uint32_t *out, const uint32_t *a,
			 const uint32_t *b)
{
	uint32_t t[RSA_MAX_WORDS + 2];
	unsigned int i, nw = k->nwords;

	memset(t, 0, (nw + 2) * sizeof(*t));
	for (i = 0; i < nw; i++)
		rsa_mont_step(k, t, a, b[i]);
	/* t < 2n here: one subtraction brings it below n */
	if (t[nw] || rsa_cmp(t, k->n, nw) >= 0)
		rsa_sub(t, k->n, nw);
	memcpy(out, t, nw * sizeof(*t));
}

/* r = s^e mod n, left to right over the exponent's bits; s below n. */
static void rsa_modexp(const struct rsa_pubkey *k, uint32_t *r, const uint32_t *s)
{
	uint32_t x[RSA_MAX_WORDS];
	unsigned int nw = k->nwords;
	int bit = 63;

	while (!((k->e >> bit) & 1))
		bit--;
	rsa_mont_mul(k, x, s, k->rr);		/* x = s * R mod n */
	memcpy(r, x, nw * sizeof(*x));		/* the top bit of e */
	while (--bit >= 0) {
		rsa_mont_mul(k, r, r, r);
		if ((k->e >> bit) & 1)
			rsa_mont_mul(k, r, r, x);
	}
	memset(x, 0, nw * sizeof(*x));
	x[0] = 1;
	rsa_mont_mul(k, r, r, x);		/* out of Montgomery form */
}

/* --- public interface ------------------------------------------------ */

int rsa_pubkey_init(struct rsa_pubkey *key, const uint8_t *n, size_t len, uint64_t e)
{
	if (!key || !n)
		return -KE_INVAL;
	if (len < RSA_MIN_BITS / 8 || len > RSA_MAX_BYTES || n[0] == 0 || !(n[len - 1] & 1))
		return -KE_INVAL;
	if (e < 3 || !(e & 1))
		return -KE_INVAL;
	memset(key, 0, sizeof(*key));
	key->nbytes = (unsigned int)len;
	key->nwords = (unsigned int)((len + 3) / 4);
	rsa_from_bytes(key->n, key->nwords, n, len);
	key->n0inv = rsa_n0inv(key->n[0]);
	key->e = e;
	rsa_rr(key);
	return 0;
}

static bool rsa_key_ok(const struct rsa_pubkey *key)
{
	return key && key->nwords && key->nwords <= RSA_MAX_WORDS &&
	       key->nbytes > 4 * (key->nwords - 1) && key->nbytes <= 4 * key->nwords &&
	       (key->e & 1) && key->e >= 3;
}

int rsa_public(const struct rsa_pubkey *key, const uint8_t *in, size_t len, uint8_t *out)
{
	uint32_t s[RSA_MAX_WORDS];

	if (!rsa_key_ok(key) || !in || !out || len != key->nbytes)
		return -KE_INVAL;
	rsa_from_bytes(s, key->nwords, in, len);
	if (rsa_cmp(s, key->n, key->nwords) >= 0)
		return -KE_RANGE;
	rsa_modexp(key, s, s);
	rsa_to_bytes(out, len, s);
	return 0;
}

/* Zero when @em is exactly EMSA-PKCS1-v1_5(sha256, @digest) of its length. */
static unsigned int rsa_em_diff(const uint8_t *em, size_t k,
				const uint8_t digest[SHA256_DIGEST_SIZE])
{
	size_t tlen = sizeof(rsa_sha256_prefix) + SHA256_DIGEST_SIZE;
	size_t i, ps = k - 3 - tlen;	/* k >= RSA_MIN_BITS / 8 leaves ps >= 8 */
	unsigned int diff = em[0] | (em[1] ^ 0x01) | em[2 + ps];

	for (i = 2; i < 2 + ps; i++)
		diff |= em[i] ^ 0xff;
	for (i = 0; i < sizeof(rsa_sha256_prefix); i++)
		diff |= em[3 + ps + i] ^ rsa_sha256_prefix[i];
	for (i = 0; i < SHA256_DIGEST_SIZE; i++)
		diff |= em[k - SHA256_DIGEST_SIZE + i] ^ digest[i];
	return diff;
}

int rsa_verify_sha256(const struct rsa_pubkey *key, const uint8_t digest[SHA256_DIGEST_SIZE],
		      const uint8_t *sig, size_t len)
{
	uint8_t em[RSA_MAX_BYTES];

	if (!rsa_key_ok(key) || !digest || !sig)
		return -KE_INVAL;
	if (len != key->nbytes || key->nbytes < RSA_MIN_BITS / 8)
		return -KE_PERM;
	if (rsa_public(key, sig, len, em))
		return -KE_PERM;
	return rsa_em_diff(em, len, digest) ? -KE_PERM : 0;
}
