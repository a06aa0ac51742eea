// unit-srcs: update/chain.c
/*
 * Host tests of the version-chain rules (update/chain.c, chain_check()):
 * packs are built by hand as struct pack (no FIT involved), the kernel's
 * class versions come from a table behind the version callback, which
 * also records which classes it was asked about.
 *
 * Rules, in the order chain_check() applies them: the ABI of every step
 * (the first step built for another ABI is named), the sequence number
 * (not above the last accepted one: replay), then step by step: unknown
 * class, duplicate (to == from, or from below the version current at that
 * point), downgrade (to < from), gap (from above the current version, or
 * to > from + 1), then the step's requirements (against what the pack's
 * earlier steps left behind, else the kernel's versions). Each rejection
 * is checked for its enum value and for a message naming the step.
 *
 * Every message buffer is a heap block of exactly the size passed, so
 * AddressSanitizer catches a write past it.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <kernel/chain.h>
#include <kernel/errno.h>
#include <kernel/pack.h>
#include <kernel/update.h>

#define ABI	KERNEL_ABI
#define ERRLEN	128

/* --- the kernel's classes, as the version callback reports them -------- */

struct kclass {
	const char *name;
	uint32_t version;
};

static const struct kclass kernel_classes[] = {
	{ "uart", 4 }, { "counter", 3 }, { "sched", 2 }, { "timer", 1 },
};

struct lookups {
	const struct kclass *classes;
	size_t n;
	char asked[32][PACK_CLASS_MAX];	/* every class the callback was asked about */
	unsigned int nasked;
};

static int version_of(void *ctx, const char *class_name, uint32_t *v)
{
	struct lookups *l = ctx;

	assert_non_null(l);
	assert_non_null(class_name);
	assert_non_null(v);
	if (l->nasked < 32)
		snprintf(l->asked[l->nasked], PACK_CLASS_MAX, "%s", class_name);
	l->nasked++;
	for (size_t i = 0; i < l->n; i++)
		if (!strcmp(l->classes[i].name, class_name)) {
			*v = l->classes[i].version;
			return 0;
		}
	return -KE_NOENT;
}

static unsigned int times_asked(const struct lookups *l, const char *name)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < l->nasked && i < 32; i++)
		n += !strcmp(l->asked[i], name);
	return n;
}

/* --- packs built by hand ----------------------------------------------- */

/* Step names and class names live here, so the pack's pointers stay valid. */
static char step_names[PACK_MAX_STEPS][16];

static void pack_init(struct pack *p, uint32_t seq)
{
	memset(p, 0, sizeof(*p));
	p->seq = seq;
	p->config = "conf-1";
}

/* Appends step-<n> for @cls @from -> @to, built for the kernel's ABI. */
static struct pack_step *add_step(struct pack *p, const char *cls, uint32_t from, uint32_t to)
{
	struct pack_step *s;

	assert_true(p->nsteps < PACK_MAX_STEPS);
	s = &p->steps[p->nsteps];
	snprintf(step_names[p->nsteps], sizeof(step_names[0]), "step-%u", p->nsteps + 1);
	p->nsteps++;
	s->name = step_names[p->nsteps - 1];
	s->class_name = cls;
	s->from = from;
	s->to = to;
	s->abi = ABI;
	s->mode = PACK_MODE_EAGER;
	s->data = "\x7f" "ELF";
	s->size = 4;
	return s;
}

static void add_require(struct pack_step *s, const char *cls, uint32_t min)
{
	assert_true(s->nrequires < PACK_MAX_REQUIRES);
	snprintf(s->requires[s->nrequires].class_name, PACK_CLASS_MAX, "%s", cls);
	s->requires[s->nrequires].min_version = min;
	s->nrequires++;
}

/* --- running chain_check ----------------------------------------------- */

struct outcome {
	enum update_result r;
	char err[ERRLEN];
	struct lookups l;
};

static struct outcome out;

/*
 * chain_check(@p) against the kernel's classes with @last_seq; the message
 * is written into a heap block of exactly ERRLEN bytes, pre-filled, so a
 * missing NUL shows. The pack must come back unchanged.
 */
