/*
 * The demo workload: worker threads on every hart call instances of the
 * `counter` class through the OTT; a heartbeat line each second reports
 * calls made and calls counted, which must always match.
 */
#ifndef KERNEL_WORKLOAD_H
#define KERNEL_WORKLOAD_H
#include <kernel/ott.h>
#include <kernel/counter.h>

#define WORKLOAD_COUNTERS	1024
#define WORKLOAD_WORKERS_PER_HART 2

/*
 * Registers the counter class (no instances yet) so that journaled
 * counter updates can be replayed at boot before the workload makes its
 * counters, which are then born in the replayed version.
 */
int workload_register(void);
void workload_start(void);
/* Reference to counter @i of the workload (OTT_REF_NULL if not started). */
ott_ref_t workload_counter(unsigned int i);
/*
 * A counter of the caller's own, beside the workload's (the shell's
 * `probe new`: its class's init and fini run in the caller's thread and
 * in the reaper). -KE_NOENT before workload_start() (no class yet).
 */
int workload_counter_create(ott_ref_t *ref);
int workload_counter_destroy(ott_ref_t ref);
/* The class version @ref's state is laid out for, or -KE_STALE. */
long workload_counter_version(ott_ref_t ref);
#endif
