/*
 * Fixture: C as an update module contains it. Calls to kernel functions,
 * PC-relative loads and stores of kernel data, static data, pointers in
 * .data/.sdata and in a const table (R_RISCV_64), strings (mergeable
 * sections), .bss/.sbss, a dense switch (jump table of ADD32/SUB32 pairs
 * in .rodata with -mrelax), loops and compressed branches, and one long
 * function so that some jumps need a full JAL.
 */
extern int ext_func(int);
extern void ext_void(void);
extern int ext_data;
extern int ext_array[];

int sw(int x);
int loop(int n);

static int counter = 5;
int table[4] = { 1, 2, 3, 4 };
int *ptr = &counter;
int *ext_ptr = &ext_data;
static char buf[64];
static int small_bss;
long big_bss[300];
const char *msg = "hello world";
const char *msgs[] = { "alpha", "bravo", "charlie", "delta", "echo" };
int (*const fptrs[])(int) = { ext_func, sw, loop };
struct ops { int (*f)(int); const char *name; long pad[3]; };
const struct ops ops_table = { sw, "ops", { 1, 2, 3 } };

int sw(int x)
{
	switch (x) {
	case 0: return ext_func(1);
	case 1: return ext_data + 7;
	case 2: return counter++;
	case 3: return table[x & 3];
	case 4: return buf[x];
	case 5: return 99;
	case 6: return ext_func(x * 3);
	case 7: return 1234;
	case 8: return ext_array[3];
	case 9: small_bss = x; return 0;
	default: return -1;
	}
}

int loop(int n)
{
	int s = 0;

	for (int i = 0; i < n; i++) {
		s += ext_func(i);
		if (s > 1000)
			break;
		if (!s)
			ext_void();
	}
	ext_data = s;
	ext_array[5] = s;
	return s;
}

void fill(long *dst, const long *src, unsigned long n)
{
	__builtin_memcpy(dst, src, n * sizeof(*dst));
	__builtin_memset(big_bss, 0, sizeof(big_bss));
}

/* Long enough (several KiB) that jumps across it do not fit c.j. */
#define STEP(k) if (x & (1L << (k % 60))) { x = x * 31 + ext_func(k); table[k & 3] += x; }
#define STEP10(k) STEP(k##0) STEP(k##1) STEP(k##2) STEP(k##3) STEP(k##4) \
	STEP(k##5) STEP(k##6) STEP(k##7) STEP(k##8) STEP(k##9)
long long_func(long x, int y)
{
	if (y == 3)
		goto out;
	STEP10(1) STEP10(2) STEP10(3) STEP10(4) STEP10(5) STEP10(6) STEP10(7)
	STEP10(8) STEP10(9)
	if (y == 4)
		return x;
out:
	while (y-- > 0) {
		if (x & 1)
			x = x * 3 + 1;
		else
			x >>= 1;
	}
	return x + (long)msg + (long)msgs[y & 3];
}

int tail_call(int x)
{
	return ext_func(x + 1);
}
