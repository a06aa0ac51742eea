// unit-srcs: update/journal.c update/journal_open.c update/journal_gc.c test/unit/journal_sim.c
/*
 * Host tests of the update journal (update/journal.c) on the storage
 * models of journal_sim.c (NOR flash and a disk with a write cache).
 *
 * The power-cut tests follow MCUboot's simulator: a scenario (store a pack
 * and commit it, roll one back, compact, forget everything, ...) is first
 * run without a cut to count its operations, then once per operation N,
 * cutting the power at N; after each cut the board "boots": the journal is
 * opened again, interrupted packs are marked, committed ones are read back
 * and "replayed" (a class version per pack). Each boot must show the old or
 * the new set of committed packs and nothing else, intact bytes, a floor
 * never lower than before, every old sequence number refused, and a
 * journal that still takes the next pack.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <kernel/journal.h>
#include <kernel/errno.h>
#include "journal_sim.h"

#define MAXENT	2048
#define ESZ	4096

struct board {
	struct sim sim;
	struct journal j;
	struct journal_entry ent[MAXENT];
	uint8_t scratch[JOURNAL_MAX_BLOCK];
	struct journal_open_info info;
};

/* Pack @seq of @len bytes: contents derived from both, so a mix-up shows. */
static void make_pack(uint32_t seq, size_t len, uint8_t *out)
{
	uint32_t x = seq * 2654435761u + (uint32_t)len;

	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		out[i] = (uint8_t)x;
	}
}

static size_t pack_len(uint32_t seq)
{
	return 300 + (seq * 7919u) % 9000;
}

static int jopen(struct board *b)
{
	return journal_open(&b->j, &b->sim.dev, b->scratch, b->ent, MAXENT, &b->info);
}

static struct board *board_new(enum sim_kind kind, size_t size, unsigned int seed)
{
	struct board *b = calloc(1, sizeof(*b));

	sim_init(&b->sim, kind, size, ESZ, seed);
	assert_int_equal(jopen(b), 0);
	assert_true(b->info.formatted);
	return b;
}

static void board_free(struct board *b)
{
	sim_free(&b->sim);
	free(b);
}

static int store(struct board *b, uint32_t seq)
{
	size_t len = pack_len(seq);
	uint8_t *p = malloc(len);
	int rc;

	make_pack(seq, len, p);
	rc = journal_store(&b->j, seq, p, len);
	free(p);
	return rc;
}

/* A committed update, as the kernel does it: store, (apply), commit. */
static void update_ok(struct board *b, uint32_t seq)
{
	assert_int_equal(store(b, seq), 0);
	assert_int_equal(journal_commit(&b->j, seq), 0);
}

/*
 * The boot: open, mark interrupted packs, read back every committed pack.
 * Returns the committed sequence numbers in *set (bit per seq, seq < 64)
 * and checks each pack's bytes.
 */
static uint64_t boot(struct board *b)
{
	uint64_t set = 0;

	sim_power_on(&b->sim);
	assert_int_equal(jopen(b), 0);
	for (unsigned int i = 0; i < b->j.nent; i++) {
		struct journal_entry *e = &b->j.ent[i];

		if (e->status == JOURNAL_PENDING) {
			assert_int_equal(journal_rollback(&b->j, e->seq, "interrupted"), 0);
			e = journal_find(&b->j, b->j.ent[i].seq);
		}
		if (e->status == JOURNAL_COMMITTED) {
			uint8_t *got = malloc(e->size), *want = malloc(e->size);

			assert_int_equal(e->size, pack_len(e->seq));
			assert_int_equal(journal_read_pack(&b->j, e, got), 0);
			make_pack(e->seq, e->size, want);
			assert_memory_equal(got, want, e->size);
			free(got);
			free(want);
			if (e->seq < 64)
				set |= 1ULL << e->seq;
		}
	}
	return set;
}

/* --- basics ------------------------------------------------------------ */

static void test_crc32_vector(void **state)
{
	assert_int_equal(journal_crc32(0, "123456789", 9), 0xcbf43926u);
	/* Continuing a CRC over two pieces equals one pass. */
	assert_int_equal(journal_crc32(journal_crc32(0, "1234", 4), "56789", 5), 0xcbf43926u);
}

