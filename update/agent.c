/*
 * The OTA agent's core (see agent.h): the LwM2M state, the one pack slot,
 * the `ota` thread that verifies and applies a submitted pack, the events
 * ring and the status JSON. The transports (agent_http.c; the MQTT pull
 * client, update/pull.c, through the agent_pull_* wrappers at the end)
 * only claim the slot, fill a pack and submit it.
 *
 * Locking: agent_lock (a spinlock, never held across anything slow)
 * guards the LwM2M state and result, the slot and the queued job, and the
 * event ring; every context may take it, the network thread included.
 * The ota thread alone runs the engine and writes the durable result.
 *
 * Why the slot is released only after done() returned (or, for a job with
 * hold, when its transport says so): the verdict and whatever the
 * submitter keeps with it (an HTTP answer waiting for the network thread)
 * belong to the job until then, so a second pack can never overwrite the
 * first one's answer or take its place.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <kernel/agent.h>
#include <kernel/irq.h>
#include <kernel/update.h>
#include <kernel/update_engine.h>
#include <kernel/object.h>
#include <kernel/thread.h>
#include <kernel/mem.h>
#include <kernel/log.h>
#include <kernel/spinlock.h>
#include <kernel/errno.h>
#include <kernel/escape.h>
#include <kernel/persist.h>
#include <kernel/netif.h>
#include <kernel/stage_stats.h>

#define NEVENTS		8
#define EVENT_LEN	96

static const char *const state_names[] = { "idle", "downloading", "downloaded", "updating" };
static const char *const result_names[] = {
	"initial", "success", "not-enough-flash", "out-of-memory", "connection-lost",
	"integrity-failure", "unsupported-package", "invalid-uri", "update-failed",
};

static struct spinlock agent_lock = SPINLOCK_INIT("agent");
static enum agent_state state;
static enum agent_result result;
static char reason[32] = "none";
static char events[NEVENTS][EVENT_LEN];
static unsigned int nevents;
static const char *claimed_by;		/* the slot's holder, NULL when free */
static struct agent_job *queued;	/* submitted, not yet finished */
static struct waitq job_wq = WAITQ_INIT(job_wq);

const char *agent_result_name(enum agent_result r)
{
	return (unsigned int)r < sizeof(result_names) / sizeof(result_names[0]) ?
	       result_names[r] : "unknown";
}

/* --- state and events --------------------------------------------------- */

void agent_event(const char *fmt, ...)
{
	va_list ap;

	spin_lock(&agent_lock);
	va_start(ap, fmt);
	vsnprintf(events[nevents++ % NEVENTS], EVENT_LEN, fmt, ap);
	va_end(ap);
	spin_unlock(&agent_lock);
}

static void set_state(enum agent_state s)
{
	spin_lock(&agent_lock);
	state = s;
	spin_unlock(&agent_lock);
}

static void set_result_state(enum agent_result r, const char *why)
{
	spin_lock(&agent_lock);
	result = r;
	strncpy(reason, why, sizeof(reason) - 1);
	reason[sizeof(reason) - 1] = '\0';
	state = AGENT_IDLE;
	spin_unlock(&agent_lock);
}

void agent_note_result(enum agent_result r, const char *why)
{
	set_result_state(r, why);
	persist_save_state(AGENT_IDLE, (uint8_t)r, why);
}

static enum agent_result lwm2m_of(enum update_result r)
{
	switch (r) {
	case UPDATE_OK:
		return AGENT_RES_SUCCESS;
	case UPDATE_ERR_INTEGRITY:
		return AGENT_RES_INTEGRITY;
	case UPDATE_ERR_NOMEM:
		return AGENT_RES_NO_MEMORY;
	case UPDATE_ERR_NOSPACE:
		return AGENT_RES_NO_STORAGE;
	case UPDATE_ERR_STORAGE:
	case UPDATE_ERR_LINK:
	case UPDATE_ERR_SELFTEST:
	case UPDATE_ERR_TIMEOUT:
	case UPDATE_ERR_ROLLED_BACK:
	case UPDATE_ERR_BUSY:
		return AGENT_RES_FAILED;
	default:
		return AGENT_RES_UNSUPPORTED;
	}
}

