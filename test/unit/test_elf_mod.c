// unit-srcs: update/elf_mod.c update/elf_link.c update/export.c
/*
 * Host tests of the module loader (update/elf_mod.c) and the export table
 * lookup (update/export.c).
 *
 *  - Against GNU ld: every fixture test/unit/elf_mod/m_* is compiled with
 *    the kernel's code model in several variants (-mrelax, -mno-relax,
 *    .eh_frame, -ffunction-sections) and linked by ld at the addresses of
 *    elf_mod/ext_syms.h (elf_mod.mk). The loader's layout and relocated
 *    bytes must equal ld's, and so must every global symbol's address. The
 *    relocation types this exercised are printed, and each type the loader
 *    supports must have been seen at least once.
 *  - Field encodings and range limits on synthetic one-relocation objects:
 *    each PC-relative type at its exact limits and one step beyond.
 *  - Rejections with their messages: bad headers, COMMON, TLS, W+X,
 *    constructors, R_RISCV_ALIGN needing relaxation, unresolved symbols,
 *    unsupported types, offsets outside the section.
 *  - Robustness under ASan/UBSan: every truncation of an object, and
 *    thousands of byte mutations of headers, tables and relocations.
 *
 * Fixtures are found in <dir of this binary>/elf_mod, or in $ELF_MOD_DIR.
 * ELF_MOD_FUZZ=<rounds>[,<seed>] runs a longer mutation campaign.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libgen.h>
#include <elf.h>
#include <cmocka.h>

#include <kernel/elf_mod.h>
#include <kernel/export.h>
#include <kernel/errno.h>

/* --- the external symbols every fixture is linked against -------------- */

struct ext {
	const char *name;
	uint64_t addr;
};

#define EXT(n, a) { #n, a },
static const struct ext exts[] = {
#include "elf_mod/ext_syms.h"
};
#undef EXT

#define TEXT_ADDR	((uint64_t)ELFMOD_TEXT_ADDR)
#define DATA_ADDR	((uint64_t)ELFMOD_DATA_ADDR)

/* Resolves from exts[], except that @override (if set) resolves to @addr. */
struct resolver {
	const char *override;
	uint64_t addr;
	const char *missing;		/* this name does not resolve */
	unsigned int calls;
};

static int resolve(void *ctx, const char *name, uint64_t *addr)
{
	struct resolver *r = ctx;

	r->calls++;
	if (r->missing && !strcmp(name, r->missing))
		return -KE_NOENT;
	if (r->override && !strcmp(name, r->override)) {
		*addr = r->addr;
		return 0;
	}
	for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); i++) {
		if (!strcmp(exts[i].name, name)) {
			*addr = exts[i].addr;
			return 0;
		}
	}
	return -KE_NOENT;
}

/* --- files ----------------------------------------------------------------- */

static char fixture_dir[4096];

static const char *const variants[] = { "relax", "norelax", "eh", "fsect" };
static const char *const modules[] = { "m_c", "m_asm", "m_small" };
#define NVARIANTS (sizeof(variants) / sizeof(variants[0]))
#define NMODULES (sizeof(modules) / sizeof(modules[0]))

struct blob {
	uint8_t *p;
	size_t n;
};

static struct blob load(const char *variant, const char *name, const char *ext)
{
	char path[4200];
	struct blob b = { 0 };
	FILE *f;
	long n;

	snprintf(path, sizeof(path), "%s/%s/%s%s", fixture_dir, variant, name, ext);
	f = fopen(path, "rb");
	if (!f)
		fail_msg("cannot open %s (build the fixtures: make unit)", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	b.p = malloc(n ? n : 1);
	assert_non_null(b.p);
	assert_int_equal(fread(b.p, 1, n, f), (size_t)n);
	fclose(f);
	b.n = n;
	return b;
}

/* --- reading ELF files with the host's <elf.h> (independent of the loader) - */

static Elf64_Shdr *shdr(const struct blob *b, unsigned int i)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)b->p;

	return (Elf64_Shdr *)(b->p + eh->e_shoff) + i;
}

static const char *shname(const struct blob *b, unsigned int i)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)b->p;

	return (const char *)b->p + shdr(b, eh->e_shstrndx)->sh_offset + shdr(b, i)->sh_name;
}

static int find_shdr(const struct blob *b, const char *name)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)b->p;

	for (unsigned int i = 1; i < eh->e_shnum; i++)
		if (!strcmp(shname(b, i), name))
			return i;
	return -1;
}

static int find_type(const struct blob *b, uint32_t type)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)b->p;

	for (unsigned int i = 1; i < eh->e_shnum; i++)
		if (shdr(b, i)->sh_type == type)
			return i;
	return -1;
}

/* Bytes of output section @name of a linked ELF (zeros for NOBITS). */
static uint8_t *ld_section(const struct blob *b, const char *name, uint64_t *addr, size_t *size)
{
	int i = find_shdr(b, name);
	uint8_t *p;

	*size = 0;
	if (i < 0)
		return NULL;
	*addr = shdr(b, i)->sh_addr;
	*size = shdr(b, i)->sh_size;
	p = calloc(1, *size + 1);
	assert_non_null(p);
	if (shdr(b, i)->sh_type != SHT_NOBITS)
		memcpy(p, b->p + shdr(b, i)->sh_offset, *size);
	return p;
}

/* --- linking with the loader ------------------------------------------------ */

struct loaded {
	struct elf_mod m;
	uint8_t *text, *data;
	int ret;
	char err[160];
};

static struct loaded *load_and_link(const void *elf, size_t n, struct resolver *r)
{
	struct loaded *l = calloc(1, sizeof(*l));

	assert_non_null(l);
	l->ret = elf_mod_parse(elf, n, &l->m, l->err, sizeof(l->err));
	if (l->ret)
		return l;
	l->text = malloc(elf_mod_text_size(&l->m) + 1);
	l->data = malloc(elf_mod_data_size(&l->m) + 1);
	assert_true(l->text && l->data);
	l->ret = elf_mod_link(&l->m, l->text, TEXT_ADDR, l->data, DATA_ADDR,
			      resolve, r, l->err, sizeof(l->err));
	return l;
}

static void unload(struct loaded *l)
{
	free(l->text);
	free(l->data);
	free(l);
}

static void expect_error(const struct loaded *l, int code, const char *needle)
{
	if (l->ret != code || !strstr(l->err, needle))
		fail_msg("expected %d containing \"%s\", got %d \"%s\"", code, needle, l->ret, l->err);
}

/* --- against GNU ld -------------------------------------------------------- */

static unsigned long type_seen[64];

/* Tallies relocation types applied to loaded sections of object @o. */
static void tally(const struct blob *o)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)o->p;

	for (unsigned int i = 1; i < eh->e_shnum; i++) {
		const Elf64_Shdr *sh = shdr(o, i);
		const Elf64_Rela *r = (const Elf64_Rela *)(o->p + sh->sh_offset);

		if (sh->sh_type != SHT_RELA || !(shdr(o, sh->sh_info)->sh_flags & SHF_ALLOC) ||
		    !strcmp(shname(o, sh->sh_info), ".eh_frame"))
			continue;
		for (size_t k = 0; k < sh->sh_size / sizeof(*r); k++)
			if (ELF64_R_TYPE(r[k].r_info) < 64)
				type_seen[ELF64_R_TYPE(r[k].r_info)]++;
	}
}

