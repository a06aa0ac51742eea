/*
 * Pulled updates (issue 10; contract: DESIGN.md "Fleet over MQTT" and
 * docs/fleet.md): the board keeps a connection to an MQTT broker, takes
 * jobs from lukos/<id>/job, fetches the pack over HTTP and hands it to the
 * OTA agent's verify-and-apply path, and keeps lukos/<id>/state current.
 *
 *   update/pull_job.c     the job's JSON (pure, host-tested)
 *   update/mqtt.c         MQTT packets (pure, host-tested)
 *   update/http_client.c  HTTP/1.1 client pieces (pure, host-tested)
 *   update/mqtt_client.c  the MQTT session on the network thread
 *   update/pull_fetch.c   the HTTP download on the network thread
 *   update/pull.c         jobs, states, boot arguments
 *
 * Boot arguments: mqtt=<a.b.c.d>:<port> (nothing happens without it) and
 * id=<name> (letters, digits, `_ . : -`; default lukos-<MAC in hex>).
 */
#ifndef KERNEL_PULL_H
#define KERNEL_PULL_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#define PULL_JOB_MAX	1024	/* bytes of a job message; longer ones are bad jobs */
#define PULL_URL_MAX	256
#define PULL_ID_MAX	64

struct pull_job {
	uint32_t seq;
	long long size;			/* as given: the caller checks the range */
	char url[PULL_URL_MAX];		/* "" if it did not fit (a bad URL, not a bad job) */
	uint8_t sha256[32];
};

/*
 * Parses a job: a JSON object (RFC 8259, UTF-8) with at least "seq" (an
 * integer, 0 <= seq < 2^32), "url" (a string), "size" (an integer) and
 * "sha256" (64 lowercase hex digits); other members are ignored, a
 * repeated one counts with its last value. 0, or -KE_INVAL for anything
 * else (not JSON, a field missing or of the wrong type): a "bad-job".
 */
int pull_job_parse(const char *json, size_t len, struct pull_job *job);

/* A board id usable in topics: 1..PULL_ID_MAX-1 of [A-Za-z0-9_.:-]. */
bool pull_id_valid(const char *id);

/* Starts the pull client if the boot arguments have mqtt= (kernel only). */
void pull_start(const char *bootargs);

#endif
