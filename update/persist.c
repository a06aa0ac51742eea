/*
 * Durable updates (persist.h): the journal on the state device, its replay
 * at boot, safe mode, and the engine's and agent's hooks.
 *
 * Replay goes through the update engine exactly as a pushed pack does
 * (structure, signature, hashes, ABI, chain, link, self-test, quiescence,
 * switch, probation), in sequence-number order, with a shorter probation
 * and without journaling it again. Instances that exist at replay time
 * (built-in devices: uart, plic, timer, netdev, storage, sched) are
 * converted through each step's transfer; classes whose instances are
 * made later (the workload's counters) have none yet, so theirs are simply
 * born in the replayed version. A pack that fails its replay is rolled
 * back in the journal, and so is every later pack its failure leaves out
 * of chain.
 *
 * Locking: persist_lock (a sleeping mutex) serialises every journal call;
 * the summary and the saved LwM2M state are snapshots under sum_lock, a
 * spinlock, so the agent's network thread reads them without sleeping.
 * LwM2M state writes are handed to the `journal` writer thread, so no
 * caller waits for storage.
 *
 * Every change of the LwM2M state rewrites a superblock (an erase on NOR
 * flash), and anyone who can reach port 8080 can change it at will (each
 * rejected upload does). So state writes draw from a bucket of
 * STATE_WRITE_BURST tokens refilled one per STATE_WRITE_REFILL_MS: a few
 * pushes in a row are all durable at once; under a flood the newest state
 * waits in memory and the writer stores it when the next token comes, so
 * the erases a flood can cause are bounded (about 290 a day, two
 * superblock sectors: years of a NOR part's 100,000 cycles).
 */
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <kernel/persist.h>
#include <kernel/journal.h>
#include <kernel/storage.h>
#include <kernel/update_engine.h>
#include <kernel/devtree.h>
#include <kernel/thread.h>
#include <kernel/mem.h>
#include <kernel/log.h>
#include <kernel/escape.h>
#include <kernel/sbi.h>
#include <kernel/timer.h>
#include <kernel/riscv.h>
#include <kernel/errno.h>
#include <kernel/export.h>

#define MAX_ENTRIES		2048
#define REPLAY_PROBATION_US	200000
#define REPLAY_TIMEOUT_S	60	/* a replay that takes longer is stuck: reboot */
#define BOOT_GOOD_MS		2000	/* running this long after replay: a good boot */
#define DESC_LEN		48

static struct journal jnl;
static struct journal_dev jdev;
static ott_ref_t dev_ref;
static struct mutex persist_lock;
static bool persistent;
static bool safe_mode;
static bool saved_valid;
static struct journal_state saved;		/* from before this boot */

static struct spinlock sum_lock = SPINLOCK_INIT("persist-summary");
static struct persist_summary summary;
static struct journal_state want_state;		/* what the writer should persist */
static bool state_dirty;
static struct waitq writer_wq = WAITQ_INIT(writer_wq);

#define STATE_WRITE_BURST	8
#define STATE_WRITE_REFILL_MS	(5 * 60 * 1000)
static unsigned int state_tokens = STATE_WRITE_BURST;	/* under persist_lock */
static uint64_t state_refill_ms;	/* when the bucket gains its next token */

/* What each pack changes, for `journal` (from the last parse; not persisted). */
struct desc {
	uint32_t seq;
	char text[DESC_LEN];
};
static struct desc descs[64];
static volatile bool replay_done;
static volatile uint32_t replaying_seq;

/* --- the state device under the journal ------------------------------------- */

static int jdev_read(void *ctx, uint64_t off, void *buf, size_t len)
{
	while (len) {
		size_t n = len < STORAGE_MAX_IO ? len : STORAGE_MAX_IO;

		if (storage_read(dev_ref, off, buf, n))
			return -KE_IO;
		off += n;
		buf = (char *)buf + n;
		len -= n;
	}
	return 0;
}

static int jdev_program(void *ctx, uint64_t off, const void *buf, size_t len)
{
	while (len) {
		size_t n = len < STORAGE_MAX_IO ? len : STORAGE_MAX_IO;

		if (storage_program(dev_ref, off, buf, n))
			return -KE_IO;
		off += n;
		buf = (const char *)buf + n;
		len -= n;
	}
	return 0;
}

static int jdev_erase(void *ctx, uint64_t off, size_t len)
{
	return storage_erase(dev_ref, off, len) ? -KE_IO : 0;
}

static int jdev_flush(void *ctx)
{
	return storage_flush(dev_ref) ? -KE_IO : 0;
}

