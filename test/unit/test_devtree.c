// unit-srcs: src/devtree.c src/devtree_prop.c
// unit-libs: -lfdt
/*
 * Host tests of the devicetree queries against the blobs QEMU itself
 * generates (virt with 1 and 4 harts, sifive_u with 5), plus variants
 * edited with libfdt the way OpenSBI edits them (reserved-memory, hart
 * status) or broken on purpose (truncation, bad magic, bad lengths).
 * The expected values were read off `dtc -I dtb -O dts` of the dumps.
 * Flash partitions come from test/unit/dts/spi-nor-parts.dts (compiled by
 * dtc in the unit build): a good layout and one flash node per malformed
 * case.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <libfdt.h>

#include <kernel/devtree.h>
#include <kernel/errno.h>

#define SLACK	4096	/* room for the edits a test makes to a copy */

static void *virt1, *virt4, *sifive, *parts;

static void *load(const char *name)
{
	const char *dir = getenv("UNIT_DTB_DIR");
	char path[512];
	void *buf;
	long size;
	FILE *f;

	if (!dir)
		fail_msg("UNIT_DTB_DIR is not set");
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "rb");
	if (!f)
		fail_msg("cannot open %s", path);
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	rewind(f);
	buf = malloc(size);	/* malloc's alignment satisfies libfdt's 8 */
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, size, f), size);
	fclose(f);
	assert_int_equal(dt_check(buf, size), 0);
	return buf;
}

static int setup(void **state)
{
	virt1 = load("virt-smp1.dtb");
	virt4 = load("virt-smp4.dtb");
	sifive = load("sifive_u-smp5.dtb");
	parts = load("spi-nor-parts.dtb");
	return 0;
}

static int teardown(void **state)
{
	free(virt1);
	free(virt4);
	free(sifive);
	free(parts);
	return 0;
}

/* A writable copy with room to grow; the caller frees it. */
static void *dup_blob(const void *src)
{
	int size = fdt_totalsize(src) + SLACK;
	void *fdt = malloc(size);

	assert_non_null(fdt);
	assert_int_equal(fdt_open_into(src, fdt, size), 0);
	return fdt;
}

static int node(const void *fdt, const char *path)
{
	int off = fdt_path_offset(fdt, path);

	assert_true(off >= 0);
	return off;
}

static void set_str(void *fdt, const char *path, const char *prop, const char *val)
{
	assert_int_equal(fdt_setprop_string(fdt, node(fdt, path), prop, val), 0);
}

static void set_u32(void *fdt, const char *path, const char *prop, uint32_t val)
{
	assert_int_equal(fdt_setprop_u32(fdt, node(fdt, path), prop, val), 0);
}

static void del_prop(void *fdt, const char *path, const char *prop)
{
	assert_int_equal(fdt_delprop(fdt, node(fdt, path), prop), 0);
}

static void set_cells(void *fdt, const char *path, const char *prop,
		      const uint32_t *cells, int n)
{
	fdt32_t be[16];
	int i;

	assert_true(n <= 16);
	for (i = 0; i < n; i++)
		be[i] = cpu_to_fdt32(cells[i]);
	assert_int_equal(fdt_setprop(fdt, node(fdt, path), prop, be, n * 4), 0);
}

static const char *const uart_8250[] = { "ns16550a", NULL };
static const char *const uart_sifive[] = { "sifive,uart0", NULL };
static const char *const plic_compat[] = { "sifive,plic-1.0.0", "riscv,plic0", NULL };
static const char *const virtio[] = { "virtio,mmio", NULL };

/* --- dt_check -------------------------------------------------------- */

static void test_check_real_blobs(void **state)
{
	assert_int_equal(dt_check(virt4, fdt_totalsize(virt4)), 0);
	assert_int_equal(dt_check(virt1, 1 << 20), 0);
	assert_int_equal(dt_check(sifive, fdt_totalsize(sifive)), 0);
}

static void test_check_size_limits(void **state)
{
	assert_int_equal(dt_check(NULL, 1 << 20), -KE_INVAL);
	assert_int_equal(dt_check(virt4, 0), -KE_INVAL);
	assert_int_equal(dt_check(virt4, sizeof(struct fdt_header) - 1), -KE_INVAL);
	assert_int_equal(dt_check(virt4, fdt_totalsize(virt4) - 1), -KE_INVAL);
}

static void test_check_bad_magic(void **state)
{
	void *fdt = dup_blob(virt4);
	struct dt_cpu cpus[DT_MAX_CPUS];
	struct dt_range r[DT_MAX_REGIONS];
	int ctx[4];

	fdt_set_magic(fdt, 0xd00dfeef);
	assert_int_equal(dt_check(fdt, 1 << 20), -KE_INVAL);
	/* every query refuses the blob rather than reading garbage */
	assert_int_equal(dt_cpus(fdt, cpus, DT_MAX_CPUS), -KE_INVAL);
	assert_int_equal(dt_memory(fdt, r, DT_MAX_REGIONS), -KE_INVAL);
	assert_int_equal(dt_reserved(fdt, r, DT_MAX_REGIONS), -KE_INVAL);
	assert_int_equal(dt_timebase(fdt), -KE_INVAL);
	assert_int_equal(dt_stdout_node(fdt), -KE_INVAL);
	assert_string_equal(dt_bootargs(fdt), "");
	assert_int_equal(dt_for_each_match(fdt, uart_8250, NULL, NULL), -KE_INVAL);
	assert_true(dt_match(fdt, 0, uart_8250) < 0);
	assert_true(dt_plic_s_contexts(fdt, 0, ctx, 4) < 0);
	free(fdt);
}

static void test_check_misaligned(void **state)
{
	size_t size = fdt_totalsize(virt4);
	char *buf = malloc(size + 8);

	memcpy(buf + 4, virt4, size);
	assert_int_equal(dt_check(buf + 4, size), -KE_INVAL);
	free(buf);
}

/*
 * A copy of virt4 with @pad zero bytes inserted at offset @at (a block
 * boundary), the header's offsets past it moved along: the same tree, its
 * blocks at other alignments.
 */
static void *shifted_blob(uint32_t at, uint32_t pad)
{
	uint32_t size = fdt_totalsize(virt4);
	char *fdt = calloc(1, size + pad);

	assert_non_null(fdt);
	memcpy(fdt, virt4, at);
	memcpy(fdt + at + pad, (const char *)virt4 + at, size - at);
	fdt_set_totalsize(fdt, size + pad);
	if (fdt_off_mem_rsvmap(fdt) >= at)
		fdt_set_off_mem_rsvmap(fdt, fdt_off_mem_rsvmap(fdt) + pad);
	if (fdt_off_dt_struct(fdt) >= at)
		fdt_set_off_dt_struct(fdt, fdt_off_dt_struct(fdt) + pad);
	if (fdt_off_dt_strings(fdt) >= at)
		fdt_set_off_dt_strings(fdt, fdt_off_dt_strings(fdt) + pad);
	return fdt;
}

