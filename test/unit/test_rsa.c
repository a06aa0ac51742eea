// unit-srcs: update/rsa.c update/sha256.c
// unit-libs:
/*
 * RSA PKCS#1 v1.5 / SHA-256 verification (update/rsa.c) against:
 *   - the NIST CAVP vectors in Debian's python3-cryptography-vectors:
 *     SigVer15_186-3.rsp (pass and fail cases), SigVer15EMTest.txt (bad
 *     encodings) and SigGen15_186-2/-3.rsp (valid signatures, also checked
 *     with one bit of the signature or of the message flipped), every
 *     SHA-256 entry at every modulus size (1024..4096 bits);
 *   - vectors made at test-build time by test/unit/fit_sig/gen_rsa_vectors.py
 *     with python3-cryptography: fresh keys with e = 65537 and e = 3, a
 *     1030-bit modulus, valid signatures, hand-broken encodings signed with
 *     the raw private key, and the Montgomery constants of each key;
 *   - argument and range edge cases.
 *
 * The NIST directory is $RSA_VECTORS_DIR, else the Debian path below; the
 * generated file is $FIT_SIG_DIR/rsa_vectors.txt (default build/unit/fit_sig).
 * A missing file fails the test: a silent skip would let a broken verifier
 * through.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <kernel/errno.h>
#include <kernel/rsa.h>
#include <kernel/sha256.h>

#ifndef RSA_VECTORS_DIR
#define RSA_VECTORS_DIR "/usr/lib/python3/dist-packages/cryptography_vectors/asymmetric/RSA"
#endif

#define LINE_MAX_LEN	8192
#define MSG_MAX		2048

/* The state of one vector file as it is read. */
struct vstate {
	const char *file;
	unsigned int line;
	uint8_t n[RSA_MAX_BYTES];
	size_t nlen;
	uint64_t e;
	bool e_ok;			/* e fits in 64 bits */
	char alg[16];
	uint8_t msg[MSG_MAX];
	size_t msglen;
	uint8_t s[RSA_MAX_BYTES];
	size_t slen;
	bool have_s;
	struct rsa_pubkey key;		/* of the last [key] block (generated file) */
	/* counts of SHA-256 entries checked */
	unsigned int checked, checked_2048, pass, fail, flips, keys, claimed;
};

static FILE *open_in(const char *dir, const char *name)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "r");
	if (!f)
		fail_msg("cannot open %s", path);
	return f;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Hex (odd lengths get a leading zero nibble) into @out; returns the byte count. */
