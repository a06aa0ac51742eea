// unit-srcs: update/fit_sig.c update/rsa.c update/sha256.c src/devtree.c src/devtree_prop.c
// unit-libs: -lfdt
/*
 * Host tests of FIT configuration signatures (update/fit_sig.c) against
 * packs the real mkimage signed at test-build time with keys openssl made
 * (test/unit/fit_sig.mk): valid packs with inline and external data, e = 3
 * and 4096-bit keys, two signatures; the digest of every signature
 * compared with what test/unit/fit_sig/check_sig.py (a second, Python,
 * implementation) computed; then copies tampered with libfdt or byte
 * patches, each checked for its code and for a message naming what failed;
 * the key policy (required, required-mode, key-name-hint); truncated and
 * garbled blobs.
 *
 * Every blob handed to fit_sig_verify() sits in a heap block of exactly
 * its size, so AddressSanitizer catches any read past the end.
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
#include <libfdt.h>

#include <kernel/errno.h>
#include <kernel/fit_sig.h>
#include <kernel/sha256.h>

#define SLACK	8192	/* room for the edits a test makes to a copy */
#define SIG1	"/configurations/conf-1/signature-1"

struct blob {
	uint8_t *b;
	size_t n;
};

static struct blob signed_itb, signed_ext, signed_pos, other_itb, e3_itb, big_itb, multi_itb;
static struct blob k_signed, k_noreq, k_e3, k_big, k_multi;
static char err[FIT_SIG_ERR_MAX];

static const char *dir(void)
{
	const char *d = getenv("FIT_SIG_DIR");

	return d ? d : "build/unit/fit_sig";
}

static struct blob load(const char *name)
{
	char path[512];
	struct blob bl;
	long size;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir(), name);
	f = fopen(path, "rb");
	if (!f)
		fail_msg("cannot open %s (made by test/unit/fit_sig.mk)", path);
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	rewind(f);
	bl.n = (size_t)size;
	bl.b = malloc(bl.n);	/* malloc's alignment satisfies libfdt's 8 */
	assert_non_null(bl.b);
	assert_int_equal(fread(bl.b, 1, bl.n, f), bl.n);
	fclose(f);
	return bl;
}

static const struct {
	const char *file;
	struct blob *bl;
} files[] = {
	{ "signed.itb", &signed_itb }, { "signed-ext.itb", &signed_ext },
	{ "signed-pos.itb", &signed_pos }, { "other.itb", &other_itb },
	{ "e3.itb", &e3_itb }, { "big.itb", &big_itb }, { "multi.itb", &multi_itb },
	{ "keys-signed.dtb", &k_signed }, { "keys-noreq.dtb", &k_noreq },
	{ "keys-e3.dtb", &k_e3 }, { "keys-big.dtb", &k_big }, { "keys-multi.dtb", &k_multi },
};

static int setup(void **state)
{
	size_t i;

	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		*files[i].bl = load(files[i].file);
	return 0;
}

static int teardown(void **state)
{
	size_t i;

	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		free(files[i].bl->b);
	return 0;
}

/* --- helpers ----------------------------------------------------------- */

static struct blob dup_exact(const void *b, size_t n)
{
	struct blob bl = { .b = malloc(n ? n : 1), .n = n };

	assert_non_null(bl.b);
	memcpy(bl.b, b, n);
	return bl;
}

/* fit_sig_verify() on exact-size copies of both blobs; the return code. */
static int verify_conf(const struct blob *fit, const struct blob *keys, const char *conf)
{
	struct blob f = dup_exact(fit->b, fit->n), k = dup_exact(keys->b, keys->n);
	int ret;

	memset(err, 'x', sizeof(err));
	ret = fit_sig_verify(f.b, f.n, conf, k.b, k.n, err, sizeof(err));
	free(f.b);
	free(k.b);
	assert_true(memchr(err, '\0', sizeof(err)) != NULL);
	if (ret)
		assert_true(err[0] != '\0');
	else
		assert_string_equal(err, "");
	return ret;
}

static int verify(const struct blob *fit, const struct blob *keys)
{
	return verify_conf(fit, keys, "conf-1");
}

/* The code must be @code and the message must contain @msg. */
static void expect_conf(const struct blob *fit, const struct blob *keys, const char *conf,
			int code, const char *msg)
{
	int ret = verify_conf(fit, keys, conf);

	if (ret != code || !strstr(err, msg))
		fail_msg("want %d \"...%s...\", got %d \"%s\"", code, msg, ret, err);
}

static void expect(const struct blob *fit, const struct blob *keys, int code, const char *msg)
{
	expect_conf(fit, keys, "conf-1", code, msg);
}

