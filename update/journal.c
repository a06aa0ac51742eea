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

#define SUPER_MAGIC	0x534a4b4cU	/* "LKJS" */
#define REC_MAGIC	0x524a4b4cU	/* "LKJR" */
#define FORMAT_VERSION	1
#define BLK_SUPER_A	0
#define BLK_SUPER_B	1
#define BLK_BOOT	2
#define BLK_LOG		3
#define REC_ALIGN	16
#define MAX_IO		(64 * 1024)
#define BOOT_ATTEMPTS	64		/* attempt bytes at the start of the boot block */

enum rec_type { REC_PACK = 1, REC_COMMIT = 2, REC_ROLLBACK = 3 };
#define REC_F_COMMITTED	0x01		/* a PACK copied after its commit */

/* On storage, little-endian, as laid out here. */
struct rec_hdr {
	uint32_t magic;
	uint8_t type;
	uint8_t flags;
	uint16_t hdr_size;
	uint32_t seq;
	uint32_t len;		/* payload bytes */
	uint64_t pos;		/* where this record lives: a stale copy elsewhere never matches */
	uint32_t payload_crc;
	uint32_t hdr_crc;	/* over everything above */
};
_Static_assert(sizeof(struct rec_hdr) == 32, "record header layout");

struct super {
	uint32_t magic;
	uint16_t version;
	uint16_t size;
	uint64_t count;		/* write number: the newest valid copy wins */
	uint64_t region_size;
	uint32_t erase_size;
	uint32_t floor;
	uint64_t tail;
	struct journal_state state;
	uint8_t pad[6];
	uint32_t crc;
};
_Static_assert(sizeof(struct super) == 88, "superblock layout");

#define HDR_SIZE	((uint64_t)sizeof(struct rec_hdr))
#define OUTCOME_SIZE	rec_size(JOURNAL_REASON_LEN)

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

static int dev_read(struct journal *j, uint64_t off, void *buf, size_t len)
{
	j->stats.reads++;
	return j->dev->read(j->dev->ctx, off, buf, len) ? -KE_IO : 0;
}

static int dev_fail(struct journal *j)
{
	j->failed = true;
	return -KE_IO;
}

static int dev_program(struct journal *j, uint64_t off, const void *buf, size_t len)
{
	if (j->failed)
		return -KE_IO;
	j->stats.programs++;
	j->stats.program_bytes += len;
	return j->dev->program(j->dev->ctx, off, buf, len) ? dev_fail(j) : 0;
}

static int dev_erase(struct journal *j, uint64_t off, size_t len)
{
	if (j->failed)
		return -KE_IO;
	j->stats.erases++;
	j->stats.erase_bytes += len;
	return j->dev->erase(j->dev->ctx, off, len) ? dev_fail(j) : 0;
}

static int dev_flush(struct journal *j)
{
	if (j->failed)
		return -KE_IO;
	j->stats.flushes++;
	return j->dev->flush(j->dev->ctx) ? dev_fail(j) : 0;
}

static bool all_ff(const void *buf, size_t len)
{
	const uint8_t *p = buf;

	for (size_t i = 0; i < len; i++)
		if (p[i] != 0xff)
			return false;
	return true;
}

/* --- the ring --------------------------------------------------------------- */

static uint64_t rec_size(uint64_t len)
{
	return (HDR_SIZE + len + REC_ALIGN - 1) & ~(uint64_t)(REC_ALIGN - 1);
}

static uint64_t blk_down(const struct journal *j, uint64_t pos)
{
	return pos & ~(uint64_t)(j->esz - 1);
}

/* The next block boundary strictly after @pos. */
static uint64_t blk_next(const struct journal *j, uint64_t pos)
{
	return blk_down(j, pos) + j->esz;
}

static uint64_t limit(const struct journal *j)
{
	return blk_down(j, j->tail_saved) + j->log_size;
}

static uint64_t free_bytes(const struct journal *j)
{
	return limit(j) - j->head;
}

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
		rc = write ? dev_program(j, j->log_off + in, p, (size_t)n)
			   : dev_read(j, j->log_off + in, p, (size_t)n);
		if (rc)
			return rc;
		pos += n;
		p += n;
		len -= n;
	}
	return 0;
}

