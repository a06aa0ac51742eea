/*
 * Demo update 3: sched 1 -> 2, a different policy swapped in under load.
 * "rr-balanced": an unpinned thread is queued on the hart with the
 * shortest run queue (version 1 keeps it on its last hart), and a slice
 * is two ticks instead of one. The transfer takes over version 1's run
 * queues thread by thread; transfer_back hands them back on a rollback.
 */
#include <kernel/update.h>
#include <kernel/sched.h>
#include <kernel/sched_rr.h>
#include <kernel/thread.h>
#include <kernel/smp.h>
#include <kernel/errno.h>

#define SLICE_TICKS 2

/* Test variants (sched_v2_*.c) define this to their own pick before including this file. */
#ifndef SCHED_V2_PICK
#define SCHED_V2_PICK v2_pick
#endif
#ifndef SCHED_V2_ENQUEUE
#define SCHED_V2_ENQUEUE v2_enqueue
#endif

struct sched_v2 {
	struct object obj;
	unsigned int nharts;
	struct runq rq[MAX_HARTS];
	uint32_t ran[MAX_HARTS];	/* ticks the thread running there has had */
};

/* Among harts that run: a hart that failed to start has a queue nobody drains. */
static unsigned int shortest(struct sched_v2 *s, unsigned int dflt)
{
	unsigned int n = s->nharts < nharts_online ? s->nharts : nharts_online;
	unsigned int best = dflt < n ? dflt : 0;

	for (unsigned int i = 0; i < n; i++)
		if (s->rq[i].len < s->rq[best].len)
			best = i;
	return best;
}

static __attribute__((unused)) long v2_enqueue(struct object *self, struct thread *t)
{
	struct sched_v2 *s = (struct sched_v2 *)self;
	unsigned int h = t->affinity >= 0 ? (unsigned int)t->affinity
					  : shortest(s, (unsigned int)t->hart);
	struct runq *q;

	if (h >= s->nharts)
		h = 0;
	q = &s->rq[h];
	spin_lock(&q->lock);
	list_add_tail(&t->rq_node, &q->threads);
	q->len++;
	spin_unlock(&q->lock);
	smp_kick(h);
	return 0;
}

static struct thread *take(struct runq *q, int unpinned_only)
{
	struct list_head *pos;
	struct thread *t = NULL;

	spin_lock(&q->lock);
	list_for_each(pos, &q->threads) {
		struct thread *c = list_entry(pos, struct thread, rq_node);

		if (!unpinned_only || c->affinity == THREAD_ANY_HART) {
			t = c;
			list_del(&t->rq_node);
			q->len--;
			break;
		}
	}
	spin_unlock(&q->lock);
	return t;
}

static __attribute__((unused)) long v2_pick(struct object *self, unsigned int hart,
					   struct thread **out)
{
	struct sched_v2 *s = (struct sched_v2 *)self;
	struct thread *t;

	if (hart >= s->nharts)
		return -KE_INVAL;
	t = take(&s->rq[hart], 0);
	if (!t) {
		unsigned int victim = hart;

		for (unsigned int i = 0; i < s->nharts; i++)
			if (s->rq[i].len > s->rq[victim].len)
				victim = i;
		if (victim != hart && (t = take(&s->rq[victim], 1)))
			s->rq[hart].steals++;
	}
	if (t)
		s->rq[hart].picks++;
	s->ran[hart] = 0;
	*out = t;
	return 0;
}

static long v2_tick(struct object *self, unsigned int hart, struct thread *cur)
{
	struct sched_v2 *s = (struct sched_v2 *)self;

	if (hart >= s->nharts)
		return 0;
	return ++s->ran[hart] >= SLICE_TICKS && __atomic_load_n(&s->rq[hart].len, __ATOMIC_RELAXED);
}

static long v2_stats(struct object *self, unsigned int hart, struct sched_stats *out)
{
	struct sched_v2 *s = (struct sched_v2 *)self;

	if (hart >= s->nharts)
		return -KE_INVAL;
	out->queued = s->rq[hart].len;
	out->picks = s->rq[hart].picks;
	out->steals = s->rq[hart].steals;
	return 0;
}

