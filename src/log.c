/*
 * The kernel log: formats a line (log_format.c), keeps it in a ring for
 * later readers (console `log`, /status), and writes it to the console.
 *
 * Locking: log_lock keeps lines whole across harts and guards the ring;
 * a line is stamped again under it, so stamps follow output order.
 * Before the console UART is bound, output goes through the SBI legacy
 * console. panic() bypasses the lock so a broken lock cannot hide it.
 */
#include <stdio.h>
#include <string.h>
#include <kernel/log.h>
#include <kernel/hart.h>
#include <kernel/riscv.h>
#include <kernel/sbi.h>
#include <kernel/spinlock.h>
#include <kernel/platform.h>

#define LOG_RING_SIZE 16384

static struct spinlock log_lock = SPINLOCK_INIT("log");
static log_sink_fn sink;
static uint64_t timebase_hz = 10000000;
static char ring[LOG_RING_SIZE];
static size_t ring_head;	/* total bytes ever written */
static volatile int panicking;

static void sbi_sink(const char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++)
		sbi_console_putchar(buf[i]);
}

void log_set_sink(log_sink_fn fn)
{
	sink = fn;
}

void log_set_timebase(uint64_t freq)
{
	if (freq)
		timebase_hz = freq;
}

uint32_t hart_id(void)
{
	return vm_percpu_ready ? this_hart()->hartid : boot_hartid;
}

static void emit(const char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++)
		ring[(ring_head + i) % LOG_RING_SIZE] = buf[i];
	ring_head += len;
	(sink ? sink : sbi_sink)(buf, len);
}

/*
 * Writes a formatted line, and @more after it if given, as one piece. The
 * stamp is renewed under the lock so that stamps never go backwards in
 * the output, whichever hart wins the lock.
 */
static void emit_line(char *line, size_t n, const char *more)
{
	spin_lock(&log_lock);
	log_restamp(line, n, rdtime(), timebase_hz);
	emit(line, n);
	if (more)
		emit(more, strlen(more));
	spin_unlock(&log_lock);
}

/* Formats a line outside the lock (its arguments may fault), then emits it. */
static void vklog(const char *more, const char *subsys, const char *fmt, va_list ap)
{
	char line[LOG_LINE_MAX];
	size_t n = log_format(line, sizeof(line), rdtime(), timebase_hz, hart_id(), subsys, fmt, ap);

	emit_line(line, n, more);
}

void klog(const char *subsys, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vklog(NULL, subsys, fmt, ap);
	va_end(ap);
}

void klog_block(const char *more, const char *subsys, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vklog(more, subsys, fmt, ap);
	va_end(ap);
}

void kputs(const char *s)
{
	spin_lock(&log_lock);
	emit(s, strlen(s));
	spin_unlock(&log_lock);
}

void kprintf(const char *fmt, ...)
{
	char buf[LOG_LINE_MAX];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	kputs(buf);
}

size_t log_tail(char *buf, size_t len)
{
	size_t n, start;

	spin_lock(&log_lock);
	n = ring_head < LOG_RING_SIZE ? ring_head : LOG_RING_SIZE;
	if (n > len)
		n = len;
	start = ring_head - n;
	for (size_t i = 0; i < n; i++)
		buf[i] = ring[(start + i) % LOG_RING_SIZE];
	spin_unlock(&log_lock);
	return n;
}

bool panic_active(void)
{
	return __atomic_load_n(&panicking, __ATOMIC_ACQUIRE);
}

void panic(const char *fmt, ...)
{
	char line[LOG_LINE_MAX];
	va_list ap;
	size_t n;

	irq_disable();
	if (__atomic_exchange_n(&panicking, 1, __ATOMIC_SEQ_CST))
		for (;;)
			wfi();	/* another hart is already reporting */
	va_start(ap, fmt);
	n = log_format(line, sizeof(line), rdtime(), timebase_hz, hart_id(), "panic", fmt, ap);
	va_end(ap);
	sbi_sink(line, n);
	platform_halt(1);
	for (;;)
		wfi();		/* the board could not power off */
}
