/*
 * The reaper: runs deferred work after quiescence (see defer.h).
 *
 * Locking: defer_lock guards the pending list; the reaper takes the whole
 * list, waits for quiescence without the lock, then runs the batch.
 * A request's node is allocated by defer_call; if that allocation fails,
 * the caller's memory is leaked rather than freed early (logged).
 */
#include <kernel/defer.h>
#include <kernel/thread.h>
#include <kernel/mem.h>
#include <kernel/log.h>
#include <kernel/ott.h>
#include <kernel/errno.h>

struct deferred {
	struct list_head node;
	void (*fn)(void *arg);
	void *arg;
};

static struct spinlock defer_lock = SPINLOCK_INIT("defer");
static struct list_head pending = LIST_HEAD_INIT(pending);
static struct waitq defer_wq = WAITQ_INIT(defer_wq);
static struct waitq done_wq = WAITQ_INIT(done_wq);
static volatile uint64_t queued_seq, done_seq;

int defer_call(void (*fn)(void *arg), void *arg)
{
	struct deferred *d = kmalloc(sizeof(*d));
	bool was_empty;

	if (!d) {
		klog("defer", "out of memory: leaking %p rather than freeing it early", arg);
		return -KE_NOMEM;
	}
	d->fn = fn;
	d->arg = arg;
	spin_lock(&defer_lock);
	was_empty = list_empty(&pending);
	list_add_tail(&d->node, &pending);
	queued_seq++;
	spin_unlock(&defer_lock);
	/* One wakeup per batch: a conversion of 100000 instances defers 100000 frees. */
	if (was_empty)
		waitq_wake_one(&defer_wq);
	return 0;
}

static void free_obj(void *p)
{
	kfree(p);
}

void object_free_deferred(struct object *obj)
{
	defer_call(free_obj, obj);
}

static void reaper_main(void *arg)
{
	for (;;) {
		struct list_head batch = LIST_HEAD_INIT(batch);
		struct list_head *pos, *n;
		uint64_t seq;

		spin_lock(&defer_lock);
		while (list_empty(&pending))
			waitq_wait(&defer_wq, &defer_lock);
		/* Splice the pending list into the batch. */
		batch.next = pending.next;
		batch.prev = pending.prev;
		batch.next->prev = &batch;
		batch.prev->next = &batch;
		list_init(&pending);
		seq = queued_seq;
		spin_unlock(&defer_lock);
		while (quiesce_wait(1000000))
			klog("defer", "quiescence is taking long; still waiting");
		list_for_each_safe(pos, n, &batch) {
			struct deferred *d = list_entry(pos, struct deferred, node);

			d->fn(d->arg);
			kfree(d);
			thread_quiescent();	/* between items: holds nothing */
		}
		spin_lock(&defer_lock);
		done_seq = seq;
		spin_unlock(&defer_lock);
		waitq_wake_all(&done_wq);
	}
}

void defer_flush(void)
{
	uint64_t want;

	spin_lock(&defer_lock);
	want = queued_seq;
	while (done_seq < want)
		waitq_wait(&done_wq, &defer_lock);
	spin_unlock(&defer_lock);
}

void defer_start(void)
{
	thread_create("reaper", reaper_main, NULL, THREAD_ANY_HART);
}
