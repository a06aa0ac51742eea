/*
 * Devicetree queries: memory, reserved ranges, harts, devices, console,
 * timer frequency and PLIC routing, read from the blob that OpenSBI or
 * U-Boot hands over in a1.
 *
 * Locking: none. Every function only reads the blob, which nothing writes
 * after boot, so any hart may call any of them at any time.
 *
 * The blob comes from firmware and is trusted no further than dt_check()
 * allows. libfdt bounds-checks offsets and tags; this file checks what
 * libfdt leaves to its callers: property lengths against cell counts,
 * NUL termination of strings, and cell counts that fit in 64 bits.
 * Cells are read with fdt32_ld() since property data is only 4-byte
 * aligned. Only libfdt calls present in Linux 6.1's scripts/dtc/libfdt
 * are used (it has no fdt_check_full()).
 */
#include <limits.h>
#include <string.h>
#include <libfdt.h>
#include <kernel/devtree.h>
#include <kernel/errno.h>

#define DT_IRQ_S_EXT	9	/* scause code of the supervisor external interrupt */

static bool dt_prop_is(const void *fdt, int node, const char *name, const char *val)
{
	const char *s = dt_prop_str(fdt, node, name);

	return s && strcmp(s, val) == 0;
}

/* Absent status means enabled (DT spec); "ok" is the pre-spec spelling. */
static bool dt_enabled(const void *fdt, int node)
{
	int len;
	const char *s;

	if (!fdt_getprop(fdt, node, "status", &len))
		return len == -FDT_ERR_NOTFOUND;
	s = dt_prop_str(fdt, node, "status");
	return s && (!strcmp(s, "okay") || !strcmp(s, "ok"));
}

/*
 * #address-cells or #size-cells of @node, @dflt when absent. Read here,
 * not with fdt_address_cells(), because libfdt versions differ on 0 and
 * on the limit; the kernel holds at most 64-bit values.
 */
static int dt_ncells(const void *fdt, int node, const char *name, int dflt)
{
	int len;
	uint32_t n;
	const fdt32_t *p = fdt_getprop(fdt, node, name, &len);

	if (!p)
		return len == -FDT_ERR_NOTFOUND ? dflt : -KE_INVAL;
	if (len != sizeof(*p))
		return -KE_INVAL;
	n = fdt32_ld(p);
	return n > 2 ? -KE_RANGE : (int)n;
}

static uint64_t dt_read_cells(const fdt32_t *p, int n)
{
	uint64_t v = 0;

	while (n-- > 0)
		v = (v << 32) | fdt32_ld(p++);
	return v;
}

/*
 * Entry @idx of property @name, an array of @ncells-cell entries. A length
 * that is not a whole number of entries means the cell counts and the
 * property disagree, so no entry of it can be trusted.
 */
static int dt_entry(const void *fdt, int node, const char *name, int idx,
		    int ncells, const fdt32_t **out)
{
	int len;
	size_t esize = (size_t)ncells * sizeof(fdt32_t);
	const fdt32_t *p;

	if (idx < 0 || ncells <= 0)
		return -KE_INVAL;
	p = fdt_getprop(fdt, node, name, &len);
	if (!p)
		return len == -FDT_ERR_NOTFOUND ? -KE_NODATA : -KE_INVAL;
	if ((size_t)len % esize)
		return -KE_INVAL;
	if ((size_t)idx >= (size_t)len / esize)
		return -KE_NOENT;
	*out = p + (size_t)idx * ncells;
	return 0;
}

/*
 * Next node in tree order after @node (-1: the root), -KE_NOENT at the
 * end. fdt_next_node() does not look at the header, so the walk's first
 * step does, else a blob with a bad magic would read as an empty tree.
 */
static int dt_next(const void *fdt, int node)
{
	if (node < 0 && fdt_check_header(fdt))
		return -KE_INVAL;
	node = fdt_next_node(fdt, node, NULL);
	if (node == -FDT_ERR_NOTFOUND)
		return -KE_NOENT;
	return node < 0 ? -KE_INVAL : node;
}

/* Every property name resolves into the strings block. */
static int dt_check_props(const void *fdt, int node)
{
	int prop, len;
	const char *name;

	fdt_for_each_property_offset(prop, fdt, node) {
		if (!fdt_getprop_by_offset(fdt, prop, &name, &len) || !name)
			return -KE_INVAL;
	}
	return prop == -FDT_ERR_NOTFOUND ? 0 : -KE_INVAL;
}

