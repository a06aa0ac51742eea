// unit-srcs: src/log_format.c
/*
 * Host tests of the log line formatter: the exact "[%5u.%06u] h<hart>
 * <subsys>: " prefix for several timer frequencies, truncation (not
 * rounding) of microseconds, seconds wider than the field, frequency 0,
 * the trailing newline, embedded newlines turned into spaces, control
 * bytes and bytes above 0x7e turned into '?', lines cut
 * with "...\n" that exactly fill the buffer, the fit/no-fit boundary, tiny
 * buffers, and log_restamp() (a new stamp only where it fits exactly). Buffers are heap blocks of exactly @len bytes so ASan
 * catches any write past them.
 *
 * Tests named test_fixed_* pin down bugs found and fixed in src/.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <kernel/log.h>

static size_t fmt(char *buf, size_t len, uint64_t ticks, uint64_t freq, unsigned int hart,
		  const char *subsys, const char *f, ...)
	__attribute__((format(printf, 7, 8)));

static size_t fmt(char *buf, size_t len, uint64_t ticks, uint64_t freq, unsigned int hart,
		  const char *subsys, const char *f, ...)
{
	va_list ap;
	size_t n;

	va_start(ap, f);
	n = log_format(buf, len, ticks, freq, hart, subsys, f, ap);
	va_end(ap);
	return n;
}

/* Formats into an exact-size heap buffer and checks the result is a line. */
static char *line(size_t len, uint64_t ticks, uint64_t freq, unsigned int hart,
		  const char *subsys, const char *msg)
{
	char *buf = malloc(len);
	size_t n;

	assert_non_null(buf);
	memset(buf, 'Z', len);
	n = fmt(buf, len, ticks, freq, hart, subsys, "%s", msg);
	assert_true(n < len);
	assert_int_equal(buf[n], '\0');
	assert_int_equal(strlen(buf), n);
	assert_int_equal(buf[n - 1], '\n');
	/* Exactly one newline, at the end. */
	assert_ptr_equal(strchr(buf, '\n'), buf + n - 1);
	assert_null(strchr(buf, '\r'));
	return buf;
}

static void expect(uint64_t ticks, uint64_t freq, unsigned int hart, const char *subsys,
		   const char *msg, const char *want)
{
	char *buf = line(LOG_LINE_MAX, ticks, freq, hart, subsys, msg);

	assert_string_equal(buf, want);
	free(buf);
}

static void test_example_line(void **state)
{
	char buf[LOG_LINE_MAX];
	size_t n = fmt(buf, sizeof(buf), 12043110, 10000000, 2, "update", "ready harts=%d board=%s",
		       4, "qemu-virt");

	assert_string_equal(buf, "[    1.204311] h2 update: ready harts=4 board=qemu-virt\n");
	assert_int_equal(n, strlen(buf));
}

static void test_prefix_frequencies(void **state)
{
	expect(0, 10000000, 0, "boot", "x", "[    0.000000] h0 boot: x\n");
	/* 1 MHz (sifive_u): one tick is one microsecond. */
	expect(1, 1000000, 1, "t", "m", "[    0.000001] h1 t: m\n");
	expect(61000123, 1000000, 3, "t", "m", "[   61.000123] h3 t: m\n");
	/* Sub-microsecond remainders are cut, not rounded. */
	expect(9, 10000000, 0, "t", "m", "[    0.000000] h0 t: m\n");
	expect(19999999, 10000000, 0, "t", "m", "[    1.999999] h0 t: m\n");
	/* A frequency that does not divide a million. */
	expect(5, 3, 0, "t", "m", "[    1.666666] h0 t: m\n");
	expect(32768 + 16384, 32768, 0, "t", "m", "[    1.500000] h0 t: m\n");
	/* The widest value the field holds exactly. */
	expect(99999ULL * 10000000 + 9999999, 10000000, 7, "t", "m",
	       "[99999.999999] h7 t: m\n");
	/* Hart numbers are printed in full. */
	expect(0, 1, 4294967295u, "t", "m", "[    0.000000] h4294967295 t: m\n");
}

