/*
 * The agent's HTTP/1.1 server on TCP port 8080 (see agent.h): GET
 * /status, PUT /update. Every callback runs on the network thread, which
 * must never wait: nothing here blocks, sleeps or takes a lock held
 * across anything slow (agent_lock and the log lock only).
 *
 * Bounded state, bounded time (docs/architecture.md, "Network and the
 * OTA agent"):
 *   - AGENT_MAX_CONNS request slots, each holding one connection from its
 *     accept until its answer is queued; then the connection is handed
 *     back to the stack, which finishes sending and closing on its own
 *     (and may take its slot for a new client, net.h tcp_close()).
 *   - A new connection with every slot busy takes the slot of the
 *     head-reader idle the longest (half-open and slow clients give way to
 *     new ones); if every slot holds a request being served (an upload,
 *     its verdict), the new one is refused. Either way the one left out
 *     gets 503 with Retry-After at once.
 *   - The request head must be complete AGENT_HEAD_MS after the accept
 *     (408). An upload must not pause longer than AGENT_UPLOAD_IDLE_MS and
 *     must average AGENT_UPLOAD_MIN_BPS once AGENT_UPLOAD_GRACE_MS have
 *     passed (408, the upload slot is free again).
 *   - One upload at a time (the agent's pack slot); a second PUT gets 409.
 *     Its verdict comes back from the ota thread through a netif_work the
 *     upload record owns (posting cannot fail) and goes to the connection
 *     whose id the upload recorded: if that one is gone, the verdict is
 *     dropped (and counted), never sent to whoever holds its slot now.
 * Per-request log lines (busy, refused, timeouts, bad requests) are
 * limited to AGENT_LOG_PER_S a second, the rest counted in one line.
 *
 * Locking: the connection table, the counters and the upload record's
 * receive side belong to the network thread. The ota thread writes the
 * record's answer in done() and posts the work; the upload was submitted
 * with hold, so the pack slot stays taken (a new PUT gets 409) until the
 * network thread answered and called agent_release().
 */
#include <stdio.h>
#include <string.h>
#include <kernel/agent.h>
#include <kernel/http.h>
#include <kernel/net.h>
#include <kernel/netif.h>
#include <kernel/persist.h>
#include <kernel/escape.h>
#include <kernel/log.h>
#include <kernel/timer.h>
#include <kernel/riscv.h>
#include <kernel/errno.h>
#include <kernel/stage_stats.h>

#define AGENT_MAX_CONNS		40
#define AGENT_HEAD_MS		30000
#define AGENT_UPLOAD_IDLE_MS	10000
#define AGENT_UPLOAD_GRACE_MS	10000
#define AGENT_UPLOAD_MIN_BPS	1024
#define AGENT_RETRY_FULL_S	1	/* Retry-After of a 503 */
#define AGENT_RETRY_BUSY_S	5	/* Retry-After of a 409 */
#define AGENT_LOG_PER_S		10

enum conn_phase {
	CONN_FREE,
	CONN_HEAD,	/* reading the request head */
	CONN_BODY,	/* receiving the pack */
	CONN_VERDICT,	/* the pack is with the ota thread */
};

struct conn {
	enum conn_phase phase;
	uint32_t id;		/* never reused (wraps after 2^32 connections) */
	struct tcp_pcb *pcb;
	uint64_t since_ms;	/* accepted; in CONN_BODY: the upload started */
	uint64_t last_ms;	/* the last byte from the peer */
	size_t received;	/* body bytes */
	struct http_req req;
};

static struct conn conns[AGENT_MAX_CONNS];
static uint32_t next_id = 1;
static struct agent_http_stats stats;

static struct {
	struct agent_job job;
	uint32_t conn_id;		/* who sent it */
	struct netif_work work;		/* the answer's way back */
	int http;
	char body[6 * AGENT_DETAIL_MAX + 160];
} up;