/*
 * Stands in for fdt_check_full(): walks every tag once, so later queries
 * cannot meet a truncated or unbalanced structure. The root must be the
 * first node at offset 0 (libfdt's path lookups assume it) and the only
 * node at depth 1.
 */
static int dt_check_struct(const void *fdt)
{
	int node, len, depth = 0, nodes = 0;
	const char *name;

	for (node = fdt_next_node(fdt, -1, &depth); node >= 0;
	     node = fdt_next_node(fdt, node, &depth)) {
		if (depth < 1 || (depth == 1) != (node == 0))
			return -KE_INVAL;
		name = fdt_get_name(fdt, node, &len);
		if (!name || (node == 0 && len != 0))
			return -KE_INVAL;
		if (dt_check_props(fdt, node))
			return -KE_INVAL;
		nodes++;
	}
	if (node != -FDT_ERR_NOTFOUND || depth != 0 || nodes == 0)
		return -KE_INVAL;
	return 0;
}

/* libfdt also insists on an 8-byte aligned blob; firmware places it so. */
int dt_check(const void *fdt, size_t max_size)
{
	/* the header check reads fields before it knows the blob's size */
	if (!fdt || max_size < sizeof(struct fdt_header))
		return -KE_INVAL;
	if (fdt_check_header(fdt) || fdt_totalsize(fdt) > max_size)
		return -KE_INVAL;
	/*
	 * libfdt reads reserve-map entries and structure tags with plain 64-
	 * and 32-bit loads (fdt64_ld_, fdt32_ld_), trusting the blocks to be
	 * aligned as the DT spec requires; fdt_check_header() does not check
	 * that. A blob from the network (an update pack) with an odd offset
	 * made every later lookup a misaligned load: undefined behaviour, a
	 * trap or slow M-mode emulation on RISC-V (found by test/fuzz).
	 */
	if (fdt_off_mem_rsvmap(fdt) % 8 || fdt_off_dt_struct(fdt) % FDT_TAGSIZE)
		return -KE_INVAL;
	if (fdt_num_mem_rsv(fdt) < 0)
		return -KE_INVAL;
	return dt_check_struct(fdt);
}

int dt_match(const void *fdt, int node, const char *const *compat)
{
	int len, i;
	const char *list;

	if (!compat || node < 0)
		return -KE_INVAL;
	list = fdt_getprop(fdt, node, "compatible", &len);
	if (!list)
		return len == -FDT_ERR_NOTFOUND ? -KE_NOENT : -KE_INVAL;
	if (!dt_enabled(fdt, node))
		return -KE_NOENT;
	for (i = 0; compat[i]; i++)
		if (fdt_stringlist_contains(list, len, compat[i]))
			return i;
	return -KE_NOENT;
}

/* A NULL @fn only counts the matches. */
int dt_for_each_match(const void *fdt, const char *const *compat,
		      int (*fn)(const void *fdt, int node, int idx, void *arg), void *arg)
{
	int node, idx, rc, count = 0;

	if (!compat)
		return -KE_INVAL;
	for (node = dt_next(fdt, -1); node >= 0; node = dt_next(fdt, node)) {
		idx = dt_match(fdt, node, compat);
		if (idx == -KE_NOENT)
			continue;
		if (idx < 0)
			return idx;
		if (fn && (rc = fn(fdt, node, idx, arg)) != 0)
			return rc;
		count++;
	}
	return node == -KE_NOENT ? count : node;
}

/* base and size may be NULL; idx past the last entry gives -KE_NOENT. */
int dt_reg(const void *fdt, int node, int idx, uint64_t *base, uint64_t *size)
{
	int parent, ac, sc, err;
	const fdt32_t *p;

	if (node <= 0)	/* the root has no parent to give cell counts */
		return -KE_INVAL;
	parent = fdt_parent_offset(fdt, node);
	if (parent < 0)
		return -KE_INVAL;
	ac = dt_ncells(fdt, parent, "#address-cells", 2);
	if (ac < 0)
		return ac;
	sc = dt_ncells(fdt, parent, "#size-cells", 1);
	if (sc < 0)
		return sc;
	err = dt_entry(fdt, node, "reg", idx, ac + sc, &p);
	if (err)
		return err;
	if (base)
		*base = dt_read_cells(p, ac);
	if (size)
		*size = dt_read_cells(p + ac, sc);
	return 0;
}