static void compare_region(const char *what, const char *v, const char *mod,
			   const uint8_t *mine, size_t mine_n, const uint8_t *ld, size_t ld_n)
{
	if (mine_n != ld_n)
		fail_msg("%s/%s: %s region is %zu bytes, ld made %zu", v, mod, what, mine_n, ld_n);
	for (size_t i = 0; i < ld_n; i++)
		if (mine[i] != ld[i])
			fail_msg("%s/%s: %s+0x%zx is %02x, ld wrote %02x", v, mod, what, i,
				 mine[i], ld[i]);
}

/* Every global symbol ld placed in the regions: same address from the loader. */
static unsigned int compare_symbols(const struct blob *e, const struct elf_mod *m,
				    const char *v, const char *mod)
{
	int st = find_type(e, SHT_SYMTAB);
	const Elf64_Shdr *sh = shdr(e, st);
	const Elf64_Sym *s = (const Elf64_Sym *)(e->p + sh->sh_offset);
	const char *str = (const char *)e->p + shdr(e, sh->sh_link)->sh_offset;
	unsigned int n = 0;
	uint64_t a;

	for (size_t i = sh->sh_info; i < sh->sh_size / sizeof(*s); i++) {
		const char *nm = str + s[i].st_name;

		if (s[i].st_shndx == SHN_UNDEF || s[i].st_shndx >= SHN_LORESERVE)
			continue;	/* --defsym symbols are absolute */
		if (elf_mod_symbol(m, nm, &a))
			fail_msg("%s/%s: loader has no symbol '%s'", v, mod, nm);
		if (a != s[i].st_value)
			fail_msg("%s/%s: '%s' at 0x%lx, ld says 0x%lx", v, mod, nm,
				 (unsigned long)a, (unsigned long)s[i].st_value);
		n++;
	}
	return n;
}

static void test_matches_ld(void **state)
{
	static const struct { int type; const char *name; } want[] = {
		{ R_RISCV_32, "32" }, { R_RISCV_64, "64" }, { R_RISCV_BRANCH, "BRANCH" },
		{ R_RISCV_JAL, "JAL" }, { R_RISCV_CALL, "CALL" }, { R_RISCV_CALL_PLT, "CALL_PLT" },
		{ R_RISCV_PCREL_HI20, "PCREL_HI20" }, { R_RISCV_PCREL_LO12_I, "PCREL_LO12_I" },
		{ R_RISCV_PCREL_LO12_S, "PCREL_LO12_S" }, { R_RISCV_HI20, "HI20" },
		{ R_RISCV_LO12_I, "LO12_I" }, { R_RISCV_LO12_S, "LO12_S" },
		{ R_RISCV_ADD8, "ADD8" }, { R_RISCV_ADD16, "ADD16" }, { R_RISCV_ADD32, "ADD32" },
		{ R_RISCV_ADD64, "ADD64" }, { R_RISCV_SUB8, "SUB8" }, { R_RISCV_SUB16, "SUB16" },
		{ R_RISCV_SUB32, "SUB32" }, { R_RISCV_SUB64, "SUB64" }, { R_RISCV_ALIGN, "ALIGN" },
		{ R_RISCV_RVC_BRANCH, "RVC_BRANCH" }, { R_RISCV_RVC_JUMP, "RVC_JUMP" },
		{ R_RISCV_RELAX, "RELAX" }, { R_RISCV_SUB6, "SUB6" }, { R_RISCV_SET6, "SET6" },
		{ R_RISCV_SET8, "SET8" }, { R_RISCV_SET16, "SET16" }, { R_RISCV_SET32, "SET32" },
		{ R_RISCV_32_PCREL, "32_PCREL" },
	};
	unsigned int pairs = 0, syms = 0, missing = 0;
	size_t text_bytes = 0, data_bytes = 0;

	for (size_t v = 0; v < NVARIANTS; v++) {
		for (size_t k = 0; k < NMODULES; k++) {
			struct blob o = load(variants[v], modules[k], ".o");
			struct blob e = load(variants[v], modules[k], ".elf");
			struct resolver r = { 0 };
			struct loaded *l = load_and_link(o.p, o.n, &r);
			uint64_t ta = TEXT_ADDR, da = DATA_ADDR;
			size_t tn, dn;
			uint8_t *t = ld_section(&e, ".mtext", &ta, &tn);
			uint8_t *d = ld_section(&e, ".mdata", &da, &dn);

			if (l->ret)
				fail_msg("%s/%s: %s", variants[v], modules[k], l->err);
			assert_int_equal(ta, TEXT_ADDR);
			assert_int_equal(da, DATA_ADDR);
			compare_region("text", variants[v], modules[k], l->text,
				       elf_mod_text_size(&l->m), t, tn);
			compare_region("data", variants[v], modules[k], l->data,
				       elf_mod_data_size(&l->m), d, dn);
			syms += compare_symbols(&e, &l->m, variants[v], modules[k]);
			tally(&o);
			text_bytes += tn;
			data_bytes += dn;
			pairs++;
			free(t);
			free(d);
			unload(l);
			free(o.p);
			free(e.p);
		}
	}
	printf("elf_mod: %u objects equal to GNU ld (%zu text + %zu data bytes, %u symbols)\n",
	       pairs, text_bytes, data_bytes, syms);
	printf("elf_mod: relocation types applied to loaded sections:\n");
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		printf("  R_RISCV_%-13s %6lu\n", want[i].name, type_seen[want[i].type]);
		missing += !type_seen[want[i].type];
	}
	assert_int_equal(missing, 0);
}

/* The loader's sections appear in the order of the layout: code first. */
static void test_layout(void **state)
{
	struct blob o = load("fsect", "m_c", ".o");
	struct resolver r = { 0 };
	struct loaded *l = load_and_link(o.p, o.n, &r);
	uint64_t a, b;

	assert_int_equal(l->ret, 0);
	assert_int_equal(elf_mod_symbol(&l->m, "sw", &a), 0);
	assert_int_equal(elf_mod_symbol(&l->m, "ops_table", &b), 0);
	assert_true(a >= TEXT_ADDR && b > a && b < TEXT_ADDR + elf_mod_text_size(&l->m));
	assert_int_equal(elf_mod_symbol(&l->m, "big_bss", &a), 0);
	assert_true(a >= DATA_ADDR && a + 300 * 8 <= DATA_ADDR + elf_mod_data_size(&l->m));
	assert_int_equal(elf_mod_text_align(&l->m) & (elf_mod_text_align(&l->m) - 1), 0);
	/* statics are not exported, nor are undefined symbols */
	assert_int_equal(elf_mod_symbol(&l->m, "counter", &a), -KE_NOENT);
	assert_int_equal(elf_mod_symbol(&l->m, "ext_func", &a), -KE_NOENT);
	assert_int_equal(elf_mod_symbol(&l->m, "", &a), -KE_NOENT);
	unload(l);
	free(o.p);
}