static void test_store_commit_rollback_reopen(void **state)
{
	struct board *b = board_new(SIM_NOR, 256 * 1024, 1);

	assert_string_equal(b->info.why, "blank");
	update_ok(b, 1);
	update_ok(b, 2);
	assert_int_equal(store(b, 3), 0);
	assert_int_equal(journal_rollback(&b->j, 3, "fault cause=13"), 0);
	assert_int_equal(store(b, 5), 0);	/* pending at the cut */
	assert_int_equal(boot(b), (1 << 1) | (1 << 2));
	assert_false(b->info.formatted);
	assert_int_equal(b->j.floor, 5);
	assert_int_equal(b->j.nent, 4);
	assert_int_equal(journal_find(&b->j, 3)->status, JOURNAL_ROLLED_BACK);
	assert_string_equal(journal_find(&b->j, 3)->reason, "fault cause=13");
	assert_string_equal(journal_find(&b->j, 5)->reason, "interrupted");
	assert_int_equal(b->sim.violations, 0);
	board_free(b);
}

static void test_replay_refused(void **state)
{
	struct board *b = board_new(SIM_DISK, 256 * 1024, 2);

	update_ok(b, 4);
	assert_int_equal(store(b, 4), -KE_ALREADY);
	assert_int_equal(store(b, 3), -KE_ALREADY);
	boot(b);
	assert_int_equal(store(b, 4), -KE_ALREADY);
	assert_int_equal(store(b, 1), -KE_ALREADY);
	update_ok(b, 9);
	assert_int_equal(boot(b), (1 << 4) | (1 << 9));
	board_free(b);
}

static void test_state_persists(void **state)
{
	struct board *b = board_new(SIM_NOR, 128 * 1024, 3);
	struct journal_state st = { 0 };

	st.lwm2m_state = 0;
	st.lwm2m_result = 5;
	strcpy(st.reason, "integrity");
	assert_int_equal(journal_set_state(&b->j, &st), 0);
	boot(b);
	assert_int_equal(b->j.state.lwm2m_result, 5);
	assert_string_equal(b->j.state.reason, "integrity");
	board_free(b);
}

/* --- bad storage ----------------------------------------------------------- */

static void test_random_region_formatted(void **state)
{
	struct board *b = calloc(1, sizeof(*b));

	sim_init(&b->sim, SIM_DISK, 128 * 1024, ESZ, 4);
	for (size_t i = 0; i < b->sim.size; i++)
		b->sim.mem[i] = b->sim.durable[i] = (uint8_t)sim_rand(&b->sim);
	assert_int_equal(jopen(b), 0);
	assert_true(b->info.formatted);
	assert_string_equal(b->info.why, "no valid superblock");
	assert_int_equal(b->j.nent, 0);
	update_ok(b, 1);
	assert_int_equal(boot(b), 1 << 1);
	board_free(b);
}

static void test_one_super_corrupt(void **state)
{
	struct board *b = board_new(SIM_NOR, 128 * 1024, 5);

	update_ok(b, 1);
	update_ok(b, 2);
	/* Both copies exist now; rot the newest one. */
	for (int blk = 0; blk < 2; blk++) {
		struct board *c = calloc(1, sizeof(*c));

		sim_init(&c->sim, SIM_NOR, b->sim.size, ESZ, 6);
		memcpy(c->sim.mem, b->sim.mem, b->sim.size);
		c->sim.mem[blk * ESZ + 20] ^= 0x10;
		assert_int_equal(boot(c), (1 << 1) | (1 << 2));
		assert_int_equal(c->info.supers_valid, 1);
		assert_int_equal(c->j.floor, 2);
		board_free(c);
	}
	board_free(b);
}

static void test_truncated_region_keeps_floor(void **state)
{
	struct board *b = board_new(SIM_DISK, 256 * 1024, 7);
	struct board *c = calloc(1, sizeof(*c));

	update_ok(b, 6);
	sim_power_on(&b->sim);
	sim_init(&c->sim, SIM_DISK, 128 * 1024, ESZ, 8);
	memcpy(c->sim.mem, b->sim.durable, c->sim.size);
	memcpy(c->sim.durable, b->sim.durable, c->sim.size);
	assert_int_equal(jopen(c), 0);
	assert_true(c->info.formatted);
	assert_string_equal(c->info.why, "geometry changed");
	assert_int_equal(c->j.floor, 6);	/* the updates are gone, the floor is not */
	assert_int_equal(store(c, 6), -KE_ALREADY);
	board_free(b);
	board_free(c);
}