/*
 * libfdt reads tags and reserve-map entries with plain loads: blocks off
 * their alignment are refused, not read misaligned (found by fuzzing).
 * The same shifts by a whole alignment unit stay valid.
 */
static void test_check_block_alignment(void **state)
{
	uint32_t rsv = fdt_off_mem_rsvmap(virt4), st = fdt_off_dt_struct(virt4);
	struct { uint32_t at, pad; int want; } cases[] = {
		{ st, 1, -KE_INVAL }, { st, 2, -KE_INVAL }, { st, 4, 0 },
		{ rsv, 4, -KE_INVAL }, { rsv, 8, 0 },
	};
	size_t i;

	assert_int_equal(rsv % 8, 0);
	assert_int_equal(st % 4, 0);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		void *fdt = shifted_blob(cases[i].at, cases[i].pad);

		assert_int_equal(fdt_check_header(fdt), 0);
		assert_int_equal(dt_check(fdt, fdt_totalsize(fdt)), cases[i].want);
		free(fdt);
	}
}

/* A blob cut short in memory: the header promises more than there is. */
static void test_check_truncated(void **state)
{
	size_t half = fdt_totalsize(virt4) / 2;
	void *cut = malloc(half);

	memcpy(cut, virt4, half);
	assert_int_equal(dt_check(cut, half), -KE_INVAL);
	free(cut);
}

/* A structure block that stops mid-tree while the header is consistent. */
static void test_check_truncated_struct(void **state)
{
	void *fdt = dup_blob(virt4);

	fdt_set_size_dt_struct(fdt, fdt_size_dt_struct(fdt) / 2);
	assert_int_equal(fdt_check_header(fdt), 0);
	assert_int_equal(dt_check(fdt, 1 << 20), -KE_INVAL);
	free(fdt);
}

static void test_check_header_blocks(void **state)
{
	void *fdt = dup_blob(virt4);

	fdt_set_off_dt_strings(fdt, fdt_totalsize(fdt) + 8);
	assert_int_equal(dt_check(fdt, 1 << 20), -KE_INVAL);
	free(fdt);
	fdt = dup_blob(virt4);
	fdt_set_version(fdt, 1);
	assert_int_equal(dt_check(fdt, 1 << 20), -KE_INVAL);
	free(fdt);
}

/* Offset of the last FDT_END_NODE tag: the root's. */
static int root_end_tag(const void *fdt)
{
	int off = 0, next, last = -1;
	uint32_t tag;

	do {
		tag = fdt_next_tag(fdt, off, &next);
		if (tag == FDT_END_NODE)
			last = off;
		off = next;
	} while (tag != FDT_END);
	assert_true(last > 0);
	return last;
}

static void test_check_unbalanced(void **state)
{
	void *fdt = dup_blob(virt4);
	fdt32_t *tag = (fdt32_t *)((char *)fdt + fdt_off_dt_struct(fdt) +
				   root_end_tag(fdt));

	*tag = cpu_to_fdt32(FDT_NOP);
	assert_int_equal(dt_check(fdt, 1 << 20), -KE_INVAL);
	free(fdt);
}

static void test_check_bad_prop_name(void **state)
{
	void *fdt = dup_blob(virt4);
	int prop = fdt_first_property_offset(fdt, node(fdt, "/soc/serial@10000000"));
	struct fdt_property *p;

	assert_true(prop >= 0);
	p = (struct fdt_property *)((char *)fdt + fdt_off_dt_struct(fdt) + prop);
	p->nameoff = cpu_to_fdt32(0x7fff0000);
	assert_int_equal(dt_check(fdt, 1 << 20), -KE_INVAL);
	free(fdt);
}

/* --- cpus and timebase ------------------------------------------------ */

static void test_cpus_virt4(void **state)
{
	static const uint32_t intc[] = { 8, 6, 4, 2 };
	struct dt_cpu c[DT_MAX_CPUS];
	int i;

	assert_int_equal(dt_cpus(virt4, c, DT_MAX_CPUS), 4);
	for (i = 0; i < 4; i++) {
		assert_int_equal(c[i].hartid, i);
		assert_true(c[i].usable);
		assert_int_equal(c[i].intc_phandle, intc[i]);
	}
	assert_int_equal(dt_cpus(virt1, c, DT_MAX_CPUS), 1);
	assert_int_equal(c[0].hartid, 0);
	assert_true(c[0].usable);
}

static void test_cpus_sifive(void **state)
{
	struct dt_cpu c[DT_MAX_CPUS];
	int i;

	assert_int_equal(dt_cpus(sifive, c, DT_MAX_CPUS), 5);
	assert_int_equal(c[0].hartid, 0);
	assert_false(c[0].usable);	/* E51: no mmu-type */
	assert_int_equal(c[0].intc_phandle, 7);
	for (i = 1; i < 5; i++) {
		assert_int_equal(c[i].hartid, i);
		assert_true(c[i].usable);
		assert_int_equal(c[i].intc_phandle, 7 - i);
	}
}

static void test_cpus_status(void **state)
{
	void *fdt = dup_blob(virt4);
	struct dt_cpu c[DT_MAX_CPUS];

	set_str(fdt, "/cpus/cpu@2", "status", "disabled");
	set_str(fdt, "/cpus/cpu@1", "status", "ok");
	del_prop(fdt, "/cpus/cpu@3", "status");
	assert_int_equal(dt_cpus(fdt, c, DT_MAX_CPUS), 4);
	assert_true(c[0].usable);
	assert_true(c[1].usable);
	assert_false(c[2].usable);
	assert_true(c[3].usable);
	set_str(fdt, "/cpus/cpu@0", "status", "fail");
	assert_int_equal(dt_cpus(fdt, c, DT_MAX_CPUS), 4);
	assert_false(c[0].usable);
	free(fdt);
}

static void test_cpus_mmu_and_isa(void **state)
{
	void *fdt = dup_blob(virt4);
	struct dt_cpu c[DT_MAX_CPUS];

	del_prop(fdt, "/cpus/cpu@0", "mmu-type");
	set_str(fdt, "/cpus/cpu@1", "mmu-type", "riscv,none");
	set_str(fdt, "/cpus/cpu@2", "riscv,isa", "rv64imacu");	/* old E51 */
	set_str(fdt, "/cpus/cpu@3", "riscv,isa", "rv64imafdcsu");
	assert_int_equal(dt_cpus(fdt, c, DT_MAX_CPUS), 4);
	assert_false(c[0].usable);
	assert_false(c[1].usable);
	assert_false(c[2].usable);
	assert_true(c[3].usable);
	set_str(fdt, "/cpus/cpu@3", "riscv,isa", "rv32imac_zicsr");
	del_prop(fdt, "/cpus/cpu@2", "riscv,isa");
	assert_int_equal(dt_cpus(fdt, c, DT_MAX_CPUS), 4);
	assert_true(c[2].usable);	/* no isa: the MMU decides */
	assert_false(c[3].usable);
	/* an unterminated isa string is not trusted */
	assert_int_equal(fdt_setprop(fdt, node(fdt, "/cpus/cpu@2"), "riscv,isa", "rv64", 4), 0);
	assert_int_equal(dt_cpus(fdt, c, DT_MAX_CPUS), 4);
	assert_false(c[2].usable);
	free(fdt);
}