/* A writable copy of an inline-data FDT with room to grow. */
static struct blob edit(const struct blob *src)
{
	struct blob bl = { .n = fdt_totalsize(src->b) + SLACK };

	bl.b = malloc(bl.n);
	assert_non_null(bl.b);
	assert_int_equal(fdt_open_into(src->b, bl.b, (int)bl.n), 0);
	return bl;
}

/* Packs an edited copy back into a block of exactly its size. */
static void done(struct blob *bl)
{
	struct blob out;

	assert_int_equal(fdt_pack(bl->b), 0);
	out = dup_exact(bl->b, fdt_totalsize(bl->b));
	free(bl->b);
	*bl = out;
}

static int node(const struct blob *bl, const char *path)
{
	int off = fdt_path_offset(bl->b, path);

	assert_true(off >= 0);
	return off;
}

/*
 * @src with property @prop of node @path set to @val, @len bytes (-1: a
 * string), or deleted when @val is NULL.
 */
static struct blob with_prop(const struct blob *src, const char *path, const char *prop,
			     const void *val, int len)
{
	struct blob bl = edit(src);
	int off = node(&bl, path);

	if (!val)
		assert_int_equal(fdt_delprop(bl.b, off, prop), 0);
	else
		assert_int_equal(fdt_setprop(bl.b, off, prop, val,
					     len < 0 ? (int)strlen(val) + 1 : len), 0);
	done(&bl);
	return bl;
}

/* @src with @drop removed from SIG1's hashed-nodes. */
static struct blob without_hashed(const struct blob *src, const char *drop)
{
	char list[1024];
	const char *old, *s;
	int len, n = 0;

	old = fdt_getprop(src->b, node(src, SIG1), "hashed-nodes", &len);
	assert_non_null(old);
	for (s = old; s < old + len; s += strlen(s) + 1) {
		if (strcmp(s, drop)) {
			memcpy(list + n, s, strlen(s) + 1);
			n += (int)strlen(s) + 1;
		}
	}
	assert_int_equal(n, len - (int)strlen(drop) - 1);	/* it was there */
	return with_prop(src, SIG1, "hashed-nodes", list, n);
}

static void put(struct blob *bl)
{
	free(bl->b);
	bl->b = NULL;
}

/* --- valid packs --------------------------------------------------------- */

static void test_valid(void **state)
{
	assert_int_equal(verify(&signed_itb, &k_signed), 0);
	assert_int_equal(verify(&signed_ext, &k_signed), 0);	/* mkimage -E */
	assert_int_equal(verify(&signed_pos, &k_signed), 0);	/* mkimage -E -p */
	assert_int_equal(verify(&e3_itb, &k_e3), 0);		/* e = 3 from the key */
	assert_int_equal(verify(&big_itb, &k_big), 0);		/* sha256,rsa4096 */
	assert_int_equal(verify(&multi_itb, &k_multi), 0);	/* both keys required */
	assert_int_equal(verify(&multi_itb, &k_signed), 0);	/* dev: signature-1 */
	/* the -E packs carry bytes after the FDT; verification ignores them */
	assert_true(signed_ext.n > fdt_totalsize(signed_ext.b));
}

/* One digest line of check_sig.py per signature node must match ours. */
static void check_digests(const char *pack, const struct blob *fit)
{
	char path[512], sig[64], hex[65], verdict[128];
	uint8_t digest[SHA256_DIGEST_SIZE], want[SHA256_DIGEST_SIZE];
	unsigned int i, lines = 0, x;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s.digest", dir(), pack);
	f = fopen(path, "r");
	if (!f)
		fail_msg("cannot open %s (made by test/unit/fit_sig.mk)", path);
	while (fscanf(f, "%63s %64s %127[^\n]", sig, hex, verdict) == 3) {
		for (i = 0; i < SHA256_DIGEST_SIZE; i++) {
			assert_int_equal(sscanf(hex + 2 * i, "%2x", &x), 1);
			want[i] = (uint8_t)x;
		}
		assert_int_equal(fit_sig_digest(fit->b, fit->n, "conf-1", sig, digest, err,
						sizeof(err)), 0);
		if (memcmp(digest, want, sizeof(want)))
			fail_msg("%s %s: digest differs from check_sig.py's", pack, sig);
		lines++;
	}
	fclose(f);
	assert_true(lines >= 1);
}

static void test_digests_match_python(void **state)
{
	static const char *const packs[] = {
		"signed", "signed-ext", "signed-pos", "noreq", "other", "e3", "big", "multi",
		"noroot",	/* "/" not hashed: supernode tags and U-Boot's end-tag rule */
	};
	char name[64];
	struct blob bl;
	size_t i;

	for (i = 0; i < sizeof(packs) / sizeof(packs[0]); i++) {
		snprintf(name, sizeof(name), "%s.itb", packs[i]);
		bl = load(name);
		check_digests(packs[i], &bl);
		put(&bl);
	}
	bl = load("noroot.itb");
	expect(&bl, &k_signed, -KE_PERM, "signature-1: RSA verification failed (key dev)");
	put(&bl);
}

