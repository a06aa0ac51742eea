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
#endif