static long v2_policy(struct object *self, const char **out)
{
	*out = "rr-balanced";
	return 0;
}

static const struct sched_ops v2_ops = {
	.enqueue = SCHED_V2_ENQUEUE,
	.pick = SCHED_V2_PICK,
	.tick = v2_tick,
	.stats = v2_stats,
	.policy = v2_policy,
};

static int v2_init(struct object *self, const void *arg)
{
	struct sched_v2 *s = (struct sched_v2 *)self;

	s->nharts = arg ? *(const unsigned int *)arg : 1;
	for (unsigned int i = 0; i < MAX_HARTS; i++) {
		spin_init(&s->rq[i].lock, "runq");
		list_init(&s->rq[i].threads);
	}
	return 0;
}

static const struct class v2_class = {
	.name = "sched",
	.impl = "sched",
	.version = 2,
	.iface_version = 1,
	.ops = &v2_ops,
	.nmethods = CLASS_NMETHODS(struct sched_ops),
	.state_size = sizeof(struct sched_v2),
	.init = v2_init,
};

/* Moves every queued thread of @from to @to (list heads are not copyable). */
static void take_queue(struct runq *to, struct runq *from)
{
	spin_init(&to->lock, "runq");
	list_init(&to->threads);
	if (!list_empty(&from->threads)) {
		to->threads.next = from->threads.next;
		to->threads.prev = from->threads.prev;
		to->threads.next->prev = &to->threads;
		to->threads.prev->next = &to->threads;
		list_init(&from->threads);
	}
	to->len = from->len;
	to->picks = from->picks;
	to->steals = from->steals;
	from->len = 0;
}

static int v1_to_v2(const struct object *from, struct object *to)
{
	struct sched_rr *o = (struct sched_rr *)from;	/* its queues move out */
	struct sched_v2 *n = (struct sched_v2 *)to;

	n->nharts = o->nharts;
	for (unsigned int i = 0; i < MAX_HARTS; i++)
		take_queue(&n->rq[i], &o->rq[i]);
	return 0;
}

static int v2_to_v1(const struct object *from, struct object *to)
{
	struct sched_v2 *o = (struct sched_v2 *)from;
	struct sched_rr *n = (struct sched_rr *)to;

	n->nharts = o->nharts;
	for (unsigned int i = 0; i < MAX_HARTS; i++)
		take_queue(&n->rq[i], &o->rq[i]);
	return 0;
}

/* Three scratch threads on a scratch scheduler: placement, order, pinning. */
static struct thread st[3];
static struct sched_v2 scratch;

static int v2_selftest(const struct class *cls)
{
	const struct sched_ops *ops = cls->ops;
	unsigned int n = 2;
	struct thread *t = NULL;

	v2_init(&scratch.obj, &n);
	for (int i = 0; i < 3; i++) {
		st[i].affinity = i == 2 ? 1 : THREAD_ANY_HART;
		st[i].hart = 0;
		ops->enqueue(&scratch.obj, &st[i]);
	}
	/* Unpinned threads balanced over both harts; the pinned one on hart 1. */
	if (scratch.rq[0].len != 1 || scratch.rq[1].len != 2)
		return -KE_INVAL;
	ops->pick(&scratch.obj, 1, &t);
	if (t != &st[1])
		return -KE_INVAL;
	ops->pick(&scratch.obj, 0, &t);
	if (t != &st[0])
		return -KE_INVAL;
	ops->pick(&scratch.obj, 0, &t);		/* the pinned one is never stolen */
	return t == NULL && scratch.rq[1].len == 1 ? 0 : -KE_INVAL;
}

const struct update_desc update_desc = {
	.abi = KERNEL_ABI,
	.class_name = "sched",
	.impl = "sched",
	.from = 1,
	.to = 2,
	.cls = &v2_class,
	.transfer = v1_to_v2,
	.transfer_back = v2_to_v1,
	.selftest = v2_selftest,
	.mode = UPDATE_MODE_EAGER,
};
