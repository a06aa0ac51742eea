/*
 * A small command shell on the console, for people watching a board:
 * help, harts, threads, mem, ott, net, fault <kind>, halt, probe. One thread;
 * it sleeps on console input and takes no locks of its own.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <kernel/console.h>
#include <kernel/uart.h>
#include <kernel/thread.h>
#include <kernel/sched.h>
#include <kernel/hart.h>
#include <kernel/mem.h>
#include <kernel/ott.h>
#include <kernel/log.h>
#include <kernel/trap.h>
#include <kernel/platform.h>
#include <kernel/sbi.h>
#include <kernel/storage.h>
#include <kernel/persist.h>
#include <kernel/errno.h>
#include <kernel/netif.h>
#include <kernel/counter.h>
#include <kernel/workload.h>
#include <kernel/defer.h>

static void cmd_harts(void)
{
	for (unsigned int i = 0; i < nharts_online; i++) {
		struct hart *h = hart_by_index(i);
		struct sched_stats st = { 0 };

		sched_stats(sched_ref, i, &st);
		kprintf("  hart %u (index %u): gen=%lu timer=%lu ext=%lu ipi=%lu queued=%u picks=%lu steals=%lu\n",
			h->hartid, i, (unsigned long)h->gen, (unsigned long)h->timer_irqs,
			(unsigned long)h->ext_irqs, (unsigned long)h->soft_irqs, st.queued,
			(unsigned long)st.picks, (unsigned long)st.steals);
	}
}

static void show_thread(struct thread *t, void *arg)
{
	static const char *const states[] = { "new", "runnable", "running", "sleeping",
					      "blocked", "dead" };

	kprintf("  %4u %-16s %-9s hart=%d affinity=%d switches=%lu\n", t->id, t->name,
		states[t->state], t->hart, t->affinity, (unsigned long)t->switches);
}

static void cmd_mem(void)
{
	struct mem_stats st;

	mem_get_stats(&st);
	kprintf("  pages total=%lu free=%lu; kmalloc live=%lu bytes=%lu allocs=%lu frees=%lu\n",
		(unsigned long)st.total_pages, (unsigned long)st.free_pages,
		(unsigned long)st.heap.live_allocs, (unsigned long)st.heap.live_bytes,
		(unsigned long)st.heap.total_allocs, (unsigned long)st.heap.total_frees);
}

/*
 * `probe add <n>`: counter_add(workload counter 0, n) from a thread of its
 * own, so that a fault in whatever version runs it stops only that thread
 * (the fault tests' way to reach a latent bug after probation).
 */
static void probe_main(void *arg)
{
	long n = (long)(intptr_t)arg;
	long r = counter_add(workload_counter(0), n);

	klog("shell", "probe add=%ld result=%ld", n, r);
}

/*
 * `probe new <n>`: a counter of its own, made, added @n to, destroyed and
 * reaped, from a thread of its own: the class's init runs here and its
 * fini in the reaper (the fault tests' way to run them during probation).
 * The line says where each step ended; `reaped=yes` means the reaper ran
 * the destroy (it would never come if the reaper had stopped).
 */
static void probe_new_main(void *arg)
{
	long n = (long)(intptr_t)arg, version = 0, r = 0;
	ott_ref_t ref = OTT_REF_NULL;
	int made = workload_counter_create(&ref), gone = -KE_NOENT;

	if (!made) {
		version = workload_counter_version(ref);
		r = counter_add(ref, n);
		gone = workload_counter_destroy(ref);
		if (!gone)
			defer_flush();
	}
	klog("shell", "probe new=%ld made=%s version=%ld result=%ld destroyed=%s reaped=%s", n,
	     err_name(made), version, r, err_name(gone), made || gone ? "no" : "yes");
}

static void cmd_probe(const char *arg)
{
	bool add = !strncmp(arg, "add ", 4), new = !strncmp(arg, "new ", 4);
	char *end;
	long n = strtol(arg + 4, &end, 10);

	if ((!add && !new) || end == arg + 4 || *end || !workload_counter(0).entry) {
		kputs("  usage: probe add|new <n> (with the workload running)\n");
		return;
	}
	if (!thread_create("probe", add ? probe_main : probe_new_main, (void *)(intptr_t)n,
			   THREAD_ANY_HART))
		kputs("  probe: no thread\n");
}

static void run(char *line)
{
	if (!strcmp(line, "help")) {
		kputs("  commands: help harts threads mem ott storage [read|erase|program|flush] journal [erase] fault <load|store|exec|illegal|stack> panic halt reboot net probe add|new <n>\n");
	} else if (!strcmp(line, "harts")) {
		cmd_harts();
	} else if (!strcmp(line, "threads")) {
		thread_for_each(show_thread, NULL);
	} else if (!strcmp(line, "mem")) {
		cmd_mem();
	} else if (!strcmp(line, "ott")) {
		kprintf("  ott slots=%u used=%u misses=%lu stale_calls=%lu\n", kernel_ott.nslots,
			kernel_ott.used, (unsigned long)kernel_ott.misses,
			(unsigned long)kernel_ott.stale_calls);
	} else if (!strcmp(line, "net")) {
		netif_show();
	} else if (!strcmp(line, "storage") || !strncmp(line, "storage ", 8)) {
		storage_command(line[7] ? line + 8 : "");
	} else if (!strcmp(line, "journal")) {
		persist_show();
	} else if (!strcmp(line, "journal erase")) {
		int rc = persist_forget_all();

		kprintf("  journal erase: %s\n", rc ? err_name(rc) : "done (the floor is kept)");
	} else if (!strncmp(line, "fault ", 6)) {
		trap_inject_fault(line + 6);
	} else if (!strncmp(line, "probe ", 6)) {
		cmd_probe(line + 6);
	} else if (!strcmp(line, "panic")) {
		/* For checking how a board reports the end of the world. */
		panic("requested from the shell");
	} else if (!strcmp(line, "halt")) {
		klog("shell", "halt requested");
		platform_halt(0);
	} else if (!strcmp(line, "reboot")) {
		klog("shell", "reboot requested");
		sbi_system_reset(SBI_SRST_COLD_REBOOT, SBI_SRST_REASON_NONE);
	} else if (line[0]) {
		kprintf("  unknown command '%s' (try help)\n", line);
	}
}

static void shell_main(void *arg)
{
	char line[80];
	size_t n = 0;

	for (;;) {
		char buf[16];
		long got = console_read(buf, sizeof(buf));

		for (long i = 0; i < got; i++) {
			char c = buf[i];

			if (c == '\r' || c == '\n') {
				kputs("\n");
				line[n] = '\0';
				run(line);
				n = 0;
			} else if ((c == 0x7f || c == '\b') && n) {
				n--;
				kputs("\b \b");
			} else if (c >= ' ' && n < sizeof(line) - 1) {
				line[n++] = c;
				uart_write(console_ref, &c, 1);
			}
		}
	}
}

void shell_start(void)
{
	thread_create("shell", shell_main, NULL, THREAD_ANY_HART);
}
