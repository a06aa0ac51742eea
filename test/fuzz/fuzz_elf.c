// fuzz-srcs: update/elf_mod.c update/elf_link.c update/export.c
/*
 * libFuzzer target: the update-module loader (update/elf_mod.c, elf_link.c)
 * on an ELF relocatable, as update/module.c runs it: elf_mod_parse(), then
 * elf_mod_link() into host buffers of exactly the region sizes, resolving
 * undefined symbols with export_lookup() over a fake export table (the
 * unit tests' test/unit/elf_mod/ext_syms.h), then elf_mod_symbol().
 *
 * Each parsed object is linked twice: at the addresses the unit fixtures
 * use (near the exports) and at kernel-like addresses 1 GiB away, where
 * PC-relative references to the exports reach their range limits.
 * Regions over FUZZ_ELF_MAX_REGION are not linked (the parse limit is
 * 16 MiB; allocating and clearing that much per input would only slow
 * the search down).
 *
 * Seeds: every fixture of test/unit/elf_mod.mk in each variant
 * (build/fuzz/seeds/elf/). Checked beyond ASan/UBSan: return codes are
 * 0 or negative, messages are NUL-terminated inside their buffers, the
 * layout respects the documented limits, and a symbol found after a link
 * lies inside a region (or is absolute).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <kernel/elf_mod.h>
#include <kernel/errno.h>
#include <kernel/export.h>
#include "../../update/elf_mod_priv.h"

#define FUZZ_ELF_MAX_REGION	(1u << 20)
#define ERRLEN			128

#define CHECK(cond)								\
	do {									\
		if (!(cond)) {							\
			fprintf(stderr, "fuzz_elf: check failed: %s (line %d)\n",	\
				#cond, __LINE__);				\
			abort();						\
		}								\
	} while (0)

#define EXT(n, a) { #n, a },
static const struct kernel_export exports[] = {
#include "elf_mod/ext_syms.h"
};
#undef EXT

static int resolve(void *ctx, const char *name, uint64_t *addr)
{
	const struct kernel_export *e =
		export_lookup(exports, exports + sizeof(exports) / sizeof(exports[0]), name);

	if (!e)
		return -KE_NOENT;
	*addr = e->addr;
	return 0;
}

static void check_err(const char *err, int rc)
{
	CHECK(rc <= 0);
	CHECK(memchr(err, '\0', ERRLEN));
	CHECK(rc == 0 || err[0] != '\0');
}

static bool in_region(uint64_t a, uint64_t base, size_t size)
{
	return a >= base && a - base <= size;
}

/* A global absolute symbol named @name: elf_mod_symbol() may answer with it. */
static bool abs_named(const struct elf_mod *m, const char *name)
{
	size_t i;

	for (i = m->nlocal; i < m->nsyms; i++) {
		struct elf64_sym s = sym(m, i);

		if (s.st_shndx == SHN_ABS && !strcmp(sym_name(m, &s), name))
			return true;
	}
	return false;
}

/* Every global symbol the module defines is found, inside a region (or absolute). */
static void check_symbols(const struct elf_mod *m)
{
	uint64_t addr;
	size_t i;

	for (i = m->nlocal; i < m->nsyms; i++) {
		struct elf64_sym s = sym(m, i);
		const char *name = sym_name(m, &s);

		if (!sec_loaded(m, s.st_shndx))
			continue;
		CHECK(elf_mod_symbol(m, name, &addr) == 0);
		CHECK(in_region(addr, m->text_addr, m->text_size) ||
		      in_region(addr, m->data_addr, m->data_size) || abs_named(m, name));
	}
}

static void link_at(struct elf_mod *m, uint64_t text_addr, uint64_t data_addr, char *err)
{
	size_t ts = elf_mod_text_size(m), ds = elf_mod_data_size(m);
	uint8_t *text = ts ? malloc(ts) : NULL, *data = ds ? malloc(ds) : NULL;
	uint64_t addr;
	int rc;

	CHECK((!ts || text) && (!ds || data));
	memset(err, 0x55, ERRLEN);
	rc = elf_mod_link(m, text, text_addr, data, data_addr, resolve, NULL, err, ERRLEN);
	check_err(err, rc);
	if (rc == 0) {
		CHECK(m->linked);
		check_symbols(m);
		rc = elf_mod_symbol(m, "update_desc", &addr);
		CHECK(rc == 0 || rc == -KE_NOENT);
	} else {
		CHECK(!m->linked);
		CHECK(elf_mod_symbol(m, "update_desc", &addr) == -KE_INVAL);
	}
	free(text);
	free(data);
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t n);

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t n)
{
	static struct elf_mod m;
	uint8_t *elf = malloc(n ? n : 1);	/* exact size: reads past it are caught */
	char *err = malloc(ERRLEN);
	int rc;

	CHECK(elf && err);
	memcpy(elf, in, n);
	memset(err, 0x55, ERRLEN);
	rc = elf_mod_parse(elf, n, &m, err, ERRLEN);
	check_err(err, rc);
	if (rc == 0) {
		size_t ta = elf_mod_text_align(&m);

		CHECK(ta >= 1 && ta <= ELF_MOD_MAX_ALIGN && !(ta & (ta - 1)));
		CHECK(m.data_align >= 1 && m.data_align <= ELF_MOD_MAX_ALIGN &&
		      !(m.data_align & (m.data_align - 1)));
		CHECK(m.text_size <= ELF_MOD_MAX_REGION && m.data_size <= ELF_MOD_MAX_REGION);
		if (m.text_size <= FUZZ_ELF_MAX_REGION && m.data_size <= FUZZ_ELF_MAX_REGION) {
			link_at(&m, ELFMOD_TEXT_ADDR, ELFMOD_DATA_ADDR, err);
			link_at(&m, 0x80600000ULL, 0x80800000ULL, err);
		}
	} else {
		uint64_t addr;

		CHECK(elf_mod_link(&m, NULL, 0, NULL, 0, resolve, NULL, err, ERRLEN) == -KE_INVAL);
		CHECK(elf_mod_symbol(&m, "update_desc", &addr) == -KE_INVAL);
	}
	free(err);
	free(elf);
	return 0;
}
