/*
 * FIT configuration signature check, as U-Boot's verified boot does it
 * (include/kernel/fit_sig.h has the rules): recompute the regions of the
 * FDT that mkimage hashed, SHA-256 them, and check the RSA PKCS#1 v1.5
 * signature against the public keys of a `mkimage -K` key dtb.
 *
 * Locking: none. Both blobs are only read; all state lives on the stack
 * (about 4 KiB with the RSA key and bignum temporaries).
 *
 * Nothing in the FIT is trusted: it is checked whole (dt_check) before any
 * lookup, every property length is checked here, and the signature node's
 * own claims (hashed-nodes, hashed-strings) are checked against what the
 * kernel relies on before they are used. The region walk below reproduces
 * U-Boot's fdt_find_regions() state machine, because the bytes it selects
 * must be exactly the bytes mkimage signed:
 *
 *   want 2  a node whose path is listed: its tags and properties (but
 *	     data, data-size, data-offset, data-position) are hashed, and
 *	     so are its subnodes' begin/end tags (they get want 1);
 *   want 1  a subnode of a listed node: begin/end tags only;
 *   want 0  anything else: nothing, except that an unlisted node's end
 *	     tag is hashed when the region before it is still open;
 *   FDT_END is always hashed; then the first hashed-strings bytes of the
 *   strings block.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <libfdt.h>
#include <kernel/devtree.h>
#include <kernel/errno.h>
#include <kernel/fit_sig.h>
#include <kernel/rsa.h>
#include <kernel/sha256.h>

#define FS_FDT_VERSION	17	/* what mkimage writes; has size_dt_struct */
#define FS_MAX_DEPTH	32	/* fdt_find_regions()'s FDT_MAX_DEPTH */
#define FS_PATH_MAX	200	/* its path buffer, as U-Boot and mkimage size it */
#define FS_DEFAULT_EXP	65537	/* U-Boot's exponent when rsa,exponent is absent */

struct fs_ctx {
	const void *fit;
	size_t size;
	const void *keys;
	const char *config;	/* configuration name */
	int cfg;		/* its node */
	bool quiet;		/* keep the message already in err */
	char *err;
	size_t errlen;
};

/* What one signature-* node claims. */
struct fs_sig {
	const char *name;	/* node name, for messages */
	unsigned int bits;	/* from algo */
	const char *algo;
	const uint8_t *value;	/* the signature, bits / 8 bytes */
	const char *list;	/* hashed-nodes */
	int listlen;
	uint32_t strsize;	/* hashed-strings size */
};

/* State of the region walk (fdt_find_regions()). */
struct fs_walk {
	const void *fit;
	const struct fs_sig *s;
	struct sha256_ctx sha;
	char path[FS_PATH_MAX];
	size_t pathlen;
	int depth;
	int want;
	int saved[FS_MAX_DEPTH];	/* each open node's parent's want */
	int start;			/* open region start in the struct block, or -1 */
};

static const char *const fs_excluded[] = {
	"data", "data-size", "data-position", "data-offset",
};

__attribute__((format(printf, 3, 4)))
static int fs_fail(struct fs_ctx *c, int code, const char *fmt, ...)
{
	va_list ap;

	if (c->err && c->errlen && !c->quiet) {
		va_start(ap, fmt);
		vsnprintf(c->err, c->errlen, fmt, ap);
		va_end(ap);
	}
	return code;
}

/* --- names (properties are read by src/devtree_prop.c) ----------------- */

/* Does @node's name start with @prefix? */
static bool fs_prefixed(const void *fdt, int node, const char *prefix)
{
	const char *n = fdt_get_name(fdt, node, NULL);

	return n && strncmp(n, prefix, strlen(prefix)) == 0;
}

/* --- the blobs ----------------------------------------------------------- */

static int fs_check_blob(const void *fdt, size_t size)
{
	if (size < sizeof(struct fdt_header) || fdt_magic(fdt) != FDT_MAGIC)
		return -KE_BADMSG;
	if (fdt_check_header(fdt) || fdt_version(fdt) < FS_FDT_VERSION)
		return -KE_BADMSG;
	if (fdt_totalsize(fdt) > size || dt_check(fdt, size))
		return -KE_BADMSG;
	return 0;
}

