/*
 * State behind the host stand-ins in test/unit/hostinc/kernel/ (hart.h,
 * riscv.h): the fake harts, the fake clock and the fake interrupt flag.
 * List it in `// unit-srcs:` together with `// unit-cflags: -Itest/unit/hostinc`.
 */
#include <stdbool.h>
#include <stdint.h>
#include <kernel/hart.h>
#include <kernel/riscv.h>

struct hart harts[MAX_HARTS];
_Thread_local struct hart *host_cur_hart = &harts[0];

uint64_t host_clock;
uint64_t host_clock_step;
unsigned long host_rdtime_calls;
_Thread_local bool host_irq_on = true;
unsigned long host_irq_saves;
void (*host_irq_save_hook)(void);
unsigned long host_wfi_calls;