static void test_large_seconds(void **state)
{
	expect(123456ULL * 10000000 + 5000000, 10000000, 1, "t", "m",
	       "[123456.500000] h1 t: m\n");
	expect(UINT64_MAX, 1, 0, "t", "m", "[18446744073709551615.000000] h0 t: m\n");
	/* The largest count at 10 MHz: the remainder times 10^6 must not overflow. */
	expect(UINT64_MAX, 10000000, 0, "t", "m", "[1844674407370.955161] h0 t: m\n");
}

static void test_freq_zero(void **state)
{
	expect(0, 0, 0, "t", "m", "[    0.000000] h0 t: m\n");
	expect(123456789, 0, 5, "t", "m", "[    0.000000] h5 t: m\n");
	expect(UINT64_MAX, 0, 5, "t", "m", "[    0.000000] h5 t: m\n");
}

static void test_newlines(void **state)
{
	expect(0, 1, 0, "t", "", "[    0.000000] h0 t: \n");
	expect(0, 1, 0, "t", "a\nb\rc\r\n", "[    0.000000] h0 t: a b c  \n");
	expect(0, 1, 0, "t", "\n", "[    0.000000] h0 t:  \n");
	/* Even a newline in the subsystem name cannot split the line. */
	expect(0, 1, 0, "s\nx", "m", "[    0.000000] h0 s x: m\n");
}

/* Terminal escapes and bytes above 0x7e from outside text never reach the UART. */
static void test_control_bytes(void **state)
{
	expect(0, 1, 0, "t", "a\tb\x1b[2J\x7f\xc3\xa9\x01",
	       "[    0.000000] h0 t: a b?[2J????\n");
	/* In a line that is cut too. */
	char *buf = line(32, 0, 1, 0, "t", "\x1b\x1b\x1b\x1b\x1b\x1b\x1b\x1b\x1b\x1b\x1b\x1b\x1b\x1b\x1b");

	for (char *p = buf; *p != '\n'; p++)
		assert_true(*p >= 0x20 && *p < 0x7f);
	free(buf);
}

static void test_truncation(void **state)
{
	char msg[1000];
	char *buf;
	size_t n;

	for (size_t i = 0; i < sizeof(msg) - 1; i++)
		msg[i] = (char)('a' + i % 26);
	msg[sizeof(msg) - 1] = '\0';
	msg[100] = '\n';	/* before the cut: becomes a space */
	msg[300] = '\n';	/* after it: gone */

	buf = line(LOG_LINE_MAX, 12043110, 10000000, 2, "update", msg);
	n = strlen(buf);
	assert_int_equal(n, LOG_LINE_MAX - 1);
	assert_string_equal(buf + n - 4, "...\n");
	assert_memory_equal(buf, "[    1.204311] h2 update: abcdef", 32);
	/* What is kept is the start of the message, in order. */
	assert_memory_equal(buf + 26, msg, 100);
	assert_int_equal(buf[26 + 100], ' ');
	assert_memory_equal(buf + 26 + 101, msg + 101, LOG_LINE_MAX - 1 - 4 - 26 - 101);
	free(buf);
}

static void test_fit_boundary(void **state)
{
	static const char prefix[] = "[    0.000001] h1 t: ";
	const size_t plen = sizeof(prefix) - 1;
	const char *msg = "0123456789";
	const size_t mlen = strlen(msg);
	char *buf;

	/* Prefix + message + "\n" + NUL: fits exactly, nothing cut. */
	buf = line(plen + mlen + 2, 1, 1000000, 1, "t", msg);
	assert_int_equal(strlen(buf), plen + mlen + 1);
	assert_memory_equal(buf, prefix, plen);
	assert_string_equal(buf + plen, "0123456789\n");
	free(buf);
	/* One byte less: the line must be cut to fit. */
	buf = line(plen + mlen + 1, 1, 1000000, 1, "t", msg);
	assert_int_equal(strlen(buf), plen + mlen);
	assert_memory_equal(buf, prefix, plen);
	assert_string_equal(buf + plen, "012345...\n");
	free(buf);
}