static int fs_check_args(struct fs_ctx *c, const char *config, size_t keys_size)
{
	if (!c->fit || !config || !c->keys)
		return fs_fail(c, -KE_INVAL, "fit_sig: no blob");
	if (((uintptr_t)c->fit | (uintptr_t)c->keys) & 7)
		return fs_fail(c, -KE_INVAL, "fit_sig: blob not 8-byte aligned");
	if (fs_check_blob(c->keys, keys_size))
		return fs_fail(c, -KE_INVAL, "keys: bad key dtb");
	if (fs_check_blob(c->fit, c->size))
		return fs_fail(c, -KE_BADMSG, "fit: bad FDT (header, size or structure)");
	return 0;
}

static int fs_find_config(struct fs_ctx *c, const char *config)
{
	int confs = dt_subnode(c->fit, 0, "configurations");

	c->config = config;
	if (confs < 0)
		return fs_fail(c, -KE_NOENT, "fit: no /configurations");
	c->cfg = dt_subnode(c->fit, confs, config);
	if (c->cfg < 0)
		return fs_fail(c, -KE_NOENT, "config %.32s: not found", config);
	/* U-Boot refuses unit addresses in verified names (CVE-2021-27138) */
	if (strchr(config, '@'))
		return fs_fail(c, -KE_PERM, "config %.32s: name contains @", config);
	return 0;
}

/* --- the signature node -------------------------------------------------- */

static int fs_parse_algo(struct fs_ctx *c, int node, struct fs_sig *s)
{
	static const struct { const char *name; unsigned int bits; } algos[] = {
		{ "sha256,rsa2048", 2048 }, { "sha256,rsa3072", 3072 },
		{ "sha256,rsa4096", 4096 },
	};
	const char *pad;
	unsigned int i;

	s->algo = dt_prop_str(c->fit, node, "algo");
	if (!s->algo)
		return fs_fail(c, -KE_PERM, "%.16s: no algo", s->name);
	for (i = 0; i < sizeof(algos) / sizeof(algos[0]); i++) {
		if (!strcmp(s->algo, algos[i].name))
			s->bits = algos[i].bits;
	}
	if (!s->bits)
		return fs_fail(c, -KE_NOTSUP, "%.16s: algo %.24s not supported", s->name, s->algo);
	pad = dt_prop_str(c->fit, node, "padding");
	if (fdt_getprop(c->fit, node, "padding", NULL) && (!pad || strcmp(pad, "pkcs-1.5")))
		return fs_fail(c, -KE_NOTSUP, "%.16s: padding not supported", s->name);
	return 0;
}

static int fs_parse_value(struct fs_ctx *c, int node, struct fs_sig *s)
{
	int len;

	s->value = fdt_getprop(c->fit, node, "value", &len);
	if (!s->value)
		return fs_fail(c, -KE_PERM, "%.16s: no value", s->name);
	if ((unsigned int)len != s->bits / 8)
		return fs_fail(c, -KE_PERM, "%.16s: value is %d bytes, want %u", s->name,
			       len, s->bits / 8);
	return 0;
}

/* hashed-nodes and hashed-strings: what the regions are computed from. */
static int fs_parse_regions(struct fs_ctx *c, int node, struct fs_sig *s)
{
	const fdt32_t *hs;
	int i, len, count = 0;

	s->list = fdt_getprop(c->fit, node, "hashed-nodes", &s->listlen);
	if (!s->list || s->listlen < 1 || s->list[s->listlen - 1] != '\0')
		return fs_fail(c, -KE_PERM, "%.16s: %s hashed-nodes", s->name,
			       s->list ? "bad" : "no");
	for (i = 0; i < s->listlen; i++)
		count += s->list[i] == '\0';
	if (count > FIT_SIG_MAX_HASHED)
		return fs_fail(c, -KE_PERM, "%.16s: %d hashed-nodes, at most %d", s->name,
			       count, FIT_SIG_MAX_HASHED);
	hs = fdt_getprop(c->fit, node, "hashed-strings", &len);
	if (!hs || len != 2 * sizeof(*hs))
		return fs_fail(c, -KE_PERM, "%.16s: %s hashed-strings", s->name,
			       hs ? "bad" : "no");
	/* mkimage always hashes the strings block from its start */
	s->strsize = fdt32_ld(&hs[1]);
	if (fdt32_ld(&hs[0]) != 0 || s->strsize > fdt_size_dt_strings(c->fit))
		return fs_fail(c, -KE_PERM, "%.16s: hashed-strings outside the strings block",
			       s->name);
	return 0;
}

