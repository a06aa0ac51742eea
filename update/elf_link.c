/*
 * Update-module loader, pure core, second half: copy the sections of an
 * object elf_mod_parse() accepted into the caller's text and data buffers,
 * resolve its symbols against the export table and apply its relocations
 * (RISC-V psABI formulas, every range checked), then find symbols in it.
 *
 * No locking and no allocation: the caller owns struct elf_mod and the
 * buffers. No CSR access, so the host unit tests run it against GNU ld.
 * Everything read from the object was bounds-checked by the parse; what
 * depends on run-time addresses (ranges, alignment) is checked here.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <kernel/elf_mod.h>
#include <kernel/errno.h>
#include "elf_mod_priv.h"

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

static uint64_t sec_addr(const struct link *l, unsigned int i)
{
	return l->base[region_of(l->m, i)] + l->m->sec_off[i];
}

static int rfail(const struct link *l, const struct reloc *rl, int code, const char *what)
{
	return elf_mod_fail(l->m, code, "%s %s at %s+0x%lx", elf_mod_rtypes[rl->type].name, what,
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
			return elf_mod_fail(l->m, -KE_NOENT, "unresolved symbol '%s'", sym_name(m, &s));
	} else if (s.st_shndx == SHN_ABS) {
		*v = s.st_value;
	} else if (sec_loaded(m, s.st_shndx)) {
		*v = sec_addr(l, s.st_shndx) + s.st_value;
	} else if ((s.st_info & 0xf) == STT_SECTION) {
		return elf_mod_fail(l->m, -KE_INVAL, "reference to section %s, which is not loaded",
			    sec_name(m, s.st_shndx));
	} else {
		return elf_mod_fail(l->m, -KE_INVAL, "symbol '%s' is in section %s, which is not loaded",
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
		kmemzero(l->buf[0], m->text_size);
	if (m->data_size)
		kmemzero(l->buf[1], m->data_size);
	for (i = 1; i < m->shnum; i++) {
		if (!sec_loaded(m, i))
			continue;
		sh = shdr(m, i);
		/*
		 * An empty section may sit in an empty region, whose buffer
		 * is NULL: even NULL + 0 and memcpy(NULL, .., 0) are undefined
		 * (found by test/fuzz on gcc's empty .data).
		 */
		if (sh.sh_type != SHT_NOBITS && sh.sh_size)
			kmemcpy(l->buf[region_of(m, i)] + m->sec_off[i], m->elf + sh.sh_offset,
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
			kmemcpy(&h, m->elf + sh.sh_offset + j * sizeof(h), sizeof(h));
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
	unsigned int w = elf_mod_rtypes[rl->type].width;
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
	if (rl->type >= R_MAX || !elf_mod_rtypes[rl->type].name)
		return elf_mod_fail(l->m, -KE_NOTSUP, "unsupported relocation type %u at %s+0x%lx",
			    rl->type, sec_name(l->m, rl->tsec), (unsigned long)rl->r.r_offset);
	if (!in_bounds(rl->r.r_offset, elf_mod_rtypes[rl->type].width, tsh->sh_size))
		return rfail(l, rl, -KE_INVAL, "outside its section");
	rl->pc = sec_addr(l, rl->tsec) + rl->r.r_offset;
	if (rl->type == R_NONE || rl->type == R_RELAX)
		return 0;
	if (rl->type == R_ALIGN)
		return check_align(l, rl, tsh->sh_size);
	/* Only types that patch bytes get here: their section, so their region, is not empty. */
	rl->loc = l->buf[region_of(l->m, rl->tsec)] + l->m->sec_off[rl->tsec] + rl->r.r_offset;
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
		kmemcpy(&rl.r, m->elf + sh.sh_offset + rl.k * sizeof(rl.r), sizeof(rl.r));
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
	elf_mod_set_err(m, err, errlen);
	if (!m->shnum || !resolve)
		return elf_mod_fail(m, -KE_INVAL, "module not parsed");
	if ((m->text_size && !text) || (m->data_size && !data))
		return elf_mod_fail(m, -KE_INVAL, "no buffer for a region");
	if ((text_addr & (m->text_align - 1)) || (data_addr & (m->data_align - 1)))
		return elf_mod_fail(m, -KE_INVAL, "region addresses not aligned to %zu/%zu",
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