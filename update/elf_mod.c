/*
 * Update-module loader, pure core: validate an ELF64 RISC-V relocatable
 * object, lay out its loadable sections, copy and relocate them (see
 * kernel/elf_mod.h for the layout and the relaxation policy).
 *
 * No locking and no allocation: the caller owns struct elf_mod and the
 * buffers. No CSR access, so the host unit tests run it against GNU ld.
 *
 * The object comes from a signed pack, but it is still parsed as hostile
 * input: a bad signing key or a toolchain bug must not become memory
 * corruption in the kernel. Every header, table and string is bounds-checked
 * with overflow-safe arithmetic before use, and every structure is read with
 * memcpy, since the image may sit at any alignment inside the pack.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <kernel/elf_mod.h>
#include <kernel/errno.h>

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
	       "ELF structures are read in place: needs a little-endian host");

/* --- ELF64 definitions (picolibc has no <elf.h>) ------------------------- */

struct elf64_ehdr {
	uint8_t e_ident[16];
	uint16_t e_type, e_machine;
	uint32_t e_version;
	uint64_t e_entry, e_phoff, e_shoff;
	uint32_t e_flags;
	uint16_t e_ehsize, e_phentsize, e_phnum, e_shentsize, e_shnum, e_shstrndx;
};

struct elf64_shdr {
	uint32_t sh_name, sh_type;
	uint64_t sh_flags, sh_addr, sh_offset, sh_size;
	uint32_t sh_link, sh_info;
	uint64_t sh_addralign, sh_entsize;
};

struct elf64_sym {
	uint32_t st_name;
	uint8_t st_info, st_other;
	uint16_t st_shndx;
	uint64_t st_value, st_size;
};

struct elf64_rela {
	uint64_t r_offset, r_info;
	int64_t r_addend;
};

_Static_assert(sizeof(struct elf64_ehdr) == 64 && sizeof(struct elf64_shdr) == 64 &&
	       sizeof(struct elf64_sym) == 24 && sizeof(struct elf64_rela) == 24,
	       "ELF64 structure sizes");

enum { ET_REL = 1, EM_RISCV = 243, EF_RISCV_FLOAT_ABI = 0x6, EF_RISCV_RVE = 0x8 };
enum {
	SHT_PROGBITS = 1, SHT_SYMTAB = 2, SHT_STRTAB = 3, SHT_RELA = 4,
	SHT_NOBITS = 8, SHT_REL = 9, SHT_SYMTAB_SHNDX = 18,
};
enum {
	SHF_WRITE = 0x1, SHF_ALLOC = 0x2, SHF_EXECINSTR = 0x4, SHF_MERGE = 0x10,
	SHF_STRINGS = 0x20, SHF_INFO_LINK = 0x40, SHF_LINK_ORDER = 0x80,
	SHF_GROUP = 0x200, SHF_TLS = 0x400,
	/* what a loaded section may carry; anything else needs handling we lack */
	SHF_LOADABLE = SHF_WRITE | SHF_ALLOC | SHF_EXECINSTR | SHF_MERGE |
		       SHF_STRINGS | SHF_INFO_LINK | SHF_LINK_ORDER | SHF_GROUP,
};
enum { SHN_UNDEF = 0, SHN_LORESERVE = 0xff00, SHN_ABS = 0xfff1, SHN_COMMON = 0xfff2 };
enum { STB_LOCAL = 0, STB_GLOBAL = 1, STB_WEAK = 2 };
enum { STT_SECTION = 3, STT_TLS = 6, STT_GNU_IFUNC = 10 };

/* Relocation types (RISC-V psABI). */
enum {
	R_NONE = 0, R_32 = 1, R_64 = 2, R_BRANCH = 16, R_JAL = 17,
	R_CALL = 18, R_CALL_PLT = 19, R_PCREL_HI20 = 23,
	R_PCREL_LO12_I = 24, R_PCREL_LO12_S = 25, R_HI20 = 26,
	R_LO12_I = 27, R_LO12_S = 28, R_ADD8 = 33, R_ADD16 = 34,
	R_ADD32 = 35, R_ADD64 = 36, R_SUB8 = 37, R_SUB16 = 38, R_SUB32 = 39,
	R_SUB64 = 40, R_ALIGN = 43, R_RVC_BRANCH = 44, R_RVC_JUMP = 45,
	R_RELAX = 51, R_SUB6 = 52, R_SET6 = 53, R_SET8 = 54, R_SET16 = 55,
	R_SET32 = 56, R_32_PCREL = 57, R_MAX = 58
};

