/*
 * A small HTTP/1.1 request parser for the OTA agent (pure; host-tested).
 * It takes bytes as they arrive, in any split, and stops at the end of
 * the headers: the body is the caller's. Anything it does not like ends
 * in an error status to answer (and then close the connection).
 */
#ifndef KERNEL_HTTP_H
#define KERNEL_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#define HTTP_HEAD_MAX	2048	/* request line + headers */

enum http_state {
	HTTP_HEAD,	/* reading the request line and headers */
	HTTP_BODY,	/* headers done: content_length body bytes follow */
	HTTP_ERROR,	/* malformed: answer `status` and close */
};

struct http_req {
	enum http_state state;
	int status;			/* in HTTP_ERROR: 400, 411, 413, 414, 431, 501, 505 */
	char method[8];
	char path[64];
	long long content_length;	/* -1 when absent */
	bool expect_continue;		/* "Expect: 100-continue" */
	bool close;			/* "Connection: close" */
	size_t used;
	char head[HTTP_HEAD_MAX];
};

void http_init(struct http_req *r);

/*
 * Feeds @len bytes. Returns how many were consumed as head; once the state
 * is HTTP_BODY the rest of @data (from the returned offset) is body.
 * @max_body: a larger Content-Length is refused with 413.
 */
size_t http_feed(struct http_req *r, const char *data, size_t len, long long max_body);

/* Reason phrase of a status code. */
const char *http_reason(int status);

#endif