static enum update_result check(const struct pack *p, uint32_t last_seq)
{
	char *err = malloc(ERRLEN);
	struct pack before;

	assert_non_null(err);
	memset(err, 'X', ERRLEN);
	memcpy(&before, p, sizeof(before));
	memset(&out, 0, sizeof(out));
	out.l.classes = kernel_classes;
	out.l.n = sizeof(kernel_classes) / sizeof(kernel_classes[0]);
	out.r = chain_check(p, ABI, last_seq, version_of, &out.l, err, ERRLEN);
	memcpy(out.err, err, ERRLEN);
	free(err);
	/* A rejection leaves a NUL-terminated message (an accepted pack need not). */
	if (out.r != UPDATE_OK && !memchr(out.err, '\0', ERRLEN))
		fail_msg("result %d with an unterminated message", out.r);
	if (out.r == UPDATE_OK)
		out.err[0] = '\0';
	assert_memory_equal(&before, p, sizeof(before));	/* changes nothing */
	return out.r;
}

/* The message starts with "<step>: " and contains every string in @needles. */
static void assert_err(const char *step, ...)
{
	char prefix[32];
	const char *needle;
	va_list ap;

	if (step) {
		snprintf(prefix, sizeof(prefix), "%s: ", step);
		if (strncmp(out.err, prefix, strlen(prefix)))
			fail_msg("message does not start with \"%s\": \"%s\"", prefix, out.err);
	}
	va_start(ap, step);
	while ((needle = va_arg(ap, const char *)))
		if (!strstr(out.err, needle))
			fail_msg("message lacks \"%s\": \"%s\"", needle, out.err);
	va_end(ap);
}

/* Another step's name must not be the one named. */
static void assert_err_not(const char *step)
{
	char prefix[32];

	snprintf(prefix, sizeof(prefix), "%s: ", step);
	if (strstr(out.err, prefix))
		fail_msg("message names %s: \"%s\"", step, out.err);
}

/* --- accepted packs ---------------------------------------------------- */

static void test_single_step_ok(void **state)
{
	struct pack p;

	pack_init(&p, 7);
	add_step(&p, "uart", 4, 5);
	assert_int_equal(check(&p, 6), UPDATE_OK);
	assert_int_equal(times_asked(&out.l, "uart"), 1);
}

static void test_seq_far_above_last_ok(void **state)
{
	struct pack p;

	pack_init(&p, 1000);
	add_step(&p, "counter", 3, 4);
	assert_int_equal(check(&p, 6), UPDATE_OK);
	pack_init(&p, UINT32_MAX);
	add_step(&p, "counter", 3, 4);
	assert_int_equal(check(&p, UINT32_MAX - 1), UPDATE_OK);
	pack_init(&p, 1);
	add_step(&p, "counter", 3, 4);
	assert_int_equal(check(&p, 0), UPDATE_OK);	/* a fresh device: last is 0 */
}

static void test_multi_step_one_class_ok(void **state)
{
	struct pack p;

	/* counter 3->4->5->6: each step from the version the one before left */
	pack_init(&p, 7);
	add_step(&p, "counter", 3, 4);
	add_step(&p, "counter", 4, 5);
	add_step(&p, "counter", 5, 6);
	assert_int_equal(check(&p, 6), UPDATE_OK);
	/* the kernel was asked once; later steps use what the pack left */
	assert_int_equal(times_asked(&out.l, "counter"), 1);
	assert_int_equal(out.l.nasked, 1);
}

static void test_multi_step_v2_v3_v4_ok(void **state)
{
	static const struct kclass at2[] = { { "uart", 2 } };
	struct pack p;
	char err[ERRLEN] = "";
	struct lookups l = { .classes = at2, .n = 1 };

	/* the demo's uart-v3-v4 shape: v2 -> v3 -> v4 in one pack */
	pack_init(&p, 6);
	add_step(&p, "uart", 2, 3);
	add_step(&p, "uart", 3, 4);
	assert_int_equal(chain_check(&p, ABI, 5, version_of, &l, err, sizeof(err)), UPDATE_OK);
	assert_int_equal(l.nasked, 1);
}

