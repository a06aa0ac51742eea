// unit-srcs: update/pack.c update/sha256.c src/devtree.c src/devtree_prop.c update/fit_sig.c update/rsa.c
// unit-libs: -lfdt
/*
 * Host tests of the pack parser against packs the real mkimage built at
 * test-build time (test/unit/pack.mk, from the .its files in test/unit/pack/): one
 * step; three steps over two classes with every mode and a requires list;
 * the same with mkimage -E (data-offset) and -E -p (data-position); edge
 * values, hash nodes and PACK_MAX_STEPS steps (edge, sha1, max). All are
 * signed with fit_sig.mk's dev key, whose key dtb setup() hands to
 * pack_parse(). Then copies broken on purpose with libfdt or byte patches,
 * each checked for its error code and for a message naming the node at
 * fault.
 *
 * The parser checks the structure, the configuration and the step
 * properties, then the configuration signature, then the image hashes. So
 * an edit of signed content (the root, the configuration, the images it
 * loads and their hash nodes, but not their data) keeps its own error
 * when a property check before the signature catches it, and otherwise
 * meets the signature (BAD_SIG). What only the hash check can catch is
 * reached through the data, which the signature leaves out, or through a
 * pack the publisher signed that way (edge, sha1).
 *
 * Every copy handed to pack_parse() sits in a heap block of exactly the
 * size passed, so AddressSanitizer catches any read past the end.
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
#include <kernel/pack.h>

#define SLACK	32768	/* room for the edits a test makes to a copy (17 clones) */

struct blob {
	uint8_t *b;
	size_t n;
};

static struct blob one, three, three_ext, three_pos, edge, sha1, max_pack, one_other,
	one_unsigned, pay[3];
/*
 * From test/unit/fit_sig.mk: key dtbs (the dev key; the other/dev key; the
 * dev key without `required`; no key at all) and other.itb, signed.its
 * signed with the other/dev key.
 */
static struct blob keys, keys_other, keys_noreq, no_keys, fs_other;
static char err[PACK_ERR_MAX];
static struct pack pk;

/* What a pack signed by another key, or edited where signed, gets. */
#define BAD_SIG "signature-1: RSA verification failed (key dev)"

static struct blob load_from(const char *env, const char *def, const char *mk,
			     const char *name)
{
	const char *dir = getenv(env);
	char path[512];
	struct blob bl;
	long size;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir ? dir : def, name);
	f = fopen(path, "rb");
	if (!f)
		fail_msg("cannot open %s (made by %s)", path, mk);
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

static struct blob load(const char *name)
{
	return load_from("PACK_DIR", "build/unit/pack", "test/unit/pack.mk", name);
}

static struct blob load_fit_sig(const char *name)
{
	return load_from("FIT_SIG_DIR", "build/unit/fit_sig", "test/unit/fit_sig.mk", name);
}

static int setup(void **state)
{
	/* The public key the packs are signed with (test/unit/fit_sig.mk). */
	keys = load_fit_sig("keys-signed.dtb");
	keys_other = load_fit_sig("keys-other.dtb");
	keys_noreq = load_fit_sig("keys-noreq.dtb");
	no_keys = load_fit_sig("empty.dtb");
	fs_other = load_fit_sig("other.itb");
	pack_set_keys(keys.b, keys.n);
	one = load("one.itb");
	three = load("three.itb");
	three_ext = load("three-ext.itb");
	three_pos = load("three-pos.itb");
	edge = load("edge.itb");
	sha1 = load("sha1.itb");
	max_pack = load("max.itb");
	one_other = load("one-other.itb");
	one_unsigned = load("one-unsigned.itb");
	pay[0] = load("p1.bin");
	pay[1] = load("p2.bin");
	pay[2] = load("p3.bin");
	return 0;
}

