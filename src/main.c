/*
 * Boot: the order in which the kernel comes up on the boot hart, then the
 * boot arguments that tests and users pass on the command line:
 *   shutdown=<sec>     end the run after <sec> seconds (tests)
 *   fault=<kind>[@<hart>]  a thread on hart index <hart> (default 1) faults
 *                      once, <kind> = load|store|exec|illegal|stack|loopstack (tests)
 *   bench              run the benchmarks, print the table, end the run
 *   workload=off       no demo workload
 *   storage=selftest   check the state device's driver at boot (tests)
 *   journal=off        leave the state device alone: run volatile (driver tests)
 *   replay_timeout=<s> the journal replay watchdog (update/persist.c)
 *   boot_good_ms=<ms>  when a boot counts as good after the replay
 *   mqtt=<ip>:<port> id=<name>  pull updates from an MQTT broker (pull.h)
 */
#include <string.h>
#include <stdlib.h>
#include <kernel/hart.h>
#include <kernel/log.h>
#include <kernel/mem.h>
#include <kernel/ott.h>
#include <kernel/vm.h>
#include <kernel/tls.h>
#include <kernel/smp.h>
#include <kernel/kstack.h>
#include <kernel/trap.h>
#include <kernel/devtree.h>
#include <kernel/driver.h>
#include <kernel/sched.h>
#include <kernel/thread.h>
#include <kernel/timer.h>
#include <kernel/uart.h>
#include <kernel/console.h>
#include <kernel/netif.h>
#include <kernel/agent.h>
#include <kernel/pull.h>
#include <kernel/platform.h>
#include <kernel/workload.h>
#include <kernel/bench.h>
#include <kernel/riscv.h>
#include <kernel/errno.h>
#include <kernel/defer.h>
#include <kernel/demo.h>
#include <kernel/storage.h>
#include <kernel/persist.h>
#include <kernel/update_engine.h>
#include <libfdt.h>

#define FDT_MAX		(64 * 1024)
#define OTT_SLOTS	131072

extern const void *ott_miss_ops;
static char fdt_copy[FDT_MAX] __attribute__((aligned(8)));
static char boot_tls[512] __attribute__((aligned(16)));
const void *kernel_fdt = fdt_copy;
struct ott kernel_ott;
static char bootargs[1024];
static bool net_up;

static void ott_setup(void)
{
	struct ott_slot *slots = page_alloc(page_order_for(ott_slots_bytes(OTT_SLOTS)));
	struct object *miss = page_alloc(page_order_for(ott_miss_bytes(OTT_SLOTS)));

	if (!slots || !miss)
		panic("no memory for the OTT");
	if (ott_init(&kernel_ott, OTT_SLOTS, slots, miss, &ott_miss_ops, HART_OTT_CACHE_VA))
		panic("ott_init failed");
}

static void copy_fdt(const void *fdt)
{
	int err = dt_check(fdt, FDT_MAX);

	if (err)
		panic("devicetree at %p is not usable (%s)", fdt, err_name(err));
	memcpy(fdt_copy, fdt, fdt_totalsize(fdt));
}

static void shutdown_thread(void *arg)
{
	thread_sleep_us((uint64_t)(uintptr_t)arg * 1000000ULL);
	klog("boot", "shutdown after=%lus", (unsigned long)(uintptr_t)arg);
	platform_halt(0);
}

static void fault_thread(void *arg)
{
	char *kind = arg;

	thread_sleep_us(1500000);
	trap_inject_fault(kind);
	klog("trap", "fault kind=%s did not trap", kind);
}

