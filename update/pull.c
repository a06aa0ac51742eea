/*
 * Pulled updates (see pull.h): the board's side of "Fleet over MQTT".
 * The MQTT session (mqtt_client.c) delivers jobs from lukos/<id>/job;
 * a job is checked, its pack downloaded (pull_fetch.c) into a page block
 * like a push's, then handed to the OTA agent (agent_submit_pack), whose
 * ota thread verifies and applies it exactly as a pushed pack. The state
 * (the JSON of GET /status plus "job") goes to lukos/<id>/state, retained,
 * once at every step of a job (downloading, downloaded, updating, idle),
 * and, between jobs, whenever it changes (a push, say: checked every second).
 *
 * Rules from docs/fleet.md: a job byte-for-byte identical to the last one
 * handled is ignored (the retained job comes back on every reconnect); one
 * job at a time, a newer one waits; a refused job changes nothing but the
 * result; "job" is the seq of the job being or last handled.
 *
 * Locking: everything runs on the network thread, through netif_run();
 * the "pull" thread only queues a tick every 100 ms (tick_queued is
 * atomic), and pull_start() runs once at boot before either exists.
 */
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <kernel/pull.h>
#include <kernel/agent.h>
#include <kernel/mqtt_client.h>
#include <kernel/http_client.h>
#include <kernel/netif.h>
#include <kernel/devtree.h>
#include <kernel/update.h>
#include <kernel/persist.h>
#include <kernel/sha256.h>
#include <kernel/thread.h>
#include <kernel/mem.h>
#include <kernel/log.h>
#include <kernel/errno.h>
#include <kernel/timer.h>
#include <kernel/riscv.h>
#include "pull_priv.h"

#define PULL_TICK_US		100000
#define PULL_CHECK_MS		1000	/* how often the state is compared with the last sent */
#define PULL_KEEPALIVE_S	30
#define STATE_MAX		4096

static const char will_payload[] = "{\"state\": \"offline\"}";

static struct {
	char id[PULL_ID_MAX];
	char topic_job[PULL_ID_MAX + 16], topic_state[PULL_ID_MAX + 16];
	char agent[PULL_ID_MAX + 8];
	uint32_t broker_ip;
	uint16_t broker_port, keepalive;

	/* Jobs. */
	bool busy;			/* one is being downloaded or applied */
	bool handled;			/* any job handled since boot */
	bool have_last;
	uint8_t last[32];		/* digest of the last job handled (or being) */
	uint32_t job;			/* "job" of the state */
	struct pull_job cur;
	void *pack;
	unsigned int order;
	bool has_pending, pending_retained;
	uint8_t pending_hash[32];
	size_t pending_len, pending_full_len;
	char pending[PULL_JOB_MAX];

	/* The state message. */
	bool dirty, have_sent;
	uint8_t sent[32];		/* digest of the last one queued */
	uint64_t next_check;
	char state[STATE_MAX + 32];
} pl;

static volatile uint32_t tick_queued;	/* a tick waits in netif_run's queue */

static uint64_t now_ms(void)
{
	return timer_freq_hz ? rdtime() * 1000ULL / timer_freq_hz : 0;
}

/* --- the state message ----------------------------------------------------- */

static void publish_state(bool force)
{
	size_t len = agent_status_json(pl.state, STATE_MAX);
	char *end = NULL;
	uint8_t digest[32];

	while (len && !end)	/* the object's closing brace, before its newline */
		if (pl.state[--len] == '}')
			end = pl.state + len;
	if (!end)
		return;
	len = (size_t)(end - pl.state);
	len += (size_t)snprintf(end, sizeof(pl.state) - len, ", \"job\": %u}", pl.job);
	sha256(pl.state, len, digest);
	if (!force && pl.have_sent && !memcmp(digest, pl.sent, sizeof(digest))) {
		pl.dirty = false;
		return;
	}
	if (mqttc_publish(pl.topic_state, pl.state, len, 1, true)) {
		pl.dirty = true;	/* not connected, or every slot waits: when one frees */
		return;
	}
	memcpy(pl.sent, digest, sizeof(digest));
	pl.have_sent = true;
	pl.dirty = false;
}

/* --- jobs ------------------------------------------------------------------- */

static void refuse(int result, const char *reason)
{
	agent_pull_refuse(result, reason, pl.job);
	pl.busy = false;
	publish_state(false);
}

static void on_verified(void *arg)
{
	publish_state(false);
}

static void on_done(void *arg, int result, const char *reason)
{
	pl.busy = false;
	publish_state(false);
}

static const struct agent_pull_ops pull_ops = {
	.verified = on_verified,
	.done = on_done,
};

