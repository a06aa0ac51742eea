/*
 * Harts: the per-hart records, bringing up each hart's private state
 * (stack, TLS, OTT cache, page table), starting secondaries with SBI HSM,
 * and IPIs. Secondaries are prepared entirely by the boot hart, so a hart
 * that comes up only has to switch onto what was made for it.
 *
 * Locking: harts[] entries are written before their hart starts and by
 * that hart afterwards; nharts_online only grows (atomic). A started hart
 * and the boot hart race on start_state: the hart goes online only if it
 * gets there before the boot hart stops waiting for it, so `boot: ready
 * harts=N` is always the truth. Indexes are given out when a hart goes
 * online, so they stay dense.
 */
#include <string.h>
#include <kernel/smp.h>
#include <kernel/hart.h>
#include <kernel/vm.h>
#include <kernel/mem.h>
#include <kernel/ott.h>
#include <kernel/tls.h>
#include <kernel/sbi.h>
#include <kernel/riscv.h>
#include <kernel/log.h>
#include <kernel/devtree.h>
#include <kernel/platform.h>
#include <kernel/errno.h>
#include <kernel/trap.h>
#include <kernel/timer.h>
#include <kernel/irq.h>
#include <kernel/thread.h>

#define HART_STACK_ORDER 2
#define EMERG_STACK_ORDER 2	/* 16 KiB: any trap handler, run for a thread near its stack end */

enum { START_NONE, START_PENDING, START_ONLINE, START_ABANDONED };

struct hart harts[MAX_HARTS];
/*
 * Stack top of each started secondary, for a hart that OpenSBI sends to
 * _start instead of secondary_entry (entry.S). In .data: it must survive
 * the .bss clear a late hart could race with.
 */
uintptr_t smp_secondary_stack[MAX_HARTS] __attribute__((section(".data")));
static struct hart *by_index[MAX_HARTS];
unsigned int nharts_online;
static unsigned int nharts_indexed;
volatile bool vm_percpu_ready;
uint32_t boot_hartid;

extern char secondary_entry[];

struct hart *hart_by_index(unsigned int index)
{
	return index < MAX_HARTS ? by_index[index] : NULL;
}

/* Gives @h its OTT cache, emergency stack (kstack.h) and page table. */
static int hart_prepare(struct hart *h, uint32_t hartid)
{
	size_t cache_bytes = ott_cache_bytes(kernel_ott.nslots);
	void *cache = page_alloc(page_order_for(cache_bytes));
	void *emerg = page_alloc(EMERG_STACK_ORDER);
	int err;

	if (!cache || !emerg) {
		if (cache)
			page_free(cache, page_order_for(cache_bytes));
		if (emerg)
			page_free(emerg, EMERG_STACK_ORDER);
		return -KE_NOMEM;
	}
	h->emerg_top = (uintptr_t)emerg + (PAGE_SIZE << EMERG_STACK_ORDER);
	h->hartid = hartid;
	spin_init(&h->sleep_lock, "sleepers");
	list_init(&h->sleepers);
	h->ott_cache = cache;
	err = ott_add_cache(&kernel_ott, cache);
	err = err ?: vm_hart_setup(h, cache, cache_bytes);
	return err;
}

/* Gives @h the next dense index; called by the hart itself going online. */
static void hart_take_index(struct hart *h)
{
	h->index = __atomic_fetch_add(&nharts_indexed, 1, __ATOMIC_ACQ_REL);
	by_index[h->index] = h;
}

int smp_boot_hart_setup(uint32_t hartid)
{
	struct hart *h = &harts[hartid];
	int err = hart_prepare(h, hartid);

	if (err)
		return err;
	hart_take_index(h);
	h->start_state = START_ONLINE;
	vm_enable(h);
	vm_percpu_ready = true;
	return 0;
}

/* Interrupt sources every hart takes: timer, IPIs, and external ones. */
static void hart_enable_interrupts(struct hart *h)
{
	timer_start_hart();
	if (irq_available())
		irqc_init_hart(irqc_ref, h->hartid);
	csr_set(sie, SIE_SSIE | SIE_SEIE);
}

void smp_hart_online(void)
{
	struct hart *h = this_hart();

	trap_init_hart();
	hart_enable_interrupts(h);
	h->online = true;
	/* Logged before it counts, so the boot hart's `boot: ready` comes after it. */
	klog("smp", "hart online hartid=%u index=%u", h->hartid, h->index);
	__atomic_fetch_add(&nharts_online, 1, __ATOMIC_ACQ_REL);
}