/* --- tampering ----------------------------------------------------------- */

/*
 * Image data is not signed (mkimage leaves `data` out of the regions): the
 * signature still verifies and the sha256 hash node, which is signed,
 * no longer matches the data. pack.c's hash check is what catches it.
 */
static void check_data_flip(const struct blob *fit, const uint8_t *data, size_t len,
			    const uint8_t *hash)
{
	uint8_t md[SHA256_DIGEST_SIZE];

	assert_int_equal(verify(fit, &k_signed), 0);
	sha256(data, len, md);
	assert_memory_not_equal(md, hash, sizeof(md));
}

static void test_data_flip(void **state)
{
	struct blob bl = dup_exact(signed_itb.b, signed_itb.n);
	const uint8_t *data, *hash;
	int len, hlen;
	uint32_t off, size;

	data = fdt_getprop(bl.b, node(&bl, "/images/step-3"), "data", &len);
	hash = fdt_getprop(bl.b, node(&bl, "/images/step-3/hash-1"), "value", &hlen);
	assert_non_null(data);
	assert_int_equal(hlen, SHA256_DIGEST_SIZE);
	((uint8_t *)data)[len / 2] ^= 0x01;
	check_data_flip(&bl, data, (size_t)len, hash);
	put(&bl);
	/* the same with external data, past the FDT */
	bl = dup_exact(signed_ext.b, signed_ext.n);
	off = fdt32_ld(fdt_getprop(bl.b, node(&bl, "/images/step-3"), "data-offset", NULL));
	size = fdt32_ld(fdt_getprop(bl.b, node(&bl, "/images/step-3"), "data-size", NULL));
	hash = fdt_getprop(bl.b, node(&bl, "/images/step-3/hash-1"), "value", NULL);
	off += (fdt_totalsize(bl.b) + 3) & ~3u;
	bl.b[off + size - 1] ^= 0x80;
	check_data_flip(&bl, bl.b + off, size, hash);
	put(&bl);
}

/*
 * One property edit of the pack or of the key dtb (as with_prop() takes
 * it) and the verdict.
 */
struct edit_case {
	bool key;
	const char *path, *prop;
	const char *val;
	int len;
	int code;
	const char *msg;
};

#define RSA_FAIL	"signature-1: RSA verification failed (key dev)"
#define KEY_DEV		"/signature/key-dev"
#define CONF1		"/configurations/conf-1"

static void run_cases(const struct edit_case *c, size_t n)
{
	const struct blob *fit, *keys;
	struct blob bl;
	size_t i;

	for (i = 0; i < n; i++, c++) {
		bl = with_prop(c->key ? &k_signed : &signed_itb, c->path, c->prop, c->val, c->len);
		fit = c->key ? &signed_itb : &bl;
		keys = c->key ? &bl : &k_signed;
		if (c->code)
			expect(fit, keys, c->code, c->msg);
		else
			assert_int_equal(verify(fit, keys), 0);
		put(&bl);
	}
}

static void test_tampered_props(void **state)
{
	static const struct edit_case cases[] = {
		{ false, "/images/step-2", "update,from", "\0\0\0\5", 4, -KE_PERM, RSA_FAIL },
		{ false, CONF1, "update,seq", "\0\0\0\x46", 4, -KE_PERM, RSA_FAIL },
		{ false, "/images/step-1/hash-1", "value", "0123456789abcdef0123456789abcdef",
		  32, -KE_PERM, RSA_FAIL },
		{ false, "/", "description", "evil update pack", -1, -KE_PERM, RSA_FAIL },
		{ false, CONF1, "loadables", "step-1", -1, -KE_PERM, RSA_FAIL },
		/* a new property in a signed node */
		{ false, "/images/step-1", "update,mode", "eager", -1, -KE_PERM, RSA_FAIL },
		/* a name new to the strings block lies past hashed-strings: refused early */
		{ false, "/images/step-1", "load", "\x80\0\0\0", 4, -KE_PERM,
		  "signature-1: property load outside hashed-strings" },
	};

	run_cases(cases, sizeof(cases) / sizeof(cases[0]));
}

