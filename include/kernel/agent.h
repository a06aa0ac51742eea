/*
 * The OTA agent: HTTP/1.1 on TCP port 8080 (update/agent_http.c),
 *   PUT /update   body = a pack (streamed into memory, size-limited)
 *   GET /status   JSON: ABI, board, class versions, last sequence number,
 *                 state and result in LwM2M firmware-object terms, events
 * and the path every pack takes from whatever brought it to the engine
 * (update/agent.c): one pack at a time, verified and applied on the `ota`
 * thread, its verdict handed back to the submitter.
 *
 * A transport (the HTTP server; the MQTT pull client through the
 * agent_pull_* wrappers below) does:
 *   agent_claim(source)          take the one pack slot, or -KE_BUSY
 *   p = agent_pack_alloc(size)   room for the pack, filled as it arrives
 *   agent_submit_job(&job)       with job.pack = p: the agent owns p now
 *     ... job.done(&job) later, on the ota thread, with the verdict;
 *     the slot is free again once done() returns (or, with job.hold,
 *     once the transport calls agent_release(): after it delivered the
 *     verdict elsewhere, so no second pack can overtake it)
 * or, when the download fails, agent_pack_free(p, size) and
 * agent_abandon(result, why) (e.g. AGENT_RES_CONN_LOST, "truncated").
 */
#ifndef KERNEL_AGENT_H
#define KERNEL_AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <kernel/update.h>

#define AGENT_PORT	8080
#define AGENT_MAX_PACK	(4L << 20)
#define AGENT_DETAIL_MAX 128

/* LwM2M firmware object (5): state (resource 3) and update result (resource 5). */
enum agent_state { AGENT_IDLE, AGENT_DOWNLOADING, AGENT_DOWNLOADED, AGENT_UPDATING };
enum agent_result {
	AGENT_RES_INITIAL = 0, AGENT_RES_SUCCESS = 1, AGENT_RES_NO_STORAGE = 2,
	AGENT_RES_NO_MEMORY = 3, AGENT_RES_CONN_LOST = 4, AGENT_RES_INTEGRITY = 5,
	AGENT_RES_UNSUPPORTED = 6, AGENT_RES_INVALID_URI = 7, AGENT_RES_FAILED = 8,
};

struct agent_job {
	/* Set by the submitter. */
	void *pack;			/* from agent_pack_alloc(size); the agent frees it */
	size_t size;
	const char *source;		/* "http", "mqtt": for the log */
	void (*done)(struct agent_job *j);	/* on the ota thread; may not block long */
	void (*verified)(struct agent_job *j);	/* optional, ota thread: checks passed */
	bool hold;			/* keep the slot after done(), until agent_release() */
	void *ctx;			/* the submitter's */
	/* The verdict, set before done(). */
	enum update_result result;
	enum agent_result lwm2m;
	uint32_t seq;			/* the device's last sequence number after it */
	char detail[AGENT_DETAIL_MAX];	/* raw text (may come from the pack): escape it */
};

/* Starts the agent once the network is up (no-op without a network). */
void agent_start(void);

/*
 * Takes the one pack slot for a download from @source; state becomes
 * downloading. 0, or -KE_BUSY while another pack is downloading, being
 * applied or on probation (or the engine is busy otherwise).
 */
int agent_claim(const char *source);

/*
 * The claimed download failed or was refused: @r and @why (a short reason
 * word) become the LwM2M result; the slot is free again.
 */
void agent_abandon(enum agent_result r, const char *why);

/*
 * Hands a complete pack to the ota thread (the slot must be claimed).
 * 0, or -KE_INVAL (no slot claimed, or a job already queued).
 */
int agent_submit_job(struct agent_job *j);

/* A job submitted with hold: its verdict is delivered, the slot is free. */
void agent_release(void);

/* Memory for a pack of @size bytes (page blocks), or NULL. */
void *agent_pack_alloc(size_t size);
void agent_pack_free(void *pack, size_t size);

/*
 * The GET /status JSON (one line, ending in a newline) into @out; returns
 * its length. Safe from any thread, including the network thread.
 */
size_t agent_status_json(char *out, size_t len);

/* Name of an LwM2M result ("success", "integrity-failure", ...). */
const char *agent_result_name(enum agent_result r);

/* A line for the recent-events ring of /status (printf-like, cut at 96 bytes). */
void agent_event(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * The LwM2M result of something that failed before the engine saw it
 * (out of memory, no room in the journal): kept, and persisted in the
 * background (safe on the network thread).
 */
void agent_note_result(enum agent_result r, const char *why);

/*
 * Pulled packs (update/pull.c), on the network thread: the same slot,
 * checks and ota thread as a PUT /update, with callbacks instead of an
 * HTTP answer (a wrapper of the calls above, update/agent.c).
 */
struct agent_pull_ops {
	/* The engine's checks passed; the state is "updating" (optional). */
	void (*verified)(void *arg);
	/* The outcome, durable: the state is idle again; @result is an agent_result. */
	void (*done)(void *arg, int result, const char *reason);
};

/* Claims the upload slot (state "downloading"); -KE_BUSY if a push or an update holds it. */
int agent_pull_claim(void);
/* A job refused or failed before submission: back to idle with @result and @reason. */
void agent_pull_refuse(int result, const char *reason, uint32_t job_seq);
/*
 * Hands a downloaded pack (page_alloc(@order), @size bytes, now the
 * agent's) to the ota thread, after agent_pull_claim(): the state becomes
 * "downloaded", then ops->verified and ops->done follow, both on the
 * network thread (the slot is free again before ops->done runs). 0,
 * -KE_INVAL, or -KE_BUSY if the slot was not claimed.
 */
int agent_submit_pack(void *pack, unsigned int order, size_t size, const char *source,
		      const struct agent_pull_ops *ops, void *arg);

/* Starts the HTTP server (agent_http.c), called by agent_start(). */
void agent_http_start(void);

/*
 * What the HTTP server has seen since boot (written by the network thread
 * only): accepted == answered + gone + open.
 */
struct agent_http_stats {
	unsigned int open;		/* connections holding a request slot now */
	uint64_t accepted;		/* connections taken into a request slot */
	uint64_t answered;		/* of those, answered (any status) */
	uint64_t gone;			/* of those, ended by the peer or the stack unanswered */
	uint64_t refused;		/* 503 at once, no slot: every request slot busy */
	uint64_t evicted;		/* 503: an idle head-reader gave way to a new client */
	uint64_t timeouts;		/* 408: head or upload too slow */
	uint64_t bad;			/* 4xx for the request itself */
	uint64_t answers_dropped;	/* an upload's verdict whose connection was gone */
};
void agent_http_get_stats(struct agent_http_stats *s);

#endif
