// fuzz-srcs: update/pack.c update/fit_sig.c update/rsa.c update/sha256.c update/chain.c src/devtree.c src/devtree_prop.c libfdt
/*
 * libFuzzer target: an update pack as the OTA agent receives it, through
 * what the update engine runs first (update/engine.c, check()):
 * pack_parse() -- FDT structure, configuration, step properties, the FIT
 * configuration signature (update/fit_sig.c, RSA and SHA-256 included)
 * and the image hashes -- then, for a pack that parses, chain_check()
 * against a few kernel version tables.
 *
 * The public key is the unit tests' dev key (test/unit/fit_sig.mk, made
 * fresh by each build), compiled in as build/fuzz/fuzz_keys.h; the seeds
 * are the unit tests' packs signed with it (build/fuzz/seeds/pack/).
 * libfdt is built from build/libfdt with the same instrumentation.
 *
 * The input is copied into a heap block of exactly its size (malloc is
 * 8-byte aligned, as libfdt needs), so any read past the end is an ASan
 * report. Checked beyond ASan/UBSan: the return code is one pack.h
 * documents; the message is NUL-terminated inside its buffer; a parsed
 * pack only points inside the blob, at NUL-terminated strings, with step
 * data inside the blob and the documented limits on names and counts;
 * chain_check() answers a documented result with a terminated message.
 * Bytes after the FIT, which pack_parse() ignores, describe one more
 * kernel (versions, last sequence number, ABI) to chain-check against, so
 * the fuzzer reaches every chain rule with packs whose signature holds.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <kernel/chain.h>
#include <kernel/errno.h>
#include <kernel/pack.h>
#include <kernel/update.h>
#include "fuzz_keys.h"

#define CHECK(cond)								\
	do {									\
		if (!(cond)) {							\
			fprintf(stderr, "fuzz_pack: check failed: %s (line %d)\n",	\
				#cond, __LINE__);				\
			abort();						\
		}								\
	} while (0)

struct kclass {
	const char *name;
	uint32_t version;
};

/* Kernels the parsed pack is chain-checked against (what the seeds name). */
struct kernel {
	const char *abi;
	uint32_t last_seq;
	struct kclass classes[5];
};

static const struct kernel kernels[] = {
	{ "lukos-abi-1", 6, { { "counter", 1 }, { "sched", 2 }, { "uart_16550", 1 },
			      { "uart", 3 }, { NULL, 0 } } },
	{ "lukos-abi-1", 0, { { "counter", 2 }, { "sched", 1 }, { NULL, 0 } } },
	{ KERNEL_ABI, 100, { { "counter", 1 }, { "sched", 2 }, { NULL, 0 } } },
};

static const uint8_t *blob;
static size_t blob_size;

/* @p lies inside the blob and a NUL ends it there. */
static void check_str_in_blob(const char *p)
{
	const uint8_t *s = (const uint8_t *)p;

	CHECK(s >= blob && s < blob + blob_size);
	CHECK(memchr(s, '\0', (size_t)(blob + blob_size - s)));
}

