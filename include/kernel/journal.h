/*
 * The update journal: what makes a live update outlive a reboot or a power
 * cut. Pure logic over four storage operations (read, program, erase,
 * flush with NOR rules: erase sets a block to 0xff, program only clears
 * bits), so the host tests run it on a flash model that cuts power at any
 * write. The kernel glue (update/persist.c) feeds it the storage object.
 *
 * Region layout, in erase blocks:
 *   0, 1   superblock copies A and B, written alternately: the anti-replay
 *          floor, where the log starts (tail), the LwM2M state and result.
 *          The newest valid copy wins; the floor is the highest of both.
 *   2      boot counter: one byte programmed per boot attempt, erased once
 *          a boot went well; breadcrumbs name the pack being replayed.
 *   3..    the log, a ring: records at increasing positions (a 64-bit
 *          count of bytes ever appended; the block is position modulo the
 *          ring size). A block is erased when the head first enters it.
 *
 * Records (16-byte aligned): a header (type, sequence number, payload
 * length, its own position, payload CRC, header CRC), then the payload.
 * PACK holds a whole signed pack (the intent), COMMIT and ROLLBACK name a
 * pack by its sequence number. A record counts only if its header CRC, its
 * position and its payload CRC are right: a torn or rotten record is
 * ignored, never trusted. Replay order is the sequence number.
 *
 * Compaction moves the live packs (pending or committed) from the tail to
 * the head, then advances the tail in the superblock; a block is erased
 * only after the superblock no longer covers it, so a cut at any moment
 * leaves either copy readable. Duplicates from a cut are harmless: the
 * latest valid copy of a sequence number wins.
 *
 * Locking: none here; the caller serialises every call on one journal.
 */
#ifndef KERNEL_JOURNAL_H
#define KERNEL_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JOURNAL_REASON_LEN	32
#define JOURNAL_MIN_BLOCK	512
#define JOURNAL_MAX_BLOCK	(64 * 1024)
#define JOURNAL_MIN_LOG_BLOCKS	8
/* Boot attempts that did not end well before the board enters safe mode. */
#define JOURNAL_BOOT_TRIES	3

/* Storage access; offsets are from the start of the region. */
struct journal_dev {
	void *ctx;
	uint64_t size;		/* region bytes */
	uint32_t erase_size;	/* power of two, JOURNAL_MIN_BLOCK..JOURNAL_MAX_BLOCK */
	int (*read)(void *ctx, uint64_t off, void *buf, size_t len);
	int (*program)(void *ctx, uint64_t off, const void *buf, size_t len);
	int (*erase)(void *ctx, uint64_t off, size_t len);
	int (*flush)(void *ctx);
};

enum journal_status {
	JOURNAL_PENDING,	/* stored, outcome not recorded (in flight or interrupted) */
	JOURNAL_COMMITTED,	/* passed probation: replayed at every boot */
	JOURNAL_ROLLED_BACK,	/* never replayed again */
};

struct journal_entry {
	uint32_t seq;
	uint32_t size;		/* pack bytes */
	uint64_t pos;		/* position of its latest valid record */
	uint8_t status;		/* enum journal_status */
	char reason[JOURNAL_REASON_LEN];	/* why it was rolled back */
};

/* What the journal persists besides the log (the LwM2M firmware object). */
struct journal_state {
	uint8_t lwm2m_state;
	uint8_t lwm2m_result;
	char reason[JOURNAL_REASON_LEN];
};

struct journal_stats {
	uint64_t reads, programs, erases, flushes;
	uint64_t program_bytes, erase_bytes;
	uint64_t super_writes, compactions, moved_bytes;
};

/* How journal_open() found the region. */
struct journal_open_info {
	bool formatted;		/* a new, empty journal was written */
	const char *why;	/* when formatted: "blank", "no valid superblock", ... */
	unsigned int supers_valid;	/* 0..2 */
	unsigned int torn;	/* records ignored: torn or corrupt */
	unsigned int orphans;	/* outcome records of packs no longer in the log */
};

struct journal {
	const struct journal_dev *dev;
	uint32_t esz;			/* erase block */
	uint64_t log_off, log_size;	/* the ring, region offsets */
	uint64_t tail;			/* first record position (in memory) */
	uint64_t tail_saved;		/* the tail the newest superblock records */
	uint64_t head;			/* next record position */
	uint64_t erased_to;		/* [head, erased_to) is known erased */
	uint32_t floor;			/* highest sequence number ever accepted */
	uint64_t super_count;
	struct journal_state state;
	struct journal_entry *ent;	/* sorted by seq */
	unsigned int nent, maxent;
	uint8_t *buf;			/* scratch, one erase block */
	struct journal_stats stats;
	bool failed;			/* a write failed: refuse further writes */
};

/*
 * Opens the journal on @dev: reads both superblocks, scans the log from
 * the tail, rebuilds the entry list in @ent (room for @maxent) and the
 * floor. A region with no valid superblock is formatted (the floor of a
 * readable superblock is kept even then); @info says what was found.
 * @scratch must hold one erase block. 0 or a negative code (-KE_INVAL:
 * unusable geometry, -KE_IO: the device failed).
 */
int journal_open(struct journal *j, const struct journal_dev *dev, void *scratch,
		 struct journal_entry *ent, unsigned int maxent, struct journal_open_info *info);

/*
 * The intent: stores pack @seq (@len bytes) as PENDING and flushes, then
 * raises the floor to @seq in the superblock and flushes. -KE_ALREADY if
 * @seq is not above the floor, -KE_NOSPC if it cannot fit even after
 * compaction (nothing changed then).
 */
int journal_store(struct journal *j, uint32_t seq, const void *pack, size_t len);

/* Outcome records (flushed): the pack passed probation, or was rolled back. */
int journal_commit(struct journal *j, uint32_t seq);
int journal_rollback(struct journal *j, uint32_t seq, const char *reason);

/* Reads pack @e into @buf (e->size bytes) and checks its CRC. -KE_BADMSG if corrupt. */
int journal_read_pack(struct journal *j, const struct journal_entry *e, void *buf);

/* Forgets every update (never the floor). -KE_BUSY while one is pending. */
int journal_forget_all(struct journal *j);

/* Persists the LwM2M state and result (superblock write). */
int journal_set_state(struct journal *j, const struct journal_state *st);

/* Frees room: moves live records off the tail until @want bytes are free. */
int journal_compact(struct journal *j, uint64_t want);

/* Bytes the live records take, and bytes a new record could still use. */
void journal_usage(const struct journal *j, uint64_t *used, uint64_t *free);

/* Largest pack journal_store() could take now (after compaction). */
uint64_t journal_max_pack(const struct journal *j);

struct journal_entry *journal_find(struct journal *j, uint32_t seq);

const char *journal_status_name(int status);

/*
 * Boot counter. journal_boot_begin() counts the attempts since the last
 * good boot (before this one) into *@failed, records this one, and gives
 * the last pack a failed attempt was replaying (0 if none). Replay names
 * each pack before touching it (journal_boot_mark); journal_boot_good()
 * clears the counter.
 */
int journal_boot_begin(struct journal *j, unsigned int *failed, uint32_t *last_mark);
int journal_boot_mark(struct journal *j, uint32_t seq);
int journal_boot_good(struct journal *j);

/* CRC-32 (IEEE 802.3, reflected), continued from @crc (0 to start). */
uint32_t journal_crc32(uint32_t crc, const void *data, size_t len);

#endif