/* Name and patched width in bytes of each supported type. */
#define RT(t, w) [R_##t] = { "R_RISCV_" #t, w }
static const struct {
	const char *name;
	uint8_t width;
} rtypes[R_MAX] = {
	RT(NONE, 0), RT(32, 4), RT(64, 8), RT(BRANCH, 4), RT(JAL, 4), RT(CALL, 8),
	RT(CALL_PLT, 8), RT(PCREL_HI20, 4), RT(PCREL_LO12_I, 4), RT(PCREL_LO12_S, 4),
	RT(HI20, 4), RT(LO12_I, 4), RT(LO12_S, 4), RT(ADD8, 1), RT(ADD16, 2),
	RT(ADD32, 4), RT(ADD64, 8), RT(SUB8, 1), RT(SUB16, 2), RT(SUB32, 4),
	RT(SUB64, 8), RT(ALIGN, 0), RT(RVC_BRANCH, 2), RT(RVC_JUMP, 2), RT(RELAX, 0),
	RT(SUB6, 1), RT(SET6, 1), RT(SET8, 1), RT(SET16, 2), RT(SET32, 4),
	RT(32_PCREL, 4),
};

/* --- small helpers ------------------------------------------------------- */

static void set_err(struct elf_mod *m, char *err, size_t errlen)
{
	m->err = err;
	m->errlen = errlen;
	if (err && errlen)
		err[0] = 0;
}

/* Returns @code, with the reason in the caller's buffer. */
static int __attribute__((format(printf, 3, 4)))
fail(const struct elf_mod *m, int code, const char *fmt, ...)
{
	va_list ap;

	if (m->err && m->errlen) {
		va_start(ap, fmt);
		vsnprintf(m->err, m->errlen, fmt, ap);
		va_end(ap);
	}
	return code;
}

/* [off, off + len) lies inside a buffer of @size bytes, without overflow. */
static bool in_bounds(uint64_t off, uint64_t len, uint64_t size)
{
	return off <= size && len <= size - off;
}

/* Signed @v fits in a two's complement field of @bits bits. */
static bool fits(uint64_t v, unsigned int bits)
{
	int64_t s = (int64_t)v, lim = (int64_t)1 << (bits - 1);

	return s >= -lim && s < lim;
}

static uint64_t get_le(const uint8_t *p, unsigned int n)
{
	uint64_t v = 0;

	while (n--)
		v = (v << 8) | p[n];
	return v;
}

static void put_le(uint8_t *p, unsigned int n, uint64_t v)
{
	for (unsigned int i = 0; i < n; i++, v >>= 8)
		p[i] = (uint8_t)v;
}

static struct elf64_shdr shdr(const struct elf_mod *m, unsigned int i)
{
	struct elf64_shdr sh;

	memcpy(&sh, m->elf + m->shoff + (size_t)i * sizeof(sh), sizeof(sh));
	return sh;
}

static struct elf64_sym sym(const struct elf_mod *m, size_t i)
{
	struct elf64_sym s;

	memcpy(&s, m->elf + shdr(m, m->symtab).sh_offset + i * sizeof(s), sizeof(s));
	return s;
}

/* String @idx of string-table section @sec, or NULL if not terminated. */
static const char *str_at(const struct elf_mod *m, unsigned int sec, uint64_t idx)
{
	struct elf64_shdr sh = shdr(m, sec);
	const char *s;

	if (idx >= sh.sh_size)
		return NULL;
	s = (const char *)m->elf + sh.sh_offset + idx;
	return memchr(s, 0, sh.sh_size - idx) ? s : NULL;
}

/* Only called once the section names have been validated. */
static const char *sec_name(const struct elf_mod *m, unsigned int i)
{
	const char *s = str_at(m, m->shstrndx, shdr(m, i).sh_name);

	return s ? s : "?";
}

static const char *sym_name(const struct elf_mod *m, const struct elf64_sym *s)
{
	const char *n = str_at(m, m->strtab, s->st_name);

	return n ? n : "?";
}

static bool sec_loaded(const struct elf_mod *m, unsigned int i)
{
	return i < m->shnum && m->sec_off[i] != ELF_MOD_UNLOADED;
}

/* --- parsing: headers and section table ---------------------------------- */

