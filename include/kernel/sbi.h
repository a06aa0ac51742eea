/*
 * Calls into the SBI firmware (OpenSBI): timer, IPI, hart state (HSM),
 * system reset (SRST), and the legacy console for early and panic output.
 */
#ifndef KERNEL_SBI_H
#define KERNEL_SBI_H

#include <stdint.h>

struct sbiret {
	long error;
	long value;
};

#define SBI_EXT_LEGACY_PUTCHAR	0x01
#define SBI_EXT_BASE		0x10
#define SBI_EXT_TIME		0x54494D45
#define SBI_EXT_IPI		0x735049
#define SBI_EXT_RFENCE		0x52464E43
#define SBI_EXT_HSM		0x48534D
#define SBI_EXT_SRST		0x53525354

#define SBI_SRST_SHUTDOWN	0
#define SBI_SRST_COLD_REBOOT	1
#define SBI_SRST_REASON_NONE	0
#define SBI_SRST_REASON_FAILURE	1

#define SBI_HSM_STARTED		0
#define SBI_HSM_STOPPED		1

struct sbiret sbi_call(long ext, long fid, long a0, long a1, long a2);

void sbi_console_putchar(int c);
long sbi_probe_extension(long ext);
void sbi_set_timer(uint64_t when);
long sbi_send_ipi(unsigned long hart_mask, unsigned long hart_mask_base);
long sbi_hart_start(unsigned long hartid, unsigned long start_pa, unsigned long opaque);
long sbi_hart_status(unsigned long hartid);
long sbi_remote_fence_i(unsigned long hart_mask, unsigned long hart_mask_base);
void sbi_system_reset(long type, long reason) __attribute__((noreturn));

#endif