/* --- the pack slot ------------------------------------------------------ */

int agent_claim(const char *source)
{
	int rc = -KE_BUSY;

	spin_lock(&agent_lock);
	if (!claimed_by && !__atomic_load_n(&update_busy, __ATOMIC_ACQUIRE)) {
		claimed_by = source;
		state = AGENT_DOWNLOADING;
		rc = 0;
	}
	spin_unlock(&agent_lock);
	return rc;
}

void agent_abandon(enum agent_result r, const char *why)
{
	agent_note_result(r, why);
	spin_lock(&agent_lock);
	claimed_by = NULL;
	spin_unlock(&agent_lock);
}

int agent_submit_job(struct agent_job *j)
{
	int rc = -KE_INVAL;

	spin_lock(&agent_lock);
	if (claimed_by && !queued && j && j->pack && j->done) {
		queued = j;
		state = AGENT_DOWNLOADED;
		rc = 0;
	}
	spin_unlock(&agent_lock);
	if (!rc)
		waitq_wake_all_here(&job_wq);	/* the ota thread runs next, here */
	return rc;
}

void agent_release(void)
{
	spin_lock(&agent_lock);
	claimed_by = NULL;
	spin_unlock(&agent_lock);
}

void *agent_pack_alloc(size_t size)
{
	return size && size <= (size_t)AGENT_MAX_PACK ? page_alloc(page_order_for(size)) : NULL;
}

void agent_pack_free(void *pack, size_t size)
{
	if (pack)
		page_free(pack, page_order_for(size));
}

/* --- status ------------------------------------------------------------ */

struct json_buf {
	char *out;
	size_t len, n;
	bool first;
};