static int fs_parse_sig(struct fs_ctx *c, int node, struct fs_sig *s)
{
	int ret;

	memset(s, 0, sizeof(*s));
	s->name = fdt_get_name(c->fit, node, NULL);
	if (!s->name)
		return fs_fail(c, -KE_BADMSG, "config %.32s: bad signature node", c->config);
	if ((ret = fs_parse_algo(c, node, s)))
		return ret;
	if ((ret = fs_parse_value(c, node, s)))
		return ret;
	return fs_parse_regions(c, node, s);
}

/* --- hashed-nodes must cover what the kernel relies on ------------------- */

static int fs_need_path(struct fs_ctx *c, const struct fs_sig *s, const char *a,
			const char *b, const char *d)
{
	char path[FS_PATH_MAX];
	int n = snprintf(path, sizeof(path), "%s%s%s%s", a, b, d ? "/" : "", d ? d : "");

	if (n < 0 || (size_t)n >= sizeof(path))
		return fs_fail(c, -KE_PERM, "%.16s: node path too long", s->name);
	if (!fdt_stringlist_contains(s->list, s->listlen, path))
		return fs_fail(c, -KE_PERM, "%.16s: hashed-nodes lacks %.60s", s->name, path);
	return 0;
}

/* The image node and each of its hash-* nodes, whose values pack.c checks. */
static int fs_need_image(struct fs_ctx *c, const struct fs_sig *s, int images,
			 const char *name)
{
	int img, sub, ret;

	if (strchr(name, '@'))
		return fs_fail(c, -KE_PERM, "image %.32s: name contains @", name);
	img = dt_subnode(c->fit, images, name);
	if (img < 0)
		return fs_fail(c, -KE_NOENT, "config %.32s: no image %.32s", c->config, name);
	if ((ret = fs_need_path(c, s, "/images/", name, NULL)))
		return ret;
	fdt_for_each_subnode(sub, c->fit, img) {
		if (!fs_prefixed(c->fit, sub, "hash"))
			continue;
		ret = fs_need_path(c, s, "/images/", name, fdt_get_name(c->fit, sub, NULL));
		if (ret)
			return ret;
	}
	return 0;
}

/*
 * U-Boot's check: the configuration itself is hashed, else a signature
 * of another configuration would do. Here also each loadable image and
 * its hash nodes, else the signature would not vouch for their hashes.
 */
static int fs_check_hashed(struct fs_ctx *c, const struct fs_sig *s)
{
	const char *list, *name;
	int images, len, ret;

	if ((ret = fs_need_path(c, s, "/configurations/", c->config, NULL)))
		return ret;
	list = fdt_getprop(c->fit, c->cfg, "loadables", &len);
	if (!list)
		return 0;
	if (len < 1 || list[len - 1] != '\0')
		return fs_fail(c, -KE_INVAL, "config %.32s: bad loadables", c->config);
	images = dt_subnode(c->fit, 0, "images");
	if (images < 0)
		return fs_fail(c, -KE_NOENT, "fit: no /images");
	for (name = list; name < list + len; name += strlen(name) + 1) {
		if ((ret = fs_need_image(c, s, images, name)))
			return ret;
	}
	return 0;
}

/* --- the regions (fdt_find_regions()) ------------------------------------ */

static bool fs_is_excluded(const char *name)
{
	unsigned int i;

	for (i = 0; i < sizeof(fs_excluded) / sizeof(fs_excluded[0]); i++) {
		if (!strcmp(name, fs_excluded[i]))
			return true;
	}
	return false;
}