int dt_irq(const void *fdt, int node, int idx, uint32_t *irq)
{
	const fdt32_t *p;
	int err;

	if (node < 0 || !irq)
		return -KE_INVAL;
	err = dt_entry(fdt, node, "interrupts", idx, 1, &p);
	if (!err)
		*irq = fdt32_ld(p);
	return err;
}

/* The enabled `fixed-partitions` child of @flash, -KE_NOENT if none. */
static int dt_fixed_partitions(const void *fdt, int flash)
{
	int child;

	fdt_for_each_subnode(child, fdt, flash) {
		if (!fdt_node_check_compatible(fdt, child, "fixed-partitions") &&
		    dt_enabled(fdt, child))
			return child;
	}
	return child == -FDT_ERR_NOTFOUND ? -KE_NOENT : -KE_INVAL;
}

/*
 * The one child of @parts labelled @label. Two with the same label make
 * the choice ambiguous, and the kernel must not guess where to write.
 */
static int dt_partition_node(const void *fdt, int parts, const char *label)
{
	int child, found = -KE_NOENT;

	fdt_for_each_subnode(child, fdt, parts) {
		if (!dt_prop_is(fdt, child, "label", label))
			continue;
		if (found >= 0)
			return -KE_EXIST;
		found = child;
	}
	return child == -FDT_ERR_NOTFOUND ? found : -KE_INVAL;
}

/*
 * Partitions need explicit cell counts (no defaults, unlike buses), and a
 * reg of exactly one entry that neither wraps nor ends beyond @dev_size:
 * anything else is a tree the kernel will not write by.
 */
static int dt_partition_reg(const void *fdt, int parts, int part, uint64_t dev_size,
			    uint64_t *off, uint64_t *size)
{
	int ac, sc, len;
	const fdt32_t *p;

	ac = dt_ncells(fdt, parts, "#address-cells", -KE_INVAL);
	sc = dt_ncells(fdt, parts, "#size-cells", -KE_INVAL);
	if (ac <= 0 || sc <= 0)
		return -KE_INVAL;
	p = fdt_getprop(fdt, part, "reg", &len);
	if (!p || len != (ac + sc) * (int)sizeof(*p))
		return -KE_INVAL;
	*off = dt_read_cells(p, ac);
	*size = dt_read_cells(p + ac, sc);
	if (!*size)
		return -KE_INVAL;
	if (*off + *size < *off || *off + *size > dev_size)
		return -KE_RANGE;
	return 0;
}

int dt_partition_by_label(const void *fdt, int flash, const char *label, uint64_t dev_size,
			  struct dt_partition *out)
{
	int parts, part, err;

	if (flash < 0 || !label || !out)
		return -KE_INVAL;
	if ((parts = dt_fixed_partitions(fdt, flash)) < 0)
		return parts;
	if ((part = dt_partition_node(fdt, parts, label)) < 0)
		return part;
	if ((err = dt_partition_reg(fdt, parts, part, dev_size, &out->offset, &out->size)))
		return err;
	out->read_only = fdt_getprop(fdt, part, "read-only", NULL) != NULL;
	out->node = part;
	return 0;
}

int dt_partition_overlap(const void *fdt, int flash, uint64_t dev_size, uint64_t off,
			 uint64_t size, int *part)
{
	int parts, child, err;
	uint64_t po, ps;

	if (flash < 0 || !size || off + size < off)
		return -KE_INVAL;
	parts = dt_fixed_partitions(fdt, flash);
	if (parts < 0)
		return parts == -KE_NOENT ? 0 : parts;
	fdt_for_each_subnode(child, fdt, parts) {
		if ((err = dt_partition_reg(fdt, parts, child, dev_size, &po, &ps)))
			return err;
		if (po < off + size && off < po + ps) {
			if (part)
				*part = child;
			return 1;
		}
	}
	return child == -FDT_ERR_NOTFOUND ? 0 : -KE_INVAL;
}

/* Appends a range; a wrapping one would corrupt every later overlap test. */
static int dt_add_range(struct dt_range *out, int max, int n,
			uint64_t base, uint64_t size)
{
	if (!size)
		return n;
	if (base + (size - 1) < base)
		return -KE_RANGE;
	if (n >= max)
		return -KE_NOSPC;
	out[n].base = base;
	out[n].size = size;
	return n + 1;
}