static int teardown(void **state)
{
	struct blob *all[] = { &one, &three, &three_ext, &three_pos, &edge, &sha1, &max_pack,
			       &one_other, &one_unsigned, &pay[0], &pay[1], &pay[2],
			       &keys, &keys_other, &keys_noreq, &no_keys, &fs_other };
	size_t i;

	pack_set_keys(NULL, 0);
	for (i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		free(all[i]->b);
	return 0;
}

/* After a test that swaps the keys: the dev key again, even if it failed. */
static int restore_keys(void **state)
{
	pack_set_keys(keys.b, keys.n);
	return 0;
}

/* --- helpers ----------------------------------------------------------------- */

/* pack_parse() on a copy of exactly @n bytes; the return code. */
static int parse_n(const void *b, size_t n)
{
	void *copy = malloc(n ? n : 1);
	int ret;

	assert_non_null(copy);
	memcpy(copy, b, n);
	memset(&pk, 0xa5, sizeof(pk));
	memset(err, 'x', sizeof(err));
	ret = pack_parse(copy, n, &pk, err, sizeof(err));
	free(copy);
	assert_true(memchr(err, '\0', sizeof(err)) != NULL);
	if (ret)
		assert_true(err[0] != '\0');
	else
		assert_string_equal(err, "");
	return ret;
}

/* Parses @b in place (pointers in pk stay valid while @b lives). */
static int parse_in_place(const struct blob *bl)
{
	memset(&pk, 0xa5, sizeof(pk));
	memset(err, 'x', sizeof(err));
	return pack_parse(bl->b, bl->n, &pk, err, sizeof(err));
}

static void expect(const struct blob *bl, int code, const char *msg)
{
	int ret = parse_n(bl->b, bl->n);

	if (ret != code || strcmp(err, msg))
		fail_msg("want %d \"%s\", got %d \"%s\"", code, msg, ret, err);
}

/*
 * A writable copy of @src's FDT with room to grow. External data is not
 * carried along: relayout() puts it back after the edit.
 */
static struct blob edit(const struct blob *src)
{
	struct blob bl = { .n = src->n + SLACK };

	bl.b = malloc(bl.n);
	assert_non_null(bl.b);
	assert_int_equal(fdt_open_into(src->b, bl.b, (int)bl.n), 0);
	return bl;
}

/*
 * Re-lays an edited external-data pack the way mkimage -E does: the FDT
 * packed, padded to 4 bytes, then @src's external data. @fdt is freed.
 * With @pad_total false the header keeps the unpadded size, as mkimage
 * before 2023.01 wrote it; the data still starts 4-byte aligned.
 */
static struct blob relayout_as(struct blob fdt, const struct blob *src, bool pad_total)
{
	size_t old_end = (fdt_totalsize(src->b) + 3) & ~3u, end;
	struct blob bl;

	assert_int_equal(fdt_pack(fdt.b), 0);
	end = (fdt_totalsize(fdt.b) + 3) & ~3u;
	bl.n = end + (src->n - old_end);
	bl.b = calloc(1, bl.n);
	assert_non_null(bl.b);
	memcpy(bl.b, fdt.b, fdt_totalsize(fdt.b));
	if (pad_total)
		fdt_set_totalsize(bl.b, end);
	memcpy(bl.b + end, src->b + old_end, src->n - old_end);
	free(fdt.b);
	return bl;
}

static struct blob relayout(struct blob fdt, const struct blob *src)
{
	return relayout_as(fdt, src, true);
}

static int node(const void *fdt, const char *path)
{
	int off = fdt_path_offset(fdt, path);

	if (off < 0)
		fail_msg("no node %s", path);
	return off;
}

static void set_str(struct blob *bl, const char *path, const char *prop, const char *val)
{
	assert_int_equal(fdt_setprop_string(bl->b, node(bl->b, path), prop, val), 0);
}

static void set_bytes(struct blob *bl, const char *path, const char *prop,
		      const void *val, int len)
{
	assert_int_equal(fdt_setprop(bl->b, node(bl->b, path), prop, val, len), 0);
}

static void del_prop(struct blob *bl, const char *path, const char *prop)
{
	assert_int_equal(fdt_delprop(bl->b, node(bl->b, path), prop), 0);
}

static void del_node(struct blob *bl, const char *path)
{
	assert_int_equal(fdt_del_node(bl->b, node(bl->b, path)), 0);
}

/* Runs the statements after @msg on a fresh copy of @src; expects @code, @msg. */
#define EXPECT_EDIT(src, code, msg, ...)			\
	do {							\
		struct blob e_ = edit(src);			\
		__VA_ARGS__;					\
		expect(&e_, code, msg);				\
		free(e_.b);					\
	} while (0)

static const uint8_t *blob_end(const struct blob *bl)
{
	return bl->b + bl->n;
}

static void assert_step_data(const struct blob *bl, const struct pack_step *s,
			     const struct blob *payload)
{
	assert_true((const uint8_t *)s->data >= bl->b);
	assert_true((const uint8_t *)s->data + s->size <= blob_end(bl));
	assert_int_equal(s->size, payload->n);
	assert_memory_equal(s->data, payload->b, payload->n);
}

/* --- packs as mkimage makes them ------------------------------------------------ */

static void test_one_step(void **state)
{
	const struct pack_step *s = &pk.steps[0];

	assert_int_equal(parse_in_place(&one), 0);
	assert_string_equal(err, "");
	assert_int_equal(pk.seq, 7);
	assert_string_equal(pk.config, "conf-1");
	assert_int_equal(pk.nsteps, 1);
	assert_string_equal(s->name, "step-1");
	assert_string_equal(s->class_name, "counter");
	assert_int_equal(s->from, 1);
	assert_int_equal(s->to, 2);
	assert_string_equal(s->abi, "lukos-abi-1");
	assert_int_equal(s->mode, PACK_MODE_LAZY);
	assert_int_equal(s->nrequires, 1);
	assert_string_equal(s->requires[0].class_name, "sched");
	assert_int_equal(s->requires[0].min_version, 2);
	assert_step_data(&one, s, &pay[0]);
	/* the pointers are into the blob, not copies */
	assert_true((const uint8_t *)s->name > one.b && (const uint8_t *)s->name < blob_end(&one));
	assert_true((const uint8_t *)pk.config > one.b && (const uint8_t *)pk.config < blob_end(&one));
}

/* conf-1 lists step-1, step-3, step-2: the steps come in loadables order. */
static void check_three(const struct blob *bl)
{
	const struct pack_step *s = pk.steps;

	assert_int_equal(pk.seq, 7);
	assert_int_equal(pk.nsteps, 3);
	assert_string_equal(s[0].name, "step-1");
	assert_string_equal(s[1].name, "step-3");
	assert_string_equal(s[2].name, "step-2");
	assert_string_equal(s[0].class_name, "counter");
	assert_string_equal(s[1].class_name, "sched");
	assert_string_equal(s[2].class_name, "counter");
	assert_int_equal(s[0].from, 1);
	assert_int_equal(s[0].to, 2);
	assert_int_equal(s[1].from, 1);
	assert_int_equal(s[1].to, 2);
	assert_int_equal(s[2].from, 2);
	assert_int_equal(s[2].to, 3);
	assert_int_equal(s[0].mode, PACK_MODE_LAZY);
	assert_int_equal(s[1].mode, PACK_MODE_DEFAULT);
	assert_int_equal(s[2].mode, PACK_MODE_EAGER);
	assert_int_equal(s[0].nrequires, 0);
	assert_int_equal(s[1].nrequires, 0);
	assert_int_equal(s[2].nrequires, 2);
	assert_string_equal(s[2].requires[0].class_name, "sched");
	assert_int_equal(s[2].requires[0].min_version, 2);
	assert_string_equal(s[2].requires[1].class_name, "uart_16550");
	assert_int_equal(s[2].requires[1].min_version, 1);
	assert_step_data(bl, &s[0], &pay[0]);
	assert_step_data(bl, &s[1], &pay[2]);
	assert_step_data(bl, &s[2], &pay[1]);
}

static void test_three_steps(void **state)
{
	assert_int_equal(parse_in_place(&three), 0);
	check_three(&three);
}

/* The -E pack really has external data, laid out after the aligned FDT end. */
static void test_external_data(void **state)
{
	size_t base = (fdt_totalsize(three_ext.b) + 3) & ~3u;
	int n = node(three_ext.b, "/images/step-2");

	assert_null(fdt_getprop(three_ext.b, n, "data", NULL));
	assert_non_null(fdt_getprop(three_ext.b, n, "data-offset", NULL));
	assert_true(three_ext.n > fdt_totalsize(three_ext.b));
	assert_int_equal(parse_in_place(&three_ext), 0);
	check_three(&three_ext);
	/* p1 (517 bytes) first, then p2 at mkimage's 4-byte aligned offset 520 */
	assert_ptr_equal(pk.steps[0].data, three_ext.b + base);
	assert_ptr_equal(pk.steps[2].data, three_ext.b + base + 520);
}

static void test_data_position(void **state)
{
	int n = node(three_pos.b, "/images/step-1");

	assert_non_null(fdt_getprop(three_pos.b, n, "data-position", NULL));
	assert_int_equal(parse_in_place(&three_pos), 0);
	check_three(&three_pos);
	assert_ptr_equal(pk.steps[0].data, three_pos.b + 0x1000);
}

/* Bytes after the pack (a download buffer larger than the pack) are ignored. */
static void test_trailing_bytes(void **state)
{
	struct blob bl = { .n = three.n + 100 };

	bl.b = malloc(bl.n);
	assert_non_null(bl.b);
	memcpy(bl.b, three.b, three.n);
	memset(bl.b + three.n, 0xee, 100);
	assert_int_equal(parse_in_place(&bl), 0);
	check_three(&bl);
	free(bl.b);
}

/* Only the default configuration counts. */
static void test_default_selects_config(void **state)
{
	struct blob e = edit(&three);

	set_str(&e, "/configurations", "default", "conf-2");
	assert_int_equal(parse_in_place(&e), 0);
	assert_string_equal(pk.config, "conf-2");
	assert_int_equal(pk.seq, 9);
	assert_int_equal(pk.nsteps, 1);
	assert_string_equal(pk.steps[0].name, "step-3");
	assert_step_data(&e, &pk.steps[0], &pay[2]);
	free(e.b);
}

/* --- hashes ----------------------------------------------------------------------- */

/* Flips one byte of step @i's data in a copy of @src; expects a mismatch. */
static void flip_data(const struct blob *src, unsigned int i, size_t at, const char *msg)
{
	struct blob c = { .n = src->n };
	size_t off;

	assert_int_equal(parse_in_place(src), 0);
	off = (size_t)((const uint8_t *)pk.steps[i].data - src->b) + at;
	c.b = malloc(c.n);
	assert_non_null(c.b);
	memcpy(c.b, src->b, c.n);
	c.b[off] ^= 0x01;
	expect(&c, -KE_FAULT, msg);
	free(c.b);
}

static void test_tampered_data(void **state)
{
	size_t at;

	/* every byte of the one-step pack's module */
	for (at = 0; at < pay[0].n; at++)
		flip_data(&one, 0, at, "image step-1: sha256 mismatch");
	flip_data(&three, 1, 4098, "image step-3: sha256 mismatch");
	flip_data(&three, 2, 1, "image step-2: sha256 mismatch");
	flip_data(&three_ext, 2, 2, "image step-2: sha256 mismatch");
	flip_data(&three_ext, 1, 0, "image step-3: sha256 mismatch");
	flip_data(&three_pos, 0, 516, "image step-1: sha256 mismatch");
	assert_false(pack_err_integrity(0));
	assert_true(pack_err_integrity(-KE_FAULT));
}

/* --- single edits, as tables ------------------------------------------------------ */

enum mut_op { MUT_SET, MUT_DEL, MUT_DEL_NODE };

/* One edit of a fresh copy of a pack, and the verdict it must get. */
struct mut {
	const struct blob *src;
	enum mut_op op;
	const char *path, *prop;
	const void *val;
	int len;
	int code;
	const char *msg;
};

/* sizeof a literal counts its final NUL, as a string(list) property does */
#define SET(src, path, prop, lit, code, msg) \
	{ src, MUT_SET, path, prop, lit, (int)sizeof(lit), code, msg }
#define RAW(src, path, prop, val, len, code, msg) \
	{ src, MUT_SET, path, prop, val, len, code, msg }
#define DEL(src, path, prop, code, msg) \
	{ src, MUT_DEL, path, prop, NULL, 0, code, msg }
#define DEL_NODE(src, path, code, msg) \
	{ src, MUT_DEL_NODE, path, NULL, NULL, 0, code, msg }
#define RUN(table) run_muts(table, sizeof(table) / sizeof(table[0]))

static const uint8_t zero32[32];

/* Each row on its own copy; external-data packs are re-laid out after. */
static void run_muts(const struct mut *m, size_t n)
{
	struct blob e;
	size_t i;
	int ret;

	for (i = 0; i < n; i++, m++) {
		e = edit(m->src);
		if (m->op == MUT_SET)
			set_bytes(&e, m->path, m->prop, m->val, m->len);
		else if (m->op == MUT_DEL)
			del_prop(&e, m->path, m->prop);
		else
			del_node(&e, m->path);
		if (m->src == &three_ext)
			e = relayout(e, &three_ext);
		ret = parse_n(e.b, e.n);
		if (ret != m->code || strcmp(err, m->msg))
			fail_msg("row %zu (%s %s): want %d \"%s\", got %d \"%s\"", i, m->path,
				 m->prop ? m->prop : "", m->code, m->msg, ret, err);
		free(e.b);
	}
}

/*
 * Hash values are signed (hashed-nodes lists every hash node of a loaded
 * image), and the signature is checked before them: an edited value,
 * well-formed or not, is the signature's to catch, never reaching the
 * hash check's length and digest tests.
 */
static void test_changed_hash_value(void **state)
{
	static const struct mut muts[] = {
		RAW(&three, "/images/step-2/hash-1", "value", zero32, 32, -KE_PERM, BAD_SIG),
		RAW(&three, "/images/step-2/hash-1", "value", zero32, 31, -KE_PERM, BAD_SIG),
		RAW(&three, "/images/step-2/hash-1", "value", zero32, 0, -KE_PERM, BAD_SIG),
		DEL(&three, "/images/step-2/hash-1", "value", -KE_PERM, BAD_SIG),
		RAW(&three_ext, "/images/step-3/hash-1", "value", zero32, 32, -KE_PERM, BAD_SIG),
	};
	uint8_t val[32];
	struct blob e;
	int len;

	RUN(muts);
	/* one bit off; then step-1's value on step-2: well-formed, wrong */
	memcpy(val, fdt_getprop(three.b, node(three.b, "/images/step-2/hash-1"), "value", &len), 32);
	assert_int_equal(len, 32);
	val[31] ^= 0x80;
	EXPECT_EDIT(&three, -KE_PERM, BAD_SIG,
		    set_bytes(&e_, "/images/step-2/hash-1", "value", val, 32));
	e = edit(&three);
	memcpy(val, fdt_getprop(e.b, node(e.b, "/images/step-1/hash-1"), "value", NULL), 32);
	set_bytes(&e, "/images/step-2/hash-1", "value", val, 32);
	expect(&e, -KE_PERM, BAD_SIG);
	free(e.b);
	/*
	 * A signed value that is not the data's digest is still a sha256
	 * mismatch: the data is not signed. Step-1's module under step-2's
	 * hash (and the reverse); another module of step-2's own size.
	 */
	EXPECT_EDIT(&three, -KE_FAULT, "image step-2: sha256 mismatch",
		    set_bytes(&e_, "/images/step-2", "data", pay[0].b, (int)pay[0].n));
	EXPECT_EDIT(&three, -KE_FAULT, "image step-1: sha256 mismatch",
		    set_bytes(&e_, "/images/step-1", "data", pay[1].b, (int)pay[1].n));
	EXPECT_EDIT(&three, -KE_FAULT, "image step-2: sha256 mismatch",
		    set_bytes(&e_, "/images/step-2", "data", "abc", 3));
}

static void test_hash_nodes(void **state)
{
	/*
	 * Every hash node of a loaded image is signed, whatever its algo:
	 * editing, adding or removing one fails the signature, not the hash
	 * check (whose verdicts on such nodes edge.itb and sha1.itb below
	 * reach with packs signed that way).
	 */
	static const struct mut muts[] = {
		/* a wrong crc32 value: signed too, though the hash check ignores crc32 */
		RAW(&three, "/images/step-1/hash-2", "value", "\1\2\3\4", 4, -KE_PERM, BAD_SIG),
		SET(&three, "/images/step-1/hash-2", "algo", "sha256", -KE_PERM, BAD_SIG),
		DEL_NODE(&one, "/images/step-1/hash-1", -KE_PERM, BAD_SIG),
		DEL_NODE(&three_ext, "/images/step-3/hash-1", -KE_PERM, BAD_SIG),
		DEL_NODE(&three, "/images/step-1/hash-1", -KE_PERM, BAD_SIG),
		SET(&one, "/images/step-1/hash-1", "algo", "sha1", -KE_PERM, BAD_SIG),
		SET(&one, "/images/step-1/hash-1", "algo", "SHA256", -KE_PERM, BAD_SIG),
		DEL(&one, "/images/step-1/hash-1", "algo", -KE_PERM, BAD_SIG),
		RAW(&one, "/images/step-1/hash-1", "algo", "sha256", 6, -KE_PERM, BAD_SIG),
	};
	struct blob e;

	RUN(muts);
	/* a second sha256 node with a wrong value */
	EXPECT_EDIT(&three, -KE_PERM, BAD_SIG,
		    set_str(&e_, "/images/step-1/hash-2", "algo", "sha256");
		    set_bytes(&e_, "/images/step-1/hash-2", "value", zero32, 32));
	/* a hash node added after signing is not in hashed-nodes */
	e = edit(&three);
	assert_true(fdt_add_subnode(e.b, node(e.b, "/images/step-3"), "hash-9") >= 0);
	set_str(&e, "/images/step-3/hash-9", "algo", "sha256");
	set_bytes(&e, "/images/step-3/hash-9", "value", zero32, 32);
	expect(&e, -KE_PERM, "signature-1: hashed-nodes lacks /images/step-3/hash-9");
	free(e.b);
	/* nor any other subnode: a signed image's subnode tags are signed */
	EXPECT_EDIT(&three, -KE_PERM, BAD_SIG,
		    assert_true(fdt_add_subnode(e_.b, node(e_.b, "/images/step-3"), "notes") >= 0);
		    set_str(&e_, "/images/step-3/notes", "algo", "md5"));

	/*
	 * edge.itb, signed with crc32, sha256, notes (algo sha256, no value),
	 * sha1 and sha256 under step-1: the crc32 and sha1 nodes are ignored
	 * beside sha256, notes is no hash node (taken for one, its missing
	 * value would fail), and both sha256 nodes match.
	 */
	assert_int_equal(parse_in_place(&edge), 0);
	assert_string_equal(err, "");
	assert_step_data(&edge, &pk.steps[0], &pay[0]);
	flip_data(&edge, 0, 0, "image step-1: sha256 mismatch");
	flip_data(&edge, 0, 516, "image step-1: sha256 mismatch");
	/*
	 * sha1.itb, signed, step-2 hashed with sha1 and crc32 only: the
	 * signature holds, the hash check refuses; its data tampered, the
	 * same verdict (sha1 is not checked instead).
	 */
	expect(&sha1, -KE_NOTSUP, "image step-2: no sha256 hash, other algos only");
	e = edit(&sha1);
	set_bytes(&e, "/images/step-2", "data", "xyz", 3);
	expect(&e, -KE_NOTSUP, "image step-2: no sha256 hash, other algos only");
	free(e.b);
	/* hashes are checked after every step parsed: a property error wins */
	EXPECT_EDIT(&three, -KE_NOENT, "image step-2: no update,abi",
		    del_node(&e_, "/images/step-1/hash-1");
		    del_node(&e_, "/images/step-1/hash-2");
		    del_prop(&e_, "/images/step-2", "update,abi"));
	/* and after the signature: an edit it catches beside tampered data */
	EXPECT_EDIT(&three, -KE_PERM, BAD_SIG,
		    set_bytes(&e_, "/images/step-2", "data", "abc", 3);
		    set_str(&e_, "/", "description", "update pack!"));
}

/* --- step properties ----------------------------------------------------------------- */

#define S2 "/images/step-2"
#define S1 "/images/step-1"

static void test_missing_step_props(void **state)
{
	static const struct mut muts[] = {
		DEL(&three, S2, "type", -KE_NOENT, "image step-2: no type"),
		DEL(&three, S2, "arch", -KE_NOENT, "image step-2: no arch"),
		DEL(&three, S2, "os", -KE_NOENT, "image step-2: no os"),
		DEL(&three, S2, "compression", -KE_NOENT, "image step-2: no compression"),
		DEL(&three, S2, "update,class", -KE_NOENT, "image step-2: no update,class"),
		DEL(&three, S2, "update,from", -KE_NOENT, "image step-2: no update,from"),
		DEL(&three, S2, "update,to", -KE_NOENT, "image step-2: no update,to"),
		DEL(&three, S2, "update,abi", -KE_NOENT, "image step-2: no update,abi"),
		DEL(&three, S2, "data", -KE_NOENT, "image step-2: no data"),
		/*
		 * The optional ones: the property checks let their removal by
		 * (three's step-3 has no update,mode nor update,requires and
		 * edge.itb's step-1 no description, and both parse), but they
		 * are signed, so the signature protects them.
		 */
		DEL(&three, S2, "update,mode", -KE_PERM, BAD_SIG),
		DEL(&three, S2, "update,requires", -KE_PERM, BAD_SIG),
		DEL(&three, S2, "description", -KE_PERM, BAD_SIG),
	};

	RUN(muts);
}

static void test_garbled_props(void **state)
{
	static const struct mut muts[] = {
		RAW(&three, S2, "update,from", "\0\0\0\1\0\0\0\2", 8, -KE_INVAL,
		    "image step-2: bad update,from"),
		RAW(&three, S2, "update,from", "\0\1", 2, -KE_INVAL, "image step-2: bad update,from"),
		SET(&three, S2, "update,to", "3", -KE_INVAL, "image step-2: bad update,to"),
		RAW(&three, S2, "update,to", "", 0, -KE_INVAL, "image step-2: bad update,to"),
		/*
		 * any u32 is accepted here (chain rules are the update engine's):
		 * the edit gets past the property checks to the signature, which
		 * it fails; edge.itb below parses with update,to = 0xffffffff
		 */
		RAW(&three, S2, "update,to", "\xff\xff\xff\xff", 4, -KE_PERM, BAD_SIG),
		SET(&one, S1, "update,abi", "", -KE_INVAL, "image step-1: bad update,abi"),
		SET(&one, S1, "update,mode", "sometimes", -KE_INVAL, "image step-1: bad update,mode"),
		SET(&one, S1, "update,mode", "Lazy", -KE_INVAL, "image step-1: bad update,mode"),
		RAW(&one, S1, "update,mode", "\0\0\0\1", 4, -KE_INVAL, "image step-1: bad update,mode"),
		RAW(&one, S1, "data", "", 0, -KE_INVAL, "image step-1: empty data"),
		RAW(&one, S1, "data-size", "\0\0\2\5", 4, -KE_INVAL,
		    "image step-1: both data and external data"),
		RAW(&one, S1, "data-offset", "\0\0\0\0", 4, -KE_INVAL,
		    "image step-1: both data and external data"),
	};
	struct blob e = edit(&one);

	RUN(muts);
	/* well-formed values get past the property checks: only the signature objects */
	set_str(&e, S1, "update,mode", "eager");
	set_str(&e, S1, "update,abi", "lukos-abi-9");
	expect(&e, -KE_PERM, BAD_SIG);
	free(e.b);
	/* signed that way: eager mode, any abi string, u32 edges */
	assert_int_equal(parse_in_place(&edge), 0);
	assert_int_equal(pk.steps[0].mode, PACK_MODE_EAGER);
	assert_string_equal(pk.steps[0].abi, "lukos-abi-9");
	assert_int_equal(pk.steps[0].from, 0);
	assert_int_equal(pk.steps[0].to, 0xffffffffu);
}

static void test_class_names(void **state)
{
#define BAD_CLASS(lit) SET(&one, S1, "update,class", lit, -KE_INVAL, "image step-1: bad update,class")
	static const struct mut muts[] = {
		BAD_CLASS("Counter"), BAD_CLASS("count er"), BAD_CLASS("counter!"),
		BAD_CLASS("a.b"), BAD_CLASS("sched>=2"), BAD_CLASS(""),
		BAD_CLASS("abcdefghijklmnopqrstuvwxyz01234a"),	/* 32 characters */
		BAD_CLASS("a\0b"),				/* a stringlist */
		RAW(&one, S1, "update,class", "counter", 7, -KE_INVAL,	/* no NUL */
		    "image step-1: bad update,class"),
	};
	struct blob e = edit(&one);

	RUN(muts);
	/* 31 characters of every kind: past the class check, to the signature */
	set_str(&e, S1, "update,class", "abcdefghijklmnopqrstuvwxyz_0-9a");
	expect(&e, -KE_PERM, BAD_SIG);
	free(e.b);
	/* and parsed from a pack signed with it */
	assert_int_equal(parse_in_place(&edge), 0);
	assert_string_equal(pk.steps[0].class_name, "abcdefghijklmnopqrstuvwxyz_0-9a");
}

/* FIT sanity: wrong values are unsupported, malformed ones invalid. */
static void test_fit_props(void **state)
{
	static const struct mut muts[] = {
		SET(&three, S1, "arch", "arm64", -KE_NOTSUP, "image step-1: arch \"arm64\" not supported"),
		SET(&three, S1, "compression", "gzip", -KE_NOTSUP,
		    "image step-1: compression \"gzip\" not supported"),
		SET(&three, S2, "type", "kernel", -KE_NOTSUP, "image step-2: type \"kernel\" not supported"),
		SET(&three, S2, "os", "linux", -KE_NOTSUP, "image step-2: os \"linux\" not supported"),
		SET(&three, S2, "arch", "riscvriscvriscvriscv", -KE_NOTSUP,
		    "image step-2: arch \"riscvriscvriscvr\" not supported"),
		RAW(&three, S2, "arch", "riscv", 5, -KE_INVAL, "image step-2: bad arch"),
	};

	RUN(muts);
}

static void test_requires(void **state)
{
#define BAD_REQ(lit) SET(&one, S1, "update,requires", lit, -KE_INVAL, \
			 "image step-1: bad update,requires \"" lit "\"")
	static const struct mut muts[] = {
		BAD_REQ("sched>2"), BAD_REQ("sched>="), BAD_REQ(">=2"), BAD_REQ("sched>=-1"),
		BAD_REQ("sched>=+1"), BAD_REQ("sched>= 1"), BAD_REQ("sched>=4294967296"),
		BAD_REQ("sched>=99999999999999999999"), BAD_REQ("Sched>=1"), BAD_REQ("sched>=2x"),
		BAD_REQ("sched=>2"), BAD_REQ("sched"),
		BAD_REQ("abcdefghijklmnopqrstuvwxyz012345>=1"),	/* a 32-character class */
		SET(&one, S1, "update,requires", "sched>=1\0uart>=x", -KE_INVAL,
		    "image step-1: bad update,requires \"uart>=x\""),
		SET(&one, S1, "update,requires", "sched>=1\0\0uart>=1", -KE_INVAL,
		    "image step-1: bad update,requires"),	/* empty entry */
		RAW(&one, S1, "update,requires", "", 0, -KE_INVAL, "image step-1: bad update,requires"),
		RAW(&one, S1, "update,requires", "sched>=1", 8, -KE_INVAL,
		    "image step-1: bad update,requires"),
		SET(&one, S1, "update,requires", "a>=1\0b>=1\0c>=1\0d>=1\0e>=1", -KE_RANGE,
		    "image step-1: 5 update,requires, at most 4"),
	};
	static const char four[] = "a>=0\0b-c>=4294967295\0d_e>=007\0abcdefghijklmnopqrstuvwxyz01234>=1";
	const struct pack_require *r = pk.steps[0].requires;
	struct blob e = edit(&one);

	RUN(muts);
	/* four at their limits: past the requires check, to the signature */
	set_bytes(&e, S1, "update,requires", four, sizeof(four));
	expect(&e, -KE_PERM, BAD_SIG);
	free(e.b);
	/* edge.itb is signed with those four */
	assert_int_equal(parse_in_place(&edge), 0);
	assert_int_equal(pk.steps[0].nrequires, 4);
	assert_string_equal(r[0].class_name, "a");
	assert_int_equal(r[0].min_version, 0);
	assert_string_equal(r[1].class_name, "b-c");
	assert_int_equal(r[1].min_version, 4294967295u);
	assert_string_equal(r[2].class_name, "d_e");
	assert_int_equal(r[2].min_version, 7);
	assert_string_equal(r[3].class_name, "abcdefghijklmnopqrstuvwxyz01234");
	assert_int_equal(r[3].min_version, 1);
}

