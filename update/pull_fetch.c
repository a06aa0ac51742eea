/*
 * The download of a pulled pack (see pull_priv.h): HTTP/1.1 GETs over the
 * kernel's TCP stack into the caller's buffer, hashing as bytes arrive,
 * resuming with `Range: bytes=<have>-` (and If-Range with the ETag) after
 * a dropped or stalled connection, up to FETCH_TRIES requests with
 * exponential backoff. The request/response pieces are
 * update/http_client.c; this file is the connection and the policy.
 *
 * Everything runs on the network thread (TCP callbacks and fetch_tick);
 * one download at a time; no locks.
 */
#include <stdio.h>
#include <string.h>
#include <kernel/net.h>
#include <kernel/agent.h>
#include <kernel/sha256.h>
#include <kernel/log.h>
#include <kernel/timer.h>
#include <kernel/riscv.h>
#include "pull_priv.h"

enum fetch_state { FS_IDLE, FS_WAIT, FS_CONNECTING, FS_HEAD, FS_BODY };

static struct {
	enum fetch_state state;
	struct httpc_url url;
	uint8_t *buf;
	size_t size, have;
	uint8_t want[32];
	const char *agent;
	fetch_done_fn done;
	struct tcp_pcb *pcb;
	struct sha256_ctx sha;
	char etag[HTTPC_ETAG_MAX];
	unsigned int tries, requests;
	size_t bytes;			/* received in bodies, resumes included */
	long long expect;		/* body bytes this response frames; -1: until close */
	size_t got;			/* body bytes of this response */
	uint64_t next_try, idle_at, started;
	char req[512];
	struct httpc_resp resp;
} fx;

static uint64_t now_ms(void)
{
	return timer_freq_hz ? rdtime() * 1000ULL / timer_freq_hz : 0;
}

static const struct tcp_callbacks fetch_cb;

static void drop_pcb(bool abort)
{
	struct tcp_pcb *pcb = fx.pcb;

	fx.pcb = NULL;		/* callbacks for it are ignored from now on */
	if (pcb)
		abort ? tcp_abort(pcb) : tcp_close(pcb);
}

static void finish(int result, const char *reason)
{
	drop_pcb(result != AGENT_RES_SUCCESS);
	fx.state = FS_IDLE;
	if (result == AGENT_RES_SUCCESS)
		klog("ota", "fetched bytes=%zu requests=%u ms=%llu", fx.have, fx.requests,
		     (unsigned long long)(now_ms() - fx.started));
	else
		klog("ota", "fetch failed reason=%s have=%zu of %zu requests=%u", reason, fx.have,
		     fx.size, fx.requests);
	fx.done(result, reason);
}

static void restart_body(void)
{
	fx.have = 0;
	sha256_init(&fx.sha);
}

/* This request got nowhere (dropped, stalled, a range we did not ask for): try again, or give up. */
static void try_failed(const char *why)
{
	uint32_t wait;

	drop_pcb(true);
	if (++fx.tries >= FETCH_TRIES) {
		finish(AGENT_RES_CONN_LOST, "fetch-failed");
		return;
	}
	wait = FETCH_BACKOFF_MS << (fx.tries - 1);
	klog("ota", "fetch interrupted reason=%s have=%zu of %zu try=%u retry_ms=%u", why, fx.have,
	     fx.size, fx.tries, wait);
	fx.state = FS_WAIT;
	fx.next_try = now_ms() + wait;
}

static void connect_now(struct net_stack *ns)
{
	fx.requests++;
	fx.pcb = tcp_connect(ns, fx.url.ip, fx.url.port, &fetch_cb, NULL);
	fx.state = FS_CONNECTING;
	fx.idle_at = now_ms() + FETCH_IDLE_MS;
	if (!fx.pcb)
		try_failed("no-tcp-slot");
}

static int on_accepted(void *arg, struct tcp_pcb *pcb)
{
	size_t n;

	if (pcb != fx.pcb)
		return 0;
	n = httpc_request(fx.req, sizeof(fx.req), &fx.url, fx.have, fx.etag, fx.agent);
	httpc_init(&fx.resp);
	fx.state = FS_HEAD;
	fx.idle_at = now_ms() + FETCH_IDLE_MS;
	if (fx.have)
		klog("ota", "fetch resuming from=%zu try=%u", fx.have, fx.tries + 1);
	if (!n || tcp_write(pcb, fx.req, n) != n)
		finish(AGENT_RES_CONN_LOST, "bad-url");
	return 0;
}

