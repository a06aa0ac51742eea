/*
 * Update-module loader, pure core, first half: validate an ELF64 RISC-V
 * relocatable object and lay out its loadable sections (see kernel/elf_mod.h
 * for the layout and the relaxation policy; elf_link.c copies and relocates).
 *
 * No locking and no allocation: the caller owns struct elf_mod and the
 * buffers. No CSR access, so the host unit tests run it against GNU ld.
 *
 * The object comes from a signed pack, but it is still parsed as hostile
 * input: a bad signing key or a toolchain bug must not become memory
 * corruption in the kernel. Every header, table and string is bounds-checked
 * with overflow-safe arithmetic before use, and every structure is read with
 * a copy (kmemcpy), since the image may sit at any alignment inside the pack.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <kernel/elf_mod.h>
#include <kernel/errno.h>
#include "elf_mod_priv.h"

/* Name and patched width in bytes of each supported type. */
#define RT(t, w) [R_##t] = { "R_RISCV_" #t, w }
const struct elf_mod_rtype elf_mod_rtypes[R_MAX] = {
	RT(NONE, 0), RT(32, 4), RT(64, 8), RT(BRANCH, 4), RT(JAL, 4), RT(CALL, 8),
	RT(CALL_PLT, 8), RT(PCREL_HI20, 4), RT(PCREL_LO12_I, 4), RT(PCREL_LO12_S, 4),
	RT(HI20, 4), RT(LO12_I, 4), RT(LO12_S, 4), RT(ADD8, 1), RT(ADD16, 2),
	RT(ADD32, 4), RT(ADD64, 8), RT(SUB8, 1), RT(SUB16, 2), RT(SUB32, 4),
	RT(SUB64, 8), RT(ALIGN, 0), RT(RVC_BRANCH, 2), RT(RVC_JUMP, 2), RT(RELAX, 0),
	RT(SUB6, 1), RT(SET6, 1), RT(SET8, 1), RT(SET16, 2), RT(SET32, 4),
	RT(32_PCREL, 4),
};

/* --- errors ---------------------------------------------------------------- */

void elf_mod_set_err(struct elf_mod *m, char *err, size_t errlen)
{
	m->err = err;
	m->errlen = errlen;
	if (err && errlen)
		err[0] = 0;
}

int elf_mod_fail(const struct elf_mod *m, int code, const char *fmt, ...)
{
	va_list ap;

	if (m->err && m->errlen) {
		va_start(ap, fmt);
		vsnprintf(m->err, m->errlen, fmt, ap);
		va_end(ap);
	}
	return code;
}

/* --- parsing: headers and section table ---------------------------------- */