static void test_full_pack_one_class_ok(void **state)
{
	struct pack p;

	/* PACK_MAX_STEPS steps of one class: 4 -> 20 */
	pack_init(&p, 7);
	for (uint32_t i = 0; i < PACK_MAX_STEPS; i++)
		add_step(&p, "uart", 4 + i, 5 + i);
	assert_int_equal(check(&p, 6), UPDATE_OK);
	assert_int_equal(out.l.nasked, 1);
}

static void test_several_classes_ok(void **state)
{
	struct pack p;

	/* interleaved: each class keeps its own chain */
	pack_init(&p, 7);
	add_step(&p, "uart", 4, 5);
	add_step(&p, "counter", 3, 4);
	add_step(&p, "uart", 5, 6);
	add_step(&p, "sched", 2, 3);
	add_step(&p, "counter", 4, 5);
	assert_int_equal(check(&p, 6), UPDATE_OK);
	assert_int_equal(times_asked(&out.l, "uart"), 1);
	assert_int_equal(times_asked(&out.l, "counter"), 1);
	assert_int_equal(times_asked(&out.l, "sched"), 1);
	assert_int_equal(times_asked(&out.l, "timer"), 0);
}

static void test_empty_pack_ok(void **state)
{
	struct pack p;

	pack_init(&p, 7);
	assert_int_equal(check(&p, 6), UPDATE_OK);
	assert_int_equal(out.l.nasked, 0);
	/* ...but even an empty pack is a replay at or below the last seq */
	assert_int_equal(check(&p, 7), UPDATE_ERR_REPLAY);
}

/* --- ABI --------------------------------------------------------------- */

static void test_abi_mismatch(void **state)
{
	struct pack p;
	struct pack_step *s;

	pack_init(&p, 7);
	s = add_step(&p, "counter", 3, 4);
	s->abi = "lukos-abi-0";
	assert_int_equal(check(&p, 6), UPDATE_ERR_ABI);
	assert_err("step-1", "lukos-abi-0", ABI, NULL);
	assert_int_equal(out.l.nasked, 0);	/* decided before any version is looked at */
}

static void test_abi_first_failing_step_named(void **state)
{
	struct pack p;

	pack_init(&p, 7);
	add_step(&p, "uart", 4, 5);
	add_step(&p, "uart", 5, 6)->abi = "lukos-abi-9";
	add_step(&p, "uart", 6, 7)->abi = "lukos-abi-0";
	assert_int_equal(check(&p, 6), UPDATE_ERR_ABI);
	assert_err("step-2", "lukos-abi-9", NULL);
	assert_err_not("step-3");
	assert_err_not("step-1");
}

static void test_abi_prefix_is_not_enough(void **state)
{
	struct pack p;

	pack_init(&p, 7);
	add_step(&p, "uart", 4, 5)->abi = ABI "x";
	assert_int_equal(check(&p, 6), UPDATE_ERR_ABI);
	pack_init(&p, 7);
	add_step(&p, "uart", 4, 5)->abi = "";
	assert_int_equal(check(&p, 6), UPDATE_ERR_ABI);
	assert_err("step-1", NULL);
}

static void test_abi_checked_before_everything_else(void **state)
{
	struct pack p;

	/* a replayed pack with a broken chain: the ABI is what is reported */
	pack_init(&p, 3);
	add_step(&p, "nosuch", 1, 9);
	add_step(&p, "uart", 4, 5)->abi = "lukos-abi-0";
	assert_int_equal(check(&p, 6), UPDATE_ERR_ABI);
	assert_err("step-2", NULL);
}

/* --- sequence number --------------------------------------------------- */

static void test_replay_equal(void **state)
{
	struct pack p;

	pack_init(&p, 6);
	add_step(&p, "uart", 4, 5);
	assert_int_equal(check(&p, 6), UPDATE_ERR_REPLAY);
	assert_err(NULL, "sequence 6", "above 6", NULL);
	assert_int_equal(out.l.nasked, 0);	/* before the chain */
}