static void test_cpus_errors(void **state)
{
	void *fdt = dup_blob(virt4);
	struct dt_cpu c[DT_MAX_CPUS];

	assert_int_equal(dt_cpus(virt4, c, 3), -KE_NOSPC);
	assert_int_equal(dt_cpus(virt4, NULL, 4), -KE_INVAL);
	assert_int_equal(dt_cpus(virt4, c, -1), -KE_INVAL);
	del_prop(fdt, "/cpus/cpu@1", "reg");
	assert_int_equal(dt_cpus(fdt, c, DT_MAX_CPUS), -KE_NODATA);
	assert_int_equal(fdt_setprop(fdt, node(fdt, "/cpus/cpu@1"), "reg", "", 0), 0);
	assert_int_equal(dt_cpus(fdt, c, DT_MAX_CPUS), -KE_INVAL);
	set_u32(fdt, "/cpus", "#address-cells", 2);
	set_cells(fdt, "/cpus/cpu@1", "reg", (const uint32_t[]){ 1, 0 }, 2);
	set_cells(fdt, "/cpus/cpu@0", "reg", (const uint32_t[]){ 0, 0 }, 2);
	set_cells(fdt, "/cpus/cpu@2", "reg", (const uint32_t[]){ 0, 2 }, 2);
	set_cells(fdt, "/cpus/cpu@3", "reg", (const uint32_t[]){ 0, 3 }, 2);
	assert_int_equal(dt_cpus(fdt, c, DT_MAX_CPUS), -KE_RANGE);	/* hartid 2^32 */
	free(fdt);
	fdt = dup_blob(virt4);
	assert_int_equal(fdt_del_node(fdt, node(fdt, "/cpus")), 0);
	assert_int_equal(dt_cpus(fdt, c, DT_MAX_CPUS), -KE_NOENT);
	assert_int_equal(dt_timebase(fdt), -KE_NOENT);
	free(fdt);
}

static void test_cpus_no_intc(void **state)
{
	void *fdt = dup_blob(virt4);
	struct dt_cpu c[DT_MAX_CPUS];

	assert_int_equal(fdt_del_node(fdt, node(fdt, "/cpus/cpu@1/interrupt-controller")), 0);
	assert_int_equal(dt_cpus(fdt, c, DT_MAX_CPUS), 4);
	assert_int_equal(c[1].intc_phandle, 0);
	assert_int_equal(c[0].intc_phandle, 8);
	free(fdt);
}

static void test_timebase(void **state)
{
	void *fdt = dup_blob(virt4);

	assert_int_equal(dt_timebase(virt4), 10000000);
	assert_int_equal(dt_timebase(virt1), 10000000);
	assert_int_equal(dt_timebase(sifive), 1000000);
	set_cells(fdt, "/cpus", "timebase-frequency", (const uint32_t[]){ 1, 0 }, 2);
	assert_int_equal(dt_timebase(fdt), 1L << 32);
	set_u32(fdt, "/cpus", "timebase-frequency", 0);
	assert_int_equal(dt_timebase(fdt), -KE_INVAL);
	assert_int_equal(fdt_setprop(fdt, node(fdt, "/cpus"), "timebase-frequency", "abc", 3), 0);
	assert_int_equal(dt_timebase(fdt), -KE_INVAL);
	set_cells(fdt, "/cpus", "timebase-frequency", (const uint32_t[]){ 0x80000000, 0 }, 2);
	assert_int_equal(dt_timebase(fdt), -KE_RANGE);
	del_prop(fdt, "/cpus", "timebase-frequency");
	assert_int_equal(dt_timebase(fdt), -KE_NODATA);
	free(fdt);
}

/* --- memory and reservations ----------------------------------------- */

static void test_memory_real(void **state)
{
	struct dt_range r[DT_MAX_REGIONS];

	assert_int_equal(dt_memory(virt4, r, DT_MAX_REGIONS), 1);
	assert_int_equal(r[0].base, 0x80000000);
	assert_int_equal(r[0].size, 256 << 20);
	assert_int_equal(dt_memory(virt1, r, DT_MAX_REGIONS), 1);
	assert_int_equal(r[0].size, 256 << 20);
	assert_int_equal(dt_memory(sifive, r, DT_MAX_REGIONS), 1);
	assert_int_equal(r[0].base, 0x80000000);
	assert_int_equal(r[0].size, 512 << 20);
	assert_int_equal(dt_memory(virt4, r, 0), -KE_NOSPC);
	assert_int_equal(dt_memory(virt4, NULL, 1), -KE_INVAL);
}

static int add_node(void *fdt, const char *parent, const char *name)
{
	int off = fdt_add_subnode(fdt, node(fdt, parent), name);

	assert_true(off >= 0);
	return off;
}

/* Two banks, every reg entry of every memory node, disabled ones skipped. */
static void test_memory_banks(void **state)
{
	void *fdt = dup_blob(virt4);
	struct dt_range r[DT_MAX_REGIONS];

	add_node(fdt, "/", "memory@100000000");
	set_str(fdt, "/memory@100000000", "device_type", "memory");
	set_cells(fdt, "/memory@100000000", "reg",
		  (const uint32_t[]){ 1, 0, 0, 0x1000000, 2, 0, 1, 0 }, 8);
	add_node(fdt, "/", "memory@c0000000");
	set_str(fdt, "/memory@c0000000", "device_type", "memory");
	set_str(fdt, "/memory@c0000000", "status", "disabled");
	set_cells(fdt, "/memory@c0000000", "reg", (const uint32_t[]){ 0, 0xc0000000, 0, 0x1000 }, 4);
	/* fdt_add_subnode() makes a node its parent's first child */
	assert_int_equal(dt_memory(fdt, r, DT_MAX_REGIONS), 3);
	assert_int_equal(r[0].base, 0x100000000ull);
	assert_int_equal(r[0].size, 0x1000000);
	assert_int_equal(r[1].base, 0x200000000ull);
	assert_int_equal(r[1].size, 0x100000000ull);
	assert_int_equal(r[2].base, 0x80000000);
	assert_int_equal(dt_memory(fdt, r, 2), -KE_NOSPC);
	free(fdt);
}

static void test_memory_errors(void **state)
{
	void *fdt = dup_blob(virt4);
	struct dt_range r[DT_MAX_REGIONS];

	set_cells(fdt, "/memory@80000000", "reg", (const uint32_t[]){ 0, 0x80000000, 0 }, 3);
	assert_int_equal(dt_memory(fdt, r, DT_MAX_REGIONS), -KE_INVAL);
	set_cells(fdt, "/memory@80000000", "reg",
		  (const uint32_t[]){ 0xffffffff, 0xfffff000, 0, 0x2000 }, 4);
	assert_int_equal(dt_memory(fdt, r, DT_MAX_REGIONS), -KE_RANGE);
	set_cells(fdt, "/memory@80000000", "reg",
		  (const uint32_t[]){ 0xffffffff, 0xfffff000, 0, 0x1000 }, 4);
	assert_int_equal(dt_memory(fdt, r, DT_MAX_REGIONS), 1);	/* ends at 2^64 */
	del_prop(fdt, "/memory@80000000", "reg");
	assert_int_equal(dt_memory(fdt, r, DT_MAX_REGIONS), -KE_NODATA);
	free(fdt);
}

