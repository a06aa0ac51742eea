/* qemu-virt quirks: none for harts; SBI SRST powers the machine off. */
#include <kernel/platform.h>
#include <kernel/sbi.h>

bool platform_hart_usable(uint32_t hartid)
{
	return true;
}

void platform_halt(int failure)
{
	sbi_system_reset(SBI_SRST_SHUTDOWN,
			 failure ? SBI_SRST_REASON_FAILURE : SBI_SRST_REASON_NONE);
}

uint64_t platform_default_timebase(void)
{
	return 10000000;
}