static int fs_walk_prop(struct fs_ctx *c, struct fs_walk *w, int off, bool *include)
{
	const struct fdt_property *prop = fdt_get_property_by_offset(w->fit, off, NULL);
	const char *name;
	uint32_t nameoff;
	int nlen;

	if (!prop)
		return fs_fail(c, -KE_BADMSG, "fit: bad property at %d", off);
	nameoff = fdt32_ld(&prop->nameoff);
	name = fdt_get_string(w->fit, (int)nameoff, &nlen);
	if (!name)
		return fs_fail(c, -KE_BADMSG, "fit: bad property name at %d", off);
	*include = w->want >= 2 && !fs_is_excluded(name);
	/* beyond U-Boot: a hashed name must itself lie in the hashed strings */
	if (*include && (uint64_t)nameoff + (uint64_t)nlen >= w->s->strsize)
		return fs_fail(c, -KE_PERM, "%.16s: property %.24s outside hashed-strings",
			       w->s->name, name);
	return 0;
}

/* Enters a node: its path, then its want from the parent's and the list. */
static int fs_walk_begin(struct fs_ctx *c, struct fs_walk *w, int off, bool *include,
			 bool *stop_before)
{
	int len;
	const char *name = fdt_get_name(w->fit, off, &len);

	if (!name)
		return fs_fail(c, -KE_BADMSG, "fit: bad node at %d", off);
	if (++w->depth >= FS_MAX_DEPTH)
		return fs_fail(c, -KE_BADMSG, "fit: nodes nested too deep");
	if (w->pathlen + 2 + (size_t)len >= sizeof(w->path))
		return fs_fail(c, -KE_BADMSG, "fit: node path too long");
	if (w->pathlen != 1)
		w->path[w->pathlen++] = '/';
	memcpy(w->path + w->pathlen, name, (size_t)len + 1);
	w->pathlen += (size_t)len;
	w->saved[w->depth] = w->want;
	*stop_before = w->want == 1;
	if (fdt_stringlist_contains(w->s->list, w->s->listlen, w->path)) {
		w->want = 2;
	} else if (w->want) {
		w->want--;
	} else {
		*stop_before = true;
	}
	*include = w->want != 0;
	return 0;
}

/* Leaves a node: its end tag goes with the node's want. */
static int fs_walk_end(struct fs_ctx *c, struct fs_walk *w, bool *include)
{
	if (w->depth < 0)
		return fs_fail(c, -KE_BADMSG, "fit: unbalanced nodes");
	*include = w->want != 0;
	w->want = w->saved[w->depth--];
	while (w->pathlen > 0 && w->path[--w->pathlen] != '/')
		;
	w->path[w->pathlen] = '\0';
	return 0;
}

/* One tag: whether it is hashed and, if not, where an open region ends. */
static int fs_walk_tag(struct fs_ctx *c, struct fs_walk *w, uint32_t tag, int off,
		       bool *include, bool *stop_before)
{
	*include = false;
	*stop_before = false;
	switch (tag) {
	case FDT_PROP:
		*stop_before = true;
		return fs_walk_prop(c, w, off, include);
	case FDT_NOP:
		*stop_before = true;
		*include = w->want >= 2;
		return 0;
	case FDT_BEGIN_NODE:
		return fs_walk_begin(c, w, off, include, stop_before);
	case FDT_END_NODE:
		return fs_walk_end(c, w, include);
	case FDT_END:
		*include = true;
		return w->depth == -1 ? 0 : fs_fail(c, -KE_BADMSG, "fit: unbalanced nodes");
	default:
		return fs_fail(c, -KE_BADMSG, "fit: bad tag at %d", off);
	}
}

static void fs_walk_init(struct fs_walk *w, const void *fit, const struct fs_sig *s)
{
	w->fit = fit;
	w->s = s;
	sha256_init(&w->sha);
	w->path[0] = '\0';
	w->pathlen = 0;
	w->depth = -1;
	w->want = 0;
	w->start = -1;
}

