/*
 * Classes, versions, instances and factories.
 *
 * A class is a const ops table plus a state layout: instances are structs
 * that begin with `struct object` (whose first word is the ops pointer).
 * A factory makes and destroys the instances of one class and keeps them
 * in a list; it also keeps every loaded *version* of the class.
 *
 * Each version owns a dispatch table: a writable copy of its const ops
 * table that its instances point at. That one level of ownership is what
 * makes a lazy update O(1): rewriting the old version's dispatch table
 * (OTT_MAX_METHODS words) diverts every old instance's next call, however
 * many there are. The fast path is unchanged: obj->ops->method.
 */
#ifndef KERNEL_OBJECT_H
#define KERNEL_OBJECT_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <kernel/ott.h>
#include <kernel/spinlock.h>
#include <kernel/list.h>

struct module;

struct class {
	const char *name;		/* what packs name: "counter", "uart", "sched" */
	const char *impl;		/* which implementation family, e.g. "ns16550" */
	uint32_t version;		/* linear version of this implementation */
	uint32_t iface_version;		/* version of the method set it offers */
	const void *ops;		/* const table of ott_method_t-shaped entries */
	uint32_t nmethods;
	size_t state_size;		/* bytes of an instance, header included */
	/* Sets up a zeroed instance. May fail with a negative code. */
	int (*init)(struct object *self, const void *arg);
	/* Releases what init acquired. Optional. */
	void (*fini)(struct object *self);
};

#define CLASS_OPS_CHECK(ops_type) \
	_Static_assert(sizeof(ops_type) % sizeof(void *) == 0 && \
		       sizeof(ops_type) / sizeof(void *) <= OTT_MAX_METHODS, \
		       #ops_type " must be at most OTT_MAX_METHODS method pointers")

#define CLASS_NMETHODS(ops_type) ((uint32_t)(sizeof(ops_type) / sizeof(void *)))

/*
 * What a version's dispatch table does (update/convert.c). An update moves
 * the old version FORWARD -> CONVERT and the new one PROBATION -> CURRENT;
 * a rollback moves the new one to REVERT and the old one back to CURRENT.
 */
enum cv_state {
	CV_CURRENT,	/* dispatch = its own methods */
	CV_FORWARD,	/* calls counted per instance, still run this version */
	CV_CONVERT,	/* each instance converts to the newest version on its next call */
	CV_PROBATION,	/* calls counted and retryable: a fault rolls back */
	CV_REVERT,	/* each instance converts back to the previous version */
};

/* Converts an instance's state from the previous version to this one. */
typedef int (*transfer_fn)(const struct object *old, struct object *new);

struct class_version {
	ott_method_t dispatch[OTT_MAX_METHODS];	/* instances' ops point here */
	const struct class *cls;
	struct factory *factory;
	transfer_fn transfer;		/* from the previous version; NULL for the first */
	struct module *module;		/* code it lives in; NULL if built in */
	transfer_fn transfer_back;	/* to the previous version, for rollbacks; optional */
	uint32_t live;			/* instances laid out for this version */
	volatile int state;		/* enum cv_state */
	bool pure_transfer;		/* its transfer only reads (UPDATE_PURE_TRANSFER) */
	struct class_version *revert_to;	/* in CV_REVERT: the version to go back to */
	/* Probation calls in flight, per epoch (update/convert.c). */
	volatile uint32_t probation_calls[2];
	volatile uint32_t epoch;
	struct list_head node;		/* in factory->versions, oldest first */
};

/* Object flags. */
#define OBJ_STATIC	(1U << 0)	/* storage not from kmalloc: never freed */
#define OBJ_NOCONVERT	(1U << 1)	/* its transfer faulted after probation: stays where it is */
/* In object.inflight: a conversion owns the instance. */
#define OBJ_CLAIMED	(1U << 31)
/* With OBJ_CLAIMED: a caller kept waiting may overtake the conversion (update/convert.c). */
#define OBJ_YIELDS	(1U << 30)
/* With OBJ_YIELDS: a caller did; the conversion will not be published. */
#define OBJ_OVERTAKEN	(1U << 29)

struct factory {
	struct class_version *cur;	/* instances are born in this version */
	struct class_version first;	/* the built-in version */
	struct list_head versions;
	struct spinlock lock;		/* instances, counters, versions */
	struct list_head instances;
	uint32_t count;
	uint64_t created, destroyed;
	uint64_t converted;		/* lazy conversions done */
	struct list_head node;		/* in the registry of factories */
};

static inline struct class_version *object_version(const struct object *obj)
{
	return container_of(obj->ops, struct class_version, dispatch);
}

static inline const struct class *factory_class(const struct factory *f)
{
	return f->cur->cls;
}

/* Sets up a factory for the built-in version @cls and registers it by name. */
int factory_init(struct factory *f, const struct class *cls);

/* Makes an instance in the current version, with an OTT slot. */
int factory_create(struct factory *f, const void *arg, ott_ref_t *ref);

/* Adopts a statically allocated instance (a device): ops set, slot given. */
int factory_adopt(struct factory *f, struct object *obj, const void *arg, ott_ref_t *ref);

/* Destroys the instance @ref names. -KE_STALE if it is gone already. */
int factory_destroy(struct factory *f, ott_ref_t ref);

/* The object behind @ref if it belongs to @f, else NULL. */
struct object *factory_object(struct factory *f, ott_ref_t ref);

/* Registered factory of a class, by name; NULL if none. */
struct factory *factory_find(const char *class_name);

/* Visits every registered factory (for status reports). */
void factory_for_each(void (*fn)(struct factory *f, void *arg), void *arg);

/* Fills a dispatch table from a class's ops; unused entries answer -KE_NOSYS. */
void class_version_init(struct class_version *cv, struct factory *f, const struct class *cls);

/* The interface version a reference offers (a call would convert it first). */
int object_iface_version(ott_ref_t ref);

/* Method that answers every index of a missing method. */
long object_nosys(struct object *self, ...);

#endif