/* --- summaries and descriptions ------------------------------------------------ */

/* Called with persist_lock held after every journal change. */
static void summary_refresh(void)
{
	struct persist_summary s = { 0 };

	s.persistent = persistent;
	s.safe_mode = safe_mode;
	if (persistent) {
		for (unsigned int i = 0; i < jnl.nent; i++) {
			s.entries++;
			s.committed += jnl.ent[i].status == JOURNAL_COMMITTED;
		}
		journal_usage(&jnl, &s.used, &s.free);
		s.max_pack = journal_max_pack(&jnl);
		s.floor = jnl.floor;
	}
	spin_lock(&sum_lock);
	summary = s;
	spin_unlock(&sum_lock);
}

void persist_get_summary(struct persist_summary *out)
{
	spin_lock(&sum_lock);
	*out = summary;
	spin_unlock(&sum_lock);
}

/* Describes the pack the engine holds now: "uart:1>2 counter:2>3". */
static void desc_note(uint32_t seq)
{
	struct desc *d = &descs[seq % (sizeof(descs) / sizeof(descs[0]))];
	const struct pack *p = &update_rec.pack;
	size_t n = 0;

	d->seq = seq;
	d->text[0] = '\0';
	for (unsigned int i = 0; i < p->nsteps && n < sizeof(d->text); i++)
		n += (size_t)snprintf(d->text + n, sizeof(d->text) - n, "%s%s:%u>%u", i ? " " : "",
				      p->steps[i].class_name, p->steps[i].from, p->steps[i].to);
}

static const char *desc_of(uint32_t seq)
{
	const struct desc *d = &descs[seq % (sizeof(descs) / sizeof(descs[0]))];

	return d->seq == seq && d->text[0] ? d->text : "-";
}

/* --- engine and agent hooks ------------------------------------------------------ */

enum update_result persist_intent(const void *pack, size_t size, uint32_t seq, char *err,
				  size_t errlen)
{
	struct journal_stats before;
	int rc;

	if (!persistent)
		return UPDATE_OK;
	mutex_lock(&persist_lock);
	before = jnl.stats;
	rc = journal_store(&jnl, seq, pack, size);
	if (!rc)
		desc_note(seq);
	summary_refresh();
	mutex_unlock(&persist_lock);
	if (rc == -KE_NOSPC) {
		snprintf(err, errlen, "journal full: pack of %zu bytes, room for %lu", size,
			 (unsigned long)summary.max_pack);
		return UPDATE_ERR_NOSPACE;
	}
	if (rc == -KE_ALREADY) {
		snprintf(err, errlen, "seq %u is not above the journal's floor %u", seq, jnl.floor);
		return UPDATE_ERR_REPLAY;
	}
	if (rc) {
		snprintf(err, errlen, "journal write failed (%s)", err_name(rc));
		return UPDATE_ERR_STORAGE;
	}
	klog("journal", "stored seq=%u bytes=%zu programs=%lu erases=%lu flushes=%lu", seq, size,
	     (unsigned long)(jnl.stats.programs - before.programs),
	     (unsigned long)(jnl.stats.erases - before.erases),
	     (unsigned long)(jnl.stats.flushes - before.flushes));
	return UPDATE_OK;
}

void persist_outcome(uint32_t seq, bool committed, const char *reason)
{
	int rc;

	if (!persistent)
		return;
	mutex_lock(&persist_lock);
	rc = committed ? journal_commit(&jnl, seq) : journal_rollback(&jnl, seq, reason);
	summary_refresh();
	mutex_unlock(&persist_lock);
	if (rc)
		klog("journal", "could not record seq=%u %s: %s (the next boot rolls it back)", seq,
		     committed ? "commit" : "rollback", err_name(rc));
	else
		klog("journal", "%s seq=%u", committed ? "committed" : "rolled-back", seq);
}

void persist_save_state(uint8_t lwm2m_state, uint8_t lwm2m_result, const char *reason)
{
	if (!persistent)
		return;
	spin_lock(&sum_lock);
	want_state.lwm2m_state = lwm2m_state;
	want_state.lwm2m_result = lwm2m_result;
	memset(want_state.reason, 0, sizeof(want_state.reason));
	strncpy(want_state.reason, reason, sizeof(want_state.reason) - 1);
	state_dirty = true;
	spin_unlock(&sum_lock);
	waitq_wake_all(&writer_wq);
}

static uint64_t now_ms(void)
{
	return timer_ticks_to_us(rdtime()) / 1000;
}

