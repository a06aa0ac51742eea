/*
 * Between update/pull.c (jobs) and update/pull_fetch.c (the download).
 * Both run on the network thread only.
 */
#ifndef UPDATE_PULL_PRIV_H
#define UPDATE_PULL_PRIV_H

#include <stddef.h>
#include <stdint.h>
#include <kernel/http_client.h>

#define FETCH_TRIES		6	/* requests per job before fetch-failed */
#define FETCH_IDLE_MS		10000	/* no byte for this long: the request failed */
#define FETCH_BACKOFF_MS	200	/* before the second try; doubles */

struct net_stack;

/*
 * The outcome of a download: @result an agent_result (AGENT_RES_SUCCESS
 * when the bytes are there, of the right size and hash) and the reason
 * for the state message ("ok", "http-404", "size-mismatch", ...).
 */
typedef void (*fetch_done_fn)(int result, const char *reason);

/*
 * Downloads @u into @buf, exactly @size bytes whose SHA-256 is @sha256,
 * resuming with Range after a dropped connection. @agent names the board
 * in User-Agent. done() is called once, from a later callback or tick.
 */
void fetch_start(struct net_stack *ns, const struct httpc_url *u, void *buf, size_t size,
		 const uint8_t sha256[32], const char *agent, fetch_done_fn done);
void fetch_tick(struct net_stack *ns);
/* Requests made and bytes received for the current (or last) download. */
void fetch_stats(unsigned int *requests, size_t *bytes);

#endif