/* --- configuration ----------------------------------------------------------------- */

#define C1 "/configurations/conf-1"

static void test_config(void **state)
{
	static const struct mut muts[] = {
		DEL(&three, C1, "update,seq", -KE_NOENT, "config conf-1: no update,seq"),
		RAW(&three, C1, "update,seq", "\0\0\0\0\0\0\0\7", 8, -KE_INVAL,
		    "config conf-1: bad update,seq"),
		SET(&three, C1, "update,seq", "7", -KE_INVAL, "config conf-1: bad update,seq"),
		DEL(&three, C1, "loadables", -KE_NOENT, "config conf-1: no loadables"),
		RAW(&three, C1, "loadables", "", 0, -KE_INVAL, "config conf-1: bad loadables"),
		SET(&three, C1, "loadables", "step-1\0", -KE_INVAL, "config conf-1: bad loadables"),
		RAW(&three, C1, "loadables", "step-1", 6, -KE_INVAL, "config conf-1: bad loadables"),
		SET(&three, C1, "loadables", "step-1\0step-9", -KE_NOENT,
		    "config conf-1: no image step-9"),
		SET(&three, C1, "loadables", "step-1\0step-2\0step-1", -KE_INVAL,
		    "config conf-1: step-1 listed twice"),
		/* a loadable naming a node elsewhere in the tree is not an image */
		SET(&three, C1, "loadables", "conf-2", -KE_NOENT, "config conf-1: no image conf-2"),
		SET(&three, C1, "loadables", "step-2/hash-1", -KE_NOENT,
		    "config conf-1: no image step-2/hash-1"),
		DEL_NODE(&one, "/images", -KE_NOENT, "fit: no /images"),
		DEL(&three, "/configurations", "default", -KE_NOENT, "configurations: no default"),
		SET(&three, "/configurations", "default", "conf-9", -KE_NOENT, "config conf-9: not found"),
		SET(&three, "/configurations", "default", "conf-1\0conf-2", -KE_INVAL,
		    "configurations: bad default"),
		RAW(&three, "/configurations", "default", "", 0, -KE_INVAL, "configurations: bad default"),
		DEL_NODE(&three, "/configurations", -KE_NOENT, "fit: no /configurations"),
	};

	RUN(muts);
	/* "step" must not match "step@1" the way fdt_subnode_offset() would */
	EXPECT_EDIT(&one, -KE_NOENT, "config conf-1: no image step",
		    assert_int_equal(fdt_set_name(e_.b, node(e_.b, S1), "step@1"), 0);
		    set_str(&e_, C1, "loadables", "step"));
}