static void test_symbol_before_link(void **state)
{
	struct blob o = load("relax", "m_small", ".o");
	struct elf_mod *m = calloc(1, sizeof(*m));
	uint64_t a;

	assert_int_equal(elf_mod_parse(o.p, o.n, m, NULL, 0), 0);
	assert_int_equal(elf_mod_symbol(m, "small_entry", &a), -KE_INVAL);
	assert_int_equal(elf_mod_data_size(m), 0);
	free(m);
	free(o.p);
}

static void test_link_checks_args(void **state)
{
	struct blob o = load("relax", "m_asm", ".o");
	struct elf_mod *m = calloc(1, sizeof(*m));
	uint8_t *t, *d;
	char err[100];
	struct resolver r = { 0 };

	assert_int_equal(elf_mod_parse(o.p, o.n, m, err, sizeof(err)), 0);
	assert_int_equal(elf_mod_data_align(m), 64);	/* asm_bss */
	t = malloc(elf_mod_text_size(m));
	d = malloc(elf_mod_data_size(m));
	assert_int_equal(elf_mod_link(m, t, TEXT_ADDR + 4, d, DATA_ADDR, resolve, &r,
				      err, sizeof(err)), -KE_INVAL);
	assert_non_null(strstr(err, "not aligned"));
	assert_int_equal(elf_mod_link(m, t, TEXT_ADDR, d, DATA_ADDR + 32, resolve, &r,
				      err, sizeof(err)), -KE_INVAL);
	assert_int_equal(elf_mod_link(m, t, TEXT_ADDR, NULL, DATA_ADDR, resolve, &r,
				      err, sizeof(err)), -KE_INVAL);
	assert_int_equal(elf_mod_link(m, t, TEXT_ADDR, d, DATA_ADDR, resolve, &r,
				      err, sizeof(err)), 0);
	/* a failed parse leaves nothing linkable */
	assert_int_not_equal(elf_mod_parse(o.p, 10, m, err, sizeof(err)), 0);
	assert_int_equal(elf_mod_link(m, t, TEXT_ADDR, d, DATA_ADDR, resolve, &r,
				      err, sizeof(err)), -KE_INVAL);
	free(t);
	free(d);
	free(m);
	free(o.p);
}

/* --- synthetic one-section objects -------------------------------------- */

/* Symbols of a synthetic object. */
enum { SY_SECTION = 1, SY_LAB, SY_FAR, SY_ENTRY, SY_N, SY_NLOCAL = SY_FAR };

struct syn {
	uint8_t text[64];
	size_t text_len;
	uint64_t lab;			/* value of local label "lab" */
	struct { uint32_t type, sym; uint64_t off; int64_t add; } rel[4];
	unsigned int nrel;
	uint64_t align;			/* .text sh_addralign */
};

#define SYN_MAX 2048

/* ELF header, .text, symtab, strtab, shstrtab, .rela.text, section table. */
static size_t syn_build(const struct syn *s, uint8_t *out)
{
	static const char strs[] = "\0lab\0far\0entry";
	static const char shstrs[] = "\0.text\0.rela.text\0.symtab\0.strtab\0.shstrtab";
	Elf64_Ehdr *eh = (Elf64_Ehdr *)out;
	Elf64_Sym *sym;
	Elf64_Rela *rel;
	Elf64_Shdr *sh;
	size_t off = 64, o_text, o_sym, o_str, o_shstr, o_rel;

	memset(out, 0, SYN_MAX);
	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = ELFCLASS64;
	eh->e_ident[EI_DATA] = ELFDATA2LSB;
	eh->e_ident[EI_VERSION] = EV_CURRENT;
	eh->e_type = ET_REL;
	eh->e_machine = EM_RISCV;
	eh->e_version = EV_CURRENT;
	eh->e_ehsize = sizeof(*eh);
	eh->e_shentsize = sizeof(Elf64_Shdr);
	eh->e_shnum = 6;
	eh->e_shstrndx = 5;
	o_text = off;
	memcpy(out + off, s->text, s->text_len);
	off = (off + s->text_len + 7) & ~7ul;
	o_sym = off;
	sym = (Elf64_Sym *)(out + off);
	sym[SY_SECTION] = (Elf64_Sym){ .st_info = ELF64_ST_INFO(STB_LOCAL, STT_SECTION), .st_shndx = 1 };
	sym[SY_LAB] = (Elf64_Sym){ .st_name = 1, .st_shndx = 1, .st_value = s->lab };
	sym[SY_FAR] = (Elf64_Sym){ .st_name = 5, .st_info = ELF64_ST_INFO(STB_GLOBAL, STT_NOTYPE) };
	sym[SY_ENTRY] = (Elf64_Sym){ .st_name = 9, .st_info = ELF64_ST_INFO(STB_GLOBAL, STT_FUNC),
				     .st_shndx = 1 };
	off += SY_N * sizeof(*sym);
	o_str = off;
	memcpy(out + off, strs, sizeof(strs));
	off += sizeof(strs);
	o_shstr = off;
	memcpy(out + off, shstrs, sizeof(shstrs));
	off = (off + sizeof(shstrs) + 7) & ~7ul;
	o_rel = off;
	rel = (Elf64_Rela *)(out + off);
	for (unsigned int i = 0; i < s->nrel; i++)
		rel[i] = (Elf64_Rela){ s->rel[i].off, ELF64_R_INFO(s->rel[i].sym, s->rel[i].type),
				       s->rel[i].add };
	off += s->nrel * sizeof(*rel);
	eh->e_shoff = off;
	sh = (Elf64_Shdr *)(out + off);
	sh[1] = (Elf64_Shdr){ .sh_name = 1, .sh_type = SHT_PROGBITS,
			      .sh_flags = SHF_ALLOC | SHF_EXECINSTR, .sh_offset = o_text,
			      .sh_size = s->text_len, .sh_addralign = s->align ? s->align : 4 };
	sh[2] = (Elf64_Shdr){ .sh_name = 7, .sh_type = SHT_RELA, .sh_flags = SHF_INFO_LINK,
			      .sh_offset = o_rel, .sh_size = s->nrel * sizeof(*rel), .sh_link = 3,
			      .sh_info = 1, .sh_addralign = 8, .sh_entsize = sizeof(*rel) };
	sh[3] = (Elf64_Shdr){ .sh_name = 18, .sh_type = SHT_SYMTAB, .sh_offset = o_sym,
			      .sh_size = SY_N * sizeof(*sym), .sh_link = 4, .sh_info = SY_NLOCAL,
			      .sh_addralign = 8, .sh_entsize = sizeof(*sym) };
	sh[4] = (Elf64_Shdr){ .sh_name = 26, .sh_type = SHT_STRTAB, .sh_offset = o_str,
			      .sh_size = sizeof(strs), .sh_addralign = 1 };
	sh[5] = (Elf64_Shdr){ .sh_name = 34, .sh_type = SHT_STRTAB, .sh_offset = o_shstr,
			      .sh_size = sizeof(shstrs), .sh_addralign = 1 };
	off += 6 * sizeof(*sh);
	assert_true(off <= SYN_MAX);
	return off;
}

static uint8_t syn_buf[SYN_MAX];