static void check_class_name(const char *s)
{
	size_t i, n = strlen(s);

	CHECK(n >= 1 && n < PACK_CLASS_MAX);
	for (i = 0; i < n; i++)
		CHECK((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
		      s[i] == '_' || s[i] == '-');
}

static int version_of(void *ctx, const char *class_name, uint32_t *v)
{
	const struct kernel *k = ctx;
	unsigned int i;

	CHECK(memchr(class_name, '\0', PACK_CLASS_MAX));
	for (i = 0; k->classes[i].name; i++) {
		if (!strcmp(k->classes[i].name, class_name)) {
			*v = k->classes[i].version;
			return 0;
		}
	}
	return -KE_NOENT;
}

static void check_pack(const struct pack *p)
{
	unsigned int i, j;

	CHECK(p->nsteps >= 1 && p->nsteps <= PACK_MAX_STEPS);
	check_str_in_blob(p->config);
	for (i = 0; i < p->nsteps; i++) {
		const struct pack_step *s = &p->steps[i];
		const uint8_t *d = s->data;

		check_str_in_blob(s->name);
		check_str_in_blob(s->class_name);
		check_class_name(s->class_name);
		check_str_in_blob(s->abi);
		CHECK(s->mode == PACK_MODE_DEFAULT || s->mode == PACK_MODE_LAZY ||
		      s->mode == PACK_MODE_EAGER);
		CHECK(s->size >= 1 && d >= blob && d < blob + blob_size &&
		      s->size <= (size_t)(blob + blob_size - d));
		CHECK(s->nrequires <= PACK_MAX_REQUIRES);
		for (j = 0; j < s->nrequires; j++) {
			CHECK(memchr(s->requires[j].class_name, '\0', PACK_CLASS_MAX));
			check_class_name(s->requires[j].class_name);
		}
	}
}

/*
 * pack_parse() ignores bytes after the FIT (fdt_totalsize), so they pick
 * one more kernel to check the pack against without touching what is
 * signed: [abi, last_seq (4), then per class a presence flag and a
 * version (4)], little-endian, missing bytes 0.
 */
static void kernel_from_tail(const uint8_t *t, size_t n, struct kernel *k)
{
	static const char *const names[4] = { "counter", "sched", "uart_16550", "uart" };
	uint8_t b[1 + 4 + 4 * 5] = { 0 };
	unsigned int i, nc = 0;

	memcpy(b, t, n < sizeof(b) ? n : sizeof(b));
	memset(k, 0, sizeof(*k));
	k->abi = (b[0] & 1) ? KERNEL_ABI : "lukos-abi-1";
	k->last_seq = (uint32_t)b[1] | (uint32_t)b[2] << 8 | (uint32_t)b[3] << 16 |
		      (uint32_t)b[4] << 24;
	for (i = 0; i < 4; i++) {
		const uint8_t *c = b + 5 + 5 * i;

		if (!(c[0] & 1))
			continue;
		k->classes[nc].name = names[i];
		k->classes[nc++].version = (uint32_t)c[1] | (uint32_t)c[2] << 8 |
					   (uint32_t)c[3] << 16 | (uint32_t)c[4] << 24;
	}
}

static void check_chain(const struct pack *p)
{
	char *err = malloc(PACK_ERR_MAX);	/* exact size: ASan sees overruns */
	struct kernel all[sizeof(kernels) / sizeof(kernels[0]) + 1];
	size_t fdt_size = (size_t)blob[4] << 24 | (size_t)blob[5] << 16 |
			  (size_t)blob[6] << 8 | blob[7];
	enum update_result r;
	unsigned int i, n = sizeof(kernels) / sizeof(kernels[0]);

	CHECK(err);
	memcpy(all, kernels, sizeof(kernels));
	CHECK(fdt_size <= blob_size);	/* parsed: the header was checked */
	if (blob_size > fdt_size)
		kernel_from_tail(blob + fdt_size, blob_size - fdt_size, &all[n++]);
	for (i = 0; i < n; i++) {
		memset(err, 0x55, PACK_ERR_MAX);
		r = chain_check(p, all[i].abi, all[i].last_seq, version_of,
				(void *)&all[i], err, PACK_ERR_MAX);
		CHECK(r == UPDATE_OK || r == UPDATE_ERR_ABI || r == UPDATE_ERR_REPLAY ||
		      r == UPDATE_ERR_UNKNOWN_CLASS || r == UPDATE_ERR_GAP ||
		      r == UPDATE_ERR_DOWNGRADE || r == UPDATE_ERR_DUPLICATE ||
		      r == UPDATE_ERR_REQUIREMENT);
		if (r != UPDATE_OK)
			CHECK(memchr(err, '\0', PACK_ERR_MAX));
	}
	free(err);
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t n);

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t n)
{
	static struct pack p;
	static int keys_set;
	uint8_t *b = malloc(n ? n : 1);
	char *err = malloc(PACK_ERR_MAX);
	int rc;

	CHECK(b && err);
	if (!keys_set) {
		pack_set_keys(fuzz_keys_dtb, sizeof(fuzz_keys_dtb));
		keys_set = 1;
	}
	memcpy(b, in, n);
	blob = b;
	blob_size = n;
	memset(err, 0x55, PACK_ERR_MAX);
	rc = pack_parse(b, n, &p, err, PACK_ERR_MAX);
	CHECK(memchr(err, '\0', PACK_ERR_MAX));
	CHECK(rc == 0 || rc == -KE_BADMSG || rc == -KE_FAULT || rc == -KE_PERM ||
	      rc == -KE_NOENT || rc == -KE_INVAL || rc == -KE_NOTSUP || rc == -KE_RANGE);
	CHECK(rc != 0 || err[0] == '\0');
	CHECK(rc == 0 || err[0] != '\0');
	if (rc == 0) {
		check_pack(&p);
		check_chain(&p);
	}
	free(err);
	free(b);
	return 0;
}
