/*
 * The OTA agent (see agent.h).
 *
 * Two contexts: the network thread runs every TCP callback (the stack is
 * single-threaded, include/kernel/net.h); the `ota` thread verifies and
 * applies a received pack (which takes long and may wait for quiescence),
 * then hands the answer back to the network thread with netif_run().
 * Locking: agent_lock guards the LwM2M state, the upload slot and the
 * event ring, which both contexts touch; connection state belongs to the
 * network thread alone.
 *
 * One upload at a time: a second PUT while one is downloading or being
 * applied (or while the engine still watches the last one) gets 409. A
 * garbage request gets 400 and the connection is closed. Nothing here
 * blocks the network thread.
 *
 * Pulled packs (update/pull.c) enter through agent_pull_claim() and
 * agent_submit_pack() at the end of this file: the same slot, the same
 * ota thread and verify_and_apply(), with callbacks instead of an HTTP
 * answer.
 */
#include <stdio.h>
#include <string.h>
#include <kernel/agent.h>
#include <kernel/http.h>
#include <kernel/net.h>
#include <kernel/irq.h>
#include <kernel/netif.h>
#include <kernel/update.h>
#include <kernel/update_engine.h>
#include <kernel/object.h>
#include <kernel/thread.h>
#include <kernel/mem.h>
#include <kernel/log.h>
#include <kernel/spinlock.h>
#include <kernel/errno.h>
#include <kernel/persist.h>
#include <kernel/stage_stats.h>

#define MAX_CONNS	4
#define NEVENTS		8
#define EVENT_LEN	96
#define OUT_MAX		4096

/* LwM2M firmware object (5): state (resource 3) and update result (resource 5). */
enum lwm2m_state { ST_IDLE, ST_DOWNLOADING, ST_DOWNLOADED, ST_UPDATING };
enum lwm2m_result {
	RES_INITIAL = 0, RES_SUCCESS = 1, RES_NO_STORAGE = 2, RES_NO_MEMORY = 3,
	RES_CONN_LOST = 4, RES_INTEGRITY = 5, RES_UNSUPPORTED = 6, RES_INVALID_URI = 7,
	RES_FAILED = 8,
};

static const char *const state_names[] = { "idle", "downloading", "downloaded", "updating" };
static const char *const result_names[] = {
	"initial", "success", "not-enough-flash", "out-of-memory", "connection-lost",
	"integrity-failure", "unsupported-package", "invalid-uri", "update-failed",
};

struct conn {
	bool in_use;
	bool dead;			/* the peer went away while its pack was applied */
	struct tcp_pcb *pcb;
	struct http_req req;
	bool uploading;
	size_t received;
};

struct job {
	struct conn *conn;
	void *pack;
	unsigned int order;
	size_t size;
	int http;
	char body[512];
	const struct agent_pull_ops *pull;	/* a pulled pack: tell pull.c, not a connection */
	void *pull_arg;
	char source[16];
};

static struct conn conns[MAX_CONNS];
static struct spinlock agent_lock = SPINLOCK_INIT("agent");
static enum lwm2m_state state;
static enum lwm2m_result result;
static char reason[32] = "none";
static char events[NEVENTS][EVENT_LEN];
static unsigned int nevents;
static struct job job;			/* the one upload in flight */
static struct waitq job_wq = WAITQ_INIT(job_wq);
static volatile bool job_ready;

/* --- state and events --------------------------------------------------- */

