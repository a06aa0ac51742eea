/*
 * Shared by the fault-matrix modules (counter_v2_*.c, test/qemu/test_faults.py):
 * a self-test that only reads, so that a bug in add() gets through it,
 * and a pointer that is never set, to fault through.
 */
#ifndef DEMOS_COUNTER_V2_FAULTS_H
#define DEMOS_COUNTER_V2_FAULTS_H

#include <kernel/update.h>
#include <kernel/counter.h>
#include <kernel/errno.h>

static long *volatile nowhere;	/* never set: the bug */

struct counter_v2_probe {
	struct object obj;
	long value;
	long calls;
};

static int __attribute__((unused)) read_only_selftest(const struct class *cls)
{
	struct counter_v2_probe c = { .value = 7 };

	return ((const struct counter_ops *)cls->ops)->get(&c.obj) == 7 ? 0 : -KE_INVAL;
}

#endif
