/*
 * HiFive Unmatched (FU740) quirks: hart 0 is the S7 monitor core without
 * S-mode. A halt asks for a cold reboot; the board's PMIC-backed reset is
 * what the vendor OpenSBI offers.
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
