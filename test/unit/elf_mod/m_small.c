/*
 * Fixture: a module with code and read-only data only (no data region),
 * one exported function calling another through a static helper.
 */
extern int ext_func(int);

static const int weights[5] = { 3, 1, 4, 1, 5 };

static __attribute__((noinline)) int helper(int x)
{
	return ext_func(x) * weights[x % 5];
}

int small_entry(int x)
{
	return helper(x) + helper(x + 1);
}
