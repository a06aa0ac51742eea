/* State of counter version 3 (demo), shared by the v3 and v4 modules. */
#ifndef DEMO_COUNTER_V3_H
#define DEMO_COUNTER_V3_H
#include <kernel/counter.h>

#define COUNTER_V3_CELLS 4

struct counter_v2_state {
	struct object obj;
	long value;
	long calls;
};

/* Reshaped: the value is split over cells so harts add to different words. */
struct counter_v3 {
	struct object obj;
	long cell[COUNTER_V3_CELLS];
	long calls;
};

static inline long counter_v3_sum(const struct counter_v3 *c)
{
	long v = 0;

	for (int i = 0; i < COUNTER_V3_CELLS; i++)
		v += __atomic_load_n(&c->cell[i], __ATOMIC_RELAXED);
	return v;
}
#endif