/* What the signature does not cover may change, as in U-Boot. */
static void test_unsigned_parts(void **state)
{
	struct blob bl, bl2;

	bl = with_prop(&signed_itb, SIG1, "signer-name", "someone else", -1);
	assert_int_equal(verify(&bl, &k_signed), 0);
	put(&bl);
	bl = with_prop(&signed_itb, "/configurations/conf-2", "update,seq", "\0\0\0\x63", 4);
	assert_int_equal(verify(&bl, &k_signed), 0);
	put(&bl);
	/* an image no loadable names: its tags are not hashed */
	bl = edit(&signed_itb);
	assert_true(fdt_add_subnode(bl.b, node(&bl, "/images"), "evil") >= 0);
	done(&bl);
	assert_int_equal(verify(&bl, &k_signed), 0);
	/* ... but a new subnode of a signed image is (its begin/end tags) */
	bl2 = edit(&bl);
	assert_true(fdt_add_subnode(bl2.b, node(&bl2, "/images/step-1"), "extra") >= 0);
	done(&bl2);
	expect(&bl2, &k_signed, -KE_PERM, "RSA verification failed");
	put(&bl2);
	put(&bl);
}

/* A hash node the signature does not cover would let its value be forged. */
static void test_unsigned_hash_node(void **state)
{
	struct blob bl = edit(&signed_itb);
	int h;

	h = fdt_add_subnode(bl.b, node(&bl, "/images/step-2"), "hash-9");
	assert_true(h >= 0);
	assert_int_equal(fdt_setprop_string(bl.b, h, "algo", "sha256"), 0);
	done(&bl);
	expect(&bl, &k_signed, -KE_PERM, "signature-1: hashed-nodes lacks /images/step-2/hash-9");
	put(&bl);
}

static void test_other_key(void **state)
{
	expect(&other_itb, &k_signed, -KE_PERM, "signature-1: RSA verification failed (key dev)");
	expect(&signed_itb, &k_e3, -KE_PERM, "RSA verification failed (key e3)");
	expect(&e3_itb, &k_signed, -KE_PERM, "RSA verification failed (key dev)");
}

static void test_no_signature(void **state)
{
	struct blob bl = edit(&signed_itb);

	assert_int_equal(fdt_del_node(bl.b, node(&bl, SIG1)), 0);
	done(&bl);
	expect(&bl, &k_signed, -KE_NOENT, "config conf-1: no signature");
	put(&bl);
	expect_conf(&signed_itb, &k_signed, "conf-2", -KE_NOENT, "config conf-2: no signature");
	expect_conf(&signed_itb, &k_signed, "conf-3", -KE_NOENT, "config conf-3: not found");
	expect_conf(&signed_itb, &k_signed, "conf", -KE_NOENT, "config conf: not found");
}

static void test_hashed_nodes_omit(void **state)
{
	static const char *const drop[] = {
		"/images/step-2", "/images/step-1/hash-1", "/images/step-2/hash-2",
		"/configurations/conf-1",
	};
	char msg[FIT_SIG_ERR_MAX];
	struct blob bl;
	unsigned int i;

	for (i = 0; i < sizeof(drop) / sizeof(drop[0]); i++) {
		bl = without_hashed(&signed_itb, drop[i]);
		snprintf(msg, sizeof(msg), "signature-1: hashed-nodes lacks %s", drop[i]);
		expect(&bl, &k_signed, -KE_PERM, msg);
		put(&bl);
	}
	/* the root is not needed by the check; the RSA check then fails */
	bl = without_hashed(&signed_itb, "/");
	expect(&bl, &k_signed, -KE_PERM, "RSA verification failed");
	put(&bl);
}

/* conf-1's signature pasted into conf-2: U-Boot's "config not in hashed nodes". */
static void copy_sig_to_conf2(struct blob *bl)
{
	char name[64];
	uint8_t val[1024];
	const char *pname;
	const void *v;
	int src, dst, prop, len;

	dst = fdt_add_subnode(bl->b, node(bl, "/configurations/conf-2"), "signature-1");
	assert_true(dst >= 0);
	src = node(bl, SIG1);	/* before conf-2: not moved by the edits */
	fdt_for_each_property_offset(prop, bl->b, src) {
		v = fdt_getprop_by_offset(bl->b, prop, &pname, &len);
		assert_true(v && len <= (int)sizeof(val));
		snprintf(name, sizeof(name), "%s", pname);
		memcpy(val, v, (size_t)len);
		dst = node(bl, "/configurations/conf-2/signature-1");
		assert_int_equal(fdt_setprop(bl->b, dst, name, val, len), 0);
	}
}

static void test_signature_copied(void **state)
{
	static const char list[] = "/\0/configurations/conf-2\0/images/step-1\0"
				   "/images/step-1/hash-1";
	struct blob bl = edit(&signed_itb), bl2;

	copy_sig_to_conf2(&bl);
	done(&bl);
	expect_conf(&bl, &k_signed, "conf-2", -KE_PERM,
		    "signature-1: hashed-nodes lacks /configurations/conf-2");
	assert_int_equal(verify(&bl, &k_signed), 0);	/* conf-1 still fine */
	/* claiming conf-2 in hashed-nodes changes the regions: RSA fails */
	bl2 = with_prop(&bl, "/configurations/conf-2/signature-1", "hashed-nodes", list,
			sizeof(list));
	expect_conf(&bl2, &k_signed, "conf-2", -KE_PERM, "RSA verification failed");
	put(&bl2);
	put(&bl);
}