static void test_prefix_does_not_fit(void **state)
{
	char *buf;

	/* Smallest buffer that gets a line: 6 bytes ("[...\n" + NUL). */
	buf = line(6, 12043110, 10000000, 2, "update", "hello");
	assert_string_equal(buf, "[...\n");
	free(buf);
	buf = line(7, 12043110, 10000000, 2, "update", "hello");
	assert_string_equal(buf, "[ ...\n");
	free(buf);
	buf = line(20, 12043110, 10000000, 2, "update", "hello");
	assert_string_equal(buf, "[    1.204311] ...\n");
	free(buf);
	/* The cut lands inside the prefix. */
	buf = line(27, 12043110, 10000000, 2, "update", "hello");
	assert_string_equal(buf, "[    1.204311] h2 upda...\n");
	free(buf);
}

static void test_tiny_buffers(void **state)
{
	/* Too small for any line: 0 and nothing written past @len. */
	for (size_t len = 0; len < 6; len++) {
		char *buf = malloc(len ? len : 1);

		assert_non_null(buf);
		assert_int_equal(fmt(buf, len, 1, 1, 0, "t", "m"), 0);
		free(buf);
	}
	/* len 0: the buffer is not touched at all. */
	assert_int_equal(fmt(NULL, 0, 1, 1, 0, "t", "m"), 0);
}

/*
 * log.h: "Returns the line's length (always < @len, the buffer is NUL
 * terminated)". For 1 <= len < 6 log_format() used to return 0 without
 * writing anything, leaving the buffer unterminated: a caller that printed
 * it read whatever was there.
 */
static void test_fixed_tiny_buffer_not_terminated(void **state)
{
	for (size_t len = 1; len < 6; len++) {
		char buf[8];

		memset(buf, 'X', sizeof(buf));
		assert_int_equal(fmt(buf, len, 1, 1, 0, "t", "m"), 0);
		assert_int_equal(buf[0], '\0');
	}
}

static void test_restamp(void **state)
{
	char *buf = line(64, 12043110, 10000000, 2, "update", "applied x=1");
	size_t n = strlen(buf);

	/* Same width: the stamp changes, nothing else does. */
	assert_true(log_restamp(buf, n, 98765432, 10000000));
	assert_string_equal(buf, "[    9.876543] h2 update: applied x=1\n");
	assert_true(log_restamp(buf, n, 999999990000ULL, 10000000));
	assert_string_equal(buf, "[99999.999000] h2 update: applied x=1\n");
	/* Wider (seconds past the field): left as it was. */
	assert_false(log_restamp(buf, n, 1000000000000ULL, 10000000));
	assert_string_equal(buf, "[99999.999000] h2 update: applied x=1\n");
	free(buf);
	/* A line stamped wider cannot take a narrower stamp either. */
	buf = line(64, 1000000000000000ULL, 10000000, 0, "t", "m");
	assert_false(log_restamp(buf, strlen(buf), 1, 10000000));
	assert_string_equal(buf, "[100000000.000000] h0 t: m\n");
	free(buf);
	/* No closing bracket within @n (a line cut inside its stamp): untouched. */
	buf = strdup("[    1.2");
	assert_false(log_restamp(buf, strlen(buf), 5, 1));
	assert_string_equal(buf, "[    1.2");
	assert_false(log_restamp(buf, 0, 5, 1));
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_example_line),
		cmocka_unit_test(test_prefix_frequencies),
		cmocka_unit_test(test_large_seconds),
		cmocka_unit_test(test_freq_zero),
		cmocka_unit_test(test_newlines),
		cmocka_unit_test(test_control_bytes),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_fit_boundary),
		cmocka_unit_test(test_prefix_does_not_fit),
		cmocka_unit_test(test_tiny_buffers),
		cmocka_unit_test(test_fixed_tiny_buffer_not_terminated),
		cmocka_unit_test(test_restamp),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
