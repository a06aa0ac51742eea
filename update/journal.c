/*
 * The update journal (format and rules in include/kernel/journal.h).
 *
 * Every write goes through dev_*(), which count operations and latch a
 * failure: after a failed write the in-memory view may be ahead of the
 * storage, so nothing more is written until the journal is opened again.
 * Positions are 64-bit byte counts along the ring (they never wrap); the
 * storage offset of a position is ring start + position modulo ring size.
 *
 * The space rule: a block may be erased only when it lies below
 * `limit` = start of the saved tail's block + ring size, i.e. outside what
 * the newest superblock still covers. Appends never pass it, compaction
 * raises it by saving a new tail. A reserve (the largest live record plus
 * two blocks) stays free after every append so that compaction can always
 * move the record at the tail.
 *
 * Locking: none; the caller serialises all calls on one journal.
 */
#include <string.h>
#include <kernel/journal.h>
#include <kernel/errno.h>
#include "journal_priv.h"


/* --- CRC-32 ---------------------------------------------------------------- */

static const uint32_t crc_nibble[16] = {
	0x00000000, 0x1db71064, 0x3b6e20c8, 0x26d930ac, 0x76dc4190, 0x6b6b51f4,
	0x4db26158, 0x5005713c, 0xedb88320, 0xf00f9344, 0xd6d6a3e8, 0xcb61b38c,
	0x9b64c2b0, 0x86d3d2d4, 0xa00ae278, 0xbdbdf21c,
};

uint32_t journal_crc32(uint32_t crc, const void *data, size_t len)
{
	const uint8_t *p = data;

	crc = ~crc;
	while (len--) {
		crc ^= *p++;
		crc = (crc >> 4) ^ crc_nibble[crc & 15];
		crc = (crc >> 4) ^ crc_nibble[crc & 15];
	}
	return ~crc;
}

/* --- device access ---------------------------------------------------------- */

int jr_dev_read(struct journal *j, uint64_t off, void *buf, size_t len)
{
	j->stats.reads++;
	return j->dev->read(j->dev->ctx, off, buf, len) ? -KE_IO : 0;
}

static int dev_fail(struct journal *j)
{
	j->failed = true;
	return -KE_IO;
}

int jr_dev_program(struct journal *j, uint64_t off, const void *buf, size_t len)
{
	if (j->failed)
		return -KE_IO;
	j->stats.programs++;
	j->stats.program_bytes += len;
	return j->dev->program(j->dev->ctx, off, buf, len) ? dev_fail(j) : 0;
}

int jr_dev_erase(struct journal *j, uint64_t off, size_t len)
{
	if (j->failed)
		return -KE_IO;
	j->stats.erases++;
	j->stats.erase_bytes += len;
	return j->dev->erase(j->dev->ctx, off, len) ? dev_fail(j) : 0;
}

int jr_dev_flush(struct journal *j)
{
	if (j->failed)
		return -KE_IO;
	j->stats.flushes++;
	return j->dev->flush(j->dev->ctx) ? dev_fail(j) : 0;
}

bool jr_all_ff(const void *buf, size_t len)
{
	const uint8_t *p = buf;

	for (size_t i = 0; i < len; i++)
		if (p[i] != 0xff)
			return false;
	return true;
}

/* --- the ring --------------------------------------------------------------- */






static int ring_io(struct journal *j, uint64_t pos, void *buf, uint64_t len, bool write)
{
	uint8_t *p = buf;

	while (len) {
		uint64_t in = pos % j->log_size;
		uint64_t n = len;
		int rc;

		if (n > j->log_size - in)
			n = j->log_size - in;
		if (n > MAX_IO)
			n = MAX_IO;
		rc = write ? jr_dev_program(j, j->log_off + in, p, (size_t)n)
			   : jr_dev_read(j, j->log_off + in, p, (size_t)n);
		if (rc)
			return rc;
		pos += n;
		p += n;
		len -= n;
	}
	return 0;
}

int jr_ring_read(struct journal *j, uint64_t pos, void *buf, uint64_t len)
{
	return ring_io(j, pos, buf, len, false);
}

int jr_ring_program(struct journal *j, uint64_t pos, const void *buf, uint64_t len)
{
	return ring_io(j, pos, (void *)buf, len, true);
}

