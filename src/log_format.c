/*
 * Log line formatting (pure; host-tested). The timestamp is derived from
 * the timer count with integer arithmetic only: no FP in the kernel.
 * A line is printable ASCII whatever its arguments held: line breaks and
 * tabs become spaces, other control bytes and bytes above 0x7e become '?',
 * so text from outside can neither start a line of its own nor send
 * terminal escapes (callers escape it properly with escape.h; this is the
 * backstop).
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <kernel/log.h>

static int format_stamp(char *buf, size_t len, uint64_t ticks, uint64_t freq)
{
	uint64_t sec = freq ? ticks / freq : 0;
	uint64_t usec = freq ? ((ticks % freq) * 1000000ULL) / freq : 0;

	return snprintf(buf, len, "[%5llu.%06llu]", (unsigned long long)sec,
			(unsigned long long)usec);
}

static size_t format_prefix(char *buf, size_t len, uint64_t ticks, uint64_t freq,
			    unsigned int hart, const char *subsys)
{
	int n = format_stamp(buf, len, ticks, freq);

	if (n >= 0 && (size_t)n < len)
		n += snprintf(buf + n, len - (size_t)n, " h%u %s: ", hart, subsys);
	if (n < 0)
		return 0;
	return (size_t)n < len ? (size_t)n : len - 1;
}

/* One event, one line, plain ASCII. */
static void log_sanitize(char *p, char *end)
{
	for (; p < end; p++) {
		unsigned char c = (unsigned char)*p;

		if (c == '\n' || c == '\r' || c == '\t')
			*p = ' ';
		else if (c < 0x20 || c >= 0x7f)
			*p = '?';
	}
}

size_t log_format(char *buf, size_t len, uint64_t ticks, uint64_t freq,
		  unsigned int hart, const char *subsys, const char *fmt, va_list ap)
{
	static const char cut[] = "...\n";
	size_t n, room;
	int m;

	if (len < sizeof(cut) + 1) {
		if (len)
			buf[0] = '\0';
		return 0;
	}
	n = format_prefix(buf, len, ticks, freq, hart, subsys);
	room = len - n;
	m = vsnprintf(buf + n, room, fmt, ap);
	if (m < 0)
		m = 0;
	if ((size_t)m + 1 < room) {
		n += (size_t)m;
		log_sanitize(buf, buf + n);
		buf[n++] = '\n';
		buf[n] = '\0';
		return n;
	}
	log_sanitize(buf, buf + len - sizeof(cut));
	memcpy(buf + len - sizeof(cut), cut, sizeof(cut));
	return len - 1;
}

bool log_restamp(char *line, size_t n, uint64_t ticks, uint64_t freq)
{
	char stamp[32];
	const char *end = n && line[0] == '[' ? memchr(line, ']', n) : NULL;
	int m = format_stamp(stamp, sizeof(stamp), ticks, freq);

	if (!end || m != end - line + 1)
		return false;
	memcpy(line, stamp, (size_t)m);
	return true;
}
