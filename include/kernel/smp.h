/* Starting harts and poking them with IPIs. */
#ifndef KERNEL_SMP_H
#define KERNEL_SMP_H
#include <stdbool.h>
#include <stdint.h>
/* Gives the boot hart its private state and switches it onto paging. */
int smp_boot_hart_setup(uint32_t hartid);
/* Traps and interrupt sources on; marks the calling hart online. */
void smp_hart_online(void);
/* Harts the kernel will try to run on (usable ones in the devicetree). */
unsigned int smp_usable_harts(const void *fdt);
/* Set once smp_start_secondaries() begins: other harts may hold TLB entries. */
extern volatile bool smp_secondaries_started;
/* Starts every other usable hart in the devicetree; returns harts online. */
unsigned int smp_start_secondaries(const void *fdt);
/*
 * Sends a software interrupt to the hart with this index (wakes it from
 * WFI; it reschedules). For the calling hart: it reschedules at its next
 * trap return, so a thread woken from an interrupt handler runs at once.
 */
void smp_kick(unsigned int index);
#endif