/* Appends every reg entry of @node; returns the new count. */
static int dt_add_regs(const void *fdt, int node, struct dt_range *out,
		       int max, int n)
{
	uint64_t base, size;
	int i, err;

	for (i = 0; n >= 0; i++) {
		err = dt_reg(fdt, node, i, &base, &size);
		if (err == -KE_NOENT)
			break;
		if (err)
			return err;
		n = dt_add_range(out, max, n, base, size);
	}
	return n;
}

int dt_memory(const void *fdt, struct dt_range *out, int max)
{
	int node, n = 0;

	if (!out || max < 0)
		return -KE_INVAL;
	for (node = dt_next(fdt, -1); node >= 0; node = dt_next(fdt, node)) {
		if (!dt_prop_is(fdt, node, "device_type", "memory") ||
		    !dt_enabled(fdt, node))
			continue;
		n = dt_add_regs(fdt, node, out, max, n);
		if (n < 0)
			return n;
	}
	return node == -KE_NOENT ? n : node;
}

static int dt_add_memrsv(const void *fdt, struct dt_range *out, int max)
{
	uint64_t base, size;
	int i, n = 0, count = fdt_num_mem_rsv(fdt);

	if (count < 0)
		return -KE_INVAL;
	for (i = 0; i < count && n >= 0; i++) {
		if (fdt_get_mem_rsv(fdt, i, &base, &size))
			return -KE_INVAL;
		n = dt_add_range(out, max, n, base, size);
	}
	return n;
}

/*
 * Children without reg (dynamic "size"/"alloc-ranges" pools) reserve
 * nothing yet, so they are skipped. dt_reg() already uses the parent's,
 * i.e. /reserved-memory's, cell counts.
 */
int dt_reserved(const void *fdt, struct dt_range *out, int max)
{
	int rm, child, n;

	if (!out || max < 0)
		return -KE_INVAL;
	n = dt_add_memrsv(fdt, out, max);
	if (n < 0)
		return n;
	rm = fdt_path_offset(fdt, "/reserved-memory");
	if (rm == -FDT_ERR_NOTFOUND)
		return n;
	if (rm < 0)
		return -KE_INVAL;
	fdt_for_each_subnode(child, fdt, rm) {
		if (!dt_enabled(fdt, child) || !fdt_getprop(fdt, child, "reg", NULL))
			continue;
		n = dt_add_regs(fdt, child, out, max, n);
		if (n < 0)
			return n;
	}
	return child == -FDT_ERR_NOTFOUND ? n : -KE_INVAL;
}

static int dt_cpus_node(const void *fdt)
{
	int cpus = fdt_path_offset(fdt, "/cpus");

	if (cpus == -FDT_ERR_NOTFOUND)
		return -KE_NOENT;
	return cpus < 0 ? -KE_INVAL : cpus;
}

/* Phandle of the cpu's riscv,cpu-intc child; 0 when there is none. */
static uint32_t dt_cpu_intc(const void *fdt, int cpu)
{
	int child;
	uint32_t ph;

	fdt_for_each_subnode(child, fdt, cpu) {
		if (fdt_node_check_compatible(fdt, child, "riscv,cpu-intc"))
			continue;
		ph = fdt_get_phandle(fdt, child);
		return ph == (uint32_t)-1 ? 0 : ph;
	}
	return 0;
}

/*
 * Whether a riscv,isa string allows S-mode for this rv64 kernel. Current
 * strings never name S (the privileged spec implies it), so only the old
 * style that lists "u" without "s" (QEMU's former E51 "rv64imacu") says
 * no. The single-letter part ends at the first '_' or z/x extension.
 */
static bool dt_isa_smode(const char *isa)
{
	bool s = false, u = false;

	if (strncmp(isa, "rv64", 4))
		return false;
	for (isa += 4; *isa && *isa != '_' && *isa != 'z' && *isa != 'x'; isa++) {
		s |= *isa == 's';
		u |= *isa == 'u';
	}
	return s || !u;
}

/*
 * A hart the kernel may start. The MMU test is the one that matters on
 * QEMU sifive_u: its E51 monitor core has no mmu-type and no S-mode.
 */