/* @src with @n copies of SIG1 (signature-2, ...) in conf-1. */
static struct blob with_sig_copies(const struct blob *src, int n)
{
	struct { char name[64]; uint8_t val[1024]; int len; } props[16];
	struct blob bl = { .n = fdt_totalsize(src->b) + SLACK + (size_t)n * 2048 };
	int np = 0, prop, len;

	bl.b = malloc(bl.n);
	assert_non_null(bl.b);
	assert_int_equal(fdt_open_into(src->b, bl.b, (int)bl.n), 0);
	fdt_for_each_property_offset(prop, bl.b, node(&bl, SIG1)) {
		const char *pname;
		const void *v = fdt_getprop_by_offset(bl.b, prop, &pname, &len);

		assert_true(v && len <= (int)sizeof(props[0].val) && np < 16);
		snprintf(props[np].name, sizeof(props[np].name), "%s", pname);
		memcpy(props[np].val, v, (size_t)len);
		props[np++].len = len;
	}
	for (int i = 0; i < n; i++) {
		char sname[32];
		int dst;

		snprintf(sname, sizeof(sname), "signature-%d", i + 2);
		dst = fdt_add_subnode(bl.b, node(&bl, "/configurations/conf-1"), sname);
		assert_true(dst >= 0);
		for (int k = 0; k < np; k++) {
			char path[96];

			snprintf(path, sizeof(path), "/configurations/conf-1/%s", sname);
			assert_int_equal(fdt_setprop(bl.b, node(&bl, path), props[k].name,
						     props[k].val, props[k].len), 0);
		}
	}
	done(&bl);
	return bl;
}

/*
 * More than FIT_SIG_MAX_SIGS signature nodes: refused before any RSA
 * check. Up to the cap they are checked (copies added after signing
 * change the configuration's hashed node tags, so RSA fails there: the
 * proof that the check ran; multi.itb, signed with two, passes in
 * test_valid).
 */
static void test_signature_node_cap(void **state)
{
	struct blob at_cap = with_sig_copies(&signed_itb, FIT_SIG_MAX_SIGS - 1);
	struct blob over = with_sig_copies(&signed_itb, FIT_SIG_MAX_SIGS);
	struct blob many = with_sig_copies(&signed_itb, 200);

	expect(&at_cap, &k_signed, -KE_PERM, "RSA verification failed");
	expect(&over, &k_signed, -KE_PERM, "more than 4 signature nodes");
	expect(&many, &k_signed, -KE_PERM, "more than 4 signature nodes");
	/* with no key required too */
	expect(&many, &k_noreq, -KE_PERM, "more than 4 signature nodes");
	put(&at_cap);
	put(&over);
	put(&many);
}

/* Signature node properties that are missing or malformed. */
static void test_signature_props(void **state)
{
	static const struct edit_case cases[] = {
		{ false, SIG1, "value", NULL, 0, -KE_PERM, "signature-1: no value" },
		{ false, SIG1, "value", "short", -1, -KE_PERM,
		  "signature-1: value is 6 bytes, want 256" },
		{ false, SIG1, "hashed-nodes", NULL, 0, -KE_PERM, "signature-1: no hashed-nodes" },
		/* no final NUL */
		{ false, SIG1, "hashed-nodes", "/\0/configurations/conf-1", 24, -KE_PERM,
		  "signature-1: bad hashed-nodes" },
		{ false, SIG1, "hashed-strings", NULL, 0, -KE_PERM,
		  "signature-1: no hashed-strings" },
		{ false, SIG1, "hashed-strings", "\0\0\0\0", 4, -KE_PERM,
		  "signature-1: bad hashed-strings" },
		{ false, SIG1, "hashed-strings", "\0\0\0\4\0\0\0\x40", 8, -KE_PERM,
		  "hashed-strings outside the strings block" },
		{ false, SIG1, "hashed-strings", "\0\0\0\0\0\x10\0\0", 8, -KE_PERM,
		  "hashed-strings outside the strings block" },
		/* fewer strings than the signed properties name */
		{ false, SIG1, "hashed-strings", "\0\0\0\0\0\0\0\x08", 8, -KE_PERM,
		  "outside hashed-strings" },
		{ false, SIG1, "algo", "sha1,rsa2048", -1, -KE_NOTSUP,
		  "signature-1: algo sha1,rsa2048 not supported" },
		{ false, SIG1, "algo", "sha256,rsa1024", -1, -KE_NOTSUP, "not supported" },
		{ false, SIG1, "algo", NULL, 0, -KE_PERM, "signature-1: no algo" },
		/* a 2048-bit signature claimed as 4096-bit: the value has the wrong size */
		{ false, SIG1, "algo", "sha256,rsa4096", -1, -KE_PERM,
		  "value is 256 bytes, want 512" },
		{ false, SIG1, "padding", "pss", -1, -KE_NOTSUP,
		  "signature-1: padding not supported" },
		{ false, SIG1, "padding", "pkcs-1.5", -1, 0, NULL },
	};

	run_cases(cases, sizeof(cases) / sizeof(cases[0]));
}

