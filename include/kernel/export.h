/*
 * The kernel's export table: the only symbols an update module may link
 * against. EXPORT_SYMBOL(sym) in the file that defines sym places a
 * { name, address } pair into section ".exports"; the linker script gathers
 * them between __exports_start and __exports_end (KEEP, since nothing
 * references the entries and the kernel links with --gc-sections).
 *
 * An export is a promise: a module built against this kernel's headers may
 * call or read it, so changing its signature or layout is an ABI change.
 */
#ifndef KERNEL_EXPORT_H
#define KERNEL_EXPORT_H

#include <stddef.h>
#include <stdint.h>

struct kernel_export {
	const char *name;
	uintptr_t addr;
};

#define EXPORT_SYMBOL(sym)						\
	static const struct kernel_export __export_##sym		\
	__attribute__((used, section(".exports"), aligned(8))) =	\
		{ #sym, (uintptr_t)&(sym) }

extern const struct kernel_export __exports_start[], __exports_end[];

/* The export named @name, or NULL. */
const struct kernel_export *export_find(const char *name);

/*
 * Resolver for elf_mod_link(): *addr = address of export @name, or
 * -KE_NOENT. @ctx is unused.
 */
int export_resolve(void *ctx, const char *name, uint64_t *addr);

/* The search itself, over any table (pure; host-tested). */
const struct kernel_export *export_lookup(const struct kernel_export *start,
					  const struct kernel_export *end,
					  const char *name);

#endif
