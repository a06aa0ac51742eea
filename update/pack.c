/*
 * Update pack parser: turns a FIT blob received by the OTA agent into a
 * struct pack, rejecting anything that is not exactly a pack as
 * docs/pack-format.md describes it, before the update engine looks at
 * versions or the loader at code.
 *
 * Locking: none. The blob is only read and the result goes to the caller's
 * struct pack; the caller keeps the blob unchanged while it uses the result.
 *
 * The blob comes from the network, so nothing in it is trusted: the header
 * and the whole structure are checked first (dt_check() walks every tag),
 * after which libfdt's lookups stay inside the blob; this file then checks
 * every property length itself and never follows a string it has not seen
 * end in a NUL within its property. External data (mkimage -E) is located
 * the way U-Boot's fit_image_get_data_and_size() does and bounds-checked
 * against the bytes actually received.
 *
 * Order of checks (docs/pack-format.md): structure, configuration, step
 * properties, the configuration signature, then hashes: the hash values
 * are only worth checking once the signature (update/fit_sig.c, U-Boot's
 * verified-boot rules, against the public key dtb of update/keys.S) says
 * they are the publisher's.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <libfdt.h>
#include <kernel/devtree.h>
#include <kernel/errno.h>
#include <kernel/fit_sig.h>
#include <kernel/pack.h>
#include <kernel/sha256.h>
#include <kernel/stage_stats.h>

#define FDT_MIN_VERSION	17	/* what mkimage writes; has size_dt_struct */

/* Where the parse is, for the error message. */
struct pack_ctx {
	const void *fit;
	size_t size;
	char *err;
	size_t errlen;
};

__attribute__((format(printf, 3, 4)))
static int pack_fail(struct pack_ctx *c, int code, const char *fmt, ...)
{
	va_list ap;

	if (c->err && c->errlen) {
		va_start(ap, fmt);
		vsnprintf(c->err, c->errlen, fmt, ap);
		va_end(ap);
	}
	return code;
}

/* [a-z0-9_-]{1,31}: class names end up in log lines and status JSON. */
static bool pack_class_ok(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len >= PACK_CLASS_MAX)
		return false;
	for (i = 0; i < len; i++) {
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
		      s[i] == '_' || s[i] == '-'))
			return false;
	}
	return true;
}

/* Decimal u32, digits only: no sign, no spaces, no overflow. */
static bool pack_parse_u32(const char *s, uint32_t *out)
{
	uint64_t v = 0;

	if (*s == '\0')
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return false;
		v = v * 10 + (uint64_t)(*s - '0');
		if (v > UINT32_MAX)
			return false;
	}
	*out = (uint32_t)v;
	return true;
}

/* --- the blob and the configuration ------------------------------------ */

static int pack_check_blob(struct pack_ctx *c)
{
	const void *fit = c->fit;

	if ((uintptr_t)fit & 7)
		return pack_fail(c, -KE_INVAL, "fit: blob not 8-byte aligned");
	/* the header checks read header fields before knowing the size */
	if (c->size < sizeof(struct fdt_header))
		return pack_fail(c, -KE_BADMSG, "fit: truncated header");
	if (fdt_magic(fit) != FDT_MAGIC)
		return pack_fail(c, -KE_BADMSG, "fit: bad magic");
	if (fdt_check_header(fit) || fdt_version(fit) < FDT_MIN_VERSION)
		return pack_fail(c, -KE_BADMSG, "fit: bad header");
	if (fdt_totalsize(fit) > c->size)
		return pack_fail(c, -KE_BADMSG, "fit: truncated (%lu of %lu bytes)",
				 (unsigned long)c->size, (unsigned long)fdt_totalsize(fit));
	if (dt_check(fit, c->size))
		return pack_fail(c, -KE_BADMSG, "fit: bad structure");
	return 0;
}

/* The node /configurations `default` names. */
static int pack_find_config(struct pack_ctx *c, struct pack *p)
{
	int confs, cfg, ret;

	confs = dt_subnode(c->fit, 0, "configurations");
	if (confs < 0)
		return pack_fail(c, confs, "fit: no /configurations");
	ret = dt_prop_string(c->fit, confs, "default", &p->config);
	if (ret == -KE_NOENT)
		return pack_fail(c, ret, "configurations: no default");
	if (ret)
		return pack_fail(c, ret, "configurations: bad default");
	cfg = dt_subnode(c->fit, confs, p->config);
	if (cfg < 0)
		return pack_fail(c, cfg, "config %.32s: not found", p->config);
	return cfg;
}

