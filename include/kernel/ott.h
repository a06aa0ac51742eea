/*
 * The object translation table (OTT).
 *
 * Every object is reached through a slot of the global table. Each hart
 * also has a private cache of translations mapped at the same virtual
 * address on every hart (HART_OTT_CACHE_VA), so a reference is simply the
 * address of a cache entry and a call costs one load more than a plain
 * indirect call:
 *
 *     obj = *ref.entry;                 // hart-local translation
 *     obj->ops->method(obj, args...);   // the ordinary indirect call
 *
 * An empty cache entry points to a per-entry "miss object" whose ops table
 * sends every method to an assembly stub (ott_miss.S). The stub asks
 * ott_miss_resolve() for the real object, fills this hart's entry, and
 * tail-calls the method, so the caller never sees the miss.
 *
 * Stale references: a slot's generation is bumped when it is freed, and
 * the cache has OTT_GEN_ALIASES entries per slot, one per generation
 * modulo OTT_GEN_ALIASES. A reference names the entry of its own
 * generation, which is not filled again until the slot has been reused
 * OTT_GEN_ALIASES times, so a stale call misses, is recognised on the slow
 * path, logged, and returns -KE_STALE: no cost on the fast path. Slots are
 * reused first-in first-out to make that window as long as the table;
 * ott_ref_check() compares the full 32-bit generation for callers that
 * must be certain.
 *
 * Every method returns long (0, a value, or a negative KE_ code), which is
 * what lets the miss and stale paths answer any method.
 *
 * Pure logic: no CSR access. Locking: ott->lock serialises slot
 * allocation, free and replacement; the miss path takes no lock.
 */
#ifndef KERNEL_OTT_H
#define KERNEL_OTT_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <kernel/spinlock.h>
#include <kernel/list.h>

#define OTT_MAX_METHODS		32
#define OTT_GEN_ALIASES		2
#define OTT_MAX_CACHES		16

struct class;
struct factory;

/* Header of every instance; the fast path reads only `ops`. */
struct object {
	const void *ops;		/* const table of methods */
	struct factory *factory;	/* who made it; NULL for static objects */
	struct list_head node;		/* in the factory's instance list */
	uint32_t slot;
	uint32_t version;		/* class version this state is laid out for */
	uint32_t flags;			/* OBJ_* (object.h) */
	/*
	 * During an update: calls counted in the old or probation version, and
	 * OBJ_CLAIMED once a conversion owns the instance (update/convert.c).
	 */
	volatile uint32_t inflight;
	struct object *prev;		/* kept old state during probation */
};

typedef long (*ott_method_t)(struct object *self, ...);

typedef struct ott_ref {
	struct object *const *entry;	/* VA of this reference's cache entry */
	uint32_t slot;
	uint32_t gen;
} ott_ref_t;

#define OTT_REF_NULL ((ott_ref_t){ 0, 0, 0 })

struct ott_slot {
	struct object *obj;		/* current implementation, NULL if free */
	const struct class *cls;
	uint32_t gen;
	uint32_t next_free;		/* free-list link (slot index + 1, 0 = end) */
};

struct ott {
	struct spinlock lock;
	struct ott_slot *slots;
	uint32_t nslots;
	uint32_t used;
	uint32_t free_head, free_tail;	/* FIFO of free slots (index + 1) */
	struct object *miss_objs;	/* nslots * OTT_GEN_ALIASES miss objects */
	uintptr_t cache_va;		/* where every hart sees its own cache */
	struct object **caches[OTT_MAX_CACHES];	/* each hart's cache, kernel VA */
	unsigned int ncaches;
	uint64_t misses, stale_calls;
};

/* What the miss stub needs: the object to pass as self and the method. */
struct ott_resolution {
	struct object *obj;
	ott_method_t fn;
};

/* Bytes of slot table and of miss objects for @nslots slots. */
size_t ott_slots_bytes(uint32_t nslots);
size_t ott_miss_bytes(uint32_t nslots);
/* Bytes of one hart's cache. */
size_t ott_cache_bytes(uint32_t nslots);

int ott_init(struct ott *t, uint32_t nslots, struct ott_slot *slots,
	     struct object *miss_objs, const void *miss_ops, uintptr_t cache_va);

/* Registers a hart's cache (kernel-visible address) and empties it. */
int ott_add_cache(struct ott *t, struct object **cache);

/* Puts @obj in a free slot; *ref names it. -KE_NOSPC when full. */
int ott_alloc(struct ott *t, struct object *obj, const struct class *cls, ott_ref_t *ref);

/* Frees the slot @ref names: later calls through any copy of @ref are stale. */
int ott_free(struct ott *t, ott_ref_t ref);

/*
 * Points the slot at @obj (a new implementation or a mediator) and empties
 * every hart's cached translation of it. Returns the previous object.
 */
struct object *ott_replace(struct ott *t, ott_ref_t ref, struct object *obj);
/*
 * The same with the table's lock already held (ott_lock), for a caller
 * that decides and replaces in one step: a conversion's commit
 * (update/convert.c), which takes the lock before its commit point so
 * that nothing after that point waits.
 */
struct object *ott_replace_locked(struct ott *t, ott_ref_t ref, struct object *obj);
void ott_lock(struct ott *t);
void ott_unlock(struct ott *t);

/* A reference to whatever is in @slot now (engine use: it owns the slot). */
ott_ref_t ott_slot_ref(const struct ott *t, uint32_t slot);

/* The object in @slot now, or NULL. */
struct object *ott_slot_object(const struct ott *t, uint32_t slot);

/* Drops @ref's translation from the calling hart's cache only (benchmarks, tests). */
void ott_forget_local(struct ott *t, ott_ref_t ref);

/* Drops the cached translation of one slot on every hart. */
void ott_invalidate(struct ott *t, uint32_t slot);

/* 0 if @ref names a live slot of its generation, else -KE_STALE. */
int ott_ref_check(const struct ott *t, ott_ref_t ref);

/* The current object behind @ref (slow path, checked), or NULL if stale. */
struct object *ott_lookup(const struct ott *t, ott_ref_t ref);

/* Class of the object in @ref's slot, NULL if stale. */
const struct class *ott_class_of(const struct ott *t, ott_ref_t ref);

/* Slow path of a call through an empty cache entry (see ott_miss.S). */
struct ott_resolution ott_miss_resolve(struct ott *t, struct object *miss, unsigned int method);

/* The method stale calls end in: logs once per call and returns -KE_STALE. */
long ott_stale_method(struct object *miss, ...);
/* Hook for the stale path, so pure logic can report without the log. */
extern void (*ott_stale_hook)(uint32_t slot, uint32_t alias, unsigned int method);

/* The kernel's table. */
extern struct ott kernel_ott;

/*
 * A call through a reference: the hart-local translation, then the
 * object's own method. Use through per-class inline wrappers only.
 */
#define OTT_CALL(ref, ops_type, method, ...) ({				\
	struct object *__o = *(ref).entry;				\
	((const ops_type *)__o->ops)->method(__o, ##__VA_ARGS__);	\
})

#endif