static struct {
	uint64_t window_ms;
	unsigned int lines, suppressed;
} logrl;

static uint64_t now_ms(void)
{
	return timer_freq_hz ? rdtime() * 1000ULL / timer_freq_hz : 0;
}

/* A new one-second window of the log limit; says how many lines the last one dropped. */
static void log_window(uint64_t now)
{
	if (now - logrl.window_ms < 1000)
		return;
	if (logrl.suppressed)
		klog("ota", "log suppressed lines=%u", logrl.suppressed);
	logrl.window_ms = now;
	logrl.lines = 0;
	logrl.suppressed = 0;
}

/* Whether a per-request line may go out now (at most AGENT_LOG_PER_S a second). */
static bool log_ok(void)
{
	log_window(now_ms());
	if (logrl.lines < AGENT_LOG_PER_S) {
		logrl.lines++;
		return true;
	}
	logrl.suppressed++;
	return false;
}

void agent_http_get_stats(struct agent_http_stats *s)
{
	unsigned int open = 0;

	for (int i = 0; i < AGENT_MAX_CONNS; i++)
		open += conns[i].phase != CONN_FREE;
	*s = stats;
	s->open = open;
}

/* --- connections ------------------------------------------------------- */

/* The slot is free again; the pcb (if any) is the stack's from now on. */
static void conn_release(struct conn *c)
{
	if (c->pcb)
		tcp_set_arg(c->pcb, NULL);
	c->pcb = NULL;
	c->phase = CONN_FREE;
}

static struct conn *conn_by_id(uint32_t id)
{
	for (int i = 0; i < AGENT_MAX_CONNS; i++)
		if (conns[i].phase != CONN_FREE && conns[i].id == id)
			return &conns[i];
	return NULL;
}

/*
 * Queues the answer, closes, and gives the connection to the stack (which
 * sends what is queued, then FIN). Works on a pcb no slot holds too (503).
 */
static void send_answer(struct tcp_pcb *pcb, int status, const char *extra, const char *body)
{
	char head[224];
	size_t blen = strlen(body);
	int n = snprintf(head, sizeof(head),
			 "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
			 "Content-Length: %zu\r\n%sConnection: close\r\n\r\n",
			 status, http_reason(status), blen, extra ? extra : "");

	if (n < 0 || (size_t)n >= sizeof(head) || tcp_write(pcb, head, (size_t)n) != (size_t)n ||
	    tcp_write(pcb, body, blen) != blen)
		tcp_abort(pcb);		/* cannot answer whole: never half an answer */
	else
		tcp_close(pcb);
}

static void respond(struct conn *c, int status, const char *extra, const char *body)
{
	struct tcp_pcb *pcb = c->pcb;

	conn_release(c);
	stats.answered++;
	if (pcb)
		send_answer(pcb, status, extra, body);
}

static void error_body(char *out, size_t len, const char *res, const char *detail)
{
	char esc[256];

	snprintf(out, len, "{\"result\": \"%s\", \"detail\": \"%s\"}\n", res,
		 esc_json(esc, sizeof(esc), detail));
}

static void respond_error(struct conn *c, int status, const char *res, const char *detail)
{
	char body[320];

	error_body(body, sizeof(body), res, detail);
	respond(c, status, NULL, body);
}

static void respond_busy(struct conn *c, int status, int retry_s, const char *res,
			 const char *detail)
{
	char body[320], extra[32];

	error_body(body, sizeof(body), res, detail);
	snprintf(extra, sizeof(extra), "Retry-After: %d\r\n", retry_s);
	respond(c, status, extra, body);
}

/* --- uploads ----------------------------------------------------------- */

static void upload_abort(struct conn *c, const char *why)
{
	agent_pack_free(up.job.pack, up.job.size);
	up.job.pack = NULL;
	klog("ota", "rejected reason=%s bytes=%zu of %lld", why, c->received,
	     c->req.content_length);
	agent_event("upload %s after %zu bytes", why, c->received);
	agent_abandon(AGENT_RES_CONN_LOST, why);
}