/* Builds @s, links it with "far" at @far; the text bytes land in l->text. */
static struct loaded *syn_link(const struct syn *s, uint64_t far)
{
	struct resolver r = { .override = "far", .addr = far };
	size_t n = syn_build(s, syn_buf);

	return load_and_link(syn_buf, n, &r);
}

static struct syn syn_one(uint32_t insn, unsigned int len, uint32_t type)
{
	struct syn s = { .text_len = 16, .nrel = 1 };

	memcpy(s.text, &insn, len);
	s.rel[0].type = type;
	s.rel[0].sym = SY_FAR;
	return s;
}

static int64_t sext(uint64_t v, unsigned int bits)
{
	return (int64_t)(v << (64 - bits)) >> (64 - bits);
}

/* Decoders written from the ISA manual's figures, not from the loader. */
static int64_t dec_b(uint32_t i)
{
	return sext((i >> 31 & 1) << 12 | (i >> 7 & 1) << 11 | (i >> 25 & 0x3f) << 5 |
		    (i >> 8 & 0xf) << 1, 13);
}

static int64_t dec_j(uint32_t i)
{
	return sext((i >> 31 & 1) << 20 | (i >> 12 & 0xff) << 12 | (i >> 20 & 1) << 11 |
		    (i >> 21 & 0x3ff) << 1, 21);
}

static int64_t dec_cb(uint32_t i)
{
	return sext((i >> 12 & 1) << 8 | (i >> 10 & 3) << 3 | (i >> 5 & 3) << 6 |
		    (i >> 3 & 3) << 1 | (i >> 2 & 1) << 5, 9);
}

static int64_t dec_cj(uint32_t i)
{
	return sext((i >> 12 & 1) << 11 | (i >> 11 & 1) << 4 | (i >> 9 & 3) << 8 |
		    (i >> 8 & 1) << 10 | (i >> 7 & 1) << 6 | (i >> 6 & 1) << 7 |
		    (i >> 3 & 7) << 1 | (i >> 2 & 1) << 5, 12);
}

static int64_t dec_u(uint32_t i) { return (int32_t)(i & 0xfffff000); }
static int64_t dec_i(uint32_t i) { return (int32_t)i >> 20; }
static int64_t dec_s(uint32_t i) { return (int64_t)((int32_t)i >> 25) * 32 + (i >> 7 & 0x1f); }

static uint32_t word(const uint8_t *p)
{
	uint32_t w;

	memcpy(&w, p, 4);
	return w;
}

struct range_case {
	uint32_t type, insn;
	unsigned int len;
	int64_t (*dec)(uint32_t);
	uint32_t keep;		/* opcode bits the relocation must not touch */
	int64_t lo, hi;		/* inclusive range of the PC-relative value */
	const char *name;
};

static void check_range(const struct range_case *c)
{
	const int64_t vals[] = { c->lo, c->hi, c->lo - 2, c->hi + 2, 2, -2, 0, c->hi / 3 * 2 };

	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		struct syn s = syn_one(c->insn, c->len, c->type);
		struct loaded *l = syn_link(&s, TEXT_ADDR + (uint64_t)vals[i]);
		bool ok = vals[i] >= c->lo && vals[i] <= c->hi;
		uint32_t w;

		if (!ok) {
			expect_error(l, -KE_RANGE, c->name);
			assert_non_null(strstr(l->err, "out of range at .text+0x0"));
		} else {
			assert_int_equal(l->ret, 0);
			w = c->len == 2 ? (uint16_t)word(l->text) : word(l->text);
			assert_int_equal(c->dec(w), vals[i]);
			assert_int_equal(w & c->keep, c->insn & c->keep);
		}
		unload(l);
	}
	/* odd targets cannot be encoded */
	struct syn s = syn_one(c->insn, c->len, c->type);
	struct loaded *l = syn_link(&s, TEXT_ADDR + 7);

	expect_error(l, -KE_RANGE, c->name);
	unload(l);
}

static void test_pcrel_ranges(void **state)
{
	static const struct range_case cases[] = {
		{ R_RISCV_BRANCH, 0x00b50063, 4, dec_b, 0x01fff07f, -4096, 4094, "R_RISCV_BRANCH" },
		{ R_RISCV_JAL, 0x000000ef, 4, dec_j, 0xfff, -(1 << 20), (1 << 20) - 2, "R_RISCV_JAL" },
		{ R_RISCV_RVC_BRANCH, 0xc101, 2, dec_cb, 0xe383, -256, 254, "R_RISCV_RVC_BRANCH" },
		{ R_RISCV_RVC_JUMP, 0xa001, 2, dec_cj, 0xe003, -2048, 2046, "R_RISCV_RVC_JUMP" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check_range(&cases[i]);
}

/* AUIPC+JALR / AUIPC / LUI: hi20 + lo12 reach [-2^31 - 2^11, 2^31 - 2^11). */
static void test_hi20_ranges(void **state)
{
	const int64_t lim_lo = -(1LL << 31) - 0x800, lim_hi = (1LL << 31) - 0x801;
	const int64_t vals[] = { lim_lo, lim_hi, lim_lo - 1, lim_hi + 1, 0x7ff, 0x800, -0x800,
				 -0x801, 0x12345678 };
	const uint32_t types[] = { R_RISCV_CALL, R_RISCV_CALL_PLT, R_RISCV_PCREL_HI20,
				   R_RISCV_HI20 };

	for (size_t t = 0; t < 4; t++) {
		for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
			struct syn s = syn_one(0x00000097, 4, types[t]);	/* auipc ra,0 */
			bool pcrel = types[t] != R_RISCV_HI20;
			uint64_t base = pcrel ? TEXT_ADDR : 0;
			struct loaded *l;

			memcpy(s.text + 4, &(uint32_t){ 0x000080e7 }, 4);	/* jalr ra,0(ra) */
			l = syn_link(&s, base + (uint64_t)vals[i]);
			if (vals[i] < lim_lo || vals[i] > lim_hi) {
				expect_error(l, -KE_RANGE, "out of range at .text+0x0");
			} else {
				assert_int_equal(l->ret, 0);
				assert_int_equal(word(l->text) & 0xfff, 0x097);
				if (types[t] == R_RISCV_CALL || types[t] == R_RISCV_CALL_PLT)
					assert_int_equal(dec_u(word(l->text)) +
							 dec_i(word(l->text + 4)), vals[i]);
				else	/* the LO12 half is another relocation */
					assert_int_equal(dec_u(word(l->text)),
							 (vals[i] + 0x800) & ~0xfffLL);
			}
			unload(l);
		}
	}
}

static void test_data_ranges(void **state)
{
	const struct { uint32_t type; uint64_t v; int ok; uint64_t out; } c[] = {
		{ R_RISCV_32, 0xffffffffu, 1, 0xffffffffu },
		{ R_RISCV_32, 0x100000000ull, 0, 0 },
		{ R_RISCV_32, (uint64_t)-0x80000000ll, 1, 0x80000000u },
		{ R_RISCV_32, (uint64_t)-0x80000001ll, 0, 0 },
		{ R_RISCV_32_PCREL, TEXT_ADDR + 0x7fffffff, 1, 0x7fffffff },
		{ R_RISCV_32_PCREL, TEXT_ADDR + 0x80000000ull, 0, 0 },
		{ R_RISCV_32_PCREL, TEXT_ADDR - 0x80000000ull, 1, 0x80000000u },
		{ R_RISCV_64, 0x8877665544332211ull, 1, 0x8877665544332211ull },
		{ R_RISCV_SET8, 0x1ff, 1, 0xff },	/* SET/ADD/SUB wrap by design */
		{ R_RISCV_SET16, 0x12345, 1, 0x2345 },
		{ R_RISCV_SET32, 0x123456789ull, 1, 0x23456789 },
		/* on top of 0: the psABI's V - S - A with A = 0x10 (see m_asm.S) */
		{ R_RISCV_SUB8, 0x1, 1, 0xef },
		{ R_RISCV_SUB16, 0x1, 1, 0xffef },
		{ R_RISCV_SUB64, 0x1, 1, 0xffffffffffffffefull },
		{ R_RISCV_SUB6, 0x1, 1, 0x2f },
		{ R_RISCV_ADD32, 0x1, 1, 0x11 },
	};
	static const uint8_t width[64] = {
		[R_RISCV_64] = 8, [R_RISCV_SET8] = 1, [R_RISCV_SET16] = 2, [R_RISCV_SUB8] = 1,
		[R_RISCV_SUB16] = 2, [R_RISCV_SUB64] = 8, [R_RISCV_SUB6] = 1,
	};

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		struct syn s = syn_one(0, 4, c[i].type);
		struct loaded *l;
		uint64_t got = 0;

		if (c[i].type == R_RISCV_SUB8 || c[i].type == R_RISCV_SUB16 ||
		    c[i].type == R_RISCV_SUB64 || c[i].type == R_RISCV_SUB6 ||
		    c[i].type == R_RISCV_ADD32)
			s.rel[0].add = 0x10;
		l = syn_link(&s, c[i].v);

		if (!c[i].ok) {
			expect_error(l, -KE_RANGE, "out of range at .text+0x0");
		} else {
			assert_int_equal(l->ret, 0);
			memcpy(&got, l->text, width[c[i].type] ? width[c[i].type] : 4);
			assert_int_equal(got, c[i].out);
			assert_int_equal(l->text[8], 0);	/* nothing beyond the field */
		}
		unload(l);
	}
}

