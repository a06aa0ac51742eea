/*
 * RSA signature verification (public key only): a small fixed-size bignum
 * of little-endian 64-bit limbs, Montgomery multiplication (CIOS with the
 * two inner loops fused) for s^e mod n with any odd 64-bit exponent, and
 * the PKCS#1 v1.5 check of the encoded message against
 * 00 01 FF..FF 00 DigestInfo(sha256) H, compared in full so that no
 * garbage can hide anywhere in it.
 *
 * Locking: none. Every function works on its arguments and its own stack
 * (about 2.5 KiB at RSA_MAX_BITS); keys are read-only once initialised.
 *
 * The Montgomery constants n0inv and R^2 mod n are computed here from the
 * modulus, so a key never has to be trusted for them; fit_sig.c compares
 * them with the ones mkimage stores in a public key dtb (U-Boot's, on
 * 32-bit words). What a verification costs (make bench, RSA-2048,
 * e = 65537): R^2 from a few doublings and 11 Montgomery squarings, then
 * 16 squarings and 2 multiplications, each 32 x 32 limb products twice.
 */
#include <stdbool.h>
#include <string.h>
#include <kernel/errno.h>
#include <kernel/rsa.h>

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
	       "the limbs are the 32-bit words two by two: little-endian only");

typedef unsigned __int128 u128;

/* DER of DigestInfo { AlgorithmIdentifier { sha256, NULL }, OCTET STRING(32) } */
static const uint8_t rsa_sha256_prefix[] = {
	0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
	0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20,
};

/* --- limb arrays, least significant limb first ----------------------- */

static void rsa_from_bytes(uint64_t *w, unsigned int nl, const uint8_t *b, size_t len)
{
	size_t i;

	memset(w, 0, nl * sizeof(*w));
	for (i = 0; i < len; i++)
		w[i / 8] |= (uint64_t)b[len - 1 - i] << (8 * (i % 8));
}

/* The top bytes of the last limb must be zero when @len is not 8 * nl. */
static void rsa_to_bytes(uint8_t *b, size_t len, const uint64_t *w)
{
	size_t i;

	for (i = 0; i < len; i++)
		b[len - 1 - i] = (uint8_t)(w[i / 8] >> (8 * (i % 8)));
}

/* <0, 0, >0 as a is below, equal to, above b. */
static int rsa_cmp(const uint64_t *a, const uint64_t *b, unsigned int nl)
{
	while (nl--) {
		if (a[nl] != b[nl])
			return a[nl] < b[nl] ? -1 : 1;
	}
	return 0;
}

/* a -= b; returns the borrow out. */
static uint64_t rsa_sub(uint64_t *a, const uint64_t *b, unsigned int nl)
{
	uint64_t borrow = 0;
	unsigned int i;

	for (i = 0; i < nl; i++) {
		uint64_t x = a[i], d = x - b[i];

		a[i] = d - borrow;
		borrow = (x < b[i]) | (d < borrow);
	}
	return borrow;
}

/* a = 2a mod n, for a below n. */
static void rsa_double(uint64_t *a, const uint64_t *n, unsigned int nl)
{
	uint64_t carry = 0, top;
	unsigned int i;

	for (i = 0; i < nl; i++) {
		top = a[i] >> 63;
		a[i] = (a[i] << 1) | carry;
		carry = top;
	}
	if (carry || rsa_cmp(a, n, nl) >= 0)
		rsa_sub(a, n, nl);
}

/* --- Montgomery arithmetic ------------------------------------------- */

/* -n0^-1 mod 2^64 by Newton's iteration (each step doubles the good bits). */
static uint64_t rsa_n0inv(uint64_t n0)
{
	uint64_t inv = n0;	/* right to 3 bits: n0 * n0 == 1 mod 8 */
	int i;

	for (i = 0; i < 5; i++)
		inv *= 2 - n0 * inv;
	return -inv;
}

/*
 * out = a * b / R mod n, for a, b below n; out may alias a or b. Each
 * outer step adds a * b[i] and m * n (m making the low limb zero) in one
 * pass and shifts down a limb; t stays below 2n, so one top bit suffices.
 */
