// unit-srcs: update/http_client.c update/http_head.c src/errno.c
/*
 * The HTTP/1.1 client pieces of pulled packs (update/http_client.c): job
 * URLs accepted and refused, the GET with and without Range/If-Range,
 * response heads in any split (interim 1xx skipped, malformed ones
 * refused), and what each kind of response means for a download that
 * already holds some bytes (append, restart, retry, wrong size, bad
 * status or encoding).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <kernel/http_client.h>
#include <kernel/errno.h>

static void test_url_accepted(void **state)
{
	struct httpc_url u;

	assert_int_equal(httpc_parse_url("http://10.0.2.100:8000/packs/a.itb", &u), 0);
	assert_int_equal(u.ip, 0x0a000264);
	assert_int_equal(u.port, 8000);
	assert_string_equal(u.host, "10.0.2.100:8000");
	assert_string_equal(u.path, "/packs/a.itb");
	assert_int_equal(httpc_parse_url("HTTP://1.2.3.4/x?v=1#frag", &u), 0);
	assert_int_equal(u.port, 80);
	assert_string_equal(u.path, "/x?v=1");
	assert_string_equal(u.host, "1.2.3.4:80");
	assert_int_equal(httpc_parse_url("http://0.0.0.0:65535/", &u), 0);
	assert_string_equal(u.path, "/");
}

static void test_url_refused(void **state)
{
	static const char *const bad[] = {
		"", "http://", "https://10.0.2.100/a", "ftp://10.0.2.100/a", "10.0.2.100/a",
		"http://10.0.2.100", "http://10.0.2.100:8000", "http://example.com/a",
		"http://10.0.2/a", "http://10.0.2.256/a", "http://10.0.2.1.5/a", "http://1000.0.2.1/a",
		"http://10.0.2.100:0/a", "http://10.0.2.100:65536/a", "http://10.0.2.100:/a",
		"http://10.0.2.100:80x/a", "http://user@10.0.2.100/a", "http://[::1]/a",
		"http://10.0.2.100/a b", "http://10.0.2.100/a\tb", "http://10.0.2.100/\x7f",
		"http://10.0.2.100/\xc3\xa9", "http://-1.0.2.100/a", "http://10.0.2.100:123456/a",
	};
	char longer[300] = "http://1.2.3.4/";
	struct httpc_url u;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (httpc_parse_url(bad[i], &u) != -KE_INVAL)
			fail_msg("accepted %s", bad[i]);
	memset(longer + 15, 'a', HTTPC_PATH_MAX);	/* 201 path bytes */
	assert_int_equal(httpc_parse_url(longer, &u), -KE_INVAL);
	longer[15 + HTTPC_PATH_MAX - 1] = '\0';	/* 200 */
	assert_int_equal(httpc_parse_url(longer, &u), 0);
	assert_int_equal(httpc_parse_url(NULL, &u), -KE_INVAL);
}

static void test_request(void **state)
{
	struct httpc_url u;
	char out[512];
	size_t n;

	assert_int_equal(httpc_parse_url("http://10.0.2.100:8000/p.itb", &u), 0);
	n = httpc_request(out, sizeof(out), &u, 0, "\"abc\"", "lukos/b1");
	assert_string_equal(out, "GET /p.itb HTTP/1.1\r\nHost: 10.0.2.100:8000\r\n"
			    "User-Agent: lukos/b1\r\nAccept-Encoding: identity\r\n"
			    "Connection: close\r\n\r\n");
	assert_int_equal(n, strlen(out));
	n = httpc_request(out, sizeof(out), &u, 5000, "\"abc\"", "lukos/b1");
	assert_non_null(strstr(out, "\r\nRange: bytes=5000-\r\nIf-Range: \"abc\"\r\n\r\n"));
	assert_int_equal(n, strlen(out));
	httpc_request(out, sizeof(out), &u, 5000, "", "lukos/b1");
	assert_non_null(strstr(out, "\r\nRange: bytes=5000-\r\n\r\n"));
	assert_null(strstr(out, "If-Range"));
	assert_int_equal(httpc_request(out, 40, &u, 5000, "", "lukos/b1"), 0);
	n = strlen("GET /p.itb HTTP/1.1\r\nHost: 10.0.2.100:8000\r\nUser-Agent: lukos/b1\r\n"
		   "Accept-Encoding: identity\r\nConnection: close\r\n\r\n");
	assert_int_equal(httpc_request(out, n, &u, 0, "", "lukos/b1"), 0);	/* no room for NUL */
	assert_int_equal(httpc_request(out, n + 1, &u, 0, "", "lukos/b1"), n);
}