/* --- keys ------------------------------------------------------------------ */

/* Key algo, constants and sizes; the exponent comes from the key. */
static void test_key_props(void **state)
{
	static const struct edit_case cases[] = {
		{ true, KEY_DEV, "algo", "sha256,rsa4096", -1, -KE_PERM,
		  "signature-1: key dev is sha256,rsa4096, not sha256,rsa2048" },
		{ true, KEY_DEV, "algo", "sha1,rsa2048", -1, -KE_PERM, "key dev is sha1,rsa2048" },
		{ true, KEY_DEV, "algo", NULL, 0, -KE_PERM, "key dev is (none)" },
		{ true, KEY_DEV, "rsa,n0-inverse", "\0\0\x30\x39", 4, -KE_INVAL,
		  "key dev: bad rsa,n0-inverse or rsa,r-squared" },
		{ true, KEY_DEV, "rsa,r-squared", NULL, 0, -KE_INVAL, "rsa,r-squared" },
		{ true, KEY_DEV, "rsa,num-bits", "\0\0\4\0", 4, -KE_INVAL,
		  "key dev: bad rsa,num-bits" },
		{ true, KEY_DEV, "rsa,modulus", NULL, 0, -KE_INVAL, "key dev: bad rsa,modulus" },
		{ true, KEY_DEV, "rsa,exponent", "\0\1\0\1", 4, -KE_INVAL,	/* 4 bytes, not 8 */
		  "key dev: bad modulus or exponent" },
		/* no exponent: U-Boot's default, 65537, which dev has */
		{ true, KEY_DEV, "rsa,exponent", NULL, 0, 0, NULL },
		{ true, KEY_DEV, "rsa,exponent", "\0\0\0\0\0\0\0\3", 8, -KE_PERM, RSA_FAIL },
	};
	uint8_t buf[256];
	const uint8_t *p;
	struct blob k;
	int len;

	run_cases(cases, sizeof(cases) / sizeof(cases[0]));
	p = fdt_getprop(k_signed.b, node(&k_signed, KEY_DEV), "rsa,r-squared", &len);
	assert_int_equal(len, sizeof(buf));
	memcpy(buf, p, sizeof(buf));
	buf[100] ^= 1;
	k = with_prop(&k_signed, KEY_DEV, "rsa,r-squared", buf, sizeof(buf));
	expect(&signed_itb, &k, -KE_INVAL, "key dev: bad rsa,n0-inverse or rsa,r-squared");
	put(&k);
	p = fdt_getprop(k_signed.b, node(&k_signed, KEY_DEV), "rsa,modulus", &len);
	k = with_prop(&k_signed, KEY_DEV, "rsa,modulus", p, len - 4);
	expect(&signed_itb, &k, -KE_INVAL, "key dev: bad rsa,modulus");
	put(&k);
}

static void test_key_dtb(void **state)
{
	struct blob k = edit(&k_signed);

	assert_int_equal(fdt_del_node(k.b, node(&k, KEY_DEV)), 0);
	done(&k);
	expect(&signed_itb, &k, -KE_NOENT, "keys: no key in /signature");
	put(&k);
	k = edit(&k_signed);
	assert_int_equal(fdt_del_node(k.b, node(&k, "/signature")), 0);
	done(&k);
	expect(&signed_itb, &k, -KE_NOENT, "keys: no /signature node");
	put(&k);
	k = dup_exact(k_signed.b, k_signed.n - 1);	/* truncated key dtb */
	expect(&signed_itb, &k, -KE_INVAL, "keys: bad key dtb");
	put(&k);
}

/* --- key policy ------------------------------------------------------------ */