static void jprintf(struct json_buf *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void jprintf(struct json_buf *j, const char *fmt, ...)
{
	va_list ap;
	int m;

	if (j->n >= j->len)
		return;
	va_start(ap, fmt);
	m = vsnprintf(j->out + j->n, j->len - j->n, fmt, ap);
	va_end(ap);
	if (m > 0)
		j->n += (size_t)m;
}

static void add_class(struct factory *f, void *arg)
{
	struct json_buf *j = arg;
	char name[64];

	jprintf(j, "%s\"%s\": %u", j->first ? "" : ", ",
		esc_json(name, sizeof(name), factory_class(f)->name), factory_class(f)->version);
	j->first = false;
}

/* The LwM2M part and the events, copied under the lock, escaped outside it. */
static void add_lwm2m(struct json_buf *j)
{
	char ev[NEVENTS][EVENT_LEN], why[sizeof(reason)], esc[6 * EVENT_LEN];
	enum agent_state st;
	enum agent_result res;
	unsigned int n, first;

	spin_lock(&agent_lock);
	st = state;
	res = result;
	memcpy(why, reason, sizeof(why));
	n = nevents;
	memcpy(ev, events, sizeof(ev));
	spin_unlock(&agent_lock);
	jprintf(j, "}, \"seq\": %u, \"state\": \"%s\", \"result\": \"%s\", \"result_code\": %d, "
		"\"reason\": \"%s\", \"events\": [", update_last_seq(), state_names[st],
		agent_result_name(res), (int)res, esc_json(esc, sizeof(esc), why));
	first = n > NEVENTS ? n - NEVENTS : 0;
	for (unsigned int i = first; i < n; i++)
		jprintf(j, "%s\"%s\"", i == first ? "" : ", ",
			esc_json(esc, sizeof(esc), ev[i % NEVENTS]));
}

/* How the HTTP server copes (agent_http.c): load tests read these. */
static void add_http(struct json_buf *j)
{
	struct agent_http_stats h;

	agent_http_get_stats(&h);
	jprintf(j, "\"http\": {\"open\": %u, \"accepted\": %lu, \"answered\": %lu, "
		"\"gone\": %lu, \"refused\": %lu, \"evicted\": %lu, \"timeouts\": %lu, "
		"\"bad\": %lu, \"answers_dropped\": %lu}", h.open, (unsigned long)h.accepted,
		(unsigned long)h.answered, (unsigned long)h.gone, (unsigned long)h.refused,
		(unsigned long)h.evicted, (unsigned long)h.timeouts, (unsigned long)h.bad,
		(unsigned long)h.answers_dropped);
}

size_t agent_status_json(char *out, size_t len)
{
	struct json_buf j = { out, len, 0, true };
	struct persist_summary ps;

	if (!len)
		return 0;
	jprintf(&j, "{\"abi\": \"%s\", \"board\": \"%s\", \"classes\": {", KERNEL_ABI, PLAT_NAME);
	factory_for_each(add_class, &j);
	add_lwm2m(&j);
	persist_get_summary(&ps);
	jprintf(&j, "], \"persistent\": %s, \"safe_mode\": %s, \"journal\": {\"entries\": %u, "
		"\"committed\": %u, \"used\": %lu, \"free\": %lu, \"max_pack\": %lu}, ",
		ps.persistent ? "true" : "false", ps.safe_mode ? "true" : "false", ps.entries,
		ps.committed, (unsigned long)ps.used, (unsigned long)ps.free,
		(unsigned long)ps.max_pack);
	add_http(&j);
	jprintf(&j, "}\n");
	if (j.n >= len) {
		/* Never half a JSON document: a short one saying so. */
		j.n = (size_t)snprintf(out, len, "{\"error\": \"status too long\"}\n");
		if (j.n >= len)
			j.n = len - 1;
	}
	return j.n;
}

/* --- the ota thread ------------------------------------------------------ */

/* The engine's checks passed (signature, hashes, chain): linking comes next. */
/* The pack being applied, once authenticated (0 before: its seq is not to be believed). */
static uint32_t verified_seq;

static void on_verified(uint32_t seq, unsigned int steps)
{
	struct agent_job *j;

	verified_seq = seq;

	klog("ota", "verified seq=%u steps=%u", seq, steps);
	set_state(AGENT_UPDATING);
	spin_lock(&agent_lock);
	j = queued;		/* the ota thread's own job: it stays queued until done() */
	spin_unlock(&agent_lock);
	if (j && j->verified)
		j->verified(j);
}

static enum update_result verify_and_apply(struct agent_job *j)
{
	enum update_result r;

	stage_end(STAGE_HANDOFF);
	/* One pass: the engine checks the pack once and tells us when it passed. */
	update_verified_hook = on_verified;
	r = update_apply_pack(j->pack, j->size);
	update_verified_hook = NULL;
	if (r == UPDATE_OK) {
		update_wait_idle();	/* probation: commit or rollback decides */
		r = update_last_result;
	}
	if (r != UPDATE_OK) {
		strncpy(j->detail, update_last_detail(), sizeof(j->detail) - 1);
		j->detail[sizeof(j->detail) - 1] = '\0';
	}
	return r;
}

static void ota_main(void *arg)
{
	for (;;) {
		struct agent_job *j;
		enum update_result r;
		char esc[4 * AGENT_DETAIL_MAX];
		bool hold;

		spin_lock(&agent_lock);
		while (!queued)
			waitq_wait(&job_wq, &agent_lock);
		j = queued;
		spin_unlock(&agent_lock);

		j->detail[0] = '\0';
		verified_seq = 0;
		r = verify_and_apply(j);
		stage_report(verified_seq);	/* seq=0: refused before authentication */
		agent_pack_free(j->pack, j->size);
		j->pack = NULL;
		if (r != UPDATE_OK)
			klog("ota", "rejected reason=%s detail=\"%s\"", update_result_name(r),
			     esc_log(esc, sizeof(esc), j->detail));
		j->result = r;
		j->lwm2m = lwm2m_of(r);
		j->seq = update_last_seq();
		/* LwM2M wants the result to survive a restart: durable before anyone hears it. */
		set_result_state(j->lwm2m, update_result_name(r));
		persist_save_state_now(AGENT_IDLE, (uint8_t)j->lwm2m, update_result_name(r));
		agent_event("seq=%u %s", j->seq, update_result_name(r));
		hold = j->hold;		/* j may be reused once done() returned */
		spin_lock(&agent_lock);
		queued = NULL;
		spin_unlock(&agent_lock);
		j->done(j);
		if (!hold)
			agent_release();
	}
}

void agent_start(void)
{
	uint8_t st, res;

	if (!netif_stack())
		return;
	if (persist_saved_state(&st, &res, reason, sizeof(reason)) && res <= AGENT_RES_FAILED)
		result = (enum agent_result)res;	/* the state itself restarts idle */
	/*
	 * Not pinned: a submitted pack wakes it on the submitter's hart (the
	 * network thread's, wherever it runs), so the hand-over needs no other
	 * hart to be scheduled (waitq_wake_all_here).
	 */
	thread_create("ota", ota_main, NULL, THREAD_ANY_HART);
	agent_http_start();
}

/* --- pulled packs (update/pull.c): agent_pull_* over the calls above ------- */

/*
 * One pulled job at a time (the slot sees to it). Its callbacks go to the
 * network thread through netif_works this record owns; the job holds the
 * slot until the outcome was copied there, so a next pull cannot overwrite
 * it first.
 */
static struct {
	struct agent_job job;
	const struct agent_pull_ops *ops;
	void *arg;
	struct netif_work verified_work, done_work;
	int result;
	char reason[32];
	char source[16];
} pull;

static void pull_verified_on_net(struct net_stack *ns, void *unused)
{
	if (pull.ops && pull.ops->verified)
		pull.ops->verified(pull.arg);
}

static void pull_done_on_net(struct net_stack *ns, void *unused)
{
	const struct agent_pull_ops *ops = pull.ops;
	void *arg = pull.arg;
	int result = pull.result;
	char reason[sizeof(pull.reason)];

	memcpy(reason, pull.reason, sizeof(reason));
	pull.ops = NULL;
	agent_release();	/* before done(): it may claim the next job at once */
	ops->done(arg, result, reason);
}

static void pull_verified(struct agent_job *j)
{
	netif_post(&pull.verified_work);
}

/* The ota thread: the outcome is durable; the network thread tells pull.c. */
static void pull_done(struct agent_job *j)
{
	klog("ota", "result=%s source=%s", update_result_name(j->result), pull.source);
	pull.result = (int)j->lwm2m;
	strncpy(pull.reason, update_result_name(j->result), sizeof(pull.reason) - 1);
	pull.reason[sizeof(pull.reason) - 1] = '\0';
	netif_post(&pull.done_work);
}

int agent_pull_claim(void)
{
	return agent_claim("pull");
}

void agent_pull_refuse(int result, const char *reason, uint32_t job_seq)
{
	char esc[64];

	klog("ota", "rejected reason=%s job=%u", esc_log_word(esc, sizeof(esc), reason), job_seq);
	agent_event("job=%u %s", job_seq, reason);
	agent_abandon((enum agent_result)result, reason);
}

int agent_submit_pack(void *pack, unsigned int order, size_t size, const char *source,
		      const struct agent_pull_ops *ops, void *arg)
{
	int rc;

	if (!pack || !size || !ops || !ops->done || order != page_order_for(size))
		return -KE_INVAL;
	if (pull.ops)
		return -KE_BUSY;	/* the last outcome is still on its way */
	pull.ops = ops;
	pull.arg = arg;
	strncpy(pull.source, source ? source : "pull", sizeof(pull.source) - 1);
	pull.source[sizeof(pull.source) - 1] = '\0';
	pull.verified_work.fn = pull_verified_on_net;
	pull.done_work.fn = pull_done_on_net;
	memset(&pull.job, 0, sizeof(pull.job));
	pull.job.pack = pack;
	pull.job.size = size;
	pull.job.source = pull.source;
	pull.job.done = pull_done;
	pull.job.verified = pull_verified;
	pull.job.hold = true;
	rc = agent_submit_job(&pull.job);
	if (rc) {
		pull.ops = NULL;
		return -KE_BUSY;	/* not claimed with agent_pull_claim() */
	}
	klog("ota", "downloaded bytes=%zu source=%s", size, pull.source);
	return 0;
}