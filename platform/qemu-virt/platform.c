/*
 * qemu-virt quirks: none for harts. SBI SRST powers the machine off, but
 * OpenSBI 1.1 turns every SRST shutdown into a "pass" on QEMU's test
 * device, so a failure (panic) writes the device's FAIL code itself and
 * QEMU exits with status 1: a panicking run cannot look like a clean one.
 *
 * Locking: none. The device address is set once at probe, before other
 * harts start, and only read after.
 */
#include <stdint.h>
#include <kernel/platform.h>
#include <kernel/sbi.h>
#include <kernel/driver.h>
#include <kernel/devtree.h>
#include <kernel/log.h>
#include <kernel/errno.h>
#include <kernel/vm.h>

/* QEMU's sifive_test "finisher" (hw/misc/sifive_test.c): FAIL with an exit code. */
#define FINISHER_FAIL		0x3333u
#define FINISHER_CODE_SHIFT	16

static volatile uint32_t *finisher;

bool platform_hart_usable(uint32_t hartid)
{
	return true;
}

void platform_halt(int failure)
{
	if (failure && finisher)
		*finisher = FINISHER_FAIL | 1u << FINISHER_CODE_SHIFT;
	sbi_system_reset(SBI_SRST_SHUTDOWN,
			 failure ? SBI_SRST_REASON_FAILURE : SBI_SRST_REASON_NONE);
}

uint64_t platform_default_timebase(void)
{
	return 10000000;
}

static int finisher_probe(const void *fdt, int node, int match)
{
	uint64_t base, size;
	int err = dt_reg(fdt, node, 0, &base, &size);

	if (err)
		return err;
	if (size < sizeof(uint32_t))
		return -KE_INVAL;
	err = vm_map_io(base, sizeof(uint32_t));
	if (err)
		return err;
	finisher = (volatile uint32_t *)(uintptr_t)base;
	klog("platform", "bound test finisher base=%#lx fail_exit=1",
	     (unsigned long)base);
	return 0;
}

static const char *const finisher_compat[] = { "sifive,test0", NULL };

DRIVER_DECLARE(9, finisher_driver) = {
	.name = "qemu-test-finisher",
	.compatible = finisher_compat,
	.probe = finisher_probe,
	.single = 1,
};