static size_t unhex(struct vstate *st, const char *s, uint8_t *out, size_t max)
{
	size_t len = strlen(s), n = (len + 1) / 2, i;
	int hi, lo;

	if (n > max)
		fail_msg("%s:%u: value of %zu bytes, at most %zu", st->file, st->line, n, max);
	for (i = 0; i < n; i++) {
		size_t lo_at = 2 * i + 1 - (len & 1);	/* index of the low nibble */

		hi = lo_at == 0 ? 0 : hexval(s[lo_at - 1]);
		lo = hexval(s[lo_at]);
		if (hi < 0 || lo < 0)
			fail_msg("%s:%u: bad hex", st->file, st->line);
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return n;
}

/* e can be written with hundreds of leading zeros; it must fit in 64 bits. */
static void parse_e(struct vstate *st, const char *s)
{
	uint8_t b[RSA_MAX_BYTES];
	size_t n = unhex(st, s, b, sizeof(b)), i;

	st->e = 0;
	st->e_ok = true;
	for (i = 0; i < n; i++) {
		if (st->e >> 56)
			st->e_ok = false;
		st->e = st->e << 8 | b[i];
	}
}

/* The signature as an integer of the modulus' length (I2OSP). */
static void parse_s(struct vstate *st, const char *s)
{
	uint8_t b[RSA_MAX_BYTES];
	size_t n = unhex(st, s, b, sizeof(b));

	if (n > st->nlen)
		fail_msg("%s:%u: S longer than n", st->file, st->line);
	memset(st->s, 0, st->nlen - n);
	memcpy(st->s + st->nlen - n, b, n);
	st->slen = st->nlen;
	st->have_s = true;
}

/* -KE_INVAL when the vector's key is not one rsa_pubkey_init() takes. */
static int make_key(struct vstate *st, struct rsa_pubkey *key)
{
	if (!st->e_ok || rsa_pubkey_init(key, st->n, st->nlen, st->e))
		return -KE_INVAL;	/* e.g. an even e in a "key changed" case */
	return 0;
}

static int verify_msg(struct vstate *st, const struct rsa_pubkey *key, const uint8_t *msg,
		      const uint8_t *sig)
{
	uint8_t md[SHA256_DIGEST_SIZE];

	sha256(msg, st->msglen, md);
	return rsa_verify_sha256(key, md, sig, st->slen);
}

/* A valid signature must stop verifying with any bit of it or of the message flipped. */
static void check_flips(struct vstate *st, const struct rsa_pubkey *key)
{
	uint8_t sig[RSA_MAX_BYTES], msg[MSG_MAX];
	size_t bit;

	memcpy(msg, st->msg, st->msglen);
	for (bit = 0; bit < 8 * st->slen; bit += 8 * st->slen / 16 + 1) {
		memcpy(sig, st->s, st->slen);
		sig[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		if (verify_msg(st, key, msg, sig) == 0)
			fail_msg("%s:%u: verifies with S bit %zu flipped", st->file, st->line, bit);
		st->flips++;
	}
	if (st->msglen) {
		msg[st->msglen / 2] ^= 0x10;
		if (verify_msg(st, key, msg, st->s) == 0)
			fail_msg("%s:%u: verifies with the message changed", st->file, st->line);
		st->flips++;
	}
}

/* One complete entry; @result is 'P' or 'F'. */
static void check_entry(struct vstate *st, char result)
{
	struct rsa_pubkey key;
	int rc;

	if (strcmp(st->alg, "SHA256"))
		return;
	rc = make_key(st, &key);
	if (!rc)
		rc = verify_msg(st, &key, st->msg, st->s);
	if (result == 'P' && rc != 0)
		fail_msg("%s:%u: valid signature refused (%d)", st->file, st->line, rc);
	if (result == 'F' && rc == 0)
		fail_msg("%s:%u: invalid signature accepted", st->file, st->line);
	if (result == 'F' && rc != -KE_PERM && rc != -KE_INVAL)
		fail_msg("%s:%u: unexpected code %d", st->file, st->line, rc);
	if (result == 'P')
		check_flips(st, &key);
	st->checked++;
	st->checked_2048 += st->nlen == 256;
	if (result == 'P')
		st->pass++;
	else
		st->fail++;
}

/*
 * rsa_pubkey_init_claimed() takes constants instead of computing them: the
 * true ones (those of the vector file, checked above) give the same key,
 * a wrong bit in R^2 or in n0inv is refused, and so is a value of R^2 that
 * is congruent but not reduced (R^2 mod n plus n, when it fits).
 */
static void check_claimed(struct vstate *st)
{
	static struct rsa_pubkey k;
	uint32_t rr[RSA_MAX_WORDS];
	unsigned int nw = st->key.nwords;

	assert_int_equal(rsa_pubkey_init_claimed(&k, st->n, st->nlen, st->e, st->key.rr,
						 st->key.n0inv), 0);
	assert_memory_equal(k.rr64, st->key.rr64, st->key.nlimbs * sizeof(uint64_t));
	assert_memory_equal(k.rr, st->key.rr, nw * sizeof(uint32_t));
	memcpy(rr, st->key.rr, nw * sizeof(uint32_t));
	for (unsigned int bit = 0; bit < 32 * nw; bit += 97) {
		rr[bit / 32] ^= 1U << (bit % 32);
		assert_int_equal(rsa_pubkey_init_claimed(&k, st->n, st->nlen, st->e, rr,
							 st->key.n0inv), -KE_BADMSG);
		rr[bit / 32] ^= 1U << (bit % 32);
	}
	assert_int_equal(rsa_pubkey_init_claimed(&k, st->n, st->nlen, st->e, rr,
						 st->key.n0inv ^ 4), -KE_BADMSG);
	assert_int_equal(rsa_pubkey_init_claimed(&k, st->n, st->nlen, st->e, NULL,
						 st->key.n0inv), -KE_BADMSG);
	{
		uint64_t carry = 0;

		for (unsigned int i = 0; i < nw; i++) {
			uint64_t sum = (uint64_t)rr[i] + st->key.n[i] + carry;

			rr[i] = (uint32_t)sum;
			carry = sum >> 32;
		}
		if (!carry)	/* rr + n still fits: congruent, not below n */
			assert_int_equal(rsa_pubkey_init_claimed(&k, st->n, st->nlen, st->e, rr,
								 st->key.n0inv), -KE_BADMSG);
	}
	st->claimed++;
}

/* Generated file: the constants rsa_pubkey_init() computed must be these. */
static void check_consts(struct vstate *st, const char *key, const char *val)
{
	uint8_t b[RSA_MAX_BYTES], want[RSA_MAX_BYTES];
	unsigned int i;

	if (!strcmp(key, "RR")) {
		assert_int_equal(rsa_pubkey_init(&st->key, st->n, st->nlen, st->e), 0);
		assert_int_equal(unhex(st, val, b, sizeof(b)), st->nlen);
		for (i = 0; i < st->nlen; i++) {
			unsigned int at = st->nlen - 1 - i;	/* byte index from the end */

			want[i] = (uint8_t)(st->key.rr[at / 4] >> (8 * (at % 4)));
		}
		assert_memory_equal(b, want, st->nlen);
		check_claimed(st);
	} else {
		assert_int_equal(st->key.n0inv, (uint32_t)strtoul(val, NULL, 16));
		st->keys++;
	}
}

static void handle_line(struct vstate *st, const char *key, const char *val)
{
	if (!strcmp(key, "n"))
		st->nlen = unhex(st, val, st->n, sizeof(st->n));
	else if (!strcmp(key, "e"))
		parse_e(st, val);
	else if (!strcmp(key, "SHAAlg"))
		snprintf(st->alg, sizeof(st->alg), "%s", val);
	else if (!strcmp(key, "Msg"))
		st->msglen = unhex(st, val, st->msg, sizeof(st->msg));
	else if (!strcmp(key, "S"))
		parse_s(st, val);
	else if (!strcmp(key, "RR") || !strcmp(key, "N0inv"))
		check_consts(st, key, val);
	else if (!strcmp(key, "Result") && st->have_s) {
		check_entry(st, val[0]);
		st->have_s = false;
	}
}

/* Splits "key = value" (value may be empty); false for other lines. */
static bool split_line(char *line, char **key, char **val)
{
	char *eq = strchr(line, '=');
	char *end;

	line[strcspn(line, "\r\n")] = '\0';
	if (!eq || line[0] == '#' || line[0] == '[')
		return false;
	for (end = eq; end > line && end[-1] == ' '; end--)
		;
	*end = '\0';
	*key = line;
	for (eq++; *eq == ' '; eq++)
		;
	*val = eq;
	return true;
}

static void read_file(struct vstate *st, const char *dir, const char *name)
{
	static char line[LINE_MAX_LEN];
	char *key, *val;
	FILE *f = open_in(dir, name);

	st->file = name;
	st->line = 0;
	st->have_s = false;
	while (fgets(line, sizeof(line), f)) {
		st->line++;
		/* SigGen files have no Result: an entry ends at its blank line */
		if ((line[0] == '\n' || line[0] == '\r') && st->have_s) {
			check_entry(st, 'P');
			st->have_s = false;
		}
		if (split_line(line, &key, &val))
			handle_line(st, key, val);
	}
	if (st->have_s)
		check_entry(st, 'P');
	fclose(f);
}

static const char *nist_dir(void)
{
	const char *dir = getenv("RSA_VECTORS_DIR");

	return dir ? dir : RSA_VECTORS_DIR;
}

static void test_nist_sigver(void **state)
{
	struct vstate *st = calloc(1, sizeof(*st));
	char dir[512];

	assert_non_null(st);
	snprintf(dir, sizeof(dir), "%s/FIPS_186-2", nist_dir());
	read_file(st, dir, "SigVer15_186-3.rsp");
	/* 5 modulus sizes x (3 pass + 15 fail) SHA-256 entries */
	assert_int_equal(st->checked, 90);
	assert_int_equal(st->checked_2048, 18);
	assert_int_equal(st->pass, 15);
	print_message("SigVer15_186-3: %u SHA-256 vectors (%u at 2048 bits), %u flips\n",
		      st->checked, st->checked_2048, st->flips);
	free(st);
}

static void test_nist_em(void **state)
{
	struct vstate *st = calloc(1, sizeof(*st));

	assert_non_null(st);
	read_file(st, nist_dir(), "SigVer15EMTest.txt");
	assert_int_equal(st->checked, 30);
	assert_int_equal(st->checked_2048, 6);
	assert_int_equal(st->fail, 30);
	print_message("SigVer15EMTest: %u SHA-256 vectors (%u at 2048 bits)\n",
		      st->checked, st->checked_2048);
	free(st);
}

static void test_nist_siggen(void **state)
{
	struct vstate *st = calloc(1, sizeof(*st));
	char dir[512];

	assert_non_null(st);
	snprintf(dir, sizeof(dir), "%s/FIPS_186-2", nist_dir());
	read_file(st, dir, "SigGen15_186-2.rsp");
	read_file(st, dir, "SigGen15_186-3.rsp");
	/* 2 files x 5 sizes x 10 SHA-256 signatures, all valid */
	assert_int_equal(st->checked, 100);
	assert_int_equal(st->checked_2048, 20);
	assert_int_equal(st->pass, 100);
	print_message("SigGen15: %u SHA-256 vectors (%u at 2048 bits), %u flips\n",
		      st->checked, st->checked_2048, st->flips);
	free(st);
}

static void test_generated(void **state)
{
	struct vstate *st = calloc(1, sizeof(*st));
	const char *dir = getenv("FIT_SIG_DIR");

	assert_non_null(st);
	read_file(st, dir ? dir : "build/unit/fit_sig", "rsa_vectors.txt");
	/* 6 keys x (6 valid + 12 broken + up to 5 out-of-range values) */
	assert_int_equal(st->keys, 6);
	assert_int_equal(st->claimed, 6);	/* rsa_pubkey_init_claimed() on each */
	assert_int_equal(st->pass, 36);
	assert_true(st->fail >= 6 * 15);
	print_message("generated: %u vectors over %u keys\n", st->checked, st->keys);
	free(st);
}

/* --- edge cases -------------------------------------------------------- */

/* A 1024-bit odd modulus with the top bit set: not a real key, but valid input. */
static void make_modulus(uint8_t *n, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		n[i] = (uint8_t)(0x5a ^ (i * 37));
	n[0] |= 0x80;
	n[len - 1] |= 1;
}

static void test_init_rejects(void **state)
{
	static uint8_t n[RSA_MAX_BYTES + 1];
	struct rsa_pubkey *k = malloc(sizeof(*k));

	assert_non_null(k);
	make_modulus(n, 128);
	assert_int_equal(rsa_pubkey_init(k, n, 128, 65537), 0);
	assert_int_equal(k->nbytes, 128);
	assert_int_equal(k->nwords, 32);
	assert_int_equal((uint32_t)(k->n0inv * k->n[0]), 0xffffffffu);	/* -1 mod 2^32 */
	assert_int_equal(rsa_pubkey_init(NULL, n, 128, 65537), -KE_INVAL);
	assert_int_equal(rsa_pubkey_init(k, NULL, 128, 65537), -KE_INVAL);
	assert_int_equal(rsa_pubkey_init(k, n, 127, 65537), -KE_INVAL);	/* < 1024 bits */
	assert_int_equal(rsa_pubkey_init(k, n, 128, 65536), -KE_INVAL);	/* even e */
	assert_int_equal(rsa_pubkey_init(k, n, 128, 1), -KE_INVAL);
	assert_int_equal(rsa_pubkey_init(k, n, 128, 0), -KE_INVAL);
	n[127] &= 0xfe;
	assert_int_equal(rsa_pubkey_init(k, n, 128, 65537), -KE_INVAL);	/* even n */
	make_modulus(n, RSA_MAX_BYTES + 1);
	assert_int_equal(rsa_pubkey_init(k, n, RSA_MAX_BYTES + 1, 3), -KE_INVAL);
	assert_int_equal(rsa_pubkey_init(k, n, RSA_MAX_BYTES, 3), 0);
	n[0] = 0;
	assert_int_equal(rsa_pubkey_init(k, n, RSA_MAX_BYTES, 3), -KE_INVAL);	/* leading zero */
	make_modulus(n, 129);
	assert_int_equal(rsa_pubkey_init(k, n, 129, UINT64_MAX), 0);	/* any odd 64-bit e */
	assert_int_equal(k->nwords, 33);
	free(k);
}

static void test_verify_rejects(void **state)
{
	static uint8_t n[128], sig[129], out[128];
	uint8_t md[SHA256_DIGEST_SIZE] = { 0 };
	struct rsa_pubkey *k = malloc(sizeof(*k));

	assert_non_null(k);
	make_modulus(n, sizeof(n));
	assert_int_equal(rsa_pubkey_init(k, n, sizeof(n), 65537), 0);
	sig[127] = 2;
	assert_int_equal(rsa_verify_sha256(k, md, sig, 128), -KE_PERM);
	assert_int_equal(rsa_verify_sha256(k, md, sig, 127), -KE_PERM);
	assert_int_equal(rsa_verify_sha256(k, md, sig, 129), -KE_PERM);
	assert_int_equal(rsa_verify_sha256(k, md, sig, 0), -KE_PERM);
	assert_int_equal(rsa_verify_sha256(NULL, md, sig, 128), -KE_INVAL);
	assert_int_equal(rsa_verify_sha256(k, NULL, sig, 128), -KE_INVAL);
	assert_int_equal(rsa_verify_sha256(k, md, NULL, 128), -KE_INVAL);
	/* the modulus itself and anything above it are out of range */
	assert_int_equal(rsa_public(k, n, 128, out), -KE_RANGE);
	memset(sig, 0xff, 128);
	assert_int_equal(rsa_public(k, sig, 128, out), -KE_RANGE);
	assert_int_equal(rsa_verify_sha256(k, md, sig, 128), -KE_PERM);
	/* 0 and 1 are fixed points of any exponent */
	memset(sig, 0, 128);
	assert_int_equal(rsa_public(k, sig, 128, out), 0);
	assert_memory_equal(out, sig, 128);
	sig[127] = 1;
	assert_int_equal(rsa_public(k, sig, 128, out), 0);
	assert_memory_equal(out, sig, 128);
	assert_int_equal(rsa_public(k, sig, 127, out), -KE_INVAL);
	free(k);
}

/* s^e for a small s that does not wrap: (2^8)^3 = 2^24 with e = 3. */
static void test_small_power(void **state)
{
	static uint8_t n[256], s[256], out[256], want[256];
	struct rsa_pubkey *k = malloc(sizeof(*k));

	assert_non_null(k);
	make_modulus(n, sizeof(n));
	assert_int_equal(rsa_pubkey_init(k, n, sizeof(n), 3), 0);
	s[254] = 1;			/* 2^8 */
	want[252] = 1;			/* 2^24 */
	assert_int_equal(rsa_public(k, s, sizeof(s), out), 0);
	assert_memory_equal(out, want, sizeof(want));
	free(k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nist_sigver),
		cmocka_unit_test(test_nist_em),
		cmocka_unit_test(test_nist_siggen),
		cmocka_unit_test(test_generated),
		cmocka_unit_test(test_init_rejects),
		cmocka_unit_test(test_verify_rejects),
		cmocka_unit_test(test_small_power),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