static int parse_ehdr(struct elf_mod *m)
{
	static const uint8_t ident[7] = { 0x7f, 'E', 'L', 'F', 2, 1, 1 };
	struct elf64_ehdr eh;

	if (m->size < sizeof(eh))
		return fail(m, -KE_INVAL, "file too short for an ELF header");
	memcpy(&eh, m->elf, sizeof(eh));
	if (memcmp(eh.e_ident, ident, 4))
		return fail(m, -KE_INVAL, "not an ELF file");
	if (eh.e_ident[4] != ident[4])
		return fail(m, -KE_INVAL, "ELF class %u is not ELFCLASS64", eh.e_ident[4]);
	if (eh.e_ident[5] != ident[5])
		return fail(m, -KE_INVAL, "ELF data %u is not little-endian", eh.e_ident[5]);
	if (eh.e_ident[6] != ident[6] || eh.e_version != 1)
		return fail(m, -KE_INVAL, "unknown ELF version");
	if (eh.e_machine != EM_RISCV)
		return fail(m, -KE_INVAL, "machine %u is not RISC-V", eh.e_machine);
	if (eh.e_type != ET_REL)
		return fail(m, -KE_INVAL, "ELF type %u is not a relocatable object", eh.e_type);
	if (eh.e_flags & (EF_RISCV_FLOAT_ABI | EF_RISCV_RVE))
		return fail(m, -KE_INVAL, "e_flags 0x%x: not the kernel's lp64 soft-float ABI",
			    (unsigned int)eh.e_flags);
	if (eh.e_shentsize != sizeof(struct elf64_shdr))
		return fail(m, -KE_INVAL, "bad e_shentsize %u", eh.e_shentsize);
	if (eh.e_shnum == 0 || eh.e_shnum > ELF_MOD_MAX_SECTIONS)
		return fail(m, -KE_RANGE, "%u sections (1..%u supported)", eh.e_shnum,
			    ELF_MOD_MAX_SECTIONS);
	if (eh.e_shstrndx == SHN_UNDEF || eh.e_shstrndx >= eh.e_shnum)
		return fail(m, -KE_INVAL, "bad e_shstrndx %u", eh.e_shstrndx);
	if (!in_bounds(eh.e_shoff, (uint64_t)eh.e_shnum * sizeof(struct elf64_shdr), m->size))
		return fail(m, -KE_INVAL, "section table extends past end of file");
	m->shoff = eh.e_shoff;
	m->shnum = eh.e_shnum;
	m->shstrndx = eh.e_shstrndx;
	return 0;
}

/* Every section's bytes are in the file; names come from a sane table. */
static int check_sections(struct elf_mod *m)
{
	struct elf64_shdr sh = shdr(m, m->shstrndx);
	unsigned int i;

	if (sh.sh_type != SHT_STRTAB || !in_bounds(sh.sh_offset, sh.sh_size, m->size))
		return fail(m, -KE_INVAL, "bad section name table");
	for (i = 1; i < m->shnum; i++) {
		sh = shdr(m, i);
		if (!str_at(m, m->shstrndx, sh.sh_name))
			return fail(m, -KE_INVAL, "section %u has a bad name", i);
		if (sh.sh_type != SHT_NOBITS && !in_bounds(sh.sh_offset, sh.sh_size, m->size))
			return fail(m, -KE_INVAL,
				    "section %u (%s) extends past end of file", i, sec_name(m, i));
		if (sh.sh_type == SHT_SYMTAB_SHNDX)
			return fail(m, -KE_NOTSUP, "extended section indices not supported");
		if (sh.sh_type != SHT_SYMTAB)
			continue;
		if (m->symtab)
			return fail(m, -KE_INVAL, "more than one symbol table");
		m->symtab = i;
	}
	if (!m->symtab)
		return fail(m, -KE_INVAL, "no symbol table");
	return 0;
}

/* --- parsing: layout ------------------------------------------------------ */

enum region { REG_NONE, REG_TEXT, REG_DATA };

/* Which region section @i goes to; errors for what we cannot load. */
static int classify(const struct elf_mod *m, unsigned int i, enum region *r)
{
	struct elf64_shdr sh = shdr(m, i);
	const char *name = sec_name(m, i);

	*r = REG_NONE;
	if (!(sh.sh_flags & SHF_ALLOC) || strcmp(name, ".eh_frame") == 0)
		return 0;
	if (sh.sh_flags & SHF_TLS)
		return fail(m, -KE_NOTSUP, "section %u (%s) is thread-local: not supported",
			    i, name);
	if (sh.sh_type != SHT_PROGBITS && sh.sh_type != SHT_NOBITS)
		return fail(m, -KE_NOTSUP,
			    "section %u (%s) has unsupported type %u", i, name, sh.sh_type);
	if (sh.sh_flags & ~(uint64_t)SHF_LOADABLE)
		return fail(m, -KE_NOTSUP, "section %u (%s) has unsupported flags 0x%lx",
			    i, name, (unsigned long)sh.sh_flags);
	if ((sh.sh_flags & SHF_WRITE) && (sh.sh_flags & SHF_EXECINSTR))
		return fail(m, -KE_NOTSUP, "section %u (%s) is writable and executable", i, name);
	if (sh.sh_addralign & (sh.sh_addralign - 1))
		return fail(m, -KE_INVAL,
			    "section %u (%s) alignment %lu is not a power of two",
			    i, name, (unsigned long)sh.sh_addralign);
	if (sh.sh_addralign > ELF_MOD_MAX_ALIGN)
		return fail(m, -KE_NOTSUP, "section %u (%s) alignment %lu exceeds %u",
			    i, name, (unsigned long)sh.sh_addralign, ELF_MOD_MAX_ALIGN);
	*r = (sh.sh_flags & SHF_WRITE) ? REG_DATA : REG_TEXT;
	return 0;
}

