/*
 * The UART log: one line per event, in the format tests and the host tool
 * parse (DESIGN.md, "The UART log"):
 *   [<sec>.<usec>] h<hart> <subsystem>: <message> key=value ...
 * e.g. "[    1.204311] h2 boot: ready harts=4 board=qemu-virt".
 */
#ifndef KERNEL_LOG_H
#define KERNEL_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LOG_LINE_MAX 256

/*
 * Formats one line (with its trailing newline) into @buf. @ticks/@freq is
 * the timestamp. A message that does not fit is cut and ends with "...\n".
 * Returns the line's length (always < @len, the buffer is NUL terminated).
 * Pure: tested on the host.
 */
size_t log_format(char *buf, size_t len, uint64_t ticks, uint64_t freq,
		  unsigned int hart, const char *subsys, const char *fmt, va_list ap);

/*
 * Rewrites the timestamp of a line log_format() made (its first @n bytes)
 * with @ticks, in place, if the new one has the same width; else returns
 * false and leaves it. Lets the log stamp a line when it is written, so
 * stamps follow output order, while the message itself (which may read bad
 * pointers) is formatted outside the log lock. Pure.
 */
bool log_restamp(char *line, size_t n, uint64_t ticks, uint64_t freq);

/* Emits a log line from this hart. Safe in interrupt context. */
void klog(const char *subsys, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * A log line followed by @more (already formatted continuation lines, each
 * ending in a newline), written in one go: no other hart's line can land
 * between them. For reports that span several lines (trap.c).
 */
void klog_block(const char *more, const char *subsys, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * A log line (and @more) from a fault path: never waits on anything the
 * faulting code may hold. Written through the SBI console, not the console
 * UART's driver; kept for later if this hart holds the log lock (the fault
 * hit inside a line); written without the lock if another hart holds it
 * for too long. See log.c.
 */
void klog_fault(const char *more, const char *subsys, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Writes fault reports kept by harts that held the log lock (normally done by the next line). */
void log_flush_reports(void);

/* Raw console output, no prefix (shell and bench tables). */
void kputs(const char *s);
void kprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Where log output goes once the console driver is bound. */
typedef void (*log_sink_fn)(const char *buf, size_t len);
void log_set_sink(log_sink_fn fn);
void log_set_timebase(uint64_t freq);

/* Copies up to @len bytes of the most recent log text into @buf. */
size_t log_tail(char *buf, size_t len);

/* Stops the machine after printing why: broken kernel invariants only. */
void panic(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

/* A panic has started on some hart: the machine is going down. */
bool panic_active(void);

#define BUG_ON(cond) do { if (cond) panic("BUG_ON(%s) at %s:%d", #cond, __FILE__, __LINE__); } while (0)

#endif