/* The ota thread's verdict (runs there): the answer, then back to the network thread. */
static void upload_done(struct agent_job *j)
{
	char esc[6 * AGENT_DETAIL_MAX];
	enum update_result r = j->result;

	up.http = r == UPDATE_OK ? 200 : r == UPDATE_ERR_BUSY ? 409
		: r == UPDATE_ERR_NOSPACE ? 507 : r == UPDATE_ERR_STORAGE ? 500 : 422;
	snprintf(up.body, sizeof(up.body),
		 "{\"result\": \"%s\", \"reason\": \"%s\", \"seq\": %u, \"detail\": \"%s\"}\n",
		 agent_result_name(j->lwm2m), update_result_name(r), j->seq,
		 esc_json(esc, sizeof(esc), j->detail));
	klog("ota", "result=%s http=%d", update_result_name(r), up.http);
	netif_post(&up.work);	/* the slot stays ours (job.hold) until it ran */
}

static void upload_answer(struct net_stack *ns, void *arg)
{
	struct conn *c = conn_by_id(up.conn_id);

	if (c && c->phase == CONN_VERDICT) {
		respond(c, up.http, NULL, up.body);
	} else {
		stats.answers_dropped++;
		klog("ota", "answer dropped conn=%u http=%d: the client is gone", up.conn_id,
		     up.http);
	}
	agent_release();
}

static void log_rejected(const char *reason, const char *detail)
{
	if (log_ok())
		klog("ota", "rejected reason=%s detail=\"%s\"", reason, detail);
}

/* Claims the upload slot for @c, or answers why not. */
static void upload_start(struct conn *c)
{
	long long len = c->req.content_length;
	struct persist_summary ps;
	uint32_t ip;

	if (len <= 0) {
		stats.bad++;
		respond_error(c, len < 0 ? 411 : 400, "bad-request", "a pack needs a Content-Length");
		return;
	}
	if (agent_claim("http")) {
		log_rejected("busy", "an update is in progress");
		respond_busy(c, 409, AGENT_RETRY_BUSY_S, "busy", "an update is in progress");
		return;
	}
	persist_get_summary(&ps);
	if (ps.persistent && (uint64_t)len > ps.max_pack) {
		/* It could never be journaled: say so before it is sent. */
		klog("ota", "rejected reason=no-space bytes=%lld max_pack=%lu", len,
		     (unsigned long)ps.max_pack);
		agent_abandon(AGENT_RES_NO_STORAGE, "no-space");
		respond_error(c, 507, agent_result_name(AGENT_RES_NO_STORAGE),
			      "the journal has no room for it");
		return;
	}
	up.job.pack = agent_pack_alloc((size_t)len);
	if (!up.job.pack) {
		agent_abandon(AGENT_RES_NO_MEMORY, "out-of-memory");
		respond_busy(c, 503, AGENT_RETRY_BUSY_S, "out-of-memory", "no room for the pack");
		return;
	}
	up.job.size = (size_t)len;
	up.job.source = "http";
	up.job.done = upload_done;
	up.job.hold = true;
	up.conn_id = c->id;
	c->phase = CONN_BODY;
	c->received = 0;
	c->since_ms = c->last_ms = now_ms();
	ip = tcp_remote_ip(c->pcb);
	klog("ota", "receiving bytes=%lld from=%u.%u.%u.%u:%u", len, ip >> 24, (ip >> 16) & 255,
	     (ip >> 8) & 255, ip & 255, tcp_remote_port(c->pcb));
	if (c->req.expect_continue)
		tcp_write(c->pcb, "HTTP/1.1 100 Continue\r\n\r\n", 25);
}

