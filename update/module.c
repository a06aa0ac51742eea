/*
 * Loading update modules into the running kernel (see module.h).
 *
 * The link itself is update/elf_mod.c (pure, host-tested); this file gives
 * it memory, resolves symbols only through the export table, applies W^X
 * and synchronises TLBs and instruction caches: at once on this hart, on
 * every other one at its next quiescent point (vm_protect_lazy), which
 * comes before the switch can hand the code out (the engine's quiescence
 * wait) and before any thread picked afterwards runs (the self-test's).
 *
 * Locking: the list of modules is module_list.c's (searched without a
 * lock from trap context). A module leaves it at once when freed, and its
 * memory goes after quiescence, so no walker can still stand on it.
 */
#include <string.h>
#include <stdio.h>
#include <kernel/module.h>
#include <kernel/elf_mod.h>
#include <kernel/export.h>
#include <kernel/mem.h>
#include <kernel/vm.h>
#include <kernel/sbi.h>
#include <kernel/riscv.h>
#include <kernel/defer.h>
#include <kernel/spinlock.h>
#include <kernel/log.h>
#include <kernel/escape.h>
#include <kernel/errno.h>
#include <kernel/stage_stats.h>
#include <kernel/kstring.h>
#include <kernel/thread.h>

/*
 * Pages for one region, zeroed (what the link does not fill must not be
 * old data, executable); order 0 even when empty so freeing stays uniform.
 */
static void *region_alloc(size_t size, unsigned int *order)
{
	void *p;

	*order = page_order_for(size ? size : 1);
	p = *order > PAGE_MAX_ORDER ? NULL : page_alloc_uninit(*order);
	if (p)
		kmemzero(p, PAGE_SIZE << *order);
	return p;
}

static int link_into(struct module *m, struct elf_mod *em, const void *elf, size_t size,
		     char *err, size_t errlen)
{
	uint64_t desc;
	int rc = elf_mod_parse(elf, size, em, err, errlen);

	if (rc)
		return rc;
	m->text_size = elf_mod_text_size(em);
	m->data_size = elf_mod_data_size(em);
	m->text = region_alloc(m->text_size, &m->text_order);
	m->data = region_alloc(m->data_size, &m->data_order);
	if (!m->text || !m->data) {
		snprintf(err, errlen, "out of memory for %zu+%zu bytes", m->text_size, m->data_size);
		return -KE_NOMEM;
	}
	rc = elf_mod_link(em, m->text, (uintptr_t)m->text, m->data, (uintptr_t)m->data,
			  export_resolve, NULL, err, errlen);
	if (rc)
		return rc;
	if (elf_mod_symbol(em, "update_desc", &desc)) {
		snprintf(err, errlen, "no update_desc symbol");
		return -KE_NOENT;
	}
	m->desc = (const struct update_desc *)(uintptr_t)desc;
	return 0;
}

/* The parse state is over 2 KiB: kept off the caller's 16 KiB stack. */
static int link(struct module *m, const void *elf, size_t size, char *err, size_t errlen)
{
	struct elf_mod *em = kmalloc(sizeof(*em));	/* elf_mod_parse() clears it */
	int rc;

	if (!em) {
		snprintf(err, errlen, "out of memory");
		return -KE_NOMEM;
	}
	rc = link_into(m, em, elf, size, err, errlen);
	kfree(em);
	return rc;
}

static void region_free(void *p, unsigned int order, bool was_text)
{
	if (!p)
		return;
	if (was_text)
		vm_protect((uintptr_t)p, PAGE_SIZE << order, VM_R | VM_W);
	page_free(p, order);
}

int module_load(const void *elf, size_t size, const char *name, struct module **out,
		char *err, size_t errlen)
{
	struct module *m = kzalloc(sizeof(*m));
	char ename[4 * sizeof(m->name)];
	int rc;

	if (!m) {
		snprintf(err, errlen, "out of memory");
		return -KE_NOMEM;
	}
	strncpy(m->name, name, sizeof(m->name) - 1);
	list_init(&m->node);
	stage_begin(STAGE_LINK);
	rc = link(m, elf, size, err, errlen);
	stage_end(STAGE_LINK);
	stage_begin(STAGE_MAP);
	if (!rc) {
		rc = vm_protect_lazy((uintptr_t)m->text, PAGE_SIZE << m->text_order, VM_R | VM_X);
		if (rc)
			snprintf(err, errlen, "cannot map text read+execute (%s)", err_name(rc));
	}
	if (rc) {
		region_free(m->text, m->text_order, true);
		region_free(m->data, m->data_order, false);
		kfree(m);
		return rc;
	}
	stage_end(STAGE_MAP);
	module_list_add(m);
	klog("update", "module loaded name=%s text=%#lx+%zu data=%#lx+%zu",
	     esc_log_word(ename, sizeof(ename), m->name), (unsigned long)m->text, m->text_size,
	     (unsigned long)m->data, m->data_size);
	*out = m;
	return 0;
}

static void module_free_deferred_unlinked(struct module *m);

static void free_cb(void *arg)
{
	struct module *m = arg;
	char ename[4 * sizeof(m->name)];

	region_free(m->text, m->text_order, true);
	region_free(m->data, m->data_order, false);
	klog("update", "module freed name=%s", esc_log_word(ename, sizeof(ename), m->name));
	kfree(m);
}

/*
 * A module no code runs in (never published, or its self-test finished):
 * unlinked, then freed once every other hart has passed a quiescent
 * point, since a trap handler there may have been walking the list
 * (module_list.c). Only if a hart does not answer is it left to the reaper.
 */
void module_free(struct module *m)
{
	module_list_del(m);
	if (quiesce_harts(100000) == 0)
		free_cb(m);
	else
		module_free_deferred_unlinked(m);
}

static void module_free_deferred_unlinked(struct module *m)
{
	char ename[4 * sizeof(m->name)];

	if (defer_call(free_cb, m))
		klog("update", "module %s leaked (no memory to defer its free)",
		     esc_log_word(ename, sizeof(ename), m->name));
}

/* A module whose code may still run: unlinked now, freed after quiescence. */
void module_free_deferred(struct module *m)
{
	module_list_del(m);
	module_free_deferred_unlinked(m);
}