/* Copies every property of @from onto @to (which exists). */
static void copy_props(struct blob *bl, const char *from, const char *to)
{
	const char *name;
	const void *val;
	char namebuf[64];
	void *copy;
	int prop, len, k, i;

	for (i = 0;; i++) {
		k = 0;
		fdt_for_each_property_offset(prop, bl->b, node(bl->b, from)) {
			if (k++ == i)
				break;
		}
		if (prop < 0)
			return;
		val = fdt_getprop_by_offset(bl->b, prop, &name, &len);
		assert_non_null(val);
		/* setprop may move both: copy them out first */
		snprintf(namebuf, sizeof(namebuf), "%s", name);
		copy = malloc(len ? len : 1);
		memcpy(copy, val, len);
		set_bytes(bl, to, namebuf, copy, len);
		free(copy);
	}
}

/* Adds image @name, a copy of one.itb's step-1 (data and mkimage's hash). */
static void clone_step1(struct blob *bl, const char *name)
{
	char dst[64], hash[80];

	assert_true(fdt_add_subnode(bl->b, node(bl->b, "/images"), name) >= 0);
	snprintf(dst, sizeof(dst), "/images/%s", name);
	copy_props(bl, "/images/step-1", dst);
	assert_true(fdt_add_subnode(bl->b, node(bl->b, dst), "hash-1") >= 0);
	snprintf(hash, sizeof(hash), "%s/hash-1", dst);
	copy_props(bl, "/images/step-1/hash-1", hash);
}