static void test_replay_below(void **state)
{
	struct pack p;

	pack_init(&p, 2);
	add_step(&p, "uart", 4, 5);
	assert_int_equal(check(&p, 6), UPDATE_ERR_REPLAY);
	assert_err(NULL, "sequence 2", "above 6", NULL);
	pack_init(&p, 0);
	add_step(&p, "uart", 4, 5);
	assert_int_equal(check(&p, 0), UPDATE_ERR_REPLAY);
	assert_err(NULL, "sequence 0", "above 0", NULL);
}

static void test_replay_before_chain(void **state)
{
	struct pack p;

	/* the chain is broken too, but the replay is reported */
	pack_init(&p, 5);
	add_step(&p, "uart", 1, 2);
	assert_int_equal(check(&p, 6), UPDATE_ERR_REPLAY);
}

/* --- per-step rules ---------------------------------------------------- */

static void test_unknown_class(void **state)
{
	struct pack p;

	pack_init(&p, 7);
	add_step(&p, "nosuch", 1, 2);
	assert_int_equal(check(&p, 6), UPDATE_ERR_UNKNOWN_CLASS);
	assert_err("step-1", "nosuch", NULL);
	assert_int_equal(times_asked(&out.l, "nosuch"), 1);
}

static void test_unknown_class_later_step_named(void **state)
{
	struct pack p;

	pack_init(&p, 7);
	add_step(&p, "uart", 4, 5);
	add_step(&p, "counter", 3, 4);
	add_step(&p, "nosuch", 1, 2);
	assert_int_equal(check(&p, 6), UPDATE_ERR_UNKNOWN_CLASS);
	assert_err("step-3", "nosuch", NULL);
}

static void test_gap_from_above_current(void **state)
{
	struct pack p;

	pack_init(&p, 7);
	add_step(&p, "uart", 5, 6);	/* uart is at 4 */
	assert_int_equal(check(&p, 6), UPDATE_ERR_GAP);
	assert_err("step-1", "5->6", "version 4", "uart", NULL);
}

static void test_gap_skipping_a_version(void **state)
{
	struct pack p;

	pack_init(&p, 7);
	add_step(&p, "uart", 4, 6);	/* from is right, to skips 5 */
	assert_int_equal(check(&p, 6), UPDATE_ERR_GAP);
	assert_err("step-1", "4->6", "uart", NULL);
	pack_init(&p, 7);
	add_step(&p, "counter", 3, 100);
	assert_int_equal(check(&p, 6), UPDATE_ERR_GAP);
	assert_err("step-1", "3->100", NULL);
}

static void test_duplicate_from_below_current(void **state)
{
	struct pack p;

	pack_init(&p, 7);
	add_step(&p, "uart", 3, 4);	/* uart is at 4 already: the demo's "duplicate" pack */
	assert_int_equal(check(&p, 6), UPDATE_ERR_DUPLICATE);
	assert_err("step-1", "3->4", "uart", "at 4", NULL);
	pack_init(&p, 7);
	add_step(&p, "uart", 1, 2);
	assert_int_equal(check(&p, 6), UPDATE_ERR_DUPLICATE);
	assert_err("step-1", "1->2", NULL);
}

static void test_duplicate_to_equals_from(void **state)
{
	struct pack p;

	pack_init(&p, 7);
	add_step(&p, "uart", 4, 4);
	assert_int_equal(check(&p, 6), UPDATE_ERR_DUPLICATE);
	assert_err("step-1", "4->4", NULL);
}

static void test_downgrade(void **state)
{
	struct pack p;

	pack_init(&p, 7);
	add_step(&p, "uart", 4, 3);	/* the demo's "downgrade" pack */
	assert_int_equal(check(&p, 6), UPDATE_ERR_DOWNGRADE);
	assert_err("step-1", "4->3", NULL);
	pack_init(&p, 7);
	add_step(&p, "counter", 3, 0);
	assert_int_equal(check(&p, 6), UPDATE_ERR_DOWNGRADE);
	assert_err("step-1", "3->0", NULL);
}

