/*
 * Private to the module loader (elf_mod.c parses, elf_link.c links): the
 * ELF64 structures picolibc lacks, the RISC-V relocation types, and the
 * bounds-checked readers both halves share. Not for other modules: they
 * use kernel/elf_mod.h.
 */
#ifndef UPDATE_ELF_MOD_PRIV_H
#define UPDATE_ELF_MOD_PRIV_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <kernel/elf_mod.h>
#include <kernel/kstring.h>

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

/* Name and patched width in bytes of each supported type (elf_mod.c). */
struct elf_mod_rtype {
	const char *name;
	uint8_t width;
};
extern const struct elf_mod_rtype elf_mod_rtypes[R_MAX];

/* Points error messages of this call at the caller's buffer. */
void elf_mod_set_err(struct elf_mod *m, char *err, size_t errlen);

/* Returns @code, with the reason in the caller's buffer. */
int elf_mod_fail(const struct elf_mod *m, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* [off, off + len) lies inside a buffer of @size bytes, without overflow. */
static inline bool in_bounds(uint64_t off, uint64_t len, uint64_t size)
{
	return off <= size && len <= size - off;
}

/* Signed @v fits in a two's complement field of @bits bits. */
static inline bool fits(uint64_t v, unsigned int bits)
{
	int64_t s = (int64_t)v, lim = (int64_t)1 << (bits - 1);

	return s >= -lim && s < lim;
}

static inline uint64_t get_le(const uint8_t *p, unsigned int n)
{
	uint64_t v = 0;

	while (n--)
		v = (v << 8) | p[n];
	return v;
}

static inline void put_le(uint8_t *p, unsigned int n, uint64_t v)
{
	for (unsigned int i = 0; i < n; i++, v >>= 8)
		p[i] = (uint8_t)v;
}

static inline struct elf64_shdr shdr(const struct elf_mod *m, unsigned int i)
{
	struct elf64_shdr sh;

	kmemcpy(&sh, m->elf + m->shoff + (size_t)i * sizeof(sh), sizeof(sh));
	return sh;
}

static inline struct elf64_sym sym(const struct elf_mod *m, size_t i)
{
	struct elf64_sym s;

	kmemcpy(&s, m->elf + m->symoff + i * sizeof(s), sizeof(s));
	return s;
}

/* String @idx of string-table section @sec, or NULL if not terminated. */
static inline const char *str_at(const struct elf_mod *m, unsigned int sec, uint64_t idx)
{
	struct elf64_shdr sh = shdr(m, sec);
	const char *s;

	if (idx >= sh.sh_size)
		return NULL;
	s = (const char *)m->elf + sh.sh_offset + idx;
	return memchr(s, 0, sh.sh_size - idx) ? s : NULL;
}

/* Only called once the section names have been validated. */
static inline const char *sec_name(const struct elf_mod *m, unsigned int i)
{
	const char *s = str_at(m, m->shstrndx, shdr(m, i).sh_name);

	return s ? s : "?";
}

static inline const char *sym_name(const struct elf_mod *m, const struct elf64_sym *s)
{
	const char *n = str_at(m, m->strtab, s->st_name);

	return n ? n : "?";
}

static inline bool sec_loaded(const struct elf_mod *m, unsigned int i)
{
	return i < m->shnum && m->sec_off[i] != ELF_MOD_UNLOADED;
}

/* Which region a loaded section went to: 0 text, 1 data. */
static inline int region_of(const struct elf_mod *m, unsigned int i)
{
	return (shdr(m, i).sh_flags & SHF_WRITE) ? 1 : 0;
}

#endif