/* "s<first>\0...s<last>\0" into @list; its length. */
static int step_list(char *list, size_t size, unsigned int first, unsigned int last)
{
	int len = 0;
	unsigned int i;

	for (i = first; i <= last; i++) {
		len += snprintf(list + len, size - (size_t)len, "s%u", i) + 1;
		assert_true((size_t)len <= size);
	}
	return len;
}

static void test_max_steps(void **state)
{
	char list[(PACK_MAX_STEPS + 1) * 8];
	struct blob e;
	int len;

	/* max.itb: s0..s15 signed and loaded, s16 neither */
	assert_int_equal(parse_in_place(&max_pack), 0);
	assert_int_equal(pk.nsteps, PACK_MAX_STEPS);
	assert_string_equal(pk.steps[0].name, "s0");
	assert_string_equal(pk.steps[15].name, "s15");
	assert_int_equal(pk.steps[15].from, 16);
	assert_step_data(&max_pack, &pk.steps[15], &pay[0]);
	/* a 17th loadable: refused by count, before the signature */
	e = edit(&max_pack);
	len = step_list(list, sizeof(list), 0, PACK_MAX_STEPS);
	set_bytes(&e, C1, "loadables", list, len);
	expect(&e, -KE_RANGE, "config conf-1: 17 loadables, at most 16");
	/* s16 instead of s0: sixteen again, but s16 is not signed */
	len = step_list(list, sizeof(list), 1, PACK_MAX_STEPS);
	set_bytes(&e, C1, "loadables", list, len);
	expect(&e, -KE_PERM, "signature-1: hashed-nodes lacks /images/s16");
	free(e.b);
	/* a tampered step is still caught by name */
	flip_data(&max_pack, 12, 100, "image s12: sha256 mismatch");
	/* an image added after signing, a copy of a signed one, loaded: not signed */
	e = edit(&one);
	clone_step1(&e, "s0");
	set_bytes(&e, C1, "loadables", "step-1\0s0", (int)sizeof("step-1\0s0"));
	expect(&e, -KE_PERM, "signature-1: hashed-nodes lacks /images/s0");
	free(e.b);
}