static void test_downgrade_from_above_current(void **state)
{
	struct pack p;

	/* from is above the current version too: going down is what is reported */
	pack_init(&p, 7);
	add_step(&p, "uart", 9, 5);
	assert_int_equal(check(&p, 6), UPDATE_ERR_DOWNGRADE);
	assert_err("step-1", "9->5", NULL);
}

/* --- multi-step chains ------------------------------------------------- */

static void test_chain_gap_mid(void **state)
{
	struct pack p;

	/* v4->v5 then v6->v7: the second step does not follow the first */
	pack_init(&p, 7);
	add_step(&p, "uart", 4, 5);
	add_step(&p, "uart", 6, 7);
	assert_int_equal(check(&p, 6), UPDATE_ERR_GAP);
	assert_err("step-2", "6->7", "version 5", "uart", NULL);
	assert_err_not("step-1");
}

static void test_chain_same_step_twice(void **state)
{
	struct pack p;

	pack_init(&p, 7);
	add_step(&p, "counter", 3, 4);
	add_step(&p, "counter", 3, 4);
	assert_int_equal(check(&p, 6), UPDATE_ERR_DUPLICATE);
	assert_err("step-2", "3->4", "counter", "at 4", NULL);
}

static void test_chain_step_back_in_pack(void **state)
{
	struct pack p;

	/* 3->4 then 4->3: the second step goes down */
	pack_init(&p, 7);
	add_step(&p, "counter", 3, 4);
	add_step(&p, "counter", 4, 3);
	assert_int_equal(check(&p, 6), UPDATE_ERR_DOWNGRADE);
	assert_err("step-2", "4->3", NULL);
}

static void test_chain_second_step_skips(void **state)
{
	struct pack p;

	pack_init(&p, 7);
	add_step(&p, "counter", 3, 4);
	add_step(&p, "counter", 4, 6);
	assert_int_equal(check(&p, 6), UPDATE_ERR_GAP);
	assert_err("step-2", "4->6", NULL);
}

static void test_several_classes_second_class_breaks(void **state)
{
	struct pack p;

	/* uart's chain is fine; counter's second step repeats its first */
	pack_init(&p, 7);
	add_step(&p, "uart", 4, 5);
	add_step(&p, "counter", 3, 4);
	add_step(&p, "uart", 5, 6);
	add_step(&p, "counter", 3, 4);
	assert_int_equal(check(&p, 6), UPDATE_ERR_DUPLICATE);
	assert_err("step-4", "counter", NULL);

	/* one class's steps do not move another's version */
	pack_init(&p, 7);
	add_step(&p, "uart", 4, 5);
	add_step(&p, "counter", 5, 6);	/* counter is at 3, whatever uart did */
	assert_int_equal(check(&p, 6), UPDATE_ERR_GAP);
	assert_err("step-2", "counter", "version 3", NULL);
}

/* --- requirements ------------------------------------------------------ */

static void test_requirement_met_by_kernel(void **state)
{
	struct pack p;
	struct pack_step *s;

	pack_init(&p, 7);
	s = add_step(&p, "counter", 3, 4);
	add_require(s, "sched", 2);
	add_require(s, "uart", 1);
	assert_int_equal(check(&p, 6), UPDATE_OK);
}

static void test_requirement_unmet(void **state)
{
	struct pack p;
	struct pack_step *s;

	/* the demo's "requirement" pack: sched>=9 while sched is at 2 */
	pack_init(&p, 7);
	s = add_step(&p, "counter", 3, 4);
	add_require(s, "sched", 9);
	assert_int_equal(check(&p, 6), UPDATE_ERR_REQUIREMENT);
	assert_err("step-1", "sched>=9", "at 2", NULL);
}

static void test_requirement_unmet_second_of_several(void **state)
{
	struct pack p;
	struct pack_step *s;

	pack_init(&p, 7);
	add_step(&p, "uart", 4, 5);
	s = add_step(&p, "counter", 3, 4);
	add_require(s, "sched", 2);
	add_require(s, "uart", 6);	/* the pack moved uart to 5 only */
	assert_int_equal(check(&p, 6), UPDATE_ERR_REQUIREMENT);
	assert_err("step-2", "uart>=6", "at 5", NULL);
}