static void test_rotten_pack_refused(void **state)
{
	struct board *b = board_new(SIM_NOR, 128 * 1024, 9);
	struct journal_entry *e;
	uint8_t *buf;

	update_ok(b, 1);
	update_ok(b, 2);
	e = journal_find(&b->j, 1);
	/* A bit flips in the middle of pack 1's payload. */
	b->sim.mem[3 * ESZ + (e->pos % (b->j.log_size)) + 32 + 100] &= 0x7f;
	sim_power_on(&b->sim);
	assert_int_equal(jopen(b), 0);
	assert_null(journal_find(&b->j, 1));	/* ignored, never trusted */
	assert_non_null(journal_find(&b->j, 2));
	assert_int_equal(b->j.floor, 2);
	e = journal_find(&b->j, 2);
	buf = malloc(e->size);
	assert_int_equal(journal_read_pack(&b->j, e, buf), 0);
	free(buf);
	assert_true(b->info.torn >= 1);
	board_free(b);
}

static void test_too_big_refused_nothing_changes(void **state)
{
	struct board *b = board_new(SIM_NOR, 64 * 1024, 10);
	uint8_t *before, *big = calloc(1, 40 * 1024);
	long ops;

	update_ok(b, 1);
	before = sim_snapshot(&b->sim);
	ops = b->sim.ops;
	assert_true(journal_max_pack(&b->j) < 40 * 1024);
	assert_int_equal(journal_store(&b->j, 2, big, 40 * 1024), -KE_NOSPC);
	assert_int_equal(b->sim.ops, ops);	/* not a single write */
	assert_memory_equal(before, b->sim.mem, b->sim.size);
	/* What max_pack promises does fit. */
	assert_int_equal(journal_store(&b->j, 2, big, journal_max_pack(&b->j)), 0);
	free(before);
	free(big);
	board_free(b);
}

/* --- compaction and bounds -------------------------------------------------- */

/* The demo packs are 5 to 18 KiB: sizes in that range. */
static size_t real_len(uint32_t seq)
{
	return 5 * 1024 + (seq * 7919u) % (13 * 1024);
}

static void store_len(struct board *b, uint32_t seq, size_t len)
{
	uint8_t *p = malloc(len);

	make_pack(seq, len, p);
	assert_int_equal(journal_store(&b->j, seq, p, len), 0);
	free(p);
}

static void test_thousand_updates_fit_the_flash_region(void **state)
{
	/*
	 * A board that took 1000 updates, all committed, on the default
	 * region of the HiFive flash (16 MiB - 64 KiB): every one is still
	 * there after a reboot, and a 1 MiB pack still fits.
	 */
	struct board *b = board_new(SIM_NOR, 16 * 1024 * 1024 - 64 * 1024, 11);
	uint64_t used, free;

	for (uint32_t seq = 1; seq <= 1000; seq++) {
		store_len(b, seq, real_len(seq));
		assert_int_equal(journal_commit(&b->j, seq), 0);
	}
	sim_power_on(&b->sim);
	assert_int_equal(jopen(b), 0);
	assert_int_equal(b->j.nent, 1000);
	for (unsigned int i = 0; i < b->j.nent; i++)
		assert_int_equal(b->j.ent[i].status, JOURNAL_COMMITTED);
	journal_usage(&b->j, &used, &free);
	assert_true(journal_max_pack(&b->j) > 1024 * 1024);
	if (getenv("JOURNAL_TEST_VERBOSE"))
		fprintf(stderr, "1000 updates: used=%lu free=%lu max_pack=%lu erases=%lu\n",
			(unsigned long)used, (unsigned long)free,
			(unsigned long)journal_max_pack(&b->j), (unsigned long)b->j.stats.erases);
	assert_int_equal(b->sim.violations, 0);
	board_free(b);
}

