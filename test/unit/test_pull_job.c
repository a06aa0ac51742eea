// unit-srcs: update/pull_job.c src/errno.c
/*
 * The job message of pulled updates (update/pull_job.c): good jobs in
 * several spellings, and every kind of bad one the contract calls a
 * "bad-job" (not JSON, a member missing or of the wrong type); board ids.
 * The expectations follow what Python's json module and the simulated
 * board (ota-server/simboard.py) make of the same bytes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <kernel/pull.h>
#include <kernel/errno.h>

#define SHA "5b1d0c56f1e2e8b2b1bd3c0c9e9f1d6e8a7c6b5a493827161504f3e2d1c0b0a0"

static int parse(const char *s, struct pull_job *j)
{
	return pull_job_parse(s, strlen(s), j);
}

static void test_good_job(void **state)
{
	struct pull_job j;

	assert_int_equal(parse("{\"seq\": 7, \"url\": \"http://10.0.2.100:8000/p.itb\", "
			       "\"size\": 34465, \"sha256\": \"" SHA "\"}", &j), 0);
	assert_int_equal(j.seq, 7);
	assert_int_equal(j.size, 34465);
	assert_string_equal(j.url, "http://10.0.2.100:8000/p.itb");
	assert_int_equal(j.sha256[0], 0x5b);
	assert_int_equal(j.sha256[31], 0xa0);
	/* Any order, any whitespace, escapes, extra members of any kind, repeats (last wins). */
	assert_int_equal(parse(" \n{\"extra\": {\"a\": [1, 2.5e3, true, false, null, \"x\"]},"
			       "\"sha256\":\"" SHA "\",\t\"size\":-3, \"seq\":1,"
			       "\"u\\u0072l\": \"http:\\/\\/1.2.3.4\\/a\",\"seq\":4294967295} \r\n", &j), 0);
	assert_int_equal(j.seq, 4294967295u);
	assert_int_equal(j.size, -3);		/* a type-correct size: the range is checked later */
	assert_string_equal(j.url, "http://1.2.3.4/a");
	/* Huge sizes clamp (then refused as too large), never wrap. */
	assert_int_equal(parse("{\"seq\":0,\"url\":\"\",\"size\":123456789012345678901234567890,"
			       "\"sha256\":\"" SHA "\"}", &j), 0);
	assert_true(j.size > 1LL << 40);
	assert_int_equal(j.seq, 0);
	/* A URL too long for the buffer is kept empty: a bad URL, not a bad job. */
	{
		char buf[1024];
		int n = snprintf(buf, sizeof(buf), "{\"seq\":1,\"size\":1,\"sha256\":\"" SHA "\",\"url\":\"");

		memset(buf + n, 'a', 400);
		strcpy(buf + n + 400, "\"}");
		assert_int_equal(parse(buf, &j), 0);
		assert_string_equal(j.url, "");
	}
	/* Non-ASCII in a string is fine for JSON (the URL check refuses it later). */
	assert_int_equal(parse("{\"seq\":1,\"size\":1,\"sha256\":\"" SHA "\",\"url\":\"\xc3\xa9\\u00e9\"}", &j), 0);
	assert_int_equal((unsigned char)j.url[0], 0xc3);
	assert_int_equal((unsigned char)j.url[2], 0xff);
}

