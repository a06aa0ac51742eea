/*
 * HTTP/1.1 client pieces for pulled packs (pure; host-tested in
 * test/unit/test_http_client.c): the job's URL, the GET request with its
 * Range for resuming, a response-head parser that takes bytes in any
 * split, and the decision what a response's body means for a download
 * that already holds some bytes. The connection itself is
 * update/pull_fetch.c's.
 *
 * The board has no DNS: a URL's host is a dotted IPv4 address.
 */
#ifndef KERNEL_HTTP_CLIENT_H
#define KERNEL_HTTP_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#define HTTPC_PATH_MAX		200
#define HTTPC_HEAD_MAX		4096	/* status line + headers */
#define HTTPC_ETAG_MAX		80

struct httpc_url {
	uint32_t ip;			/* host order */
	uint16_t port;
	char host[24];			/* "a.b.c.d:port", for the Host header */
	char path[HTTPC_PATH_MAX + 1];	/* from the first '/', without a fragment */
};

/* http://a.b.c.d[:port]/path -> 0, or -KE_INVAL (any other form). */
int httpc_parse_url(const char *url, struct httpc_url *u);

/*
 * A GET of @u; from byte @from on (Range) when @from > 0, and only if the
 * file is still the one of @etag (If-Range) when @etag is non-empty.
 * Returns the length written, 0 if it does not fit.
 */
size_t httpc_request(char *out, size_t cap, const struct httpc_url *u, uint64_t from,
		     const char *etag, const char *agent);

enum httpc_state { HTTPC_HEAD, HTTPC_BODY, HTTPC_ERROR };

struct httpc_resp {
	enum httpc_state state;
	int status;
	long long content_length;	/* -1: none (the body ends when the server closes) */
	bool has_range;			/* a valid Content-Range: bytes first-last/total */
	uint64_t range_first, range_last;
	long long range_total;		/* -1 for "*" */
	bool chunked;			/* any Transfer-Encoding */
	bool close;			/* Connection: close */
	char etag[HTTPC_ETAG_MAX];	/* a strong ETag, "" if none */
	size_t used;
	char head[HTTPC_HEAD_MAX];
};

void httpc_init(struct httpc_resp *r);
/*
 * Feeds bytes of the response. Returns how many belonged to the head; once
 * the state is HTTPC_BODY, the rest of @data is body. Interim 1xx answers
 * are skipped. A head that is malformed or too long: HTTPC_ERROR.
 */
size_t httpc_feed(struct httpc_resp *r, const char *data, size_t len);

/* What a response means for a download of @size bytes holding @have. */
enum httpc_plan {
	HTTPC_APPEND,		/* 206 from byte @have on: append */
	HTTPC_RESTART,		/* 200: the whole file from byte 0 */
	HTTPC_RETRY,		/* 206 for a range not asked for: drop it, start over */
	HTTPC_BAD_SIZE,		/* the file is not @size bytes long */
	HTTPC_BAD_STATUS,	/* another status (the caller reports http-<code>) */
	HTTPC_BAD_ENCODING,	/* a Transfer-Encoding (not asked for, not supported) */
};
enum httpc_plan httpc_plan_body(const struct httpc_resp *r, uint64_t have, uint64_t size);

#endif