static bool dt_cpu_usable(const void *fdt, int cpu)
{
	const char *mmu = dt_prop_str(fdt, cpu, "mmu-type");
	const char *isa;

	if (!dt_enabled(fdt, cpu) || !mmu || !strcmp(mmu, "riscv,none"))
		return false;
	if (!fdt_getprop(fdt, cpu, "riscv,isa", NULL))
		return true;
	isa = dt_prop_str(fdt, cpu, "riscv,isa");
	return isa && dt_isa_smode(isa);
}

/* Hart id from a cpu node's reg; a cpu without one cannot be addressed. */
static int dt_cpu_hartid(const void *fdt, int cpu, uint32_t *hartid)
{
	uint64_t id;
	int err = dt_reg(fdt, cpu, 0, &id, NULL);

	if (err)
		return err == -KE_NOENT ? -KE_INVAL : err;
	if (id > UINT32_MAX)
		return -KE_RANGE;
	*hartid = (uint32_t)id;
	return 0;
}

int dt_cpus(const void *fdt, struct dt_cpu *out, int max)
{
	int cpus, cpu, err, n = 0;
	uint32_t hartid;

	if (!out || max < 0)
		return -KE_INVAL;
	cpus = dt_cpus_node(fdt);
	if (cpus < 0)
		return cpus;
	fdt_for_each_subnode(cpu, fdt, cpus) {
		if (!dt_prop_is(fdt, cpu, "device_type", "cpu"))
			continue;	/* cpu-map and the like */
		err = dt_cpu_hartid(fdt, cpu, &hartid);
		if (err)
			return err;
		if (n >= max)
			return -KE_NOSPC;
		out[n].hartid = hartid;
		out[n].usable = dt_cpu_usable(fdt, cpu);
		out[n].intc_phandle = dt_cpu_intc(fdt, cpu);
		n++;
	}
	return cpu == -FDT_ERR_NOTFOUND ? n : -KE_INVAL;
}

/* The spec allows one or two cells, like clock-frequency. */
long dt_timebase(const void *fdt)
{
	int cpus, len;
	uint64_t hz;
	const fdt32_t *p;

	cpus = dt_cpus_node(fdt);
	if (cpus < 0)
		return cpus;
	p = fdt_getprop(fdt, cpus, "timebase-frequency", &len);
	if (!p)
		return len == -FDT_ERR_NOTFOUND ? -KE_NODATA : -KE_INVAL;
	if (len != 4 && len != 8)
		return -KE_INVAL;
	hz = dt_read_cells(p, len / 4);
	if (!hz)
		return -KE_INVAL;
	return hz > LONG_MAX ? -KE_RANGE : (long)hz;
}

/* A bootargs without its NUL would run off the blob, so it counts as absent. */
const char *dt_bootargs(const void *fdt)
{
	int chosen = fdt_path_offset(fdt, "/chosen");
	const char *s = chosen >= 0 ? dt_prop_str(fdt, chosen, "bootargs") : NULL;

	return s ? s : "";
}

/* Follows the '/'-separated components in [p, end) down from @node. */
static int dt_walk(const void *fdt, int node, const char *p, const char *end)
{
	const char *q;

	while (node >= 0 && p < end) {
		if (*p == '/') {
			p++;
			continue;
		}
		q = memchr(p, '/', end - p);
		if (!q)
			q = end;
		node = fdt_subnode_offset_namelen(fdt, node, p, q - p);
		p = q;
	}
	return node;
}

/*
 * Resolves the first @len chars of @path, absolute or alias-relative.
 * Aliases are resolved here, not by fdt_path_offset(), because libfdt 6.1
 * follows an alias without checking that its value is terminated and
 * absolute, and recurses forever on an alias naming itself.
 */
static int dt_path_node(const void *fdt, const char *path, int len)
{
	const char *end = path + len, *slash, *alias;
	int aliases, node, alen;

	if (len > 0 && path[0] == '/')
		return dt_walk(fdt, 0, path, end);
	slash = memchr(path, '/', len);
	if (!slash)
		slash = end;
	aliases = fdt_path_offset(fdt, "/aliases");
	if (aliases < 0 || slash == path)
		return -FDT_ERR_NOTFOUND;
	alias = fdt_getprop_namelen(fdt, aliases, path, slash - path, &alen);
	if (!alias || alen <= 1 || alias[alen - 1] != '\0' || alias[0] != '/')
		return -FDT_ERR_NOTFOUND;
	node = dt_walk(fdt, 0, alias, alias + alen - 1);
	return dt_walk(fdt, node, slash, end);
}