static void test_thousand_updates_with_rollbacks_compact(void **state)
{
	/*
	 * 1000 updates, three in four rolled back, on a 4 MiB region: the
	 * dead ones add up to twice the region, so the board keeps taking
	 * packs only because compaction drops them; the live ones survive
	 * every compaction, and reboots in between.
	 */
	struct board *b = board_new(SIM_DISK, 4 * 1024 * 1024, 12);
	uint64_t compactions = 0, moved = 0;
	unsigned int live = 0;

	for (uint32_t seq = 1; seq <= 1000; seq++) {
		store_len(b, seq, real_len(seq));
		if (seq % 4) {
			assert_int_equal(journal_rollback(&b->j, seq, "fault"), 0);
		} else {
			assert_int_equal(journal_commit(&b->j, seq), 0);
			live++;
		}
		if (seq % 250 == 0) {
			compactions += b->j.stats.compactions;
			moved += b->j.stats.moved_bytes;
			sim_power_on(&b->sim);
			assert_int_equal(jopen(b), 0);
			assert_int_equal(b->j.floor, seq);
		}
	}
	assert_true(compactions > 0 && moved > 0);
	sim_power_on(&b->sim);
	assert_int_equal(jopen(b), 0);
	for (unsigned int i = 0, n = 0; i < b->j.nent; i++) {
		struct journal_entry *e = &b->j.ent[i];

		if (e->status == JOURNAL_COMMITTED) {
			uint8_t *got = malloc(e->size), *want = malloc(e->size);

			assert_int_equal(journal_read_pack(&b->j, e, got), 0);
			make_pack(e->seq, e->size, want);
			assert_memory_equal(got, want, e->size);
			free(got);
			free(want);
			n++;
		}
		if (i == b->j.nent - 1)
			assert_int_equal(n, live);
	}
	board_free(b);
}

static void test_entry_table_full(void **state)
{
	struct board *b = calloc(1, sizeof(*b));

	sim_init(&b->sim, SIM_DISK, 1024 * 1024, ESZ, 12);
	assert_int_equal(journal_open(&b->j, &b->sim.dev, b->scratch, b->ent, 4, &b->info), 0);
	for (uint32_t s = 1; s <= 4; s++)
		update_ok(b, s);
	assert_int_equal(store(b, 5), -KE_NOSPC);
	assert_int_equal(b->j.nent, 4);
	board_free(b);
}

/* --- power cuts -------------------------------------------------------------- */

struct scenario {
	const char *name;
	void (*setup)(struct board *b);		/* the state before */
	void (*action)(struct board *b);	/* what is cut */
};

static void setup_two(struct board *b)
{
	update_ok(b, 1);
	update_ok(b, 2);
}

static void act_update(struct board *b)
{
	if (!store(b, 3))
		journal_commit(&b->j, 3);
}

static void act_rollback(struct board *b)
{
	if (!store(b, 3))
		journal_rollback(&b->j, 3, "fault");
}

static void act_forget(struct board *b)
{
	journal_forget_all(&b->j);
}

static void act_state(struct board *b)
{
	struct journal_state st = { 1, 8, "rolled-back" };

	journal_set_state(&b->j, &st);
}

/*
 * Fills a small region until the next store needs compaction: committed
 * packs first (so they sit at the tail and compaction must copy them),
 * then a mix of committed and rolled-back ones.
 */
static void setup_full(struct board *b)
{
	uint32_t seq = 1;

	for (; seq <= 4; seq++)
		update_ok(b, seq);
	while (journal_max_pack(&b->j) > 20000 && seq < 40) {
		assert_int_equal(store(b, seq), 0);
		if (seq % 3 == 0)
			assert_int_equal(journal_commit(&b->j, seq), 0);
		else
			assert_int_equal(journal_rollback(&b->j, seq, "fault"), 0);
		seq++;
	}
	/* Force the layout: the next store of seq 40 must compact. */
	while (seq < 40) {
		assert_int_equal(store(b, seq), 0);
		assert_int_equal(journal_rollback(&b->j, seq, "fault"), 0);
		seq++;
	}
}

static void act_update_40(struct board *b)
{
	if (!store(b, 40))
		journal_commit(&b->j, 40);
}

static uint64_t committed_set(struct board *b)
{
	uint64_t set = 0;

	for (unsigned int i = 0; i < b->j.nent; i++)
		if (b->j.ent[i].status == JOURNAL_COMMITTED && b->j.ent[i].seq < 64)
			set |= 1ULL << b->j.ent[i].seq;
	return set;
}

/*
 * Runs @sc once without a cut, then once per operation with a cut there;
 * after each cut boots twice (the second boot must agree with the first)
 * and checks the board still takes the next pack.
 */
