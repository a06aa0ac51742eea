/*
 * Property readers for every parser of a flattened devicetree: the
 * kernel's own blob (drivers), update packs (update/pack.c) and the key
 * blob their signatures are checked against (update/fit_sig.c). One set,
 * so that each reader checks the same things: a cell has exactly its
 * length, a string is NUL-terminated with no NUL inside, a list has no
 * empty entry, and a subnode is found by its whole name.
 *
 * Locking: none; they only read the blob.
 */
#include <string.h>
#include <libfdt.h>
#include <kernel/devtree.h>
#include <kernel/errno.h>

/* What fdt_getprop()'s failure means: absent, or the blob is not sound there. */
static int dt_absent(int len)
{
	return len == -FDT_ERR_NOTFOUND ? -KE_NOENT : -KE_BADMSG;
}

int dt_prop_u32(const void *fdt, int node, const char *name, uint32_t *out)
{
	int len;
	const fdt32_t *v = fdt_getprop(fdt, node, name, &len);

	if (!v)
		return dt_absent(len);
	if (len != sizeof(*v))
		return -KE_INVAL;
	*out = fdt32_ld(v);
	return 0;
}

uint32_t dt_prop_u32_or(const void *fdt, int node, const char *name, uint32_t dflt)
{
	uint32_t v;

	return dt_prop_u32(fdt, node, name, &v) ? dflt : v;
}

int dt_prop_string(const void *fdt, int node, const char *name, const char **out)
{
	int len;
	const char *s = fdt_getprop(fdt, node, name, &len);

	if (!s)
		return dt_absent(len);
	if (len < 2 || s[len - 1] != '\0' || strlen(s) != (size_t)len - 1)
		return -KE_INVAL;
	*out = s;
	return 0;
}

const char *dt_prop_str(const void *fdt, int node, const char *name)
{
	const char *s;

	return dt_prop_string(fdt, node, name, &s) ? NULL : s;
}

int dt_prop_strlist(const void *fdt, int node, const char *name, const char **out, int *len,
		    unsigned int *n)
{
	const char *s = fdt_getprop(fdt, node, name, len);

	if (!s)
		return dt_absent(*len);
	if (*len < 2 || s[0] == '\0' || s[*len - 1] != '\0')
		return -KE_INVAL;
	*n = 0;
	for (int i = 0; i < *len; i++) {
		if (s[i] != '\0')
			continue;
		if (i + 1 < *len && s[i + 1] == '\0')
			return -KE_INVAL;	/* an empty entry */
		(*n)++;
	}
	*out = s;
	return 0;
}

int dt_subnode(const void *fdt, int parent, const char *name)
{
	const char *n;
	int node;

	fdt_for_each_subnode(node, fdt, parent) {
		n = fdt_get_name(fdt, node, NULL);
		if (n && strcmp(n, name) == 0)
			return node;
	}
	return node == -FDT_ERR_NOTFOUND ? -KE_NOENT : -KE_BADMSG;
}