static int parse_ehdr(struct elf_mod *m)
{
	static const uint8_t ident[7] = { 0x7f, 'E', 'L', 'F', 2, 1, 1 };
	struct elf64_ehdr eh;

	if (m->size < sizeof(eh))
		return elf_mod_fail(m, -KE_INVAL, "file too short for an ELF header");
	kmemcpy(&eh, m->elf, sizeof(eh));
	if (memcmp(eh.e_ident, ident, 4))
		return elf_mod_fail(m, -KE_INVAL, "not an ELF file");
	if (eh.e_ident[4] != ident[4])
		return elf_mod_fail(m, -KE_INVAL, "ELF class %u is not ELFCLASS64", eh.e_ident[4]);
	if (eh.e_ident[5] != ident[5])
		return elf_mod_fail(m, -KE_INVAL, "ELF data %u is not little-endian", eh.e_ident[5]);
	if (eh.e_ident[6] != ident[6] || eh.e_version != 1)
		return elf_mod_fail(m, -KE_INVAL, "unknown ELF version");
	if (eh.e_machine != EM_RISCV)
		return elf_mod_fail(m, -KE_INVAL, "machine %u is not RISC-V", eh.e_machine);
	if (eh.e_type != ET_REL)
		return elf_mod_fail(m, -KE_INVAL, "ELF type %u is not a relocatable object", eh.e_type);
	if (eh.e_flags & (EF_RISCV_FLOAT_ABI | EF_RISCV_RVE))
		return elf_mod_fail(m, -KE_INVAL, "e_flags 0x%x: not the kernel's lp64 soft-float ABI",
			    (unsigned int)eh.e_flags);
	if (eh.e_shentsize != sizeof(struct elf64_shdr))
		return elf_mod_fail(m, -KE_INVAL, "bad e_shentsize %u", eh.e_shentsize);
	if (eh.e_shnum == 0 || eh.e_shnum > ELF_MOD_MAX_SECTIONS)
		return elf_mod_fail(m, -KE_RANGE, "%u sections (1..%u supported)", eh.e_shnum,
			    ELF_MOD_MAX_SECTIONS);
	if (eh.e_shstrndx == SHN_UNDEF || eh.e_shstrndx >= eh.e_shnum)
		return elf_mod_fail(m, -KE_INVAL, "bad e_shstrndx %u", eh.e_shstrndx);
	if (!in_bounds(eh.e_shoff, (uint64_t)eh.e_shnum * sizeof(struct elf64_shdr), m->size))
		return elf_mod_fail(m, -KE_INVAL, "section table extends past end of file");
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
		return elf_mod_fail(m, -KE_INVAL, "bad section name table");
	for (i = 1; i < m->shnum; i++) {
		sh = shdr(m, i);
		if (!str_at(m, m->shstrndx, sh.sh_name))
			return elf_mod_fail(m, -KE_INVAL, "section %u has a bad name", i);
		if (sh.sh_type != SHT_NOBITS && !in_bounds(sh.sh_offset, sh.sh_size, m->size))
			return elf_mod_fail(m, -KE_INVAL,
				    "section %u (%s) extends past end of file", i, sec_name(m, i));
		if (sh.sh_type == SHT_SYMTAB_SHNDX)
			return elf_mod_fail(m, -KE_NOTSUP, "extended section indices not supported");
		if (sh.sh_type != SHT_SYMTAB)
			continue;
		if (m->symtab)
			return elf_mod_fail(m, -KE_INVAL, "more than one symbol table");
		m->symtab = i;
	}
	if (!m->symtab)
		return elf_mod_fail(m, -KE_INVAL, "no symbol table");
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
		return elf_mod_fail(m, -KE_NOTSUP, "section %u (%s) is thread-local: not supported",
			    i, name);
	if (sh.sh_type != SHT_PROGBITS && sh.sh_type != SHT_NOBITS)
		return elf_mod_fail(m, -KE_NOTSUP,
			    "section %u (%s) has unsupported type %u", i, name, sh.sh_type);
	if (sh.sh_flags & ~(uint64_t)SHF_LOADABLE)
		return elf_mod_fail(m, -KE_NOTSUP, "section %u (%s) has unsupported flags 0x%lx",
			    i, name, (unsigned long)sh.sh_flags);
	if ((sh.sh_flags & SHF_WRITE) && (sh.sh_flags & SHF_EXECINSTR))
		return elf_mod_fail(m, -KE_NOTSUP, "section %u (%s) is writable and executable", i, name);
	if (sh.sh_addralign & (sh.sh_addralign - 1))
		return elf_mod_fail(m, -KE_INVAL,
			    "section %u (%s) alignment %lu is not a power of two",
			    i, name, (unsigned long)sh.sh_addralign);
	if (sh.sh_addralign > ELF_MOD_MAX_ALIGN)
		return elf_mod_fail(m, -KE_NOTSUP, "section %u (%s) alignment %lu exceeds %u",
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
		return elf_mod_fail(m, -KE_RANGE, "section %u (%s) makes the module larger than %u bytes",
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
		return elf_mod_fail(m, -KE_INVAL, "symbol %zu has a bad name", i);
	if ((i < m->nlocal) != (bind == STB_LOCAL))
		return elf_mod_fail(m, -KE_INVAL, "symbol %zu ('%s') out of binding order", i, name);
	if (bind != STB_LOCAL && bind != STB_GLOBAL && bind != STB_WEAK)
		return elf_mod_fail(m, -KE_NOTSUP, "symbol '%s' has unsupported binding %u", name, bind);
	if (type == STT_TLS)
		return elf_mod_fail(m, -KE_NOTSUP, "symbol '%s' is thread-local: not supported", name);
	if (type == STT_GNU_IFUNC)
		return elf_mod_fail(m, -KE_NOTSUP, "symbol '%s' is an IFUNC: not supported", name);
	if (s.st_shndx == SHN_COMMON)
		return elf_mod_fail(m, -KE_NOTSUP,
			    "symbol '%s' is COMMON: build the module with -fno-common", name);
	if (s.st_shndx == SHN_UNDEF)
		return bind == STB_LOCAL ? elf_mod_fail(m, -KE_INVAL,
						"local symbol %zu is undefined", i) : 0;
	if (s.st_shndx == SHN_ABS)
		return 0;
	if (s.st_shndx >= SHN_LORESERVE || s.st_shndx >= m->shnum)
		return elf_mod_fail(m, -KE_INVAL, "symbol '%s' has bad section index %u", name, s.st_shndx);
	if (sec_loaded(m, s.st_shndx) && s.st_value > shdr(m, s.st_shndx).sh_size)
		return elf_mod_fail(m, -KE_INVAL, "symbol '%s' lies outside section %u (%s)",
			    name, s.st_shndx, sec_name(m, s.st_shndx));
	return 0;
}

static int check_symtab(struct elf_mod *m)
{
	struct elf64_shdr sh = shdr(m, m->symtab);
	size_t i;
	int ret;

	if (sh.sh_entsize != sizeof(struct elf64_sym) || sh.sh_size % sizeof(struct elf64_sym))
		return elf_mod_fail(m, -KE_INVAL, "bad symbol table entry size");
	if (sh.sh_link == 0 || sh.sh_link >= m->shnum)
		return elf_mod_fail(m, -KE_INVAL, "symbol table has no string table");
	if (shdr(m, sh.sh_link).sh_type != SHT_STRTAB)
		return elf_mod_fail(m, -KE_INVAL, "symbol string table is not SHT_STRTAB");
	m->strtab = sh.sh_link;
	m->symoff = sh.sh_offset;	/* in bounds: check_sections() */
	m->nsyms = sh.sh_size / sizeof(struct elf64_sym);
	m->nlocal = sh.sh_info;
	if (m->nsyms == 0 || m->nlocal == 0 || m->nlocal > m->nsyms)
		return elf_mod_fail(m, -KE_INVAL, "bad symbol table sh_info %u", sh.sh_info);
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
		return elf_mod_fail(m, -KE_INVAL, "section %u (%s) does not use the symbol table",
			    i, sec_name(m, i));
	if (sh.sh_info == 0 || sh.sh_info >= m->shnum)
		return elf_mod_fail(m, -KE_INVAL, "section %u (%s) relocates bad section %u",
			    i, sec_name(m, i), sh.sh_info);
	if (sh.sh_entsize != sizeof(r) || sh.sh_size % sizeof(r))
		return elf_mod_fail(m, -KE_INVAL, "section %u (%s) has bad entry size", i, sec_name(m, i));
	if (sec_loaded(m, sh.sh_info) && shdr(m, sh.sh_info).sh_type == SHT_NOBITS && sh.sh_size)
		return elf_mod_fail(m, -KE_INVAL, "section %u (%s) relocates NOBITS section",
			    i, sec_name(m, i));
	n = sh.sh_size / sizeof(r);
	for (k = 0; k < n; k++) {
		kmemcpy(&r, m->elf + sh.sh_offset + k * sizeof(r), sizeof(r));
		if ((r.r_info >> 32) >= m->nsyms)
			return elf_mod_fail(m, -KE_INVAL, "relocation %zu in %s: bad symbol %lu",
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
			return elf_mod_fail(m, -KE_NOTSUP, "section %u (%s): REL relocations not supported",
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

	kmemzero(m, sizeof(*m));
	m->elf = elf;
	m->size = size;
	elf_mod_set_err(m, err, errlen);
	if (!elf)
		return elf_mod_fail(m, -KE_INVAL, "no object");
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