/* Erases every block [pos, pos + len) touches that the head has not entered yet. */
static int ring_prepare(struct journal *j, uint64_t pos, uint64_t len)
{
	uint64_t end = pos + len;

	while (j->erased_to < end) {
		uint64_t in = j->erased_to % j->log_size;
		uint64_t n = jr_blk_down(j, end + j->esz - 1) - j->erased_to;
		int rc;

		if (n > MAX_IO)
			n = MAX_IO;
		if (n > j->log_size - in)
			n = j->log_size - in;
		if (j->erased_to + n > jr_limit(j))
			return -KE_NOSPC;	/* never erase what the superblock covers */
		rc = jr_dev_erase(j, j->log_off + in, (size_t)n);
		if (rc)
			return rc;
		j->erased_to += n;
	}
	return 0;
}

/* --- records ------------------------------------------------------------------ */

static uint32_t hdr_crc(const struct rec_hdr *h)
{
	return journal_crc32(0, h, offsetof(struct rec_hdr, hdr_crc));
}

bool jr_hdr_valid(const struct journal *j, const struct rec_hdr *h, uint64_t pos)
{
	if (h->magic != REC_MAGIC || h->hdr_size != HDR_SIZE || h->pos != pos ||
	    h->hdr_crc != hdr_crc(h) || h->len > j->log_size ||
	    pos + jr_rec_size(h->len) > jr_limit(j))
		return false;
	switch (h->type) {
	case REC_PACK:
		return h->len > 0;
	case REC_COMMIT:
		return h->len == 0;
	case REC_ROLLBACK:
		return h->len <= JOURNAL_REASON_LEN;
	default:
		return false;
	}
}

/* CRC of @len bytes of the ring at @pos; optionally copies them to @to. */
int jr_ring_crc(struct journal *j, uint64_t pos, uint64_t len, uint64_t to, uint32_t *crc)
{
	*crc = 0;
	while (len) {
		uint64_t n = len < j->esz ? len : j->esz;
		int rc = jr_ring_read(j, pos, j->buf, n);

		if (!rc && to != UINT64_MAX)
			rc = jr_ring_program(j, to, j->buf, n);
		if (rc)
			return rc;
		*crc = journal_crc32(*crc, j->buf, (size_t)n);
		pos += n;
		to += to != UINT64_MAX ? n : 0;
		len -= n;
	}
	return 0;
}

/*
 * Appends one record at the head: blocks erased on entry, header, payload
 * (from @payload, or copied from the ring at @src), one flush. The header
 * goes first: a cut in the payload leaves a header whose payload CRC fails.
 */
int jr_append(struct journal *j, struct rec_hdr *h, const void *payload, uint64_t src)
{
	uint64_t pos = j->head, size = jr_rec_size(h->len);
	uint32_t crc;
	int rc;

	if (j->failed)
		return -KE_IO;
	if (pos + size > jr_limit(j))
		return -KE_NOSPC;
	rc = ring_prepare(j, pos, size);
	if (rc)
		return rc;
	h->magic = REC_MAGIC;
	h->hdr_size = HDR_SIZE;
	h->pos = pos;
	h->hdr_crc = hdr_crc(h);
	rc = jr_ring_program(j, pos, h, HDR_SIZE);
	if (!rc && payload)
		rc = jr_ring_program(j, pos + HDR_SIZE, payload, h->len);
	if (!rc && !payload) {
		rc = jr_ring_crc(j, src + HDR_SIZE, h->len, pos + HDR_SIZE, &crc);
		if (!rc && crc != h->payload_crc)
			rc = -KE_BADMSG;	/* the source rotted: the copy fails its CRC too */
	}
	if (!rc || rc == -KE_BADMSG) {
		int frc = jr_dev_flush(j);

		if (frc)
			return frc;
		j->head = pos + size;
	}
	return rc;
}

/* --- entries ------------------------------------------------------------------ */

struct journal_entry *journal_find(struct journal *j, uint32_t seq)
{
	for (unsigned int i = 0; i < j->nent; i++)
		if (j->ent[i].seq == seq)
			return &j->ent[i];
	return NULL;
}