/* %pcrel_lo: found through its label, addend must not carry into hi20. */
static void test_pcrel_lo(void **state)
{
	struct syn s = { .text_len = 16, .lab = 4, .nrel = 3 };
	struct loaded *l;

	memcpy(s.text + 4, &(uint32_t){ 0x00000517 }, 4);	/* auipc a0,0 */
	memcpy(s.text + 8, &(uint32_t){ 0x00052503 }, 4);	/* lw a0,0(a0) */
	memcpy(s.text + 12, &(uint32_t){ 0x00a52023 }, 4);	/* sw a0,0(a0) */
	s.rel[0] = (typeof(s.rel[0])){ R_RISCV_PCREL_LO12_I, SY_LAB, 8, 0 };	/* before hi */
	s.rel[1] = (typeof(s.rel[0])){ R_RISCV_PCREL_HI20, SY_FAR, 4, 0x10 };
	s.rel[2] = (typeof(s.rel[0])){ R_RISCV_PCREL_LO12_S, SY_LAB, 12, 4 };
	l = syn_link(&s, TEXT_ADDR + 4 + 0x12345ff0);
	assert_int_equal(l->ret, 0);
	assert_int_equal(dec_u(word(l->text + 4)) + dec_i(word(l->text + 8)), 0x12346000);
	assert_int_equal(dec_u(word(l->text + 4)) + dec_s(word(l->text + 12)), 0x12346004);
	unload(l);

	/* hi value 0x7fc: +4 crosses into the next 4 KiB page */
	l = syn_link(&s, TEXT_ADDR + 4 + 0x7fc - 0x10);
	expect_error(l, -KE_RANGE, "R_RISCV_PCREL_LO12_S out of range at .text+0xc");
	unload(l);

	/* no AUIPC at the label */
	s.lab = 0;
	l = syn_link(&s, TEXT_ADDR);
	expect_error(l, -KE_INVAL, "R_RISCV_PCREL_LO12_I has no matching R_RISCV_PCREL_HI20 at .text+0x8");
	unload(l);

	/* a section symbol with an addend is ambiguous (ld refuses it too) */
	s.lab = 4;
	s.rel[0].sym = SY_SECTION;
	s.rel[0].add = 4;
	l = syn_link(&s, TEXT_ADDR);
	expect_error(l, -KE_INVAL, "does not name an AUIPC label");
	unload(l);
}

static void test_bad_relocations(void **state)
{
	struct syn s = syn_one(0, 4, 46);	/* R_RISCV_RVC_LUI */
	struct loaded *l;

	s.rel[0].off = 0x8;
	l = syn_link(&s, 0);
	expect_error(l, -KE_NOTSUP, "unsupported relocation type 46 at .text+0x8");
	unload(l);

	s.rel[0].type = 200;
	l = syn_link(&s, 0);
	expect_error(l, -KE_NOTSUP, "unsupported relocation type 200 at .text+0x8");
	unload(l);

	s.rel[0].type = R_RISCV_CALL;	/* 8 bytes at 0xc of a 16-byte section */
	s.rel[0].off = 0xc;
	l = syn_link(&s, TEXT_ADDR);
	expect_error(l, -KE_INVAL, "R_RISCV_CALL outside its section at .text+0xc");
	unload(l);

	s.rel[0].type = R_RISCV_64;
	s.rel[0].off = ~0ull - 3;
	l = syn_link(&s, TEXT_ADDR);
	expect_error(l, -KE_INVAL, "outside its section");
	unload(l);

	s.rel[0] = (typeof(s.rel[0])){ R_RISCV_ALIGN, 0, 2, 6 };	/* 2 + 6: aligned to 8 */
	s.align = 8;
	l = syn_link(&s, 0);
	assert_int_equal(l->ret, 0);
	unload(l);
	s.rel[0].off = 4;	/* 4 + 6: only byte deletion could align it */
	l = syn_link(&s, 0);
	expect_error(l, -KE_NOTSUP, "R_RISCV_ALIGN needs linker relaxation (build with -mno-relax)");
	unload(l);
	s.rel[0].add = 14;	/* nops past the end */
	l = syn_link(&s, 0);
	expect_error(l, -KE_INVAL, "R_RISCV_ALIGN outside its section");
	unload(l);

	/* R_RISCV_NONE and RELAX change nothing */
	s = syn_one(0xdeadbeef, 4, R_RISCV_NONE);
	s.nrel = 2;
	s.rel[1] = (typeof(s.rel[0])){ R_RISCV_RELAX, 0, 0, 0 };
	l = syn_link(&s, TEXT_ADDR);
	assert_int_equal(l->ret, 0);
	assert_int_equal(word(l->text), 0xdeadbeef);
	unload(l);
}

