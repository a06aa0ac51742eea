/*
 * What update modules may link against beyond the symbols their own
 * subsystems export next to their definitions: the C library functions
 * the compiler may emit calls to, and the kernel's basic services.
 */
#include <string.h>
#include <stdio.h>
#include <kernel/export.h>
#include <kernel/log.h>
#include <kernel/mem.h>
#include <kernel/spinlock.h>
#include <kernel/smp.h>
#include <kernel/hart.h>
#include <kernel/thread.h>
#include <kernel/ott.h>
#include <kernel/errno.h>
#include <kernel/uart.h>
#include <kernel/timer.h>
#include <kernel/sbi.h>

EXPORT_SYMBOL(memcpy);
EXPORT_SYMBOL(memmove);
EXPORT_SYMBOL(memset);
EXPORT_SYMBOL(memcmp);
EXPORT_SYMBOL(strcmp);
EXPORT_SYMBOL(strncmp);
EXPORT_SYMBOL(strlen);
EXPORT_SYMBOL(snprintf);
EXPORT_SYMBOL(klog);
EXPORT_SYMBOL(kmalloc);
EXPORT_SYMBOL(kzalloc);
EXPORT_SYMBOL(kfree);
EXPORT_SYMBOL(spin_init);
EXPORT_SYMBOL(spin_lock);
EXPORT_SYMBOL(spin_unlock);
EXPORT_SYMBOL(irq_push_off);
EXPORT_SYMBOL(irq_pop_off);
EXPORT_SYMBOL(smp_kick);
EXPORT_SYMBOL(hart_by_index);
EXPORT_SYMBOL(nharts_online);
EXPORT_SYMBOL(thread_current);
EXPORT_SYMBOL(kernel_ott);
EXPORT_SYMBOL(err_name);
EXPORT_SYMBOL(panic);
EXPORT_SYMBOL(timer_freq_hz);
EXPORT_SYMBOL(console_push);
EXPORT_SYMBOL(sbi_set_timer);
/* Update modules must not block; these are for the fault tests that check it is caught. */
EXPORT_SYMBOL(thread_sleep_us);
EXPORT_SYMBOL(thread_yield);