/* Appends section @i to a region of current @size and @align. */
static int place(struct elf_mod *m, unsigned int i, size_t *size, size_t *align)
{
	struct elf64_shdr sh = shdr(m, i);
	uint64_t a, off;

	a = sh.sh_addralign > 1 ? sh.sh_addralign : 1;
	off = (*size + a - 1) & ~(a - 1);
	if (!in_bounds(off, sh.sh_size, ELF_MOD_MAX_REGION))
		return fail(m, -KE_RANGE, "section %u (%s) makes the module larger than %u bytes",
			    i, sec_name(m, i), ELF_MOD_MAX_REGION);
	m->sec_off[i] = (uint32_t)off;
	*size = off + sh.sh_size;
	if (a > *align)
		*align = a;
	return 0;
}

/*
 * Three passes, so that the order is that of the test's linker script:
 * code, then read-only data (both R+X), then writable data.
 */
static int layout(struct elf_mod *m)
{
	static const struct { enum region r; bool exec; } pass[3] = {
		{ REG_TEXT, true }, { REG_TEXT, false }, { REG_DATA, false },
	};
	enum region r;
	unsigned int i, p;
	int ret;

	for (i = 0; i < ELF_MOD_MAX_SECTIONS; i++)
		m->sec_off[i] = ELF_MOD_UNLOADED;
	m->text_align = m->data_align = 1;
	for (p = 0; p < 3; p++) {
		for (i = 1; i < m->shnum; i++) {
			ret = classify(m, i, &r);
			if (ret)
				return ret;
			if (r != pass[p].r ||
			    (r == REG_TEXT && !!(shdr(m, i).sh_flags & SHF_EXECINSTR) != pass[p].exec))
				continue;
			ret = r == REG_TEXT ? place(m, i, &m->text_size, &m->text_align)
					    : place(m, i, &m->data_size, &m->data_align);
			if (ret)
				return ret;
		}
	}
	return 0;
}

/* --- parsing: symbols and relocation tables ------------------------------ */

static int check_sym(const struct elf_mod *m, size_t i)
{
	struct elf64_sym s = sym(m, i);
	const char *name = str_at(m, m->strtab, s.st_name);
	unsigned int bind = s.st_info >> 4, type = s.st_info & 0xf;

	if (!name)
		return fail(m, -KE_INVAL, "symbol %zu has a bad name", i);
	if ((i < m->nlocal) != (bind == STB_LOCAL))
		return fail(m, -KE_INVAL, "symbol %zu ('%s') out of binding order", i, name);
	if (bind != STB_LOCAL && bind != STB_GLOBAL && bind != STB_WEAK)
		return fail(m, -KE_NOTSUP, "symbol '%s' has unsupported binding %u", name, bind);
	if (type == STT_TLS)
		return fail(m, -KE_NOTSUP, "symbol '%s' is thread-local: not supported", name);
	if (type == STT_GNU_IFUNC)
		return fail(m, -KE_NOTSUP, "symbol '%s' is an IFUNC: not supported", name);
	if (s.st_shndx == SHN_COMMON)
		return fail(m, -KE_NOTSUP,
			    "symbol '%s' is COMMON: build the module with -fno-common", name);
	if (s.st_shndx == SHN_UNDEF)
		return bind == STB_LOCAL ? fail(m, -KE_INVAL,
						"local symbol %zu is undefined", i) : 0;
	if (s.st_shndx == SHN_ABS)
		return 0;
	if (s.st_shndx >= SHN_LORESERVE || s.st_shndx >= m->shnum)
		return fail(m, -KE_INVAL, "symbol '%s' has bad section index %u", name, s.st_shndx);
	if (sec_loaded(m, s.st_shndx) && s.st_value > shdr(m, s.st_shndx).sh_size)
		return fail(m, -KE_INVAL, "symbol '%s' lies outside section %u (%s)",
			    name, s.st_shndx, sec_name(m, s.st_shndx));
	return 0;
}

static int check_symtab(struct elf_mod *m)
{
	struct elf64_shdr sh = shdr(m, m->symtab);
	size_t i;
	int ret;

	if (sh.sh_entsize != sizeof(struct elf64_sym) || sh.sh_size % sizeof(struct elf64_sym))
		return fail(m, -KE_INVAL, "bad symbol table entry size");
	if (sh.sh_link == 0 || sh.sh_link >= m->shnum)
		return fail(m, -KE_INVAL, "symbol table has no string table");
	if (shdr(m, sh.sh_link).sh_type != SHT_STRTAB)
		return fail(m, -KE_INVAL, "symbol string table is not SHT_STRTAB");
	m->strtab = sh.sh_link;
	m->nsyms = sh.sh_size / sizeof(struct elf64_sym);
	m->nlocal = sh.sh_info;
	if (m->nsyms == 0 || m->nlocal == 0 || m->nlocal > m->nsyms)
		return fail(m, -KE_INVAL, "bad symbol table sh_info %u", sh.sh_info);
	for (i = 1; i < m->nsyms; i++) {
		ret = check_sym(m, i);
		if (ret)
			return ret;
	}
	return 0;
}