void secondary_main(unsigned long hartid);
void secondary_main(unsigned long hartid)
{
	struct hart *h = &harts[hartid];
	int pending = START_PENDING;

	vm_enable(h);
	__asm__ __volatile__("mv tp, %0" :: "r"(h->tls));
	if (!__atomic_compare_exchange_n(&h->start_state, &pending, START_ONLINE, false,
					 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		/* Too late: the kernel already runs without us. Stay out of the way. */
		klog("smp", "hart came up late hartid=%u: left out", h->hartid);
		for (;;)
			wfi();
	}
	hart_take_index(h);
	smp_hart_online();
	sched_loop_start();
}

static int start_one(uint32_t hartid)
{
	struct hart *h = &harts[hartid];
	void *stack = page_alloc(HART_STACK_ORDER);
	int err;

	if (!stack)
		return -KE_NOMEM;
	h->stack_top = (char *)stack + (PAGE_SIZE << HART_STACK_ORDER);
	h->tls = tls_alloc();
	if (!h->tls)
		return -KE_NOMEM;
	err = hart_prepare(h, hartid);
	if (err)
		return err;
	h->start_state = START_PENDING;
	mb();
	__atomic_store_n(&smp_secondary_stack[hartid], (uintptr_t)h->stack_top, __ATOMIC_RELEASE);
	return (int)sbi_hart_start(hartid, (uintptr_t)secondary_entry, (uintptr_t)h->stack_top);
}

static bool usable(const struct dt_cpu *c)
{
	return c->usable && platform_hart_usable(c->hartid) && c->hartid < MAX_HARTS;
}

unsigned int smp_usable_harts(const void *fdt)
{
	struct dt_cpu cpus[DT_MAX_CPUS];
	int n = dt_cpus(fdt, cpus, DT_MAX_CPUS);
	unsigned int count = 0;

	for (int i = 0; i < n; i++)
		count += usable(&cpus[i]) || cpus[i].hartid == boot_hartid;
	return count ? count : 1;
}

volatile bool smp_secondaries_started;

unsigned int smp_start_secondaries(const void *fdt)
{
	struct dt_cpu cpus[DT_MAX_CPUS];
	int n = dt_cpus(fdt, cpus, DT_MAX_CPUS);
	unsigned int started = 0;

	__atomic_store_n(&smp_secondaries_started, true, __ATOMIC_SEQ_CST);

	for (int i = 0; i < n; i++) {
		uint32_t id = cpus[i].hartid;
		int err;

		if (id == boot_hartid)
			continue;
		if (!usable(&cpus[i])) {
			klog("smp", "hart skipped hartid=%u (no S-mode or disabled)", id);
			continue;
		}
		err = start_one(id);
		if (err) {
			klog("smp", "hart start failed hartid=%u err=%s", id, err_name(err));
			continue;
		}
		started++;
	}
	/* Bounded wait: a hart that never comes up is reported, not waited for. */
	for (uint64_t end = rdtime() + timer_freq_hz; rdtime() < end;)
		if (__atomic_load_n(&nharts_online, __ATOMIC_ACQUIRE) == started + 1)
			break;
	/* Whoever has not won its race by now is left out, for good. */
	for (unsigned int id = 0; id < MAX_HARTS; id++) {
		int pending = START_PENDING;

		if (__atomic_compare_exchange_n(&harts[id].start_state, &pending, START_ABANDONED,
						false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
			klog("smp", "hart did not come up in time hartid=%u: left out", id);
	}
	/* Every state is final now; winners may still be on their way online. */
	for (unsigned int id = 0, won = 0;; id = 0, won = 0) {
		for (; id < MAX_HARTS; id++)
			won += __atomic_load_n(&harts[id].start_state, __ATOMIC_ACQUIRE) == START_ONLINE;
		if (__atomic_load_n(&nharts_online, __ATOMIC_ACQUIRE) == won)
			break;
	}
	if (nharts_online != started + 1)
		klog("smp", "only %u of %u harts came online", nharts_online, started + 1);
	return nharts_online;
}

void smp_kick(unsigned int index)
{
	struct hart *h = hart_by_index(index);

	if (!h || !h->online)
		return;
	if (h != this_hart())
		sbi_send_ipi(1UL << h->hartid, 0);
	else
		h->need_resched = true;	/* e.g. a wakeup from an interrupt handler here */
}