/*
 * Empty loaded sections in empty regions, which elf_mod.h lets the caller
 * pass as NULL (gcc emits an empty .data and .bss for code without data):
 * nothing is copied to, or computed from, a NULL buffer, and the
 * zero-width relocations an empty section can hold still apply (found by
 * fuzzing: memcpy(NULL + 0, .., 0)).
 */
static void test_empty_regions(void **state)
{
	struct syn s = { .text_len = 0, .nrel = 3 };
	struct resolver r = { .override = "far", .addr = TEXT_ADDR };
	struct elf_mod *m = calloc(1, sizeof(*m));
	char err[100];
	uint64_t a;
	size_t n;

	s.rel[0] = (typeof(s.rel[0])){ R_RISCV_NONE, 0, 0, 0 };
	s.rel[1] = (typeof(s.rel[0])){ R_RISCV_RELAX, 0, 0, 0 };
	s.rel[2] = (typeof(s.rel[0])){ R_RISCV_ALIGN, 0, 0, 0 };
	n = syn_build(&s, syn_buf);
	assert_non_null(m);
	if (elf_mod_parse(syn_buf, n, m, err, sizeof(err)))
		fail_msg("parse: %s", err);
	assert_int_equal(elf_mod_text_size(m), 0);
	assert_int_equal(elf_mod_data_size(m), 0);
	assert_int_equal(elf_mod_link(m, NULL, TEXT_ADDR, NULL, DATA_ADDR, resolve, &r,
				      err, sizeof(err)), 0);
	assert_int_equal(elf_mod_symbol(m, "entry", &a), 0);
	assert_int_equal(a, TEXT_ADDR);
	free(m);
}

/* --- rejected fixtures ---------------------------------------------------- */

static void expect_fixture(const char *variant, const char *name, int code, const char *needle)
{
	struct blob o = load(variant, name, ".o");
	struct resolver r = { 0 };
	struct loaded *l = load_and_link(o.p, o.n, &r);

	expect_error(l, code, needle);
	unload(l);
	free(o.p);
}

static void test_rejected_fixtures(void **state)
{
	for (size_t v = 0; v < NVARIANTS; v++) {
		expect_fixture(variants[v], "bad_common", -KE_NOTSUP,
			       "symbol 'common_var' is COMMON: build the module with -fno-common");
		expect_fixture(variants[v], "bad_tls", -KE_NOTSUP, "is thread-local");
		expect_fixture(variants[v], "bad_ctor", -KE_NOTSUP, "(.init_array) has unsupported type 14");
		expect_fixture(variants[v], "bad_wx", -KE_NOTSUP, "(.wxcode) is writable and executable");
	}
	expect_fixture("relax", "bad_align", -KE_NOTSUP,
		       "R_RISCV_ALIGN needs linker relaxation (build with -mno-relax) at .text.bad_align+0x0");
	expect_fixture("fsect", "bad_align", -KE_NOTSUP, "R_RISCV_ALIGN needs linker relaxation");
	expect_fixture("norelax", "bad_align", 0, "");
}

static void test_unresolved(void **state)
{
	struct blob o = load("relax", "m_c", ".o");
	struct resolver r = { .missing = "ext_array" };
	struct loaded *l = load_and_link(o.p, o.n, &r);

	expect_error(l, -KE_NOENT, "unresolved symbol 'ext_array'");
	unload(l);
	/* far away: the first PC-relative reference to it is out of range */
	r = (struct resolver){ .override = "ext_func", .addr = TEXT_ADDR + (3ull << 30) };
	l = load_and_link(o.p, o.n, &r);
	expect_error(l, -KE_RANGE, "R_RISCV_CALL_PLT out of range at .text+0x");
	unload(l);
	r = (struct resolver){ .override = "ext_data", .addr = TEXT_ADDR - (3ull << 30) };
	l = load_and_link(o.p, o.n, &r);
	expect_error(l, -KE_RANGE, "R_RISCV_PCREL_HI20 out of range at .text+0x");
	unload(l);
	free(o.p);

	o = load("norelax", "m_asm", ".o");
	r = (struct resolver){ .override = "ext_near", .addr = TEXT_ADDR + 0x1000 };
	l = load_and_link(o.p, o.n, &r);
	expect_error(l, -KE_RANGE, "R_RISCV_RVC_BRANCH out of range at .text+0x0");
	unload(l);
	r.addr = 0x80000000;	/* %hi of an absolute address above 2 GiB - 2 KiB */
	r.override = "ext_abs";
	l = load_and_link(o.p, o.n, &r);
	expect_error(l, -KE_RANGE, "R_RISCV_HI20 out of range at .text+0x");
	unload(l);
	free(o.p);
}

/* --- header and table damage ---------------------------------------------- */

typedef void (*patch_fn)(struct blob *b);

static void expect_patched(patch_fn fn, int code, const char *needle)
{
	struct blob o = load("norelax", "m_c", ".o");
	struct resolver r = { 0 };
	struct loaded *l;

	fn(&o);
	l = load_and_link(o.p, o.n, &r);
	expect_error(l, code, needle);
	unload(l);
	free(o.p);
}

static void p_class(struct blob *b) { b->p[EI_CLASS] = ELFCLASS32; }
static void p_data(struct blob *b) { b->p[EI_DATA] = ELFDATA2MSB; }
static void p_magic(struct blob *b) { b->p[1] = 'e'; }
static void p_machine(struct blob *b) { ((Elf64_Ehdr *)b->p)->e_machine = EM_X86_64; }
static void p_type(struct blob *b) { ((Elf64_Ehdr *)b->p)->e_type = ET_EXEC; }
static void p_float(struct blob *b) { ((Elf64_Ehdr *)b->p)->e_flags |= 0x4; }
static void p_shentsize(struct blob *b) { ((Elf64_Ehdr *)b->p)->e_shentsize = 40; }
static void p_shnum(struct blob *b) { ((Elf64_Ehdr *)b->p)->e_shnum = 600; }
static void p_shstrndx(struct blob *b) { ((Elf64_Ehdr *)b->p)->e_shstrndx = 0; }
static void p_shoff(struct blob *b) { ((Elf64_Ehdr *)b->p)->e_shoff = ~0ull - 100; }
static void p_data_off(struct blob *b) { shdr(b, find_shdr(b, ".data"))->sh_offset = b->n - 4; }
static void p_size_wrap(struct blob *b) { shdr(b, find_shdr(b, ".data"))->sh_size = ~0ull; }
static void p_align3(struct blob *b) { shdr(b, find_shdr(b, ".data"))->sh_addralign = 24; }
static void p_align_big(struct blob *b) { shdr(b, find_shdr(b, ".data"))->sh_addralign = 8192; }
static void p_bss_huge(struct blob *b) { shdr(b, find_shdr(b, ".bss"))->sh_size = 1ull << 40; }
static void p_tls_flag(struct blob *b) { shdr(b, find_shdr(b, ".sdata"))->sh_flags |= SHF_TLS; }
static void p_os_flag(struct blob *b) { shdr(b, find_shdr(b, ".sdata"))->sh_flags |= 0x100000; }
static void p_shname(struct blob *b) { shdr(b, 3)->sh_name = 0x7fffffff; }