static void fetch_done(int result, const char *reason)
{
	if (result != AGENT_RES_SUCCESS) {
		page_free(pl.pack, pl.order);
		pl.pack = NULL;
		refuse(result, reason);
		return;
	}
	if (agent_submit_pack(pl.pack, pl.order, pl.cur.size, "mqtt", &pull_ops, NULL)) {
		page_free(pl.pack, pl.order);
		pl.pack = NULL;
		refuse(AGENT_RES_FAILED, "busy");
		return;
	}
	pl.pack = NULL;		/* the agent's now */
	publish_state(false);
}

/* A claimed job: refuse it or start its download. */
static void start_job(struct net_stack *ns, bool parsed)
{
	struct persist_summary ps;
	struct httpc_url url;
	long long size = pl.cur.size;

	if (!parsed) {
		refuse(AGENT_RES_UNSUPPORTED, "bad-job");
		return;
	}
	pl.job = pl.cur.seq;
	if (pl.cur.seq <= update_last_seq()) {
		refuse(AGENT_RES_UNSUPPORTED, "replay");
		return;
	}
	if (httpc_parse_url(pl.cur.url, &url)) {
		refuse(AGENT_RES_INVALID_URI, "bad-url");
		return;
	}
	if (size <= 0 || size > AGENT_MAX_PACK) {
		refuse(AGENT_RES_NO_STORAGE, "too-large");
		return;
	}
	persist_get_summary(&ps);
	if (ps.persistent && (uint64_t)size > ps.max_pack) {
		refuse(AGENT_RES_NO_STORAGE, "no-space");	/* the journal could never hold it */
		return;
	}
	pl.order = page_order_for((size_t)size);
	pl.pack = page_alloc(pl.order);
	if (!pl.pack) {
		refuse(AGENT_RES_NO_MEMORY, "out-of-memory");
		return;
	}
	klog("ota", "fetching url=%s bytes=%lld job=%u", pl.cur.url, size, pl.job);
	publish_state(false);
	fetch_start(ns, &url, pl.pack, (size_t)size, pl.cur.sha256, pl.agent, fetch_done);
}

/*
 * A job that is not the last one handled. With the slot busy (a push, or
 * an update still on probation) it waits as pending; false then.
 */
static bool handle(struct net_stack *ns, const char *payload, size_t kept, size_t full_len,
		   bool retained, const uint8_t digest[32])
{
	bool parsed = kept == full_len && !pull_job_parse(payload, kept, &pl.cur);

	/*
	 * After a reboot the retained job comes again. If its pack is already
	 * in (the journal replayed it), saying "replay" would report a
	 * failure of a job that succeeded: take note of it quietly instead.
	 */
	if (parsed && retained && !pl.handled && pl.cur.seq <= update_last_seq()) {
		memcpy(pl.last, digest, 32);
		pl.have_last = true;
		pl.job = pl.cur.seq;
		klog("mqtt", "job seq=%u already in (seq=%u): nothing to do", pl.cur.seq,
		     update_last_seq());
		publish_state(false);
		return true;
	}
	if (agent_pull_claim())
		return false;
	memcpy(pl.last, digest, 32);
	pl.have_last = true;
	pl.handled = true;
	pl.busy = true;
	if (parsed)
		klog("mqtt", "job seq=%u size=%lld url=%s", pl.cur.seq, pl.cur.size, pl.cur.url);
	else
		klog("mqtt", "job refused: not a job bytes=%zu", full_len);
	start_job(ns, parsed);
	return true;
}

static void keep_pending(const char *payload, size_t kept, size_t full_len, bool retained,
			 const uint8_t digest[32])
{
	memcpy(pl.pending, payload, kept);
	pl.pending_len = kept;
	pl.pending_full_len = full_len;
	pl.pending_retained = retained;
	memcpy(pl.pending_hash, digest, 32);
	pl.has_pending = true;
}

static void on_message(void *arg, const struct mqtt_publish *pub)
{
	size_t kept = pub->payload_kept < PULL_JOB_MAX ? pub->payload_kept : PULL_JOB_MAX;
	struct sha256_ctx ctx;
	uint8_t digest[32];
	uint64_t full = pub->payload_len;

	if (!pub->payload_len)
		return;		/* an empty retained message clears the topic: no job */
	sha256_init(&ctx);
	sha256_update(&ctx, &full, sizeof(full));
	sha256_update(&ctx, pub->payload, kept);
	sha256_final(&ctx, digest);
	if ((pl.have_last && !memcmp(digest, pl.last, 32)) ||
	    (pl.has_pending && !memcmp(digest, pl.pending_hash, 32))) {
		klog("mqtt", "job unchanged: ignored retained=%d", pub->retain);
		return;
	}
	if (pl.busy || !handle(netif_stack(), (const char *)pub->payload, kept, pub->payload_len,
			       pub->retain, digest))
		keep_pending((const char *)pub->payload, kept, pub->payload_len, pub->retain, digest);
}