/*
 * Writes @st unless it is what the journal holds already; needs a token
 * (persist_lock held). 0 when written or nothing to write, -KE_BUSY when
 * the bucket is empty, else the journal's error.
 */
static int state_write(const struct journal_state *st)
{
	uint64_t now = now_ms();
	int rc;

	if (!memcmp(&jnl.state, st, sizeof(*st)))
		return 0;
	while (state_tokens < STATE_WRITE_BURST && now >= state_refill_ms) {
		state_tokens++;
		state_refill_ms += STATE_WRITE_REFILL_MS;
	}
	if (state_tokens == STATE_WRITE_BURST)
		state_refill_ms = now + STATE_WRITE_REFILL_MS;
	if (!state_tokens)
		return -KE_BUSY;
	state_tokens--;
	rc = journal_set_state(&jnl, st);
	if (rc)
		klog("journal", "could not save the LwM2M state");
	return rc;
}

void persist_save_state_now(uint8_t lwm2m_state, uint8_t lwm2m_result, const char *reason)
{
	struct journal_state st = { lwm2m_state, lwm2m_result, "" };
	int rc;

	if (!persistent)
		return;
	strncpy(st.reason, reason, sizeof(st.reason) - 1);
	mutex_lock(&persist_lock);
	rc = state_write(&st);
	mutex_unlock(&persist_lock);
	if (rc == -KE_BUSY)
		persist_save_state(lwm2m_state, lwm2m_result, reason);	/* when a token comes */
}

bool persist_saved_state(uint8_t *lwm2m_state, uint8_t *lwm2m_result, char *reason, size_t len)
{
	if (!saved_valid)
		return false;
	*lwm2m_state = saved.lwm2m_state;
	*lwm2m_result = saved.lwm2m_result;
	snprintf(reason, len, "%s", saved.reason);
	return true;
}

static void writer_main(void *arg)
{
	for (;;) {
		struct journal_state st;
		int rc;

		spin_lock(&sum_lock);
		while (!state_dirty)
			waitq_wait(&writer_wq, &sum_lock);
		st = want_state;
		state_dirty = false;
		spin_unlock(&sum_lock);
		mutex_lock(&persist_lock);
		rc = state_write(&st);
		mutex_unlock(&persist_lock);
		if (rc != -KE_BUSY)
			continue;
		/* No token: try again later with whatever is newest by then. */
		spin_lock(&sum_lock);
		if (!state_dirty) {
			want_state = st;
			state_dirty = true;
		}
		spin_unlock(&sum_lock);
		thread_sleep_us(1000000);
	}
}

/* --- replay ------------------------------------------------------------------------- */

static void replay_watchdog(void *arg)
{
	uint64_t limit_s = (uint64_t)(uintptr_t)arg;

	for (uint64_t t = 0; t < limit_s * 10; t++) {
		if (replay_done)
			return;
		thread_sleep_us(100000);
	}
	if (replay_done)
		return;
	klog("journal", "replay stuck seq=%u after=%lus: rebooting (boot counter counts it)",
	     replaying_seq, (unsigned long)limit_s);
	sbi_system_reset(SBI_SRST_COLD_REBOOT, SBI_SRST_REASON_NONE);
}

/*
 * A boot is good once the board has run for a while after replay with
 * threads still being scheduled: then the boot counter is cleared. A boot
 * that hangs or panics before (in replay, or in replayed code soon after)
 * leaves it counted.
 */
static void boot_good_main(void *arg)
{
	int rc;

	thread_sleep_us((uint64_t)(uintptr_t)arg * 1000);
	mutex_lock(&persist_lock);
	rc = journal_boot_good(&jnl);
	mutex_unlock(&persist_lock);
	klog("journal", "boot good after_ms=%lu%s", (unsigned long)(uintptr_t)arg,
	     rc ? " (counter not cleared)" : "");
}

bool persist_replaying(void)
{
	return persistent && !replay_done;
}
EXPORT_SYMBOL(persist_replaying);

/* Writes an outcome during boot; the caller holds persist_lock. */
static void boot_rollback(uint32_t seq, const char *why)
{
	if (journal_rollback(&jnl, seq, why))
		klog("journal", "could not mark seq=%u rolled back", seq);
}

static enum update_result replay_one(const struct journal_entry *e, char *err, size_t errlen)
{
	unsigned int order = page_order_for(e->size);
	void *buf = page_alloc(order);
	enum update_result r;
	int rc;

