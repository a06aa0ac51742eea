/*
 * The OTA agent: HTTP/1.1 on TCP port 8080.
 *   PUT /update   body = a pack (streamed into memory, size-limited)
 *   GET /status   JSON: ABI, board, class versions, last sequence number,
 *                 state and result in LwM2M firmware-object terms, events
 */
#ifndef KERNEL_AGENT_H
#define KERNEL_AGENT_H

#include <stddef.h>
#include <stdint.h>

#define AGENT_PORT	8080
#define AGENT_MAX_PACK	(4L << 20)

/* Starts the agent once the network is up (no-op without a network). */
void agent_start(void);

/*
 * Pulled packs (update/pull.c): the same slot, checks and ota thread as a
 * PUT /update, entered from the network thread.
 *
 * LwM2M firmware update results (object 5, resource 5), as in GET /status.
 */
enum agent_result {
	AGENT_RES_INITIAL, AGENT_RES_SUCCESS, AGENT_RES_NO_STORAGE, AGENT_RES_NO_MEMORY,
	AGENT_RES_CONN_LOST, AGENT_RES_INTEGRITY, AGENT_RES_UNSUPPORTED, AGENT_RES_INVALID_URI,
	AGENT_RES_FAILED,
};

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
 * network thread. 0, -KE_INVAL, or -KE_BUSY if the slot was not claimed.
 */
int agent_submit_pack(void *pack, unsigned int order, size_t size, const char *source,
		      const struct agent_pull_ops *ops, void *arg);
/* The JSON of GET /status, into @out; returns its length. */
size_t agent_status_json(char *out, size_t len);

#endif