/* update,seq and the loadables; @nodes gets each step's image node. */
static int pack_parse_config(struct pack_ctx *c, struct pack *p, int cfg, int *nodes)
{
	const char *name, *list;
	unsigned int i, j, n;
	int images, len, ret;

	ret = dt_prop_u32(c->fit, cfg, "update,seq", &p->seq);
	if (ret)
		return pack_fail(c, ret, "config %s: %s update,seq", p->config,
				 ret == -KE_NOENT ? "no" : "bad");
	ret = dt_prop_strlist(c->fit, cfg, "loadables", &list, &len, &n);
	if (ret)
		return pack_fail(c, ret, "config %s: %s loadables", p->config,
				 ret == -KE_NOENT ? "no" : "bad");
	if (n > PACK_MAX_STEPS)
		return pack_fail(c, -KE_RANGE, "config %s: %u loadables, at most %u",
				 p->config, n, PACK_MAX_STEPS);
	images = dt_subnode(c->fit, 0, "images");
	if (images < 0)
		return pack_fail(c, images, "fit: no /images");
	for (i = 0, name = list; i < n; i++, name += strlen(name) + 1) {
		nodes[i] = dt_subnode(c->fit, images, name);
		if (nodes[i] < 0)
			return pack_fail(c, nodes[i], "config %s: no image %.32s",
					 p->config, name);
		for (j = 0; j < i; j++) {
			if (nodes[j] == nodes[i])
				return pack_fail(c, -KE_INVAL, "config %s: %.32s listed twice",
						 p->config, name);
		}
		p->steps[i].name = name;
	}
	p->nsteps = n;
	return 0;
}

/* --- one step ------------------------------------------------------------- */

/* A string property that must hold @want: FIT sanity fields. */
static int pack_expect(struct pack_ctx *c, const struct pack_step *s, int node,
		       const char *prop, const char *want)
{
	const char *v;
	int ret = dt_prop_string(c->fit, node, prop, &v);

	if (ret == -KE_NOENT)
		return pack_fail(c, ret, "image %s: no %s", s->name, prop);
	if (ret)
		return pack_fail(c, ret, "image %s: bad %s", s->name, prop);
	if (strcmp(v, want))
		return pack_fail(c, -KE_NOTSUP, "image %s: %s \"%.16s\" not supported",
				 s->name, prop, v);
	return 0;
}

static int pack_step_fit_props(struct pack_ctx *c, const struct pack_step *s, int node)
{
	static const char *const want[][2] = {
		{ "type", "firmware" }, { "arch", "riscv" },
		{ "os", "elf" }, { "compression", "none" },
	};
	unsigned int i;
	int ret;

	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		ret = pack_expect(c, s, node, want[i][0], want[i][1]);
		if (ret)
			return ret;
	}
	return 0;
}

/* Reports a property error of step @s: absent or malformed. */
static int pack_prop_fail(struct pack_ctx *c, const struct pack_step *s, int ret,
			  const char *prop)
{
	return pack_fail(c, ret, "image %s: %s %s", s->name,
			 ret == -KE_NOENT ? "no" : "bad", prop);
}

static int pack_step_update_props(struct pack_ctx *c, struct pack_step *s, int node)
{
	const char *mode;
	int ret;

	ret = dt_prop_string(c->fit, node, "update,class", &s->class_name);
	if (!ret && !pack_class_ok(s->class_name, strlen(s->class_name)))
		ret = -KE_INVAL;
	if (ret)
		return pack_prop_fail(c, s, ret, "update,class");
	if ((ret = dt_prop_u32(c->fit, node, "update,from", &s->from)))
		return pack_prop_fail(c, s, ret, "update,from");
	if ((ret = dt_prop_u32(c->fit, node, "update,to", &s->to)))
		return pack_prop_fail(c, s, ret, "update,to");
	if ((ret = dt_prop_string(c->fit, node, "update,abi", &s->abi)))
		return pack_prop_fail(c, s, ret, "update,abi");
	ret = dt_prop_string(c->fit, node, "update,mode", &mode);
	if (ret == -KE_NOENT)
		s->mode = PACK_MODE_DEFAULT;
	else if (!ret && !strcmp(mode, "lazy"))
		s->mode = PACK_MODE_LAZY;
	else if (!ret && !strcmp(mode, "eager"))
		s->mode = PACK_MODE_EAGER;
	else
		return pack_prop_fail(c, s, ret ? ret : -KE_INVAL, "update,mode");
	return 0;
}

/* One "<class>>=<version>" entry of update,requires. */
static bool pack_parse_require(const char *e, struct pack_require *r)
{
	const char *ge = strstr(e, ">=");

	if (!ge || !pack_class_ok(e, (size_t)(ge - e)))
		return false;
	memcpy(r->class_name, e, (size_t)(ge - e));
	r->class_name[ge - e] = '\0';
	return pack_parse_u32(ge + 2, &r->min_version);
}

