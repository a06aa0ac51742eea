/*
 * Classes, instances and factories.
 *
 * A class is a const ops table plus a state layout: instances are structs
 * that begin with `struct object` (whose first word is the ops pointer).
 * A factory makes and destroys the instances of one class, keeps the list
 * of live ones and the class version, and gives out OTT references; it is
 * what a live update swaps to make new instances be born in a new version.
 */
#ifndef KERNEL_OBJECT_H
#define KERNEL_OBJECT_H

#include <stddef.h>
#include <stdint.h>
#include <kernel/ott.h>
#include <kernel/spinlock.h>
#include <kernel/list.h>

struct class {
	const char *name;
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

/* Declares `name` as a class whose ops struct is `ops` (function pointers only). */
#define CLASS_OPS_CHECK(ops_type) \
	_Static_assert(sizeof(ops_type) % sizeof(void *) == 0 && \
		       sizeof(ops_type) / sizeof(void *) <= OTT_MAX_METHODS, \
		       #ops_type " must be at most OTT_MAX_METHODS method pointers")

struct factory {
	const struct class *cls;	/* instances are born in this version */
	struct spinlock lock;
	struct list_head instances;
	uint32_t count;
	uint64_t created, destroyed;
	struct list_head node;		/* in the registry of factories */
};

/* Sets up a factory and registers it under its class name. */
int factory_init(struct factory *f, const struct class *cls);

/* Makes an instance: allocates and zeroes state, runs init, gives an OTT slot. */
int factory_create(struct factory *f, const void *arg, ott_ref_t *ref);

/* Destroys the instance @ref names. -KE_STALE if it is gone already. */
int factory_destroy(struct factory *f, ott_ref_t ref);

/* The object behind @ref if it belongs to @f, else NULL. */
struct object *factory_object(struct factory *f, ott_ref_t ref);

/* Registered factory of a class, by name; NULL if none. */
struct factory *factory_find(const char *class_name);

/* Visits every registered factory (for status reports). */
void factory_for_each(void (*fn)(struct factory *f, void *arg), void *arg);

/* Gives a static (non-factory) object an OTT slot, e.g. a device instance. */
int object_publish(struct object *obj, const struct class *cls, ott_ref_t *ref);

#endif