static void test_reserved_none(void **state)
{
	struct dt_range r[DT_MAX_REGIONS];

	assert_int_equal(dt_reserved(virt4, r, DT_MAX_REGIONS), 0);
	assert_int_equal(dt_reserved(sifive, r, DT_MAX_REGIONS), 0);
	assert_int_equal(dt_reserved(virt4, NULL, 1), -KE_INVAL);
}

/* What OpenSBI adds: /reserved-memory/mmode_resv0 over its own image. */
static void *with_reserved(uint32_t ac, uint32_t sc)
{
	void *fdt = dup_blob(virt4);

	add_node(fdt, "/", "reserved-memory");
	set_u32(fdt, "/reserved-memory", "#address-cells", ac);
	set_u32(fdt, "/reserved-memory", "#size-cells", sc);
	assert_int_equal(fdt_setprop(fdt, node(fdt, "/reserved-memory"), "ranges", NULL, 0), 0);
	add_node(fdt, "/reserved-memory", "mmode_resv0@80000000");
	assert_int_equal(fdt_setprop(fdt, node(fdt, "/reserved-memory/mmode_resv0@80000000"),
				     "no-map", NULL, 0), 0);
	return fdt;
}

static void test_reserved_opensbi(void **state)
{
	void *fdt = with_reserved(2, 2);
	struct dt_range r[DT_MAX_REGIONS];

	set_cells(fdt, "/reserved-memory/mmode_resv0@80000000", "reg",
		  (const uint32_t[]){ 0, 0x80000000, 0, 0x40000 }, 4);
	add_node(fdt, "/reserved-memory", "pool");	/* dynamic: no reg */
	set_cells(fdt, "/reserved-memory/pool", "size", (const uint32_t[]){ 0, 0x100000 }, 2);
	add_node(fdt, "/reserved-memory", "off@90000000");
	set_cells(fdt, "/reserved-memory/off@90000000", "reg",
		  (const uint32_t[]){ 0, 0x90000000, 0, 0x1000 }, 4);
	set_str(fdt, "/reserved-memory/off@90000000", "status", "disabled");
	assert_int_equal(fdt_add_mem_rsv(fdt, 0x88000000, 0x2000), 0);
	assert_int_equal(dt_reserved(fdt, r, DT_MAX_REGIONS), 2);
	assert_int_equal(r[0].base, 0x88000000);
	assert_int_equal(r[0].size, 0x2000);
	assert_int_equal(r[1].base, 0x80000000);
	assert_int_equal(r[1].size, 0x40000);
	assert_int_equal(dt_reserved(fdt, r, 1), -KE_NOSPC);
	free(fdt);
}

/* /reserved-memory's own cell counts, not the root's, size its children. */
static void test_reserved_own_cells(void **state)
{
	void *fdt = with_reserved(1, 1);
	struct dt_range r[DT_MAX_REGIONS];

	set_cells(fdt, "/reserved-memory/mmode_resv0@80000000", "reg",
		  (const uint32_t[]){ 0x80000000, 0x80000, 0x80200000, 0x1000 }, 4);
	assert_int_equal(dt_reserved(fdt, r, DT_MAX_REGIONS), 2);
	assert_int_equal(r[0].base, 0x80000000);
	assert_int_equal(r[0].size, 0x80000);
	assert_int_equal(r[1].base, 0x80200000);
	assert_int_equal(r[1].size, 0x1000);
	set_cells(fdt, "/reserved-memory/mmode_resv0@80000000", "reg",
		  (const uint32_t[]){ 0x80000000, 0x80000, 0 }, 3);
	assert_int_equal(dt_reserved(fdt, r, DT_MAX_REGIONS), -KE_INVAL);
	free(fdt);
}

/* --- devices: match, reg, irq ---------------------------------------- */

static void test_uart_virt(void **state)
{
	int uart = node(virt4, "/soc/serial@10000000");
	uint64_t base, size;
	uint32_t irq;

	assert_int_equal(dt_match(virt4, uart, uart_8250), 0);
	assert_int_equal(dt_match(virt4, uart, uart_sifive), -KE_NOENT);
	assert_int_equal(dt_for_each_match(virt4, uart_8250, NULL, NULL), 1);
	assert_int_equal(dt_reg(virt4, uart, 0, &base, &size), 0);
	assert_int_equal(base, 0x10000000);
	assert_int_equal(size, 0x100);
	assert_int_equal(dt_irq(virt4, uart, 0, &irq), 0);
	assert_int_equal(irq, 10);
	assert_int_equal(dt_irq(virt4, uart, 1, &irq), -KE_NOENT);
	assert_int_equal(dt_reg(virt4, uart, 1, &base, &size), -KE_NOENT);
	assert_int_equal(dt_stdout_node(virt4), uart);
}

static int record(const void *fdt, int node, int idx, void *arg)
{
	uint64_t *bases = arg, base;

	assert_int_equal(idx, 1);
	assert_int_equal(dt_reg(fdt, node, 0, &base, NULL), 0);
	while (*bases)
		bases++;
	*bases = base;
	return 0;
}

static int stop_at_third(const void *fdt, int node, int idx, void *arg)
{
	int *calls = arg;

	return ++*calls == 3 ? 42 : 0;
}

/* Tree order (as QEMU writes it: highest slot first), stop on non-zero. */
static void test_for_each_virtio(void **state)
{
	static const char *const second[] = { "nothing,here", "virtio,mmio", NULL };
	uint64_t bases[9] = { 0 };
	int i, calls = 0;

	assert_int_equal(dt_for_each_match(virt4, virtio, NULL, NULL), 8);
	assert_int_equal(dt_for_each_match(virt4, second, record, bases), 8);
	for (i = 0; i < 8; i++)
		assert_int_equal(bases[i], 0x10008000 - 0x1000 * i);
	assert_int_equal(dt_for_each_match(virt4, virtio, stop_at_third, &calls), 42);
	assert_int_equal(calls, 3);
	assert_int_equal(dt_for_each_match(virt4, NULL, NULL, NULL), -KE_INVAL);
}