static void rsa_mont_mul(const struct rsa_pubkey *k, uint64_t *out, const uint64_t *a,
			 const uint64_t *b)
{
	uint64_t t[RSA_MAX_LIMBS + 1];
	const uint64_t *n = k->n64;
	unsigned int i, j, nl = k->nlimbs;

	memset(t, 0, (nl + 1) * sizeof(*t));
	for (i = 0; i < nl; i++) {
		uint64_t bi = b[i], c1, c2, m;
		u128 u, v;

		u = (u128)a[0] * bi + t[0];
		m = (uint64_t)u * k->n0inv64;
		v = (u128)m * n[0] + (uint64_t)u;	/* low limb: zero by choice of m */
		c1 = (uint64_t)(u >> 64);
		c2 = (uint64_t)(v >> 64);
		for (j = 1; j < nl; j++) {
			u = (u128)a[j] * bi + t[j] + c1;
			v = (u128)m * n[j] + (uint64_t)u + c2;
			c1 = (uint64_t)(u >> 64);
			c2 = (uint64_t)(v >> 64);
			t[j - 1] = (uint64_t)v;
		}
		u = (u128)t[nl] + c1 + c2;
		t[nl - 1] = (uint64_t)u;
		t[nl] = (uint64_t)(u >> 64);
	}
	/* t < 2n here: one subtraction brings it below n */
	if (t[nl] || rsa_cmp(t, n, nl) >= 0)
		rsa_sub(t, n, nl);
	memcpy(out, t, nl * sizeof(*t));
}

static unsigned int rsa_bitlen(const uint64_t *n, unsigned int nl)
{
	while (nl > 1 && !n[nl - 1])
		nl--;
	return 64 * nl - (unsigned int)__builtin_clzll(n[nl - 1] | 1);
}

/*
 * R^2 mod n with R = 2^(64 nl) = t * 2^s, t odd: 2^(bitlen - 1) is below n;
 * doubling it up to 2^t R mod n gives the Montgomery form of 2^t, and each
 * Montgomery squaring doubles the exponent, s times up to R, whose
 * Montgomery form is R^2 mod n. A few dozen doublings and s <= 12
 * multiplications instead of 2 * 64 * nl doublings.
 */
static void rsa_rr(struct rsa_pubkey *k)
{
	uint64_t *x = k->rr64;
	unsigned int nl = k->nlimbs, bits = rsa_bitlen(k->n64, nl), s = 6, t = nl, i;

	while (!(t & 1)) {
		t >>= 1;
		s++;
	}
	memset(x, 0, nl * sizeof(*x));
	x[(bits - 1) / 64] = 1ULL << ((bits - 1) % 64);
	for (i = bits - 1; i < 64 * nl + t; i++)
		rsa_double(x, k->n64, nl);
	while (s--)
		rsa_mont_mul(k, x, x, x);
}

/*
 * U-Boot's R^2 is on 32-bit words: R32 = 2^(32 nwords). With an even word
 * count it is ours; with an odd one R32 = R / 2^32, and its square is
 * R^2 * C / R with C = 2^(64 (nl - 1)), which lies below n.
 */
static void rsa_rr32(struct rsa_pubkey *k)
{
	uint64_t w[RSA_MAX_LIMBS], c[RSA_MAX_LIMBS];
	unsigned int nl = k->nlimbs;

	if (k->nwords & 1) {
		memset(c, 0, nl * sizeof(*c));
		c[nl - 1] = 1;
		rsa_mont_mul(k, w, k->rr64, c);
	} else {
		memcpy(w, k->rr64, nl * sizeof(*w));
	}
	memcpy(k->rr, w, k->nwords * sizeof(*k->rr));
}

/*
 * r = s^e mod n, left to right over the exponent's bits; s below n. The
 * last bit of e is 1: its multiplication takes s itself rather than its
 * Montgomery form, which also brings the result back out of it.
 */
