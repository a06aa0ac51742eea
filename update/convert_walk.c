/*
 * The eager walk of a live update (update/convert.c converts one
 * instance): converting every stale instance of a factory, counting what
 * is left, and freeing the old states kept for a rollback once probation
 * is over.
 *
 * Locking: f->lock for the instance list, dropped around each conversion
 * (convert_instance takes it, then the OTT's, to commit); a walker that
 * lets go of the lock restarts from a node it still owns or from the head.
 */
#include <kernel/convert.h>
#include <kernel/object.h>
#include <kernel/defer.h>
#include <kernel/thread.h>
#include <kernel/timer.h>
#include <kernel/riscv.h>
#include <kernel/errno.h>

static bool stale(const struct object *o, const struct class_version *target)
{
	const struct class_version *cv = object_version(o);

	if (o->flags & OBJ_NOCONVERT && cv->state == CV_CONVERT)
		return false;	/* stays where it is (its transfer faulted) */
	return cv != target && (cv->state == CV_CONVERT || cv->state == CV_REVERT);
}

/*
 * One walk over the instances, converting each stale one. A conversion
 * puts the new object at the old one's place in the list, so the walk goes
 * on from there. While it holds a cursor the walker must not be quiescent
 * (the object under the cursor could be freed), so every WALK_BATCH
 * conversions it lets go, marks a quiescent point (a long sweep must not
 * hold every other update's quiescence wait) and starts again from the
 * head. An instance destroyed under it also restarts the walk. Returns how
 * many were busy (calls in them) and skipped.
 */
#define WALK_BATCH 8192

static unsigned int convert_pass(struct factory *f, struct class_version *target, int *err,
				 bool may_rest)
{
	unsigned int busy = 0, done = 0;
	struct list_head *pos;

	spin_lock(&f->lock);
	pos = f->instances.next;
	while (pos != &f->instances) {
		struct object *o = list_entry(pos, struct object, node), *n;
		int rc;

		if (!stale(o, target)) {
			pos = pos->next;
			continue;
		}
		spin_unlock(&f->lock);
		rc = convert_instance(o, &n);
		if (may_rest && ++done % WALK_BATCH == 0) {
			thread_quiescent();
			spin_lock(&f->lock);
			pos = f->instances.next;
			continue;
		}
		spin_lock(&f->lock);
		if (rc == -KE_NOMEM) {
			*err = rc;
			break;
		}
		if (rc)
			busy++;
		pos = rc ? &o->node : &n->node;
		if (pos->next == pos)
			pos = f->instances.next;	/* unlinked meanwhile: from the top */
		else
			pos = pos->next;
	}
	spin_unlock(&f->lock);
	return busy;
}

unsigned int convert_all_now(struct factory *f)
{
	int err = 0;

	return convert_pass(f, f->cur, &err, false);
}

static bool any_stale(struct factory *f, struct class_version *target)
{
	struct list_head *pos;
	bool found = false;

	spin_lock(&f->lock);
	list_for_each(pos, &f->instances)
		if (stale(list_entry(pos, struct object, node), target)) {
			found = true;
			break;
		}
	spin_unlock(&f->lock);
	return found;
}

int convert_all(struct factory *f, uint64_t timeout_us)
{
	uint64_t deadline = rdtime() + timer_us_to_ticks(timeout_us);
	struct class_version *target = f->cur;
	int err = 0;

	for (;;) {
		/* A rollback moved the factory back: converting is the monitor's job now. */
		if (__atomic_load_n(&f->cur, __ATOMIC_ACQUIRE) != target)
			return -KE_ALREADY;
		convert_pass(f, target, &err, true);
		if (err)
			return err;
		if (!any_stale(f, target))
			return 0;
		if (rdtime() > deadline)
			return -KE_TIMEDOUT;
		thread_yield();	/* let the calls still in some instances finish */
	}
}

uint32_t convert_pending(struct factory *f)
{
	uint32_t n = 0;
	struct list_head *pos;

	spin_lock(&f->lock);
	list_for_each(pos, &f->instances)
		n += object_version(list_entry(pos, struct object, node)) != f->cur;
	spin_unlock(&f->lock);
	return n;
}

void convert_drop_prev(struct factory *f)
{
	struct list_head *pos;

	spin_lock(&f->lock);
	list_for_each(pos, &f->instances) {
		struct object *o = list_entry(pos, struct object, node);

		if (o->prev) {
			if (!(o->prev->flags & OBJ_STATIC))
				object_free_deferred(o->prev);
			o->prev = NULL;
		}
	}
	spin_unlock(&f->lock);
}