/* Every string of a compatible list counts, not only the first. */
static void test_match_stringlist(void **state)
{
	static const char *const syscon[] = { "syscon", NULL };
	static const char *const none[] = { NULL };
	int test = node(virt4, "/soc/test@100000");
	int plic = node(virt4, "/soc/plic@c000000");

	assert_int_equal(dt_match(virt4, test, syscon), 0);
	assert_int_equal(dt_match(virt4, plic, plic_compat), 0);
	assert_int_equal(dt_match(virt4, plic, plic_compat + 1), 0);
	assert_int_equal(dt_match(virt4, test, none), -KE_NOENT);
	assert_int_equal(dt_match(virt4, node(virt4, "/cpus"), syscon), -KE_NOENT);
	assert_int_equal(dt_match(virt4, -1, syscon), -KE_INVAL);
	assert_int_equal(dt_match(virt4, test, NULL), -KE_INVAL);
	assert_int_equal(dt_match(virt4, test + 1, syscon), -KE_INVAL);	/* not a node */
	assert_int_equal(dt_for_each_match(virt4, syscon, NULL, NULL), 1);
	/* a prefix of a compatible string is not a match */
	assert_int_equal(dt_match(virt4, test, (const char *const[]){ "sifive,test", NULL }), -KE_NOENT);
}

static void test_match_disabled(void **state)
{
	void *fdt = dup_blob(virt4);

	set_str(fdt, "/soc/serial@10000000", "status", "disabled");
	assert_int_equal(dt_match(fdt, node(fdt, "/soc/serial@10000000"), uart_8250), -KE_NOENT);
	assert_int_equal(dt_for_each_match(fdt, uart_8250, NULL, NULL), 0);
	set_str(fdt, "/soc/serial@10000000", "status", "ok");
	assert_int_equal(dt_for_each_match(fdt, uart_8250, NULL, NULL), 1);
	set_str(fdt, "/soc/serial@10000000", "status", "okay");
	assert_int_equal(dt_for_each_match(fdt, uart_8250, NULL, NULL), 1);
	set_str(fdt, "/soc/virtio_mmio@10003000", "status", "disabled");
	assert_int_equal(dt_for_each_match(fdt, virtio, NULL, NULL), 7);
	free(fdt);
}

static void test_sifive_devices(void **state)
{
	int uart0 = node(sifive, "/soc/serial@10010000");
	int eth = node(sifive, "/soc/ethernet@10090000");
	uint64_t base, size;
	uint32_t irq;

	assert_int_equal(dt_for_each_match(sifive, uart_sifive, NULL, NULL), 2);
	assert_int_equal(dt_reg(sifive, uart0, 0, &base, &size), 0);
	assert_int_equal(base, 0x10010000);
	assert_int_equal(size, 0x1000);
	assert_int_equal(dt_irq(sifive, uart0, 0, &irq), 0);
	assert_int_equal(irq, 4);
	assert_int_equal(dt_stdout_node(sifive), uart0);
	assert_int_equal(dt_reg(sifive, eth, 1, &base, &size), 0);
	assert_int_equal(base, 0x100a0000);
	assert_int_equal(size, 0x1000);
	assert_int_equal(dt_reg(sifive, eth, 2, &base, &size), -KE_NOENT);
	assert_int_equal(dt_irq(sifive, eth, 0, &irq), 0);
	assert_int_equal(irq, 53);
	/* #size-cells 0 under the ethernet node: reg is one address cell */
	assert_int_equal(dt_reg(sifive, node(sifive, "/soc/ethernet@10090000/ethernet-phy@0"),
				0, &base, &size), 0);
	assert_int_equal(base, 0);
	assert_int_equal(size, 0);
}

static void test_irq_list(void **state)
{
	int pwm = node(sifive, "/soc/pwm@10020000");
	void *fdt = dup_blob(sifive);
	uint32_t irq;
	int i;

	for (i = 0; i < 4; i++) {
		assert_int_equal(dt_irq(sifive, pwm, i, &irq), 0);
		assert_int_equal(irq, 0x2a + i);
	}
	assert_int_equal(dt_irq(sifive, pwm, 4, &irq), -KE_NOENT);
	assert_int_equal(dt_irq(sifive, pwm, -1, &irq), -KE_INVAL);
	assert_int_equal(dt_irq(sifive, pwm, 0, NULL), -KE_INVAL);
	assert_int_equal(dt_irq(sifive, node(sifive, "/soc/otp@10070000"), 0, &irq), -KE_NODATA);
	assert_int_equal(fdt_setprop(fdt, node(fdt, "/soc/pwm@10020000"), "interrupts",
				     "\0\0\0\1\0", 5), 0);
	assert_int_equal(dt_irq(fdt, node(fdt, "/soc/pwm@10020000"), 0, &irq), -KE_INVAL);
	free(fdt);
}

static void test_reg_errors(void **state)
{
	void *fdt = dup_blob(virt4);
	const char *uart = "/soc/serial@10000000";
	uint64_t base, size;

	assert_int_equal(dt_reg(virt4, 0, 0, &base, &size), -KE_INVAL);
	assert_int_equal(dt_reg(virt4, node(virt4, uart), -1, &base, &size), -KE_INVAL);
	assert_int_equal(dt_reg(virt4, node(virt4, "/soc"), 0, &base, &size), -KE_NODATA);
	set_cells(fdt, uart, "reg", (const uint32_t[]){ 0, 0x10000000, 0 }, 3);
	assert_int_equal(dt_reg(fdt, node(fdt, uart), 0, &base, &size), -KE_INVAL);
	set_cells(fdt, uart, "reg", (const uint32_t[]){ 0, 0x10000000, 0, 0x100 }, 4);
	set_u32(fdt, "/soc", "#address-cells", 3);
	assert_int_equal(dt_reg(fdt, node(fdt, uart), 0, &base, &size), -KE_RANGE);
	set_u32(fdt, "/soc", "#address-cells", 2);
	set_u32(fdt, "/soc", "#size-cells", 3);
	assert_int_equal(dt_reg(fdt, node(fdt, uart), 0, &base, &size), -KE_RANGE);
	assert_int_equal(fdt_setprop(fdt, node(fdt, "/soc"), "#size-cells", "\0\0", 2), 0);
	assert_int_equal(dt_reg(fdt, node(fdt, uart), 0, &base, &size), -KE_INVAL);
	free(fdt);
}

/* Without #address-cells/#size-cells the parent means 2 and 1. */
static void test_reg_default_cells(void **state)
{
	void *fdt = dup_blob(virt4);
	const char *uart = "/soc/serial@10000000";
	uint64_t base, size;

	del_prop(fdt, "/soc", "#address-cells");
	del_prop(fdt, "/soc", "#size-cells");
	assert_int_equal(dt_reg(fdt, node(fdt, uart), 0, &base, &size), -KE_INVAL);
	set_cells(fdt, uart, "reg", (const uint32_t[]){ 1, 0x10000000, 0x100, 0, 0x20, 0x8 }, 6);
	assert_int_equal(dt_reg(fdt, node(fdt, uart), 0, &base, &size), 0);
	assert_int_equal(base, 0x110000000ull);
	assert_int_equal(size, 0x100);
	assert_int_equal(dt_reg(fdt, node(fdt, uart), 1, &base, NULL), 0);
	assert_int_equal(base, 0x20);
	assert_int_equal(dt_reg(fdt, node(fdt, uart), 2, NULL, NULL), -KE_NOENT);
	free(fdt);
}

/* --- flash partitions ------------------------------------------------ */

