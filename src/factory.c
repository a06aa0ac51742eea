/*
 * Factories: create and destroy instances of a class, keep the list of
 * live instances, and a registry of factories by class name.
 *
 * Locking: f->lock guards a factory's instance list and counters;
 * registry_lock guards the registry. Neither is held while a class's init
 * or fini runs, so those may call other objects.
 */
#include <string.h>
#include <kernel/object.h>
#include <kernel/mem.h>
#include <kernel/errno.h>

static struct list_head registry = LIST_HEAD_INIT(registry);
static struct spinlock registry_lock = SPINLOCK_INIT("factories");

int factory_init(struct factory *f, const struct class *cls)
{
	if (!cls || !cls->ops || cls->state_size < sizeof(struct object) ||
	    cls->nmethods > OTT_MAX_METHODS)
		return -KE_INVAL;
	spin_lock(&registry_lock);
	if (factory_find(cls->name) && factory_find(cls->name) != f) {
		spin_unlock(&registry_lock);
		return -KE_EXIST;
	}
	memset(f, 0, sizeof(*f));
	f->cls = cls;
	spin_init(&f->lock, cls->name);
	list_init(&f->instances);
	list_add_tail(&f->node, &registry);
	spin_unlock(&registry_lock);
	return 0;
}

int factory_create(struct factory *f, const void *arg, ott_ref_t *ref)
{
	const struct class *cls = f->cls;
	struct object *obj = kzalloc(cls->state_size);
	int err;

	if (!obj)
		return -KE_NOMEM;
	obj->ops = cls->ops;
	obj->factory = f;
	obj->version = cls->version;
	list_init(&obj->node);
	err = cls->init ? cls->init(obj, arg) : 0;
	if (err)
		goto free_obj;
	err = ott_alloc(&kernel_ott, obj, cls, ref);
	if (err)
		goto fini_obj;
	spin_lock(&f->lock);
	list_add_tail(&obj->node, &f->instances);
	f->count++;
	f->created++;
	spin_unlock(&f->lock);
	return 0;

fini_obj:
	if (cls->fini)
		cls->fini(obj);
free_obj:
	kfree(obj);
	return err;
}

struct object *factory_object(struct factory *f, ott_ref_t ref)
{
	struct object *obj = ott_lookup(&kernel_ott, ref);

	return obj && obj->factory == f ? obj : NULL;
}

int factory_destroy(struct factory *f, ott_ref_t ref)
{
	struct object *obj = factory_object(f, ref);
	const struct class *cls;
	int err;

	if (!obj)
		return -KE_STALE;
	err = ott_free(&kernel_ott, ref);
	if (err)
		return err;	/* someone else destroyed it first */
	spin_lock(&f->lock);
	list_del(&obj->node);
	f->count--;
	f->destroyed++;
	spin_unlock(&f->lock);
	cls = (const struct class *)f->cls;
	if (cls->fini)
		cls->fini(obj);
	kfree(obj);
	return 0;
}

/* Caller holds registry_lock, or runs before other harts start. */
struct factory *factory_find(const char *class_name)
{
	struct list_head *pos;

	list_for_each(pos, &registry) {
		struct factory *f = list_entry(pos, struct factory, node);

		if (!strcmp(f->cls->name, class_name))
			return f;
	}
	return NULL;
}

void factory_for_each(void (*fn)(struct factory *f, void *arg), void *arg)
{
	struct list_head *pos;

	spin_lock(&registry_lock);
	list_for_each(pos, &registry)
		fn(list_entry(pos, struct factory, node), arg);
	spin_unlock(&registry_lock);
}

int object_publish(struct object *obj, const struct class *cls, ott_ref_t *ref)
{
	obj->ops = cls->ops;
	obj->version = cls->version;
	list_init(&obj->node);
	return ott_alloc(&kernel_ott, obj, cls, ref);
}