static int check_rela(const struct elf_mod *m, unsigned int i)
{
	struct elf64_shdr sh = shdr(m, i);
	struct elf64_rela r;
	size_t k, n;

	if (sh.sh_link != m->symtab)
		return fail(m, -KE_INVAL, "section %u (%s) does not use the symbol table",
			    i, sec_name(m, i));
	if (sh.sh_info == 0 || sh.sh_info >= m->shnum)
		return fail(m, -KE_INVAL, "section %u (%s) relocates bad section %u",
			    i, sec_name(m, i), sh.sh_info);
	if (sh.sh_entsize != sizeof(r) || sh.sh_size % sizeof(r))
		return fail(m, -KE_INVAL, "section %u (%s) has bad entry size", i, sec_name(m, i));
	if (sec_loaded(m, sh.sh_info) && shdr(m, sh.sh_info).sh_type == SHT_NOBITS && sh.sh_size)
		return fail(m, -KE_INVAL, "section %u (%s) relocates NOBITS section",
			    i, sec_name(m, i));
	n = sh.sh_size / sizeof(r);
	for (k = 0; k < n; k++) {
		memcpy(&r, m->elf + sh.sh_offset + k * sizeof(r), sizeof(r));
		if ((r.r_info >> 32) >= m->nsyms)
			return fail(m, -KE_INVAL, "relocation %zu in %s: bad symbol %lu",
				    k, sec_name(m, i), (unsigned long)(r.r_info >> 32));
	}
	return 0;
}

static int check_relocs(const struct elf_mod *m)
{
	struct elf64_shdr sh;
	unsigned int i;
	int ret = 0;

	for (i = 1; !ret && i < m->shnum; i++) {
		sh = shdr(m, i);
		if (sh.sh_type == SHT_REL && sh.sh_info < m->shnum && sec_loaded(m, sh.sh_info))
			return fail(m, -KE_NOTSUP, "section %u (%s): REL relocations not supported",
				    i, sec_name(m, i));
		if (sh.sh_type == SHT_RELA)
			ret = check_rela(m, i);
	}
	return ret;
}

int elf_mod_parse(const void *elf, size_t size, struct elf_mod *m,
		  char *err, size_t errlen)
{
	int ret;

	memset(m, 0, sizeof(*m));
	m->elf = elf;
	m->size = size;
	set_err(m, err, errlen);
	if (!elf)
		return fail(m, -KE_INVAL, "no object");
	ret = parse_ehdr(m);
	if (!ret)
		ret = check_sections(m);
	if (!ret)
		ret = layout(m);
	if (!ret)
		ret = check_symtab(m);
	if (!ret)
		ret = check_relocs(m);
	if (ret)
		m->shnum = 0;	/* unusable: elf_mod_link() refuses it */
	return ret;
}

/* --- linking -------------------------------------------------------------- */

struct link {
	struct elf_mod *m;
	uint8_t *buf[2];	/* [0] text, [1] data */
	uint64_t base[2];
	elf_mod_resolve_t resolve;
	void *ctx;
};

/* One relocation being applied, for lookups and messages. */
struct reloc {
	unsigned int rsec, tsec;	/* rela section, section it patches */
	size_t k;			/* index in rsec */
	struct elf64_rela r;
	unsigned int type;
	uint8_t *loc;			/* where it patches, in the buffer */
	uint64_t pc;			/* and at run time */
};

static int region_of(const struct elf_mod *m, unsigned int i)
{
	return (shdr(m, i).sh_flags & SHF_WRITE) ? 1 : 0;
}

static uint64_t sec_addr(const struct link *l, unsigned int i)
{
	return l->base[region_of(l->m, i)] + l->m->sec_off[i];
}

static int rfail(const struct link *l, const struct reloc *rl, int code, const char *what)
{
	return fail(l->m, code, "%s %s at %s+0x%lx", rtypes[rl->type].name, what,
		    sec_name(l->m, rl->tsec), (unsigned long)rl->r.r_offset);
}

/* Run-time value of symbol @idx (S in the psABI formulas). */
static int sym_value(const struct link *l, size_t idx, uint64_t *v)
{
	const struct elf_mod *m = l->m;
	struct elf64_sym s = sym(m, idx);

	if (idx == 0) {
		*v = 0;
	} else if (s.st_shndx == SHN_UNDEF) {
		if (l->resolve(l->ctx, sym_name(m, &s), v))
			return fail(l->m, -KE_NOENT, "unresolved symbol '%s'", sym_name(m, &s));
	} else if (s.st_shndx == SHN_ABS) {
		*v = s.st_value;
	} else if (sec_loaded(m, s.st_shndx)) {
		*v = sec_addr(l, s.st_shndx) + s.st_value;
	} else if ((s.st_info & 0xf) == STT_SECTION) {
		return fail(l->m, -KE_INVAL, "reference to section %s, which is not loaded",
			    sec_name(m, s.st_shndx));
	} else {
		return fail(l->m, -KE_INVAL, "symbol '%s' is in section %s, which is not loaded",
			    sym_name(m, &s), sec_name(m, s.st_shndx));
	}
	return 0;
}

