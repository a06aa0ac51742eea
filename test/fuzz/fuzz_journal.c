// fuzz-srcs: update/journal.c update/journal_open.c update/journal_gc.c
/*
 * libFuzzer target: the update journal's reader (update/journal_open.c)
 * and what the kernel does next with whatever it found (update/journal.c,
 * journal_gc.c): storage contents are not trusted.
 *
 * Input: [sel][region bytes...]. The region is REGION bytes of NOR flash
 * (4 KiB erase blocks, programs only clear bits); the input overwrites its
 * start, the rest stays erased (0xff) or, with sel bit 0, zero. Most inputs
 * are garbage, so with sel bit 1 the harness first writes a real journal
 * (a few packs, commits, a rollback) and the input is then XORed over it:
 * bit flips and torn fields in valid records, which is what reaches the
 * deep paths.
 *
 * Then, as at boot and after: open; every entry's pack read back (a
 * committed one must read either intact or as -KE_BADMSG); boot counter;
 * a store above the floor, its commit, and a compaction; open again.
 * Checked beyond ASan/UBSan:
 *   - open never fails on contents (only -KE_IO from the device);
 *   - the floor never goes down across the operations and the reopen;
 *   - entries stay sorted by seq, with sizes inside the ring;
 *   - programs never need to set a bit (the journal erased first);
 *   - a store that succeeded is found committed after the reopen.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <kernel/journal.h>
#include <kernel/errno.h>

#define REGION	(48 * 1024)
#define ESZ	4096
#define MAXENT	64

#define CHECK(cond)								\
	do {									\
		if (!(cond)) {							\
			fprintf(stderr, "fuzz_journal: check failed: %s (line %d)\n",	\
				#cond, __LINE__);				\
			abort();						\
		}								\
	} while (0)

static uint8_t flash[REGION];

static int f_read(void *c, uint64_t off, void *buf, size_t len)
{
	if (off > REGION || len > REGION - off)
		return -1;
	memcpy(buf, flash + off, len);
	return 0;
}

static int f_program(void *c, uint64_t off, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	if (off > REGION || len > REGION - off)
		return -1;
	for (size_t i = 0; i < len; i++) {
		CHECK((flash[off + i] & p[i]) == p[i]);	/* erased before it was written */
		flash[off + i] &= p[i];
	}
	return 0;
}

static int f_erase(void *c, uint64_t off, size_t len)
{
	if (off % ESZ || len % ESZ || off > REGION || len > REGION - off)
		return -1;
	memset(flash + off, 0xff, len);
	return 0;
}

static int f_flush(void *c)
{
	return 0;
}

static const struct journal_dev dev = {
	.size = REGION, .erase_size = ESZ,
	.read = f_read, .program = f_program, .erase = f_erase, .flush = f_flush,
};

static struct journal_entry ent[MAXENT];
static uint8_t scratch[ESZ];
static uint8_t pack[8192];

static void fill(uint32_t seq, size_t len)
{
	for (size_t i = 0; i < len; i++)
		pack[i] = (uint8_t)(seq * 31 + i);
}

/* A real journal to mutate: three committed packs, one rolled back, one pending. */
static void write_base(void)
{
	static uint8_t base[REGION];
	static int made;
	struct journal_open_info info;
	struct journal j;

	if (made) {
		memcpy(flash, base, sizeof(flash));
		return;
	}
	memset(flash, 0xff, sizeof(flash));
	CHECK(!journal_open(&j, &dev, scratch, ent, MAXENT, &info));
	for (uint32_t s = 1; s <= 5; s++) {
		fill(s, 400 + s * 300);
		CHECK(!journal_store(&j, s, pack, 400 + s * 300));
		if (s == 4)
			CHECK(!journal_rollback(&j, s, "fault"));
		else if (s != 5)
			CHECK(!journal_commit(&j, s));
	}
	memcpy(base, flash, sizeof(base));
	made = 1;
}

static void check_entries(const struct journal *j)
{
	for (unsigned int i = 0; i < j->nent; i++) {
		CHECK(j->ent[i].size <= j->log_size);
		CHECK(j->ent[i].status <= JOURNAL_ROLLED_BACK);
		if (i)
			CHECK(j->ent[i - 1].seq < j->ent[i].seq);
		CHECK(j->ent[i].seq <= j->floor);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct journal_open_info info;
	struct journal j;
	unsigned int failed;
	uint32_t mark, floor, next;
	int stored;

	if (size < 1)
		return 0;
	if (data[0] & 2) {
		write_base();
		for (size_t i = 1; i < size && i - 1 < REGION; i++)
			flash[i - 1] ^= data[i];
	} else {
		memset(flash, (data[0] & 1) ? 0 : 0xff, sizeof(flash));
		memcpy(flash, data + 1, size - 1 < REGION ? size - 1 : REGION);
	}
	CHECK(!journal_open(&j, &dev, scratch, ent, MAXENT, &info));
	check_entries(&j);
	floor = j.floor;
	for (unsigned int i = 0; i < j.nent; i++) {
		static uint8_t buf[REGION];
		int rc;

		if (j.ent[i].size > sizeof(buf))
			continue;
		rc = journal_read_pack(&j, &j.ent[i], buf);
		CHECK(rc == 0 || rc == -KE_BADMSG);
	}
	CHECK(!journal_boot_begin(&j, &failed, &mark));
	/* What the kernel does with it: mark interrupted packs, store, commit, compact. */
	for (unsigned int i = 0; i < j.nent; i++)
		if (j.ent[i].status == JOURNAL_PENDING)
			CHECK(!journal_rollback(&j, j.ent[i].seq, "interrupted") || j.failed);
	next = j.floor + 1;
	fill(next, 1000);
	stored = next > j.floor && !journal_store(&j, next, pack, 1000);
	if (stored)
		CHECK(!journal_commit(&j, next));
	journal_compact(&j, j.log_size / 2);
	CHECK(j.floor >= floor);
	check_entries(&j);
	CHECK(!journal_open(&j, &dev, scratch, ent, MAXENT, &info));
	check_entries(&j);
	CHECK(j.floor >= floor);
	if (stored) {
		struct journal_entry *e = journal_find(&j, next);

		CHECK(e && e->status == JOURNAL_COMMITTED);
	}
	return 0;
}
