/*
 * The kernel's export table: the only symbols an update module may link
 * against. EXPORT_SYMBOL(sym) puts {name, address} into the .exports
 * section, which the linker script gathers between __exports_start and
 * __exports_end.
 */
#ifndef KERNEL_EXPORT_H
#define KERNEL_EXPORT_H

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

#endif