static void run_cuts(const struct scenario *sc, enum sim_kind kind, size_t size, unsigned int seed)
{
	struct board *b = board_new(kind, size, seed);
	uint8_t *snap;
	uint64_t before, after;
	uint32_t floor_before;
	long total, ops0;

	sc->setup(b);
	before = boot(b);
	floor_before = b->j.floor;
	snap = sim_snapshot(&b->sim);
	ops0 = b->sim.ops;
	sc->action(b);
	total = b->sim.ops - ops0;
	after = boot(b);
	assert_true(total > 0);
	if (getenv("JOURNAL_TEST_VERBOSE"))
		fprintf(stderr, "%s %s seed=%u: %ld operations\n", sc->name,
			kind == SIM_NOR ? "nor" : "disk", seed, total);
	for (long n = 1; n <= total; n++) {
		uint64_t got, again;
		uint32_t floor;

		sim_restore(&b->sim, snap);
		assert_int_equal(jopen(b), 0);
		sim_cut_after(&b->sim, n);
		sc->action(b);
		got = boot(b);
		floor = b->j.floor;
		if (getenv("JOURNAL_TEST_VERBOSE"))
			fprintf(stderr, "  cut %ld: %s floor=%u torn=%u\n", n,
				got == after ? "new" : "old", floor, b->info.torn);
		if (got != before && got != after)
			fail_msg("%s cut at %ld/%ld: committed %#lx, expected %#lx or %#lx", sc->name, n,
				 total, (unsigned long)got, (unsigned long)before, (unsigned long)after);
		assert_true(floor >= floor_before);
		/* Every accepted sequence number stays refused. */
		assert_int_equal(store(b, floor), -KE_ALREADY);
		assert_int_equal(store(b, floor_before), -KE_ALREADY);
		/* A second boot agrees. */
		again = boot(b);
		assert_int_equal(again, got);
		assert_true(b->j.floor >= floor);
		/* The same thing is tried again and cut at the same point: still consistent. */
		sim_cut_after(&b->sim, n);
		sc->action(b);
		again = boot(b);
		if (again != before && again != after)
			fail_msg("%s cut twice at %ld: committed %#lx", sc->name, n, (unsigned long)again);
		assert_true(again == got || again == after);
		assert_true(b->j.floor >= floor);
		got = again;
		floor = b->j.floor;
		/* And the board takes the next pack. */
		{
			uint32_t next = b->j.floor + 1;
			int rc = store(b, next);

			if (rc) {
				uint64_t used, free;

				journal_usage(&b->j, &used, &free);
				fail_msg("%s cut at %ld/%ld: next pack %u (%zu bytes) refused: %d; used=%lu "
					 "free=%lu max_pack=%lu tail=%lu head=%lu log=%lu nent=%u", sc->name, n,
					 total, next, pack_len(next), rc, (unsigned long)used,
					 (unsigned long)free, (unsigned long)journal_max_pack(&b->j),
					 (unsigned long)b->j.tail, (unsigned long)b->j.head,
					 (unsigned long)b->j.log_size, b->j.nent);
			}
			assert_int_equal(journal_commit(&b->j, next), 0);
			assert_int_equal(committed_set(b), got | (next < 64 ? 1ULL << next : 0));
		}
		assert_int_equal(b->sim.violations, 0);
	}
	free(snap);
	board_free(b);
}

static const struct scenario sc_update = { "update", setup_two, act_update };
static const struct scenario sc_rollback = { "rollback", setup_two, act_rollback };
static const struct scenario sc_forget = { "forget", setup_two, act_forget };
static const struct scenario sc_state = { "state", setup_two, act_state };
static const struct scenario sc_compact = { "compact", setup_full, act_update_40 };

static void test_cut_update_nor(void **state)
{
	for (unsigned int seed = 1; seed <= 4; seed++)
		run_cuts(&sc_update, SIM_NOR, 128 * 1024, seed);
}

static void test_cut_update_disk(void **state)
{
	for (unsigned int seed = 1; seed <= 4; seed++)
		run_cuts(&sc_update, SIM_DISK, 128 * 1024, seed);
}

static void test_cut_rollback(void **state)
{
	run_cuts(&sc_rollback, SIM_NOR, 128 * 1024, 21);
	run_cuts(&sc_rollback, SIM_DISK, 128 * 1024, 22);
}

static void test_cut_forget(void **state)
{
	run_cuts(&sc_forget, SIM_NOR, 128 * 1024, 23);
	run_cuts(&sc_forget, SIM_DISK, 128 * 1024, 24);
}

static void test_cut_state(void **state)
{
	run_cuts(&sc_state, SIM_NOR, 128 * 1024, 25);
	run_cuts(&sc_state, SIM_DISK, 128 * 1024, 26);
}

