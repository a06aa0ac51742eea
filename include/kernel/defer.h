/*
 * Deferred work that must wait for quiescence: freeing memory that a call
 * may still be using (old object states, mediators, module code). The
 * reaper thread batches requests, waits with quiesce_wait(), then runs them.
 */
#ifndef KERNEL_DEFER_H
#define KERNEL_DEFER_H

struct object;

/* Runs fn(arg) once no call that began before now can still be running. */
int defer_call(void (*fn)(void *arg), void *arg);
/* kfree()s @obj after quiescence. */
void object_free_deferred(struct object *obj);
/* Blocks until everything deferred before now has run (tests, leak checks). */
void defer_flush(void);
/* Starts the reaper thread. */
void defer_start(void);
#endif