	if (!buf) {
		snprintf(err, errlen, "no memory for %u bytes", e->size);
		return UPDATE_ERR_NOMEM;
	}
	rc = journal_read_pack(&jnl, e, buf);
	if (rc) {
		snprintf(err, errlen, "stored pack unreadable (%s)", err_name(rc));
		page_free(buf, order);
		return UPDATE_ERR_INTEGRITY;
	}
	r = update_apply_pack_flags(buf, e->size, UPDATE_REPLAY);
	if (r == UPDATE_OK) {
		update_wait_idle();	/* its probation decides */
		r = update_last_result;
	}
	if (r != UPDATE_OK)
		snprintf(err, errlen, "%s", update_last_detail());
	else
		desc_note(e->seq);
	page_free(buf, order);
	return r;
}

/* Replays every committed pack in order; returns how many applied. */
static unsigned int replay_all(void)
{
	unsigned int n = jnl.nent, applied = 0;
	uint32_t *seqs = kmalloc(sizeof(uint32_t) * (n ? n : 1));

	if (!seqs)
		return 0;
	for (unsigned int i = 0; i < n; i++)
		seqs[i] = jnl.ent[i].seq;
	for (unsigned int i = 0; i < n; i++) {
		struct journal_entry *e = journal_find(&jnl, seqs[i]);
		struct journal_entry copy;
		enum update_result r;
		char err[128] = "";

		if (!e || e->status == JOURNAL_ROLLED_BACK)
			continue;
		if (e->status == JOURNAL_PENDING) {
			boot_rollback(e->seq, "interrupted");
			klog("journal", "interrupted seq=%u: rolled back (cut before its commit)",
			     seqs[i]);
			persist_save_state(0, 8, "interrupted");	/* LwM2M: update failed */
			continue;
		}
		copy = *e;
		replaying_seq = copy.seq;
		journal_boot_mark(&jnl, copy.seq);
		r = replay_one(&copy, err, sizeof(err));
		if (r == UPDATE_OK) {
			applied++;
			klog("journal", "replayed seq=%u bytes=%u steps=\"%s\"", copy.seq, copy.size,
			     desc_of(copy.seq));
		} else {
			boot_rollback(copy.seq, update_result_name(r));
			char esc[4 * sizeof(err)];

			klog("journal", "replay refused seq=%u reason=%s detail=\"%s\": rolled back",
			     copy.seq, update_result_name(r), esc_log(esc, sizeof(esc), err));
		}
	}
	kfree(seqs);
	return applied;
}

/* Too many failed boots: set every journaled update aside, boot built-in versions. */
static void enter_safe_mode(unsigned int failed, uint32_t last_mark)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < jnl.nent;) {
		struct journal_entry *e = &jnl.ent[i];
		uint32_t seq = e->seq;

		if (e->status != JOURNAL_ROLLED_BACK) {
			boot_rollback(seq, seq == last_mark ? "boot-failure" : "safe-mode");
			n++;
		}
		/* The array may have moved under compaction: find our place again. */
		i = 0;
		while (i < jnl.nent && jnl.ent[i].seq <= seq)
			i++;
	}
	safe_mode = true;
	klog("journal", "safe-mode boots=%u last=%u set_aside=%u (built-in versions; the agent "
	     "still serves)", failed, last_mark, n);
}

static bool open_journal(void)
{
	struct journal_open_info info;
	struct journal_entry *ent;
	struct storage_info si;
	void *scratch;
	int rc;

	if (!storage_state_ref(&dev_ref)) {
		klog("journal", "none (volatile): no storage device, updates last until reboot");
		return false;
	}
	storage_info(dev_ref, &si);
	jdev.size = si.size;
	jdev.erase_size = si.erase_size;
	jdev.read = jdev_read;
	jdev.program = jdev_program;
	jdev.erase = jdev_erase;
	jdev.flush = jdev_flush;
	ent = kzalloc(sizeof(*ent) * MAX_ENTRIES);
	scratch = si.erase_size <= JOURNAL_MAX_BLOCK ? kmalloc(si.erase_size) : NULL;
	if (!ent || !scratch) {
		kfree(ent);
		kfree(scratch);
		klog("journal", "none (volatile): no memory for the journal");
		return false;
	}
	rc = journal_open(&jnl, &jdev, scratch, ent, MAX_ENTRIES, &info);
	if (rc) {
		klog("journal", "none (volatile): model=%s size=%lu unusable (%s)", si.model,
		     (unsigned long)si.size, err_name(rc));
		return false;
	}
	if (info.formatted)
		klog("journal", "formatted model=%s size=%lu why=\"%s\" floor=%u", si.model,
		     (unsigned long)si.size, info.why, jnl.floor);
	klog("journal", "opened model=%s size=%lu entries=%u floor=%u torn=%u orphans=%u supers=%u",
	     si.model, (unsigned long)si.size, jnl.nent, jnl.floor, info.torn, info.orphans,
	     info.supers_valid);
	return true;
}

