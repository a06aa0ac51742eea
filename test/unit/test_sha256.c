// unit-srcs: update/sha256.c
// unit-libs:
/*
 * SHA-256 against the NIST CAVP byte-oriented vectors (SHA256ShortMsg,
 * SHA256LongMsg and the Monte Carlo chain), read at run time from Debian's
 * python3-cryptography-vectors, plus incremental updates split at every
 * byte position and the FIPS 180-2 one-million-'a' message.
 *
 * The vector directory is $SHA256_VECTORS_DIR, else the Debian path below.
 * A missing file fails the test: a silent skip would let a broken digest
 * through.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <kernel/sha256.h>

#ifndef SHA256_VECTORS_DIR
#define SHA256_VECTORS_DIR "/usr/lib/python3/dist-packages/cryptography_vectors/hashes/SHA2"
#endif

struct vec {
	size_t len;
	uint8_t *msg;
	uint8_t md[SHA256_DIGEST_SIZE];
};

struct vecs {
	struct vec *v;
	size_t n;
	uint8_t seed[SHA256_DIGEST_SIZE];	/* Monte file only */
};

static FILE *open_vectors(const char *name)
{
	const char *dir = getenv("SHA256_VECTORS_DIR");
	char path[512];
	FILE *f;

	if (!dir)
		dir = SHA256_VECTORS_DIR;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "r");
	if (!f)
		fail_msg("cannot open %s (install python3-cryptography-vectors "
			 "or set SHA256_VECTORS_DIR)", path);
	return f;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes exactly @n bytes of hex at @s into @out; fails the test on junk. */
