/*
 * Object translation table: slot allocation, per-hart cache maintenance
 * and the miss path (see include/kernel/ott.h for the design).
 *
 * Locking: t->lock serialises alloc/free/replace. The miss path is
 * lock-free: it reads the slot, fills this hart's cache entry, then
 * re-reads the slot, so that a concurrent replace (which writes the slot
 * before emptying the caches) can never leave an old translation cached.
 * The caller of ott_miss_resolve runs with interrupts off (ott_miss.S), so
 * the entry it fills belongs to the hart it runs on.
 */
#include <string.h>
#include <kernel/ott.h>
#include <kernel/errno.h>

void (*ott_stale_hook)(uint32_t slot, uint32_t alias, unsigned int method);

size_t ott_slots_bytes(uint32_t nslots)
{
	return (size_t)nslots * sizeof(struct ott_slot);
}

size_t ott_miss_bytes(uint32_t nslots)
{
	return (size_t)nslots * OTT_GEN_ALIASES * sizeof(struct object *);
}

size_t ott_cache_bytes(uint32_t nslots)
{
	return (size_t)nslots * OTT_GEN_ALIASES * sizeof(struct object *);
}

/*
 * Miss objects are packed one pointer apart: only their `ops` word is ever
 * read, and the address alone tells which cache entry missed.
 */
static inline struct object *miss_obj(const struct ott *t, size_t idx)
{
	return (struct object *)((const void **)t->miss_objs + idx);
}

static inline size_t entry_index(const struct ott *t, uint32_t slot, uint32_t gen)
{
	return (size_t)(gen % OTT_GEN_ALIASES) * t->nslots + slot;
}

int ott_init(struct ott *t, uint32_t nslots, struct ott_slot *slots,
	     struct object *miss_objs, const void *miss_ops, uintptr_t cache_va)
{
	const void **m = (const void **)miss_objs;

	if (!nslots || !slots || !miss_objs || !miss_ops)
		return -KE_INVAL;
	memset(t, 0, sizeof(*t));
	spin_init(&t->lock, "ott");
	t->slots = slots;
	t->nslots = nslots;
	t->miss_objs = miss_objs;
	t->cache_va = cache_va;
	for (size_t i = 0; i < (size_t)nslots * OTT_GEN_ALIASES; i++)
		m[i] = miss_ops;
	/* Slot 0 stays unused so that a zeroed reference is never valid. */
	memset(slots, 0, ott_slots_bytes(nslots));
	for (uint32_t s = 1; s < nslots; s++)
		slots[s].next_free = (s + 1 < nslots) ? s + 2 : 0;
	t->free_head = nslots > 1 ? 2 : 0;
	t->free_tail = nslots > 1 ? nslots : 0;
	t->used = 1;
	return 0;
}

int ott_add_cache(struct ott *t, struct object **cache)
{
	size_t n = (size_t)t->nslots * OTT_GEN_ALIASES;

	if (t->ncaches >= OTT_MAX_CACHES)
		return -KE_NOSPC;
	for (size_t i = 0; i < n; i++)
		cache[i] = miss_obj(t, i);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	t->caches[t->ncaches++] = cache;
	return 0;
}

static ott_ref_t make_ref(const struct ott *t, uint32_t slot, uint32_t gen)
{
	uintptr_t va = t->cache_va + entry_index(t, slot, gen) * sizeof(struct object *);

	return (ott_ref_t){ (struct object *const *)va, slot, gen };
}

int ott_alloc(struct ott *t, struct object *obj, const struct class *cls, ott_ref_t *ref)
{
	uint32_t slot;

	if (!obj || !ref)
		return -KE_INVAL;
	spin_lock(&t->lock);
	if (!t->free_head) {
		spin_unlock(&t->lock);
		return -KE_NOSPC;
	}
	slot = t->free_head - 1;
	t->free_head = t->slots[slot].next_free;
	if (!t->free_head)
		t->free_tail = 0;
	t->slots[slot].next_free = 0;
	t->slots[slot].cls = cls;
	obj->slot = slot;
	__atomic_store_n(&t->slots[slot].obj, obj, __ATOMIC_RELEASE);
	t->used++;
	*ref = make_ref(t, slot, t->slots[slot].gen);
	spin_unlock(&t->lock);
	return 0;
}

void ott_invalidate(struct ott *t, uint32_t slot)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	for (unsigned int h = 0; h < t->ncaches; h++)
		for (uint32_t a = 0; a < OTT_GEN_ALIASES; a++) {
			size_t i = (size_t)a * t->nslots + slot;

			__atomic_store_n(&t->caches[h][i], miss_obj(t, i), __ATOMIC_RELAXED);
		}
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

ott_ref_t ott_slot_ref(const struct ott *t, uint32_t slot)
{
	return make_ref(t, slot, __atomic_load_n(&t->slots[slot].gen, __ATOMIC_ACQUIRE));
}

struct object *ott_slot_object(const struct ott *t, uint32_t slot)
{
	return slot < t->nslots ? __atomic_load_n(&t->slots[slot].obj, __ATOMIC_ACQUIRE) : NULL;
}

