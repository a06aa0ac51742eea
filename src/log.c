/*
 * The kernel log: formats a line (log_format.c), keeps it in a ring for
 * later readers (console `log`, /status), and writes it to the console.
 *
 * Locking: log_lock keeps lines whole across harts and guards the ring;
 * a line is stamped again under it, so stamps follow output order.
 * Before the console UART is bound, output goes through the SBI legacy
 * console. panic() bypasses the lock so a broken lock cannot hide it.
 *
 * Fault reports (klog_fault) never depend on what the faulting code may
 * hold: they go out through the SBI console (the console UART's driver may
 * be the code that faulted, its transmit lock held), and never wait for
 * the log lock if this hart holds it (the fault hit inside a log line): the
 * report is then kept in the hart's record and written, restamped, right
 * after the line that hart is writing (or by the next line of any hart).
 * Waiting for another hart's log lock is bounded (FAULT_LOCK_WAIT_US):
 * that hart may be spinning on a lock the faulting code holds.
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
#define FAULT_LOCK_WAIT_US 1000000

static struct spinlock log_lock = SPINLOCK_INIT("log");
static log_sink_fn sink;
static uint64_t timebase_hz = 10000000;
static char ring[LOG_RING_SIZE];
static size_t ring_head;	/* total bytes ever written */
static volatile int panicking;
static volatile uint32_t reports_pending;	/* harts with a kept fault report */

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

static void emit_sbi(const char *buf, size_t len);

static size_t format_line(char *line, size_t len, unsigned int hart, const char *subsys,
			  const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static size_t format_line(char *line, size_t len, unsigned int hart, const char *subsys,
			  const char *fmt, ...)
{
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	n = log_format(line, len, rdtime(), timebase_hz, hart, subsys, fmt, ap);
	va_end(ap);
	return n;
}

/* How many reports a hart could not keep (its buffer was full); lock held. */
static void klog_fault_dropped(struct hart *h)
{
	char line[LOG_LINE_MAX];
	size_t n = format_line(line, sizeof(line), h->hartid, "trap", "fault reports lost=%u (kept "
			       "while this hart held the log lock: no room)", h->pending_dropped);

	emit_sbi(line, n);
	h->pending_dropped = 0;
}

/* Into the ring and out through the SBI console (fault reports). */
static void emit_sbi(const char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++)
		ring[(ring_head + i) % LOG_RING_SIZE] = buf[i];
	ring_head += len;
	sbi_sink(buf, len);
}

/* Writes the fault reports harts kept while they held the lock; lock held. */
static void flush_reports_locked(void)
{
	if (!__atomic_load_n(&reports_pending, __ATOMIC_ACQUIRE))
		return;
	for (unsigned int i = 0; i < MAX_HARTS; i++) {
		struct hart *h = &harts[i];
		uint32_t len = __atomic_load_n(&h->pending_len, __ATOMIC_ACQUIRE);
		uint32_t nl = h->pending_nlines < HART_REPORT_LINES ? h->pending_nlines
								   : HART_REPORT_LINES;

		if (!len)
			continue;
		for (uint32_t l = 0; l < nl; l++) {
			uint32_t at = h->pending_lines[l];
			uint32_t end = l + 1 < nl ? h->pending_lines[l + 1] : len;

			log_restamp(h->pending_report + at, end - at, rdtime(), timebase_hz);
		}
		emit_sbi(h->pending_report, len);
		if (h->pending_dropped)
			klog_fault_dropped(h);
		h->pending_nlines = 0;
		__atomic_store_n(&h->pending_len, 0, __ATOMIC_RELEASE);
		__atomic_sub_fetch(&reports_pending, 1, __ATOMIC_ACQ_REL);
	}
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
	flush_reports_locked();
	spin_unlock(&log_lock);
}

/*
 * This hart holds the log lock (a fault inside a log line): keep the
 * report for later, after what it kept already. Each kept line is
 * restamped when written (its stamp is its first bytes).
 */
static void keep_report(const char *line, size_t n, const char *more)
{
	struct hart *h = this_hart();
	size_t m = more ? strlen(more) : 0, used = h->pending_len;

	if (used + n + m > sizeof(h->pending_report)) {
		h->pending_dropped++;
		return;
	}
	memcpy(h->pending_report + used, line, n);
	memcpy(h->pending_report + used + n, more, m);
	h->pending_lines[h->pending_nlines++ % HART_REPORT_LINES] = (uint16_t)used;
	__atomic_store_n(&h->pending_len, (uint32_t)(used + n + m), __ATOMIC_RELEASE);
	if (!used)
		__atomic_add_fetch(&reports_pending, 1, __ATOMIC_ACQ_REL);
}

static void emit_fault(char *line, size_t n, const char *more)
{
	uint64_t deadline;

	if (!vm_percpu_ready) {
		sbi_sink(line, n);
		if (more)
			sbi_sink(more, strlen(more));
		return;
	}
	if (spin_holding(&log_lock)) {
		keep_report(line, n, more);
		return;
	}
	deadline = rdtime() + FAULT_LOCK_WAIT_US * (timebase_hz / 1000000);
	while (!spin_trylock(&log_lock)) {
		if (rdtime() > deadline) {
			/* Its holder may wait for a lock the faulting code holds: out anyway. */
			log_restamp(line, n, rdtime(), timebase_hz);
			sbi_sink(line, n);
			if (more)
				sbi_sink(more, strlen(more));
			return;
		}
	}
	log_restamp(line, n, rdtime(), timebase_hz);
	flush_reports_locked();
	emit_sbi(line, n);
	if (more)
		emit_sbi(more, strlen(more));
	spin_unlock(&log_lock);
}

void klog_fault(const char *more, const char *subsys, const char *fmt, ...)
{
	char line[LOG_LINE_MAX];
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	n = log_format(line, sizeof(line), rdtime(), timebase_hz, hart_id(), subsys, fmt, ap);
	va_end(ap);
	emit_fault(line, n, more);
}

void log_flush_reports(void)
{
	if (!__atomic_load_n(&reports_pending, __ATOMIC_ACQUIRE))
		return;
	spin_lock(&log_lock);
	flush_reports_locked();
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