static void test_cut_compaction(void **state)
{
	struct board *b = board_new(SIM_NOR, 96 * 1024, 30);
	uint64_t compactions, moved;

	/* The scenario does compact and move live packs (a dry run), then every cut. */
	setup_full(b);
	compactions = b->j.stats.compactions;
	moved = b->j.stats.moved_bytes;
	act_update_40(b);
	assert_true(b->j.stats.compactions > compactions);
	assert_true(b->j.stats.moved_bytes > moved);
	board_free(b);
	for (unsigned int seed = 30; seed < 33; seed++) {
		run_cuts(&sc_compact, SIM_NOR, 96 * 1024, seed);
		run_cuts(&sc_compact, SIM_DISK, 96 * 1024, seed);
	}
}

/* --- boot counter ------------------------------------------------------------ */

static void test_boot_counter(void **state)
{
	struct board *b = board_new(SIM_NOR, 128 * 1024, 40);
	unsigned int failed;
	uint32_t mark;

	assert_int_equal(journal_boot_begin(&b->j, &failed, &mark), 0);
	assert_int_equal(failed, 0);
	assert_int_equal(mark, 0);
	assert_int_equal(journal_boot_mark(&b->j, 7), 0);
	/* That boot hung: the next ones count it. */
	for (unsigned int n = 1; n <= JOURNAL_BOOT_TRIES; n++) {
		boot(b);
		assert_int_equal(journal_boot_begin(&b->j, &failed, &mark), 0);
		assert_int_equal(failed, n);
		assert_int_equal(mark, 7);
		assert_int_equal(journal_boot_mark(&b->j, 7), 0);
	}
	assert_int_equal(journal_boot_good(&b->j), 0);
	boot(b);
	assert_int_equal(journal_boot_begin(&b->j, &failed, &mark), 0);
	assert_int_equal(failed, 0);
	assert_int_equal(mark, 0);
	/* Counted out: stays at the maximum. */
	for (unsigned int n = 0; n < 70; n++)
		assert_int_equal(journal_boot_begin(&b->j, &failed, &mark), 0);
	assert_int_equal(failed, 64);
	assert_int_equal(b->sim.violations, 0);
	board_free(b);
}

static void test_boot_counter_cut(void **state)
{
	/* A cut while counting a boot never makes it look like fewer attempts. */
	for (long n = 1; n <= 2; n++) {
		struct board *b = board_new(SIM_NOR, 128 * 1024, 41);
		unsigned int failed;
		uint32_t mark;

		journal_boot_begin(&b->j, &failed, &mark);
		boot(b);
		sim_cut_after(&b->sim, n);
		journal_boot_begin(&b->j, &failed, &mark);
		boot(b);
		assert_int_equal(journal_boot_begin(&b->j, &failed, &mark), 0);
		assert_true(failed >= 1);
		board_free(b);
	}
}

static void test_bad_geometry(void **state)
{
	struct board *b = calloc(1, sizeof(*b));

	sim_init(&b->sim, SIM_NOR, 16 * 1024, ESZ, 50);
	assert_int_equal(jopen(b), -KE_NOSPC);	/* too small for a log */
	b->sim.dev.erase_size = 3000;
	assert_int_equal(jopen(b), -KE_INVAL);
	board_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc32_vector),
		cmocka_unit_test(test_store_commit_rollback_reopen),
		cmocka_unit_test(test_replay_refused),
		cmocka_unit_test(test_state_persists),
		cmocka_unit_test(test_random_region_formatted),
		cmocka_unit_test(test_one_super_corrupt),
		cmocka_unit_test(test_truncated_region_keeps_floor),
		cmocka_unit_test(test_rotten_pack_refused),
		cmocka_unit_test(test_too_big_refused_nothing_changes),
		cmocka_unit_test(test_thousand_updates_fit_the_flash_region),
		cmocka_unit_test(test_thousand_updates_with_rollbacks_compact),
		cmocka_unit_test(test_entry_table_full),
		cmocka_unit_test(test_cut_update_nor),
		cmocka_unit_test(test_cut_update_disk),
		cmocka_unit_test(test_cut_rollback),
		cmocka_unit_test(test_cut_forget),
		cmocka_unit_test(test_cut_state),
		cmocka_unit_test(test_cut_compaction),
		cmocka_unit_test(test_boot_counter),
		cmocka_unit_test(test_boot_counter_cut),
		cmocka_unit_test(test_bad_geometry),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