static void run_pending(struct net_stack *ns)
{
	if (!pl.has_pending || pl.busy)
		return;
	if (handle(ns, pl.pending, pl.pending_len, pl.pending_full_len, pl.pending_retained,
		   pl.pending_hash))
		pl.has_pending = false;
}

/* --- the session's callbacks and the tick ------------------------------------ */

static void on_up(void *arg)
{
	publish_state(true);
}

static void on_slot_free(void *arg)
{
	if (pl.dirty)
		publish_state(false);
}

static void tick_on_net(struct net_stack *ns, void *arg)
{
	uint64_t now = now_ms();

	__atomic_store_n(&tick_queued, 0, __ATOMIC_RELEASE);
	mqttc_tick(ns);
	fetch_tick(ns);
	run_pending(ns);
	/*
	 * During a job only its steps are published (the classes change in
	 * probation too). While the broker is away, on_up() publishes anew.
	 */
	if (mqttc_ready() && (pl.dirty || (now >= pl.next_check && !pl.busy))) {
		pl.next_check = now + PULL_CHECK_MS;
		publish_state(false);
	}
}

static void pull_thread(void *arg)
{
	for (;;) {
		thread_sleep_us(PULL_TICK_US);
		if (!__atomic_exchange_n(&tick_queued, 1, __ATOMIC_ACQ_REL) &&
		    netif_run(tick_on_net, NULL))
			__atomic_store_n(&tick_queued, 0, __ATOMIC_RELEASE);
	}
}

static void start_on_net(struct net_stack *ns, void *arg)
{
	struct mqttc_config c = {
		.ip = pl.broker_ip,
		.port = pl.broker_port,
		.client_id = pl.id,
		.keepalive_s = pl.keepalive,
		.will = { pl.topic_state, will_payload, sizeof(will_payload) - 1, 1, true },
		.topic = pl.topic_job,
		.qos = 1,
		.on_up = on_up,
		.on_message = on_message,
		.on_slot_free = on_slot_free,
	};

	mqttc_start(&c);
}

/* --- boot arguments ------------------------------------------------------------ */

/* a.b.c.d:port */
static int parse_broker(const char *s, uint32_t *ip, uint16_t *port)
{
	char url[64];
	struct httpc_url u;

	/* The URL parser knows dotted quads and ports; it wants a path. */
	if (snprintf(url, sizeof(url), "http://%s/", s) >= (int)sizeof(url) || !strchr(s, ':') ||
	    httpc_parse_url(url, &u))
		return -KE_INVAL;
	*ip = u.ip;
	*port = u.port;
	return 0;
}

void pull_start(const char *bootargs)
{
	char val[96];
	uint8_t mac[6];
	int rc;

	if (dt_bootarg(bootargs, "mqtt", val, sizeof(val)))
		return;
	if (!netif_stack()) {
		klog("mqtt", "no network: pull updates off");
		return;
	}
	if (parse_broker(val, &pl.broker_ip, &pl.broker_port)) {
		klog("mqtt", "bad mqtt=%s (want <a.b.c.d>:<port>): pull updates off", val);
		return;
	}
	rc = dt_bootarg(bootargs, "id", pl.id, sizeof(pl.id));
	if (rc != -KE_NOENT && (rc || !pull_id_valid(pl.id))) {
		klog("mqtt", "bad id=%s (1 to %d of letters, digits, _ . : -): using the MAC",
		     rc ? "(too long)" : pl.id, PULL_ID_MAX - 1);
		pl.id[0] = '\0';
	}
	if (!pl.id[0] && !netif_get_mac(mac))
		snprintf(pl.id, sizeof(pl.id), "lukos-%02x%02x%02x%02x%02x%02x", mac[0], mac[1], mac[2],
			 mac[3], mac[4], mac[5]);
	pl.keepalive = PULL_KEEPALIVE_S;
	if (!dt_bootarg(bootargs, "mqtt_keepalive", val, sizeof(val))) {
		long k = strtol(val, NULL, 10);

		if (k >= 2 && k <= 3600)
			pl.keepalive = (uint16_t)k;
	}
	snprintf(pl.topic_job, sizeof(pl.topic_job), "lukos/%s/job", pl.id);
	snprintf(pl.topic_state, sizeof(pl.topic_state), "lukos/%s/state", pl.id);
	snprintf(pl.agent, sizeof(pl.agent), "lukos/%s", pl.id);
	if (netif_run(start_on_net, NULL) ||
	    !thread_create("pull", pull_thread, NULL, THREAD_ANY_HART))
		klog("mqtt", "cannot start: pull updates off");
}