#define MIB	(1024ull * 1024)
#define FLASH	(32 * MIB)

static int flash(const char *unit)
{
	char path[64];

	snprintf(path, sizeof(path), "/spi@10040000/flash@%s", unit);
	return node(parts, path);
}

static int by_label(const char *unit, uint64_t dev_size, struct dt_partition *p)
{
	return dt_partition_by_label(parts, flash(unit), "ota-state", dev_size, p);
}

static void test_partition_found(void **state)
{
	struct dt_partition p;
	const char *name;

	assert_int_equal(by_label("0", FLASH, &p), 0);
	assert_int_equal(p.offset, 16 * MIB);
	assert_int_equal(p.size, 8 * MIB);
	assert_false(p.read_only);
	name = fdt_get_name(parts, p.node, NULL);
	assert_string_equal(name, "partition@1000000");
	/* other labels of the same table, one of them read-only */
	assert_int_equal(dt_partition_by_label(parts, flash("0"), "spl", FLASH, &p), 0);
	assert_int_equal(p.offset, 0x5000);
	assert_int_equal(p.size, 0x100000);
	assert_true(p.read_only);
	assert_int_equal(dt_partition_by_label(parts, flash("0"), "uboot", FLASH, &p), 0);
	assert_int_equal(p.offset, 0x105000);
	assert_int_equal(dt_partition_by_label(parts, flash("0"), "env", FLASH, &p), -KE_NOENT);
	/* two-cell addresses and sizes */
	assert_int_equal(by_label("1", FLASH, &p), 0);
	assert_int_equal(p.offset, 0x1f00000);
	assert_int_equal(p.size, 1 * MIB);
	assert_true(p.read_only);
}

/* The partition must fit the device the driver found, to the byte. */
static void test_partition_device_size(void **state)
{
	struct dt_partition p;

	assert_int_equal(by_label("0", 24 * MIB, &p), 0);
	assert_int_equal(by_label("0", 24 * MIB - 1, &p), -KE_RANGE);
	assert_int_equal(by_label("0", 16 * MIB, &p), -KE_RANGE);
	assert_int_equal(by_label("3", FLASH, &p), -KE_RANGE);
	assert_int_equal(by_label("3", 33 * MIB, &p), 0);
	assert_int_equal(by_label("b", UINT64_MAX, &p), -KE_RANGE);	/* wraps */
}

static void test_partition_malformed(void **state)
{
	struct dt_partition p = { 0 };

	assert_int_equal(by_label("2", FLASH, &p), -KE_INVAL);	/* reg too short */
	assert_int_equal(by_label("8", FLASH, &p), -KE_INVAL);	/* size 0 */
	assert_int_equal(by_label("9", FLASH, &p), -KE_INVAL);	/* no #size-cells */
	assert_int_equal(by_label("d", FLASH, &p), -KE_INVAL);	/* no reg */
	assert_int_equal(by_label("7", FLASH, &p), -KE_EXIST);	/* label twice */
	assert_int_equal(p.size, 0);	/* nothing written on failure */
}

static void test_partition_absent(void **state)
{
	struct dt_partition p;
	int spi = node(sifive, "/soc/spi@10040000/flash@0");

	assert_int_equal(by_label("4", FLASH, &p), -KE_NOENT);	/* node name only */
	assert_int_equal(by_label("5", FLASH, &p), -KE_NOENT);	/* no partitions */
	assert_int_equal(by_label("6", FLASH, &p), -KE_NOENT);	/* not fixed-partitions */
	assert_int_equal(by_label("a", FLASH, &p), -KE_NOENT);	/* label without NUL */
	assert_int_equal(by_label("c", FLASH, &p), -KE_NOENT);	/* partitions disabled */
	/* QEMU's own sifive_u tree has none either */
	assert_int_equal(dt_partition_by_label(sifive, spi, "ota-state", FLASH, &p), -KE_NOENT);
	assert_int_equal(dt_partition_by_label(parts, -1, "ota-state", FLASH, &p), -KE_INVAL);
	assert_int_equal(dt_partition_by_label(parts, flash("0"), NULL, FLASH, &p), -KE_INVAL);
	assert_int_equal(dt_partition_by_label(parts, flash("0"), "ota-state", FLASH, NULL),
			 -KE_INVAL);
}

/* What the driver checks before it falls back to its default region. */
static void test_partition_overlap(void **state)
{
	int part = -1;
	int spi = node(sifive, "/soc/spi@10040000/flash@0");

	assert_int_equal(dt_partition_overlap(parts, flash("0"), FLASH, 16 * MIB,
					      16 * MIB - 65536, &part), 1);
	assert_string_equal(fdt_get_name(parts, part, NULL), "partition@1000000");
	assert_int_equal(dt_partition_overlap(parts, flash("0"), FLASH, 24 * MIB, 8 * MIB, NULL),
			 0);
	/* the unlabelled partition counts too; ranges are half-open */
	assert_int_equal(dt_partition_overlap(parts, flash("0"), FLASH, 0x524fff, 1, &part), 1);
	assert_string_equal(fdt_get_name(parts, part, NULL), "partition@505000");
	assert_int_equal(dt_partition_overlap(parts, flash("0"), FLASH, 0x525000, 0x1000, NULL), 0);
	assert_int_equal(dt_partition_overlap(parts, flash("0"), FLASH, 0, 0x5000, NULL), 0);
	assert_int_equal(dt_partition_overlap(parts, flash("0"), FLASH, 0, 0x5001, NULL), 1);
	/* no table: nothing to overlap */
	assert_int_equal(dt_partition_overlap(parts, flash("5"), FLASH, 0, FLASH, NULL), 0);
	assert_int_equal(dt_partition_overlap(sifive, spi, FLASH, 16 * MIB, 16 * MIB, NULL), 0);
	/* a malformed table is never trusted to be clear */
	assert_int_equal(dt_partition_overlap(parts, flash("2"), FLASH, 0, 4096, NULL), -KE_INVAL);
	assert_int_equal(dt_partition_overlap(parts, flash("3"), FLASH, 0, 4096, NULL), -KE_RANGE);
	assert_int_equal(dt_partition_overlap(parts, flash("0"), FLASH, 0, 0, NULL), -KE_INVAL);
	assert_int_equal(dt_partition_overlap(parts, flash("0"), FLASH, UINT64_MAX, 2, NULL),
			 -KE_INVAL);
}

/* --- PLIC contexts ---------------------------------------------------- */

static void test_plic_virt(void **state)
{
	int plic = node(virt4, "/soc/plic@c000000");
	int ctx[8], i;
	uint64_t base, size;

	assert_int_equal(dt_for_each_match(virt4, plic_compat, NULL, NULL), 1);
	assert_int_equal(dt_reg(virt4, plic, 0, &base, &size), 0);
	assert_int_equal(base, 0xc000000);
	assert_int_equal(size, 0x600000);
	assert_int_equal(dt_plic_s_contexts(virt4, plic, ctx, 8), 4);
	for (i = 0; i < 4; i++)
		assert_int_equal(ctx[i], 2 * i + 1);
	for (; i < 8; i++)
		assert_int_equal(ctx[i], -1);
	plic = node(virt1, "/soc/plic@c000000");
	assert_int_equal(dt_plic_s_contexts(virt1, plic, ctx, 8), 1);
	assert_int_equal(ctx[0], 1);
	assert_int_equal(ctx[1], -1);
}