static void body_bytes(struct conn *c, const char *data, size_t len)
{
	size_t room = up.job.size - c->received;

	if (len > room) {
		/* More than Content-Length said: not a pack we can trust. */
		upload_abort(c, "length-mismatch");
		respond_error(c, 400, "bad-request", "body longer than Content-Length");
		return;
	}
	memcpy((char *)up.job.pack + c->received, data, len);
	c->received += len;
	if (c->received < up.job.size)
		return;
	c->phase = CONN_VERDICT;
	klog("ota", "downloaded bytes=%zu", up.job.size);
	stage_begin(STAGE_HANDOFF);	/* ended by the ota thread when it starts checking */
	if (agent_submit_job(&up.job)) {
		upload_abort(c, "internal");
		respond_error(c, 500, "update-failed", "the pack could not be handed over");
	}
}

/* --- requests ------------------------------------------------------------ */

static void route(struct conn *c)
{
	struct http_req *r = &c->req;

	if (!strcmp(r->path, "/status")) {
		static char body[4096];

		if (strcmp(r->method, "GET")) {
			stats.bad++;
			respond_error(c, 405, "bad-request", "use GET /status");
			return;
		}
		agent_status_json(body, sizeof(body));
		respond(c, 200, NULL, body);
	} else if (!strcmp(r->path, "/update")) {
		if (strcmp(r->method, "PUT") && strcmp(r->method, "POST")) {
			stats.bad++;
			respond_error(c, 405, "bad-request", "use PUT /update");
		} else {
			upload_start(c);
		}
	} else {
		stats.bad++;
		respond_error(c, 404, "bad-request", "no such resource");
	}
}

/* Gives the connection back without an answer (the peer sent no request). */
static void close_quietly(struct conn *c)
{
	struct tcp_pcb *pcb = c->pcb;

	conn_release(c);
	stats.gone++;
	if (pcb)
		tcp_close(pcb);
}

/* The peer finished sending (FIN). */
static void on_peer_fin(struct conn *c)
{
	if (c->phase == CONN_BODY) {
		upload_abort(c, "truncated");
		/* Answer (the peer may still read) and close: the slot must come free. */
		respond_error(c, 400, "connection-lost", "body shorter than Content-Length");
	} else if (c->phase == CONN_HEAD) {
		close_quietly(c);
	}
	/* CONN_VERDICT: the peer may still read; the verdict comes. */
}

static void on_head_bytes(struct conn *c, const char *data, size_t len)
{
	size_t used = http_feed(&c->req, data, len, AGENT_MAX_PACK);

	if (c->req.state == HTTP_ERROR) {
		stats.bad++;
		if (log_ok())
			klog("ota", "bad request status=%d", c->req.status);
		respond_error(c, c->req.status, "bad-request", http_reason(c->req.status));
		return;
	}
	if (c->req.state != HTTP_BODY)
		return;
	route(c);
	/* Body bytes nobody asked for (after a GET, an early answer) are dropped. */
	if (c->phase == CONN_BODY && used < len)
		body_bytes(c, data + used, len - used);
}

static void on_received(void *arg, struct tcp_pcb *pcb, const void *data, size_t len)
{
	struct conn *c = arg;

	if (len)
		tcp_recved(pcb, len);	/* consumed at once: the pack buffer is ours */
	if (!c)
		return;			/* answered already: the rest is drained */
	if (!len) {
		on_peer_fin(c);
		return;
	}
	c->last_ms = now_ms();
	if (c->phase == CONN_HEAD)
		on_head_bytes(c, data, len);
	else if (c->phase == CONN_BODY)
		body_bytes(c, data, len);
	/* CONN_VERDICT: bytes after the body are ignored. */
}

static void on_closed(void *arg, struct tcp_pcb *pcb, int why)
{
	struct conn *c = arg;

	if (!c)
		return;
	c->pcb = NULL;
	if (c->phase == CONN_BODY)
		upload_abort(c, why == TCP_CLOSED_TIMEOUT ? "timeout" : "connection-lost");
	/* CONN_VERDICT: the verdict will find the id gone and be dropped. */
	conn_release(c);
	stats.gone++;
}

