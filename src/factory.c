/*
 * Factories: create and destroy instances, keep the list of live instances
 * and the loaded versions of their class, and a registry by class name.
 *
 * A loaded version's init and fini are new code, as its methods are: they
 * run under a recovery point, so a fault in them fails that creation
 * (-KE_FAULT) or skips what fini would have released, instead of stopping
 * the creating thread or the reaper (update/probation.c rolls the pack
 * back if it is in probation; a creation is then retried once on the
 * version now current). A built-in version's are kernel code: a fault
 * there is a kernel bug and is not hidden.
 *
 * Locking: f->lock guards a factory's instance list, counters and version
 * list; registry_lock guards the registry. Neither is held while a class's
 * init or fini runs, so those may call other objects. Freeing an instance
 * waits for quiescence first, so a call that raced with the destroy never
 * runs on freed state.
 */
#include <string.h>
#include <kernel/object.h>
#include <kernel/mem.h>
#include <kernel/errno.h>
#include <kernel/export.h>
#include <kernel/defer.h>
#include <kernel/unwind.h>

static struct list_head registry = LIST_HEAD_INIT(registry);
static struct spinlock registry_lock = SPINLOCK_INIT("factories");

long object_nosys(struct object *self, ...)
{
	return -KE_NOSYS;
}

void class_version_init(struct class_version *cv, struct factory *f, const struct class *cls)
{
	const ott_method_t *ops = cls->ops;

	memset(cv, 0, sizeof(*cv));
	for (uint32_t i = 0; i < OTT_MAX_METHODS; i++)
		cv->dispatch[i] = i < cls->nmethods && ops[i] ? ops[i] : (ott_method_t)object_nosys;
	cv->cls = cls;
	cv->factory = f;
	cv->state = CV_CURRENT;
	list_init(&cv->node);
}

static struct factory *find_locked(const char *class_name)
{
	struct list_head *pos;

	list_for_each(pos, &registry) {
		struct factory *f = list_entry(pos, struct factory, node);

		if (!strcmp(factory_class(f)->name, class_name))
			return f;
	}
	return NULL;
}

int factory_init(struct factory *f, const struct class *cls)
{
	if (!cls || !cls->ops || !cls->name || cls->state_size < sizeof(struct object) ||
	    cls->nmethods > OTT_MAX_METHODS)
		return -KE_INVAL;
	spin_lock(&registry_lock);
	if (find_locked(cls->name)) {
		spin_unlock(&registry_lock);
		return -KE_EXIST;
	}
	memset(f, 0, sizeof(*f));
	class_version_init(&f->first, f, cls);
	list_init(&f->versions);
	list_add_tail(&f->first.node, &f->versions);
	f->cur = &f->first;
	spin_init(&f->lock, cls->name);
	list_init(&f->instances);
	list_add_tail(&f->node, &registry);
	spin_unlock(&registry_lock);
	return 0;
}

/* Gives a ready instance its slot and files it; undoes nothing on failure. */
static int publish(struct factory *f, struct class_version *cv, struct object *obj,
		   ott_ref_t *ref)
{
	int err = ott_alloc(&kernel_ott, obj, cv->cls, ref);

	if (err)
		return err;
	spin_lock(&f->lock);
	list_add_tail(&obj->node, &f->instances);
	f->count++;
	f->created++;
	cv->live++;
	spin_unlock(&f->lock);
	return 0;
}

static int lifecycle_run(const struct class *cls, struct object *obj, const void *arg, bool fini)
{
	if (fini) {
		if (cls->fini)
			cls->fini(obj);
		return 0;
	}
	return cls->init ? cls->init(obj, arg) : 0;
}

/* @cv's init (@fini false) or fini of @obj; -KE_FAULT if loaded code faulted in it. */
static int lifecycle(const struct class_version *cv, struct object *obj, const void *arg,
		     bool fini)
{
	struct recover_point rp;
	int rc;

	if (!cv->module || !(fini ? (void *)cv->cls->fini : (void *)cv->cls->init))
		return lifecycle_run(cv->cls, obj, arg, fini);
	recover_push(&rp, fini ? RECOVER_FINI : RECOVER_INIT, cv);
	if (recover_save(rp.regs))
		return -KE_FAULT;	/* abandoned: rp popped, the locks it took released */
	rc = lifecycle_run(cv->cls, obj, arg, fini);
	recover_pop(&rp);
	return rc;
}

static int setup(struct factory *f, struct class_version *cv, struct object *obj,
		 const void *arg)
{
	obj->ops = cv->dispatch;
	obj->factory = f;
	obj->version = cv->cls->version;
	list_init(&obj->node);
	return lifecycle(cv, obj, arg, false);
}

