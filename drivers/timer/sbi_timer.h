/* State of the SBI timer object (drivers/timer/sbi_timer.c), for update modules. */
#ifndef DRIVERS_TIMER_SBI_TIMER_H
#define DRIVERS_TIMER_SBI_TIMER_H

#include <stdint.h>
#include <kernel/ott.h>

struct sbi_timer {
	struct object obj;
	uint64_t freq;
};

#endif
