/*
 * Stop-the-world: every other hart parked in its IPI handler, interrupts
 * off, while one function runs. This is how kpatch and Ksplice apply a
 * patch; the kernel keeps it only as the benchmark baseline for live
 * updates, which never stop the world.
 */
#ifndef KERNEL_STW_H
#define KERNEL_STW_H
#include <stdint.h>
/* Runs fn(arg) with every other online hart parked. Returns the pause in ticks. */
uint64_t stw_run(void (*fn)(void *arg), void *arg);
/* Called by the IPI handler: parks here while a stop is in progress. */
void stw_park_if_requested(void);
#endif