/* Every undefined symbol resolves: report a missing one before anything else. */
static int resolve_all(const struct link *l)
{
	uint64_t v;
	size_t i;
	int ret;

	for (i = l->m->nlocal; i < l->m->nsyms; i++) {
		ret = sym(l->m, i).st_shndx == SHN_UNDEF ? sym_value(l, i, &v) : 0;
		if (ret)
			return ret;
	}
	return 0;
}

static void copy_sections(const struct link *l)
{
	const struct elf_mod *m = l->m;
	struct elf64_shdr sh;
	unsigned int i;

	if (m->text_size)
		memset(l->buf[0], 0, m->text_size);
	if (m->data_size)
		memset(l->buf[1], 0, m->data_size);
	for (i = 1; i < m->shnum; i++) {
		if (!sec_loaded(m, i))
			continue;
		sh = shdr(m, i);
		if (sh.sh_type != SHT_NOBITS)
			memcpy(l->buf[region_of(m, i)] + m->sec_off[i], m->elf + sh.sh_offset,
			       sh.sh_size);
	}
}

/*
 * The value a %pcrel_lo uses is that of the %pcrel_hi on the AUIPC its
 * symbol labels (psABI): find that R_RISCV_PCREL_HI20 among the
 * relocations of the label's section, nearest to this one first (gas emits
 * it just before), and compute its S + A - P.
 */
static int pcrel_hi(const struct link *l, const struct reloc *rl, uint64_t *hi)
{
	const struct elf_mod *m = l->m;
	struct elf64_sym s = sym(m, rl->r.r_info >> 32);
	struct elf64_shdr sh;
	struct elf64_rela h;
	unsigned int rs;
	size_t n, j, d;
	uint64_t S;
	int ret;

	/* As in ld: the label's value alone locates the AUIPC, so a section
	 * symbol plus an addend would be ambiguous. */
	if (!sec_loaded(m, s.st_shndx) ||
	    ((s.st_info & 0xf) == STT_SECTION && rl->r.r_addend))
		return rfail(l, rl, -KE_INVAL, "does not name an AUIPC label");
	for (rs = 1; rs < m->shnum; rs++) {
		sh = shdr(m, rs);
		if (sh.sh_type != SHT_RELA || sh.sh_info != s.st_shndx)
			continue;
		n = sh.sh_size / sizeof(h);
		/* d walks outwards from rl->k: k-1, k+1, k-2, ... */
		for (d = 1; d <= 2 * n; d++) {
			j = rs == rl->rsec ? (d & 1 ? rl->k - (d + 1) / 2 : rl->k + d / 2)
					   : d - 1;
			if (j >= n)
				continue;
			memcpy(&h, m->elf + sh.sh_offset + j * sizeof(h), sizeof(h));
			if ((uint32_t)h.r_info != R_PCREL_HI20 || h.r_offset != s.st_value)
				continue;
			ret = sym_value(l, h.r_info >> 32, &S);
			if (ret)
				return ret;
			*hi = S + (uint64_t)h.r_addend - (sec_addr(l, s.st_shndx) + s.st_value);
			return 0;
		}
	}
	return rfail(l, rl, -KE_INVAL, "has no matching R_RISCV_PCREL_HI20");
}

/* The alignment gas asked for is already there (see elf_mod.h). */
static int check_align(const struct link *l, const struct reloc *rl, uint64_t tsize)
{
	uint64_t n = (uint64_t)rl->r.r_addend, a = 1;

	if (!in_bounds(rl->r.r_offset, n, tsize))
		return rfail(l, rl, -KE_INVAL, "outside its section");
	while (a <= n)
		a <<= 1;
	if ((rl->pc + n) & (a - 1))
		return rfail(l, rl, -KE_NOTSUP, "needs linker relaxation (build with -mno-relax)");
	return 0;
}

/* Instruction immediate fields (ISA manual, base and C formats) for @v. */
static uint32_t imm_i(uint64_t v) { return (uint32_t)(v & 0xfff) << 20; }
static uint32_t imm_s(uint64_t v) { return (uint32_t)((v & 0x1f) << 7 | (v >> 5 & 0x7f) << 25); }
static uint32_t imm_u(uint64_t v) { return (uint32_t)((v + 0x800) & 0xfffff000); }

static uint32_t imm_b(uint64_t v)
{
	return (uint32_t)((v >> 1 & 0xf) << 8 | (v >> 5 & 0x3f) << 25 | (v >> 11 & 1) << 7 |
			  (v >> 12 & 1) << 31);
}

