// unit-srcs: src/devtree_prop.c
// unit-libs: -lfdt
/*
 * Host tests of the property readers every blob parser shares
 * (src/devtree_prop.c: drivers, update packs, the key blob): each kind of
 * property well-formed, absent, and malformed in each way the readers
 * refuse, and subnodes found by their whole name only. The blob is built
 * here with libfdt.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>
#include <libfdt.h>

#include <kernel/devtree.h>
#include <kernel/errno.h>

static char blob[4096] __attribute__((aligned(8)));
static int n;	/* the node under test, /n */

static int setup(void **state)
{
	static const char list[] = "one\0two\0three";
	static const char empty_entry[] = "one\0\0two";
	static const char inner_nul[] = "a\0b";

	assert_int_equal(fdt_create_empty_tree(blob, sizeof(blob)), 0);
	n = fdt_add_subnode(blob, 0, "n");
	assert_true(n >= 0);
	assert_int_equal(fdt_setprop_u32(blob, n, "cell", 0x12345678), 0);
	assert_int_equal(fdt_setprop_u64(blob, n, "two-cells", 1), 0);
	assert_int_equal(fdt_setprop(blob, n, "short", "ab", 2), 0);
	assert_int_equal(fdt_setprop_string(blob, n, "str", "hello"), 0);
	assert_int_equal(fdt_setprop_string(blob, n, "empty", ""), 0);
	assert_int_equal(fdt_setprop(blob, n, "no-nul", "abc", 3), 0);
	assert_int_equal(fdt_setprop(blob, n, "inner-nul", inner_nul, sizeof(inner_nul)), 0);
	assert_int_equal(fdt_setprop(blob, n, "list", list, sizeof(list)), 0);
	assert_int_equal(fdt_setprop(blob, n, "empty-entry", empty_entry, sizeof(empty_entry)), 0);
	assert_int_equal(fdt_setprop_empty(blob, n, "flag"), 0);
	n = fdt_path_offset(blob, "/n");
	/* libfdt would take "x" for an existing "x@1": add it first (each goes first in line) */
	assert_true(fdt_add_subnode(blob, n, "x") >= 0);
	assert_true(fdt_add_subnode(blob, n, "xy") >= 0);
	assert_true(fdt_add_subnode(blob, n, "x@1") >= 0);
	n = fdt_path_offset(blob, "/n");
	return 0;
}

static void test_u32(void **state)
{
	uint32_t v = 7;

	assert_int_equal(dt_prop_u32(blob, n, "cell", &v), 0);
	assert_int_equal(v, 0x12345678);
	v = 7;
	assert_int_equal(dt_prop_u32(blob, n, "absent", &v), -KE_NOENT);
	assert_int_equal(dt_prop_u32(blob, n, "two-cells", &v), -KE_INVAL);
	assert_int_equal(dt_prop_u32(blob, n, "short", &v), -KE_INVAL);
	assert_int_equal(dt_prop_u32(blob, n, "flag", &v), -KE_INVAL);
	assert_int_equal(v, 7);	/* untouched on failure */
	assert_int_equal(dt_prop_u32(blob, 3, "cell", &v), -KE_BADMSG);	/* not a node */
	assert_int_equal(dt_prop_u32_or(blob, n, "cell", 5), 0x12345678);
	assert_int_equal(dt_prop_u32_or(blob, n, "absent", 5), 5);
	assert_int_equal(dt_prop_u32_or(blob, n, "short", 5), 5);
}

static void test_string(void **state)
{
	const char *s = NULL;

	assert_int_equal(dt_prop_string(blob, n, "str", &s), 0);
	assert_string_equal(s, "hello");
	s = NULL;
	assert_int_equal(dt_prop_string(blob, n, "absent", &s), -KE_NOENT);
	assert_int_equal(dt_prop_string(blob, n, "empty", &s), -KE_INVAL);
	assert_int_equal(dt_prop_string(blob, n, "no-nul", &s), -KE_INVAL);
	assert_int_equal(dt_prop_string(blob, n, "inner-nul", &s), -KE_INVAL);
	assert_int_equal(dt_prop_string(blob, n, "flag", &s), -KE_INVAL);
	assert_int_equal(dt_prop_string(blob, n, "list", &s), -KE_INVAL);	/* a list is not one */
	assert_null(s);
	assert_string_equal(dt_prop_str(blob, n, "str"), "hello");
	assert_null(dt_prop_str(blob, n, "no-nul"));
	assert_null(dt_prop_str(blob, n, "absent"));
}

static void test_strlist(void **state)
{
	const char *s = NULL;
	unsigned int cnt = 0;
	int len = 0;

	assert_int_equal(dt_prop_strlist(blob, n, "list", &s, &len, &cnt), 0);
	assert_int_equal(cnt, 3);
	assert_int_equal(len, sizeof("one\0two\0three"));
	assert_memory_equal(s, "one\0two\0three", len);
	assert_int_equal(dt_prop_strlist(blob, n, "str", &s, &len, &cnt), 0);
	assert_int_equal(cnt, 1);
	assert_int_equal(dt_prop_strlist(blob, n, "absent", &s, &len, &cnt), -KE_NOENT);
	assert_int_equal(dt_prop_strlist(blob, n, "empty-entry", &s, &len, &cnt), -KE_INVAL);
	assert_int_equal(dt_prop_strlist(blob, n, "empty", &s, &len, &cnt), -KE_INVAL);
	assert_int_equal(dt_prop_strlist(blob, n, "no-nul", &s, &len, &cnt), -KE_INVAL);
	assert_int_equal(dt_prop_strlist(blob, n, "flag", &s, &len, &cnt), -KE_INVAL);
}

static void test_subnode(void **state)
{
	int x = dt_subnode(blob, n, "x");

	assert_true(x >= 0);
	assert_string_equal(fdt_get_name(blob, x, NULL), "x");	/* not x@1, listed first */
	assert_string_equal(fdt_get_name(blob, dt_subnode(blob, n, "x@1"), NULL), "x@1");
	assert_int_equal(dt_subnode(blob, n, "y"), -KE_NOENT);
	assert_int_equal(dt_subnode(blob, n, "x@"), -KE_NOENT);
	assert_int_equal(dt_subnode(blob, x, "x"), -KE_NOENT);	/* no children */
	assert_true(dt_subnode(blob, 3, "x") < 0);	/* not a node: libfdt finds no subnode */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_u32),
		cmocka_unit_test(test_string),
		cmocka_unit_test(test_strlist),
		cmocka_unit_test(test_subnode),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