static void unhex(const char *s, uint8_t *out, size_t n)
{
	size_t i;
	int hi, lo;

	for (i = 0; i < n; i++) {
		hi = hexval(s[2 * i]);
		lo = hi < 0 ? -1 : hexval(s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			fail_msg("bad hex in vector file near \"%.16s\"", s);
		out[i] = (uint8_t)(hi << 4 | lo);
	}
}

/* Value after "Key = " on @line, or NULL. CRLF endings are stripped. */
static char *field(char *line, const char *key)
{
	size_t k = strlen(key);

	line[strcspn(line, "\r\n")] = '\0';
	if (strncmp(line, key, k) || strncmp(line + k, " = ", 3))
		return NULL;
	return line + k + 3;
}

/*
 * Reads a Len/Msg/MD file (or, for Monte, Seed plus the MD list) into @out.
 * Each record must be complete: Msg and MD follow their Len.
 */
static void load_vectors(const char *name, struct vecs *out)
{
	FILE *f = open_vectors(name);
	static char line[1 << 17];	/* LongMsg lines reach ~102 KiB */
	struct vec *cur = NULL;
	size_t cap = 0;
	char *val;

	memset(out, 0, sizeof(*out));
	while (fgets(line, sizeof(line), f)) {
		assert_true(strlen(line) < sizeof(line) - 1);
		if ((val = field(line, "Seed"))) {
			assert_int_equal(strlen(val), 2 * SHA256_DIGEST_SIZE);
			unhex(val, out->seed, SHA256_DIGEST_SIZE);
		} else if ((val = field(line, "Len")) || (val = field(line, "COUNT"))) {
			if (out->n == cap) {
				cap = cap ? 2 * cap : 64;
				out->v = realloc(out->v, cap * sizeof(*out->v));
				assert_non_null(out->v);
			}
			cur = &out->v[out->n++];
			memset(cur, 0, sizeof(*cur));
			if (line[0] == 'L') {
				cur->len = strtoul(val, NULL, 10);
				assert_true(cur->len % 8 == 0);
				cur->len /= 8;
			}
		} else if ((val = field(line, "Msg"))) {
			assert_non_null(cur);
			assert_true(strlen(val) >= 2 * cur->len);
			cur->msg = malloc(cur->len + 1);
			assert_non_null(cur->msg);
			unhex(val, cur->msg, cur->len);
		} else if ((val = field(line, "MD"))) {
			assert_non_null(cur);
			assert_int_equal(strlen(val), 2 * SHA256_DIGEST_SIZE);
			unhex(val, cur->md, SHA256_DIGEST_SIZE);
		}
	}
	fclose(f);
}

static void free_vectors(struct vecs *vs)
{
	size_t i;

	for (i = 0; i < vs->n; i++)
		free(vs->v[i].msg);
	free(vs->v);
}

/* Checks every vector one-shot and returns how many there were. */
static size_t check_all(const char *file)
{
	struct vecs vs;
	uint8_t md[SHA256_DIGEST_SIZE];
	size_t i, n;

	load_vectors(file, &vs);
	for (i = 0; i < vs.n; i++) {
		assert_non_null(vs.v[i].msg);
		sha256(vs.v[i].msg, vs.v[i].len, md);
		if (memcmp(md, vs.v[i].md, sizeof(md)))
			fail_msg("%s: vector %zu (%zu bytes) mismatch", file, i, vs.v[i].len);
	}
	n = vs.n;
	free_vectors(&vs);
	print_message("    %s: %zu vectors checked\n", file, n);
	return n;
}

static void test_short_msg(void **state)
{
	/* CAVS 11.0 byte-oriented: Len 0..512 bits */
	assert_int_equal(check_all("SHA256ShortMsg.rsp"), 65);
}

static void test_long_msg(void **state)
{
	assert_int_equal(check_all("SHA256LongMsg.rsp"), 64);
}

/* SHAVS Monte Carlo: MD[i] = SHA(MD[i-3] || MD[i-2] || MD[i-1]), 1000 per checkpoint. */
static void test_monte(void **state)
{
	uint8_t m[3 * SHA256_DIGEST_SIZE], seed[SHA256_DIGEST_SIZE], md[SHA256_DIGEST_SIZE];
	struct vecs vs;
	size_t j;
	int i;

	load_vectors("SHA256Monte.rsp", &vs);
	assert_int_equal(vs.n, 100);
	memcpy(seed, vs.seed, sizeof(seed));
	for (j = 0; j < vs.n; j++) {
		memcpy(m, seed, 32);
		memcpy(m + 32, seed, 32);
		memcpy(m + 64, seed, 32);
		for (i = 0; i < 1000; i++) {
			sha256(m, sizeof(m), md);
			memmove(m, m + 32, 64);
			memcpy(m + 64, md, 32);
		}
		memcpy(seed, m + 64, 32);
		if (memcmp(seed, vs.v[j].md, 32))
			fail_msg("Monte checkpoint %zu mismatch", j);
	}
	free_vectors(&vs);
	print_message("    SHA256Monte.rsp: %zu checkpoints checked\n", j);
}

/* Hashing @msg as the pieces @cuts[0..n) delimit gives @md. */
static void check_pieces(const struct vec *v, const size_t *cuts, int n)
{
	struct sha256_ctx ctx;
	uint8_t md[SHA256_DIGEST_SIZE];
	size_t at = 0;
	int i;

	sha256_init(&ctx);
	for (i = 0; i < n; i++) {
		sha256_update(&ctx, v->msg + at, cuts[i] - at);
		at = cuts[i];
	}
	sha256_update(&ctx, v->msg + at, v->len - at);
	sha256_final(&ctx, md);
	if (memcmp(md, v->md, sizeof(md)))
		fail_msg("%zu-byte message split at %zu/%zu: mismatch", v->len,
			 n > 0 ? cuts[0] : 0, n > 1 ? cuts[1] : 0);
}

static void check_splits(const struct vec *v, int three_way)
{
	size_t cuts[2], i, j;

	for (i = 0; i <= v->len; i++) {
		cuts[0] = i;
		check_pieces(v, cuts, 1);
		for (j = i; three_way && j <= v->len; j++) {
			cuts[1] = j;
			check_pieces(v, cuts, 2);
		}
	}
}

static void check_bytewise(const struct vec *v)
{
	struct sha256_ctx ctx;
	uint8_t md[SHA256_DIGEST_SIZE];
	size_t i;

	sha256_init(&ctx);
	for (i = 0; i < v->len; i++)
		sha256_update(&ctx, v->msg + i, 1);
	sha256_final(&ctx, md);
	assert_memory_equal(md, v->md, sizeof(md));
}

/*
 * Two- and three-piece splits of messages around the padding edge cases
 * (55, 56, 63, 64 bytes), two-piece splits of the first long messages.
 */
static void test_split_every_position(void **state)
{
	static const size_t short_lens[] = { 1, 3, 55, 56, 63, 64 };
	struct vecs sv, lv;
	size_t i, k;

	load_vectors("SHA256ShortMsg.rsp", &sv);
	load_vectors("SHA256LongMsg.rsp", &lv);
	for (k = 0; k < sizeof(short_lens) / sizeof(short_lens[0]); k++) {
		for (i = 0; i < sv.n && sv.v[i].len != short_lens[k]; i++)
			;
		assert_true(i < sv.n);
		check_splits(&sv.v[i], 1);
		check_bytewise(&sv.v[i]);
	}
	for (i = 0; i < 3; i++) {
		check_splits(&lv.v[i], 0);
		check_bytewise(&lv.v[i]);
	}
	free_vectors(&sv);
	free_vectors(&lv);
}

/* FIPS 180-2 appendix B.3, one-shot and fed in uneven chunks. */
static void test_million_a(void **state)
{
	static const uint8_t want[SHA256_DIGEST_SIZE] = {
		0xcd, 0xc7, 0x6e, 0x5c, 0x99, 0x14, 0xfb, 0x92, 0x81, 0xa1, 0xc7, 0xe2,
		0x84, 0xd7, 0x3e, 0x67, 0xf1, 0x80, 0x9a, 0x48, 0xa4, 0x97, 0x20, 0x0e,
		0x04, 0x6d, 0x39, 0xcc, 0xc7, 0x11, 0x2c, 0xd0,
	};
	static const size_t chunks[] = { 1, 7, 64, 997, 65536 };
	const size_t n = 1000000;
	struct sha256_ctx ctx;
	uint8_t md[SHA256_DIGEST_SIZE];
	uint8_t *a = malloc(n);
	size_t c, at, step;

	assert_non_null(a);
	memset(a, 'a', n);
	sha256(a, n, md);
	assert_memory_equal(md, want, sizeof(md));
	for (c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
		sha256_init(&ctx);
		for (at = 0; at < n; at += step) {
			step = n - at < chunks[c] ? n - at : chunks[c];
			sha256_update(&ctx, a + at, step);
		}
		sha256_final(&ctx, md);
		assert_memory_equal(md, want, sizeof(md));
	}
	free(a);
}

/* An update of 0 bytes changes nothing, even from a NULL pointer. */
static void test_empty_updates(void **state)
{
	static const uint8_t abc_md[SHA256_DIGEST_SIZE] = {
		0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40, 0xde,
		0x5d, 0xae, 0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c,
		0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad,
	};
	struct sha256_ctx ctx;
	uint8_t md[SHA256_DIGEST_SIZE];

	sha256_init(&ctx);
	sha256_update(&ctx, "", 0);
	sha256_update(&ctx, "ab", 2);
	sha256_update(&ctx, "", 0);
	sha256_update(&ctx, "c", 1);
	sha256_final(&ctx, md);
	assert_memory_equal(md, abc_md, sizeof(md));
	/* the context is reusable after a fresh init */
	sha256_init(&ctx);
	sha256_update(&ctx, "abc", 3);
	sha256_final(&ctx, md);
	assert_memory_equal(md, abc_md, sizeof(md));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_short_msg),
		cmocka_unit_test(test_long_msg),
		cmocka_unit_test(test_monte),
		cmocka_unit_test(test_split_every_position),
		cmocka_unit_test(test_million_a),
		cmocka_unit_test(test_empty_updates),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