static int fs_digest(struct fs_ctx *c, const struct fs_sig *s, uint8_t *digest)
{
	const uint8_t *base = (const uint8_t *)c->fit + fdt_off_dt_struct(c->fit);
	int off = 0, next = 0, ret;
	bool include, stop_before;
	struct fs_walk w;
	uint32_t tag;

	fs_walk_init(&w, c->fit, s);
	do {
		tag = fdt_next_tag(c->fit, off, &next);
		if (next < 0)
			return fs_fail(c, -KE_BADMSG, "fit: bad structure at %d", off);
		if ((ret = fs_walk_tag(c, &w, tag, off, &include, &stop_before)))
			return ret;
		if (include && w.start < 0) {
			w.start = off;
		} else if (!include && w.start >= 0) {
			sha256_update(&w.sha, base + w.start,
				      (size_t)((stop_before ? off : next) - w.start));
			w.start = -1;
		}
		off = next;
	} while (tag != FDT_END);
	if ((uint32_t)next != fdt_size_dt_struct(c->fit))
		return fs_fail(c, -KE_BADMSG, "fit: data after FDT_END");
	sha256_update(&w.sha, base + w.start, (size_t)(next - w.start));
	sha256_update(&w.sha, (const uint8_t *)c->fit + fdt_off_dt_strings(c->fit), s->strsize);
	sha256_final(&w.sha, digest);
	return 0;
}

/* --- keys ---------------------------------------------------------------- */

static const char *fs_key_name(const void *keys, int node)
{
	const char *n = fdt_get_name(keys, node, NULL);

	if (!n)
		return "?";
	return strncmp(n, "key-", 4) ? n : n + 4;
}

static int fs_key_exponent(const void *keys, int node, uint64_t *e)
{
	int len;
	const fdt64_t *v = fdt_getprop(keys, node, "rsa,exponent", &len);

	if (!v) {
		*e = FS_DEFAULT_EXP;
		return 0;
	}
	if (len != sizeof(*v))
		return -KE_INVAL;
	*e = fdt64_ld(v);
	return 0;
}

/*
 * The Montgomery constants mkimage stored, least significant word first
 * for rsa.c, which checks they are the modulus's (not trusted: verified).
 */
static bool fs_key_consts(const void *keys, int node, unsigned int bits, uint32_t *rr,
			  uint32_t *n0inv)
{
	const fdt32_t *p;
	unsigned int i, nwords = bits / 32;
	int len;

	if (dt_prop_u32(keys, node, "rsa,n0-inverse", n0inv))
		return false;
	p = fdt_getprop(keys, node, "rsa,r-squared", &len);
	if (!p || (unsigned int)len != 4 * nwords)
		return false;
	for (i = 0; i < nwords; i++)
		rr[nwords - 1 - i] = fdt32_ld(&p[i]);
	return true;
}

static int fs_load_key(struct fs_ctx *c, const struct fs_sig *s, int node,
		       struct rsa_pubkey *k)
{
	const char *kname = fs_key_name(c->keys, node);
	const char *algo = dt_prop_str(c->keys, node, "algo");
	uint32_t bits, n0inv = 0, rr[RSA_MAX_WORDS];
	const uint8_t *mod;
	uint64_t e;
	int len, rc;
	bool have;

	if (!algo || strcmp(algo, s->algo))
		return fs_fail(c, -KE_PERM, "%.16s: key %.16s is %.16s, not %.16s", s->name,
			       kname, algo ? algo : "(none)", s->algo);
	if (dt_prop_u32(c->keys, node, "rsa,num-bits", &bits) || bits != s->bits)
		return fs_fail(c, -KE_INVAL, "key %.16s: bad rsa,num-bits", kname);
	mod = fdt_getprop(c->keys, node, "rsa,modulus", &len);
	if (!mod || (unsigned int)len != bits / 8)
		return fs_fail(c, -KE_INVAL, "key %.16s: bad rsa,modulus", kname);
	if (fs_key_exponent(c->keys, node, &e))
		return fs_fail(c, -KE_INVAL, "key %.16s: bad modulus or exponent", kname);
	/* num-bits and the modulus length agree: bits / 32 words of R^2 */
	/* Without the constants (NULL) the modulus is still checked first. */
	have = fs_key_consts(c->keys, node, bits, rr, &n0inv);
	rc = rsa_pubkey_init_claimed(k, mod, (size_t)len, e, have ? rr : NULL, n0inv);
	if (rc == -KE_INVAL)
		return fs_fail(c, -KE_INVAL, "key %.16s: bad modulus or exponent", kname);
	if (rc)
		return fs_fail(c, -KE_INVAL, "key %.16s: bad rsa,n0-inverse or rsa,r-squared",
			       kname);
	return 0;
}

