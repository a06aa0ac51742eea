/*
 * Opening the update journal: read both superblocks, scan the log from the
 * tail, rebuild the entries and the floor, place the head (or format a
 * region that holds no journal); and the boot counter. Format and rules:
 * include/kernel/journal.h.
 *
 * Locking: none; the caller serialises all calls on one journal.
 */
#include <string.h>
#include <kernel/journal.h>
#include <kernel/errno.h>
#include "journal_priv.h"

/* --- opening ------------------------------------------------------------------- */

static void scan_record(struct journal *j, const struct rec_hdr *h, uint64_t pos,
			const char *reason, struct journal_open_info *info)
{
	struct journal_entry *e = journal_find(j, h->seq);

	if (h->seq > j->floor)
		j->floor = h->seq;
	if (h->type == REC_PACK) {
		if (!e)
			e = jr_entry_add(j, h->seq);
		if (!e) {
			info->torn++;	/* no room to track it: it is not trusted */
			return;
		}
		e->pos = pos;
		e->size = h->len;
		if ((h->flags & REC_F_COMMITTED) && e->status == JOURNAL_PENDING)
			e->status = JOURNAL_COMMITTED;
		return;
	}
	if (!e) {
		info->orphans++;
		return;
	}
	if (h->type == REC_COMMIT && e->status == JOURNAL_PENDING) {
		e->status = JOURNAL_COMMITTED;
	} else if (h->type == REC_ROLLBACK) {
		e->status = JOURNAL_ROLLED_BACK;
		memset(e->reason, 0, sizeof(e->reason));
		memcpy(e->reason, reason, h->len < sizeof(e->reason) ? h->len : sizeof(e->reason) - 1);
	}
}

/* Reads and checks the record at @pos: 1 valid, 0 not, or a negative code. */
int jr_read_record(struct journal *j, uint64_t pos, struct rec_hdr *h, char *reason)
{
	uint32_t crc;
	int rc = jr_ring_read(j, pos, h, HDR_SIZE);

	if (rc)
		return rc;
	if (!jr_hdr_valid(j, h, pos))
		return 0;
	if (h->type == REC_ROLLBACK) {
		rc = jr_ring_read(j, pos + HDR_SIZE, reason, h->len);
		crc = journal_crc32(0, reason, h->len);
	} else {
		rc = jr_ring_crc(j, pos + HDR_SIZE, h->len, UINT64_MAX, &crc);
	}
	if (rc)
		return rc;
	return crc == h->payload_crc ? 1 : 2;	/* 2: a header whose payload is torn */
}

/*
 * Where the next record goes once the valid records end at @p: right
 * there if the rest of its block is erased, else at the next block (which
 * is erased on entry). A block-aligned @p is simply erased again.
 */
static int place_head(struct journal *j, uint64_t p)
{
	uint64_t in = p - jr_blk_down(j, p);
	int rc;

	j->head = p;
	j->erased_to = p;
	if (!in)
		return 0;
	rc = jr_ring_read(j, jr_blk_down(j, p), j->buf, j->esz);
	if (rc)
		return rc;
	if (jr_all_ff(j->buf + in, j->esz - in))
		j->erased_to = jr_blk_next(j, p);
	else
		j->head = j->erased_to = jr_blk_next(j, p);
	if (j->head > jr_limit(j))
		j->head = j->erased_to = jr_limit(j);
	return 0;
}

/*
 * Where the log goes on after the torn record @h at @pos (a valid header,
 * a payload cut short): if the log ended there at a boot, the next record
 * was put at the next block boundary, inside the torn one's extent (see
 * scan()); otherwise right after it.
 */
int jr_after_torn(struct journal *j, uint64_t pos, const struct rec_hdr *h, uint64_t *next)
{
	uint64_t q = jr_blk_next(j, pos);
	char reason[JOURNAL_REASON_LEN];
	struct rec_hdr n;
	int rc;

	*next = pos + jr_rec_size(h->len);
	if (q >= *next || q + HDR_SIZE > jr_limit(j))
		return 0;
	rc = jr_read_record(j, q, &n, reason);
	if (rc > 0)
		*next = q;
	return rc < 0 ? rc : 0;
}

/*
 * Walks the log from the tail. After the last valid record, the start of
 * the next block is tried once more: that is where a record goes after a
 * cut left garbage behind the previous one. A torn record that ends the
 * log is taken back from its next block on (the rest of its first block
 * is lost): a cut in a compaction copy must not eat the room compaction
 * needs to copy that record again.
 */
static int scan(struct journal *j, struct journal_open_info *info)
{
	uint64_t pos = j->tail, torn_last = UINT64_MAX;
	char reason[JOURNAL_REASON_LEN];
	struct rec_hdr h;

	while (pos + HDR_SIZE <= jr_limit(j)) {
		uint64_t next;
		int rc = jr_read_record(j, pos, &h, reason);

		if (rc < 0)
			return rc;
		if (rc == 0) {
			next = jr_blk_next(j, pos);
			if (next + HDR_SIZE > jr_limit(j))
				break;
			rc = jr_read_record(j, next, &h, reason);
			if (rc < 0)
				return rc;
			if (rc == 0)
				break;
			info->torn++;	/* a cut left something at pos */
			pos = next;
		}
		if (rc == 1) {
			scan_record(j, &h, pos, reason, info);
			torn_last = UINT64_MAX;
			pos += jr_rec_size(h.len);
			continue;
		}
		info->torn++;
		torn_last = pos;
		rc = jr_after_torn(j, pos, &h, &next);
		if (rc)
			return rc;
		if (next != pos + jr_rec_size(h.len))
			torn_last = UINT64_MAX;		/* the log went on inside it */
		pos = next;
	}
	if (torn_last != UINT64_MAX && pos >= jr_limit(j) - j->esz)
		torn_last = UINT64_MAX;	/* at the very end of the room: leave it */
	if (torn_last != UINT64_MAX) {
		j->head = j->erased_to = (torn_last & (j->esz - 1)) ? jr_blk_next(j, torn_last)
								     : torn_last;
		return 0;
	}
	return place_head(j, pos < jr_limit(j) ? pos : jr_limit(j));
}

