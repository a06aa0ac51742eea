/*
 * Host stand-in for <kernel/hart.h> (test/unit/hostinc is searched before
 * include/). The real header is included for struct hart, struct context
 * and the constants; only this_hart() changes: on the target it is a load
 * from HART_SELF_PTR_VA, here it returns host_cur_hart, which a test points
 * at one of a few fake harts (thread-local, so a test that starts a
 * pthread gives that thread a hart of its own).
 *
 * Definitions live in test/unit/hostinc/host_target.c.
 */
#ifndef UNIT_HOSTINC_KERNEL_HART_H
#define UNIT_HOSTINC_KERNEL_HART_H

/* The target's inline version is renamed out of the way (and never used). */
#define this_hart target_this_hart
#include_next <kernel/hart.h>
#undef this_hart

extern _Thread_local struct hart *host_cur_hart;

static inline struct hart *this_hart(void)
{
	return host_cur_hart;
}

#endif
