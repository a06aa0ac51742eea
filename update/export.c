/* Lookup in the kernel's export table (export.h). Read-only; no locking. */
#include <string.h>
#include <kernel/export.h>

const struct kernel_export *export_find(const char *name)
{
	for (const struct kernel_export *e = __exports_start; e < __exports_end; e++)
		if (!strcmp(e->name, name))
			return e;
	return NULL;
}