static const char resp206[] =
	"HTTP/1.1 100 Continue\r\n\r\n"
	"HTTP/1.1 206 Partial Content\r\n"
	"Content-Type: application/octet-stream\r\n"
	"content-range:  bytes 5000-34464/34465 \r\n"
	"Content-Length: 29465\r\n"
	"ETag: \"1f2e-abc\"\r\n"
	"Connection: close\r\n"
	"\r\n"
	"BODY";

static void test_head_any_split(void **state)
{
	size_t total = strlen(resp206);

	for (size_t chunk = 1; chunk <= total; chunk++) {
		struct httpc_resp *r = malloc(sizeof(*r));
		size_t off = 0, body_at = 0;

		httpc_init(r);
		while (off < total && r->state == HTTPC_HEAD) {
			size_t n = total - off < chunk ? total - off : chunk;
			size_t used = httpc_feed(r, resp206 + off, n);

			off += used;
			if (r->state == HTTPC_BODY)
				body_at = off;
		}
		assert_int_equal(r->state, HTTPC_BODY);
		assert_string_equal(resp206 + body_at, "BODY");
		assert_int_equal(r->status, 206);
		assert_int_equal(r->content_length, 29465);
		assert_true(r->has_range);
		assert_int_equal(r->range_first, 5000);
		assert_int_equal(r->range_last, 34464);
		assert_int_equal(r->range_total, 34465);
		assert_string_equal(r->etag, "\"1f2e-abc\"");
		assert_true(r->close);
		assert_false(r->chunked);
		assert_int_equal(httpc_plan_body(r, 5000, 34465), HTTPC_APPEND);
		assert_int_equal(httpc_plan_body(r, 4000, 34465), HTTPC_RETRY);
		assert_int_equal(httpc_plan_body(r, 5000, 34466), HTTPC_BAD_SIZE);
		free(r);
	}
}

static int feed_str(struct httpc_resp *r, const char *s)
{
	httpc_init(r);
	httpc_feed(r, s, strlen(s));
	return r->state;
}

