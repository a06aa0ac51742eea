/*
 * Devicetree queries on top of libfdt: what the kernel needs to find its
 * memory, its harts and its devices. Pure logic (no CSR access), so it is
 * unit-tested on the host against real DTBs dumped from QEMU.
 *
 * Every function checks the blob it is given (offsets, lengths, cell
 * counts); a malformed or missing property returns a negative KE_ code.
 */
#ifndef KERNEL_DEVTREE_H
#define KERNEL_DEVTREE_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#define DT_MAX_REGIONS	16
#define DT_MAX_CPUS	16

struct dt_range {
	uint64_t base;
	uint64_t size;
};

struct dt_cpu {
	uint32_t hartid;	/* `reg` of the cpu node */
	bool usable;		/* status okay, has an MMU, ISA has S-mode */
	uint32_t intc_phandle;	/* phandle of its riscv,cpu-intc child, 0 if none */
};

/* 0 if @fdt is a well-formed blob of at most @max_size bytes, else -KE_INVAL. */
int dt_check(const void *fdt, size_t max_size);

/*
 * Index in @compat (a NULL-terminated list) of the first string the node's
 * `compatible` matches, or -KE_NOENT. A disabled node (status other than
 * "okay"/"ok") never matches.
 */
int dt_match(const void *fdt, int node, const char *const *compat);

/*
 * Calls @fn for every enabled node matching @compat, in tree order; stops
 * at the first non-zero return and returns it. Returns the number of
 * matches when @fn always returned 0.
 */
int dt_for_each_match(const void *fdt, const char *const *compat,
		      int (*fn)(const void *fdt, int node, int idx, void *arg), void *arg);

/*
 * Property readers shared by every parser of a blob (src/devtree_prop.c):
 * 0; -KE_NOENT if the property is absent; -KE_INVAL if it is malformed;
 * -KE_BADMSG if @node is not a node of a sound blob.
 */
/* Exactly one cell. */
int dt_prop_u32(const void *fdt, int node, const char *name, uint32_t *out);
/* One cell, or @dflt when it is absent or malformed (optional driver tunables). */
uint32_t dt_prop_u32_or(const void *fdt, int node, const char *name, uint32_t dflt);
/* One non-empty string: NUL-terminated, no NUL inside. */
int dt_prop_string(const void *fdt, int node, const char *name, const char **out);
/* The same, or NULL when it is absent or malformed. */
const char *dt_prop_str(const void *fdt, int node, const char *name);
/* A list of non-empty strings, @len bytes in all; their count in @n. */
int dt_prop_strlist(const void *fdt, int node, const char *name, const char **out, int *len,
		    unsigned int *n);
/*
 * The subnode of @parent named exactly @name (fdt_subnode_offset() would
 * also take "x@1" for "x", giving one node two names), -KE_NOENT or
 * -KE_BADMSG.
 */
int dt_subnode(const void *fdt, int parent, const char *name);

/* Entry @idx of the node's `reg`, with the parent's #address-cells/#size-cells. */
int dt_reg(const void *fdt, int node, int idx, uint64_t *base, uint64_t *size);

/* Entry @idx of the node's `interrupts` (one cell each, as PLIC sources are). */
int dt_irq(const void *fdt, int node, int idx, uint32_t *irq);

struct dt_partition {
	uint64_t offset;	/* from the start of the flash */
	uint64_t size;
	bool read_only;		/* the partition has `read-only` */
	int node;
};

/*
 * The partition labelled @label in the `fixed-partitions` child of flash
 * node @flash (the MTD partitions binding), checked to lie within a device
 * of @dev_size bytes. Partitions without a `label` never match.
 *   -KE_NOENT  no fixed-partitions node, or no partition with that label
 *   -KE_EXIST  more than one partition carries the label
 *   -KE_INVAL  missing or bad #address-cells/#size-cells, a reg that is not
 *              exactly one entry, or a size of 0
 *   -KE_RANGE  the partition wraps or ends beyond @dev_size
 */
int dt_partition_by_label(const void *fdt, int flash, const char *label, uint64_t dev_size,
			  struct dt_partition *out);

/*
 * Whether [@off, @off + @size) overlaps a partition of @flash's
 * fixed-partitions: 1 (its node in *@part, which may be NULL), 0 when it
 * overlaps none or there is no fixed-partitions node, or a negative code
 * when any partition's reg is malformed (as for dt_partition_by_label()).
 */
int dt_partition_overlap(const void *fdt, int flash, uint64_t dev_size, uint64_t off,
			 uint64_t size, int *part);

/* RAM from every /memory node; returns the count or a negative code. */
int dt_memory(const void *fdt, struct dt_range *out, int max);

/* /memreserve/ entries plus /reserved-memory children; count or negative. */
int dt_reserved(const void *fdt, struct dt_range *out, int max);

/* Every cpu node under /cpus; count or negative. */
int dt_cpus(const void *fdt, struct dt_cpu *out, int max);

/* /cpus timebase-frequency in Hz, or a negative code. */
long dt_timebase(const void *fdt);

/* /chosen bootargs, or "" when absent. Never NULL. */
const char *dt_bootargs(const void *fdt);

/*
 * The node /chosen stdout-path names (the console), or -KE_NOENT.
 * The ":options" suffix of stdout-path is ignored.
 */
int dt_stdout_node(const void *fdt);

/*
 * S-mode external-interrupt context of each hart for the PLIC at @plic:
 * walks `interrupts-extended` (pairs <intc-phandle irq>); the position of a
 * pair with irq 9 is that hart's S context. @ctx_of_hart[hartid] is set
 * (entries with no S context are set to -1). Returns the number of harts
 * with an S context, or a negative code.
 */
int dt_plic_s_contexts(const void *fdt, int plic, int *ctx_of_hart, int max_harts);

/*
 * Boot argument lookup in a bootargs string of space-separated `key` or
 * `key=value` words. Copies the value (empty for a bare key) into @val and
 * returns 0, or -KE_NOENT.
 */
int dt_bootarg(const char *bootargs, const char *key, char *val, size_t len);

#endif