struct journal_entry *jr_entry_add(struct journal *j, uint32_t seq)
{
	unsigned int i = j->nent;

	if (j->nent == j->maxent)
		return NULL;
	while (i > 0 && j->ent[i - 1].seq > seq) {
		j->ent[i] = j->ent[i - 1];
		i--;
	}
	memset(&j->ent[i], 0, sizeof(j->ent[i]));
	j->ent[i].seq = seq;
	j->nent++;
	return &j->ent[i];
}

void jr_entry_remove(struct journal *j, struct journal_entry *e)
{
	unsigned int i = (unsigned int)(e - j->ent);

	memmove(&j->ent[i], &j->ent[i + 1], (j->nent - i - 1) * sizeof(*e));
	j->nent--;
}

bool jr_entry_live(const struct journal_entry *e)
{
	return e->status != JOURNAL_ROLLED_BACK;
}

const char *journal_status_name(int status)
{
	switch (status) {
	case JOURNAL_PENDING:
		return "pending";
	case JOURNAL_COMMITTED:
		return "committed";
	case JOURNAL_ROLLED_BACK:
		return "rolled-back";
	default:
		return "?";
	}
}

/* Bytes live records take, with room for the outcome record of pending ones. */
uint64_t jr_live_bytes(const struct journal *j, uint64_t *biggest)
{
	uint64_t sum = 0;

	*biggest = 0;
	for (unsigned int i = 0; i < j->nent; i++) {
		const struct journal_entry *e = &j->ent[i];
		uint64_t r = jr_rec_size(e->size);

		if (!jr_entry_live(e))
			continue;
		sum += r + (e->status == JOURNAL_PENDING ? OUTCOME_SIZE : 0);
		if (r > *biggest)
			*biggest = r;
	}
	return sum;
}

/* --- superblock ---------------------------------------------------------------- */

static uint32_t jr_super_crc(const struct super *s)
{
	return journal_crc32(0, s, offsetof(struct super, crc));
}

/* Writes the next superblock copy (alternating A/B) with @tail, then flushes. */
int jr_super_write(struct journal *j, uint64_t tail)
{
	struct super s;
	uint64_t blk;
	int rc;

	memset(&s, 0, sizeof(s));
	s.magic = SUPER_MAGIC;
	s.version = FORMAT_VERSION;
	s.size = sizeof(s);
	s.count = j->super_count + 1;
	s.region_size = j->dev->size;
	s.erase_size = j->esz;
	s.floor = j->floor;
	s.tail = tail;
	s.state = j->state;
	s.crc = jr_super_crc(&s);
	blk = (s.count & 1) ? BLK_SUPER_A : BLK_SUPER_B;
	rc = jr_dev_erase(j, blk * j->esz, j->esz);
	if (!rc)
		rc = jr_dev_program(j, blk * j->esz, &s, sizeof(s));
	if (!rc)
		rc = jr_dev_flush(j);
	if (rc)
		return rc;
	j->stats.super_writes++;
	j->super_count = s.count;
	j->tail_saved = tail;
	return 0;
}

/* 1: valid for this geometry; 0: invalid; -1: valid, but another geometry. */
int jr_super_check(const struct journal *j, const struct super *s)
{
	if (s->magic != SUPER_MAGIC || s->version != FORMAT_VERSION || s->size != sizeof(*s) ||
	    s->crc != jr_super_crc(s))
		return 0;
	if (s->region_size != j->dev->size || s->erase_size != j->esz)
		return -1;
	return 1;
}


/* --- updates ---------------------------------------------------------------------- */

int journal_store(struct journal *j, uint32_t seq, const void *pack, size_t len)
{
	struct journal_entry *e;
	struct rec_hdr h;
	int rc;

	if (j->failed)
		return -KE_IO;
	if (seq <= j->floor)
		return -KE_ALREADY;
	if (!len || len > UINT32_MAX || len > j->log_size)
		return -KE_NOSPC;
	rc = jr_make_room(j, jr_rec_size(len), true, true);
	if (rc)
		return rc;
	memset(&h, 0, sizeof(h));
	h.type = REC_PACK;
	h.seq = seq;
	h.len = (uint32_t)len;
	h.payload_crc = journal_crc32(0, pack, len);
	rc = jr_append(j, &h, pack, 0);
	if (rc)
		return rc;
	e = jr_entry_add(j, seq);	/* room was made above */
	e->pos = h.pos;
	e->size = (uint32_t)len;
	e->status = JOURNAL_PENDING;
	j->floor = seq;
	return jr_super_write(j, j->tail);
}