/* --- one signature node against one key (fit_config_check_sig()) -------- */

static int fs_check_sig(struct fs_ctx *c, int sig, int keynode)
{
	uint8_t digest[SHA256_DIGEST_SIZE];
	struct rsa_pubkey key;
	struct fs_sig s;
	int ret;

	if ((ret = fs_parse_sig(c, sig, &s)))
		return ret;
	if ((ret = fs_check_hashed(c, &s)))
		return ret;
	if ((ret = fs_load_key(c, &s, keynode, &key)))
		return ret;
	if ((ret = fs_digest(c, &s, digest)))
		return ret;
	if (rsa_verify_sha256(&key, digest, s.value, s.bits / 8))
		return fs_fail(c, -KE_PERM, "%.16s: RSA verification failed (key %.16s)",
			       s.name, fs_key_name(c->keys, keynode));
	return 0;
}

/* Any signature-* node of the configuration verified by this key. */
static int fs_verify_key(struct fs_ctx *c, int keynode)
{
	int sig, ret = -KE_NOENT;

	fdt_for_each_subnode(sig, c->fit, c->cfg) {
		if (!fs_prefixed(c->fit, sig, "signature"))
			continue;
		if (!(ret = fs_check_sig(c, sig, keynode)))
			return 0;
	}
	return ret;
}

/* --- key policy ----------------------------------------------------------- */

/* Counts the required = "conf" keys; refuses required = "image" ones. */
static int fs_scan_keys(struct fs_ctx *c, int keyroot, int *nconf, int *nkeys)
{
	const char *req;
	int node;

	*nconf = *nkeys = 0;
	fdt_for_each_subnode(node, c->keys, keyroot) {
		(*nkeys)++;
		req = dt_prop_str(c->keys, node, "required");
		if (req && !strcmp(req, "image"))
			return fs_fail(c, -KE_NOTSUP, "key %.16s: required = image not supported",
				       fs_key_name(c->keys, node));
		*nconf += req && !strcmp(req, "conf");
	}
	if (!*nkeys)
		return fs_fail(c, -KE_NOENT, "keys: no key in /signature");
	return 0;
}

/* fit_config_verify_required_keys(): each required key (or any one). */
static int fs_verify_required(struct fs_ctx *c, int keyroot)
{
	const char *mode = dt_prop_str(c->keys, keyroot, "required-mode");
	bool any = mode && !strcmp(mode, "any");
	const char *req;
	int node, ret = -KE_PERM;

	fdt_for_each_subnode(node, c->keys, keyroot) {
		req = dt_prop_str(c->keys, node, "required");
		if (!req || strcmp(req, "conf"))
			continue;
		ret = fs_verify_key(c, node);
		if (ret && !any)
			return ret;
		if (!ret && any)
			return 0;
	}
	return ret;
}

/* Every key but @skip, keeping the message already written. */
static int fs_verify_sig_other_keys(struct fs_ctx *c, int keyroot, int sig, int skip)
{
	int node, ret = -KE_PERM;

	c->quiet = true;
	fdt_for_each_subnode(node, c->keys, keyroot) {
		if (node != skip && !(ret = fs_check_sig(c, sig, node)))
			break;
	}
	c->quiet = false;
	return ret;
}

/*
 * U-Boot's rsa_verify_hash(): the key key-name-hint names, then every
 * other key. A failure reports the hinted key's error.
 */