static void test_head_refused(void **state)
{
	static const char *const bad[] = {
		"HTTP/2 200 OK\r\n\r\n",
		"HTTP/1.1 2000 OK\r\n\r\n",
		"HTTP/1.1 20 OK\r\n\r\n",
		"HTTP/1.1 099 Odd\r\n\r\n",
		"HTTP/1.1 200OK\r\n\r\n",
		"ICY 200 OK\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 12x\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
		"HTTP/1.1 200 OK\r\nNoColon\r\n\r\n",
		"HTTP/1.1 200 OK\r\nName : v\r\n\r\n",
		"HTTP/1.1 200 OK\r\nA: b\r\n folded\r\n\r\n",
		"HTTP/1.1 200 OK\r\nA: b\rc\r\n\r\n",
		"HTTP/1.1 200 OK\r\nA(b): c\r\n\r\n",
		"HTTP/1.1 200 OK\r\n\tA: b\r\n\r\n",
	};
	struct httpc_resp *r = malloc(sizeof(*r));
	char *huge = malloc(HTTPC_HEAD_MAX + 64);

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (feed_str(r, bad[i]) != HTTPC_ERROR)
			fail_msg("accepted %s", bad[i]);
	/* Bare LFs never end a head (the download's timer ends the wait). */
	assert_int_equal(feed_str(r, "HTTP/1.1 200 OK\n\nbody"), HTTPC_HEAD);
	/* Names are tokens: digits and the token symbols too; only the exact name counts. */
	assert_int_equal(feed_str(r, "HTTP/1.1 200 OK\r\nX-B3-TraceId: 1\r\nContent-Lengthy: 9\r\n"
				 "X~y!: z\r\nContent-Length: 5\r\n\r\n"), HTTPC_BODY);
	assert_int_equal(r->content_length, 5);
	/* The same value twice is fine. */
	assert_int_equal(feed_str(r, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n"),
			 HTTPC_BODY);
	strcpy(huge, "HTTP/1.1 200 OK\r\nX: ");
	memset(huge + strlen(huge), 'a', HTTPC_HEAD_MAX);
	strcpy(huge + HTTPC_HEAD_MAX, "\r\n\r\n");
	assert_int_equal(feed_str(r, huge), HTTPC_ERROR);
	free(huge);
	free(r);
}

static void test_plans(void **state)
{
	struct httpc_resp *r = malloc(sizeof(*r));

	feed_str(r, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nETag: W/\"weak\"\r\n\r\n");
	assert_int_equal(httpc_plan_body(r, 0, 100), HTTPC_RESTART);
	assert_int_equal(httpc_plan_body(r, 40, 100), HTTPC_RESTART);	/* If-Range failed: all again */
	assert_int_equal(httpc_plan_body(r, 0, 99), HTTPC_BAD_SIZE);
	assert_string_equal(r->etag, "");			/* weak: not for If-Range */
	feed_str(r, "HTTP/1.0 200 OK\r\n\r\n");			/* ends when the server closes */
	assert_int_equal(r->content_length, -1);
	assert_int_equal(httpc_plan_body(r, 0, 100), HTTPC_RESTART);
	feed_str(r, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
	assert_int_equal(httpc_plan_body(r, 0, 100), HTTPC_BAD_ENCODING);
	feed_str(r, "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\n");
	assert_int_equal(httpc_plan_body(r, 0, 100), HTTPC_BAD_STATUS);
	assert_int_equal(r->status, 404);
	feed_str(r, "HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */100\r\n\r\n");
	assert_false(r->has_range);
	assert_int_equal(httpc_plan_body(r, 100, 100), HTTPC_BAD_STATUS);
	/* 206 without a usable Content-Range, or for byte 0 we never asked for: retry. */
	feed_str(r, "HTTP/1.1 206 Partial\r\nContent-Length: 60\r\n\r\n");
	assert_int_equal(httpc_plan_body(r, 40, 100), HTTPC_RETRY);
	feed_str(r, "HTTP/1.1 206 Partial\r\nContent-Range: bytes 0-99/100\r\n\r\n");
	assert_int_equal(httpc_plan_body(r, 0, 100), HTTPC_RETRY);
	feed_str(r, "HTTP/1.1 206 Partial\r\nContent-Range: bytes 40-99/*\r\n\r\n");
	assert_int_equal(r->range_total, -1);
	assert_int_equal(httpc_plan_body(r, 40, 100), HTTPC_APPEND);
	feed_str(r, "HTTP/1.1 206 Partial\r\nContent-Range: bytes 40-100/*\r\n\r\n");
	assert_int_equal(httpc_plan_body(r, 40, 100), HTTPC_BAD_SIZE);	/* past the end */
	feed_str(r, "HTTP/1.1 206 Partial\r\nContent-Range: bytes 40-99/100\r\nContent-Length: 10\r\n\r\n");
	assert_int_equal(httpc_plan_body(r, 40, 100), HTTPC_RETRY);		/* inconsistent */
	feed_str(r, "HTTP/1.1 206 Partial\r\nContent-Range: bytes 50-40/100\r\n\r\n");
	assert_false(r->has_range);
	feed_str(r, "HTTP/1.1 206 Partial\r\nContent-Range: bytes 40-99/99\r\n\r\n");
	assert_false(r->has_range);
	free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_url_accepted),
		cmocka_unit_test(test_url_refused),
		cmocka_unit_test(test_request),
		cmocka_unit_test(test_head_any_split),
		cmocka_unit_test(test_head_refused),
		cmocka_unit_test(test_plans),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
