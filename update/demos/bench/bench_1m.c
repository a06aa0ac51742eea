/*
 * OTA throughput pack (bench-1m in update/demos/packs.txt, group ota):
 * counter 1 -> 2 with the same state layout, plus a 1 MiB read-only array,
 * so that the signed pack is a little over 1 MiB and still applies on a
 * fresh board. test/bench/ota_bench.py pushes it over TCP (PUT /update) and
 * has U-Boot tftpboot the same file, to compare download throughput.
 *
 * The array is 262144 words of a linear congruential sequence (not zeros,
 * so nothing on the way could shrink it), emitted by the assembler; the
 * self-test recomputes the sequence over the whole array, so a pack only
 * applies if every byte arrived and was loaded where the module expects.
 */
#include <kernel/update.h>
#include <kernel/counter.h>
#include <kernel/errno.h>

#define BLOB_WORDS	(1u << 18)	/* 262144 x 4 bytes = 1 MiB */
#define LCG(v)		(((v) * 1103515245u + 12345u) & 0x7fffffffu)

__asm__(".pushsection .rodata.bench_1m_blob,\"a\",@progbits\n"
	"\t.balign 8\n"
	"\t.globl bench_1m_blob\n"
	"bench_1m_blob:\n"
	"\t.set bench_1m_v, 1\n"
	"\t.rept 262144\n"
	"\t.set bench_1m_v, (bench_1m_v * 1103515245 + 12345) & 0x7fffffff\n"
	"\t.long bench_1m_v\n"
	"\t.endr\n"
	"\t.popsection\n");
extern const unsigned int bench_1m_blob[BLOB_WORDS];

static long add(struct object *self, long n)
{
	return __atomic_add_fetch(&((struct counter_v1 *)self)->value, n, __ATOMIC_RELAXED);
}

static long get(struct object *self)
{
	return __atomic_load_n(&((struct counter_v1 *)self)->value, __ATOMIC_RELAXED);
}

static const struct counter_ops ops = { .add = add, .get = get };

static const struct class cls = {
	.name = "counter", .impl = "counter", .version = 2, .iface_version = 1,
	.ops = &ops, .nmethods = 2, .state_size = sizeof(struct counter_v1),
};

static int copy(const struct object *from, struct object *to)
{
	((struct counter_v1 *)to)->value = ((const struct counter_v1 *)from)->value;
	return 0;
}

static int selftest(const struct class *c)
{
	const struct counter_ops *o = c->ops;
	struct counter_v1 s = { .value = 0 };
	unsigned int v = 1;

	for (unsigned int i = 0; i < BLOB_WORDS; i++) {
		v = LCG(v);
		if (bench_1m_blob[i] != v)
			return -KE_INVAL;
	}
	o->add(&s.obj, 5);
	o->add(&s.obj, 7);
	return o->get(&s.obj) == 12 ? 0 : -KE_INVAL;
}

const struct update_desc update_desc = {
	.abi = KERNEL_ABI, .class_name = "counter", .impl = "counter", .from = 1, .to = 2,
	.cls = &cls, .transfer = copy, .transfer_back = copy, .selftest = selftest,
	.flags = UPDATE_PURE_TRANSFER,
	.mode = UPDATE_MODE_LAZY,
};