static void p_shstr_unterminated(struct blob *b)
{
	Elf64_Shdr *sh = shdr(b, ((Elf64_Ehdr *)b->p)->e_shstrndx);

	sh->sh_size = shdr(b, 1)->sh_name + 2;	/* cuts ".text" */
}

static Elf64_Rela *first_rela(struct blob *b, const char *sec)
{
	return (Elf64_Rela *)(b->p + shdr(b, find_shdr(b, sec))->sh_offset);
}

static void p_rsym(struct blob *b)
{
	Elf64_Rela *r = first_rela(b, ".rela.text");

	r->r_info = ELF64_R_INFO(100000, ELF64_R_TYPE(r->r_info));
}

static void p_rtarget(struct blob *b) { shdr(b, find_shdr(b, ".rela.text"))->sh_info = 999; }
static void p_rentsize(struct blob *b) { shdr(b, find_shdr(b, ".rela.text"))->sh_entsize = 16; }
static void p_rlink(struct blob *b) { shdr(b, find_shdr(b, ".rela.text"))->sh_link = 1; }
static void p_rtype(struct blob *b) { first_rela(b, ".rela.text")->r_info |= 0xff; }

static Elf64_Sym *sym_named(struct blob *b, const char *name)
{
	int st = find_type(b, SHT_SYMTAB);
	Elf64_Sym *s = (Elf64_Sym *)(b->p + shdr(b, st)->sh_offset);
	const char *str = (const char *)b->p + shdr(b, shdr(b, st)->sh_link)->sh_offset;

	for (size_t i = 0; i < shdr(b, st)->sh_size / sizeof(*s); i++)
		if (!strcmp(str + s[i].st_name, name))
			return &s[i];
	fail_msg("no symbol %s", name);
	return NULL;
}

static void p_sym_shndx(struct blob *b) { sym_named(b, "sw")->st_shndx = 0xff10; }
static void p_sym_value(struct blob *b) { sym_named(b, "sw")->st_value = 1 << 30; }
static void p_sym_name(struct blob *b) { sym_named(b, "loop")->st_name = 0xfffffff0; }
static void p_sym_common(struct blob *b) { sym_named(b, "table")->st_shndx = SHN_COMMON; }
static void p_sym_ifunc(struct blob *b) { sym_named(b, "loop")->st_info = ELF64_ST_INFO(STB_GLOBAL, STT_GNU_IFUNC); }
static void p_sym_local(struct blob *b) { sym_named(b, "loop")->st_info = ELF64_ST_INFO(STB_LOCAL, STT_FUNC); }
static void p_symtab_info(struct blob *b) { shdr(b, find_type(b, SHT_SYMTAB))->sh_info = 1 << 20; }
static void p_no_symtab(struct blob *b) { shdr(b, find_type(b, SHT_SYMTAB))->sh_type = SHT_PROGBITS; }
static void p_symtab_link(struct blob *b) { shdr(b, find_type(b, SHT_SYMTAB))->sh_link = 1; }

static void p_rel_section(struct blob *b)
{
	Elf64_Shdr *sh = shdr(b, find_shdr(b, ".rela.text"));

	sh->sh_type = SHT_REL;
}

static void test_damaged_headers(void **state)
{
	static const struct { patch_fn fn; int code; const char *needle; } c[] = {
		{ p_magic, -KE_INVAL, "not an ELF file" },
		{ p_class, -KE_INVAL, "ELF class 1 is not ELFCLASS64" },
		{ p_data, -KE_INVAL, "not little-endian" },
		{ p_machine, -KE_INVAL, "machine 62 is not RISC-V" },
		{ p_type, -KE_INVAL, "ELF type 2 is not a relocatable object" },
		{ p_float, -KE_INVAL, "not the kernel's lp64 soft-float ABI" },
		{ p_shentsize, -KE_INVAL, "bad e_shentsize 40" },
		{ p_shnum, -KE_RANGE, "600 sections" },
		{ p_shstrndx, -KE_INVAL, "bad e_shstrndx 0" },
		{ p_shoff, -KE_INVAL, "section table extends past end of file" },
		{ p_data_off, -KE_INVAL, "section 3 (.data) extends past end of file" },
		{ p_size_wrap, -KE_INVAL, "section 3 (.data) extends past end of file" },
		{ p_align3, -KE_INVAL, "alignment 24 is not a power of two" },
		{ p_align_big, -KE_NOTSUP, "alignment 8192 exceeds 4096" },
		{ p_bss_huge, -KE_RANGE, "(.bss) makes the module larger than" },
		{ p_tls_flag, -KE_NOTSUP, "(.sdata) is thread-local" },
		{ p_os_flag, -KE_NOTSUP, "(.sdata) has unsupported flags 0x100003" },
		{ p_shname, -KE_INVAL, "section 3 has a bad name" },
		{ p_shstr_unterminated, -KE_INVAL, "section 1 has a bad name" },
		{ p_rsym, -KE_INVAL, "relocation 0 in .rela.text: bad symbol 100000" },
		{ p_rtarget, -KE_INVAL, "relocates bad section 999" },
		{ p_rentsize, -KE_INVAL, "(.rela.text) has bad entry size" },
		{ p_rlink, -KE_INVAL, "(.rela.text) does not use the symbol table" },
		{ p_rtype, -KE_NOTSUP, "unsupported relocation type 255 at .text+0x" },
		{ p_rel_section, -KE_NOTSUP, "REL relocations not supported" },
		{ p_sym_shndx, -KE_INVAL, "symbol 'sw' has bad section index 65296" },
		{ p_sym_value, -KE_INVAL, "symbol 'sw' lies outside section 1 (.text)" },
		{ p_sym_name, -KE_INVAL, "has a bad name" },
		{ p_sym_common, -KE_NOTSUP, "symbol 'table' is COMMON" },
		{ p_sym_ifunc, -KE_NOTSUP, "symbol 'loop' is an IFUNC" },
		{ p_sym_local, -KE_INVAL, "('loop') out of binding order" },
		{ p_symtab_info, -KE_INVAL, "bad symbol table sh_info" },
		{ p_no_symtab, -KE_INVAL, "no symbol table" },
		{ p_symtab_link, -KE_INVAL, "symbol string table is not SHT_STRTAB" },
	};

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++)
		expect_patched(c[i].fn, c[i].code, c[i].needle);
}

/* --- robustness ---------------------------------------------------------- */

/* Resolves every name somewhere near the text, so linking goes deep. */
static int resolve_any(void *ctx, const char *name, uint64_t *addr)
{
	uint64_t h = 5381;

	while (*name)
		h = h * 33 + (uint8_t)*name++;
	*addr = TEXT_ADDR - 0x10000 + (h & 0xfffe);
	return (h & 0x3f) == 0 ? -KE_NOENT : 0;
}

static unsigned int parsed_ok, linked_ok;

