/*
 * Host doubles of the kernel services the pure object modules (ott.c,
 * factory.c, sched_rr.c) link against, plus a host OTT set-up:
 *
 *  - kmalloc/kzalloc/kfree on calloc/free, counting live blocks, with an
 *    injectable failure;
 *  - single-threaded spinlocks that fail the running cmocka test on a
 *    double lock or on unlocking a lock that is not held, and count the
 *    locks held so a test can assert every path released its lock;
 *  - smp_kick() recording which hart index was kicked;
 *  - kernel_ott, and host "miss ops": C functions standing in for the
 *    assembly stubs of ott_miss.S. Method stub N calls
 *    ott_miss_resolve(&kernel_ott, miss, N) and calls the resolved method
 *    with the resolved object and the caller's (integer/pointer) arguments,
 *    as the real stub does. Up to 5 arguments after self are forwarded.
 *  - host "harts": every hart has its own cache array; the current hart is
 *    the one whose array kernel_ott.cache_va points at.
 *
 * Not a test binary (no test_ prefix): list it in `// unit-srcs:`.
 */
#ifndef UNIT_HOST_STUBS_H
#define UNIT_HOST_STUBS_H

#include <stddef.h>
#include <stdint.h>
#include <kernel/ott.h>

/* --- memory ------------------------------------------------------------ */
extern long host_live_allocs;		/* kmalloc/kzalloc blocks not yet freed */
extern unsigned long host_total_allocs;	/* successful kmalloc/kzalloc calls */
/* When > 0: counts down on each allocation; the one that takes it to 0 fails. */
extern int host_alloc_fail_in;

/*
 * object_free_deferred() (defer.h): the kernel frees after quiescence; the
 * double queues the object and frees it in host_defer_flush(), which
 * plays the part of quiescence.
 */
#define HOST_MAX_DEFERRED 16384	/* test_convert queues ~10000 at once */
extern struct object *host_deferred[HOST_MAX_DEFERRED];
extern unsigned int host_ndeferred;
void object_free_deferred(struct object *obj);	/* as in kernel/defer.h */
int defer_call(void (*fn)(void *arg), void *arg);	/* queued for host_defer_flush() */
/* When set: called by defer_call() first (what the caller had done by then). */
extern void (*host_defer_hook)(void (*fn)(void *arg), void *arg);
void host_defer_flush(void);

/* --- locks --------------------------------------------------------------- */
extern int host_locks_held;		/* spin_lock minus spin_unlock */
extern unsigned long host_lock_ops;	/* spin_lock calls */

/* --- IPIs ---------------------------------------------------------------- */
#define HOST_MAX_KICKS 64
extern unsigned int host_kicks[HOST_MAX_KICKS];
extern unsigned int host_nkicks;
void host_kicks_reset(void);

/* --- OTT ----------------------------------------------------------------- */
/* What the stubs forward: self plus up to five integer or pointer args. */
typedef long (*host_method_t)(struct object *self, uintptr_t a1, uintptr_t a2,
			      uintptr_t a3, uintptr_t a4, uintptr_t a5);

extern const host_method_t host_miss_ops[OTT_MAX_METHODS];
extern unsigned long host_miss_calls;		/* stubs entered */
extern unsigned int host_last_miss_method;	/* method index of the last one */

#define HOST_MAX_HARTS 4

/*
 * ott_init()s @t with @nslots slots, host_miss_ops and @nharts host caches
 * (registered with ott_add_cache in order); hart 0 is current. Memory comes
 * from calloc, not kmalloc, so it does not count as a kernel allocation.
 */
void host_ott_setup(struct ott *t, uint32_t nslots, unsigned int nharts);
void host_ott_teardown(struct ott *t);
/* Hart @h's cache array. */
struct object **host_cache(unsigned int h);
/* Makes hart @h current: @t's cache_va becomes its cache's address. */
void host_set_hart(struct ott *t, unsigned int h);
/* @ref as hart @h sees it (its entry inside hart @h's cache). */
ott_ref_t host_ref_on(const struct ott *t, ott_ref_t ref, unsigned int h);
/* The miss object for entry @idx of @t (what an empty entry holds). */
struct object *host_miss_obj(const struct ott *t, size_t idx);
/* Index of @ref's entry: (gen % OTT_GEN_ALIASES) * nslots + slot. */
size_t host_entry_index(const struct ott *t, ott_ref_t ref);

/* Runtime switch for tests that demonstrate known bugs in src/. */

#endif
