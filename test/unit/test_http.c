// unit-srcs: update/http.c update/http_head.c
/*
 * The OTA agent's HTTP/1.1 request parser: valid heads in any split, the
 * body boundary, and every way a head is refused (with the status the
 * agent then answers).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include <kernel/http.h>

#define MAXB (4LL << 20)

static struct http_req r;

static size_t feed_all(const char *s, size_t chunk)
{
	size_t n = strlen(s), off = 0;

	http_init(&r);
	while (off < n && r.state == HTTP_HEAD) {
		size_t len = n - off < chunk ? n - off : chunk;
		size_t used = http_feed(&r, s + off, len, MAXB);

		off += used;
		if (used < len)
			break;
	}
	return off;
}

static void test_put_with_body(void **state)
{
	const char *s = "PUT /update HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n"
			"Content-Length: 5\r\nExpect: 100-continue\r\n\r\nhello";
	size_t head = strlen(s) - 5;

	for (size_t chunk = 1; chunk <= strlen(s); chunk++) {
		size_t off = feed_all(s, chunk);

		assert_int_equal(r.state, HTTP_BODY);
		assert_int_equal(off, head);	/* the body is left to the caller */
		assert_string_equal(r.method, "PUT");
		assert_string_equal(r.path, "/update");
		assert_int_equal(r.content_length, 5);
		assert_true(r.expect_continue);
		assert_false(r.close);
	}
}

static void test_get_status(void **state)
{
	feed_all("GET /status HTTP/1.0\r\nconnection: CLOSE\r\n\r\n", 7);
	assert_int_equal(r.state, HTTP_BODY);
	assert_string_equal(r.method, "GET");
	assert_string_equal(r.path, "/status");
	assert_int_equal(r.content_length, -1);
	assert_true(r.close);
}

/* Field names are RFC 9110 tokens: digits and the token symbols too. */
static void test_header_names(void **state)
{
	feed_all("PUT /update HTTP/1.1\r\nX-B3-TraceId: 7\r\nX.Odd~Name!#: v\r\n"
		 "Content-Lengthy: 9\r\ncontent-LENGTH:\t3 \r\n\r\n", 5);
	assert_int_equal(r.state, HTTP_BODY);
	assert_int_equal(r.content_length, 3);	/* only the exact name counts */
}

struct bad {
	const char *head;
	int status;
};

static void test_refused(void **state)
{
	static const struct bad cases[] = {
		{ "garbage\r\n\r\n", 400 },
		{ "\r\n\r\n", 400 },
		{ "GET /status\r\n\r\n", 400 },
		{ "GET status HTTP/1.1\r\n\r\n", 400 },
		{ "get /status HTTP/1.1\r\n\r\n", 400 },
		{ "GET /status HTTP/2.0\r\n\r\n", 505 },
		{ "GET /status FTP/1.1\r\n\r\n", 400 },
		{ "VERYLONGMETHOD /x HTTP/1.1\r\n\r\n", 501 },
		{ "GET /a\x01 HTTP/1.1\r\n\r\n", 400 },
		{ "PUT /update HTTP/1.1\r\nContent-Length: 12x\r\n\r\n", 400 },
		{ "PUT /update HTTP/1.1\r\nContent-Length: \r\n\r\n", 400 },
		{ "PUT /update HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n", 400 },
		{ "PUT /update HTTP/1.1\r\nContent-Length: 4194305\r\n\r\n", 413 },
		{ "PUT /update HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n", 413 },
		{ "PUT /update HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 411 },
		{ "PUT /update HTTP/1.1\r\nNo colon here\r\n\r\n", 400 },
		{ "PUT /update HTTP/1.1\r\n: empty name\r\n\r\n", 400 },
		{ "PUT /update HTTP/1.1\nHost: x\n\n\r\n\r\n", 400 },
		{ "PUT /update HTTP/1.1\r\nName : v\r\n\r\n", 400 },
		{ "PUT /update HTTP/1.1\r\nA(b): v\r\n\r\n", 400 },
		{ "PUT /update HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", 400 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		feed_all(cases[i].head, 3);
		assert_int_equal(r.state, HTTP_ERROR);
		assert_int_equal(r.status, cases[i].status);
	}
}

static void test_head_too_large(void **state)
{
	static char big[HTTP_HEAD_MAX + 64];

	memset(big, 'a', sizeof(big) - 1);
	memcpy(big, "GET /status HTTP/1.1\r\nX-Pad: ", 29);
	feed_all(big, 100);
	assert_int_equal(r.state, HTTP_ERROR);
	assert_int_equal(r.status, 431);
}

static void test_long_path(void **state)
{
	char head[256];

	memset(head, 0, sizeof(head));
	strcpy(head, "GET /");
	memset(head + 5, 'p', 100);
	strcat(head, " HTTP/1.1\r\n\r\n");
	feed_all(head, 9);
	assert_int_equal(r.status, 414);
}

static void test_nothing_after_body_state(void **state)
{
	feed_all("GET /status HTTP/1.1\r\n\r\n", 64);
	assert_int_equal(r.state, HTTP_BODY);
	assert_int_equal(http_feed(&r, "more", 4, MAXB), 0);
}

static void test_reasons(void **state)
{
	assert_string_equal(http_reason(409), "Conflict");
	assert_string_equal(http_reason(413), "Payload Too Large");
	assert_string_equal(http_reason(599), "Unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_put_with_body),
		cmocka_unit_test(test_get_status),
		cmocka_unit_test(test_header_names),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_head_too_large),
		cmocka_unit_test(test_long_path),
		cmocka_unit_test(test_nothing_after_body_state),
		cmocka_unit_test(test_reasons),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