/* Parse and, if that works, link; checks the answers are consistent. */
static void try_object(const uint8_t *p, size_t n, size_t errlen)
{
	struct elf_mod *m = malloc(sizeof(*m));
	char err[200];
	uint8_t *t, *d;
	uint64_t a;
	int ret;

	assert_non_null(m);
	memset(err, 'x', sizeof(err));
	ret = elf_mod_parse(p, n, m, err, errlen);
	if (ret) {
		assert_true(ret < 0);
		assert_true(errlen == 0 || (strlen(err) < errlen && (errlen < 2 || err[0])));
		free(m);
		return;
	}
	parsed_ok++;
	assert_true(elf_mod_text_size(m) <= ELF_MOD_MAX_REGION);
	assert_true(elf_mod_data_size(m) <= ELF_MOD_MAX_REGION);
	if (elf_mod_text_size(m) + elf_mod_data_size(m) > (1u << 20)) {
		free(m);
		return;
	}
	t = malloc(elf_mod_text_size(m) + 1);
	d = malloc(elf_mod_data_size(m) + 1);
	ret = elf_mod_link(m, t, TEXT_ADDR, d, DATA_ADDR, resolve_any, NULL, err, errlen);
	if (ret) {
		assert_true(ret < 0);
		assert_true(errlen == 0 || strlen(err) < errlen);
		assert_int_equal(elf_mod_symbol(m, "sw", &a), -KE_INVAL);
	} else {
		linked_ok++;
		elf_mod_symbol(m, "sw", &a);
		elf_mod_symbol(m, "asm_bss", &a);
	}
	free(t);
	free(d);
	free(m);
}

static void test_truncated(void **state)
{
	unsigned int cases = 0;

	parsed_ok = 0;
	for (size_t k = 0; k < NMODULES; k++) {
		struct blob o = load("relax", modules[k], ".o");
		size_t step = o.n > 20000 ? 7 : 1;

		for (size_t n = 0; n < o.n; n += step, cases++) {
			uint8_t *copy = malloc(n ? n : 1);	/* exact size: ASan sees overreads */

			memcpy(copy, o.p, n);
			try_object(copy, n, 100);
			free(copy);
		}
		free(o.p);
	}
	/* the section table is at the end, so every truncation breaks it */
	assert_int_equal(parsed_ok, 0);
	printf("elf_mod: %u truncations rejected\n", cases);
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* A random byte range of @b: the headers, the tables and relocations mostly. */
static void pick_area(const struct blob *b, size_t *off, size_t *len)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)b->p;
	unsigned int i = 1 + next_rand() % (eh->e_shnum - 1);

	switch (next_rand() % 4) {
	case 0:
		*off = 0, *len = sizeof(*eh);
		break;
	case 1:
		*off = eh->e_shoff, *len = eh->e_shnum * sizeof(Elf64_Shdr);
		break;
	case 2:		/* a symbol or relocation table */
		i = find_shdr(b, next_rand() & 1 ? ".symtab" : ".rela.text");
		if ((int)i < 0)
			i = 1;
		/* fall through */
	default:
		*off = shdr(b, i)->sh_offset, *len = shdr(b, i)->sh_size;
		if (shdr(b, i)->sh_type == SHT_NOBITS || !*len)
			*off = 0, *len = b->n;
		break;
	}
}

static void mutate(uint8_t *p, const struct blob *b)
{
	static const uint8_t special[] = { 0, 1, 0x7f, 0x80, 0xff, 0xfe, 0x40, 0x10 };
	unsigned int flips = 1 + next_rand() % 4;
	size_t off, len;

	pick_area(b, &off, &len);
	while (flips--) {
		size_t at = off + next_rand() % len;

		if (next_rand() & 1)
			p[at] = special[next_rand() % sizeof(special)];
		else
			p[at] ^= (uint8_t)(1u << (next_rand() % 8));
	}
}

/* ELF_MOD_FUZZ=<rounds>[,<seed>] runs a longer campaign. */
static void test_fuzz(void **state)
{
	const char *env = getenv("ELF_MOD_FUZZ");
	unsigned int cases = 0, rounds = 1500;
	char *comma;

	if (env) {
		rounds = strtoul(env, &comma, 0);
		if (*comma == ',')
			rng ^= strtoull(comma + 1, NULL, 0) * 0x2545f4914f6cdd1dull;
	}
	parsed_ok = linked_ok = 0;
	for (size_t v = 0; v < 2; v++) {
		for (size_t k = 0; k < NMODULES; k++) {
			struct blob o = load(variants[v], modules[k], ".o");
			uint8_t *copy = malloc(o.n);

			for (unsigned int i = 0; i < rounds; i++, cases++) {
				memcpy(copy, o.p, o.n);
				mutate(copy, &o);
				try_object(copy, o.n, i % 10 ? 200 : i % 20 ? 8 : 0);
			}
			try_object(o.p, o.n, 200);	/* untouched: links */
			free(copy);
			free(o.p);
		}
	}
	printf("elf_mod: %u mutated objects: %u parsed, %u linked, no crash\n",
	       cases, parsed_ok, linked_ok);
	assert_true(parsed_ok > 0 && linked_ok > 0);
}

/* --- export table --------------------------------------------------------- */

int exported_var = 42;
int exported_func(void);
int exported_func(void)
{
	return 7;
}
EXPORT_SYMBOL(exported_var);
EXPORT_SYMBOL(exported_func);

static void test_exports(void **state)
{
	const struct kernel_export tab[] = {
		{ "alpha", 0x1000 }, { NULL, 0x2000 }, { "beta", 0x3000 }, { "alpha", 0x4000 },
	};
	const struct kernel_export *e;

	e = export_lookup(tab, tab + 4, "beta");
	assert_ptr_equal(e, &tab[2]);
	assert_ptr_equal(export_lookup(tab, tab + 4, "alpha"), &tab[0]);	/* first one */
	assert_null(export_lookup(tab, tab + 4, "gamma"));
	assert_null(export_lookup(tab, tab + 4, "alph"));
	assert_null(export_lookup(tab, tab, "alpha"));

	/* what EXPORT_SYMBOL emits */
	assert_string_equal(__export_exported_var.name, "exported_var");
	assert_int_equal(__export_exported_var.addr, (uintptr_t)&exported_var);
	assert_string_equal(__export_exported_func.name, "exported_func");
	assert_int_equal(__export_exported_func.addr, (uintptr_t)exported_func);
	assert_int_equal(sizeof(struct kernel_export), 16);
}

int main(int argc, char **argv)
{
	const char *dir = getenv("ELF_MOD_DIR");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_matches_ld),
		cmocka_unit_test(test_layout),
		cmocka_unit_test(test_symbol_before_link),
		cmocka_unit_test(test_link_checks_args),
		cmocka_unit_test(test_pcrel_ranges),
		cmocka_unit_test(test_hi20_ranges),
		cmocka_unit_test(test_data_ranges),
		cmocka_unit_test(test_pcrel_lo),
		cmocka_unit_test(test_bad_relocations),
		cmocka_unit_test(test_empty_regions),
		cmocka_unit_test(test_rejected_fixtures),
		cmocka_unit_test(test_unresolved),
		cmocka_unit_test(test_damaged_headers),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_fuzz),
		cmocka_unit_test(test_exports),
	};
	char self[4096];

	if (dir) {
		snprintf(fixture_dir, sizeof(fixture_dir), "%s", dir);
	} else {
		snprintf(self, sizeof(self), "%s", argv[0]);
		snprintf(fixture_dir, sizeof(fixture_dir), "%s/elf_mod", dirname(self));
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
