/* In-kernel benchmarks (make bench): OTT call paths against a plain call. */
#ifndef KERNEL_BENCH_H
#define KERNEL_BENCH_H
/* Starts the benchmark thread; it prints the table and ends the run. */
void bench_start(void);
/* bench=update: the live-update benchmark (needs kernel-demo.elf's packs). */
void bench_update_start(void);
#endif
