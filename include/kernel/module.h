/*
 * Update modules in memory: linked against the export table, text mapped
 * R+X and data R+W (never both), instruction caches synchronised on every
 * hart before anyone can call in, and freed once no hart can run them.
 */
#ifndef KERNEL_MODULE_H
#define KERNEL_MODULE_H

#include <stddef.h>
#include <stdint.h>
#include <kernel/list.h>

struct update_desc;

struct module {
	char name[32];
	void *text;
	unsigned int text_order;
	size_t text_size;
	void *data;
	unsigned int data_order;
	size_t data_size;
	const struct update_desc *desc;	/* its `update_desc` symbol */
	uint32_t users;			/* class versions living in it */
	struct list_head node;		/* in the list of loaded modules */
};

/*
 * Loads and links an ELF relocatable object. On failure nothing of it stays
 * mapped or registered, and @err says what failed.
 */
int module_load(const void *elf, size_t size, const char *name, struct module **out,
		char *err, size_t errlen);

/*
 * Takes @m out of the list of modules now and unmaps and frees it once no
 * trap handler can still be looking at it (every other hart passed a
 * quiescent point). For a module no code runs in.
 */
void module_free(struct module *m);

/* The same for a module whose code may still run: freed after quiescence (the reaper). */
void module_free_deferred(struct module *m);

/* The loaded module whose text holds @pc, or NULL. Lock-free: safe in trap context. */
struct module *module_at(uintptr_t pc);

/* Number of loaded modules (for leak checks). */
unsigned int module_count(void);

/* The list itself (update/module_list.c): writers serialised, readers lock-free. */
void module_list_add(struct module *m);
void module_list_del(struct module *m);

#endif