static int ring_read(struct journal *j, uint64_t pos, void *buf, uint64_t len)
{
	return ring_io(j, pos, buf, len, false);
}

static int ring_program(struct journal *j, uint64_t pos, const void *buf, uint64_t len)
{
	return ring_io(j, pos, (void *)buf, len, true);
}

/* Erases every block [pos, pos + len) touches that the head has not entered yet. */
static int ring_prepare(struct journal *j, uint64_t pos, uint64_t len)
{
	uint64_t end = pos + len;

	while (j->erased_to < end) {
		uint64_t in = j->erased_to % j->log_size;
		uint64_t n = blk_down(j, end + j->esz - 1) - j->erased_to;
		int rc;

		if (n > MAX_IO)
			n = MAX_IO;
		if (n > j->log_size - in)
			n = j->log_size - in;
		if (j->erased_to + n > limit(j))
			return -KE_NOSPC;	/* never erase what the superblock covers */
		rc = dev_erase(j, j->log_off + in, (size_t)n);
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

static bool hdr_valid(const struct journal *j, const struct rec_hdr *h, uint64_t pos)
{
	if (h->magic != REC_MAGIC || h->hdr_size != HDR_SIZE || h->pos != pos ||
	    h->hdr_crc != hdr_crc(h) || h->len > j->log_size ||
	    pos + rec_size(h->len) > limit(j))
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
static int ring_crc(struct journal *j, uint64_t pos, uint64_t len, uint64_t to, uint32_t *crc)
{
	*crc = 0;
	while (len) {
		uint64_t n = len < j->esz ? len : j->esz;
		int rc = ring_read(j, pos, j->buf, n);

		if (!rc && to != UINT64_MAX)
			rc = ring_program(j, to, j->buf, n);
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
static int append(struct journal *j, struct rec_hdr *h, const void *payload, uint64_t src)
{
	uint64_t pos = j->head, size = rec_size(h->len);
	uint32_t crc;
	int rc;

	if (j->failed)
		return -KE_IO;
	if (pos + size > limit(j))
		return -KE_NOSPC;
	rc = ring_prepare(j, pos, size);
	if (rc)
		return rc;
	h->magic = REC_MAGIC;
	h->hdr_size = HDR_SIZE;
	h->pos = pos;
	h->hdr_crc = hdr_crc(h);
	rc = ring_program(j, pos, h, HDR_SIZE);
	if (!rc && payload)
		rc = ring_program(j, pos + HDR_SIZE, payload, h->len);
	if (!rc && !payload) {
		rc = ring_crc(j, src + HDR_SIZE, h->len, pos + HDR_SIZE, &crc);
		if (!rc && crc != h->payload_crc)
			rc = -KE_BADMSG;	/* the source rotted: the copy fails its CRC too */
	}
	if (!rc || rc == -KE_BADMSG) {
		int frc = dev_flush(j);

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

static struct journal_entry *entry_add(struct journal *j, uint32_t seq)
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

static void entry_remove(struct journal *j, struct journal_entry *e)
{
	unsigned int i = (unsigned int)(e - j->ent);

	memmove(&j->ent[i], &j->ent[i + 1], (j->nent - i - 1) * sizeof(*e));
	j->nent--;
}

static bool entry_live(const struct journal_entry *e)
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
static uint64_t live_bytes(const struct journal *j, uint64_t *biggest)
{
	uint64_t sum = 0;

	*biggest = 0;
	for (unsigned int i = 0; i < j->nent; i++) {
		const struct journal_entry *e = &j->ent[i];
		uint64_t r = rec_size(e->size);

		if (!entry_live(e))
			continue;
		sum += r + (e->status == JOURNAL_PENDING ? OUTCOME_SIZE : 0);
		if (r > *biggest)
			*biggest = r;
	}
	return sum;
}

/* --- superblock ---------------------------------------------------------------- */

static uint32_t super_crc(const struct super *s)
{
	return journal_crc32(0, s, offsetof(struct super, crc));
}

/* Writes the next superblock copy (alternating A/B) with @tail, then flushes. */
static int super_write(struct journal *j, uint64_t tail)
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
	s.crc = super_crc(&s);
	blk = (s.count & 1) ? BLK_SUPER_A : BLK_SUPER_B;
	rc = dev_erase(j, blk * j->esz, j->esz);
	if (!rc)
		rc = dev_program(j, blk * j->esz, &s, sizeof(s));
	if (!rc)
		rc = dev_flush(j);
	if (rc)
		return rc;
	j->stats.super_writes++;
	j->super_count = s.count;
	j->tail_saved = tail;
	return 0;
}

/* 1: valid for this geometry; 0: invalid; -1: valid, but another geometry. */
static int super_check(const struct journal *j, const struct super *s)
{
	if (s->magic != SUPER_MAGIC || s->version != FORMAT_VERSION || s->size != sizeof(*s) ||
	    s->crc != super_crc(s))
		return 0;
	if (s->region_size != j->dev->size || s->erase_size != j->esz)
		return -1;
	return 1;
}

/* --- opening ------------------------------------------------------------------- */

static void scan_record(struct journal *j, const struct rec_hdr *h, uint64_t pos,
			const char *reason, struct journal_open_info *info)
{
	struct journal_entry *e = journal_find(j, h->seq);

	if (h->seq > j->floor)
		j->floor = h->seq;
	if (h->type == REC_PACK) {
		if (!e)
			e = entry_add(j, h->seq);
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
static int read_record(struct journal *j, uint64_t pos, struct rec_hdr *h, char *reason)
{
	uint32_t crc;
	int rc = ring_read(j, pos, h, HDR_SIZE);

	if (rc)
		return rc;
	if (!hdr_valid(j, h, pos))
		return 0;
	if (h->type == REC_ROLLBACK) {
		rc = ring_read(j, pos + HDR_SIZE, reason, h->len);
		crc = journal_crc32(0, reason, h->len);
	} else {
		rc = ring_crc(j, pos + HDR_SIZE, h->len, UINT64_MAX, &crc);
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
	uint64_t in = p - blk_down(j, p);
	int rc;

	j->head = p;
	j->erased_to = p;
	if (!in)
		return 0;
	rc = ring_read(j, blk_down(j, p), j->buf, j->esz);
	if (rc)
		return rc;
	if (all_ff(j->buf + in, j->esz - in))
		j->erased_to = blk_next(j, p);
	else
		j->head = j->erased_to = blk_next(j, p);
	if (j->head > limit(j))
		j->head = j->erased_to = limit(j);
	return 0;
}

/*
 * Where the log goes on after the torn record @h at @pos (a valid header,
 * a payload cut short): if the log ended there at a boot, the next record
 * was put at the next block boundary, inside the torn one's extent (see
 * scan()); otherwise right after it.
 */
static int after_torn(struct journal *j, uint64_t pos, const struct rec_hdr *h, uint64_t *next)
{
	uint64_t q = blk_next(j, pos);
	char reason[JOURNAL_REASON_LEN];
	struct rec_hdr n;
	int rc;

	*next = pos + rec_size(h->len);
	if (q >= *next || q + HDR_SIZE > limit(j))
		return 0;
	rc = read_record(j, q, &n, reason);
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

	while (pos + HDR_SIZE <= limit(j)) {
		uint64_t next;
		int rc = read_record(j, pos, &h, reason);

		if (rc < 0)
			return rc;
		if (rc == 0) {
			next = blk_next(j, pos);
			if (next + HDR_SIZE > limit(j))
				break;
			rc = read_record(j, next, &h, reason);
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
			pos += rec_size(h.len);
			continue;
		}
		info->torn++;
		torn_last = pos;
		rc = after_torn(j, pos, &h, &next);
		if (rc)
			return rc;
		if (next != pos + rec_size(h.len))
			torn_last = UINT64_MAX;		/* the log went on inside it */
		pos = next;
	}
	if (torn_last != UINT64_MAX && pos >= limit(j) - j->esz)
		torn_last = UINT64_MAX;	/* at the very end of the room: leave it */
	if (torn_last != UINT64_MAX) {
		j->head = j->erased_to = (torn_last & (j->esz - 1)) ? blk_next(j, torn_last)
								     : torn_last;
		return 0;
	}
	return place_head(j, pos < limit(j) ? pos : limit(j));
}

static bool region_blank(struct journal *j)
{
	for (unsigned int b = 0; b < BLK_LOG; b++) {
		const uint8_t *p = j->buf;

		if (dev_read(j, (uint64_t)b * j->esz, j->buf, j->esz))
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
	rc = dev_erase(j, (uint64_t)BLK_BOOT * j->esz, j->esz);
	if (!rc)
		rc = super_write(j, 0);
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
		if (dev_read(j, (uint64_t)(i ? BLK_SUPER_B : BLK_SUPER_A) * j->esz, &s[i], sizeof(s[i])))
			return -KE_IO;
		valid[i] = super_check(j, &s[i]);
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

/* --- compaction ----------------------------------------------------------------- */

/* Moves the record at the tail to the head if it is still live; advances the tail. */
static int compact_one(struct journal *j)
{
	char reason[JOURNAL_REASON_LEN];
	struct journal_entry *e;
	struct rec_hdr h;
	int rc = read_record(j, j->tail, &h, reason);

	if (rc < 0)
		return rc;
	if (rc == 0) {
		/* Garbage a cut left: the scan went on at the next block. */
		j->tail = blk_next(j, j->tail);
		if (j->tail > j->head)
			j->tail = j->head;
		return 0;
	}
	if (rc == 2) {
		uint64_t next;

		/* A torn record: dead; the log goes on where the scan found it. */
		rc = after_torn(j, j->tail, &h, &next);
		if (rc)
			return rc;
		e = h.type == REC_PACK ? journal_find(j, h.seq) : NULL;
		if (e && e->pos == j->tail && entry_live(e)) {
			e->status = JOURNAL_ROLLED_BACK;	/* rotted since the scan */
			strcpy(e->reason, "corrupt");
		}
		if (e && e->pos == j->tail)
			entry_remove(j, e);
		j->tail = next < j->head ? next : j->head;
		return 0;
	}
	e = h.type == REC_PACK ? journal_find(j, h.seq) : NULL;
	if (e && e->pos == j->tail && entry_live(e)) {
		struct rec_hdr c = h;

		c.flags = e->status == JOURNAL_COMMITTED ? REC_F_COMMITTED : 0;
		rc = append(j, &c, NULL, j->tail);
		if (rc == -KE_BADMSG) {
			e->status = JOURNAL_ROLLED_BACK;
			strcpy(e->reason, "corrupt");
		} else if (rc) {
			return rc;
		} else {
			e->pos = c.pos;
			j->stats.moved_bytes += rec_size(h.len);
		}
	}
	if (e && e->pos == j->tail && !entry_live(e))
		entry_remove(j, e);
	j->tail += rec_size(h.len);
	return 0;
}

static unsigned int dead_entries(const struct journal *j)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < j->nent; i++)
		n += !entry_live(&j->ent[i]);
	return n;
}

int journal_compact(struct journal *j, uint64_t want)
{
	uint64_t stop = j->head;	/* one pass over what is there now */
	int rc;

	if (j->failed)
		return -KE_IO;
	j->stats.compactions++;
	while ((free_bytes(j) < want || j->nent == j->maxent) && j->tail < stop) {
		rc = compact_one(j);
		if (rc)
			return rc;
		/* Release each block the tail has passed before the head needs it. */
		if (blk_down(j, j->tail) != blk_down(j, j->tail_saved) &&
		    (rc = super_write(j, j->tail)))
			return rc;
	}
	if (j->tail != j->tail_saved && (rc = super_write(j, j->tail)))
		return rc;
	return free_bytes(j) >= want ? 0 : -KE_NOSPC;
}

/*
 * Would a record of @rec bytes (a pack still pending if @pending) fit,
 * with the reserve that lets compaction move the biggest live record and
 * room for one more outcome record?
 */
static bool capacity_ok(const struct journal *j, uint64_t rec, bool pending, uint64_t *reserve)
{
	uint64_t biggest, live = live_bytes(j, &biggest);

	if (rec > biggest)
		biggest = rec;
	*reserve = biggest + 2 * (uint64_t)j->esz;
	return live + rec + (pending ? OUTCOME_SIZE : 0) + *reserve + OUTCOME_SIZE <= j->log_size;
}

/* Room for a record of @rec bytes at the head, compacting if needed. */
static int make_room(struct journal *j, uint64_t rec, bool pending, bool new_entry)
{
	uint64_t reserve, want;
	int rc;

	if (!capacity_ok(j, rec, pending, &reserve))
		return -KE_NOSPC;
	if (new_entry && j->nent == j->maxent && !dead_entries(j))
		return -KE_NOSPC;
	want = rec + reserve;
	if (free_bytes(j) >= want && (!new_entry || j->nent < j->maxent))
		return 0;
	rc = journal_compact(j, want);
	if (rc)
		return rc;
	return new_entry && j->nent == j->maxent ? -KE_NOSPC : 0;
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
	rc = make_room(j, rec_size(len), true, true);
	if (rc)
		return rc;
	memset(&h, 0, sizeof(h));
	h.type = REC_PACK;
	h.seq = seq;
	h.len = (uint32_t)len;
	h.payload_crc = journal_crc32(0, pack, len);
	rc = append(j, &h, pack, 0);
	if (rc)
		return rc;
	e = entry_add(j, seq);	/* room was made above */
	e->pos = h.pos;
	e->size = (uint32_t)len;
	e->status = JOURNAL_PENDING;
	j->floor = seq;
	return super_write(j, j->tail);
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
	rc = make_room(j, rec_size(rlen), false, false);
	if (rc)
		return rc;
	memset(&h, 0, sizeof(h));
	h.type = type;
	h.seq = seq;
	h.len = (uint32_t)rlen;
	h.payload_crc = journal_crc32(0, reason, rlen);
	rc = append(j, &h, rlen ? reason : "", 0);
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
	int rc = ring_read(j, e->pos, &h, HDR_SIZE);

	if (rc)
		return rc;
	if (!hdr_valid(j, &h, e->pos) || h.type != REC_PACK || h.seq != e->seq || h.len != e->size)
		return -KE_BADMSG;
	rc = ring_read(j, e->pos + HDR_SIZE, buf, h.len);
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
	rc = super_write(j, j->head);
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
	if (super_write(j, j->tail)) {
		j->state = old;
		return -KE_IO;
	}
	return 0;
}

void journal_usage(const struct journal *j, uint64_t *used, uint64_t *free)
{
	uint64_t biggest, live = live_bytes(j, &biggest);
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

		if (capacity_ok(j, rec_size(mid), true, &reserve))
			lo = mid;
		else
			hi = mid - 1;
	}
	return lo;
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
	rc = dev_read(j, off, j->buf, j->esz);
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
	rc = dev_program(j, off + n, "", 1);
	return rc ? rc : dev_flush(j);
}

int journal_boot_mark(struct journal *j, uint32_t seq)
{
	uint64_t off = (uint64_t)BLK_BOOT * j->esz;
	struct boot_mark m = { seq, ~seq };
	unsigned int slots = (j->esz - BOOT_ATTEMPTS) / sizeof(m);
	int rc = dev_read(j, off, j->buf, j->esz);

	if (rc)
		return rc;
	for (unsigned int i = 0; i < slots; i++) {
		uint64_t at = BOOT_ATTEMPTS + (uint64_t)i * sizeof(m);

		if (all_ff(j->buf + at, sizeof(m))) {
			rc = dev_program(j, off + at, &m, sizeof(m));
			return rc ? rc : dev_flush(j);
		}
	}
	return 0;	/* full: the earlier marks still name the culprits */
}

int journal_boot_good(struct journal *j)
{
	int rc = dev_erase(j, (uint64_t)BLK_BOOT * j->esz, j->esz);

	return rc ? rc : dev_flush(j);
}
