/* What differs per board, implemented in platform/<board>/platform.c. */
#ifndef KERNEL_PLATFORM_H
#define KERNEL_PLATFORM_H
#include <stdint.h>
#include <stdbool.h>

/* May the kernel start this hart? (sifive_u: never the E51, hart 0.) */
bool platform_hart_usable(uint32_t hartid);
/* Ends the run: power off where the board can, else what QEMU turns into an exit. */
void platform_halt(int failure) __attribute__((noreturn));
/* Timebase to assume if the devicetree lacks one. */
uint64_t platform_default_timebase(void);
#endif