static int pack_step_requires(struct pack_ctx *c, struct pack_step *s, int node)
{
	const char *list, *e;
	unsigned int i, n;
	int len, ret;

	ret = dt_prop_strlist(c->fit, node, "update,requires", &list, &len, &n);
	if (ret == -KE_NOENT)
		return 0;
	if (ret)
		return pack_prop_fail(c, s, ret, "update,requires");
	if (n > PACK_MAX_REQUIRES)
		return pack_fail(c, -KE_RANGE, "image %s: %u update,requires, at most %u",
				 s->name, n, PACK_MAX_REQUIRES);
	for (i = 0, e = list; i < n; i++, e += strlen(e) + 1) {
		if (!pack_parse_require(e, &s->requires[i]))
			return pack_fail(c, -KE_INVAL, "image %s: bad update,requires \"%.40s\"",
					 s->name, e);
	}
	s->nrequires = n;
	return 0;
}

/*
 * mkimage -E data: `data-position` counts from the blob start (-p);
 * `data-offset` from the FDT end rounded up to 4 bytes, where mkimage
 * (and U-Boot's reader) put the first external image.
 */
static int pack_step_external(struct pack_ctx *c, struct pack_step *s, int node)
{
	bool has_pos = fdt_getprop(c->fit, node, "data-position", NULL) != NULL;
	const char *prop = has_pos ? "data-position" : "data-offset";
	uint32_t where, len, fdt_end = fdt_totalsize(c->fit);
	uint64_t start;
	int ret;

	if (has_pos && fdt_getprop(c->fit, node, "data-offset", NULL))
		return pack_fail(c, -KE_INVAL, "image %s: both data-position and data-offset",
				 s->name);
	if ((ret = dt_prop_u32(c->fit, node, prop, &where)))
		return pack_prop_fail(c, s, ret, prop);
	if ((ret = dt_prop_u32(c->fit, node, "data-size", &len)))
		return pack_prop_fail(c, s, ret, "data-size");
	if (has_pos && where < fdt_end)
		return pack_fail(c, -KE_INVAL, "image %s: data-position inside the FDT", s->name);
	start = has_pos ? where : (((uint64_t)fdt_end + 3) & ~(uint64_t)3) + where;
	if (start > c->size || len > c->size - start)
		return pack_fail(c, -KE_BADMSG, "image %s: external data past end of pack",
				 s->name);
	s->data = (const uint8_t *)c->fit + start;
	s->size = len;
	return 0;
}

/* Inline `data` or external data, never both: one image, one meaning. */
static int pack_step_data(struct pack_ctx *c, struct pack_step *s, int node)
{
	static const char *const ext_props[] = { "data-position", "data-offset", "data-size" };
	const void *data;
	bool external = false;
	unsigned int i;
	int len, ret;

	for (i = 0; i < sizeof(ext_props) / sizeof(ext_props[0]); i++)
		external |= fdt_getprop(c->fit, node, ext_props[i], NULL) != NULL;
	data = fdt_getprop(c->fit, node, "data", &len);
	if (data && external)
		return pack_fail(c, -KE_INVAL, "image %s: both data and external data",
				 s->name);
	if (data) {
		s->data = data;
		s->size = (size_t)len;
	} else if (external) {
		if ((ret = pack_step_external(c, s, node)))
			return ret;
	} else {
		return pack_fail(c, len == -FDT_ERR_NOTFOUND ? -KE_NOENT : -KE_BADMSG,
				 "image %s: no data", s->name);
	}
	if (s->size == 0)
		return pack_fail(c, -KE_INVAL, "image %s: empty data", s->name);
	return 0;
}

static int pack_parse_step(struct pack_ctx *c, struct pack_step *s, int node)
{
	int ret;

	if ((ret = pack_step_fit_props(c, s, node)))
		return ret;
	if ((ret = pack_step_update_props(c, s, node)))
		return ret;
	if ((ret = pack_step_requires(c, s, node)))
		return ret;
	return pack_step_data(c, s, node);
}

/* --- the configuration signature ---------------------------------------- */

#ifdef HOST_TEST
/* Host tests bring their own keys (pack_set_keys()); none: every pack fails. */
static const void *pack_keys;
static size_t pack_keys_size;

void pack_set_keys(const void *keys_dtb, size_t size)
{
	pack_keys = keys_dtb;
	pack_keys_size = size;
}

static const void *pack_get_keys(size_t *size)
{
	*size = pack_keys_size;
	return pack_keys;
}
#else
extern const uint8_t update_keys_dtb[], update_keys_dtb_end[];

/* The kernel's keys are the rodata of update/keys.S: nothing can swap them. */
static const void *pack_get_keys(size_t *size)
{
	*size = (size_t)(update_keys_dtb_end - update_keys_dtb);
	return update_keys_dtb;
}
#endif