static void test_required_all_any(void **state)
{
	struct blob k;

	/* keys-multi requires dev and e3: a pack with one signature fails */
	expect(&signed_itb, &k_multi, -KE_PERM, "RSA verification failed (key e3)");
	expect(&e3_itb, &k_multi, -KE_PERM, "RSA verification failed (key dev)");
	k = with_prop(&k_multi, "/signature", "required-mode", "any", -1);
	assert_int_equal(verify(&signed_itb, &k), 0);
	assert_int_equal(verify(&e3_itb, &k), 0);
	assert_int_equal(verify(&multi_itb, &k), 0);
	expect(&other_itb, &k, -KE_PERM, "RSA verification failed");
	put(&k);
	k = with_prop(&k_multi, "/signature", "required-mode", "all", -1);
	expect(&signed_itb, &k, -KE_PERM, "key e3");
	put(&k);
	/* a key that is not required is not asked for */
	k = with_prop(&k_multi, "/signature/key-e3", "required", "none", -1);
	assert_int_equal(verify(&signed_itb, &k), 0);
	put(&k);
	/* image signatures are not checked: a key asking for them is refused */
	k = with_prop(&k_signed, KEY_DEV, "required", "image", -1);
	expect(&signed_itb, &k, -KE_NOTSUP, "key dev: required = image not supported");
	put(&k);
}

/* No required key: U-Boot would check nothing; one signature must still verify. */
static void test_not_required(void **state)
{
	struct blob k, k2;

	assert_int_equal(verify(&signed_itb, &k_noreq), 0);
	expect(&other_itb, &k_noreq, -KE_PERM, "signature-1: RSA verification failed (key dev)");
	expect(&e3_itb, &k_noreq, -KE_NOENT, "signature-1: no key matching key-name-hint e3");
	/* no hint: every key is tried */
	k = with_prop(&signed_itb, SIG1, "key-name-hint", NULL, 0);
	assert_int_equal(verify(&k, &k_noreq), 0);
	put(&k);
	/* keys-multi without `required`: the hint picks, the others are a fallback */
	k = with_prop(&k_multi, "/signature/key-dev", "required", NULL, 0);
	k2 = with_prop(&k, "/signature/key-e3", "required", NULL, 0);
	assert_int_equal(verify(&signed_itb, &k2), 0);
	assert_int_equal(verify(&e3_itb, &k2), 0);
	assert_int_equal(verify(&multi_itb, &k2), 0);
	expect(&other_itb, &k2, -KE_PERM, "RSA verification failed (key dev)");
	put(&k);
	/* a hint naming e3 on a pack dev signed: e3 fails, dev then verifies */
	k = with_prop(&signed_itb, SIG1, "key-name-hint", "e3", -1);
	assert_int_equal(verify(&k, &k2), 0);
	put(&k);
	put(&k2);
}

/* --- names, sizes, garbage --------------------------------------------------- */

static void test_at_in_names(void **state)
{
	struct blob bl = edit(&signed_itb);

	assert_int_equal(fdt_set_name(bl.b, node(&bl, "/configurations/conf-1"), "conf@1"), 0);
	done(&bl);
	expect_conf(&bl, &k_signed, "conf@1", -KE_PERM, "config conf@1: name contains @");
	put(&bl);
	bl = edit(&signed_itb);
	assert_int_equal(fdt_set_name(bl.b, node(&bl, "/images/step-1"), "step@1"), 0);
	assert_int_equal(fdt_setprop(bl.b, node(&bl, "/configurations/conf-1"), "loadables",
				     "step@1\0step-2\0step-3", 21), 0);
	done(&bl);
	expect(&bl, &k_signed, -KE_PERM, "image step@1: name contains @");
	put(&bl);
}

static void test_truncated(void **state)
{
	size_t n, total = fdt_totalsize(signed_itb.b);
	struct blob bl;

	for (n = 0; n < total; n++) {
		bl = dup_exact(signed_itb.b, n);
		expect(&bl, &k_signed, -KE_BADMSG, "fit: bad FDT");
		put(&bl);
	}
	/* trailing bytes are ignored */
	bl.n = total + 64;
	bl.b = calloc(1, bl.n);
	assert_non_null(bl.b);
	memcpy(bl.b, signed_itb.b, total);
	assert_int_equal(verify(&bl, &k_signed), 0);
	put(&bl);
}

static bool code_allowed(int rc)
{
	return rc == 0 || rc == -KE_PERM || rc == -KE_BADMSG || rc == -KE_NOENT ||
	       rc == -KE_NOTSUP || rc == -KE_INVAL;
}

/*
 * Every byte of the FDT part of the -E pack flipped in turn: never a crash
 * or an unknown code, and whenever the signature still verifies, the
 * flipped byte was one the signature does not cover (same digest).
 */
