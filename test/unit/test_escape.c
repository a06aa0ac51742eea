// unit-srcs: src/escape.c
/*
 * Host tests of the escaping helpers (src/escape.c): JSON string contents
 * and log values, for quotes, backslashes, control bytes, bytes above
 * 0x7e, brackets in log values, spaces and `=` in unquoted values, cuts that never split an
 * escape, tiny buffers, NULL input. The JSON results are checked to parse
 * back to the input with a small decoder here, the log results to hold no
 * byte that could end a quoted value or a line. Output buffers are heap
 * blocks of exactly @len bytes so ASan catches a write past them.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <kernel/escape.h>

typedef char *(*esc_fn)(char *, size_t, const char *);

static char *run(esc_fn f, size_t len, const char *in)
{
	char *out = malloc(len);
	char *r;

	assert_non_null(out);
	r = f(out, len, in);
	assert_ptr_equal(r, out);
	assert_true(strlen(out) < len);
	return out;
}

static void expect(esc_fn f, size_t len, const char *in, const char *want)
{
	char *out = run(f, len, in);

	assert_string_equal(out, want);
	free(out);
}

/* Decodes the JSON string contents esc_json() makes (only the escapes it uses). */
static size_t json_decode(const char *s, char *out)
{
	size_t n = 0;

	while (*s) {
		if (*s != '\\') {
			out[n++] = *s++;
			continue;
		}
		s++;
		if (*s == 'u') {
			char hex[5] = { s[1], s[2], s[3], s[4], 0 };

			out[n++] = (char)strtoul(hex, NULL, 16);
			s += 5;
		} else {
			assert_true(*s == '"' || *s == '\\');
			out[n++] = *s++;
		}
	}
	out[n] = '\0';
	return n;
}

static void test_json_plain_and_specials(void **state)
{
	expect(esc_json, 64, "config-1", "config-1");
	expect(esc_json, 64, "a\"b\\c", "a\\\"b\\\\c");
	expect(esc_json, 64, "x\ny\r\t", "x\\u000ay\\u000d\\u0009");
	expect(esc_json, 64, "\x1b[2J\x7f\xc3\xa9", "\\u001b[2J\\u007f\\u00c3\\u00a9");
	expect(esc_json, 64, "", "");
	expect(esc_json, 64, NULL, "");
}

static void test_json_round_trip_every_byte(void **state)
{
	char in[256], back[256];
	char *out;
	int i;

	for (i = 1; i < 256; i++)
		in[i - 1] = (char)i;
	in[255] = '\0';
	out = run(esc_json, 255 * 6 + 1, in);
	for (const char *p = out; *p; p++)
		assert_true(*p >= 0x20 && *p < 0x7f);
	assert_int_equal(json_decode(out, back), 255);
	assert_memory_equal(back, in, 255);
	free(out);
}

static void test_json_cut_between_escapes(void **state)
{
	/* 7 bytes: "ab" + a 6-byte escape would need 9 with the NUL. */
	expect(esc_json, 8, "ab\ncd", "ab");
	expect(esc_json, 9, "ab\ncd", "ab\\u000a");
	expect(esc_json, 4, "a\"b", "a\\\"");
	expect(esc_json, 3, "a\"b", "a");
	expect(esc_json, 1, "abc", "");
}

static void test_log_quoted(void **state)
{
	expect(esc_log, 64, "image step-1: sha256 mismatch", "image step-1: sha256 mismatch");
	expect(esc_log, 64, "x\" result=ok \"", "x\\\" result=ok \\\"");
	expect(esc_log, 64, "a\n[    1.0] h0 update: applied",
	       "a\\x0a\\x5b    1.0\\x5d h0 update: applied");
	expect(esc_log, 64, "\\\xff", "\\\\\\xff");
	expect(esc_log, 5, "a\nb", "a");
	expect(esc_log, 6, "a\nb", "a\\x0a");
}

static void test_log_word(void **state)
{
	expect(esc_log_word, 64, "uart", "uart");
	expect(esc_log_word, 64, "uart applied=1", "uart\\x20applied\\x3d1");
	expect(esc_log_word, 64, "", "-");
	expect(esc_log_word, 64, NULL, "-");
	expect(esc_log_word, 2, "", "-");
	expect(esc_log_word, 1, "", "");
}

/* No result of esc_log holds a byte that ends a quoted value or a line. */
static void test_log_never_breaks_out(void **state)
{
	char in[256];
	char *q, *w;
	int i;

	for (i = 1; i < 256; i++)
		in[i - 1] = (char)i;
	in[255] = '\0';
	q = run(esc_log, 4 * 255 + 1, in);
	w = run(esc_log_word, 4 * 255 + 1, in);
	for (const char *p = q; *p; p++) {
		assert_true(*p >= 0x20 && *p < 0x7f && *p != '[' && *p != ']');
		if (*p == '"')
			assert_true(p > q && p[-1] == '\\');
	}
	for (const char *p = w; *p; p++)
		assert_true(*p > 0x20 && *p < 0x7f && *p != '=');
	free(q);
	free(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_plain_and_specials),
		cmocka_unit_test(test_json_round_trip_every_byte),
		cmocka_unit_test(test_json_cut_between_escapes),
		cmocka_unit_test(test_log_quoted),
		cmocka_unit_test(test_log_word),
		cmocka_unit_test(test_log_never_breaks_out),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