void ott_forget_local(struct ott *t, ott_ref_t ref)
{
	*(struct object **)ref.entry = miss_obj(t, entry_index(t, ref.slot, ref.gen));
}

static bool ref_live(const struct ott *t, ott_ref_t ref)
{
	return ref.slot && ref.slot < t->nslots && t->slots[ref.slot].obj &&
	       t->slots[ref.slot].gen == ref.gen;
}

int ott_free(struct ott *t, ott_ref_t ref)
{
	spin_lock(&t->lock);
	if (!ref_live(t, ref)) {
		spin_unlock(&t->lock);
		return -KE_STALE;
	}
	/* Bump the generation first: a racing miss then sees a stale ref. */
	__atomic_store_n(&t->slots[ref.slot].gen, ref.gen + 1, __ATOMIC_RELEASE);
	__atomic_store_n(&t->slots[ref.slot].obj, NULL, __ATOMIC_RELEASE);
	t->slots[ref.slot].cls = NULL;
	ott_invalidate(t, ref.slot);
	/* FIFO reuse keeps a freed slot idle as long as possible. */
	if (t->free_tail)
		t->slots[t->free_tail - 1].next_free = ref.slot + 1;
	else
		t->free_head = ref.slot + 1;
	t->free_tail = ref.slot + 1;
	t->used--;
	spin_unlock(&t->lock);
	return 0;
}

void ott_lock(struct ott *t)
{
	spin_lock(&t->lock);
}

void ott_unlock(struct ott *t)
{
	spin_unlock(&t->lock);
}

struct object *ott_replace_locked(struct ott *t, ott_ref_t ref, struct object *obj)
{
	struct object *old;

	if (!ref_live(t, ref) || !obj)
		return NULL;
	old = t->slots[ref.slot].obj;
	obj->slot = ref.slot;
	__atomic_store_n(&t->slots[ref.slot].obj, obj, __ATOMIC_RELEASE);
	ott_invalidate(t, ref.slot);
	return old;
}

struct object *ott_replace(struct ott *t, ott_ref_t ref, struct object *obj)
{
	struct object *old;

	spin_lock(&t->lock);
	old = ott_replace_locked(t, ref, obj);
	spin_unlock(&t->lock);
	return old;
}

int ott_ref_check(const struct ott *t, ott_ref_t ref)
{
	return ref_live(t, ref) ? 0 : -KE_STALE;
}

struct object *ott_lookup(const struct ott *t, ott_ref_t ref)
{
	return ref_live(t, ref) ? __atomic_load_n(&t->slots[ref.slot].obj, __ATOMIC_ACQUIRE) : NULL;
}

const struct class *ott_class_of(const struct ott *t, ott_ref_t ref)
{
	return ref_live(t, ref) ? t->slots[ref.slot].cls : NULL;
}

long ott_stale_method(struct object *miss, ...)
{
	return -KE_STALE;
}

static struct ott_resolution stale(struct ott *t, struct object *miss, size_t idx,
				   unsigned int method)
{
	__atomic_fetch_add(&t->stale_calls, 1, __ATOMIC_RELAXED);
	if (ott_stale_hook)
		ott_stale_hook((uint32_t)(idx % t->nslots), (uint32_t)(idx / t->nslots), method);
	return (struct ott_resolution){ miss, (ott_method_t)ott_stale_method };
}

struct ott_resolution ott_miss_resolve(struct ott *t, struct object *miss, unsigned int method)
{
	size_t idx = (size_t)((const void **)miss - (const void **)t->miss_objs);
	uint32_t slot = (uint32_t)(idx % t->nslots);
	uint32_t alias = (uint32_t)(idx / t->nslots);
	struct object **entry = (struct object **)(t->cache_va + idx * sizeof(struct object *));
	struct object *obj;
	uint32_t gen;

	if (idx >= (size_t)t->nslots * OTT_GEN_ALIASES || method >= OTT_MAX_METHODS)
		return stale(t, miss, idx, method);
	__atomic_fetch_add(&t->misses, 1, __ATOMIC_RELAXED);
	do {
		gen = __atomic_load_n(&t->slots[slot].gen, __ATOMIC_ACQUIRE);
		obj = __atomic_load_n(&t->slots[slot].obj, __ATOMIC_ACQUIRE);
		if (!obj || gen % OTT_GEN_ALIASES != alias) {
			/* A fill of an earlier round must not outlive this answer. */
			__atomic_store_n(entry, miss, __ATOMIC_RELAXED);
			return stale(t, miss, idx, method);
		}
		__atomic_store_n(entry, obj, __ATOMIC_RELAXED);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		/* Changed under us: the replacer may have emptied caches before our fill. */
	} while (__atomic_load_n(&t->slots[slot].obj, __ATOMIC_ACQUIRE) != obj ||
		 __atomic_load_n(&t->slots[slot].gen, __ATOMIC_ACQUIRE) != gen);
	return (struct ott_resolution){ obj, ((const ott_method_t *)obj->ops)[method] };
}