static void test_flip_every_byte(void **state)
{
	uint8_t want[SHA256_DIGEST_SIZE], got[SHA256_DIGEST_SIZE];
	size_t i, total = fdt_totalsize(signed_ext.b);
	unsigned int passed = 0;
	struct blob bl;
	int rc;

	assert_int_equal(fit_sig_digest(signed_ext.b, signed_ext.n, "conf-1", "signature-1",
					 want, NULL, 0), 0);
	for (i = 0; i < total; i++) {
		bl = dup_exact(signed_ext.b, signed_ext.n);
		bl.b[i] ^= 0xff;
		rc = verify(&bl, &k_signed);
		if (!code_allowed(rc))
			fail_msg("byte %zu: code %d \"%s\"", i, rc, err);
		if (rc == 0) {
			assert_int_equal(fit_sig_digest(bl.b, bl.n, "conf-1", "signature-1", got,
							NULL, 0), 0);
			if (memcmp(got, want, sizeof(got)))
				fail_msg("byte %zu: verifies with another digest", i);
			passed++;
		}
		put(&bl);
	}
	print_message("%zu bytes flipped, %u outside the signed regions\n", total, passed);
	assert_true(passed < total / 2);
}

static void test_flip_key_bytes(void **state)
{
	size_t i;
	struct blob k;
	int rc;

	for (i = 0; i < k_signed.n; i++) {
		k = dup_exact(k_signed.b, k_signed.n);
		k.b[i] ^= 0x5a;
		rc = verify(&signed_itb, &k);
		if (!code_allowed(rc))
			fail_msg("key byte %zu: code %d \"%s\"", i, rc, err);
		put(&k);
	}
}

static void test_garbage(void **state)
{
	struct blob bl;
	unsigned int i, seed = 12345;
	size_t j;

	for (i = 0; i < 200; i++) {
		bl = dup_exact(signed_itb.b, 64 + i * 13);
		for (j = 40; j < bl.n; j++) {	/* keep the header, garble the rest */
			seed = seed * 1103515245u + 12345u;
			bl.b[j] = (uint8_t)(seed >> 16);
		}
		fdt_set_totalsize(bl.b, (uint32_t)bl.n);
		assert_true(code_allowed(verify(&bl, &k_signed)));
		assert_true(verify(&bl, &k_signed) != 0);
		put(&bl);
	}
}

static int verify_raw(const void *fit, size_t n, const char *conf, const void *keys,
		      char *e, size_t elen)
{
	return fit_sig_verify(fit, n, conf, keys, keys ? k_signed.n : 0, e, elen);
}

static void test_args(void **state)
{
	uint8_t *raw = malloc(signed_itb.n + 8);
	uint8_t d[SHA256_DIGEST_SIZE];
	const uint8_t *f = signed_itb.b, *k = k_signed.b;
	size_t n = signed_itb.n;

	assert_non_null(raw);
	assert_int_equal(verify_raw(NULL, 0, "conf-1", k, err, sizeof(err)), -KE_INVAL);
	assert_int_equal(verify_raw(f, n, NULL, k, err, sizeof(err)), -KE_INVAL);
	assert_int_equal(verify_raw(f, n, "conf-1", NULL, err, sizeof(err)), -KE_INVAL);
	memcpy(raw + 4, f, n);
	assert_int_equal(verify_raw(raw + 4, n, "conf-1", k, err, sizeof(err)), -KE_INVAL);
	assert_string_equal(err, "fit_sig: blob not 8-byte aligned");
	/* no room for a message is fine */
	assert_int_equal(verify_raw(f, n, "conf-1", k, NULL, 0), 0);
	assert_int_equal(verify_raw(other_itb.b, other_itb.n, "conf-1", k, err, 0), -KE_PERM);
	assert_int_equal(verify_raw(other_itb.b, other_itb.n, "conf-1", k, err, 8), -KE_PERM);
	assert_int_equal(strlen(err), 7);
	assert_int_equal(fit_sig_digest(f, n, "conf-1", "signature-9", d, err, sizeof(err)),
			 -KE_NOENT);
	assert_int_equal(fit_sig_digest(f, n, "conf-1", NULL, d, err, sizeof(err)), -KE_INVAL);
	free(raw);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_digests_match_python),
		cmocka_unit_test(test_data_flip),
		cmocka_unit_test(test_tampered_props),
		cmocka_unit_test(test_unsigned_parts),
		cmocka_unit_test(test_unsigned_hash_node),
		cmocka_unit_test(test_other_key),
		cmocka_unit_test(test_no_signature),
		cmocka_unit_test(test_hashed_nodes_omit),
		cmocka_unit_test(test_signature_copied),
		cmocka_unit_test(test_signature_node_cap),
		cmocka_unit_test(test_signature_props),
		cmocka_unit_test(test_key_props),
		cmocka_unit_test(test_key_dtb),
		cmocka_unit_test(test_required_all_any),
		cmocka_unit_test(test_not_required),
		cmocka_unit_test(test_at_in_names),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_flip_every_byte),
		cmocka_unit_test(test_flip_key_bytes),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_args),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