static int create_in(struct factory *f, struct class_version *cv, const void *arg, ott_ref_t *ref)
{
	struct object *obj = kzalloc(cv->cls->state_size);
	int err;

	if (!obj)
		return -KE_NOMEM;
	err = setup(f, cv, obj, arg);
	if (err)
		goto free_obj;
	err = publish(f, cv, obj, ref);
	if (err)
		goto fini_obj;
	return 0;

fini_obj:
	lifecycle(cv, obj, NULL, true);
free_obj:
	kfree(obj);
	return err;
}

int factory_create(struct factory *f, const void *arg, ott_ref_t *ref)
{
	struct class_version *cv = __atomic_load_n(&f->cur, __ATOMIC_ACQUIRE);
	int err = create_in(f, cv, arg, ref);

	if (err == -KE_FAULT && __atomic_load_n(&f->cur, __ATOMIC_ACQUIRE) != cv)
		/* Its init faulted and rolled the update back: on the old version, once. */
		err = create_in(f, __atomic_load_n(&f->cur, __ATOMIC_ACQUIRE), arg, ref);
	return err;
}

int factory_adopt(struct factory *f, struct object *obj, const void *arg, ott_ref_t *ref)
{
	struct class_version *cv = f->cur;
	int err = setup(f, cv, obj, arg);

	obj->flags |= OBJ_STATIC;
	if (err)
		return err;
	err = publish(f, cv, obj, ref);
	if (err)
		lifecycle(cv, obj, NULL, true);
	return err;
}

struct object *factory_object(struct factory *f, ott_ref_t ref)
{
	struct object *obj = ott_lookup(&kernel_ott, ref);

	return obj && obj->factory == f ? obj : NULL;
}

static void destroy_cb(void *arg)
{
	struct object *obj = arg;

	/* A fault in a loaded fini leaks what it held, not the reaper. */
	lifecycle(object_version(obj), obj, NULL, true);
	/* A state kept for a rollback during probation goes with it. */
	if (obj->prev && !(obj->prev->flags & OBJ_STATIC))
		kfree(obj->prev);
	if (!(obj->flags & OBJ_STATIC))
		kfree(obj);
}

int factory_destroy(struct factory *f, ott_ref_t ref)
{
	struct object *obj;
	struct class_version *cv;
	int err;

	/*
	 * Under f->lock, as a conversion's commit is (update/convert.c takes
	 * it, then the OTT's): the object in the slot is the live state, and
	 * a conversion in flight finds the slot freed at its commit and drops
	 * its copy instead of taking the destroyed instance's place.
	 */
	spin_lock(&f->lock);
	obj = factory_object(f, ref);
	err = obj ? ott_free(&kernel_ott, ref) : -KE_STALE;
	if (err) {
		spin_unlock(&f->lock);
		return err;	/* someone else destroyed it first */
	}
	cv = object_version(obj);
	/*
	 * Queued before the instance stops counting on its version: a version
	 * with no instances may be retired, its module freed by a deferred
	 * call of its own, and the reaper runs them in order, so this fini
	 * (code in that module) comes first. It runs after quiescence, so
	 * not before this returns; meanwhile a racing call may still use
	 * what fini releases.
	 */
	defer_call(destroy_cb, obj);
	list_del(&obj->node);
	f->count--;
	f->destroyed++;
	cv->live--;
	spin_unlock(&f->lock);
	return 0;
}

struct factory *factory_find(const char *class_name)
{
	struct factory *f;

	spin_lock(&registry_lock);
	f = find_locked(class_name);
	spin_unlock(&registry_lock);
	return f;
}

void factory_for_each(void (*fn)(struct factory *f, void *arg), void *arg)
{
	struct list_head *pos;

	spin_lock(&registry_lock);
	list_for_each(pos, &registry)
		fn(list_entry(pos, struct factory, node), arg);
	spin_unlock(&registry_lock);
}

int object_iface_version(ott_ref_t ref)
{
	struct object *obj = ott_lookup(&kernel_ott, ref);

	if (!obj)
		return -KE_STALE;
	/* An instance not yet converted offers the new interface: a call converts it. */
	return obj->factory ? (int)factory_class(obj->factory)->iface_version
			    : -KE_NOENT;
}

EXPORT_SYMBOL(factory_create);
EXPORT_SYMBOL(factory_destroy);
EXPORT_SYMBOL(factory_find);
EXPORT_SYMBOL(object_iface_version);
EXPORT_SYMBOL(object_nosys);