int dt_stdout_node(const void *fdt)
{
	int chosen, node;
	const char *path;

	chosen = fdt_path_offset(fdt, "/chosen");
	if (chosen < 0)
		return chosen == -FDT_ERR_NOTFOUND ? -KE_NOENT : -KE_INVAL;
	path = dt_prop_str(fdt, chosen, "stdout-path");
	if (!path)
		path = dt_prop_str(fdt, chosen, "linux,stdout-path");
	if (!path)
		return -KE_NOENT;
	node = dt_path_node(fdt, path, (int)strcspn(path, ":"));
	if (node == -FDT_ERR_NOTFOUND || node == -FDT_ERR_BADPATH)
		return -KE_NOENT;
	return node < 0 ? -KE_INVAL : node;
}

/* Hart whose riscv,cpu-intc node has @phandle. */
static int dt_intc_hart(const void *fdt, uint32_t phandle, uint32_t *hart)
{
	int intc, cpu;

	intc = fdt_node_offset_by_phandle(fdt, phandle);
	if (intc < 0 || fdt_node_check_compatible(fdt, intc, "riscv,cpu-intc"))
		return -KE_INVAL;
	cpu = fdt_parent_offset(fdt, intc);
	if (cpu < 0 || !dt_prop_is(fdt, cpu, "device_type", "cpu"))
		return -KE_INVAL;
	return dt_cpu_hartid(fdt, cpu, hart);
}

/*
 * Entries whose irq is not 9 (M-mode contexts, or 0xffffffff for an
 * unwired one on real FU540/FU740 trees) only take up a context number.
 * Harts at or above @max_harts are not recorded: the kernel never starts
 * them. A second S context for one hart means the tree is wrong.
 */
int dt_plic_s_contexts(const void *fdt, int plic, int *ctx_of_hart, int max_harts)
{
	const fdt32_t *p;
	int len, i, err, n = 0;
	uint32_t hart;

	if (!ctx_of_hart || max_harts <= 0 || plic < 0)
		return -KE_INVAL;
	for (i = 0; i < max_harts; i++)
		ctx_of_hart[i] = -1;
	p = fdt_getprop(fdt, plic, "interrupts-extended", &len);
	if (!p)
		return len == -FDT_ERR_NOTFOUND ? -KE_NODATA : -KE_INVAL;
	if (len % (2 * sizeof(*p)))
		return -KE_INVAL;
	for (i = 0; i < len / (int)(2 * sizeof(*p)); i++) {
		if (fdt32_ld(&p[2 * i + 1]) != DT_IRQ_S_EXT)
			continue;
		err = dt_intc_hart(fdt, fdt32_ld(&p[2 * i]), &hart);
		if (err)
			return err;
		if (hart >= (uint32_t)max_harts)
			continue;
		if (ctx_of_hart[hart] >= 0)
			return -KE_INVAL;
		ctx_of_hart[hart] = i;
		n++;
	}
	return n;
}

#define DT_ARG_SEP	" \t\n"

/*
 * The last occurrence of @key wins, so arguments appended after a
 * bootloader's defaults override them. @val may be NULL with @len 0 to
 * test for presence only. A value that does not fit leaves "" in @val.
 */
int dt_bootarg(const char *bootargs, const char *key, char *val, size_t len)
{
	const char *p = bootargs, *found = NULL;
	size_t klen, wlen, flen = 0;

	if (!bootargs || !key || !*key || key[strcspn(key, "=" DT_ARG_SEP)] ||
	    (!val && len))
		return -KE_INVAL;
	klen = strlen(key);
	while (*(p += strspn(p, DT_ARG_SEP))) {
		wlen = strcspn(p, DT_ARG_SEP);
		if (wlen >= klen && !strncmp(p, key, klen) &&
		    (wlen == klen || p[klen] == '=')) {
			found = p + klen + (wlen > klen);
			flen = wlen - (size_t)(found - p);
		}
		p += wlen;
	}
	if (!found)
		return -KE_NOENT;
	if (!val)
		return 0;
	if (flen >= len) {
		if (len)
			val[0] = '\0';
		return -KE_OVERFLOW;
	}
	memcpy(val, found, flen);
	val[flen] = '\0';
	return 0;
}
