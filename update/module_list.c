/*
 * The list of loaded update modules, searched by address from trap
 * context (module_at(): which module holds a faulting pc).
 *
 * Writers (load, free) hold mod_lock. The search takes no lock, because a
 * fault may hit while this hart holds anything: it walks the list with
 * acquire loads while a module is added or removed on another hart. So a
 * module is published fully built (its links set before the release store
 * that makes it reachable), and removed by unlinking it from its
 * neighbours only: its own links stay as they were, so a walker standing
 * on it still reaches the rest of the list. Its memory is freed only after
 * a quiescence wait (module.c), which no trap handler in progress can
 * outlast: a hart handling a trap takes no IPI and runs no scheduler loop.
 * Pure logic: tested on the host (test/unit/test_module_list.c).
 */
#include <kernel/module.h>
#include <kernel/spinlock.h>

static struct spinlock mod_lock = SPINLOCK_INIT("modules");
static struct list_head modules = LIST_HEAD_INIT(modules);
static unsigned int nmodules;

void module_list_add(struct module *m)
{
	spin_lock(&mod_lock);
	m->node.next = &modules;
	m->node.prev = modules.prev;
	__atomic_store_n(&modules.prev->next, &m->node, __ATOMIC_RELEASE);
	modules.prev = &m->node;
	nmodules++;
	spin_unlock(&mod_lock);
}

void module_list_del(struct module *m)
{
	spin_lock(&mod_lock);
	__atomic_store_n(&m->node.prev->next, m->node.next, __ATOMIC_RELEASE);
	m->node.next->prev = m->node.prev;
	nmodules--;
	spin_unlock(&mod_lock);
}

struct module *module_at(uintptr_t pc)
{
	for (struct list_head *pos = __atomic_load_n(&modules.next, __ATOMIC_ACQUIRE);
	     pos != &modules; pos = __atomic_load_n(&pos->next, __ATOMIC_ACQUIRE)) {
		struct module *m = list_entry(pos, struct module, node);

		if (pc >= (uintptr_t)m->text && pc < (uintptr_t)m->text + m->text_size)
			return m;
	}
	return NULL;
}

unsigned int module_count(void)
{
	return __atomic_load_n(&nmodules, __ATOMIC_RELAXED);
}