static uint32_t imm_j(uint64_t v)
{
	return (uint32_t)((v >> 1 & 0x3ff) << 21 | (v >> 11 & 1) << 20 | (v >> 12 & 0xff) << 12 |
			  (v >> 20 & 1) << 31);
}

static uint32_t imm_cb(uint64_t v)
{
	return (uint32_t)((v >> 1 & 3) << 3 | (v >> 3 & 3) << 10 | (v >> 5 & 1) << 2 |
			  (v >> 6 & 3) << 5 | (v >> 8 & 1) << 12);
}

static uint32_t imm_cj(uint64_t v)
{
	return (uint32_t)((v >> 1 & 7) << 3 | (v >> 4 & 1) << 11 | (v >> 5 & 1) << 2 |
			  (v >> 6 & 1) << 7 | (v >> 7 & 1) << 6 | (v >> 8 & 3) << 9 |
			  (v >> 10 & 1) << 8 | (v >> 11 & 1) << 12);
}

#define MASK_I	0xfff00000u
#define MASK_S	0xfe000f80u
#define MASK_U	0xfffff000u
#define MASK_CB	0x1c7cu
#define MASK_CJ	0x1ffcu

static void patch(uint8_t *loc, unsigned int width, uint32_t mask, uint32_t bits)
{
	put_le(loc, width, (get_le(loc, width) & ~mask) | (bits & mask));
}

/* A PC-relative jump or branch: even and within @bits bits signed. */
static int put_pcrel(const struct link *l, const struct reloc *rl, uint64_t v,
		     unsigned int bits, unsigned int width, uint32_t mask, uint32_t field)
{
	if ((v & 1) || !fits(v, bits))
		return rfail(l, rl, -KE_RANGE, "out of range");
	patch(rl->loc, width, mask, field);
	return 0;
}

/* A LUI/AUIPC immediate: v + 0x800 within 32 bits signed (RV64). */
static int put_hi20(const struct link *l, const struct reloc *rl, uint64_t v)
{
	if (!fits(v + 0x800, 32))
		return rfail(l, rl, -KE_RANGE, "out of range");
	patch(rl->loc, 4, MASK_U, imm_u(v));
	return 0;
}

static int put_lo12(const struct link *l, const struct reloc *rl, uint64_t hi)
{
	uint64_t v = hi + (uint64_t)rl->r.r_addend;

	/* An addend that carries into the high part would need another AUIPC. */
	if (((hi + 0x800) ^ (v + 0x800)) & ~(uint64_t)0xfff)
		return rfail(l, rl, -KE_RANGE, "out of range");
	if (rl->type == R_PCREL_LO12_I)
		patch(rl->loc, 4, MASK_I, imm_i(v));
	else
		patch(rl->loc, 4, MASK_S, imm_s(v));
	return 0;
}

/* Label arithmetic (ADD/SUB/SET): modular by design, no range check. */
static void put_data(const struct reloc *rl, uint64_t v)
{
	unsigned int w = rtypes[rl->type].width;
	uint64_t old = get_le(rl->loc, w);

	switch (rl->type) {
	case R_ADD8: case R_ADD16: case R_ADD32: case R_ADD64:
		v = old + v;
		break;
	case R_SUB8: case R_SUB16: case R_SUB32: case R_SUB64:
		v = old - v;
		break;
	case R_SUB6:
		v = (old & 0xc0) | ((old - v) & 0x3f);
		break;
	case R_SET6:
		v = (old & 0xc0) | (v & 0x3f);
		break;
	}
	put_le(rl->loc, w, v);
}

static int apply_value(const struct link *l, const struct reloc *rl, uint64_t S)
{
	uint64_t A = (uint64_t)rl->r.r_addend, v = S + A, pv = v - rl->pc, hi = 0;
	int ret;

	switch (rl->type) {
	case R_32:
		if (!fits(v, 33) || (int64_t)v < INT32_MIN)	/* int32 or uint32 */
			return rfail(l, rl, -KE_RANGE, "out of range");
		put_le(rl->loc, 4, v);
		return 0;
	case R_64:
		put_le(rl->loc, 8, v);
		return 0;
	case R_32_PCREL:
		if (!fits(pv, 32))
			return rfail(l, rl, -KE_RANGE, "out of range");
		put_le(rl->loc, 4, pv);
		return 0;
	case R_BRANCH:
		return put_pcrel(l, rl, pv, 13, 4, MASK_S, imm_b(pv));
	case R_JAL:
		return put_pcrel(l, rl, pv, 21, 4, MASK_U, imm_j(pv));
	case R_RVC_BRANCH:
		return put_pcrel(l, rl, pv, 9, 2, MASK_CB, imm_cb(pv));
	case R_RVC_JUMP:
		return put_pcrel(l, rl, pv, 12, 2, MASK_CJ, imm_cj(pv));
	case R_CALL: case R_CALL_PLT:
		if (put_hi20(l, rl, pv))
			return -KE_RANGE;
		patch(rl->loc + 4, 4, MASK_I, imm_i(pv));
		return 0;
	case R_PCREL_HI20:
		return put_hi20(l, rl, pv);
	case R_HI20:
		return put_hi20(l, rl, v);
	case R_LO12_I:
		patch(rl->loc, 4, MASK_I, imm_i(v));
		return 0;
	case R_LO12_S:
		patch(rl->loc, 4, MASK_S, imm_s(v));
		return 0;
	case R_PCREL_LO12_I: case R_PCREL_LO12_S:
		ret = pcrel_hi(l, rl, &hi);
		return ret ? ret : put_lo12(l, rl, hi);
	default:
		put_data(rl, v);
		return 0;
	}
}