static void test_bad_jobs(void **state)
{
	static const char *const bad[] = {
		"", "{", "}", "{not json", "[]", "null", "7", "\"seq\"",
		"{\"seq\": \"7\", \"url\": \"http://1.2.3.4/a\", \"size\": 1, \"sha256\": \"" SHA "\"}",
		"{\"seq\": 7, \"url\": \"http://1.2.3.4/a\", \"size\": 1}",
		"{\"seq\": 7, \"url\": \"http://1.2.3.4/a\", \"sha256\": \"" SHA "\"}",
		"{\"seq\": 7, \"size\": 1, \"sha256\": \"" SHA "\"}",
		"{\"url\": \"http://1.2.3.4/a\", \"size\": 1, \"sha256\": \"" SHA "\"}",
		"{\"seq\": 7.0, \"url\": \"u\", \"size\": 1, \"sha256\": \"" SHA "\"}",
		"{\"seq\": 7e0, \"url\": \"u\", \"size\": 1, \"sha256\": \"" SHA "\"}",
		"{\"seq\": -1, \"url\": \"u\", \"size\": 1, \"sha256\": \"" SHA "\"}",
		"{\"seq\": 4294967296, \"url\": \"u\", \"size\": 1, \"sha256\": \"" SHA "\"}",
		"{\"seq\": true, \"url\": \"u\", \"size\": 1, \"sha256\": \"" SHA "\"}",
		"{\"seq\": null, \"url\": \"u\", \"size\": 1, \"sha256\": \"" SHA "\"}",
		"{\"seq\": 07, \"url\": \"u\", \"size\": 1, \"sha256\": \"" SHA "\"}",
		"{\"seq\": 7, \"url\": 5, \"size\": 1, \"sha256\": \"" SHA "\"}",
		"{\"seq\": 7, \"url\": \"u\", \"size\": 1.5, \"sha256\": \"" SHA "\"}",
		"{\"seq\": 7, \"url\": \"u\", \"size\": \"1\", \"sha256\": \"" SHA "\"}",
		"{\"seq\": 7, \"url\": \"u\", \"size\": 1, \"sha256\": \"" SHA "0\"}",
		"{\"seq\": 7, \"url\": \"u\", \"size\": 1, \"sha256\": \"5B1D0C56F1E2E8B2B1BD3C0C9E9F1D6E8A7C6B5A493827161504F3E2D1C0B0A0\"}",
		"{\"seq\": 7, \"url\": \"u\", \"size\": 1, \"sha256\": \"zz1d0c56f1e2e8b2b1bd3c0c9e9f1d6e8a7c6b5a493827161504f3e2d1c0b0a0\"}",
		"{\"seq\": 7, \"url\": \"u\", \"size\": 1, \"sha256\": 5}",
		"{\"seq\": 7, \"url\": \"u\", \"size\": 1, \"sha256\": \"" SHA "\"} x",
		"{\"seq\": 7, \"url\": \"u\", \"size\": 1, \"sha256\": \"" SHA "\",}",
		"{\"seq\": 7 \"url\": \"u\", \"size\": 1, \"sha256\": \"" SHA "\"}",
		"{\"seq\": 7, \"url\": \"u\\x\", \"size\": 1, \"sha256\": \"" SHA "\"}",
		"{\"seq\": 7, \"url\": \"u\\u12\", \"size\": 1, \"sha256\": \"" SHA "\"}",
		"{\"seq\": 7, \"url\": \"a\tb\", \"size\": 1, \"sha256\": \"" SHA "\"}",
		"{\"seq\": 7, \"url\": \"u\", \"size\": 1, \"sha256\": \"" SHA "\", \"x\": NaN}",
		"{\"seq\": 7, \"url\": \"u\", \"size\": 1, \"sha256\": \"" SHA "\", \"x\": tru}",
		"{\"seq\": 7, \"url\": \"u\", \"size\": 1, \"sha256\": \"" SHA "\", \"x\": [1,]}",
		"{\"seq\": 7, \"url\": \"u\", \"size\": 1, \"sha256\": \"" SHA "\", \"x\": -}",
		"{\"seq\": 7, \"url\": \"u\", \"size\": 1, \"sha256\": \"" SHA "\", \"x\": 1.}",
		"{\"seq\": 7, \"url\": \"u\", \"size\": 1, \"sha256\": \"" SHA "\", 5: 1}",
		"{\"seq\": 7, \"url\": \"\xc3\x28\", \"size\": 1, \"sha256\": \"" SHA "\"}",	/* bad UTF-8 */
		"{\"seq\": 7, \"url\": \"\xed\xa0\x80\", \"size\": 1, \"sha256\": \"" SHA "\"}",	/* surrogate */
		"{\"seq\": 7, \"url\": \"\xc0\xaf\", \"size\": 1, \"sha256\": \"" SHA "\"}",	/* overlong */
	};
	struct pull_job j;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (parse(bad[i], &j) != -KE_INVAL)
			fail_msg("accepted case %zu: %s", i, bad[i]);
	/* A NUL inside is not JSON either. */
	assert_int_equal(pull_job_parse("{\"seq\": 7\0}", 11, &j), -KE_INVAL);
}

/* Nesting is bounded: deep garbage neither overflows the stack nor passes. */
static void test_deep_nesting(void **state)
{
	char buf[PULL_JOB_MAX];
	struct pull_job j;
	int n = snprintf(buf, sizeof(buf), "{\"seq\":1,\"url\":\"u\",\"size\":1,\"sha256\":\"" SHA "\",\"x\":");

	for (int depth = 1; depth < 40; depth++) {
		int k = n;

		for (int i = 0; i < depth; i++)
			buf[k++] = '[';
		for (int i = 0; i < depth; i++)
			buf[k++] = ']';
		buf[k++] = '}';
		buf[k] = '\0';
		if (parse(buf, &j) != (depth <= 16 ? 0 : -KE_INVAL))
			fail_msg("depth %d: %s", depth, buf);
	}
}

static void test_ids(void **state)
{
	char longest[PULL_ID_MAX], too_long[PULL_ID_MAX + 1];

	assert_true(pull_id_valid("b1"));
	assert_true(pull_id_valid("lukos-525400123456"));
	assert_true(pull_id_valid("A.b_c:d-9"));
	assert_false(pull_id_valid(""));
	assert_false(pull_id_valid(NULL));
	assert_false(pull_id_valid("a/b"));
	assert_false(pull_id_valid("a+"));
	assert_false(pull_id_valid("a#"));
	assert_false(pull_id_valid("a b"));
	assert_false(pull_id_valid("\xc3\xa9"));
	memset(longest, 'a', sizeof(longest) - 1);
	longest[sizeof(longest) - 1] = '\0';
	assert_true(pull_id_valid(longest));
	memset(too_long, 'a', sizeof(too_long) - 1);
	too_long[sizeof(too_long) - 1] = '\0';
	assert_false(pull_id_valid(too_long));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_job),
		cmocka_unit_test(test_bad_jobs),
		cmocka_unit_test(test_deep_nesting),
		cmocka_unit_test(test_ids),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