static void rsa_modexp(const struct rsa_pubkey *k, uint64_t *r, const uint64_t *s)
{
	uint64_t x[RSA_MAX_LIMBS];
	unsigned int nl = k->nlimbs;
	int bit = 63;

	while (!((k->e >> bit) & 1))
		bit--;
	rsa_mont_mul(k, x, s, k->rr64);		/* x = s * R mod n */
	memcpy(r, x, nl * sizeof(*x));		/* the top bit of e */
	while (--bit > 0) {
		rsa_mont_mul(k, r, r, r);
		if ((k->e >> bit) & 1)
			rsa_mont_mul(k, r, r, x);
	}
	rsa_mont_mul(k, r, r, r);		/* bit 0, always set (e odd, >= 3) */
	rsa_mont_mul(k, r, r, s);
}

/* --- public interface ------------------------------------------------ */

/* Everything but R^2. */
static int rsa_key_setup(struct rsa_pubkey *key, const uint8_t *n, size_t len, uint64_t e)
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
	key->nlimbs = (unsigned int)((len + 7) / 8);
	rsa_from_bytes(key->n64, key->nlimbs, n, len);
	key->n0inv64 = rsa_n0inv(key->n64[0]);
	key->n0inv = (uint32_t)key->n0inv64;	/* -n^-1 mod 2^32: the same, truncated */
	key->e = e;
	return 0;
}

int rsa_pubkey_init(struct rsa_pubkey *key, const uint8_t *n, size_t len, uint64_t e)
{
	int rc = rsa_key_setup(key, n, len, e);

	if (rc)
		return rc;
	rsa_rr(key);
	rsa_rr32(key);
	return 0;
}

/*
 * R^2 from U-Boot's: the same with an even word count, else R32^2 * 2^64.
 * Then rr * 1 / R == R mod n proves rr == R^2 mod n (R is invertible), and
 * R mod n is a few doublings away from 2^(bitlen - 1).
 */
int rsa_pubkey_init_claimed(struct rsa_pubkey *key, const uint8_t *n, size_t len, uint64_t e,
			    const uint32_t *rr, uint32_t n0inv)
{
	uint64_t r[RSA_MAX_LIMBS], one[RSA_MAX_LIMBS], check[RSA_MAX_LIMBS];
	unsigned int nl, bits, i;
	int rc = rsa_key_setup(key, n, len, e);

	if (rc)
		return rc;
	if (!rr || n0inv != key->n0inv)
		return -KE_BADMSG;
	nl = key->nlimbs;
	memcpy(key->rr, rr, key->nwords * sizeof(*rr));
	memset(key->rr64, 0, nl * sizeof(*key->rr64));
	memcpy(key->rr64, rr, key->nwords * sizeof(*rr));
	if (rsa_cmp(key->rr64, key->n64, nl) >= 0)
		return -KE_BADMSG;
	if (key->nwords & 1) {
		for (i = 0; i < 64; i++)
			rsa_double(key->rr64, key->n64, nl);
	}
	bits = rsa_bitlen(key->n64, nl);
	memset(r, 0, nl * sizeof(*r));
	r[(bits - 1) / 64] = 1ULL << ((bits - 1) % 64);
	for (i = bits - 1; i < 64 * nl; i++)
		rsa_double(r, key->n64, nl);
	memset(one, 0, nl * sizeof(*one));
	one[0] = 1;
	rsa_mont_mul(key, check, key->rr64, one);
	return rsa_cmp(check, r, nl) ? -KE_BADMSG : 0;
}

static bool rsa_key_ok(const struct rsa_pubkey *key)
{
	return key && key->nwords && key->nwords <= RSA_MAX_WORDS &&
	       key->nlimbs == (key->nwords + 1) / 2 &&
	       key->nbytes > 4 * (key->nwords - 1) && key->nbytes <= 4 * key->nwords &&
	       (key->e & 1) && key->e >= 3;
}

int rsa_public(const struct rsa_pubkey *key, const uint8_t *in, size_t len, uint8_t *out)
{
	uint64_t s[RSA_MAX_LIMBS], r[RSA_MAX_LIMBS];

	if (!rsa_key_ok(key) || !in || !out || len != key->nbytes)
		return -KE_INVAL;
	rsa_from_bytes(s, key->nlimbs, in, len);
	if (rsa_cmp(s, key->n64, key->nlimbs) >= 0)
		return -KE_RANGE;
	rsa_modexp(key, r, s);
	rsa_to_bytes(out, len, r);
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
