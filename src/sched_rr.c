/*
 * The round-robin scheduler class (`sched`, policy "rr"): one FIFO run
 * queue per hart (a thread woken by an event goes to the front), a 10 ms
 * slice, and idle harts steal unpinned threads from the longest queue. It is an object like any driver; the kernel
 * reaches it only through sched_ref, so a live update can replace it.
 *
 * Locking: each run queue has its own lock; stealing takes the victim's
 * lock only (never two at once). Callers hold the thread's lock when
 * they enqueue it (thread.c).
 */
#include <kernel/sched.h>
#include <kernel/sched_rr.h>
#include <kernel/thread.h>
#include <kernel/object.h>
#include <kernel/smp.h>
#include <kernel/hart.h>
#include <kernel/mem.h>
#include <kernel/errno.h>

ott_ref_t sched_ref;

static inline struct sched_rr *rr(struct object *o)
{
	return (struct sched_rr *)o;
}

static long rr_enqueue(struct object *self, struct thread *t)
{
	struct sched_rr *s = rr(self);
	unsigned int h = (unsigned int)(t->affinity >= 0 ? t->affinity : t->hart);
	struct runq *q;

	if (h >= s->nharts)
		h = 0;
	q = &s->rq[h];
	spin_lock(&q->lock);
	/* A thread that waited for an event runs next: I/O latency over fairness. */
	if (t->woken)
		list_add(&t->rq_node, &q->threads);
	else
		list_add_tail(&t->rq_node, &q->threads);
	t->woken = false;
	q->len++;
	spin_unlock(&q->lock);
	smp_kick(h);
	return 0;
}

static struct thread *dequeue(struct runq *q, bool unpinned_only)
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

static long rr_pick(struct object *self, unsigned int hart, struct thread **out)
{
	struct sched_rr *s = rr(self);
	struct thread *t;

	if (hart >= s->nharts)
		return -KE_INVAL;
	t = dequeue(&s->rq[hart], false);
	if (!t) {
		/* Idle: take an unpinned thread from the busiest other queue. */
		unsigned int victim = hart;

		for (unsigned int i = 0; i < s->nharts; i++)
			if (s->rq[i].len > s->rq[victim].len)
				victim = i;
		if (victim != hart && (t = dequeue(&s->rq[victim], true)))
			s->rq[hart].steals++;
	}
	if (t)
		s->rq[hart].picks++;
	*out = t;
	return 0;
}

static long rr_tick(struct object *self, unsigned int hart, struct thread *cur)
{
	struct sched_rr *s = rr(self);

	/* Every tick is a slice end; preempt only if someone is waiting. */
	return hart < s->nharts && __atomic_load_n(&s->rq[hart].len, __ATOMIC_RELAXED) > 0;
}

static long rr_stats(struct object *self, unsigned int hart, struct sched_stats *out)
{
	struct sched_rr *s = rr(self);

	if (hart >= s->nharts)
		return -KE_INVAL;
	out->queued = s->rq[hart].len;
	out->picks = s->rq[hart].picks;
	out->steals = s->rq[hart].steals;
	return 0;
}

static long rr_policy(struct object *self, const char **out)
{
	*out = "rr";
	return 0;
}

static const struct sched_ops rr_ops = {
	.enqueue = rr_enqueue,
	.pick = rr_pick,
	.tick = rr_tick,
	.stats = rr_stats,
	.policy = rr_policy,
};
CLASS_OPS_CHECK(struct sched_ops);

static int rr_init(struct object *self, const void *arg)
{
	struct sched_rr *s = rr(self);

	s->nharts = *(const unsigned int *)arg;
	for (unsigned int i = 0; i < MAX_HARTS; i++) {
		spin_init(&s->rq[i].lock, "runq");
		list_init(&s->rq[i].threads);
	}
	return 0;
}

static const struct class sched_rr_class = {
	.name = "sched",
	.impl = "sched",
	.version = 1,
	.iface_version = 1,
	.ops = &rr_ops,
	.nmethods = sizeof(struct sched_ops) / sizeof(void *),
	.state_size = sizeof(struct sched_rr),
	.init = rr_init,
};

static struct factory sched_factory;

int sched_rr_create(unsigned int nharts)
{
	int err;

	if (nharts == 0 || nharts > MAX_HARTS)
		return -KE_INVAL;
	if (!sched_factory.cur && (err = factory_init(&sched_factory, &sched_rr_class)))
		return err;
	return factory_create(&sched_factory, &nharts, &sched_ref);
}