static void event(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void event(const char *fmt, ...)
{
	va_list ap;

	spin_lock(&agent_lock);
	va_start(ap, fmt);
	vsnprintf(events[nevents++ % NEVENTS], EVENT_LEN, fmt, ap);
	va_end(ap);
	spin_unlock(&agent_lock);
}

static void set_state(enum lwm2m_state s)
{
	spin_lock(&agent_lock);
	state = s;
	spin_unlock(&agent_lock);
}

static void set_result_state(enum lwm2m_result r, const char *why)
{
	spin_lock(&agent_lock);
	result = r;
	strncpy(reason, why, sizeof(reason) - 1);
	reason[sizeof(reason) - 1] = '\0';
	state = ST_IDLE;
	spin_unlock(&agent_lock);
}

/* LwM2M wants the result to survive a restart: the network thread must not wait for it. */
static void set_result(enum lwm2m_result r, const char *why)
{
	set_result_state(r, why);
	persist_save_state(ST_IDLE, (uint8_t)r, why);
}

/* The ota thread answers a push only once its result is durable. */
static void set_result_durable(enum lwm2m_result r, const char *why)
{
	set_result_state(r, why);
	persist_save_state_now(ST_IDLE, (uint8_t)r, why);
}

static enum lwm2m_result lwm2m_of(enum update_result r)
{
	switch (r) {
	case UPDATE_OK:
		return RES_SUCCESS;
	case UPDATE_ERR_INTEGRITY:
		return RES_INTEGRITY;
	case UPDATE_ERR_NOMEM:
		return RES_NO_MEMORY;
	case UPDATE_ERR_NOSPACE:
		return RES_NO_STORAGE;
	case UPDATE_ERR_STORAGE:
	case UPDATE_ERR_LINK:
	case UPDATE_ERR_SELFTEST:
	case UPDATE_ERR_TIMEOUT:
	case UPDATE_ERR_ROLLED_BACK:
	case UPDATE_ERR_BUSY:
		return RES_FAILED;
	default:
		return RES_UNSUPPORTED;
	}
}

/* --- responses (network thread) --------------------------------------- */

static void respond(struct conn *c, int status, const char *body)
{
	char head[160];
	int n = snprintf(head, sizeof(head),
			 "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
			 "Content-Length: %zu\r\nConnection: close\r\n\r\n",
			 status, http_reason(status), strlen(body));

	if (!c->pcb)
		return;
	tcp_write(c->pcb, head, (size_t)n);
	tcp_write(c->pcb, body, strlen(body));
	tcp_close(c->pcb);
}

static void respond_error(struct conn *c, int status, const char *res, const char *detail)
{
	char body[256];

	snprintf(body, sizeof(body), "{\"result\": \"%s\", \"detail\": \"%s\"}\n", res, detail);
	respond(c, status, body);
}

static size_t status_json(char *out, size_t len);

/* --- uploads (network thread) ------------------------------------------ */

static void upload_abort(struct conn *c, const char *why)
{
	spin_lock(&agent_lock);
	page_free(job.pack, job.order);
	job.pack = NULL;
	spin_unlock(&agent_lock);
	c->uploading = false;
	klog("ota", "rejected reason=%s bytes=%zu of %lld", why, c->received,
	     c->req.content_length);
	event("upload %s after %zu bytes", why, c->received);
	set_result(RES_CONN_LOST, why);
}

/* Claims the upload slot for @c; answers and returns false if it cannot. */
static bool upload_start(struct conn *c)
{
	long long len = c->req.content_length;
	struct persist_summary ps;
	unsigned int order;
	bool busy;

	if (len <= 0) {
		respond_error(c, len < 0 ? 411 : 400, "bad-request", "a pack needs a Content-Length");
		return false;
	}
	spin_lock(&agent_lock);
	busy = job.pack || state != ST_IDLE || update_busy;
	spin_unlock(&agent_lock);
	if (busy) {
		klog("ota", "rejected reason=busy detail=\"an update is in progress\"");
		respond_error(c, 409, "busy", "an update is in progress");
		return false;
	}
	persist_get_summary(&ps);
	if (ps.persistent && (uint64_t)len > ps.max_pack) {
		/* It could never be journaled: say so before it is sent. */
		klog("ota", "rejected reason=no-space bytes=%lld max_pack=%lu", len,
		     (unsigned long)ps.max_pack);
		set_result(RES_NO_STORAGE, "no-space");
		respond_error(c, 507, result_names[RES_NO_STORAGE], "the journal has no room for it");
		return false;
	}
	order = page_order_for((size_t)len);
	job.pack = page_alloc(order);
	if (!job.pack) {
		set_result(RES_NO_MEMORY, "out-of-memory");
		respond_error(c, 503, "out-of-memory", "no room for the pack");
		return false;
	}
	job.order = order;
	job.size = (size_t)len;
	job.conn = c;
	c->uploading = true;
	c->received = 0;
	set_state(ST_DOWNLOADING);
	klog("ota", "receiving bytes=%lld from=%u.%u.%u.%u:%u", len,
	     tcp_remote_ip(c->pcb) >> 24, (tcp_remote_ip(c->pcb) >> 16) & 255,
	     (tcp_remote_ip(c->pcb) >> 8) & 255, tcp_remote_ip(c->pcb) & 255,
	     tcp_remote_port(c->pcb));
	if (c->req.expect_continue)
		tcp_write(c->pcb, "HTTP/1.1 100 Continue\r\n\r\n", 25);
	return true;
}

static void upload_done(struct conn *c)
{
	c->uploading = false;
	set_state(ST_DOWNLOADED);
	klog("ota", "downloaded bytes=%zu", job.size);
	stage_begin(STAGE_HANDOFF);
	__atomic_store_n(&job_ready, true, __ATOMIC_RELEASE);
	waitq_wake_all(&job_wq);
}

static void route(struct conn *c)
{
	struct http_req *r = &c->req;

	if (!strcmp(r->path, "/status")) {
		static char body[OUT_MAX];

		if (strcmp(r->method, "GET")) {
			respond_error(c, 405, "bad-request", "use GET /status");
			return;
		}
		status_json(body, sizeof(body));
		respond(c, 200, body);
	} else if (!strcmp(r->path, "/update")) {
		if (strcmp(r->method, "PUT") && strcmp(r->method, "POST"))
			respond_error(c, 405, "bad-request", "use PUT /update");
		else
			upload_start(c);
	} else {
		respond_error(c, 404, "bad-request", "no such resource");
	}
}

static void body_bytes(struct conn *c, const char *data, size_t len)
{
	size_t room = job.size - c->received;

	if (len > room) {
		/* More than Content-Length said: not a pack we can trust. */
		upload_abort(c, "length-mismatch");
		respond_error(c, 400, "bad-request", "body longer than Content-Length");
		return;
	}
	memcpy((char *)job.pack + c->received, data, len);
	c->received += len;
	if (c->received == job.size)
		upload_done(c);
}

static void on_received(void *arg, struct tcp_pcb *pcb, const void *data, size_t len)
{
	struct conn *c = arg;
	size_t used = 0;

	if (!len) {		/* the peer finished sending */
		if (c->uploading) {
			upload_abort(c, "truncated");
			/* Answer (the peer may still read) and close: the slot must come free. */
			respond_error(c, 400, "connection-lost", "body shorter than Content-Length");
		} else if (c->req.state == HTTP_HEAD) {
			tcp_close(pcb);
		}
		return;
	}
	tcp_recved(pcb, len);	/* everything is consumed at once: the pack buffer is ours */
	if (c->req.state == HTTP_HEAD) {
		used = http_feed(&c->req, data, len, AGENT_MAX_PACK);
		if (c->req.state == HTTP_ERROR) {
			klog("ota", "bad request status=%d", c->req.status);
			respond_error(c, c->req.status, "bad-request", http_reason(c->req.status));
			return;
		}
		if (c->req.state == HTTP_BODY)
			route(c);
	}
	/* Body bytes nobody asked for (e.g. after a GET) are dropped. */
	if (c->uploading && used < len)
		body_bytes(c, (const char *)data + used, len - used);
}

static void on_sent(void *arg, struct tcp_pcb *pcb, size_t acked)
{
}

static void on_closed(void *arg, struct tcp_pcb *pcb, int why)
{
	struct conn *c = arg;

	if (c->uploading)
		upload_abort(c, why == TCP_CLOSED_TIMEOUT ? "timeout" : "connection-lost");
	c->pcb = NULL;
	spin_lock(&agent_lock);
	if (job.conn == c && job.pack)
		c->dead = true;		/* the ota thread still owns the pack; it frees the slot */
	else
		c->in_use = false;
	spin_unlock(&agent_lock);
}

static int on_accepted(void *arg, struct tcp_pcb *pcb)
{
	for (int i = 0; i < MAX_CONNS; i++)
		if (!conns[i].in_use) {
			memset(&conns[i], 0, sizeof(conns[i]));
			conns[i].in_use = true;
			conns[i].pcb = pcb;
			http_init(&conns[i].req);
			tcp_set_arg(pcb, &conns[i]);
			return 0;
		}
	return -1;	/* all busy: refused */
}

static const struct tcp_callbacks agent_cb = {
	.accepted = on_accepted,
	.received = on_received,
	.sent = on_sent,
	.closed = on_closed,
};

/* --- status ------------------------------------------------------------ */

struct json_buf {
	char *out;
	size_t len, n;
	bool first;
};

static void add_class(struct factory *f, void *arg)
{
	struct json_buf *j = arg;

	if (j->n < j->len)
		j->n += (size_t)snprintf(j->out + j->n, j->len - j->n, "%s\"%s\": %u",
					 j->first ? "" : ", ", factory_class(f)->name,
					 factory_class(f)->version);
	j->first = false;
}

static size_t status_json(char *out, size_t len)
{
	struct json_buf j = { out, len, 0, true };
	struct persist_summary ps;

	j.n = (size_t)snprintf(out, len, "{\"abi\": \"%s\", \"board\": \"%s\", \"classes\": {",
			       KERNEL_ABI, PLAT_NAME);
	factory_for_each(add_class, &j);
	spin_lock(&agent_lock);
	if (j.n < len)
		j.n += (size_t)snprintf(out + j.n, len - j.n,
					"}, \"seq\": %u, \"state\": \"%s\", \"result\": \"%s\", "
					"\"result_code\": %d, \"reason\": \"%s\", \"events\": [",
					update_last_seq(), state_names[state], result_names[result],
					(int)result, reason);
	for (unsigned int i = nevents > NEVENTS ? nevents - NEVENTS : 0; i < nevents && j.n < len; i++)
		j.n += (size_t)snprintf(out + j.n, len - j.n, "%s\"%s\"", i == 0 ||
					(nevents > NEVENTS && i == nevents - NEVENTS) ? "" : ", ",
					events[i % NEVENTS]);
	spin_unlock(&agent_lock);
	persist_get_summary(&ps);
	if (j.n < len)
		j.n += (size_t)snprintf(out + j.n, len - j.n,
					"], \"persistent\": %s, \"safe_mode\": %s, \"journal\": "
					"{\"entries\": %u, \"committed\": %u, \"used\": %lu, "
					"\"free\": %lu, \"max_pack\": %lu}}\n",
					ps.persistent ? "true" : "false",
					ps.safe_mode ? "true" : "false", ps.entries, ps.committed,
					(unsigned long)ps.used, (unsigned long)ps.free,
					(unsigned long)ps.max_pack);
	return j.n < len ? j.n : len - 1;
}

/* --- the ota thread ------------------------------------------------------ */

static void answer_on_net(struct net_stack *ns, void *arg)
{
	struct job *jb = arg;
	struct conn *c = jb->conn;

	if (!c->dead)
		respond(c, jb->http, jb->body);
	spin_lock(&agent_lock);
	if (c->dead)
		c->in_use = false;
	jb->conn = NULL;
	spin_unlock(&agent_lock);
}

/* The engine's checks passed (signature, hashes, chain): linking comes next. */
static void pull_verified_on_net(struct net_stack *ns, void *arg);

static void on_verified(uint32_t seq, unsigned int steps)
{
	klog("ota", "verified seq=%u steps=%u", seq, steps);
	set_state(ST_UPDATING);
	if (job.pull)
		netif_run(pull_verified_on_net, &job);
}

static enum update_result verify_and_apply(struct job *jb, char *err, size_t errlen)
{
	enum update_result r;

	stage_end(STAGE_HANDOFF);
	/* One pass: the engine checks the pack once and tells us when it passed. */
	update_verified_hook = on_verified;
	r = update_apply_pack(jb->pack, jb->size);
	update_verified_hook = NULL;
	if (r != UPDATE_OK) {
		strncpy(err, update_last_detail(), errlen - 1);
		err[errlen - 1] = '\0';
	}
	if (r == UPDATE_OK) {
		update_wait_idle();	/* probation: commit or rollback decides */
		r = update_last_result;
		if (r != UPDATE_OK) {
			strncpy(err, update_last_detail(), errlen - 1);
			err[errlen - 1] = '\0';
		}
	}
	return r;
}

static void pull_finished(enum lwm2m_result res, const char *why);

static void ota_main(void *arg)
{
	for (;;) {
		enum update_result r;
		char err[128] = "";

		spin_lock(&agent_lock);
		while (!job_ready)
			waitq_wait(&job_wq, &agent_lock);
		job_ready = false;
		spin_unlock(&agent_lock);
		r = verify_and_apply(&job, err, sizeof(err));
		stage_report(update_last_seq());
		if (r != UPDATE_OK)
			klog("ota", "rejected reason=%s detail=\"%s\"", update_result_name(r), err);
		set_result_durable(lwm2m_of(r), update_result_name(r));
		event("seq=%u %s", update_last_seq(), update_result_name(r));
		job.http = r == UPDATE_OK ? 200 : r == UPDATE_ERR_BUSY ? 409
			 : r == UPDATE_ERR_NOSPACE ? 507 : r == UPDATE_ERR_STORAGE ? 500 : 422;
		snprintf(job.body, sizeof(job.body),
			 "{\"result\": \"%s\", \"reason\": \"%s\", \"seq\": %u, \"detail\": \"%s\"}\n",
			 result_names[lwm2m_of(r)], update_result_name(r), update_last_seq(), err);
		if (job.pull) {
			pull_finished(lwm2m_of(r), update_result_name(r));
			continue;
		}
		klog("ota", "result=%s http=%d", update_result_name(r), job.http);
		spin_lock(&agent_lock);
		page_free(job.pack, job.order);
		job.pack = NULL;
		spin_unlock(&agent_lock);
		netif_run(answer_on_net, &job);
	}
}

static void listen_on_net(struct net_stack *ns, void *arg)
{
	int rc = tcp_listen(ns, AGENT_PORT, &agent_cb, NULL);

	if (rc)
		klog("ota", "cannot listen on %d: %s", AGENT_PORT, err_name(rc));
	else
		klog("ota", "agent listening port=%d max_pack=%ld", AGENT_PORT, AGENT_MAX_PACK);
}

void agent_start(void)
{
	uint8_t st, res;

	if (!netif_stack())
		return;
	if (persist_saved_state(&st, &res, reason, sizeof(reason)) && res <= RES_FAILED)
		result = (enum lwm2m_result)res;	/* the state itself restarts idle */
	/* Beside the network thread: a received pack is handed over without an IPI. */
	thread_create("ota", ota_main, NULL, IRQ_HART_INDEX);
	netif_run(listen_on_net, NULL);
}

/* --- pulled packs (update/pull.c) ----------------------------------------- */

/* What the ota thread hands to the network thread: the slot may be reused by then. */
static struct {
	const struct agent_pull_ops *ops;
	void *arg;
	int result;
	char reason[32];
} pull_done;

/* If the update already finished (job.pull is gone), done() follows and says it all. */
static void pull_verified_on_net(struct net_stack *ns, void *arg)
{
	struct job *jb = arg;
	const struct agent_pull_ops *ops;
	void *parg;

	spin_lock(&agent_lock);
	ops = jb->pull;
	parg = jb->pull_arg;
	spin_unlock(&agent_lock);
	if (ops && ops->verified)
		ops->verified(parg);
}

static void pull_done_on_net(struct net_stack *ns, void *arg)
{
	pull_done.ops->done(pull_done.arg, pull_done.result, pull_done.reason);
}

/* The ota thread: the result is durable; free the slot and tell pull.c. */
static void pull_finished(enum lwm2m_result res, const char *why)
{
	klog("ota", "result=%s source=%s", why, job.source);
	pull_done.ops = job.pull;
	pull_done.arg = job.pull_arg;
	pull_done.result = (int)res;
	strncpy(pull_done.reason, why, sizeof(pull_done.reason) - 1);
	spin_lock(&agent_lock);
	page_free(job.pack, job.order);
	job.pack = NULL;
	job.pull = NULL;
	spin_unlock(&agent_lock);
	netif_run(pull_done_on_net, NULL);
}

int agent_pull_claim(void)
{
	bool busy;

	spin_lock(&agent_lock);
	busy = job.pack || state != ST_IDLE || update_busy;
	if (!busy)
		state = ST_DOWNLOADING;
	spin_unlock(&agent_lock);
	return busy ? -KE_BUSY : 0;
}

void agent_pull_refuse(int result, const char *reason, uint32_t job_seq)
{
	klog("ota", "rejected reason=%s job=%u", reason, job_seq);
	event("job=%u %s", job_seq, reason);
	set_result((enum lwm2m_result)result, reason);
}

int agent_submit_pack(void *pack, unsigned int order, size_t size, const char *source,
		      const struct agent_pull_ops *ops, void *arg)
{
	if (!pack || !size || !ops || !ops->done)
		return -KE_INVAL;
	spin_lock(&agent_lock);
	if (job.pack || state != ST_DOWNLOADING) {
		spin_unlock(&agent_lock);
		return -KE_BUSY;	/* not claimed with agent_pull_claim() */
	}
	job.pack = pack;
	job.order = order;
	job.size = size;
	job.conn = NULL;
	job.pull = ops;
	job.pull_arg = arg;
	strncpy(job.source, source ? source : "pull", sizeof(job.source) - 1);
	job.source[sizeof(job.source) - 1] = '\0';
	state = ST_DOWNLOADED;
	spin_unlock(&agent_lock);
	klog("ota", "downloaded bytes=%zu source=%s", size, job.source);
	__atomic_store_n(&job_ready, true, __ATOMIC_RELEASE);
	waitq_wake_all(&job_wq);
	return 0;
}

size_t agent_status_json(char *out, size_t len)
{
	return status_json(out, len);
}