static int fs_verify_sig_any_key(struct fs_ctx *c, int keyroot, int sig)
{
	const char *hint = dt_prop_str(c->fit, sig, "key-name-hint");
	const char *sname = fdt_get_name(c->fit, sig, NULL);
	char kname[FS_PATH_MAX];
	int hinted = -1, ret = -KE_NOENT;

	if (hint && (size_t)snprintf(kname, sizeof(kname), "key-%s", hint) < sizeof(kname))
		hinted = dt_subnode(c->keys, keyroot, kname);
	if (hinted < 0)
		fs_fail(c, -KE_NOENT, "%.16s: no key matching key-name-hint %.24s",
			sname ? sname : "?", hint ? hint : "(none)");
	else if (!(ret = fs_check_sig(c, sig, hinted)))
		return 0;
	if (!fs_verify_sig_other_keys(c, keyroot, sig, hinted))
		return 0;
	return hinted < 0 ? -KE_NOENT : ret;
}

/* No key is required: one signature-* node must still verify. */
static int fs_verify_optional(struct fs_ctx *c, int keyroot)
{
	int sig, ret = -KE_NOENT;

	fdt_for_each_subnode(sig, c->fit, c->cfg) {
		if (!fs_prefixed(c->fit, sig, "signature"))
			continue;
		if (!(ret = fs_verify_sig_any_key(c, keyroot, sig)))
			return 0;
	}
	return ret;
}

/* signature-* nodes of the configuration, counting no further than one past the cap. */
static int fs_count_sigs(struct fs_ctx *c)
{
	int sig, n = 0;

	fdt_for_each_subnode(sig, c->fit, c->cfg) {
		if (fs_prefixed(c->fit, sig, "signature") && ++n > FIT_SIG_MAX_SIGS)
			break;
	}
	return n;
}

int fit_sig_verify(const void *fit, size_t size, const char *config_name,
		   const void *keys_dtb, size_t keys_size, char *err, size_t errlen)
{
	struct fs_ctx c = { .fit = fit, .size = size, .keys = keys_dtb,
			    .err = err, .errlen = errlen };
	int keyroot, nconf, nkeys, nsigs, ret;

	if (err && errlen)
		err[0] = '\0';
	if ((ret = fs_check_args(&c, config_name, keys_size)))
		return ret;
	if ((ret = fs_find_config(&c, config_name)))
		return ret;
	nsigs = fs_count_sigs(&c);
	if (!nsigs)
		return fs_fail(&c, -KE_NOENT, "config %.32s: no signature", config_name);
	/* Each node costs a hash of the regions and an RSA check before anything is trusted. */
	if (nsigs > FIT_SIG_MAX_SIGS)
		return fs_fail(&c, -KE_PERM, "config %.32s: more than %d signature nodes",
			       config_name, FIT_SIG_MAX_SIGS);
	keyroot = dt_subnode(keys_dtb, 0, "signature");
	if (keyroot < 0)
		return fs_fail(&c, -KE_NOENT, "keys: no /signature node");
	if ((ret = fs_scan_keys(&c, keyroot, &nconf, &nkeys)))
		return ret;
	ret = nconf ? fs_verify_required(&c, keyroot) : fs_verify_optional(&c, keyroot);
	if (!ret && err && errlen)
		err[0] = '\0';		/* drop what a signature tried first left */
	return ret;
}

int fit_sig_digest(const void *fit, size_t size, const char *config_name,
		   const char *sig_name, uint8_t digest[SHA256_DIGEST_SIZE],
		   char *err, size_t errlen)
{
	struct fs_ctx c = { .fit = fit, .size = size, .err = err, .errlen = errlen };
	struct fs_sig s = { 0 };
	int sig, ret;

	if (err && errlen)
		err[0] = '\0';
	if (!fit || !config_name || !sig_name || !digest)
		return fs_fail(&c, -KE_INVAL, "fit_sig: no blob");
	if ((uintptr_t)fit & 7)
		return fs_fail(&c, -KE_INVAL, "fit_sig: blob not 8-byte aligned");
	if (fs_check_blob(fit, size))
		return fs_fail(&c, -KE_BADMSG, "fit: bad FDT (header, size or structure)");
	if ((ret = fs_find_config(&c, config_name)))
		return ret;
	sig = dt_subnode(fit, c.cfg, sig_name);
	if (sig < 0)
		return fs_fail(&c, -KE_NOENT, "config %.32s: no %.32s", config_name, sig_name);
	s.name = sig_name;
	if ((ret = fs_parse_regions(&c, sig, &s)))
		return ret;
	return fs_digest(&c, &s, digest);
}