static int apply_one(const struct link *l, struct reloc *rl, const struct elf64_shdr *tsh)
{
	uint64_t S;
	int ret;

	rl->type = (uint32_t)rl->r.r_info;
	if (rl->type >= R_MAX || !rtypes[rl->type].name)
		return fail(l->m, -KE_NOTSUP, "unsupported relocation type %u at %s+0x%lx",
			    rl->type, sec_name(l->m, rl->tsec), (unsigned long)rl->r.r_offset);
	if (!in_bounds(rl->r.r_offset, rtypes[rl->type].width, tsh->sh_size))
		return rfail(l, rl, -KE_INVAL, "outside its section");
	rl->loc = l->buf[region_of(l->m, rl->tsec)] + l->m->sec_off[rl->tsec] + rl->r.r_offset;
	rl->pc = sec_addr(l, rl->tsec) + rl->r.r_offset;
	if (rl->type == R_NONE || rl->type == R_RELAX)
		return 0;
	if (rl->type == R_ALIGN)
		return check_align(l, rl, tsh->sh_size);
	ret = sym_value(l, rl->r.r_info >> 32, &S);
	return ret ? ret : apply_value(l, rl, S);
}

static int apply_section(const struct link *l, unsigned int rsec)
{
	const struct elf_mod *m = l->m;
	struct elf64_shdr sh = shdr(m, rsec), tsh;
	struct reloc rl = { .rsec = rsec, .tsec = sh.sh_info };
	size_t n;
	int ret;

	if (sh.sh_type != SHT_RELA || !sec_loaded(m, sh.sh_info))
		return 0;	/* debug info, .eh_frame, ...: not loaded */
	tsh = shdr(m, rl.tsec);
	n = sh.sh_size / sizeof(rl.r);
	for (rl.k = 0; rl.k < n; rl.k++) {
		memcpy(&rl.r, m->elf + sh.sh_offset + rl.k * sizeof(rl.r), sizeof(rl.r));
		ret = apply_one(l, &rl, &tsh);
		if (ret)
			return ret;
	}
	return 0;
}

int elf_mod_link(struct elf_mod *m, void *text, uint64_t text_addr,
		 void *data, uint64_t data_addr, elf_mod_resolve_t resolve,
		 void *ctx, char *err, size_t errlen)
{
	struct link l = { m, { text, data }, { text_addr, data_addr }, resolve, ctx };
	unsigned int i;
	int ret;

	m->linked = 0;
	set_err(m, err, errlen);
	if (!m->shnum || !resolve)
		return fail(m, -KE_INVAL, "module not parsed");
	if ((m->text_size && !text) || (m->data_size && !data))
		return fail(m, -KE_INVAL, "no buffer for a region");
	if ((text_addr & (m->text_align - 1)) || (data_addr & (m->data_align - 1)))
		return fail(m, -KE_INVAL, "region addresses not aligned to %zu/%zu",
			    m->text_align, m->data_align);
	copy_sections(&l);
	ret = resolve_all(&l);
	for (i = 1; !ret && i < m->shnum; i++)
		ret = apply_section(&l, i);
	if (ret)
		return ret;
	m->text_addr = text_addr;
	m->data_addr = data_addr;
	m->linked = 1;
	return 0;
}

int elf_mod_symbol(const struct elf_mod *m, const char *name, uint64_t *addr)
{
	struct elf64_sym s;
	size_t i;

	if (!m->linked)
		return -KE_INVAL;
	for (i = m->nlocal; i < m->nsyms; i++) {
		s = sym(m, i);
		if (s.st_shndx == SHN_UNDEF || strcmp(sym_name(m, &s), name))
			continue;
		if (s.st_shndx == SHN_ABS) {
			*addr = s.st_value;
			return 0;
		}
		if (!sec_loaded(m, s.st_shndx))
			continue;
		*addr = (region_of(m, s.st_shndx) ? m->data_addr : m->text_addr) +
			m->sec_off[s.st_shndx] + s.st_value;
		return 0;
	}
	return -KE_NOENT;
}
