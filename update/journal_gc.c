/*
 * Room in the update journal: compaction moves the live packs off the
 * tail and saves the new tail, one block at a time, before the head may
 * erase what it passed; make_room() checks capacity (with the reserve
 * compaction needs) before anything is written.
 *
 * Locking: none; the caller serialises all calls on one journal.
 */
#include <string.h>
#include <kernel/journal.h>
#include <kernel/errno.h>
#include "journal_priv.h"

/* --- compaction ----------------------------------------------------------------- */

/* Moves the record at the tail to the head if it is still live; advances the tail. */
static int compact_one(struct journal *j)
{
	char reason[JOURNAL_REASON_LEN];
	struct journal_entry *e;
	struct rec_hdr h;
	int rc = jr_read_record(j, j->tail, &h, reason);

	if (rc < 0)
		return rc;
	if (rc == 0) {
		/* Garbage a cut left: the scan went on at the next block. */
		j->tail = jr_blk_next(j, j->tail);
		if (j->tail > j->head)
			j->tail = j->head;
		return 0;
	}
	if (rc == 2) {
		uint64_t next;

		/* A torn record: dead; the log goes on where the scan found it. */
		rc = jr_after_torn(j, j->tail, &h, &next);
		if (rc)
			return rc;
		e = h.type == REC_PACK ? journal_find(j, h.seq) : NULL;
		if (e && e->pos == j->tail && jr_entry_live(e)) {
			e->status = JOURNAL_ROLLED_BACK;	/* rotted since the scan */
			strcpy(e->reason, "corrupt");
		}
		if (e && e->pos == j->tail)
			jr_entry_remove(j, e);
		j->tail = next < j->head ? next : j->head;
		return 0;
	}
	e = h.type == REC_PACK ? journal_find(j, h.seq) : NULL;
	if (e && e->pos == j->tail && jr_entry_live(e)) {
		struct rec_hdr c = h;

		c.flags = e->status == JOURNAL_COMMITTED ? REC_F_COMMITTED : 0;
		rc = jr_append(j, &c, NULL, j->tail);
		if (rc == -KE_BADMSG) {
			e->status = JOURNAL_ROLLED_BACK;
			strcpy(e->reason, "corrupt");
		} else if (rc) {
			return rc;
		} else {
			e->pos = c.pos;
			j->stats.moved_bytes += jr_rec_size(h.len);
		}
	}
	if (e && e->pos == j->tail && !jr_entry_live(e))
		jr_entry_remove(j, e);
	j->tail += jr_rec_size(h.len);
	return 0;
}

unsigned int jr_dead_entries(const struct journal *j)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < j->nent; i++)
		n += !jr_entry_live(&j->ent[i]);
	return n;
}

int journal_compact(struct journal *j, uint64_t want)
{
	uint64_t stop = j->head;	/* one pass over what is there now */
	int rc;

	if (j->failed)
		return -KE_IO;
	j->stats.compactions++;
	while ((jr_free_bytes(j) < want || j->nent == j->maxent) && j->tail < stop) {
		rc = compact_one(j);
		if (rc)
			return rc;
		/* Release each block the tail has passed before the head needs it. */
		if (jr_blk_down(j, j->tail) != jr_blk_down(j, j->tail_saved) &&
		    (rc = jr_super_write(j, j->tail)))
			return rc;
	}
	if (j->tail != j->tail_saved && (rc = jr_super_write(j, j->tail)))
		return rc;
	return jr_free_bytes(j) >= want ? 0 : -KE_NOSPC;
}

/*
 * Would a record of @rec bytes (a pack still pending if @pending) fit,
 * with the reserve that lets compaction move the biggest live record and
 * room for one more outcome record?
 */
bool jr_capacity_ok(const struct journal *j, uint64_t rec, bool pending, uint64_t *reserve)
{
	uint64_t biggest, live = jr_live_bytes(j, &biggest);

	if (rec > biggest)
		biggest = rec;
	*reserve = biggest + 2 * (uint64_t)j->esz;
	return live + rec + (pending ? OUTCOME_SIZE : 0) + *reserve + OUTCOME_SIZE <= j->log_size;
}

/* Room for a record of @rec bytes at the head, compacting if needed. */
int jr_make_room(struct journal *j, uint64_t rec, bool pending, bool new_entry)
{
	uint64_t reserve, want;
	int rc;

	if (!jr_capacity_ok(j, rec, pending, &reserve))
		return -KE_NOSPC;
	if (new_entry && j->nent == j->maxent && !jr_dead_entries(j))
		return -KE_NOSPC;
	want = rec + reserve;
	if (jr_free_bytes(j) >= want && (!new_entry || j->nent < j->maxent))
		return 0;
	rc = journal_compact(j, want);
	if (rc)
		return rc;
	return new_entry && j->nent == j->maxent ? -KE_NOSPC : 0;
}