static void timed_out(struct conn *c, const char *what, const char *detail)
{
	stats.timeouts++;
	if (log_ok())
		klog("ota", "timeout conn=%u in=%s", c->id, what);
	respond_busy(c, 408, AGENT_RETRY_FULL_S, "timeout", detail);
}

/* Every NET_TCP_POLL_MS: the head deadline and the upload's pace. */
static void on_poll(void *arg, struct tcp_pcb *pcb)
{
	struct conn *c = arg;
	uint64_t now = now_ms(), elapsed;

	log_window(now);	/* the count of a flood's dropped lines comes out after it */
	if (!c)
		return;
	if (c->phase == CONN_HEAD && now - c->since_ms >= AGENT_HEAD_MS) {
		timed_out(c, "head", "the request head took too long");
		return;
	}
	if (c->phase != CONN_BODY)
		return;
	elapsed = now - c->since_ms;
	if (now - c->last_ms >= AGENT_UPLOAD_IDLE_MS) {
		upload_abort(c, "stalled");
		timed_out(c, "body", "the upload stalled");
	} else if (elapsed >= AGENT_UPLOAD_GRACE_MS &&
		   (uint64_t)c->received * 1000 < AGENT_UPLOAD_MIN_BPS * elapsed) {
		upload_abort(c, "too-slow");
		timed_out(c, "body", "the upload is slower than the minimum rate");
	}
}

/* A slot for a new connection: a free one, or the longest idle head-reader's. */
static struct conn *conn_slot(uint64_t now)
{
	struct conn *idle = NULL;

	for (int i = 0; i < AGENT_MAX_CONNS; i++) {
		struct conn *c = &conns[i];

		if (c->phase == CONN_FREE)
			return c;
		if (c->phase == CONN_HEAD && (!idle || c->last_ms < idle->last_ms))
			idle = c;
	}
	if (!idle)
		return NULL;
	stats.evicted++;
	if (log_ok())
		klog("ota", "evicted conn=%u idle_ms=%lu: a new client needs the slot", idle->id,
		     (unsigned long)(now - idle->last_ms));
	respond_busy(idle, 503, AGENT_RETRY_FULL_S, "busy",
		     "idle while every request slot was needed");
	return idle;
}

static int on_accepted(void *arg, struct tcp_pcb *pcb)
{
	uint64_t now = now_ms();
	struct conn *c = conn_slot(now);

	if (!c) {
		char body[160];

		/* Full of clients that are all being served: say when to come back. */
		stats.refused++;
		if (log_ok())
			klog("ota", "refused reason=full conns=%d", AGENT_MAX_CONNS);
		error_body(body, sizeof(body), "busy", "too many connections");
		send_answer(pcb, 503, "Retry-After: 1\r\n", body);
		return 0;
	}
	memset(c, 0, sizeof(*c));
	c->phase = CONN_HEAD;
	if (!next_id)
		next_id = 1;	/* 0 names no connection */
	c->id = next_id++;
	c->pcb = pcb;
	c->since_ms = c->last_ms = now;
	http_init(&c->req);
	tcp_set_arg(pcb, c);
	stats.accepted++;
	return 0;
}

static const struct tcp_callbacks agent_cb = {
	.accepted = on_accepted,
	.received = on_received,
	.closed = on_closed,
	.poll = on_poll,
};

static void listen_on_net(struct net_stack *ns, void *arg)
{
	int rc = tcp_listen(ns, AGENT_PORT, &agent_cb, NULL);

	if (rc)
		klog("ota", "cannot listen on %d: %s", AGENT_PORT, err_name(rc));
	else
		klog("ota", "agent listening port=%d max_pack=%ld", AGENT_PORT, AGENT_MAX_PACK);
}

void agent_http_start(void)
{
	up.work.fn = upload_answer;
	up.work.arg = NULL;
	netif_run(listen_on_net, NULL);
}