void persist_boot(const char *bootargs)
{
	unsigned int failed = 0, applied = 0;
	uint64_t good_ms = BOOT_GOOD_MS;
	uint32_t last_mark = 0;
	uint64_t t0 = rdtime();
	char val[16];
	int rc;

	mutex_init(&persist_lock);
	if (!dt_bootarg(bootargs, "journal", val, sizeof(val)) && !strcmp(val, "off")) {
		klog("journal", "none (volatile): journal=off on the command line");
		summary_refresh();
		return;
	}
	if (!open_journal()) {
		summary_refresh();
		return;
	}
	persistent = true;
	saved = jnl.state;
	saved_valid = saved.lwm2m_result != 0 || saved.reason[0];
	thread_create("journal", writer_main, NULL, THREAD_ANY_HART);
	mutex_lock(&persist_lock);
	rc = journal_boot_begin(&jnl, &failed, &last_mark);
	if (rc)
		klog("journal", "boot counter unreadable (%s)", err_name(rc));
	if (failed >= JOURNAL_BOOT_TRIES) {
		enter_safe_mode(failed, last_mark);
	} else {
		uint64_t limit_s = REPLAY_TIMEOUT_S;

		if (!dt_bootarg(bootargs, "replay_timeout", val, sizeof(val)))
			limit_s = strtoul(val, NULL, 10);
		if (failed)
			klog("journal", "boot attempt=%u after failed boots, last replaying seq=%u",
			     failed + 1, last_mark);
		thread_create("replay-wd", replay_watchdog, (void *)(uintptr_t)limit_s,
			      THREAD_ANY_HART);
		applied = replay_all();
	}
	replay_done = true;
	update_raise_floor(jnl.floor);
	summary_refresh();
	mutex_unlock(&persist_lock);
	klog("journal", "ready packs=%u seq=%u used=%lu free=%lu replay_us=%lu", applied,
	     jnl.floor, (unsigned long)summary.used, (unsigned long)summary.free,
	     (unsigned long)timer_ticks_to_us(rdtime() - t0));
	if (!dt_bootarg(bootargs, "boot_good_ms", val, sizeof(val)))
		good_ms = strtoul(val, NULL, 10);
	thread_create("boot-good", boot_good_main, (void *)(uintptr_t)good_ms, THREAD_ANY_HART);
}

/* --- console --------------------------------------------------------------------------- */

void persist_show(void)
{
	struct persist_summary s;

	persist_get_summary(&s);
	if (!s.persistent) {
		kputs("  journal: none (volatile)\n");
		return;
	}
	mutex_lock(&persist_lock);
	kprintf("  journal: %u entries, floor %u, used %lu, free %lu, largest pack %lu%s\n",
		jnl.nent, jnl.floor, (unsigned long)s.used, (unsigned long)s.free,
		(unsigned long)s.max_pack, s.safe_mode ? ", SAFE MODE" : "");
	for (unsigned int i = 0; i < jnl.nent; i++) {
		const struct journal_entry *e = &jnl.ent[i];

		kprintf("  seq=%u bytes=%u %s%s%s steps=\"%s\"\n", e->seq, e->size,
			journal_status_name(e->status), e->reason[0] ? " reason=" : "", e->reason,
			desc_of(e->seq));
	}
	kprintf("  storage writes: programs=%lu erases=%lu flushes=%lu superblocks=%lu "
		"compactions=%lu moved=%lu\n", (unsigned long)jnl.stats.programs,
		(unsigned long)jnl.stats.erases, (unsigned long)jnl.stats.flushes,
		(unsigned long)jnl.stats.super_writes, (unsigned long)jnl.stats.compactions,
		(unsigned long)jnl.stats.moved_bytes);
	mutex_unlock(&persist_lock);
}

int persist_forget_all(void)
{
	int rc;

	if (!persistent)
		return -KE_NODEV;
	if (__atomic_load_n(&update_busy, __ATOMIC_ACQUIRE))
		return -KE_BUSY;
	mutex_lock(&persist_lock);
	rc = journal_forget_all(&jnl);
	summary_refresh();
	mutex_unlock(&persist_lock);
	klog("journal", "erase %s floor=%u: the running versions stay until reboot",
	     rc ? err_name(rc) : "done", jnl.floor);
	return rc;
}
