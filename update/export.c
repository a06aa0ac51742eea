/*
 * Lookup in the kernel's export table (see kernel/export.h).
 *
 * No locking: the table is const and lives in the kernel image.
 *
 * A linear search: the linker does not sort entries by name, a module
 * imports a few dozen symbols and the table holds a few hundred, so a
 * whole link costs well under a millisecond. If the table grows, put each
 * entry in ".exports.<name>", collect them with SORT_BY_NAME and bisect.
 */
#include <string.h>
#include <kernel/export.h>
#include <kernel/errno.h>

const struct kernel_export *export_lookup(const struct kernel_export *start,
					  const struct kernel_export *end,
					  const char *name)
{
	const struct kernel_export *e;

	for (e = start; e < end; e++)
		if (e->name && strcmp(e->name, name) == 0)
			return e;
	return NULL;
}

/* The host tests have no linker-made table; they test export_lookup(). */
#ifndef HOST_TEST
const struct kernel_export *export_find(const char *name)
{
	return export_lookup(__exports_start, __exports_end, name);
}

int export_resolve(void *ctx, const char *name, uint64_t *addr)
{
	const struct kernel_export *e = export_find(name);

	if (!e)
		return -KE_NOENT;
	*addr = e->addr;
	return 0;
}
#endif
