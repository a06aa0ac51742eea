/*
 * kmalloc's engine: power-of-two size-class slabs (16..2048 bytes) for
 * small objects, whole buddy blocks for large ones, with exact accounting
 * so tests and the kernel can check for leaks.
 *
 * No locking here: the caller serialises (src/mem.c wraps the kernel's one
 * heap with a lock). Pages come from, and go straight back to, a page_pool.
 *
 * A slab is one pool page: a header (struct kheap_slab), then one uint16
 * per object holding its requested size (live_bytes must be exact, and the
 * free path only has the pointer), then the objects, 16-byte aligned. As
 * objects never start at offset 0, masking a pointer to its page finds the
 * header. A large block carries struct kheap_large at its start and gives
 * out block + KHEAP_LARGE_OFF.
 *
 * kheap_free() trusts nothing it is given: the page must be a live pool
 * block (page_pool_allocated_order()) before its header is read, the magic
 * says slab or large, and a per-slab bitmap of handed-out objects rejects
 * interior pointers and double frees without touching the object.
 */
#include <stdbool.h>
#include <string.h>
#include <kernel/kheap.h>
#include <kernel/errno.h>

#define KHEAP_MIN_SHIFT		4		/* smallest class: 16 bytes */
#define KHEAP_MAX_SMALL		(16UL << (KHEAP_NCLASSES - 1))
#define KHEAP_LARGE_OFF		64
#define KHEAP_BITMAP_WORDS	4

/* Odd low bits: a free page's list pointer (page aligned) never matches. */
#define KHEAP_SLAB_MAGIC	0x51ab0c01U
#define KHEAP_LARGE_MAGIC	0x1a26eb1fU

struct kheap_free_obj {
	struct kheap_free_obj *next;
};

struct kheap_slab {
	uint32_t magic;
	uint16_t cls;
	uint16_t nfree;
	struct kheap_free_obj *free_obj;
	struct kheap_slab *next;	/* partial list, only while nfree > 0 */
	struct kheap_slab *prev;
	uint64_t used[KHEAP_BITMAP_WORDS];	/* bit set: object handed out */
	uint16_t req[];			/* requested size per object */
};

struct kheap_large {
	uint32_t magic;
	uint32_t order;
	size_t size;
};

/* What a pointer given to kheap_free() or kheap_usable_size() refers to. */
struct kheap_ref {
	struct kheap_slab *slab;	/* NULL for a large block */
	size_t idx;			/* object index within the slab */
	struct kheap_large *large;
};

_Static_assert(PAGE_SIZE / (1UL << KHEAP_MIN_SHIFT) <= 64 * KHEAP_BITMAP_WORDS,
	       "slab bitmap too small for the smallest class");
_Static_assert(sizeof(struct kheap_large) <= KHEAP_LARGE_OFF &&
	       KHEAP_LARGE_OFF % KHEAP_ALIGN == 0, "large header layout");

static inline size_t class_size(unsigned int cls)
{
	return (size_t)1 << (cls + KHEAP_MIN_SHIFT);
}

static unsigned int class_of(size_t size)
{
	unsigned int cls = 0;

	while (class_size(cls) < size)
		cls++;
	return cls;
}

static inline size_t align_up(size_t x, size_t a)
{
	return (x + a - 1) & ~(a - 1);
}

/*
 * Objects per slab and offset of the first one for @cls. Derived from the
 * class rather than stored, so a forged header cannot widen the checks.
 */
static size_t slab_layout(unsigned int cls, size_t *first)
{
	size_t hdr = sizeof(struct kheap_slab), sz = class_size(cls);
	size_t n = (PAGE_SIZE - hdr) / (sz + sizeof(uint16_t));

	while (align_up(hdr + n * sizeof(uint16_t), KHEAP_ALIGN) + n * sz > PAGE_SIZE)
		n--;
	*first = align_up(hdr + n * sizeof(uint16_t), KHEAP_ALIGN);
	return n;
}

static inline bool bit_test(const uint64_t *map, size_t i)
{
	return map[i / 64] >> (i % 64) & 1;
}

static inline void bit_flip(uint64_t *map, size_t i)
{
	map[i / 64] ^= (uint64_t)1 << (i % 64);
}

static void partial_push(struct kheap *h, struct kheap_slab *s)
{
	s->prev = NULL;
	s->next = h->partial[s->cls];
	if (s->next)
		s->next->prev = s;
	h->partial[s->cls] = s;
}

static void partial_unlink(struct kheap *h, struct kheap_slab *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else
		h->partial[s->cls] = s->next;
	if (s->next)
		s->next->prev = s->prev;
}

void kheap_init(struct kheap *h, struct page_pool *pool)
{
	memset(h, 0, sizeof(*h));
	h->pool = pool;
}

static struct kheap_slab *slab_new(struct kheap *h, unsigned int cls)
{
	struct kheap_slab *s = page_pool_alloc(h->pool, 0);
	size_t n, first, i;
	char *obj;

	if (!s)
		return NULL;
	n = slab_layout(cls, &first);
	memset(s, 0, sizeof(*s));
	s->magic = KHEAP_SLAB_MAGIC;
	s->cls = cls;
	s->nfree = n;
	/* Link back to front so objects go out in address order. */
	obj = (char *)s + first + n * class_size(cls);
	for (i = 0; i < n; i++) {
		struct kheap_free_obj *o;

		obj -= class_size(cls);
		o = (struct kheap_free_obj *)obj;
		o->next = s->free_obj;
		s->free_obj = o;
	}
	h->stats.pages_held++;
	partial_push(h, s);
	return s;
}