static void test_plic_sifive(void **state)
{
	int plic = node(sifive, "/soc/interrupt-controller@c000000");
	int ctx[8], i;

	assert_int_equal(dt_match(sifive, plic, plic_compat), 0);
	assert_int_equal(dt_plic_s_contexts(sifive, plic, ctx, 8), 4);
	assert_int_equal(ctx[0], -1);	/* E51: M context 0 only */
	for (i = 1; i < 5; i++)
		assert_int_equal(ctx[i], 2 * i);
	/* harts the kernel will never start are left out */
	assert_int_equal(dt_plic_s_contexts(sifive, plic, ctx, 3), 2);
	assert_int_equal(ctx[1], 2);
	assert_int_equal(ctx[2], 4);
}

static void test_plic_errors(void **state)
{
	void *fdt = dup_blob(virt4);
	const char *plic = "/soc/plic@c000000";
	int ctx[8];

	assert_int_equal(dt_plic_s_contexts(virt4, node(virt4, plic), NULL, 8), -KE_INVAL);
	assert_int_equal(dt_plic_s_contexts(virt4, node(virt4, plic), ctx, 0), -KE_INVAL);
	assert_int_equal(dt_plic_s_contexts(virt4, -1, ctx, 8), -KE_INVAL);
	assert_int_equal(dt_plic_s_contexts(virt4, node(virt4, "/soc"), ctx, 8), -KE_NODATA);
	set_cells(fdt, plic, "interrupts-extended", (const uint32_t[]){ 8, 11, 8 }, 3);
	assert_int_equal(dt_plic_s_contexts(fdt, node(fdt, plic), ctx, 8), -KE_INVAL);
	/* phandle 9 is the PLIC itself, not a cpu-intc */
	set_cells(fdt, plic, "interrupts-extended", (const uint32_t[]){ 8, 11, 9, 9 }, 4);
	assert_int_equal(dt_plic_s_contexts(fdt, node(fdt, plic), ctx, 8), -KE_INVAL);
	set_cells(fdt, plic, "interrupts-extended", (const uint32_t[]){ 0x77, 9 }, 2);
	assert_int_equal(dt_plic_s_contexts(fdt, node(fdt, plic), ctx, 8), -KE_INVAL);
	set_cells(fdt, plic, "interrupts-extended", (const uint32_t[]){ 8, 9, 6, 9, 8, 9 }, 6);
	assert_int_equal(dt_plic_s_contexts(fdt, node(fdt, plic), ctx, 8), -KE_INVAL);
	/* unwired contexts (0xffffffff, as on real FU540 trees) keep their slot */
	set_cells(fdt, plic, "interrupts-extended",
		  (const uint32_t[]){ 8, 0xffffffff, 6, 0xffffffff, 6, 9, 8, 9 }, 8);
	assert_int_equal(dt_plic_s_contexts(fdt, node(fdt, plic), ctx, 8), 2);
	assert_int_equal(ctx[0], 3);
	assert_int_equal(ctx[1], 2);
	free(fdt);
}

/* --- chosen: bootargs and stdout-path -------------------------------- */

static void test_bootargs(void **state)
{
	void *fdt = dup_blob(virt4);

	assert_string_equal(dt_bootargs(virt4), "");
	set_str(fdt, "/chosen", "bootargs", "console=hvc0 quiet");
	assert_string_equal(dt_bootargs(fdt), "console=hvc0 quiet");
	assert_int_equal(fdt_setprop(fdt, node(fdt, "/chosen"), "bootargs", "abc", 3), 0);
	assert_string_equal(dt_bootargs(fdt), "");
	assert_int_equal(fdt_del_node(fdt, node(fdt, "/chosen")), 0);
	assert_string_equal(dt_bootargs(fdt), "");
	assert_int_equal(dt_stdout_node(fdt), -KE_NOENT);
	free(fdt);
}

static void test_bootarg_parse(void **state)
{
	const char *args = "a b=1 c=xyz";
	char v[16];

	assert_int_equal(dt_bootarg(args, "a", v, sizeof(v)), 0);
	assert_string_equal(v, "");
	assert_int_equal(dt_bootarg(args, "b", v, sizeof(v)), 0);
	assert_string_equal(v, "1");
	assert_int_equal(dt_bootarg(args, "c", v, sizeof(v)), 0);
	assert_string_equal(v, "xyz");
	assert_int_equal(dt_bootarg(args, "d", v, sizeof(v)), -KE_NOENT);
	assert_int_equal(dt_bootarg("", "a", v, sizeof(v)), -KE_NOENT);
	assert_int_equal(dt_bootarg("   ", "a", v, sizeof(v)), -KE_NOENT);
	assert_int_equal(dt_bootarg("  \tx=9\n ", "x", v, sizeof(v)), 0);
	assert_string_equal(v, "9");
	assert_int_equal(dt_bootarg("k= a", "k", v, sizeof(v)), 0);
	assert_string_equal(v, "");
	assert_int_equal(dt_bootarg("a=b=c", "a", v, sizeof(v)), 0);
	assert_string_equal(v, "b=c");
}

static void test_bootarg_exact_key(void **state)
{
	char v[16];

	assert_int_equal(dt_bootarg("fault=1", "fa", v, sizeof(v)), -KE_NOENT);
	assert_int_equal(dt_bootarg("fault", "fa", v, sizeof(v)), -KE_NOENT);
	assert_int_equal(dt_bootarg("fa", "fault", v, sizeof(v)), -KE_NOENT);
	assert_int_equal(dt_bootarg("xfa=1", "fa", v, sizeof(v)), -KE_NOENT);
	assert_int_equal(dt_bootarg("b=fa", "fa", v, sizeof(v)), -KE_NOENT);
	assert_int_equal(dt_bootarg("fault=1 fa=2", "fa", v, sizeof(v)), 0);
	assert_string_equal(v, "2");
	assert_int_equal(dt_bootarg("x=1 y x=2", "x", v, sizeof(v)), 0);
	assert_string_equal(v, "2");	/* the last one wins */
}

