/*
 * The demo runner: applies packs built into the image (kernel-demo.elf,
 * see update/demos/packs.txt) while the workload runs, one after another,
 * and logs what each did. Boot arguments:
 *   demo                 apply every pack of the "demo" group, in order
 *   updates=a,b,c        apply these packs by name, in order
 *   probation_ms=<n>     probation window of each update (default 1500)
 *   gap_ms=<n>           pause between packs (default 1200: a heartbeat in between)
 *   halt                 end the run one heartbeat after the last pack
 * The plain kernel image has no packs (demo_npacks is weak and absent).
 * One thread; it holds no locks across updates.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <kernel/demo.h>
#include <kernel/update.h>
#include <kernel/update_engine.h>
#include <kernel/thread.h>
#include <kernel/sched.h>
#include <kernel/workload.h>
#include <kernel/counter.h>
#include <kernel/devtree.h>
#include <kernel/log.h>
#include <kernel/mem.h>
#include <kernel/defer.h>
#include <kernel/module.h>
#include <kernel/platform.h>

extern const struct demo_pack demo_packs[] __attribute__((weak));
extern const unsigned long demo_npacks __attribute__((weak));

static char plan[1024];
static uint64_t gap_us = 1200000;
static bool halt_when_done;

static unsigned long npacks(void)
{
	return &demo_npacks ? demo_npacks : 0;
}

const struct demo_pack *demo_find_pack(const char *name)
{
	for (unsigned long i = 0; i < npacks(); i++)
		if (!strcmp(demo_packs[i].name, name))
			return &demo_packs[i];
	return NULL;
}

static void log_state(void)
{
	const char *policy = "?";
	ott_ref_t c = workload_counter(0);
	int iface = c.entry ? object_iface_version(c) : -1;
	struct mem_stats ms;

	sched_policy(sched_ref, &policy);
	mem_get_stats(&ms);
	klog("demo", "versions uart=%u counter=%u sched=%u policy=%s counter_iface=%d seq=%u "
	     "modules=%u free_pages=%lu", update_class_version("uart"),
	     update_class_version("counter"), update_class_version("sched"), policy, iface,
	     update_last_seq(), module_count(), (unsigned long)ms.free_pages);
	if (iface >= 2) {
		struct counter_stats st;

		if (!counter_stats(c, &st))
			klog("demo", "counter[0] stats value=%ld calls=%ld version=%ld", st.value,
			     st.calls, st.version);
	}
}

static void apply_one(const char *name)
{
	const struct demo_pack *p = demo_find_pack(name);
	enum update_result r;

	if (!p) {
		klog("demo", "no pack named %s in this image", name);
		return;
	}
	klog("demo", "applying pack=%s bytes=%lu", name, p->size);
	r = update_apply_pack(p->data, p->size);
	update_wait_idle();
	if (r == UPDATE_OK)
		r = update_last_result;	/* a rollback after apply shows here */
	klog("demo", "result pack=%s result=%s", name, update_result_name(r));
	log_state();
}

static void demo_main(void *arg)
{
	char *save = NULL;

	thread_sleep_us(2500000);	/* let the workload show a heartbeat first */
	log_state();
	for (char *name = strtok_r(plan, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
		apply_one(name);
		thread_sleep_us(gap_us);	/* a heartbeat between steps, by default */
	}
	defer_flush();
	log_state();
	klog("demo", "done packs=%lu", npacks());
	if (halt_when_done) {
		thread_sleep_us(1500000);	/* one more heartbeat after the last step */
		klog("demo", "halt");
		platform_halt(0);
	}
}

void demo_start(const char *bootargs)
{
	char val[16];
	size_t n = 0;

	halt_when_done = !dt_bootarg(bootargs, "halt", NULL, 0);
	if (!dt_bootarg(bootargs, "gap_ms", val, sizeof(val)))
		gap_us = strtoul(val, NULL, 10) * 1000;
	if (!dt_bootarg(bootargs, "probation_ms", val, sizeof(val)))
		update_probation_us = strtoul(val, NULL, 10) * 1000;
	if (!dt_bootarg(bootargs, "updates", plan, sizeof(plan))) {
		/* plan holds the list */
	} else if (!dt_bootarg(bootargs, "demo", NULL, 0)) {
		for (unsigned long i = 0; i < npacks(); i++)
			if (!strcmp(demo_packs[i].group, "demo"))
				n += (size_t)snprintf(plan + n, sizeof(plan) - n, "%s%s", n ? "," : "",
						      demo_packs[i].name);
	} else {
		return;
	}
	if (!npacks()) {
		klog("demo", "this image carries no packs (boot build/<board>/kernel-demo.elf)");
		return;
	}
	thread_create("demo", demo_main, NULL, THREAD_ANY_HART);
}
