/*
 * HiFive Unleashed (FU540, QEMU sifive_u) quirks: hart 0 is the E51
 * monitor core without S-mode, and OpenSBI cannot power the board off, so
 * a halt is an SRST cold reboot (QEMU exits on it with -no-reboot).
 */
#include <kernel/platform.h>
#include <kernel/sbi.h>

bool platform_hart_usable(uint32_t hartid)
{
	return hartid != 0;
}

void platform_halt(int failure)
{
	sbi_system_reset(SBI_SRST_COLD_REBOOT,
			 failure ? SBI_SRST_REASON_FAILURE : SBI_SRST_REASON_NONE);
}

uint64_t platform_default_timebase(void)
{
	return 1000000;
}