static void test_requirement_satisfied_by_earlier_step(void **state)
{
	struct pack p;
	struct pack_step *s;

	/* sched is at 2 in the kernel; the pack's first step takes it to 3 */
	pack_init(&p, 7);
	add_step(&p, "sched", 2, 3);
	s = add_step(&p, "counter", 3, 4);
	add_require(s, "sched", 3);
	assert_int_equal(check(&p, 6), UPDATE_OK);
	/* sched came from the kernel once, for its step; the requirement used the pack's 3 */
	assert_int_equal(times_asked(&out.l, "sched"), 1);
}

static void test_requirement_on_own_class_earlier_step(void **state)
{
	struct pack p;
	struct pack_step *s;

	/* a step may require its own class at the version the previous step left */
	pack_init(&p, 7);
	add_step(&p, "uart", 4, 5);
	s = add_step(&p, "uart", 5, 6);
	add_require(s, "uart", 5);
	assert_int_equal(check(&p, 6), UPDATE_OK);
}

static void test_requirement_not_satisfied_by_later_step(void **state)
{
	struct pack p;
	struct pack_step *s;

	/*
	 * The requirement sees the versions at its point of the pack: a step
	 * after it that would satisfy it does not count.
	 */
	pack_init(&p, 7);
	s = add_step(&p, "counter", 3, 4);
	add_require(s, "sched", 3);
	add_step(&p, "sched", 2, 3);
	assert_int_equal(check(&p, 6), UPDATE_ERR_REQUIREMENT);
	assert_err("step-1", "sched>=3", "at 2", NULL);
}

static void test_requirement_unknown_class(void **state)
{
	struct pack p;
	struct pack_step *s;

	pack_init(&p, 7);
	s = add_step(&p, "counter", 3, 4);
	add_require(s, "nosuch", 1);
	assert_int_equal(check(&p, 6), UPDATE_ERR_REQUIREMENT);
	assert_err("step-1", "unknown class nosuch", NULL);
	assert_int_equal(times_asked(&out.l, "nosuch"), 1);
}

static void test_requirement_after_chain_rule(void **state)
{
	struct pack p;
	struct pack_step *s;

	/* a step breaking the chain is reported as such, whatever it requires */
	pack_init(&p, 7);
	s = add_step(&p, "counter", 5, 6);
	add_require(s, "nosuch", 1);
	assert_int_equal(check(&p, 6), UPDATE_ERR_GAP);
	assert_err("step-1", NULL);
}

/* --- the version callback ---------------------------------------------- */

static void test_callback_consulted_for_untouched_classes(void **state)
{
	struct pack p;
	struct pack_step *s;

	/* timer is not touched by the pack: its version comes from the kernel */
	pack_init(&p, 7);
	s = add_step(&p, "counter", 3, 4);
	add_require(s, "timer", 1);
	assert_int_equal(check(&p, 6), UPDATE_OK);
	assert_int_equal(times_asked(&out.l, "timer"), 1);
	assert_int_equal(times_asked(&out.l, "counter"), 1);

	pack_init(&p, 7);
	s = add_step(&p, "counter", 3, 4);
	add_require(s, "timer", 2);
	assert_int_equal(check(&p, 6), UPDATE_ERR_REQUIREMENT);
	assert_err("step-1", "timer>=2", "at 1", NULL);
}

static void test_callback_answer_is_used(void **state)
{
	static const struct kclass other[] = { { "uart", 9 }, { "sched", 7 } };
	struct lookups l = { .classes = other, .n = 2 };
	char err[ERRLEN] = "";
	struct pack p;
	struct pack_step *s;

	/* the same pack against a kernel at other versions */
	pack_init(&p, 7);
	s = add_step(&p, "uart", 9, 10);
	add_require(s, "sched", 7);
	assert_int_equal(chain_check(&p, ABI, 6, version_of, &l, err, sizeof(err)), UPDATE_OK);
	assert_int_equal(l.nasked, 2);

	memset(&l.asked, 0, sizeof(l.asked));
	l.nasked = 0;
	s->requires[0].min_version = 8;
	assert_int_equal(chain_check(&p, ABI, 6, version_of, &l, err, sizeof(err)),
			 UPDATE_ERR_REQUIREMENT);
	assert_non_null(strstr(err, "sched>=8"));
	assert_non_null(strstr(err, "at 7"));

	/* counter is not a class of that kernel */
	pack_init(&p, 7);
	add_step(&p, "counter", 3, 4);
	l.nasked = 0;
	assert_int_equal(chain_check(&p, ABI, 6, version_of, &l, err, sizeof(err)),
			 UPDATE_ERR_UNKNOWN_CLASS);
	assert_non_null(strstr(err, "step-1: "));
}