/* --- damaged blobs ------------------------------------------------------------------ */

/*
 * Every prefix shorter than the last image's end fails as damaged, without
 * reading past it; longer ones (mkimage pads the last image) parse.
 */
static void truncate_all(const struct blob *src)
{
	size_t len, need = 0, end;
	unsigned int i;
	int ret;

	assert_int_equal(parse_in_place(src), 0);
	need = fdt_totalsize(src->b);
	for (i = 0; i < pk.nsteps; i++) {
		end = (size_t)((const uint8_t *)pk.steps[i].data - src->b) + pk.steps[i].size;
		need = end > need ? end : need;
	}
	assert_true(need <= src->n && need + 4 > src->n);
	for (len = 0; len < src->n; len++) {
		ret = parse_n(src->b, len);
		if (len >= need) {
			assert_int_equal(ret, 0);
			continue;
		}
		if (ret != -KE_BADMSG)
			fail_msg("truncated to %zu of %zu: got %d \"%s\"", len, src->n, ret, err);
		if (len < fdt_totalsize(src->b))
			assert_true(strncmp(err, "fit: ", 5) == 0);
		else
			assert_non_null(strstr(err, ": external data past end of pack"));
	}
}

static void test_truncated(void **state)
{
	char msg[64];

	truncate_all(&one);
	truncate_all(&three_ext);
	truncate_all(&three_pos);
	snprintf(msg, sizeof(msg), "fit: truncated (100 of %zu bytes)", one.n);
	expect(&(struct blob){ one.b, 100 }, -KE_BADMSG, msg);
}

static void patch_be32(struct blob *bl, size_t off, uint32_t v)
{
	bl->b[off] = v >> 24;
	bl->b[off + 1] = v >> 16;
	bl->b[off + 2] = v >> 8;
	bl->b[off + 3] = v;
}

static uint32_t hdr(const struct blob *bl, size_t off)
{
	return fdt32_ld((const fdt32_t *)(bl->b + off));
}

/* Patches header word @off of a copy of one.itb; expects a damaged blob. */
static void bad_header(size_t off, uint32_t v, const char *msg)
{
	struct blob c = { .n = one.n };
	int ret;

	c.b = malloc(c.n);
	assert_non_null(c.b);
	memcpy(c.b, one.b, c.n);
	patch_be32(&c, off, v);
	ret = parse_n(c.b, c.n);
	if (ret != -KE_BADMSG || strcmp(err, msg))
		fail_msg("word %zu = %#x: want \"%s\", got %d \"%s\"", off, v, msg, ret, err);
	free(c.b);
}

static void test_corrupt_header(void **state)
{
	uint32_t total = hdr(&one, 4), st = hdr(&one, 8), str = hdr(&one, 12);
	char msg[64];

	assert_int_equal(total, one.n);

	bad_header(0, 0xd00dfeee, "fit: bad magic");
	bad_header(0, 0, "fit: bad magic");
	bad_header(4, 0, "fit: bad header");			/* totalsize */
	bad_header(4, 0xffffffff, "fit: bad header");
	snprintf(msg, sizeof(msg), "fit: truncated (%zu of %zu bytes)", one.n, one.n + 1);
	bad_header(4, total + 1, msg);
	bad_header(8, total, "fit: bad header");		/* off_dt_struct */
	bad_header(8, 0xfffffff0, "fit: bad header");
	bad_header(12, total + 8, "fit: bad header");		/* off_dt_strings */
	bad_header(16, total + 8, "fit: bad header");		/* off_mem_rsvmap */
	bad_header(16, total, "fit: bad structure");		/* no room for its terminator */
	bad_header(20, 16, "fit: bad header");			/* version */
	bad_header(20, 1, "fit: bad header");
	bad_header(24, 18, "fit: bad header");			/* last_comp_version */
	bad_header(32, total - str + 1, "fit: bad header");	/* size_dt_strings */
	bad_header(36, total - st + 1, "fit: bad header");	/* size_dt_struct */
	bad_header(36, 0xfffffff8, "fit: bad header");
	/* structure: the root's FDT_BEGIN_NODE, the final FDT_END */
	bad_header(st, 0x12345678, "fit: bad structure");
	bad_header(st + hdr(&one, 36) - 4, FDT_BEGIN_NODE, "fit: bad structure");
	bad_header(36, hdr(&one, 36) - 4, "fit: bad structure");	/* FDT_END cut off */
	/* the root's first property: longer than the block, name outside the strings */
	assert_int_equal(hdr(&one, st + 8), FDT_PROP);
	bad_header(st + 12, 0x7fffffff, "fit: bad structure");
	bad_header(st + 16, hdr(&one, 32), "fit: bad structure");
}

/* Whether one.itb's byte @at lies in the value of property @prop of @path. */
static bool in_prop(size_t at, const char *path, const char *prop)
{
	int len;
	const uint8_t *v = fdt_getprop(one.b, node(one.b, path), prop, &len);

	assert_non_null(v);
	return at >= (size_t)(v - one.b) && at < (size_t)(v - one.b) + (size_t)len;
}

/*
 * Flips every byte of one.itb in turn: pack_parse() must never misbehave
 * (ASan watches), must fail on every flip inside the module with a hash
 * mismatch and on every flip of signed content it gets to (the root's
 * description here) or of the signature value with a bad signature, and
 * must report something for every flip it rejects.
 */