/* The head is in: what does this response mean for what we hold? */
static void head_done(void)
{
	char why[24];

	switch (httpc_plan_body(&fx.resp, fx.have, fx.size)) {
	case HTTPC_APPEND:
		fx.expect = fx.resp.content_length;
		break;
	case HTTPC_RESTART:
		if (fx.have)
			klog("ota", "fetch restarting status=200 dropped=%zu", fx.have);
		restart_body();
		snprintf(fx.etag, sizeof(fx.etag), "%s", fx.resp.etag);
		fx.expect = fx.resp.content_length;
		break;
	case HTTPC_RETRY:
		restart_body();
		fx.etag[0] = '\0';
		try_failed("unexpected-range");
		return;
	case HTTPC_BAD_SIZE:
		finish(AGENT_RES_INTEGRITY, "size-mismatch");
		return;
	case HTTPC_BAD_ENCODING:
		finish(AGENT_RES_CONN_LOST, "bad-http");
		return;
	case HTTPC_BAD_STATUS:
		snprintf(why, sizeof(why), "http-%d", fx.resp.status);
		finish(fx.resp.status == 404 || fx.resp.status == 403 || fx.resp.status == 410 ?
		       AGENT_RES_INVALID_URI : AGENT_RES_CONN_LOST, why);
		return;
	}
	fx.state = FS_BODY;
	fx.got = 0;
}

static void complete(void)
{
	uint8_t got[32];

	if (fx.have != fx.size) {
		finish(AGENT_RES_INTEGRITY, "size-mismatch");
		return;
	}
	sha256_final(&fx.sha, got);
	if (memcmp(got, fx.want, sizeof(got))) {
		finish(AGENT_RES_INTEGRITY, "sha256-mismatch");
		return;
	}
	finish(AGENT_RES_SUCCESS, "ok");
}

static void body(const uint8_t *d, size_t n)
{
	if (fx.expect >= 0 && fx.got + n > (size_t)fx.expect)
		n = (size_t)fx.expect - fx.got;	/* nothing may follow: Connection: close */
	if (fx.have + n > fx.size) {
		finish(AGENT_RES_INTEGRITY, "size-mismatch");
		return;
	}
	memcpy(fx.buf + fx.have, d, n);
	sha256_update(&fx.sha, d, n);
	fx.have += n;
	fx.got += n;
	fx.bytes += n;
	if (fx.expect >= 0 && fx.got == (size_t)fx.expect)
		complete();
}

static void on_received(void *arg, struct tcp_pcb *pcb, const void *data, size_t len)
{
	const char *d = data;

	if (pcb != fx.pcb) {
		tcp_recved(pcb, len);
		return;
	}
	if (!len) {		/* the server is done sending */
		if (fx.state == FS_BODY && fx.expect < 0)
			complete();		/* the body ended with the connection */
		else
			try_failed("closed");
		return;
	}
	tcp_recved(pcb, len);
	fx.idle_at = now_ms() + FETCH_IDLE_MS;
	if (fx.state == FS_HEAD) {
		size_t used = httpc_feed(&fx.resp, d, len);

		if (fx.resp.state == HTTPC_ERROR) {
			finish(AGENT_RES_CONN_LOST, "bad-http");
			return;
		}
		d += used;
		len -= used;
		if (fx.resp.state == HTTPC_BODY)
			head_done();
	}
	if (len && fx.state == FS_BODY && pcb == fx.pcb)
		body((const uint8_t *)d, len);
}

static void on_sent(void *arg, struct tcp_pcb *pcb, size_t acked)
{
}

static void on_closed(void *arg, struct tcp_pcb *pcb, int reason)
{
	if (pcb != fx.pcb)
		return;
	fx.pcb = NULL;
	try_failed(reason == TCP_CLOSED_RESET ? "reset" : reason == TCP_CLOSED_TIMEOUT ? "timeout"
										       : "closed");
}

static const struct tcp_callbacks fetch_cb = {
	.accepted = on_accepted,
	.received = on_received,
	.sent = on_sent,
	.closed = on_closed,
};

void fetch_start(struct net_stack *ns, const struct httpc_url *u, void *buf, size_t size,
		 const uint8_t sha256[32], const char *agent, fetch_done_fn done)
{
	drop_pcb(true);
	memset(&fx.url, 0, sizeof(fx.url));
	fx.url = *u;
	fx.buf = buf;
	fx.size = size;
	memcpy(fx.want, sha256, sizeof(fx.want));
	fx.agent = agent;
	fx.done = done;
	fx.etag[0] = '\0';
	fx.tries = 0;
	fx.requests = 0;
	fx.bytes = 0;
	fx.started = now_ms();
	restart_body();
	connect_now(ns);
}

void fetch_tick(struct net_stack *ns)
{
	uint64_t now = now_ms();

	if (fx.state == FS_WAIT && now >= fx.next_try)
		connect_now(ns);
	else if ((fx.state == FS_CONNECTING || fx.state == FS_HEAD || fx.state == FS_BODY) &&
		 now >= fx.idle_at)
		try_failed("stalled");
}

void fetch_stats(unsigned int *requests, size_t *bytes)
{
	*requests = fx.requests;
	*bytes = fx.bytes;
}
