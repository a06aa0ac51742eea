/*
 * What the journal's files share (update/journal.c: device, ring, records,
 * superblock, updates; journal_open.c: scan, format, boot counter;
 * journal_gc.c: compaction and room). The on-storage layout is here.
 * Not a public header: only update/journal*.c include it.
 */
#ifndef UPDATE_JOURNAL_PRIV_H
#define UPDATE_JOURNAL_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <kernel/journal.h>

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
#define OUTCOME_SIZE	jr_rec_size(JOURNAL_REASON_LEN)

/* --- positions on the ring ------------------------------------------------ */

static inline uint64_t jr_rec_size(uint64_t len)
{
	return (HDR_SIZE + len + REC_ALIGN - 1) & ~(uint64_t)(REC_ALIGN - 1);
}

static inline uint64_t jr_blk_down(const struct journal *j, uint64_t pos)
{
	return pos & ~(uint64_t)(j->esz - 1);
}

/* The next block boundary strictly after @pos. */
static inline uint64_t jr_blk_next(const struct journal *j, uint64_t pos)
{
	return jr_blk_down(j, pos) + j->esz;
}

static inline uint64_t jr_limit(const struct journal *j)
{
	return jr_blk_down(j, j->tail_saved) + j->log_size;
}

static inline uint64_t jr_free_bytes(const struct journal *j)
{
	return jr_limit(j) - j->head;
}

/* --- shared internals ------------------------------------------------------- */

int jr_dev_read(struct journal *j, uint64_t off, void *buf, size_t len);
int jr_dev_program(struct journal *j, uint64_t off, const void *buf, size_t len);
int jr_dev_erase(struct journal *j, uint64_t off, size_t len);
int jr_dev_flush(struct journal *j);
bool jr_all_ff(const void *buf, size_t len);
int jr_ring_read(struct journal *j, uint64_t pos, void *buf, uint64_t len);
int jr_ring_program(struct journal *j, uint64_t pos, const void *buf, uint64_t len);
bool jr_hdr_valid(const struct journal *j, const struct rec_hdr *h, uint64_t pos);
int jr_ring_crc(struct journal *j, uint64_t pos, uint64_t len, uint64_t to, uint32_t *crc);
int jr_append(struct journal *j, struct rec_hdr *h, const void *payload, uint64_t src);
struct journal_entry *jr_entry_add(struct journal *j, uint32_t seq);
void jr_entry_remove(struct journal *j, struct journal_entry *e);
bool jr_entry_live(const struct journal_entry *e);
uint64_t jr_live_bytes(const struct journal *j, uint64_t *biggest);
int jr_super_write(struct journal *j, uint64_t tail);
int jr_read_record(struct journal *j, uint64_t pos, struct rec_hdr *h, char *reason);
int jr_after_torn(struct journal *j, uint64_t pos, const struct rec_hdr *h, uint64_t *next);
int jr_make_room(struct journal *j, uint64_t rec, bool pending, bool new_entry);
unsigned int jr_dead_entries(const struct journal *j);
int jr_super_check(const struct journal *j, const struct super *s);
bool jr_capacity_ok(const struct journal *j, uint64_t rec, bool pending, uint64_t *reserve);

#endif