static void test_bootarg_bounds(void **state)
{
	char v[4] = "zzz";

	assert_int_equal(dt_bootarg("c=xyz", "c", v, 4), 0);
	assert_string_equal(v, "xyz");
	assert_int_equal(dt_bootarg("c=wxyz", "c", v, 4), -KE_OVERFLOW);
	assert_string_equal(v, "");
	assert_int_equal(dt_bootarg("c", "c", v, 1), 0);
	assert_string_equal(v, "");
	assert_int_equal(dt_bootarg("c=1", "c", v, 1), -KE_OVERFLOW);
	assert_int_equal(dt_bootarg("c", "c", NULL, 0), 0);
	assert_int_equal(dt_bootarg("d", "c", NULL, 0), -KE_NOENT);
	assert_int_equal(dt_bootarg("c", "c", NULL, 4), -KE_INVAL);
	assert_int_equal(dt_bootarg(NULL, "c", v, 4), -KE_INVAL);
	assert_int_equal(dt_bootarg("c", NULL, v, 4), -KE_INVAL);
	assert_int_equal(dt_bootarg("c", "", v, 4), -KE_INVAL);
	assert_int_equal(dt_bootarg("a=b", "a=b", v, 4), -KE_INVAL);
	assert_int_equal(dt_bootarg("a b", "a b", v, 4), -KE_INVAL);
}

/* Sets stdout-path; offsets are taken afterwards as the edit moves nodes. */
static int stdout_for(void *fdt, const char *path)
{
	set_str(fdt, "/chosen", "stdout-path", path);
	return dt_stdout_node(fdt);
}

/* stdout-path @val names the node at @path. */
static void stdout_is(void *fdt, const char *val, const char *path)
{
	int got = stdout_for(fdt, val);

	assert_int_equal(got, node(fdt, path));
}

static void test_stdout_path(void **state)
{
	void *fdt = dup_blob(sifive);

	stdout_is(fdt, "/soc/serial@10011000:115200n8", "/soc/serial@10011000");
	stdout_is(fdt, "serial0:115200n8", "/soc/serial@10010000");
	stdout_is(fdt, "serial1", "/soc/serial@10011000");
	stdout_is(fdt, "ethernet0/ethernet-phy@0", "/soc/ethernet@10090000/ethernet-phy@0");
	stdout_is(fdt, "/soc/serial@10010000/", "/soc/serial@10010000");
	stdout_is(fdt, "/soc/serial", "/soc/serial@10010000");	/* unit address omitted */
	assert_int_equal(stdout_for(fdt, "/soc/serial@10020000"), -KE_NOENT);
	assert_int_equal(stdout_for(fdt, "serial7"), -KE_NOENT);
	assert_int_equal(stdout_for(fdt, ":9600"), -KE_NOENT);
	assert_int_equal(stdout_for(fdt, ""), -KE_NOENT);
	free(fdt);
}

/* libfdt 6.1 would recurse forever on an alias that names itself. */
static void test_stdout_bad_alias(void **state)
{
	void *fdt = dup_blob(sifive);

	set_str(fdt, "/aliases", "loop", "loop");
	set_str(fdt, "/chosen", "stdout-path", "loop");
	assert_int_equal(dt_stdout_node(fdt), -KE_NOENT);
	assert_int_equal(fdt_setprop(fdt, node(fdt, "/aliases"), "serial0", "/soc", 4), 0);
	set_str(fdt, "/chosen", "stdout-path", "serial0");
	assert_int_equal(dt_stdout_node(fdt), -KE_NOENT);
	free(fdt);
}

static void test_stdout_legacy(void **state)
{
	void *fdt = dup_blob(virt4);

	del_prop(fdt, "/chosen", "stdout-path");
	assert_int_equal(dt_stdout_node(fdt), -KE_NOENT);
	set_str(fdt, "/chosen", "linux,stdout-path", "/soc/serial@10000000");
	assert_int_equal(dt_stdout_node(fdt), node(fdt, "/soc/serial@10000000"));
	/* stdout-path wins over the legacy name */
	stdout_is(fdt, "/soc/rtc@101000", "/soc/rtc@101000");
	free(fdt);
}

/* The boot path: OpenSBI's edits plus a console chosen with options. */
static void test_opensbi_like_blob(void **state)
{
	void *fdt = dup_blob(sifive);
	struct dt_cpu c[DT_MAX_CPUS];
	char v[32];
	int i, usable = 0;

	set_str(fdt, "/cpus/cpu@0", "status", "disabled");
	set_str(fdt, "/chosen", "bootargs", "console=ttySIF0 test=devtree");
	set_str(fdt, "/chosen", "stdout-path", "serial0:115200");
	assert_int_equal(dt_check(fdt, fdt_totalsize(fdt)), 0);
	assert_int_equal(dt_cpus(fdt, c, DT_MAX_CPUS), 5);
	for (i = 0; i < 5; i++)
		usable += c[i].usable;
	assert_int_equal(usable, 4);
	assert_int_equal(dt_bootarg(dt_bootargs(fdt), "test", v, sizeof(v)), 0);
	assert_string_equal(v, "devtree");
	assert_int_equal(dt_match(fdt, dt_stdout_node(fdt), uart_sifive), 0);
	free(fdt);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_check_real_blobs),
		cmocka_unit_test(test_check_size_limits),
		cmocka_unit_test(test_check_bad_magic),
		cmocka_unit_test(test_check_misaligned),
		cmocka_unit_test(test_check_block_alignment),
		cmocka_unit_test(test_check_truncated),
		cmocka_unit_test(test_check_truncated_struct),
		cmocka_unit_test(test_check_header_blocks),
		cmocka_unit_test(test_check_unbalanced),
		cmocka_unit_test(test_check_bad_prop_name),
		cmocka_unit_test(test_cpus_virt4),
		cmocka_unit_test(test_cpus_sifive),
		cmocka_unit_test(test_cpus_status),
		cmocka_unit_test(test_cpus_mmu_and_isa),
		cmocka_unit_test(test_cpus_errors),
		cmocka_unit_test(test_cpus_no_intc),
		cmocka_unit_test(test_timebase),
		cmocka_unit_test(test_memory_real),
		cmocka_unit_test(test_memory_banks),
		cmocka_unit_test(test_memory_errors),
		cmocka_unit_test(test_reserved_none),
		cmocka_unit_test(test_reserved_opensbi),
		cmocka_unit_test(test_reserved_own_cells),
		cmocka_unit_test(test_uart_virt),
		cmocka_unit_test(test_for_each_virtio),
		cmocka_unit_test(test_match_stringlist),
		cmocka_unit_test(test_match_disabled),
		cmocka_unit_test(test_sifive_devices),
		cmocka_unit_test(test_irq_list),
		cmocka_unit_test(test_reg_errors),
		cmocka_unit_test(test_reg_default_cells),
		cmocka_unit_test(test_partition_found),
		cmocka_unit_test(test_partition_device_size),
		cmocka_unit_test(test_partition_malformed),
		cmocka_unit_test(test_partition_absent),
		cmocka_unit_test(test_partition_overlap),
		cmocka_unit_test(test_plic_virt),
		cmocka_unit_test(test_plic_sifive),
		cmocka_unit_test(test_plic_errors),
		cmocka_unit_test(test_bootargs),
		cmocka_unit_test(test_bootarg_parse),
		cmocka_unit_test(test_bootarg_exact_key),
		cmocka_unit_test(test_bootarg_bounds),
		cmocka_unit_test(test_stdout_path),
		cmocka_unit_test(test_stdout_bad_alias),
		cmocka_unit_test(test_stdout_legacy),
		cmocka_unit_test(test_opensbi_like_blob),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