/* The configuration must be signed as the keys' policy asks (fit_sig.h). */
static int pack_verify_signature(struct pack_ctx *c, const struct pack *p)
{
	size_t size;
	const void *keys = pack_get_keys(&size);

	int rc;

	if (!keys)
		return pack_fail(c, -KE_NOENT, "pack: no public keys");
	rc = fit_sig_verify(c->fit, c->size, p->config, keys, size, c->err, c->errlen);
	/* Unsigned, or signed by a key we do not hold: not authentic, like a bad signature. */
	return rc == -KE_NOENT ? -KE_PERM : rc;
}

/* --- image hashes --------------------------------------------------------- */

/* One sha256 hash node: its value must be the digest of the step's data. */
static int pack_check_sha256(struct pack_ctx *c, const struct pack_step *s, int hnode,
			     const char *hname, const uint8_t *digest)
{
	const void *v;
	int len;

	v = fdt_getprop(c->fit, hnode, "value", &len);
	if (!v)
		return pack_fail(c, len == -FDT_ERR_NOTFOUND ? -KE_NOENT : -KE_BADMSG,
				 "image %s: %s has no value", s->name, hname);
	if (len != SHA256_DIGEST_SIZE)
		return pack_fail(c, -KE_INVAL, "image %s: %s value is %d bytes",
				 s->name, hname, len);
	if (memcmp(v, digest, SHA256_DIGEST_SIZE))
		return pack_fail(c, -KE_FAULT, "image %s: sha256 mismatch", s->name);
	return 0;
}

/*
 * Every hash-* node of the image. All sha256 ones must match; other
 * algorithms (crc32, sha1, ...) are ignored beside a sha256 one, and
 * without one the image is unsupported: nothing else is trusted.
 */
static int pack_check_hashes(struct pack_ctx *c, const struct pack_step *s, int node)
{
	uint8_t digest[SHA256_DIGEST_SIZE];
	unsigned int nsha = 0, nother = 0;
	const char *hname, *algo;
	int hnode, ret;

	fdt_for_each_subnode(hnode, c->fit, node) {
		hname = fdt_get_name(c->fit, hnode, NULL);
		if (!hname || strncmp(hname, "hash", 4))
			continue;
		ret = dt_prop_string(c->fit, hnode, "algo", &algo);
		if (ret)
			return pack_fail(c, ret, "image %s: %s has %s algo", s->name, hname,
					 ret == -KE_NOENT ? "no" : "bad");
		if (strcmp(algo, "sha256")) {
			nother++;
			continue;
		}
		if (nsha++ == 0)
			sha256(s->data, s->size, digest);
		if ((ret = pack_check_sha256(c, s, hnode, hname, digest)))
			return ret;
	}
	if (hnode != -FDT_ERR_NOTFOUND)
		return pack_fail(c, -KE_BADMSG, "image %s: bad subnodes", s->name);
	if (nsha == 0 && nother)
		return pack_fail(c, -KE_NOTSUP, "image %s: no sha256 hash, other algos only",
				 s->name);
	if (nsha == 0)
		return pack_fail(c, -KE_NOENT, "image %s: no sha256 hash", s->name);
	return 0;
}

/* Structure, configuration and step properties: everything before the signature. */
static int pack_parse_structure(struct pack_ctx *c, struct pack *p, int *nodes)
{
	unsigned int i;
	int cfg, ret;

	if ((ret = pack_check_blob(c)))
		return ret;
	if ((cfg = pack_find_config(c, p)) < 0)
		return cfg;
	if ((ret = pack_parse_config(c, p, cfg, nodes)))
		return ret;
	for (i = 0; i < p->nsteps; i++) {
		if ((ret = pack_parse_step(c, &p->steps[i], nodes[i])))
			return ret;
	}
	return 0;
}

int pack_parse(const void *fit, size_t size, struct pack *p, char *err, size_t errlen)
{
	struct pack_ctx c = { .fit = fit, .size = size, .err = err, .errlen = errlen };
	int nodes[PACK_MAX_STEPS];
	unsigned int i;
	int ret = 0;

	if (err && errlen)
		err[0] = '\0';
	if (!fit || !p)
		return pack_fail(&c, -KE_INVAL, "pack: no blob");
	memset(p, 0, sizeof(*p));
	stage_begin(STAGE_PARSE);
	ret = pack_parse_structure(&c, p, nodes);
	stage_end(STAGE_PARSE);
	if (ret)
		return ret;
	/* its verdict is what makes the hash values below worth comparing */
	stage_begin(STAGE_SIGNATURE);
	ret = pack_verify_signature(&c, p);
	stage_end(STAGE_SIGNATURE);
	if (ret)
		return ret;
	stage_begin(STAGE_HASHES);
	for (i = 0; i < p->nsteps && !ret; i++)
		ret = pack_check_hashes(&c, &p->steps[i], nodes[i]);
	stage_end(STAGE_HASHES);
	return ret;
}
