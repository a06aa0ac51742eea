/*
 * The timer class: the time base and per-hart tick programming (through
 * SBI TIME). One instance, bound to /cpus timebase-frequency, reached via
 * timer_ref like any other device object.
 */
#ifndef KERNEL_TIMER_H
#define KERNEL_TIMER_H
#include <stdint.h>
#include <kernel/ott.h>

#define TIMER_HZ	100	/* scheduler ticks per second */

struct timer_ops {
	/* Programs this hart's next tick @ticks from now. */
	long (*arm)(struct object *self, uint64_t ticks);
	/* Timebase frequency in Hz. */
	long (*freq)(struct object *self);
};

extern ott_ref_t timer_ref;
/* Cached at bind time: time conversions are on hot paths and never change. */
extern uint64_t timer_freq_hz;

static inline long timer_arm(ott_ref_t r, uint64_t ticks)
{
	return OTT_CALL(r, struct timer_ops, arm, ticks);
}

static inline long timer_freq(ott_ref_t r)
{
	return OTT_CALL(r, struct timer_ops, freq);
}

static inline uint64_t timer_us_to_ticks(uint64_t us)
{
	return us * timer_freq_hz / 1000000ULL;
}

static inline uint64_t timer_ticks_to_us(uint64_t ticks)
{
	return timer_freq_hz ? ticks * 1000000ULL / timer_freq_hz : 0;
}

/* Arms the first tick on this hart and enables timer interrupts. */
void timer_start_hart(void);
/* Timer interrupt on this hart. */
void timer_interrupt(void);
#endif
