/*
 * Update pack parser: reads a FIT image made by mkimage (docs/pack-format.md)
 * into a struct pack, checking everything that can be checked from the
 * pack alone: the FDT structure, the default configuration, every step's
 * properties, the configuration signature (include/kernel/fit_sig.h: U-Boot
 * verified-boot rules, the kernel's public key dtb) and every sha256 image
 * hash. Chain rules (versions, sequence number against the device, ABI)
 * belong to the update engine.
 *
 * Error codes, and the LwM2M firmware result the OTA agent reports:
 *
 *   integrity failure (pack_err_integrity() is true): the bytes are damaged
 *     -KE_BADMSG	not a well-formed FDT: bad header, truncated, broken
 *			structure, external data outside the blob
 *     -KE_FAULT	an image's data does not match its sha256 value
 *     -KE_PERM		the configuration signature does not verify: RSA
 *			check failed, signed by another key (or no key we hold),
 *			no signature at all, hashed-nodes not covering the
 *			configuration, an image or a hash node
 *
 *   unsupported package: intact bytes, but not a pack this kernel takes
 *     -KE_NOENT	a required node or property is missing (no default
 *			configuration, no update,seq, a loadable naming no
 *			image, no sha256 hash node, no public keys in the
 *			kernel, ...)
 *     -KE_INVAL	a property is present but malformed (wrong length, bad
 *			class name, unknown mode, duplicate loadable, ...)
 *     -KE_NOTSUP	well-formed but unsupported value: arch other than
 *			"riscv", compression other than "none", type other than
 *			"firmware", os other than "elf", only non-sha256 hashes,
 *			a signature algo other than sha256,rsa2048/3072/4096
 *     -KE_RANGE	more than PACK_MAX_STEPS loadables or
 *			PACK_MAX_REQUIRES requirements in one step
 *
 * The caller's mistakes (NULL pointers, a blob not 8-byte aligned, which
 * libfdt requires) also return -KE_INVAL.
 */
#ifndef KERNEL_PACK_H
#define KERNEL_PACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <kernel/errno.h>

#define PACK_MAX_STEPS		16
#define PACK_MAX_REQUIRES	4
#define PACK_CLASS_MAX		32	/* class names are shorter: [a-z0-9_-]{1,31} */
#define PACK_ERR_MAX		96	/* enough for any message pack_parse() writes */

enum pack_mode {
	PACK_MODE_DEFAULT,	/* no update,mode: the class decides */
	PACK_MODE_LAZY,
	PACK_MODE_EAGER,
};

struct pack_require {
	char class_name[PACK_CLASS_MAX];
	uint32_t min_version;
};

/* One image node of the pack; pointers point into the blob. */
struct pack_step {
	const char *name;		/* image node name, e.g. "step-1" */
	const char *class_name;		/* update,class */
	uint32_t from, to;		/* update,from / update,to (not yet chain-checked) */
	const char *abi;		/* update,abi */
	enum pack_mode mode;		/* update,mode */
	const void *data;		/* the module: `data`, or external data */
	size_t size;
	struct pack_require requires[PACK_MAX_REQUIRES];	/* update,requires */
	unsigned int nrequires;
};

struct pack {
	uint32_t seq;			/* update,seq of the configuration */
	unsigned int nsteps;
	struct pack_step steps[PACK_MAX_STEPS];	/* in loadables order */
	const char *config;		/* name of the configuration used */
};

/*
 * Parses and verifies the pack in @fit[0..@size). @fit must be 8-byte
 * aligned; @size may exceed the pack (trailing bytes are ignored). On
 * success fills @p and returns 0; @p points into @fit, which must outlive
 * it. On failure returns a negative code above and, if @err is not NULL,
 * writes a short NUL-terminated message naming what failed, e.g.
 * "image step-2: sha256 mismatch" or "config conf-1: no update,seq";
 * @p is then unspecified.
 *
 * Never reads outside @fit[0..@size). Supported data placement: inline
 * `data`, and mkimage -E external data: `data-offset` (relative to the FDT
 * end rounded up to 4 bytes) or `data-position` (mkimage -p, from the blob
 * start), each with `data-size`.
 */
int pack_parse(const void *fit, size_t size, struct pack *p, char *err, size_t errlen);

#ifdef HOST_TEST
/* Host tests: the key dtb (mkimage -K) pack_parse() checks signatures with. */
void pack_set_keys(const void *keys_dtb, size_t size);
#endif

/* True for the codes the OTA agent reports as an integrity failure. */
static inline bool pack_err_integrity(int err)
{
	return err == -KE_BADMSG || err == -KE_FAULT || err == -KE_PERM;
}

#endif
