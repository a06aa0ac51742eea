/*
 * SBI calls (ecall into OpenSBI). Stateless; callable from any hart with
 * any locks held, since the firmware serialises what it must.
 */
#include <kernel/sbi.h>
#include <kernel/riscv.h>

struct sbiret sbi_call(long ext, long fid, long a0, long a1, long a2)
{
	register long r_a0 __asm__("a0") = a0;
	register long r_a1 __asm__("a1") = a1;
	register long r_a2 __asm__("a2") = a2;
	register long r_a6 __asm__("a6") = fid;
	register long r_a7 __asm__("a7") = ext;

	__asm__ __volatile__("ecall"
			     : "+r"(r_a0), "+r"(r_a1)
			     : "r"(r_a2), "r"(r_a6), "r"(r_a7)
			     : "memory");
	return (struct sbiret){ .error = r_a0, .value = r_a1 };
}

void sbi_console_putchar(int c)
{
	sbi_call(SBI_EXT_LEGACY_PUTCHAR, 0, c, 0, 0);
}

long sbi_probe_extension(long ext)
{
	struct sbiret r = sbi_call(SBI_EXT_BASE, 3, ext, 0, 0);

	return r.error ? 0 : r.value;
}

void sbi_set_timer(uint64_t when)
{
	sbi_call(SBI_EXT_TIME, 0, (long)when, 0, 0);
}

long sbi_send_ipi(unsigned long hart_mask, unsigned long hart_mask_base)
{
	return sbi_call(SBI_EXT_IPI, 0, hart_mask, hart_mask_base, 0).error;
}

long sbi_hart_start(unsigned long hartid, unsigned long start_pa, unsigned long opaque)
{
	return sbi_call(SBI_EXT_HSM, 0, hartid, start_pa, opaque).error;
}

long sbi_hart_status(unsigned long hartid)
{
	struct sbiret r = sbi_call(SBI_EXT_HSM, 2, hartid, 0, 0);

	return r.error ? r.error : r.value;
}

long sbi_remote_fence_i(unsigned long hart_mask, unsigned long hart_mask_base)
{
	return sbi_call(SBI_EXT_RFENCE, 0, hart_mask, hart_mask_base, 0).error;
}

void sbi_system_reset(long type, long reason)
{
	sbi_call(SBI_EXT_SRST, 0, type, reason, 0);
	/* SRST refused or absent: nothing else can end the machine from here. */
	for (;;)
		wfi();
}