static bool region_blank(struct journal *j)
{
	for (unsigned int b = 0; b < BLK_LOG; b++) {
		const uint8_t *p = j->buf;

		if (jr_dev_read(j, (uint64_t)b * j->esz, j->buf, j->esz))
			return false;
		for (uint32_t i = 0; i < j->esz; i++)
			if (p[i] != p[0] || (p[0] != 0xff && p[0] != 0))
				return false;
	}
	return true;
}

static int format(struct journal *j, const char *why, struct journal_open_info *info)
{
	int rc;

	info->formatted = true;
	info->why = why;
	j->tail = j->tail_saved = j->head = j->erased_to = 0;
	j->nent = 0;
	memset(&j->state, 0, sizeof(j->state));
	rc = jr_dev_erase(j, (uint64_t)BLK_BOOT * j->esz, j->esz);
	if (!rc)
		rc = jr_super_write(j, 0);
	return rc;
}

int journal_open(struct journal *j, const struct journal_dev *dev, void *scratch,
		 struct journal_entry *ent, unsigned int maxent, struct journal_open_info *info)
{
	struct super s[2];
	int valid[2], best = -1;
	uint64_t blocks;

	memset(j, 0, sizeof(*j));
	memset(info, 0, sizeof(*info));
	if (!dev || dev->erase_size < JOURNAL_MIN_BLOCK || dev->erase_size > JOURNAL_MAX_BLOCK ||
	    (dev->erase_size & (dev->erase_size - 1)))
		return -KE_INVAL;
	blocks = dev->size / dev->erase_size;
	if (blocks < BLK_LOG + JOURNAL_MIN_LOG_BLOCKS)
		return -KE_NOSPC;
	j->dev = dev;
	j->esz = dev->erase_size;
	j->buf = scratch;
	j->ent = ent;
	j->maxent = maxent;
	j->log_off = (uint64_t)BLK_LOG * j->esz;
	j->log_size = (blocks - BLK_LOG) * j->esz;
	for (int i = 0; i < 2; i++) {
		if (jr_dev_read(j, (uint64_t)(i ? BLK_SUPER_B : BLK_SUPER_A) * j->esz, &s[i], sizeof(s[i])))
			return -KE_IO;
		valid[i] = jr_super_check(j, &s[i]);
		if (valid[i]) {
			/* Whatever else happened, a readable floor is never lowered. */
			if (s[i].floor > j->floor)
				j->floor = s[i].floor;
			if (s[i].count > j->super_count)
				j->super_count = s[i].count;
		}
		if (valid[i] == 1) {
			info->supers_valid++;
			if (best < 0 || s[i].count > s[best].count)
				best = i;
		}
	}
	if (best < 0) {
		if (valid[0] < 0 || valid[1] < 0)
			return format(j, "geometry changed", info);
		return format(j, region_blank(j) ? "blank" : "no valid superblock", info);
	}
	j->tail = j->tail_saved = s[best].tail;
	j->state = s[best].state;
	j->state.reason[JOURNAL_REASON_LEN - 1] = '\0';
	return scan(j, info);
}


/* --- boot counter ------------------------------------------------------------------ */

struct boot_mark {
	uint32_t seq;
	uint32_t check;		/* ~seq: a torn mark does not count */
};

int journal_boot_begin(struct journal *j, unsigned int *failed, uint32_t *last_mark)
{
	uint64_t off = (uint64_t)BLK_BOOT * j->esz;
	const struct boot_mark *m;
	unsigned int n = 0;
	int rc;

	*failed = 0;
	*last_mark = 0;
	rc = jr_dev_read(j, off, j->buf, j->esz);
	if (rc)
		return rc;
	while (n < BOOT_ATTEMPTS && j->buf[n] != 0xff)
		n++;
	*failed = n;
	m = (const struct boot_mark *)(j->buf + BOOT_ATTEMPTS);
	for (unsigned int i = 0; i < (j->esz - BOOT_ATTEMPTS) / sizeof(*m); i++)
		if (m[i].check == ~m[i].seq)
			*last_mark = m[i].seq;
	if (n == BOOT_ATTEMPTS)
		return 0;	/* counted out: stays at the maximum until a good boot */
	rc = jr_dev_program(j, off + n, "", 1);
	return rc ? rc : jr_dev_flush(j);
}

int journal_boot_mark(struct journal *j, uint32_t seq)
{
	uint64_t off = (uint64_t)BLK_BOOT * j->esz;
	struct boot_mark m = { seq, ~seq };
	unsigned int slots = (j->esz - BOOT_ATTEMPTS) / sizeof(m);
	int rc = jr_dev_read(j, off, j->buf, j->esz);

	if (rc)
		return rc;
	for (unsigned int i = 0; i < slots; i++) {
		uint64_t at = BOOT_ATTEMPTS + (uint64_t)i * sizeof(m);

		if (jr_all_ff(j->buf + at, sizeof(m))) {
			rc = jr_dev_program(j, off + at, &m, sizeof(m));
			return rc ? rc : jr_dev_flush(j);
		}
	}
	return 0;	/* full: the earlier marks still name the culprits */
}

int journal_boot_good(struct journal *j)
{
	int rc = jr_dev_erase(j, (uint64_t)BLK_BOOT * j->esz, j->esz);

	return rc ? rc : jr_dev_flush(j);
}
