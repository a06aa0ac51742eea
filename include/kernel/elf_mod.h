/*
 * Update-module loader, pure core: parses an ELF64 RISC-V relocatable
 * object (ET_REL, as gcc -c makes it), lays its allocated sections out in
 * two regions and links them at given run-time addresses.
 *
 *   text region (map R+X): every SHF_ALLOC|SHF_EXECINSTR section, then every
 *                          read-only SHF_ALLOC section (.rodata, .srodata),
 *                          each group in section-index order;
 *   data region (map R+W): every SHF_ALLOC|SHF_WRITE section (.data, .sdata,
 *                          .bss, .sbss) in section-index order, NOBITS
 *                          zero-filled.
 * Each section is placed at the next multiple of its sh_addralign (at most
 * ELF_MOD_MAX_ALIGN), exactly as GNU ld places input sections inside one
 * output section. .eh_frame is not loaded (the kernel unwinds with frame
 * pointers); neither is any non-allocated section (.debug_*, .comment,
 * .riscv.attributes), and relocations inside them are skipped.
 *
 * Usage:
 *	struct elf_mod *m = kzalloc(sizeof(*m));   (about 2 KiB: not on a stack)
 *	elf_mod_parse(elf, size, m, err, sizeof(err));
 *	text = <elf_mod_text_size(m) bytes, aligned to elf_mod_text_align(m)>
 *	data = <elf_mod_data_size(m) bytes, aligned to elf_mod_data_align(m)>
 *	elf_mod_link(m, text, text_va, data, data_va, export_resolve, NULL, ...);
 *	elf_mod_symbol(m, "counter_v2_class", &addr);
 * m keeps pointers into @elf: keep the image until the last elf_mod_symbol().
 * The code model is medany: the two regions and every kernel symbol the
 * module uses must lie within +-2 GiB of each other, or the link fails
 * with "... out of range". Undefined symbols, weak ones included, must
 * resolve.
 *
 * No relaxation is done. R_RISCV_RELAX is ignored (the un-relaxed
 * sequences are correct code). R_RISCV_ALIGN marks nops that ld would
 * shrink until the next instruction is aligned; the loader keeps the nops
 * and accepts the object when that instruction is already aligned at its
 * run-time address, which is always the case for objects built with
 * -mno-relax (gas then emits exact padding and no R_RISCV_ALIGN) and for
 * C compiled by GCC 12 at -O2 (no .align beyond 2 bytes in code). An
 * alignment that only byte deletion could reach is rejected, since code may
 * depend on it (stvec targets, data read by aligned loads): build such
 * modules with -mno-relax. Modules should be built with the kernel's flags
 * plus -fno-common; -mno-relax is recommended.
 *
 * Pure: no CSR access, no allocation, no locking (the caller owns m and the
 * buffers). Builds on the host for unit tests.
 */
#ifndef KERNEL_ELF_MOD_H
#define KERNEL_ELF_MOD_H

#include <stddef.h>
#include <stdint.h>

#define ELF_MOD_MAX_SECTIONS	512		/* e_shnum limit */
#define ELF_MOD_MAX_ALIGN	4096		/* sh_addralign limit */
#define ELF_MOD_MAX_REGION	(16u << 20)	/* bytes per region */
#define ELF_MOD_UNLOADED	UINT32_MAX	/* sec_off[] of a section not loaded */

struct elf_mod {
	const uint8_t *elf;	/* the object, as given to elf_mod_parse() */
	size_t size;
	size_t shoff;		/* section header table */
	unsigned int shnum;
	unsigned int shstrndx;
	unsigned int symtab;	/* section index of SHT_SYMTAB */
	unsigned int strtab;	/* its string table */
	size_t symoff;		/* the symbol table's file offset (checked) */
	size_t nsyms;
	size_t nlocal;		/* index of the first non-local symbol */
	size_t text_size, text_align;
	size_t data_size, data_align;
	/* The caller's message buffer during a call. */
	char *err;
	size_t errlen;
	/* Set by a successful elf_mod_link(). */
	int linked;
	uint64_t text_addr, data_addr;
	/* Offset of each section inside its region, or ELF_MOD_UNLOADED. */
	uint32_t sec_off[ELF_MOD_MAX_SECTIONS];
};

/* Returns 0 or -KE_NOENT; *addr = run-time address of kernel symbol @name. */
typedef int (*elf_mod_resolve_t)(void *ctx, const char *name, uint64_t *addr);

/*
 * Validates the object (headers, section table, symbols, relocation
 * tables, strings) and computes the layout. 0, or a negative KE_* with a
 * one-line reason in @err (may be NULL).
 */
int elf_mod_parse(const void *elf, size_t size, struct elf_mod *m,
		  char *err, size_t errlen);

/* Sizes of the regions, and the alignment their run-time addresses need. */
static inline size_t elf_mod_text_size(const struct elf_mod *m)
{
	return m->text_size;
}

static inline size_t elf_mod_data_size(const struct elf_mod *m)
{
	return m->data_size;
}

static inline size_t elf_mod_text_align(const struct elf_mod *m)
{
	return m->text_align;
}

static inline size_t elf_mod_data_align(const struct elf_mod *m)
{
	return m->data_align;
}

/*
 * Writes the regions into @text and @data (elf_mod_*_size() bytes each;
 * NULL if that size is 0), relocated to run at @text_addr and @data_addr.
 * Undefined symbols are resolved through @resolve only. 0, or a negative
 * KE_* with the reason in @err; after an error the buffers hold garbage.
 */
int elf_mod_link(struct elf_mod *m, void *text, uint64_t text_addr,
		 void *data, uint64_t data_addr, elf_mod_resolve_t resolve,
		 void *ctx, char *err, size_t errlen);

/*
 * Run-time address of the global (or weak) symbol @name defined by the
 * module. 0, -KE_NOENT if there is none, -KE_INVAL before elf_mod_link().
 */
int elf_mod_symbol(const struct elf_mod *m, const char *name, uint64_t *addr);

#endif