/* Starts what the command line asks for. */
static void start_bootarg_threads(void)
{
	char val[32];

	if (!dt_bootarg(bootargs, "shutdown", val, sizeof(val)))
		thread_create("shutdown", shutdown_thread, (void *)(uintptr_t)strtoul(val, NULL, 10),
			      THREAD_ANY_HART);
	if (!dt_bootarg(bootargs, "fault", val, sizeof(val))) {
		static char kind[16];
		char *at = strchr(val, '@');
		int hart = at ? atoi(at + 1) : 1;

		if (at)
			*at = '\0';
		strncpy(kind, val, sizeof(kind) - 1);
		if (hart >= (int)nharts_online)
			hart = (int)nharts_online - 1;
		thread_create("faulter", fault_thread, kind, hart);
	}
}

/*
 * The rest of the boot runs in a thread, since replaying the journal goes
 * through the update engine, which waits (quiescence, self-tests,
 * probation): journal replay, then the agent (so no push races the
 * replay), the workload or a benchmark, the shell, and `boot: ready`.
 */
static void boot_main(void *arg)
{
	unsigned int n = (unsigned int)(uintptr_t)arg;
	char val[16];

	persist_boot(bootargs);
	if (net_up && dt_bootarg(bootargs, "netecho", NULL, 0)) {
		agent_start();
		pull_start(bootargs);
	}
	if (!dt_bootarg(bootargs, "bench", val, sizeof(val)) && !strcmp(val, "update")) {
		bench_update_start();
	} else if (!dt_bootarg(bootargs, "bench", NULL, 0)) {
		bench_start();
	} else {
		if (dt_bootarg(bootargs, "workload", val, sizeof(val)) || strcmp(val, "off"))
			workload_start();
		shell_start();
	}
	start_bootarg_threads();
	demo_start(bootargs);
	klog("boot", "ready harts=%u board=%s", n, PLAT_NAME);
}

void kmain(unsigned long hartid, const void *fdt);
void kmain(unsigned long hartid, const void *fdt)
{
	unsigned int n;
	char val[16];
	int err;

	boot_hartid = (uint32_t)hartid;
	if (tls_size() > sizeof(boot_tls))
		panic("TLS block too large");
	tls_init(boot_tls);
	__asm__ __volatile__("mv tp, %0" :: "r"(boot_tls));
	harts[hartid].tls = boot_tls;
	trap_init_hart();
	copy_fdt(fdt);
	if (dt_timebase(fdt_copy) > 0)
		log_set_timebase((uint64_t)dt_timebase(fdt_copy));
	strncpy(bootargs, dt_bootargs(fdt_copy), sizeof(bootargs) - 1);
	if (strlen(dt_bootargs(fdt_copy)) >= sizeof(bootargs))
		klog("boot", "command line cut to %zu characters", sizeof(bootargs) - 1);
	klog("boot", "kernel board=%s hart=%lu fdt=%p args=\"%s\"", PLAT_NAME, hartid, fdt, bootargs);
	if ((err = mem_init(fdt_copy)))
		panic("no usable memory (%s)", err_name(err));
	ott_setup();
	if ((err = vm_init()) || (err = smp_boot_hart_setup(boot_hartid)))
		panic("paging setup failed (%s)", err_name(err));
	if ((err = driver_probe_all(fdt_copy)))
		panic("a required device is missing (%s)", err_name(err));
	if (!console_ref.entry)
		panic("no console UART in the devicetree");
	if ((err = kstack_init()))
		panic("no memory for thread stacks (%s)", err_name(err));
	if ((err = sched_rr_create(smp_usable_harts(fdt_copy))))
		panic("scheduler creation failed (%s)", err_name(err));
	smp_hart_online();
	n = smp_start_secondaries(fdt_copy);
	if (!dt_bootarg(bootargs, "storage", val, sizeof(val)) && !strcmp(val, "selftest"))
		storage_selftest();
	console_start_rx();
	net_up = !netif_start(bootargs);
	defer_start();
	update_engine_start();
	if (workload_register())
		klog("boot", "counter class not registered");
	thread_create("boot", boot_main, (void *)(uintptr_t)n, THREAD_ANY_HART);
	sched_loop_start();
}