static void test_flip_every_byte(void **state)
{
	size_t data_off, at;
	struct blob c = { .n = one.n };
	int ret, ok = 0, bad = 0, perm = 0;

	assert_int_equal(parse_in_place(&one), 0);
	data_off = (size_t)((const uint8_t *)pk.steps[0].data - one.b);
	c.b = malloc(c.n);
	assert_non_null(c.b);
	for (at = 0; at < one.n; at++) {
		memcpy(c.b, one.b, c.n);
		c.b[at] ^= 0xff;
		ret = pack_parse(c.b, c.n, &pk, err, sizeof(err));
		if (at >= data_off && at < data_off + pay[0].n)
			assert_int_equal(ret, -KE_FAULT);
		if (in_prop(at, C1 "/signature-1", "value") || in_prop(at, "/", "description"))
			assert_int_equal(ret, -KE_PERM);
		if (ret) {
			assert_true(ret == -KE_BADMSG || ret == -KE_FAULT || ret == -KE_PERM ||
				    ret == -KE_NOENT || ret == -KE_INVAL || ret == -KE_NOTSUP ||
				    ret == -KE_RANGE);
			assert_true(err[0] != '\0');
			perm += ret == -KE_PERM;
			bad++;
		} else {
			ok++;
		}
	}
	/*
	 * The signature node's own bookkeeping (timestamp, signer-name, ...)
	 * is not signed and does not matter; the header, the signed content,
	 * the signature and the module do.
	 */
	assert_true(ok > 0);
	assert_true(perm >= 256);
	assert_true(bad > (int)pay[0].n + 256 + 40);
	free(c.b);
}

/* --- external data bounds ------------------------------------------------------------- */

/* In-place patch of a u32 property: the layout (and external data) stays put. */
static struct blob patch_u32(const struct blob *src, const char *path, const char *prop,
			     uint32_t v)
{
	struct blob c = { .n = src->n };

	c.b = malloc(c.n);
	assert_non_null(c.b);
	memcpy(c.b, src->b, c.n);
	assert_int_equal(fdt_setprop_inplace_u32(c.b, node(c.b, path), prop, v), 0);
	return c;
}

static void expect_u32(const struct blob *src, const char *path, const char *prop,
		       uint32_t v, int code, const char *msg)
{
	struct blob c = patch_u32(src, path, prop, v);

	expect(&c, code, msg);
	free(c.b);
}

static void test_external_bounds(void **state)
{
	size_t base = (fdt_totalsize(three_ext.b) + 3) & ~3u;
	uint32_t room = (uint32_t)(three_ext.n - base);	/* bytes of external data */
	const char *past = "image step-3: external data past end of pack";

	expect_u32(&three_ext, "/images/step-3", "data-offset", 0xffffffff, -KE_BADMSG, past);
	expect_u32(&three_ext, "/images/step-3", "data-offset", room - 4099 + 1, -KE_BADMSG, past);
	expect_u32(&three_ext, "/images/step-3", "data-offset", room, -KE_BADMSG, past);
	expect_u32(&three_ext, "/images/step-3", "data-size", 0xffffffff, -KE_BADMSG, past);
	/* ending exactly at the end is in bounds; it is merely the wrong bytes */
	expect_u32(&three_ext, "/images/step-2", "data-offset", room - 3, -KE_FAULT,
		   "image step-2: sha256 mismatch");
	expect_u32(&three_ext, "/images/step-2", "data-size", 0, -KE_INVAL,
		   "image step-2: empty data");
	expect_u32(&three_pos, "/images/step-3", "data-position", (uint32_t)three_pos.n - 4098,
		   -KE_BADMSG, past);
	expect_u32(&three_pos, "/images/step-3", "data-position", 0xfffffffc, -KE_BADMSG, past);
	expect_u32(&three_pos, "/images/step-3", "data-position", 8, -KE_INVAL,
		   "image step-3: data-position inside the FDT");
	expect_u32(&three_pos, "/images/step-3", "data-position",
		   fdt_totalsize(three_pos.b) - 1, -KE_INVAL,
		   "image step-3: data-position inside the FDT");
}

/* Edits that change the FDT's size; run_muts() re-lays the data out after. */
static void test_external_props(void **state)
{
	static const struct mut muts[] = {
		DEL(&three_ext, S2, "data-size", -KE_NOENT, "image step-2: no data-size"),
		DEL(&three_ext, S2, "data-offset", -KE_NOENT, "image step-2: no data-offset"),
		RAW(&three_ext, S2, "data-position", "\0\0\x10\0", 4, -KE_INVAL,
		    "image step-2: both data-position and data-offset"),
		RAW(&three_ext, S2, "data", "abc", 3, -KE_INVAL,
		    "image step-2: both data and external data"),
		RAW(&three_ext, S2, "data-offset", "\0\0\0\0\0\0\2\10", 8, -KE_INVAL,
		    "image step-2: bad data-offset"),
	};
	struct blob e = relayout(edit(&three_ext), &three_ext), f;

	/* relayout() itself is faithful */
	assert_int_equal(parse_in_place(&e), 0);
	check_three(&e);
	free(e.b);
	RUN(muts);
	/*
	 * data-offset counts from the FDT end rounded up, not from totalsize.
	 * The 2 more bytes of strings go to conf-2, which conf-1's signature
	 * does not cover; on the (signed) root they are the signature's.
	 */
	f = edit(&three_ext);
	set_str(&f, "/configurations/conf-2", "x", "");	/* 2 more bytes of strings */
	e = relayout_as(f, &three_ext, false);
	assert_int_not_equal(fdt_totalsize(e.b) % 4, 0);
	assert_int_equal(parse_in_place(&e), 0);
	check_three(&e);
	free(e.b);
	f = edit(&three_ext);
	set_str(&f, "/", "x", "");
	e = relayout_as(f, &three_ext, false);
	expect(&e, -KE_PERM, "signature-1: property x outside hashed-strings");
	free(e.b);
}

/* --- the signature, as pack_parse() checks it ------------------------------------ */

#define SIG C1 "/signature-1"

/* Signed by another key of the same name: only the signature value tells. */
static void test_other_key(void **state)
{
	const void *v;
	struct blob e;
	int len;

	expect(&one_other, -KE_PERM, BAD_SIG);
	expect(&fs_other, -KE_PERM, BAD_SIG);
	/* one-other.itb with one.itb's signature value parses; the reverse fails */
	e = edit(&one_other);
	v = fdt_getprop(one.b, node(one.b, SIG), "value", &len);
	assert_int_equal(len, 256);
	set_bytes(&e, SIG, "value", v, len);
	assert_int_equal(parse_in_place(&e), 0);
	assert_step_data(&e, &pk.steps[0], &pay[0]);
	free(e.b);
	e = edit(&one);
	v = fdt_getprop(one_other.b, node(one_other.b, SIG), "value", &len);
	set_bytes(&e, SIG, "value", v, len);
	expect(&e, -KE_PERM, BAD_SIG);
	free(e.b);
	/* with the other key's dtb, the other way round */
	pack_set_keys(keys_other.b, keys_other.n);
	expect(&one_other, 0, "");
	expect(&fs_other, 0, "");
	expect(&one, -KE_PERM, BAD_SIG);
	expect(&three_ext, -KE_PERM, BAD_SIG);
	assert_true(pack_err_integrity(-KE_PERM));
}

