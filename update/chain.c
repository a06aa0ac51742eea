/*
 * Version-chain rules (see chain.h). Pure: no locking, no CSRs. Versions a
 * pack moves are tracked step by step, so a pack may carry v2->v3->v4 for
 * one class, and a requirement sees what the steps before it left behind.
 */
#include <stdio.h>
#include <string.h>
#include <kernel/chain.h>
#include <kernel/errno.h>

struct pending {
	const char *name;
	uint32_t version;
};

struct chain_ctx {
	struct pending classes[PACK_MAX_STEPS * (1 + PACK_MAX_REQUIRES)];
	unsigned int n;
	chain_version_fn version_of;
	void *ctx;
};

/* The version @name has at this point of the pack; -KE_NOENT if unknown. */
static int version_now(struct chain_ctx *c, const char *name, uint32_t *v)
{
	for (unsigned int i = 0; i < c->n; i++)
		if (!strcmp(c->classes[i].name, name)) {
			*v = c->classes[i].version;
			return 0;
		}
	return c->version_of(c->ctx, name, v);
}

static void version_set(struct chain_ctx *c, const char *name, uint32_t v)
{
	for (unsigned int i = 0; i < c->n; i++)
		if (!strcmp(c->classes[i].name, name)) {
			c->classes[i].version = v;
			return;
		}
	c->classes[c->n].name = name;
	c->classes[c->n++].version = v;
}

static enum update_result step_rule(const struct pack_step *s, uint32_t cur, char *err,
				    size_t errlen)
{
	if (s->to == s->from || s->from < cur) {
		snprintf(err, errlen, "%s: step %u->%u already applied (class %s is at %u)",
			 s->name, s->from, s->to, s->class_name, cur);
		return UPDATE_ERR_DUPLICATE;
	}
	if (s->to < s->from) {
		snprintf(err, errlen, "%s: step %u->%u goes down", s->name, s->from, s->to);
		return UPDATE_ERR_DOWNGRADE;
	}
	if (s->from > cur || s->to != s->from + 1) {
		snprintf(err, errlen, "%s: step %u->%u does not follow version %u of %s",
			 s->name, s->from, s->to, cur, s->class_name);
		return UPDATE_ERR_GAP;
	}
	return UPDATE_OK;
}

static enum update_result requirements(struct chain_ctx *c, const struct pack_step *s,
				       char *err, size_t errlen)
{
	for (unsigned int r = 0; r < s->nrequires; r++) {
		const struct pack_require *q = &s->requires[r];
		uint32_t v;

		if (version_now(c, q->class_name, &v)) {
			snprintf(err, errlen, "%s: requires unknown class %s", s->name, q->class_name);
			return UPDATE_ERR_REQUIREMENT;
		}
		if (v < q->min_version) {
			snprintf(err, errlen, "%s: requires %s>=%u, it is at %u", s->name,
				 q->class_name, q->min_version, v);
			return UPDATE_ERR_REQUIREMENT;
		}
	}
	return UPDATE_OK;
}

enum update_result chain_check(const struct pack *p, const char *abi, uint32_t last_seq,
			       chain_version_fn version_of, void *ctx, char *err, size_t errlen)
{
	struct chain_ctx c = { .n = 0, .version_of = version_of, .ctx = ctx };
	enum update_result r;

	for (unsigned int i = 0; i < p->nsteps; i++)
		if (strcmp(p->steps[i].abi, abi)) {
			snprintf(err, errlen, "%s: built for ABI %s, kernel is %s", p->steps[i].name,
				 p->steps[i].abi, abi);
			return UPDATE_ERR_ABI;
		}
	if (p->seq <= last_seq) {
		snprintf(err, errlen, "sequence %u not above %u", p->seq, last_seq);
		return UPDATE_ERR_REPLAY;
	}
	for (unsigned int i = 0; i < p->nsteps; i++) {
		const struct pack_step *s = &p->steps[i];
		uint32_t cur;

		if (version_now(&c, s->class_name, &cur)) {
			snprintf(err, errlen, "%s: no class %s in this kernel", s->name, s->class_name);
			return UPDATE_ERR_UNKNOWN_CLASS;
		}
		r = step_rule(s, cur, err, errlen);
		if (r == UPDATE_OK)
			r = requirements(&c, s, err, errlen);
		if (r != UPDATE_OK)
			return r;
		version_set(&c, s->class_name, s->to);
	}
	return UPDATE_OK;
}
