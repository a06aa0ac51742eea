/*
 * Instance conversion between class versions (update/convert.c): the
 * per-version dispatch states and what the update engine drives.
 */
#ifndef KERNEL_CONVERT_H
#define KERNEL_CONVERT_H

/* Layout of struct ip_frame for update/interpose.S (checked below). */
#define IP_FRAME_NODE	192	/* offset of its unwind node */
#define IP_FRAME_FAULTS	(IP_FRAME_NODE + 44)	/* node.faults: zeroed on first entry */
#define IP_FRAME_SIZE	256

#ifndef __ASSEMBLY__
#include <stddef.h>
#include <stdint.h>
#include <kernel/object.h>
#include <kernel/unwind.h>

struct trap_frame;

/* Saved by update/interpose.S for every interposed call. */
struct ip_frame {
	uint64_t ra;
	uint64_t a[8];
	uint64_t s[12];
	uint64_t enter, exit, method;
	/*
	 * Linked into the context's unwind chain while the call is counted
	 * (node.cookie = the object, | UNW_PROBATION for new code under
	 * probation); lets a fault, a loop or a block in it be unwound.
	 */
	struct unwind_node node;
};

_Static_assert(offsetof(struct ip_frame, node) == IP_FRAME_NODE &&
	       offsetof(struct ip_frame, node.faults) == IP_FRAME_FAULTS &&
	       sizeof(struct ip_frame) <= IP_FRAME_SIZE && IP_FRAME_SIZE % 16 == 0,
	       "struct ip_frame layout used by update/interpose.S");

static inline struct ip_frame *ip_frame_of(struct unwind_node *n)
{
	return (struct ip_frame *)((char *)n - IP_FRAME_NODE);
}

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

/* The innermost probation call of this context into @cv's code, or NULL. */
struct ip_frame *convert_find_frame(const struct class_version *cv);

/* Abandons a faulted interposed call and every node above it (their counts). */
void convert_abandon(struct ip_frame *f);

/* The version a linked call node runs (its object's, which cannot change meanwhile). */
struct class_version *convert_call_version(const struct unwind_node *n);

/*
 * Probation calls of @cv in flight, in two epochs: probation ends by
 * flipping the epoch and waiting for the old one to drain (probation.c).
 */
uint32_t convert_probation_calls(const struct class_version *cv, unsigned int epoch);
void convert_flip_epoch(struct class_version *cv);

/* Calls failed during a rollback: in-flight instance, caller unable to wait, new code faulting again. */
extern volatile uint64_t convert_failed_calls;
/* transfer_back calls that faulted or failed: the state kept at conversion time was used. */
extern volatile uint64_t convert_back_failures;

/* Stub tables (update/interpose.S). */
extern const ott_method_t lazy_stub_ops[OTT_MAX_METHODS];
extern char ip_retry[];

#endif /* __ASSEMBLY__ */
#endif