/* No signature at all: not authentic, like a bad one (pack.h: -KE_PERM). */
static void test_unsigned(void **state)
{
	static const struct mut muts[] = {
		DEL_NODE(&one, SIG, -KE_PERM, "config conf-1: no signature"),
		DEL_NODE(&three, SIG, -KE_PERM, "config conf-1: no signature"),
		DEL_NODE(&three_ext, SIG, -KE_PERM, "config conf-1: no signature"),
		/* the checks before the signature still come first */
		DEL(&one, "/images/step-1", "update,abi", -KE_NOENT, "image step-1: no update,abi"),
	};

	RUN(muts);
	/* mkimage without a key leaves the .its's signature node as it is */
	assert_null(fdt_getprop(one_unsigned.b, node(one_unsigned.b, SIG), "value", NULL));
	expect(&one_unsigned, -KE_PERM, "signature-1: no value");
	/* `default` is not signed: it may name another signed configuration... */
	EXPECT_EDIT(&three, 0, "", set_str(&e_, "/configurations", "default", "conf-2"));
	/* ...but not an unsigned one */
	EXPECT_EDIT(&three, -KE_PERM, "config conf-2: no signature",
		    del_node(&e_, "/configurations/conf-2/signature-1");
		    set_str(&e_, "/configurations", "default", "conf-2"));
	/* nor one with conf-1's signature copied in: it does not cover conf-2 */
	EXPECT_EDIT(&three, -KE_PERM, "signature-1: hashed-nodes lacks /configurations/conf-2",
		    copy_props(&e_, SIG, "/configurations/conf-2/signature-1");
		    set_str(&e_, "/configurations", "default", "conf-2"));
}

/* What the signature node says: checked, though not itself signed. */
static void test_signature_node(void **state)
{
	static const uint8_t all_strings[8] = { 0, 0, 0, 0, 0, 1, 0, 0 };	/* <0 65536> */
	static const struct mut muts[] = {
		/* bookkeeping: neither signed nor checked */
		SET(&one, SIG, "signer-name", "someone", 0, ""),
		SET(&three_ext, SIG, "comment", "signed again", 0, ""),
		/* the dev key is required (mkimage -r): it must verify, whatever the hint */
		SET(&one, SIG, "key-name-hint", "nokey", 0, ""),
		SET(&one, SIG, "padding", "pkcs-1.5", 0, ""),
		SET(&one, SIG, "padding", "pss", -KE_NOTSUP, "signature-1: padding not supported"),
		SET(&one, SIG, "algo", "sha1,rsa2048", -KE_NOTSUP,
		    "signature-1: algo sha1,rsa2048 not supported"),
		SET(&one, SIG, "algo", "sha256,rsa4096", -KE_PERM,
		    "signature-1: value is 256 bytes, want 512"),
		DEL(&one, SIG, "algo", -KE_PERM, "signature-1: no algo"),
		DEL(&one, SIG, "value", -KE_PERM, "signature-1: no value"),
		RAW(&one, SIG, "value", zero32, 32, -KE_PERM, "signature-1: value is 32 bytes, want 256"),
		/* hashed-nodes must cover the configuration, each loaded image and its hashes */
		SET(&one, SIG, "hashed-nodes", "/\0/configurations/conf-1\0/images/step-1", -KE_PERM,
		    "signature-1: hashed-nodes lacks /images/step-1/hash-1"),
		SET(&one, SIG, "hashed-nodes", "/\0/configurations/conf-1\0/images/step-1/hash-1",
		    -KE_PERM, "signature-1: hashed-nodes lacks /images/step-1"),
		SET(&one, SIG, "hashed-nodes", "/\0/images/step-1\0/images/step-1/hash-1", -KE_PERM,
		    "signature-1: hashed-nodes lacks /configurations/conf-1"),
		DEL(&one, SIG, "hashed-nodes", -KE_PERM, "signature-1: no hashed-nodes"),
		DEL(&one, SIG, "hashed-strings", -KE_PERM, "signature-1: no hashed-strings"),
		RAW(&one, SIG, "hashed-strings", all_strings, 8, -KE_PERM,
		    "signature-1: hashed-strings outside the strings block"),
	};

	RUN(muts);
}

/* The key dtb pack_parse() checks with (pack_set_keys(), host tests only). */
static void test_keys(void **state)
{
	pack_set_keys(NULL, 0);
	expect(&one, -KE_NOENT, "pack: no public keys");
	expect(&three_ext, -KE_NOENT, "pack: no public keys");
	/* the checks before the signature still come first */
	EXPECT_EDIT(&one, -KE_NOENT, "image step-1: no update,abi",
		    del_prop(&e_, "/images/step-1", "update,abi"));
	/* a key dtb holding no key: no key we hold signed the pack */
	pack_set_keys(no_keys.b, no_keys.n);
	expect(&one, -KE_PERM, "keys: no /signature node");
	/*
	 * The dev key without `required` (mkimage without -r): one signature
	 * must still verify, with the key its hint names, else with any; no
	 * key by that name and none verifying is a key we do not hold.
	 */
	pack_set_keys(keys_noreq.b, keys_noreq.n);
	expect(&one, 0, "");
	expect(&one_other, -KE_PERM, BAD_SIG);
	EXPECT_EDIT(&one, 0, "", set_str(&e_, SIG, "key-name-hint", "nokey"));
	EXPECT_EDIT(&one_other, -KE_PERM, "signature-1: no key matching key-name-hint nokey",
		    set_str(&e_, SIG, "key-name-hint", "nokey"));
}

/* --- the caller's side ----------------------------------------------------------- */

static void test_args(void **state)
{
	struct blob c = { .n = three.n + 8 };
	char small[12];

	assert_int_equal(pack_parse(NULL, 100, &pk, err, sizeof(err)), -KE_INVAL);
	assert_int_equal(pack_parse(three.b, three.n, NULL, err, sizeof(err)), -KE_INVAL);
	/* libfdt needs 8-byte alignment: a misplaced blob is the caller's bug */
	c.b = malloc(c.n);
	assert_non_null(c.b);
	memcpy(c.b + 4, three.b, three.n);
	assert_int_equal(pack_parse(c.b + 4, three.n, &pk, err, sizeof(err)), -KE_INVAL);
	assert_string_equal(err, "fit: blob not 8-byte aligned");
	free(c.b);
	/* no message buffer, or a short one */
	assert_int_equal(pack_parse(three.b, 30, &pk, NULL, 0), -KE_BADMSG);
	assert_int_equal(pack_parse(three.b, 30, &pk, small, sizeof(small)), -KE_BADMSG);
	assert_string_equal(small, "fit: trunca");
	assert_int_equal(pack_parse(three.b, three.n, &pk, NULL, 0), 0);
	assert_int_equal(pk.nsteps, 3);
	assert_true(pack_err_integrity(-KE_BADMSG));
	assert_true(pack_err_integrity(-KE_PERM));
	assert_false(pack_err_integrity(-KE_NOENT));
	assert_false(pack_err_integrity(-KE_INVAL));
	assert_false(pack_err_integrity(-KE_NOTSUP));
	assert_false(pack_err_integrity(-KE_RANGE));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_step),
		cmocka_unit_test(test_three_steps),
		cmocka_unit_test(test_external_data),
		cmocka_unit_test(test_data_position),
		cmocka_unit_test(test_trailing_bytes),
		cmocka_unit_test(test_default_selects_config),
		cmocka_unit_test(test_tampered_data),
		cmocka_unit_test(test_changed_hash_value),
		cmocka_unit_test(test_hash_nodes),
		cmocka_unit_test(test_missing_step_props),
		cmocka_unit_test(test_garbled_props),
		cmocka_unit_test(test_class_names),
		cmocka_unit_test(test_fit_props),
		cmocka_unit_test(test_requires),
		cmocka_unit_test(test_config),
		cmocka_unit_test(test_max_steps),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_corrupt_header),
		cmocka_unit_test(test_flip_every_byte),
		cmocka_unit_test(test_external_bounds),
		cmocka_unit_test(test_external_props),
		cmocka_unit_test_teardown(test_other_key, restore_keys),
		cmocka_unit_test(test_unsigned),
		cmocka_unit_test(test_signature_node),
		cmocka_unit_test_teardown(test_keys, restore_keys),
		cmocka_unit_test(test_args),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
