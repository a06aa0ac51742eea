// fuzz-srcs: update/http.c update/http_head.c
/*
 * libFuzzer target: the OTA agent's HTTP/1.1 request parser (update/http.c).
 *
 * Input: [sel][n chunk sizes][request bytes...]
 *   sel bits 0-1  the body limit passed as max_body (the agent's 4 MiB, 0,
 *                 100, 2^40)
 *   sel bits 2-5  how many chunk-size bytes follow (0: one single chunk)
 * The request bytes are fed to http_feed() in chunks of those sizes, in
 * turn (a 0 size feeds an empty chunk), as TCP would hand them over, until
 * the head ends or the bytes run out.
 *
 * Checked beyond what ASan/UBSan see:
 *   - http_feed() never reports more bytes used than it was given, and uses
 *     all of them while the head is still open;
 *   - the head buffer never fills past HTTP_HEAD_MAX;
 *   - once the head is over, http_feed() takes nothing and changes nothing;
 *   - a finished head has a NUL-terminated upper-case method, a path that
 *     starts with '/', and -1 <= content_length <= max_body; an error has
 *     one of the documented statuses;
 *   - the split does not matter: the same bytes fed in one call give the
 *     same state, status, fields and head length.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <kernel/agent.h>
#include <kernel/http.h>

#define CHECK(cond)								\
	do {									\
		if (!(cond)) {							\
			fprintf(stderr, "fuzz_http: check failed: %s (line %d)\n",	\
				#cond, __LINE__);				\
			abort();						\
		}								\
	} while (0)

static const long long max_bodies[4] = { AGENT_MAX_PACK, 0, 100, 1LL << 40 };

static void check_done(const struct http_req *r, long long max_body)
{
	static const int statuses[] = { 400, 411, 413, 414, 431, 501, 505 };
	size_t i;
	int known = 0;

	CHECK(r->used <= HTTP_HEAD_MAX);
	switch (r->state) {
	case HTTP_HEAD:
		break;
	case HTTP_BODY:
		CHECK(memchr(r->method, '\0', sizeof(r->method)));
		CHECK(r->method[0] >= 'A' && r->method[0] <= 'Z');
		for (i = 0; r->method[i]; i++)
			CHECK(r->method[i] >= 'A' && r->method[i] <= 'Z');
		CHECK(memchr(r->path, '\0', sizeof(r->path)));
		CHECK(r->path[0] == '/');
		for (i = 0; r->path[i]; i++)
			CHECK((unsigned char)r->path[i] > ' ' && (unsigned char)r->path[i] < 0x7f);
		CHECK(r->content_length >= -1 && r->content_length <= max_body);
		CHECK(r->used >= 4 && !memcmp(r->head + r->used - 4, "\r\n\r\n", 4));
		break;
	case HTTP_ERROR:
		for (i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++)
			known |= r->status == statuses[i];
		CHECK(known);
		CHECK(strcmp(http_reason(r->status), "Unknown") != 0);
		break;
	default:
		CHECK(!"state out of range");
	}
}

/* A finished request takes no more bytes and stays as it is. */
static void check_closed(struct http_req *r, long long max_body)
{
	static const char more[] = "GET / HTTP/1.1\r\n\r\n";
	struct http_req before;

	if (r->state == HTTP_HEAD)
		return;
	memcpy(&before, r, sizeof(before));
	CHECK(http_feed(r, more, sizeof(more) - 1, max_body) == 0);
	CHECK(!memcmp(&before, r, sizeof(before)));
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t n);

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t n)
{
	static struct http_req r, whole;
	const uint8_t *sizes;
	const char *data;
	size_t nsizes, len, off = 0, k = 0, used, zeros = 0;
	long long max_body;

	if (n < 1)
		return 0;
	max_body = max_bodies[in[0] & 3];
	nsizes = (in[0] >> 2) & 15;
	if (n < 1 + nsizes)
		return 0;
	sizes = in + 1;
	data = (const char *)in + 1 + nsizes;
	len = n - 1 - nsizes;

	http_init(&r);
	while (off < len && r.state == HTTP_HEAD) {
		size_t chunk = nsizes ? sizes[k++ % nsizes] : len;

		if (chunk == 0 && ++zeros > nsizes)
			chunk = 1;	/* only zero sizes: do not spin */
		if (chunk > len - off)
			chunk = len - off;
		used = http_feed(&r, data + off, chunk, max_body);
		CHECK(used <= chunk);
		CHECK(r.state != HTTP_HEAD || used == chunk);
		CHECK(r.used <= HTTP_HEAD_MAX);
		off += used;
		if (chunk)
			zeros = 0;
	}
	check_done(&r, max_body);

	http_init(&whole);
	used = http_feed(&whole, data, len, max_body);
	check_done(&whole, max_body);
	CHECK(used == off);
	CHECK(whole.state == r.state);
	CHECK(whole.used == r.used);
	if (r.state == HTTP_ERROR)
		CHECK(whole.status == r.status);
	if (r.state == HTTP_BODY) {
		CHECK(!strcmp(whole.method, r.method));
		CHECK(!strcmp(whole.path, r.path));
		CHECK(whole.content_length == r.content_length);
		CHECK(whole.expect_continue == r.expect_continue);
		CHECK(whole.close == r.close);
	}
	check_closed(&r, max_body);
	return 0;
}