static void slab_release(struct kheap *h, struct kheap_slab *s)
{
	/* A stale magic in a recycled page must not pass for a live slab. */
	s->magic = 0;
	page_pool_free(h->pool, s, 0);
	h->stats.pages_held--;
}

static void *slab_alloc(struct kheap *h, size_t size)
{
	unsigned int cls = class_of(size);
	struct kheap_slab *s = h->partial[cls];
	struct kheap_free_obj *o;
	size_t first, idx;

	if (!s && !(s = slab_new(h, cls)))
		return NULL;
	o = s->free_obj;
	s->free_obj = o->next;
	slab_layout(cls, &first);
	idx = ((size_t)((char *)o - (char *)s) - first) / class_size(cls);
	bit_flip(s->used, idx);
	s->req[idx] = size;
	if (--s->nfree == 0)
		partial_unlink(h, s);
	return o;
}

static size_t slab_free(struct kheap *h, struct kheap_slab *s, size_t idx, void *p)
{
	struct kheap_free_obj *o = p;
	size_t first, n = slab_layout(s->cls, &first);
	size_t size = s->req[idx];
	bool was_full = s->nfree == 0;

	bit_flip(s->used, idx);
	o->next = s->free_obj;
	s->free_obj = o;
	s->nfree++;
	if (s->nfree == n) {
		if (!was_full)
			partial_unlink(h, s);
		slab_release(h, s);
	} else if (was_full) {
		partial_push(h, s);
	}
	return size;
}

static void *large_alloc(struct kheap *h, size_t size)
{
	struct kheap_large *l;
	unsigned int order;

	if (size > SIZE_MAX - KHEAP_LARGE_OFF)
		return NULL;
	order = page_order_for(size + KHEAP_LARGE_OFF);
	l = page_pool_alloc(h->pool, order);
	if (!l)
		return NULL;
	l->magic = KHEAP_LARGE_MAGIC;
	l->order = order;
	l->size = size;
	h->stats.pages_held += (size_t)1 << order;
	return (char *)l + KHEAP_LARGE_OFF;
}

static size_t large_free(struct kheap *h, struct kheap_large *l)
{
	unsigned int order = l->order;
	size_t size = l->size;

	l->magic = 0;
	page_pool_free(h->pool, l, order);
	h->stats.pages_held -= (size_t)1 << order;
	return size;
}

void *kheap_alloc(struct kheap *h, size_t size)
{
	void *p;

	if (!size)
		return NULL;
	p = size <= KHEAP_MAX_SMALL ? slab_alloc(h, size) : large_alloc(h, size);
	if (!p)
		return NULL;
	h->stats.live_allocs++;
	h->stats.live_bytes += size;
	h->stats.total_allocs++;
	return p;
}

static bool slab_lookup(struct kheap_slab *s, uintptr_t off, struct kheap_ref *r)
{
	size_t first, n;

	if (s->cls >= KHEAP_NCLASSES)
		return false;
	n = slab_layout(s->cls, &first);
	if (off < first || (off - first) % class_size(s->cls))
		return false;
	r->idx = (off - first) / class_size(s->cls);
	if (r->idx >= n || !bit_test(s->used, r->idx))
		return false;
	r->slab = s;
	return true;
}

/* Resolves @p to a live allocation of @h, or false for anything else. */
static bool kheap_lookup(struct kheap *h, const void *p, struct kheap_ref *r)
{
	uintptr_t a = (uintptr_t)p, page = a & ~(uintptr_t)(PAGE_SIZE - 1);
	int order = page_pool_allocated_order(h->pool, (const void *)page);
	const uint32_t *magic = (const uint32_t *)page;

	r->slab = NULL;
	r->large = NULL;
	/* Only now is the page known to be a live block we may read. */
	if (order < 0)
		return false;
	if (*magic == KHEAP_SLAB_MAGIC && order == 0)
		return slab_lookup((struct kheap_slab *)page, a - page, r);
	if (*magic != KHEAP_LARGE_MAGIC || a - page != KHEAP_LARGE_OFF)
		return false;
	r->large = (struct kheap_large *)page;
	return r->large->order == (unsigned int)order;
}

int kheap_free(struct kheap *h, void *p)
{
	struct kheap_ref r;
	size_t size;

	if (!p)
		return 0;
	if (!kheap_lookup(h, p, &r)) {
		h->stats.bad_frees++;
		return -KE_INVAL;
	}
	if (r.slab)
		size = slab_free(h, r.slab, r.idx, p);
	else
		size = large_free(h, r.large);
	h->stats.live_allocs--;
	h->stats.live_bytes -= size;
	h->stats.total_frees++;
	return 0;
}

size_t kheap_usable_size(struct kheap *h, const void *p)
{
	struct kheap_ref r;

	if (!p || !kheap_lookup(h, p, &r))
		return 0;
	if (r.slab)
		return class_size(r.slab->cls);
	return (PAGE_SIZE << r.large->order) - KHEAP_LARGE_OFF;
}
