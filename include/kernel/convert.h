/*
 * Instance conversion between class versions (update/convert.c): the
 * per-version dispatch states and what the update engine drives.
 */
#ifndef KERNEL_CONVERT_H
#define KERNEL_CONVERT_H

#include <stdint.h>
#include <kernel/object.h>

struct trap_frame;

/* Saved by update/interpose.S for every interposed call. */
struct ip_frame {
	uint64_t ra;
	uint64_t a[8];
	uint64_t s[12];
	uint64_t enter, exit, method;
	uint64_t cookie;	/* what exit must undo */
	struct ip_frame *prev;	/* next outer retryable call of this context */
};

/* Moves a version's dispatch table to @state (enum cv_state). */
void cv_set_state(struct class_version *cv, int state);

/*
 * Converts @old to the version its current state asks for (the factory's
 * current one, or back to @old->prev's when reverting), if no counted call
 * is in it. 0 with *out set; -KE_BUSY if calls are in it; -KE_ALREADY if
 * another context converts it; -KE_EXIST if it is at the target already
 * (its version became current again by a rollback); -KE_STALE if it was
 * destroyed meanwhile; -KE_NOMEM (or a failing transfer). Runs with
 * interrupts off inside.
 */
int convert_instance(struct object *old, struct object **out);

/* Converts every instance of @f not at @target's version; yields between. */
int convert_all(struct factory *f, uint64_t timeout_us);

/* One pass converting what it can, never yielding (stop-the-world); busy count. */
unsigned int convert_all_now(struct factory *f);

/* Instances of @f whose version differs from the current one. */
uint32_t convert_pending(struct factory *f);

/* Frees the old states kept for a rollback (after probation). */
void convert_drop_prev(struct factory *f);

/* The retryable frame of the innermost interposed call into @cv's code, or NULL. */
struct ip_frame *convert_find_frame(const struct class_version *cv);

/* Abandons a faulted interposed call (undoes its count, unlinks it). */
void convert_abandon(struct ip_frame *f);

/* Stub tables (update/interpose.S). */
extern const ott_method_t lazy_stub_ops[OTT_MAX_METHODS];
extern char ip_retry[];

#endif
