// unit-srcs:
// unit-libs:
/*
 * kmemcpy() and kmemzero() (include/kernel/kstring.h) against memcpy and
 * memset: every source and destination alignment modulo 8 and every
 * length up to 200 bytes, plus long copies, with guard bytes around the
 * destination that must stay untouched.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include <kernel/kstring.h>

#define MAXLEN	200
#define BIG	(64 * 1024 + 13)

static uint8_t src[BIG + 16] __attribute__((aligned(8)));
static uint8_t dst[BIG + 32] __attribute__((aligned(8)));
static uint8_t want[BIG + 32] __attribute__((aligned(8)));

static void fill(void)
{
	for (size_t i = 0; i < sizeof(src); i++)
		src[i] = (uint8_t)(i * 131 + 7);
	memset(dst, 0xa5, sizeof(dst));
	memset(want, 0xa5, sizeof(want));
}

static void test_copy_alignments(void **state)
{
	for (unsigned int so = 0; so < 8; so++)
		for (unsigned int d = 0; d < 8; d++)
			for (size_t n = 0; n <= MAXLEN; n++) {
				fill();
				/* dst + 8 + d: guards on both sides */
				assert_ptr_equal(kmemcpy(dst + 8 + d, src + so, n), dst + 8 + d);
				memcpy(want + 8 + d, src + so, n);
				assert_memory_equal(dst, want, MAXLEN + 32);
			}
}

static void test_copy_long(void **state)
{
	for (unsigned int so = 0; so < 8; so += 3)
		for (unsigned int d = 0; d < 8; d += 4) {
			fill();
			kmemcpy(dst + 8 + d, src + so, BIG);
			memcpy(want + 8 + d, src + so, BIG);
			assert_memory_equal(dst, want, sizeof(dst));
		}
}

static void test_zero(void **state)
{
	for (unsigned int d = 0; d < 8; d++)
		for (size_t n = 0; n <= MAXLEN; n++) {
			fill();
			kmemzero(dst + 8 + d, n);
			memset(want + 8 + d, 0, n);
			assert_memory_equal(dst, want, MAXLEN + 32);
		}
	fill();
	kmemzero(dst + 3, BIG);
	memset(want + 3, 0, BIG);
	assert_memory_equal(dst, want, sizeof(dst));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_copy_alignments),
		cmocka_unit_test(test_copy_long),
		cmocka_unit_test(test_zero),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