static int outcome(struct journal *j, uint32_t seq, uint8_t type, const char *reason)
{
	struct journal_entry *e = journal_find(j, seq);
	size_t rlen = reason ? strnlen(reason, JOURNAL_REASON_LEN - 1) : 0;
	struct rec_hdr h;
	int rc;

	if (!e)
		return -KE_NOENT;
	if (e->status == JOURNAL_ROLLED_BACK || (type == REC_COMMIT && e->status != JOURNAL_PENDING))
		return -KE_ALREADY;
	rc = jr_make_room(j, jr_rec_size(rlen), false, false);
	if (rc)
		return rc;
	memset(&h, 0, sizeof(h));
	h.type = type;
	h.seq = seq;
	h.len = (uint32_t)rlen;
	h.payload_crc = journal_crc32(0, reason, rlen);
	rc = jr_append(j, &h, rlen ? reason : "", 0);
	if (rc)
		return rc;
	e = journal_find(j, seq);	/* compaction may have moved it in the array */
	if (type == REC_COMMIT) {
		e->status = JOURNAL_COMMITTED;
	} else {
		e->status = JOURNAL_ROLLED_BACK;
		memset(e->reason, 0, sizeof(e->reason));
		memcpy(e->reason, reason, rlen);
	}
	return 0;
}

int journal_commit(struct journal *j, uint32_t seq)
{
	return outcome(j, seq, REC_COMMIT, NULL);
}

int journal_rollback(struct journal *j, uint32_t seq, const char *reason)
{
	return outcome(j, seq, REC_ROLLBACK, reason ? reason : "");
}

int journal_read_pack(struct journal *j, const struct journal_entry *e, void *buf)
{
	struct rec_hdr h;
	int rc = jr_ring_read(j, e->pos, &h, HDR_SIZE);

	if (rc)
		return rc;
	if (!jr_hdr_valid(j, &h, e->pos) || h.type != REC_PACK || h.seq != e->seq || h.len != e->size)
		return -KE_BADMSG;
	rc = jr_ring_read(j, e->pos + HDR_SIZE, buf, h.len);
	if (rc)
		return rc;
	return journal_crc32(0, buf, h.len) == h.payload_crc ? 0 : -KE_BADMSG;
}

int journal_forget_all(struct journal *j)
{
	int rc;

	for (unsigned int i = 0; i < j->nent; i++)
		if (j->ent[i].status == JOURNAL_PENDING)
			return -KE_BUSY;
	rc = jr_super_write(j, j->head);
	if (rc)
		return rc;
	j->tail = j->head;
	j->nent = 0;
	return 0;
}

int journal_set_state(struct journal *j, const struct journal_state *st)
{
	struct journal_state old = j->state;

	if (!memcmp(&old, st, sizeof(old)))
		return 0;
	j->state = *st;
	j->state.reason[JOURNAL_REASON_LEN - 1] = '\0';
	if (jr_super_write(j, j->tail)) {
		j->state = old;
		return -KE_IO;
	}
	return 0;
}

void journal_usage(const struct journal *j, uint64_t *used, uint64_t *free)
{
	uint64_t biggest, live = jr_live_bytes(j, &biggest);
	uint64_t room = j->log_size - live;

	*used = live;
	*free = room > 2 * (uint64_t)j->esz + OUTCOME_SIZE ? room - 2 * (uint64_t)j->esz - OUTCOME_SIZE
							    : 0;
}

uint64_t journal_max_pack(const struct journal *j)
{
	uint64_t lo = 0, hi = j->log_size, reserve;

	/* The largest length whose record passes the same test as a store. */
	while (lo < hi) {
		uint64_t mid = lo + (hi - lo + 1) / 2;

		if (jr_capacity_ok(j, jr_rec_size(mid), true, &reserve))
			lo = mid;
		else
			hi = mid - 1;
	}
	return lo;
}