static void test_callback_not_asked_again_for_touched_class(void **state)
{
	struct pack p;
	struct pack_step *s;

	/* after uart's step, a requirement on uart uses the pack's version */
	pack_init(&p, 7);
	add_step(&p, "uart", 4, 5);
	s = add_step(&p, "counter", 3, 4);
	add_require(s, "uart", 5);
	assert_int_equal(check(&p, 6), UPDATE_OK);
	assert_int_equal(times_asked(&out.l, "uart"), 1);
}

/* --- the message buffer ------------------------------------------------ */

static void test_short_error_buffer(void **state)
{
	static const struct kclass k[] = { { "uart", 4 } };
	struct lookups l = { .classes = k, .n = 1 };
	struct pack p;
	char *err = malloc(8);

	/* the message is cut to the buffer, NUL-terminated, nothing written past it */
	assert_non_null(err);
	pack_init(&p, 7);
	add_step(&p, "uart", 5, 6);
	assert_int_equal(chain_check(&p, ABI, 6, version_of, &l, err, 8), UPDATE_ERR_GAP);
	assert_string_equal(err, "step-1:");
	free(err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_single_step_ok),
		cmocka_unit_test(test_seq_far_above_last_ok),
		cmocka_unit_test(test_multi_step_one_class_ok),
		cmocka_unit_test(test_multi_step_v2_v3_v4_ok),
		cmocka_unit_test(test_full_pack_one_class_ok),
		cmocka_unit_test(test_several_classes_ok),
		cmocka_unit_test(test_empty_pack_ok),
		cmocka_unit_test(test_abi_mismatch),
		cmocka_unit_test(test_abi_first_failing_step_named),
		cmocka_unit_test(test_abi_prefix_is_not_enough),
		cmocka_unit_test(test_abi_checked_before_everything_else),
		cmocka_unit_test(test_replay_equal),
		cmocka_unit_test(test_replay_below),
		cmocka_unit_test(test_replay_before_chain),
		cmocka_unit_test(test_unknown_class),
		cmocka_unit_test(test_unknown_class_later_step_named),
		cmocka_unit_test(test_gap_from_above_current),
		cmocka_unit_test(test_gap_skipping_a_version),
		cmocka_unit_test(test_duplicate_from_below_current),
		cmocka_unit_test(test_duplicate_to_equals_from),
		cmocka_unit_test(test_downgrade),
		cmocka_unit_test(test_downgrade_from_above_current),
		cmocka_unit_test(test_chain_gap_mid),
		cmocka_unit_test(test_chain_same_step_twice),
		cmocka_unit_test(test_chain_step_back_in_pack),
		cmocka_unit_test(test_chain_second_step_skips),
		cmocka_unit_test(test_several_classes_second_class_breaks),
		cmocka_unit_test(test_requirement_met_by_kernel),
		cmocka_unit_test(test_requirement_unmet),
		cmocka_unit_test(test_requirement_unmet_second_of_several),
		cmocka_unit_test(test_requirement_satisfied_by_earlier_step),
		cmocka_unit_test(test_requirement_on_own_class_earlier_step),
		cmocka_unit_test(test_requirement_not_satisfied_by_later_step),
		cmocka_unit_test(test_requirement_unknown_class),
		cmocka_unit_test(test_requirement_after_chain_rule),
		cmocka_unit_test(test_callback_consulted_for_untouched_classes),
		cmocka_unit_test(test_callback_answer_is_used),
		cmocka_unit_test(test_callback_not_asked_again_for_touched_class),
		cmocka_unit_test(test_short_error_buffer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
